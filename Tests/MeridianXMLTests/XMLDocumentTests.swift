import Foundation
import MeridianXML
import Testing

let sampleCIB = """
    <?xml version="1.0" encoding="UTF-8"?>
    <cib epoch="12" num_updates="0" admin_epoch="0" validate-with="pacemaker-3.9">
      <configuration>
        <crm_config/>
        <nodes>
          <node id="1" uname="alpha"/>
          <node id="2" uname="beta"/>
        </nodes>
        <resources>
          <primitive id="vip" class="ocf" provider="heartbeat" type="IPaddr2">
            <instance_attributes id="vip-params">
              <nvpair id="vip-ip" name="ip" value="192.0.2.10"/>
            </instance_attributes>
          </primitive>
          <primitive id="db" class="ocf" provider="heartbeat" type="mysql"/>
        </resources>
        <constraints/>
      </configuration>
      <status/>
      <tickets>
        <ticket_state id="ticket-A" granted="true" last-granted="1700000000">note &amp; more</ticket_state>
      </tickets>
    </cib>
    """

@Suite("XMLDocument parsing and element views")
struct XMLDocumentTests {
    @Test("parses a CIB and exposes names, attributes in order, children and lines")
    func parseAndView() throws {
        let document = try XMLDocument(string: sampleCIB, sourceName: "cib.xml")
        let root = document.root
        #expect(root.name == "cib")
        #expect(root.line == 2)
        #expect(root.attributes.map(\.name) == ["epoch", "num_updates", "admin_epoch", "validate-with"])
        #expect(root.attribute("epoch") == "12")
        #expect(root.attribute("missing") == nil)
        #expect(root.children.map(\.name) == ["configuration", "status", "tickets"])
        let configuration = try #require(root.firstChild(named: "configuration"))
        #expect(configuration.parent == root)
        #expect(root.parent == nil)
        let nodes = try #require(configuration.firstChild(named: "nodes"))
        #expect(nodes.children(named: "node").map { $0.attribute("uname") } == ["alpha", "beta"])
        #expect(nodes.children[1].line == 7)
        let ticket = try #require(root.firstChild(named: "tickets")?.children.first)
        #expect(ticket.text == "note & more")
        #expect(ticket.description == "<ticket_state id=\"ticket-A\"> at cib.xml:21")
        #expect(document.warnings.isEmpty)
    }

    @Test("parses Data and bytes the same as a string")
    func parseDataAndBytes() throws {
        let fromData = try XMLDocument(data: Data(sampleCIB.utf8))
        let fromBytes = try XMLDocument(bytes: Array(sampleCIB.utf8))
        #expect(fromData.root.children.count == 3)
        #expect(fromBytes.serialized() == fromData.serialized())
    }

    @Test("reports the line and column of malformed XML")
    func malformedReportsLineAndColumn() {
        let broken = """
            <cib>
              <configuration>
                <resources>
              </configuration>
            </cib>
            """
        let error = #expect(throws: XMLError.self) {
            try XMLDocument(string: broken, sourceName: "broken.xml")
        }
        guard let error else { return }
        #expect(error.code == .malformedDocument)
        let first = error.errors.first
        #expect(first?.file == "broken.xml")
        #expect(first?.line == 4)
        #expect(first?.column != nil)
        #expect(first?.message.contains("mismatch") == true)
        #expect(error.description.contains("broken.xml:4:"))
        #expect(error.description.contains("hint:"))
    }

    @Test("reports an unescaped ampersand with its position")
    func unescapedAmpersand() {
        let error = #expect(throws: XMLError.self) {
            try XMLDocument(string: "<a>\n<b x=\"1 & 2\"/>\n</a>", sourceName: "amp.xml")
        }
        #expect(error?.errors.first?.line == 2)
        #expect(error?.errors.first?.column != nil)
    }

    @Test("rejects empty input and text without a root element")
    func emptyInput() {
        let empty = #expect(throws: XMLError.self) { try XMLDocument(string: "") }
        #expect(empty?.code == .malformedDocument)
        #expect(empty?.summary.contains("empty") == true)
        let noRoot = #expect(throws: XMLError.self) { try XMLDocument(string: "<?xml version=\"1.0\"?>\n") }
        #expect(noRoot?.code == .malformedDocument)
    }

    @Test("reads files and names an unreadable file with the system's reason")
    func files() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/cib.xml"
        try sampleCIB.write(toFile: path, atomically: true, encoding: .utf8)
        let document = try XMLDocument(contentsOfFile: path)
        #expect(document.sourceName == path)
        #expect(document.root.name == "cib")

        let missing = directory + "/missing.xml"
        let error = #expect(throws: XMLError.self) { try XMLDocument(contentsOfFile: missing) }
        #expect(error?.code == .unreadableFile)
        #expect(error?.summary.contains(missing) == true)
        #expect(error?.summary.contains("No such file") == true)

        try "<cib>\n<oops>\n</cib>\n".write(toFile: path, atomically: true, encoding: .utf8)
        let malformed = #expect(throws: XMLError.self) { try XMLDocument(contentsOfFile: path) }
        #expect(malformed?.errors.first?.file == path)
        #expect(malformed?.errors.first?.line == 3)
    }

    @Test("never loads anything from the network or expands external entities")
    func noNetworkNoExternalEntities() throws {
        let xml = """
            <?xml version="1.0"?>
            <!DOCTYPE cib [<!ENTITY remote SYSTEM "http://192.0.2.1/secret">]>
            <cib>&remote;</cib>
            """
        let document = try XMLDocument(string: xml)
        #expect(document.root.text == "")
    }

    @Test("libxml2 messages are captured, never printed on stderr")
    func nothingOnStderr() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let capturePath = directory + "/stderr"
        let capture = open(capturePath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try #require(capture >= 0)
        fflush(nil)
        let saved = dup(2)
        dup2(capture, 2)
        _ = try? XMLDocument(string: "<a><b></a>", sourceName: "quiet-check.xml")
        let schema = try? RelaxNGSchema(
            string: "<element name='x' xmlns='http://relaxng.org/ns/structure/1.0'><empty/></element>")
        if let schema, let document = try? XMLDocument(string: "<y/>", sourceName: "quiet-check.xml") {
            _ = schema.violations(in: document)
        }
        _ = try? XMLDocument(string: "<a/>").select("//[")
        fflush(nil)
        dup2(saved, 2)
        close(saved)
        close(capture)
        let captured = try String(contentsOfFile: capturePath, encoding: .utf8)
        #expect(!captured.contains("quiet-check.xml"))
        #expect(!captured.contains("parser error"))
        #expect(!captured.contains("XPath error"))
    }

    @Test("a document can be read from many tasks at once")
    func concurrentReads() async throws {
        let document = try XMLDocument(string: sampleCIB)
        let counts = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    var total = 0
                    for _ in 0..<50 {
                        total += (try? document.select("//primitive").count) ?? -1000
                        total += document.serialized().isEmpty ? -1000 : 0
                    }
                    return total
                }
            }
            var all: [Int] = []
            for await count in group { all.append(count) }
            return all
        }
        #expect(counts == Array(repeating: 100, count: 16))
    }
}

func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "meridian-xml-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
