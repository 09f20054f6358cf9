// Bad input: errors name the element (id and line) and say what to change.
import CIB
import MeridianXML
import Testing

@Suite("Errors in bad CIBs")
struct ErrorTests {
    @Test("malformed XML reports the line")
    func malformed() {
        let text = """
            <cib admin_epoch="0" epoch="1" num_updates="1">
              <configuration>
                <resources>
                  <primitive id="a" class="ocf" provider="heartbeat" type="Dummy">
                </resources>
              </configuration>
            </cib>
            """
        #expect {
            _ = try CIBModel.document(string: text, sourceName: "broken.xml")
        } throws: { error in
            guard let error = error as? CIBError else { return false }
            return error.code == .malformedDocument && error.line == 5 && error.source == "broken.xml"
                && error.description.contains("broken.xml:5")
        }
    }

    @Test("a document that is not a CIB is refused")
    func notACIB() throws {
        let error = try #require(unpackError("<configuration/>"))
        #expect(error.code == .notACIB)
        #expect(error.hint.contains("CIB"))
    }

    @Test("a resource without an id names the element and line")
    func missingID() throws {
        let xml = cibXML(resources: "<primitive class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"/>")
        let error = try #require(unpackError(xml))
        #expect(error.code == .missingID)
        #expect(error.element == "primitive")
        #expect(error.line != nil)
        #expect(error.hint.contains("id"))
    }

    @Test("two resources with one id are refused")
    func duplicateID() throws {
        let error = try #require(unpackError(cibXML(resources: dummy("a") + "<group id=\"g\">\(dummy("a"))</group>")))
        #expect(error.code == .duplicateID)
        #expect(error.elementID == "a")
        #expect(error.message.contains("line"))
    }

    @Test("a constraint naming a missing resource names the constraint and the attribute")
    func missingResource() throws {
        let error = try #require(
            unpackError(
                cibXML(resources: dummy("a"), constraints: "<rsc_order id=\"o1\" first=\"a\" then=\"nosuch\"/>")))
        #expect(error.code == .unknownReference)
        #expect(error.element == "rsc_order")
        #expect(error.elementID == "o1")
        #expect(error.message.contains("then=\"nosuch\""))
        #expect(error.line != nil)
        #expect(error.description.contains("<rsc_order id=\"o1\">"))
    }

    @Test("a resource set naming a missing resource is refused")
    func missingSetMember() throws {
        let error = try #require(
            unpackError(
                cibXML(
                    resources: dummy("a"),
                    constraints: """
                        <rsc_colocation id="c1" score="INFINITY">
                          <resource_set id="s1"><resource_ref id="a"/><resource_ref id="ghost"/></resource_set>
                        </rsc_colocation>
                        """)))
        #expect(error.code == .unknownReference)
        #expect(error.message.contains("ghost"))
    }

    @Test("a location constraint naming a missing node names the node")
    func missingNode() throws {
        let error = try #require(
            unpackError(
                cibXML(
                    resources: dummy("a"),
                    constraints: "<rsc_location id=\"l1\" rsc=\"a\" node=\"node9\" score=\"10\"/>")))
        #expect(error.code == .unknownReference)
        #expect(error.elementID == "l1")
        #expect(error.message.contains("node9"))
    }

    @Test("a role Meridian cannot read is refused with the accepted roles")
    func badRole() throws {
        let error = try #require(
            unpackError(
                cibXML(
                    resources: dummy("a") + dummy("b"),
                    constraints: "<rsc_colocation id=\"c1\" rsc=\"a\" with-rsc=\"b\" rsc-role=\"Leader\" score=\"10\"/>"
                )))
        #expect(error.code == .invalidValue)
        #expect(error.hint.contains("Promoted"))
    }

    @Test("promoted roles and promote actions on resources that cannot be promoted are contradictory")
    func contradictoryRoles() throws {
        let colocation = try #require(
            unpackError(
                cibXML(
                    resources: dummy("a") + dummy("b"),
                    constraints:
                        "<rsc_colocation id=\"c1\" rsc=\"a\" with-rsc=\"b\" with-rsc-role=\"Promoted\" score=\"10\"/>"))
        )
        #expect(colocation.code == .contradictoryConfiguration)
        #expect(colocation.elementID == "c1")
        #expect(colocation.message.contains("b is not in a promotable clone"))
        let order = try #require(
            unpackError(
                cibXML(
                    resources: dummy("a") + dummy("b"),
                    constraints: "<rsc_order id=\"o1\" first=\"a\" first-action=\"promote\" then=\"b\"/>")))
        #expect(order.code == .contradictoryConfiguration)
        let promotable =
            "<clone id=\"ms\"><meta_attributes id=\"m\"><nvpair id=\"p\" name=\"promotable\" value=\"true\"/>"
            + "</meta_attributes>\(dummy("s"))</clone>"
        _ = try unpack(
            cibXML(
                resources: dummy("a") + promotable,
                constraints: """
                    <rsc_colocation id="c1" rsc="a" with-rsc="ms" with-rsc-role="Promoted" score="10"/>
                    <rsc_order id="o1" first="ms" first-action="promote" then="a"/>
                    """))
    }

    @Test("an lsb agent in a promotable clone is contradictory")
    func lsbPromotable() throws {
        let error = try #require(
            unpackError(
                cibXML(
                    resources: """
                        <clone id="ms"><meta_attributes id="m"><nvpair id="p" name="promotable" value="true"/></meta_attributes>
                        <primitive id="svc" class="lsb" type="svc"/></clone>
                        """)))
        #expect(error.code == .contradictoryConfiguration)
        #expect(error.elementID == "svc")
    }

    @Test("an unknown order kind is read as Mandatory with a warning, as Pacemaker does")
    func unknownKind() throws {
        let model = try unpack(
            cibXML(
                resources: dummy("a") + dummy("b"),
                constraints: "<rsc_order id=\"o\" first=\"a\" then=\"b\" kind=\"foo\"/>"))
        #expect(model.constraints.order[0].kind == .mandatory)
        #expect(model.warnings.contains { $0.elementID == "o" })
    }

    @Test("status entries for unknown nodes are ignored with a warning")
    func unknownNodeState() throws {
        let model = try unpack(cibXML(status: onlineState("ghost")))
        #expect(model.warnings.contains { $0.message.contains("ghost") })
    }
}

@Suite("Meridian's CIB schema")
struct SchemaTests {
    func violation(_ xml: String) throws -> CIBError? {
        let document = try CIBModel.document(string: xml, sourceName: "test.xml")
        do {
            try CIBModel.validate(document)
            return nil
        } catch {
            return error
        }
    }

    @Test("a CIB of the supported subset validates")
    func valid() throws {
        let xml = cibXML(
            resources: dummy("a", operations: "<op id=\"a-m\" name=\"monitor\" interval=\"10s\" on-fail=\"block\"/>"),
            constraints: "<rsc_location id=\"l\" rsc=\"a\" node=\"node1\" score=\"INFINITY\"/>",
            status: onlineState("node1", history: lrmResource("a", lrmOp("a", "start", call: 2))))
        #expect(try violation(xml) == nil)
    }

    @Test("an invalid on-fail value fails with its line")
    func badOnFail() throws {
        let xml = cibXML(
            resources: dummy("a", operations: "<op id=\"a-m\" name=\"monitor\" interval=\"10s\" on-fail=\"explode\"/>"))
        let error = try #require(try violation(xml))
        #expect(error.code == .schemaViolation)
        #expect(error.line != nil)
        #expect(!error.diagnostics.isEmpty)
    }

    @Test("an invalid score or role fails")
    func badValues() throws {
        #expect(
            try violation(
                cibXML(
                    resources: dummy("a"),
                    constraints: "<rsc_location id=\"l\" rsc=\"a\" node=\"node1\" score=\"lots\"/>"))
                != nil)
        #expect(
            try violation(
                cibXML(
                    resources: dummy("a") + dummy("b"),
                    constraints: "<rsc_colocation id=\"c\" rsc=\"a\" with-rsc=\"b\" rsc-role=\"Leader\" score=\"1\"/>"))
                != nil)
    }

    @Test("a misspelt element fails; elements outside the subset validate and are reported by unpacking")
    func elements() throws {
        #expect(try violation(cibXML(resources: "<primitve id=\"a\" class=\"ocf\" provider=\"p\" type=\"t\"/>")) != nil)
        let bundle = cibXML(
            resources: "<bundle id=\"b\"><docker image=\"x\"/></bundle>",
            extraConfiguration: "<tags><tag id=\"t\"/></tags>")
        #expect(try violation(bundle) == nil)
        let model = try unpack(bundle)
        #expect(model.unsupportedFeatures.map(\.name).contains("bundle"))
        #expect(model.unsupportedFeatures.map(\.name).contains("tags"))
    }

    @Test("duplicate configuration ids fail validation")
    func duplicateIDs() throws {
        #expect(try violation(cibXML(resources: dummy("a") + dummy("a"))) != nil)
    }

    @Test("the schema is RelaxNG that libxml2 compiles")
    func compiles() throws {
        _ = try RelaxNGSchema(string: CIBSchema.relaxNG, sourceName: "meridian-cib.rng")
    }
}
