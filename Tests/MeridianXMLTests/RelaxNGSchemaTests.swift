import Foundation
import MeridianXML
import Testing

/// A small RelaxNG schema in the style of Pacemaker's: tickets with an id and a boolean `granted`.
let ticketsSchema = """
    <?xml version="1.0" encoding="UTF-8"?>
    <grammar xmlns="http://relaxng.org/ns/structure/1.0"
             datatypeLibrary="http://www.w3.org/2001/XMLSchema-datatypes">
      <start>
        <element name="tickets">
          <zeroOrMore>
            <ref name="ticket"/>
          </zeroOrMore>
        </element>
      </start>
      <define name="ticket">
        <element name="ticket_state">
          <attribute name="id"><data type="ID"/></attribute>
          <attribute name="granted"><data type="boolean"/></attribute>
          <optional><attribute name="last-granted"><data type="integer"/></attribute></optional>
          <empty/>
        </element>
      </define>
    </grammar>
    """

@Suite("RelaxNG validation")
struct RelaxNGSchemaTests {
    @Test("a valid document passes")
    func validDocument() throws {
        let schema = try RelaxNGSchema(string: ticketsSchema, sourceName: "tickets.rng")
        let document = try XMLDocument(
            string: """
                <tickets>
                  <ticket_state id="ticket-A" granted="true" last-granted="1700000000"/>
                  <ticket_state id="ticket-B" granted="false"/>
                </tickets>
                """)
        try schema.validate(document)
        #expect(schema.violations(in: document).isEmpty)
    }

    @Test("an invalid document lists each violation with its line")
    func invalidDocument() throws {
        let schema = try RelaxNGSchema(string: ticketsSchema, sourceName: "tickets.rng")
        let document = try XMLDocument(
            string: """
                <tickets>
                  <ticket_state id="ticket-A" granted="true"/>
                  <ticket_state id="ticket-B" granted="maybe"/>
                  <ticket_state granted="true"/>
                  <ticket id="x"/>
                </tickets>
                """, sourceName: "tickets.xml")
        let error = #expect(throws: XMLError.self) { try schema.validate(document) }
        guard let error else { return }
        #expect(error.code == .documentInvalid)
        #expect(error.summary.contains("tickets.xml"))
        #expect(error.summary.contains("tickets.rng"))
        let lines = Set(error.errors.compactMap(\.line))
        #expect(lines.contains(3), "granted=\"maybe\" is not a boolean: \(error)")
        #expect(lines.contains(4), "the id is missing: \(error)")
        #expect(lines.contains(5), "<ticket> is not allowed: \(error)")
        #expect(!lines.contains(2), "line 2 is valid: \(error)")
        #expect(error.errors.allSatisfy { $0.file == "tickets.xml" })
        #expect(error.errors.contains { $0.element == "ticket_state" })
        #expect(error.description.contains("tickets.xml:3"))
    }

    @Test("a schema file resolves its includes relative to itself")
    func schemaFileWithInclude() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try """
        <?xml version="1.0"?>
        <grammar xmlns="http://relaxng.org/ns/structure/1.0">
          <include href="site.rng"/>
          <start><element name="sites"><oneOrMore><ref name="site"/></oneOrMore></element></start>
        </grammar>
        """.write(toFile: directory + "/main.rng", atomically: true, encoding: .utf8)
        try """
        <?xml version="1.0"?>
        <grammar xmlns="http://relaxng.org/ns/structure/1.0">
          <define name="site"><element name="site"><attribute name="address"/><empty/></element></define>
        </grammar>
        """.write(toFile: directory + "/site.rng", atomically: true, encoding: .utf8)
        let schema = try RelaxNGSchema(path: directory + "/main.rng")
        try schema.validate(try XMLDocument(string: "<sites><site address='192.0.2.1'/></sites>"))
        let error = #expect(throws: XMLError.self) {
            try schema.validate(try XMLDocument(string: "<sites>\n<site/>\n</sites>"))
        }
        #expect(error?.errors.first?.line == 2)

        try FileManager.default.removeItem(atPath: directory + "/site.rng")
        let missingInclude = #expect(throws: XMLError.self) { try RelaxNGSchema(path: directory + "/main.rng") }
        #expect(missingInclude?.code == .invalidSchema)
        #expect(missingInclude?.diagnostics.isEmpty == false)
    }

    @Test("a broken schema is reported, not compiled")
    func brokenSchema() {
        let notRelaxNG = #expect(throws: XMLError.self) {
            try RelaxNGSchema(string: "<grammar xmlns='http://relaxng.org/ns/structure/1.0'><start/></grammar>")
        }
        #expect(notRelaxNG?.code == .invalidSchema)
        let malformed = #expect(throws: XMLError.self) {
            try RelaxNGSchema(string: "<grammar>\n<start>\n</grammar>", sourceName: "bad.rng")
        }
        #expect(malformed?.code == .malformedDocument)
        #expect(malformed?.errors.first?.file == "bad.rng")
        #expect(malformed?.errors.first?.line == 3)
        let missing = #expect(throws: XMLError.self) { try RelaxNGSchema(path: "/nonexistent/pacemaker.rng") }
        #expect(missing?.code == .unreadableFile)
    }

    @Test("one schema validates from many tasks at once")
    func concurrentValidation() async throws {
        let schema = try RelaxNGSchema(string: ticketsSchema)
        let valid = try XMLDocument(string: "<tickets><ticket_state id='a' granted='true'/></tickets>")
        let invalid = try XMLDocument(string: "<tickets><ticket_state id='a'/></tickets>")
        let results = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<32 {
                group.addTask {
                    let document = index.isMultiple(of: 2) ? valid : invalid
                    return schema.violations(in: document).isEmpty == index.isMultiple(of: 2)
                }
            }
            var all: [Bool] = []
            for await result in group { all.append(result) }
            return all
        }
        #expect(results.allSatisfy { $0 })
    }
}
