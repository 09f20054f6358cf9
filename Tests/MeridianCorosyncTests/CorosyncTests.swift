import Foundation
import MeridianCorosync
import Testing

// One corosync per machine: these tests run one at a time, in this order.
@Suite("Corosync client wrappers against a real corosync", .serialized)
struct CorosyncTests {
    @Test("without corosync, every service says corosync is not running and how to fix it")
    func daemonAbsent() throws {
        try CorosyncTestCluster.waitUntilNoCorosyncRuns(for: .seconds(60))
        let quorum = #expect(throws: CorosyncError.self) { _ = try QuorumConnection() }
        #expect(quorum?.kind == .notRunning)
        #expect(quorum?.operation == "quorum_initialize")
        #expect(
            quorum?.description.contains(
                "corosync is not running: start corosync (corosync -f, or systemctl start corosync) "
                    + "or check /etc/corosync/corosync.conf") == true)
        let cmap = #expect(throws: CorosyncError.self) { _ = try CMapConnection() }
        #expect(cmap?.kind == .notRunning)
        let cpg = #expect(throws: CorosyncError.self) { _ = try CPGConnection(groupName: "meridian-test") }
        #expect(cpg?.kind == .notRunning)
    }

    @Test("a single-node corosync is quorate; cmap and CPG work through the wrappers")
    func singleNodeCluster() throws {
        let cluster: CorosyncTestCluster
        do {
            cluster = try CorosyncTestCluster()
        } catch {
            Issue.record("could not run a real corosync: \(error)")
            return
        }
        defer { cluster.stop() }

        // Quorum.
        let quorum = try QuorumConnection()
        #expect(quorum.hasQuorumProvider)
        #expect(try quorum.isQuorate())

        // cmap.
        let cmap = try CMapConnection()
        #expect(try cmap.string("totem.cluster_name") == CorosyncTestCluster.clusterName)
        #expect(try cmap.string("totem.transport") == "knet")
        #expect(try cmap.uint32("quorum.expected_votes") == 1)
        #expect(try cmap.value("nodelist.node.0.ring0_addr") == .string("127.0.0.1"))
        #expect(try cmap.uint32("nodelist.node.0.nodeid") == 1)
        let nodeKeys = try cmap.keys(prefix: "nodelist.node.0.")
        #expect(Set(nodeKeys).isSuperset(of: ["nodelist.node.0.ring0_addr", "nodelist.node.0.name"]))
        let missing = #expect(throws: CorosyncError.self) { try cmap.string("meridian.no.such.key") }
        #expect(missing?.kind == .keyNotFound)
        #expect(missing?.hint.contains("meridian.no.such.key") == true)
        let wrongType = #expect(throws: CorosyncError.self) { try cmap.uint32("totem.cluster_name") }
        #expect(wrongType?.kind == .invalidArgument)

        // CPG: join, see ourselves in the membership, receive our own message, leave.
        let group = try CPGConnection(groupName: "meridian-test-group")
        let me = CPGMember(nodeID: try group.localNodeID(), pid: UInt32(getpid()))
        #expect(me.nodeID == 1)
        try group.join()
        var events = try collectEvents(group) { events in
            events.contains { if case .membership(let change) = $0 { change.members.contains(me) } else { false } }
        }
        guard case .membership(let joined)? = events.first(where: { if case .membership = $0 { true } else { false } })
        else {
            Issue.record("no membership event after join: \(events)")
            return
        }
        #expect(joined.joined == [me])
        #expect(try group.members() == [me])

        try group.send(Array("hello from meridian".utf8))
        events = try collectEvents(group) { events in
            events.contains { if case .message = $0 { true } else { false } }
        }
        #expect(events.contains(.message(from: me, payload: Array("hello from meridian".utf8))))

        try group.leave()
        events = try collectEvents(group) { events in
            events.contains {
                if case .membership(let change) = $0 { change.left.map(\.member) == [me] } else { false }
            }
        }
        #expect(
            events.contains(
                .membership(CPGMembership(members: [], joined: [], left: [.init(member: me, reason: .left)]))),
            "\(events)")
        #expect(try group.members().isEmpty)

        // When corosync stops, calls on open connections fail with notRunning.
        cluster.stop()
        let afterStop = #expect(throws: CorosyncError.self) { _ = try quorum.isQuorate() }
        #expect(afterStop?.kind == .notRunning)
    }

    /// Dispatches CPG events for up to 10 s until `done` says enough arrived.
    func collectEvents(_ group: CPGConnection, until done: ([CPGEvent]) -> Bool) throws -> [CPGEvent] {
        var events: [CPGEvent] = []
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while clock.now < deadline && !done(events) {
            events += try group.waitForEvents(timeout: .milliseconds(200))
        }
        return events
    }
}
