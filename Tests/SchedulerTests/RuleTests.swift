// The scores phase on small handwritten CIBs, one rule at a time.
import CIB
import Foundation
import Scheduler
import Testing

/// A CIB with nodes `node1`...`nodeN`, the given resources and constraints, and status.
func cib(
    nodes: Int = 2, properties: String = "", resources: String, constraints: String = "", status: String = "",
    nodeAttributes: [Int: String] = [:]
) -> String {
    let nodeXML = (1...nodes).map { n in
        let attributes =
            nodeAttributes[n].map {
                "<instance_attributes id=\"node\(n)-ia\">\($0)</instance_attributes>"
            } ?? ""
        return "<node id=\"\(n)\" uname=\"node\(n)\">\(attributes)</node>"
    }.joined()
    let states = (1...nodes).map { n in
        "<node_state id=\"\(n)\" uname=\"node\(n)\" in_ccm=\"true\" crmd=\"online\" join=\"member\" expected=\"member\">"
            + (status.isEmpty ? "" : status.replacingOccurrences(of: "@N\(n)@", with: ""))
            + "</node_state>"
    }
    return """
        <cib crm_feature_set="3.16.2" validate-with="pacemaker-3.0" admin_epoch="0" epoch="1" num_updates="0" have-quorum="1" dc-uuid="1">
          <configuration>
            <crm_config><cluster_property_set id="cib-bootstrap-options">
              <nvpair id="o1" name="stonith-enabled" value="false"/>\(properties)
            </cluster_property_set></crm_config>
            <nodes>\(nodeXML)</nodes>
            <resources>\(resources)</resources>
            <constraints>\(constraints)</constraints>
          </configuration>
          <status>\(states.joined())</status>
        </cib>
        """
}

func dummy(_ id: String, meta: String = "") -> String {
    let metaXML = meta.isEmpty ? "" : "<meta_attributes id=\"\(id)-meta\">\(meta)</meta_attributes>"
    return "<primitive id=\"\(id)\" class=\"ocf\" provider=\"heartbeat\" type=\"Dummy\">\(metaXML)</primitive>"
}

func scores(_ xml: String) throws -> AllocationScores {
    let model = try CIBModel.unpack(CIBModel.document(string: xml), now: nil)
    return AllocationScores.compute(model)
}

@Suite("Scores phase rules")
struct ScoresRuleTests {
    @Test("a symmetric cluster allows every node at 0")
    func symmetricDefault() throws {
        let result = try scores(cib(resources: dummy("r")))
        #expect(result.scores(of: "r") == ["node1": 0, "node2": 0])
        #expect(
            result.renderedLines() == [
                "pcmk__primitive_assign: r allocation score on node1: 0",
                "pcmk__primitive_assign: r allocation score on node2: 0",
            ])
    }

    @Test("an asymmetric cluster allows only the nodes location constraints name")
    func asymmetric() throws {
        let xml = cib(
            properties: "<nvpair id=\"o2\" name=\"symmetric-cluster\" value=\"false\"/>", resources: dummy("r"),
            constraints: "<rsc_location id=\"l\" rsc=\"r\" node=\"node2\" score=\"50\"/>")
        #expect(try scores(xml).scores(of: "r") == ["node2": 50])
    }

    @Test("location scores add up, saturate at INFINITY, and -INFINITY wins")
    func infinityArithmetic() throws {
        let xml = cib(
            resources: dummy("r"),
            constraints: """
                <rsc_location id="l1" rsc="r" node="node1" score="INFINITY"/>
                <rsc_location id="l2" rsc="r" node="node1" score="500"/>
                <rsc_location id="l3" rsc="r" node="node2" score="INFINITY"/>
                <rsc_location id="l4" rsc="r" node="node2" score="-INFINITY"/>
                """)
        #expect(try scores(xml).scores(of: "r") == ["node1": .infinity, "node2": .minusInfinity])
    }

    @Test("rules: #uname, node attributes, score-attribute")
    func rules() throws {
        let xml = cib(
            nodes: 3,
            resources: dummy("r"),
            constraints: """
                <rsc_location id="l1" rsc="r"><rule id="r1" score="-INFINITY">
                  <expression id="e1" attribute="#uname" operation="eq" value="node1"/></rule></rsc_location>
                <rsc_location id="l2" rsc="r"><rule id="r2" score-attribute="weight">
                  <expression id="e2" attribute="weight" operation="defined"/></rule></rsc_location>
                """,
            nodeAttributes: [2: "<nvpair id=\"w2\" name=\"weight\" value=\"70\"/>"])
        #expect(try scores(xml).scores(of: "r") == ["node1": .minusInfinity, "node2": 70, "node3": 0])
    }

    @Test("stickiness applies on the one node a managed resource runs on")
    func stickiness() throws {
        let history = """
            <lrm id="lrm"><lrm_resources><lrm_resource id="r" class="ocf" provider="heartbeat" type="Dummy">
            <lrm_rsc_op id="r_last_0" operation_key="r_start_0" operation="start" crm-debug-origin="x"
              transition-key="1:1:0:abc" transition-magic="0:0;1:1:0:abc" call-id="3" rc-code="0" op-status="0"
              interval="0" on_node="node2"/>
            </lrm_resource></lrm_resources></lrm>
            """
        var xml = cib(resources: dummy("r", meta: "<nvpair id=\"s\" name=\"resource-stickiness\" value=\"100\"/>"))
        xml = xml.replacingOccurrences(
            of: "expected=\"member\"></node_state></status>",
            with: "expected=\"member\">\(history)</node_state></status>")
        #expect(try scores(xml).scores(of: "r") == ["node1": 0, "node2": 100])
    }

    @Test("a fail count at migration-threshold bans the node")
    func migrationThreshold() throws {
        let attributes = """
            <transient_attributes id="2"><instance_attributes id="st-2">
              <nvpair id="f" name="fail-count-r#monitor_10000" value="3"/>
              <nvpair id="lf" name="last-failure-r#monitor_10000" value="1000"/>
            </instance_attributes></transient_attributes>
            """
        var xml = cib(resources: dummy("r", meta: "<nvpair id=\"m\" name=\"migration-threshold\" value=\"3\"/>"))
        xml = xml.replacingOccurrences(
            of: "expected=\"member\"></node_state></status>",
            with: "expected=\"member\">\(attributes)</node_state></status>")
        #expect(try scores(xml).scores(of: "r") == ["node1": 0, "node2": .minusInfinity])
    }
}

@Suite("Scores phase: colocation, tickets, target-role")
struct ScoresColocationTests {
    @Test("a base node score enters with the node; a location constraint adds to it")
    func baseScore() throws {
        var xml = cib(
            resources: dummy("r"), constraints: "<rsc_location id=\"l\" rsc=\"r\" node=\"node1\" score=\"10\"/>")
        xml = xml.replacingOccurrences(of: "uname=\"node1\">", with: "uname=\"node1\" score=\"100\">")
        #expect(try scores(xml).scores(of: "r") == ["node1": 110, "node2": 0])
    }

    @Test("INFINITY colocation: -INFINITY where the primary is not")
    func mandatoryColocation() throws {
        let xml = cib(
            resources: dummy("a") + dummy("b"),
            constraints: """
                <rsc_location id="l" rsc="a" node="node2" score="100"/>
                <rsc_colocation id="c" rsc="b" with-rsc="a" score="INFINITY"/>
                """)
        let result = try scores(xml)
        #expect(result.scores(of: "b") == ["node1": .minusInfinity, "node2": 0])
    }

    @Test("finite colocation adds its score where the primary is; the dependent's preference flows to the primary")
    func advisoryColocation() throws {
        let xml = cib(
            resources: dummy("a") + dummy("b"),
            constraints: """
                <rsc_location id="l" rsc="b" node="node1" score="1000"/>
                <rsc_colocation id="c" rsc="b" with-rsc="a" score="500"/>
                """)
        let result = try scores(xml)
        // a gets b's best score times 500/INFINITY, rounded: 1000 * 0.0005 = 0.5 → 1.
        #expect(result.scores(of: "a") == ["node1": 1, "node2": 0])
        #expect(result.scores(of: "b") == ["node1": 1500, "node2": 0])
    }

    @Test("-INFINITY colocation with a stopped primary changes nothing")
    func antiColocationWithStopped() throws {
        let xml = cib(
            resources: dummy("a", meta: "<nvpair id=\"t\" name=\"target-role\" value=\"Stopped\"/>") + dummy("b"),
            constraints: "<rsc_colocation id=\"c\" rsc=\"b\" with-rsc=\"a\" score=\"-INFINITY\"/>")
        let result = try scores(xml)
        #expect(result.scores(of: "a") == ["node1": .minusInfinity, "node2": .minusInfinity])
        #expect(result.scores(of: "b") == ["node1": 0, "node2": 0])
    }

    @Test("a ticket that is not granted bans its resources everywhere")
    func ticketNotGranted() throws {
        let xml = cib(
            resources: dummy("r"),
            constraints: "<rsc_ticket id=\"t\" rsc=\"r\" ticket=\"ticketA\"/>")
        #expect(try scores(xml).scores(of: "r") == ["node1": .minusInfinity, "node2": .minusInfinity])
    }
}

@Suite("Scores phase: groups")
struct ScoresGroupTests {
    static let group = """
        <group id="g">\(dummy("m1"))\(dummy("m2"))</group>
        """

    @Test("a location on a group scores the group and its first member; later members get 0")
    func groupLocation() throws {
        let xml = cib(
            resources: Self.group, constraints: "<rsc_location id=\"l\" rsc=\"g\" node=\"node2\" score=\"50\"/>")
        let result = try scores(xml)
        #expect(result.scores(of: "g", kind: .groupAssign) == ["node1": 0, "node2": 50])
        #expect(result.scores(of: "m1", kind: .groupAssign) == ["node1": 0, "node2": 50])
        #expect(result.scores(of: "m2", kind: .groupAssign) == ["node1": 0, "node2": 0])
        #expect(result.scores(of: "m1") == ["node1": 0, "node2": 50])
    }

    @Test("each member is placed with the member before it")
    func internalColocation() throws {
        let xml = cib(
            resources: Self.group, constraints: "<rsc_location id=\"l\" rsc=\"g\" node=\"node2\" score=\"50\"/>")
        #expect(try scores(xml).scores(of: "m2") == ["node1": .minusInfinity, "node2": 0])
    }

    @Test("a primitive colocated with a group follows its last member when mandatory")
    func primitiveWithGroup() throws {
        let xml = cib(
            resources: Self.group + dummy("p"),
            constraints: """
                <rsc_location id="l" rsc="g" node="node1" score="50"/>
                <rsc_colocation id="c" rsc="p" with-rsc="g" score="INFINITY"/>
                """)
        #expect(try scores(xml).scores(of: "p") == ["node1": 0, "node2": .minusInfinity])
    }
}

@Suite("Scores phase: clones")
struct ScoresCloneTests {
    @Test("clone and instance tables are reported; a node already holding clone-node-max instances is banned")
    func perNodeLimit() throws {
        let xml = cib(
            resources: """
                <clone id="c"><meta_attributes id="c-meta">
                  <nvpair id="cm" name="clone-max" value="2"/></meta_attributes>\(dummy("d"))</clone>
                """,
            constraints: "<rsc_location id=\"l\" rsc=\"c\" node=\"node1\" score=\"10\"/>")
        let result = try scores(xml)
        #expect(result.scores(of: "c", kind: .cloneAssign) == ["node1": 10, "node2": 0])
        #expect(result.scores(of: "d:0", kind: .cloneAssign) == ["node1": 10, "node2": 0])
        #expect(result.scores(of: "d:0") == ["node1": 10, "node2": 0])
        // d:0 took node1; an anonymous clone runs one instance per node.
        #expect(result.scores(of: "d:1") == ["node1": .minusInfinity, "node2": 0])
    }

    @Test("a ticket not granted bans the instances, not the clone's own table")
    func ticketOnClone() throws {
        let xml = cib(
            resources: "<clone id=\"c\">\(dummy("d"))</clone>",
            constraints: "<rsc_ticket id=\"t\" rsc=\"c\" ticket=\"ticketA\"/>")
        let result = try scores(xml)
        #expect(result.scores(of: "c", kind: .cloneAssign) == ["node1": 0, "node2": 0])
        #expect(result.scores(of: "d:0") == ["node1": .minusInfinity, "node2": .minusInfinity])
    }
}

@Suite("Scores phase: cloned groups")
struct ScoresClonedGroupTests {
    @Test("a cloned group's instances and members are reported; later members follow the first")
    func clonedGroup() throws {
        let xml = cib(
            resources: "<clone id=\"c\"><group id=\"g\">\(dummy("m1"))\(dummy("m2"))</group></clone>",
            constraints: "<rsc_location id=\"l\" rsc=\"c\" node=\"node2\" score=\"10\"/>")
        let result = try scores(xml)
        #expect(result.scores(of: "g:0", kind: .cloneAssign) == ["node1": 0, "node2": 10])
        #expect(result.scores(of: "m1:0", kind: .cloneAssign) == ["node1": 0, "node2": 10])
        #expect(result.scores(of: "m2:0", kind: .cloneAssign) == ["node1": 0, "node2": 0])
        #expect(result.scores(of: "m2:0") == ["node1": .minusInfinity, "node2": 0])
    }
}

@Suite("Scores phase: promotion")
struct ScoresPromotionTests {
    static let promotable = """
        <clone id="ms"><meta_attributes id="ms-meta">
          <nvpair id="p" name="promotable" value="true"/></meta_attributes>
          <primitive id="s" class="ocf" provider="pacemaker" type="Stateful"/></clone>
        """

    @Test("without promotion attributes or constraints every instance scores -1")
    func defaultPromotionScore() throws {
        let result = try scores(cib(resources: Self.promotable))
        let lines = result.renderedLines().filter { $0.contains("promotion score") }
        #expect(lines == ["s:0 promotion score on node1: -1", "s:1 promotion score on node2: -1"])
    }

    @Test("a promoted-role location adds to the instance's promotion score on its node")
    func promotedLocation() throws {
        let xml = cib(
            resources: Self.promotable,
            constraints: """
                <rsc_location id="l" rsc="ms"><rule id="r" role="Promoted" score="50">
                  <expression id="e" attribute="#uname" operation="eq" value="node1"/></rule></rsc_location>
                """)
        let lines = try scores(xml).renderedLines().filter { $0.contains("promotion score") }
        // 50 - 1 for the instance on node1, then the clone's score there (0) plus 49.
        #expect(lines == ["s:0 promotion score on node1: 49", "s:1 promotion score on node2: -1"])
    }
}
