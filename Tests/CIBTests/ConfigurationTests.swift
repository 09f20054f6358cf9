// Unpacking the configuration: options and their defaults, nodes, resources, constraints.
import CIB
import Testing

@Suite("Unpacking the configuration")
struct ConfigurationTests {
    @Test("cluster options default as in Pacemaker 2.1.5")
    func defaults() throws {
        let model = try unpack(cibXML(properties: [:]))
        let options = model.properties
        #expect(options.stonithEnabled)
        #expect(options.noQuorumPolicy == .stop)
        #expect(options.symmetricCluster)
        #expect(options.stopOrphanResources)
        #expect(options.stopOrphanActions)
        #expect(options.startFailureIsFatal)
        #expect(!options.maintenanceMode)
        #expect(!options.stopAllResources)
        #expect(options.startupFencing)
        #expect(options.stonithAction == "reboot")
        #expect(options.placementStrategy == "default")
        #expect(options.stonithTimeoutMilliseconds == 60_000)
        #expect(options.batchLimit == 0)
        #expect(options.migrationLimit == -1)
        #expect(model.haveQuorum)
    }

    @Test("cib-bootstrap-options is applied first, other sets by descending score, first value wins")
    func propertySetOrder() throws {
        let xml = """
            <cib admin_epoch="0" epoch="1" num_updates="1">
              <configuration>
                <crm_config>
                  <cluster_property_set id="low" score="1">
                    <nvpair id="l1" name="no-quorum-policy" value="ignore"/>
                    <nvpair id="l2" name="symmetric-cluster" value="false"/>
                  </cluster_property_set>
                  <cluster_property_set id="high" score="10">
                    <nvpair id="h1" name="no-quorum-policy" value="freeze"/>
                  </cluster_property_set>
                  <cluster_property_set id="cib-bootstrap-options">
                    <nvpair id="b1" name="stonith-enabled" value="false"/>
                  </cluster_property_set>
                </crm_config>
                <nodes/><resources/><constraints/>
              </configuration>
            </cib>
            """
        let model = try unpack(xml)
        #expect(!model.properties.stonithEnabled)
        #expect(model.properties.noQuorumPolicy == .freeze)
        #expect(!model.properties.symmetricCluster)
    }

    @Test("an invalid option value falls back to the default with a warning")
    func invalidOption() throws {
        let model = try unpack(cibXML(properties: ["stonith-enabled": "false", "no-quorum-policy": "panic"]))
        #expect(model.properties.noQuorumPolicy == .stop)
        #expect(model.warnings.contains { $0.message.contains("no-quorum-policy") })
    }

    @Test("no-quorum-policy=suicide needs fencing and quorum seen once")
    func suicidePolicy() throws {
        let noFencing = try unpack(cibXML(properties: ["stonith-enabled": "false", "no-quorum-policy": "suicide"]))
        #expect(noFencing.properties.effectiveNoQuorumPolicy == .stop)
        let neverQuorate = try unpack(
            cibXML(properties: ["no-quorum-policy": "suicide"], haveQuorum: false))
        #expect(neverQuorate.properties.effectiveNoQuorumPolicy == .stop)
        let quorate = try unpack(cibXML(properties: ["no-quorum-policy": "suicide"]))
        #expect(quorate.properties.effectiveNoQuorumPolicy == .suicide)
    }

    @Test("nodes are sorted by name with numbers compared as numbers, and carry built-in attributes")
    func nodeOrder() throws {
        let model = try unpack(cibXML(nodes: ["node10", "node9", "Node1"]))
        #expect(model.nodes.map(\.name) == ["Node1", "node9", "node10"])
        let node = try #require(model.node(named: "node9"))
        #expect(node.attributes["#uname"] == "node9")
        #expect(node.attributes["#id"] == "node9")
        #expect(node.attributes["#kind"] == "cluster")
        #expect(node.attributes["#is_dc"] == "false")
        #expect(node.index == 1)
    }

    @Test("primitives, groups and clones unpack with inherited meta attributes")
    func resources() throws {
        let xml = cibXML(
            resources: """
                <group id="web">
                  <meta_attributes id="web-meta"><nvpair id="web-tr" name="target-role" value="Stopped"/></meta_attributes>
                  \(dummy("ip"))
                  \(dummy("apache", meta: ["resource-stickiness": "50"]))
                </group>
                <clone id="base-clone">
                  <meta_attributes id="base-meta"><nvpair id="base-im" name="is-managed" value="false"/></meta_attributes>
                  \(dummy("base"))
                </clone>
                """,
            extraConfiguration: """
                <rsc_defaults>
                  <meta_attributes id="defaults"><nvpair id="d1" name="resource-stickiness" value="100"/></meta_attributes>
                </rsc_defaults>
                """)
        let model = try unpack(xml)
        let ip = try #require(model.resource("ip"))
        #expect(ip.variant == .primitive)
        #expect(ip.agent == ResourceAgent(standard: "ocf", provider: "pacemaker", type: "Dummy"))
        #expect(ip.meta["target-role"] == "Stopped")
        #expect(ip.settings.targetRole == .stopped)
        #expect(ip.settings.stickiness == Score(100))
        #expect(model.resource("apache")?.settings.stickiness == Score(50))
        let clone = try #require(model.resource("base-clone"))
        #expect(clone.variant == .clone)
        #expect(clone.clone?.maxInstances == 2)
        #expect(clone.children.map { model.resources[$0].id } == ["base:0", "base:1"])
        let instance = try #require(model.resource("base:1"))
        #expect(!instance.settings.managed)
        #expect(!instance.settings.isUnique)
        #expect(instance.configID == "base")
        #expect(model.topLevel.map { model.resources[$0].id } == ["web", "base-clone"])
    }

    @Test("clones default to stickiness 1; promotable clones from promotable=true or the legacy master element")
    func cloneDefaults() throws {
        let xml = cibXML(
            resources: """
                <clone id="c1">
                  <meta_attributes id="c1-meta">
                    <nvpair id="c1-p" name="promotable" value="true"/>
                    <nvpair id="c1-m" name="clone-max" value="3"/>
                  </meta_attributes>
                  \(dummy("s1"))
                </clone>
                <master id="ms2">\(dummy("s2"))</master>
                """)
        let model = try unpack(xml)
        let c1 = try #require(model.resource("c1"))
        #expect(c1.settings.isPromotable)
        #expect(c1.clone?.maxInstances == 3)
        #expect(c1.clone?.maxPromoted == 1)
        #expect(c1.meta["resource-stickiness"] == "1")
        #expect(model.resource("s1:2")?.settings.stickiness == Score(1))
        #expect(model.resource("ms2")?.settings.isPromotable == true)
        #expect(model.resource("s2:0")?.settings.isPromotable == true)
    }

    @Test("resources are listed by descending priority, stable otherwise")
    func priorityOrder() throws {
        let xml = cibXML(
            resources: dummy("a") + dummy("b", meta: ["priority": "10"]) + dummy("c")
                + dummy("d", meta: ["priority": "10"]))
        let model = try unpack(xml)
        #expect(model.topLevel.map { model.resources[$0].id } == ["b", "d", "a", "c"])
    }

    @Test("lsb agents force anonymous clones, as in Pacemaker")
    func forcedAnonymous() throws {
        let xml = cibXML(
            nodes: ["n1", "n2"],
            resources: """
                <clone id="lsb-clone">
                  <meta_attributes id="lc-meta">
                    <nvpair id="lc-u" name="globally-unique" value="true"/>
                    <nvpair id="lc-m" name="clone-max" value="4"/>
                  </meta_attributes>
                  <primitive id="svc" class="lsb" type="foo"/>
                </clone>
                """)
        let model = try unpack(xml)
        let clone = try #require(model.resource("lsb-clone"))
        #expect(!clone.settings.isUnique)
        #expect(clone.clone?.maxInstances == 2)
        #expect(clone.children.count == 2)
        #expect(model.warnings.contains { $0.message.contains("globally-unique") })
    }

    @Test("constraints of every kind unpack with their roles, sets and options")
    func constraints() throws {
        let xml = cibXML(
            resources: dummy("a") + dummy("b")
                + "<clone id=\"ms\"><meta_attributes id=\"ms-m\"><nvpair id=\"ms-p\" name=\"promotable\" value=\"true\"/></meta_attributes>\(dummy("s"))</clone>",
            constraints: """
                <rsc_location id="loc-node" rsc="a" node="node1" score="100" resource-discovery="never"/>
                <rsc_location id="loc-rule" rsc="ms" role="Promoted">
                  <rule id="r1" score="-INFINITY" boolean-op="or">
                    <expression id="e1" attribute="#uname" operation="eq" value="node2"/>
                    <expression id="e2" attribute="pingd" operation="lt" value="1"/>
                  </rule>
                </rsc_location>
                <rsc_colocation id="col" rsc="a" with-rsc="ms" with-rsc-role="Master" score="INFINITY"/>
                <rsc_order id="ord" first="ms" first-action="promote" then="a" then-action="start" kind="Optional" symmetrical="false"/>
                <rsc_order id="ord-set">
                  <resource_set id="set1" sequential="false"><resource_ref id="a"/><resource_ref id="b"/></resource_set>
                  <resource_set id="set2"><resource_ref id="ms"/></resource_set>
                </rsc_order>
                <rsc_ticket id="tkt" rsc="ms" rsc-role="Promoted" ticket="ticketA" loss-policy="demote"/>
                """)
        let model = try unpack(xml)
        let constraints = model.constraints
        #expect(constraints.location.count == 2)
        #expect(constraints.location[0].placement == .node(name: "node1", score: Score(100)))
        #expect(constraints.location[0].discovery == .never)
        #expect(constraints.location[1].role == .promoted)
        guard case .rules(let rules) = constraints.location[1].placement else {
            Issue.record("expected rules")
            return
        }
        #expect(rules[0].booleanOperator == .or)
        #expect(rules[0].score == .minusInfinity)
        #expect(rules[0].evaluate(Rule.Context(nodeAttributes: ["#uname": "node2"])))
        #expect(rules[0].evaluate(Rule.Context(nodeAttributes: ["#uname": "node1", "pingd": "0"])))
        #expect(!rules[0].evaluate(Rule.Context(nodeAttributes: ["#uname": "node1", "pingd": "100"])))
        #expect(constraints.colocation[0].pair?.withResourceRole == .promoted)
        #expect(constraints.colocation[0].score == .infinity)
        #expect(constraints.order[0].kind == .optional)
        #expect(constraints.order[0].symmetrical == false)
        #expect(constraints.order[0].pair?.firstAction == .promote)
        #expect(constraints.order[1].sets.map(\.resources) == [["a", "b"], ["ms"]])
        #expect(constraints.order[1].sets[0].sequential == false)
        #expect(constraints.ticket[0].lossPolicy == .demote)
        #expect(model.tickets.map(\.id) == ["ticketA"])
        #expect(model.tickets[0].granted == false)
    }

    @Test("features outside the subset are reported by name, with id and line")
    func unsupportedFeatures() throws {
        let xml = cibXML(
            resources: """
                \(dummy("mig", meta: ["allow-migrate": "true"]))
                <clone id="notifying"><meta_attributes id="n-m"><nvpair id="n-n" name="notify" value="true"/></meta_attributes>\(dummy("n"))</clone>
                <bundle id="web-bundle"><docker image="nginx"/></bundle>
                """,
            constraints: """
                <rsc_location id="weekdays" rsc="mig">
                  <rule id="wd" score="100"><date_expression id="wd-e" operation="date_spec"><date_spec id="wd-s" weekdays="1-5"/></date_expression></rule>
                </rsc_location>
                """,
            extraConfiguration: """
                <acls><acl_role id="viewer"/></acls>
                """)
        let model = try unpack(xml)
        let names = Set(model.unsupportedFeatures.map(\.name))
        #expect(names.isSuperset(of: ["live migration", "notifications", "bundle", "date rule", "ACLs"]))
        let bundle = try #require(model.unsupportedFeatures.first { $0.name == "bundle" })
        #expect(bundle.elementID == "web-bundle")
        #expect(bundle.line != nil)
        #expect(bundle.impact == .affectsDecisions)
        #expect(model.unsupportedFeatures.first { $0.name == "ACLs" }?.impact == .ignored)
    }

    @Test("remote and guest nodes are reported, and constraints naming them still unpack")
    func remoteNodes() throws {
        let model = try unpack(
            cibXML(
                resources: """
                    <primitive id="remote1" class="ocf" provider="pacemaker" type="remote"/>
                    \(dummy("vm", meta: ["remote-node": "guest1"]))
                    \(dummy("app"))
                    """,
                constraints: """
                    <rsc_location id="on-remote" rsc="app" node="remote1" score="100"/>
                    <rsc_location id="on-guest" rsc="app" node="guest1" score="100"/>
                    """))
        let names = model.unsupportedFeatures.map(\.name)
        #expect(names.contains("remote node"))
        #expect(names.contains("guest node"))
        #expect(model.constraints.location.count == 2)
    }

    @Test("rules evaluate as Pacemaker's: integers for lt/gt, strings otherwise, roles for #role")
    func ruleEvaluation() {
        let numeric = Rule(
            id: "r", score: .infinity, scoreAttribute: nil, booleanOperator: .and, role: nil,
            conditions: [
                .attribute(
                    AttributeExpression(
                        id: "e", attribute: "load", operation: .gt, value: "9", comparison: nil, line: 1))
            ], line: 1)
        #expect(numeric.evaluate(Rule.Context(nodeAttributes: ["load": "10"])))
        #expect(!numeric.evaluate(Rule.Context(nodeAttributes: [:])))
        #expect(!numeric.evaluate(Rule.Context()))
        let role = Rule(
            id: "r", score: nil, scoreAttribute: nil, booleanOperator: .and, role: nil,
            conditions: [.role(operation: .eq, value: "Master", id: nil)], line: 1)
        #expect(role.evaluate(Rule.Context(role: .promoted)))
        #expect(!role.evaluate(Rule.Context(role: .unpromoted)))
    }
}
