// Unpacking the status section: node states, roles from operation history,
// failures, fail counts, clone instances, orphans, tickets.
import CIB
import Foundation
import Testing

@Suite("Node states")
struct NodeStateTests {
    func state(
        _ status: String, properties: [String: String] = [:], nodes: [String] = ["node1"]
    ) throws
        -> NodeState
    {
        var options = properties
        if options["stonith-enabled"] == nil { options["stonith-enabled"] = "true" }
        let model = try unpack(
            cibXML(
                properties: options, nodes: nodes,
                resources: "<primitive id=\"fence\" class=\"stonith\" type=\"fence_xvm\"/>", status: status))
        return try #require(model.node(named: "node1")).state
    }

    @Test("a member that is up is online")
    func online() throws {
        let state = try state(onlineState("node1"))
        #expect(state.online && state.seen && !state.unclean && !state.standby)
    }

    @Test("a node the cluster lost while expected up is unclean (fenced)")
    func lostNode() throws {
        let state = try state(nodeState("node1", inCCM: "false", crmd: "offline", join: "down", expected: "member"))
        #expect(!state.online)
        #expect(state.unclean)
        #expect(state.fenceReason == "peer is no longer part of the cluster")
    }

    @Test("a cleanly stopped node is offline and clean")
    func cleanlyDown() throws {
        let state = try state(nodeState("node1", inCCM: "false", crmd: "offline", join: "down", expected: "down"))
        #expect(!state.online && !state.unclean)
    }

    @Test("a node whose controller died is unclean")
    func controllerDied() throws {
        let state = try state(nodeState("node1", inCCM: "true", crmd: "offline", join: "member", expected: "member"))
        #expect(state.unclean)
        #expect(state.fenceReason == "peer process is no longer available")
    }

    @Test("a joining node is pending and standby")
    func pending() throws {
        let state = try state(nodeState("node1", inCCM: "true", crmd: "online", join: "pending", expected: "member"))
        #expect(state.pending && state.standby && state.online)
    }

    @Test("a node never seen is unclean under startup fencing, clean without it")
    func unseen() throws {
        let fenced = try state("")
        #expect(!fenced.seen && fenced.unclean && !fenced.online)
        #expect(fenced.fenceReason == nil)
        let trusted = try state("", properties: ["startup-fencing": "false"])
        #expect(!trusted.unclean)
    }

    @Test("standby, maintenance and shutdown come from transient attributes")
    func attributes() throws {
        let standby = try state(onlineState("node1", attributes: ["standby": "on"]))
        #expect(standby.standby && standby.online)
        let maintenance = try state(onlineState("node1", attributes: ["maintenance": "true"]))
        #expect(maintenance.maintenance)
        let shutdown = try state(onlineState("node1", attributes: ["shutdown": "1700000000"]))
        #expect(shutdown.shutdown && shutdown.online)
        let notShutdown = try state(onlineState("node1", attributes: ["shutdown": "0"]))
        #expect(!notShutdown.shutdown)
    }

    @Test("without fencing an unexpectedly lost node is unclean but a stopped one is not")
    func withoutFencing() throws {
        let lost = try state(
            nodeState("node1", inCCM: "true", crmd: "offline", join: "down", expected: "member"),
            properties: ["stonith-enabled": "false"])
        #expect(lost.unclean && lost.fenceReason == "peer is unexpectedly down")
        let stopped = try state(
            nodeState("node1", inCCM: "false", crmd: "offline", join: "down", expected: "member"),
            properties: ["stonith-enabled": "false"])
        #expect(!stopped.unclean && !stopped.online)
    }

    @Test("the DC is marked, and promotion scores and fail counts are read from transient attributes")
    func dcAndAttributes() throws {
        let model = try unpack(
            cibXML(
                resources: dummy("rsc"),
                status: onlineState(
                    "node1",
                    attributes: [
                        "master-rsc": "10", "fail-count-rsc#monitor_10000": "3",
                        "last-failure-rsc#monitor_10000": "1700000000",
                    ]), cibAttributes: "dc-uuid=\"node1\" crm_feature_set=\"3.16.2\""))
        let node = try #require(model.node(named: "node1"))
        #expect(node.state.isDC)
        #expect(node.attributes["#is_dc"] == "true")
        #expect(node.state.promotionScores["rsc"] == Score(10))
        let failure = try #require(node.state.failures.first { $0.count != nil })
        #expect(failure.resource == "rsc" && failure.operation == "monitor" && failure.intervalMilliseconds == 10_000)
        #expect(failure.count == Score(3))
    }
}

@Suite("Resource state from operation history")
struct HistoryTests {
    func model(
        _ history: String, resources: String = dummy("rsc"),
        properties: [String: String] = ["stonith-enabled": "false"],
        node2: String? = nil, featureSet: String = "3.16.2", now: Date? = testNow
    ) throws -> CIBModel {
        try unpack(
            cibXML(
                properties: properties, resources: resources,
                status: onlineState("node1", history: history)
                    + (node2.map { onlineState("node2", history: $0) } ?? ""),
                cibAttributes: "crm_feature_set=\"\(featureSet)\""), now: now)
    }

    @Test("a successful start makes the resource Started there")
    func started() throws {
        let model = try model(
            lrmResource("rsc", lrmOp("rsc", "monitor", call: 1, rc: 7), lrmOp("rsc", "start", call: 2)))
        let state = try #require(model.resource("rsc")).state
        #expect(state.role == .started)
        #expect(state.runningOn == ["node1"])
        #expect(state.knownOn == ["node1"])
        #expect(!state.isFailed)
    }

    @Test("a probe that finds it not running leaves it Stopped; a later stop too")
    func stopped() throws {
        let probed = try model(lrmResource("rsc", lrmOp("rsc", "monitor", call: 1, rc: 7)))
        #expect(probed.resource("rsc")?.state.role == .stopped)
        #expect(probed.resource("rsc")?.state.knownOn == ["node1"])
        let stopped = try model(lrmResource("rsc", lrmOp("rsc", "start", call: 2), lrmOp("rsc", "stop", call: 3)))
        #expect(stopped.resource("rsc")?.state.role == .stopped)
        #expect(stopped.resource("rsc")?.state.runningOn == [])
    }

    @Test("operations are read in call-id order, not document order")
    func callOrder() throws {
        let model = try model(lrmResource("rsc", lrmOp("rsc", "stop", call: 3), lrmOp("rsc", "start", call: 4)))
        #expect(model.resource("rsc")?.state.role == .started)
        let history = try #require(model.resource("rsc")?.state.histories.first)
        #expect(history.operations.map(\.callID) == [3, 4])
    }

    @Test(
        "promote and a promoted monitor make a promotable instance Promoted; start leaves it Started (shown Unpromoted)"
    )
    func promotable() throws {
        let resources = """
            <clone id="ms"><meta_attributes id="ms-m"><nvpair id="ms-p" name="promotable" value="true"/></meta_attributes>\(dummy("s"))</clone>
            """
        let model = try model(
            lrmResource("s", lrmOp("s", "start", call: 2), lrmOp("s", "promote", call: 3)),
            resources: resources,
            node2: lrmResource("s", lrmOp("s", "start", call: 2), lrmOp("s", "monitor", interval: 10000, call: 3)))
        #expect(model.resource("s:0")?.state.role == .promoted)
        #expect(model.resource("s:0")?.state.runningOn == ["node1"])
        // Pacemaker records Started; the display shows an instance of a promotable clone as Unpromoted.
        #expect(model.resource("s:1")?.state.role == .started)
        #expect(model.renderCurrentStatus().contains("Unpromoted: [ node2 ]"))
        #expect(model.resource("s:1")?.state.historyName == "s")
        let probed = try self.model(
            lrmResource("s", lrmOp("s", "monitor", call: 1, rc: 8, expected: 7)), resources: resources)
        #expect(probed.resource("s:0")?.state.role == .promoted)
    }

    @Test("a failed start is Started-and-failed and must stop; on-fail=ignore pretends it worked")
    func failedStart() throws {
        let model = try model(lrmResource("rsc", lrmOp("rsc", "start", call: 2, rc: 1)))
        let state = try #require(model.resource("rsc")).state
        #expect(state.role == .started)
        #expect(state.isFailed && state.mustStop)
        #expect(state.requiredActions.contains(.stop(node: "node1")))
        #expect(state.histories.first?.lastFailure?.task == "start")
        #expect(model.failedOperations.map(\.resource) == ["rsc"])

        let ignoring = try self.model(
            lrmResource(
                "rsc", lrmOp("rsc", "start", call: 2), lrmOp("rsc", "monitor", interval: 10000, call: 3, rc: 1)),
            resources: dummy("rsc", operations: "<op id=\"m\" name=\"monitor\" interval=\"10s\" on-fail=\"ignore\"/>"))
        let ignored = try #require(ignoring.resource("rsc")).state
        #expect(!ignored.isFailed && ignored.failureIgnored && ignored.role == .started)
    }

    @Test("a failed stop blocks the resource without fencing and fences the node with it")
    func failedStop() throws {
        let blocked = try model(
            lrmResource("rsc", lrmOp("rsc", "start", call: 2), lrmOp("rsc", "stop", call: 3, rc: 1)))
        let state = try #require(blocked.resource("rsc")).state
        #expect(state.isBlocked && !state.isManaged && state.isFailed)
        #expect(blocked.instanceCounts.blocked == 1)
        #expect(blocked.historyLocations.contains { $0.reason == "__stop_fail__" && $0.node == "node1" })

        let fenced = try model(
            lrmResource("rsc", lrmOp("rsc", "start", call: 2), lrmOp("rsc", "stop", call: 3, rc: 1)),
            resources: dummy("rsc") + "<primitive id=\"fence\" class=\"stonith\" type=\"fence_xvm\"/>",
            properties: ["stonith-enabled": "true"])
        let node = try #require(fenced.node(named: "node1"))
        #expect(node.state.unclean)
        #expect(node.state.fenceReason == "rsc failed there")
    }

    @Test("a probe that finds the agent missing leaves the resource stopped and banned from that node")
    func notInstalled() throws {
        let model = try model(lrmResource("rsc", lrmOp("rsc", "monitor", call: 1, rc: 5, node: "node1")))
        let state = try #require(model.resource("rsc")).state
        #expect(state.role == .stopped && !state.isFailed)
        #expect(model.historyLocations.contains { $0.reason == "masked-probe-failure" && $0.score == .minusInfinity })
        #expect(model.renderCurrentStatus().contains("Stopped (not installed)"))
    }

    @Test("fail counts sum the operations; failure-timeout expires them against the given time")
    func failCounts() throws {
        let history = lrmResource(
            "rsc", lrmOp("rsc", "start", call: 2),
            lrmOp("rsc", "monitor", interval: 10000, call: 3, rc: 1, lastChange: 1_700_000_000))
        func withCounts(_ meta: [String: String], now: Date?) throws -> CIBModel {
            try unpack(
                cibXML(
                    resources: dummy("rsc", meta: meta),
                    status: onlineState(
                        "node1",
                        attributes: [
                            "fail-count-rsc#monitor_10000": "2", "fail-count-rsc#start_0": "1",
                            "last-failure-rsc#monitor_10000": "1700000000",
                        ], history: history), cibAttributes: "crm_feature_set=\"3.16.2\""), now: now)
        }
        let model = try withCounts([:], now: testNow)
        let rsc = try #require(model.resource("rsc"))
        #expect(model.failCount(of: rsc.index, on: "node1").count == Score(3))
        #expect(model.failCount(of: rsc.index, on: "node1").lastFailure == 1_700_000_000)

        let expired = try withCounts(["failure-timeout": "60s"], now: testNow)
        let expiredRsc = try #require(expired.resource("rsc"))
        #expect(expired.failCount(of: expiredRsc.index, on: "node1").count == .zero)
        #expect(expired.failCount(of: expiredRsc.index, on: "node1", effective: false).count == Score(3))
        #expect(!expiredRsc.state.isFailed)
        #expect(expiredRsc.state.requiredActions.contains(.clearFailCount(node: "node1", reason: "it expired")))

        let recent = try withCounts(["failure-timeout": "60s"], now: Date(timeIntervalSince1970: 1_700_000_030))
        #expect(recent.failCount(of: try #require(recent.resource("rsc")).index, on: "node1").count == Score(3))
        #expect(recent.resource("rsc")?.state.isFailed == true)
        #expect(recent.recheckBy == 1_700_000_061)
        #expect(expired.recheckBy == nil)

        let noClock = try withCounts(["failure-timeout": "60s"], now: nil)
        #expect(noClock.effectiveTime == nil)
        #expect(noClock.resource("rsc")?.state.isFailed == true)
    }

    @Test("CIBs before feature set 3.0.13 count failures per resource")
    func legacyFailCounts() throws {
        let model = try unpack(
            cibXML(
                resources: dummy("rsc"),
                status: onlineState(
                    "node1", attributes: ["fail-count-rsc": "INFINITY", "fail-count-rsc#start_0": "1"]),
                cibAttributes: "crm_feature_set=\"3.0.7\""))
        let rsc = try #require(model.resource("rsc"))
        #expect(model.failCount(of: rsc.index, on: "node1").count == .infinity)
    }

    @Test("anonymous clone histories map to instances in node order; counts ignore instance numbers")
    func anonymousClone() throws {
        let resources = "<clone id=\"c\">\(dummy("d"))</clone>"
        let model = try unpack(
            cibXML(
                nodes: ["node1", "node2", "node3"], resources: resources,
                status: onlineState(
                    "node1", attributes: ["fail-count-d:1#start_0": "2"],
                    history: lrmResource("d", lrmOp("d", "start", call: 2)))
                    + onlineState("node2", history: lrmResource("d:5", lrmOp("d:5", "start", call: 2))),
                cibAttributes: "crm_feature_set=\"3.16.2\""))
        #expect(model.resource("d:0")?.state.runningOn == ["node1"])
        #expect(model.resource("d:1")?.state.runningOn == ["node2"])
        #expect(model.resource("d:1")?.state.historyName == "d:5")
        #expect(model.resource("d:2")?.state.runningOn == [])
        let first = try #require(model.resource("d:0"))
        #expect(model.failCount(of: first.index, on: "node1").count == Score(2))
        #expect(model.resource("c")?.state.runningOn == ["node1", "node2"])
        #expect(model.renderCurrentStatus().contains("Started: [ node1 node2 ]"))
        #expect(model.renderCurrentStatus().contains("Stopped: [ node3 ]"))
    }

    @Test("a resource in the history but not the configuration is an orphan")
    func orphan() throws {
        let model = try model(lrmResource("gone", lrmOp("gone", "start", call: 2)))
        let orphan = try #require(model.resource("gone"))
        #expect(orphan.state.isOrphan)
        #expect(orphan.state.runningOn == ["node1"])
        #expect(orphan.state.isManaged)
        #expect(model.historyLocations.contains { $0.reason == "__orphan_do_not_run__" && $0.resource == orphan.index })
        let kept = try self.model(
            lrmResource("gone", lrmOp("gone", "start", call: 2)),
            properties: ["stonith-enabled": "false", "stop-orphan-resources": "false"])
        #expect(kept.resource("gone")?.state.isManaged == false)
        #expect(kept.renderCurrentStatus().contains("ORPHANED Started node1 (unmanaged)"))
    }

    @Test("a resource active on two nodes is multiply active; multiple-active=block blocks it")
    func multiplyActive() throws {
        let model = try model(
            lrmResource("rsc", lrmOp("rsc", "start", call: 2)),
            resources: dummy("rsc", meta: ["multiple-active": "block"]),
            node2: lrmResource("rsc", lrmOp("rsc", "start", call: 2)))
        let state = try #require(model.resource("rsc")).state
        #expect(state.runningOn == ["node1", "node2"])
        #expect(state.isBlocked)
    }

    @Test("tickets come from ticket_state: granted, standby, last-granted")
    func tickets() throws {
        let model = try unpack(
            cibXML(
                status: """
                    <tickets>
                      <ticket_state id="ticketA" granted="true" last-granted="1700000000"/>
                      <ticket_state id="ticketB" granted="true" standby="true"/>
                      <ticket_state id="ticketC" granted="false"/>
                    </tickets>
                    """))
        #expect(model.tickets.map(\.id) == ["ticketA", "ticketB", "ticketC"])
        #expect(model.tickets[0].granted && model.tickets[0].lastGranted == 1_700_000_000)
        #expect(model.tickets[1].standby)
        #expect(!model.tickets[2].granted)
    }

    @Test("a node in maintenance leaves its resources unmanaged")
    func maintenanceNode() throws {
        let model = try unpack(
            cibXML(
                resources: dummy("rsc"),
                status: onlineState(
                    "node1", attributes: ["maintenance": "true"],
                    history: lrmResource("rsc", lrmOp("rsc", "start", call: 2)))))
        #expect(model.resource("rsc")?.state.isManaged == false)
        #expect(model.renderCurrentStatus().contains("Node node1: maintenance"))
    }
}
