import Foundation
import MeridianXML
import Testing

@Suite("XPath queries, serialisation and editing")
struct XPathAndSerialisationTests {
    @Test("XPath selects elements in document order, from the document or an element")
    func selectElements() throws {
        let document = try XMLDocument(string: sampleCIB)
        let primitives = try document.select("/cib/configuration/resources/primitive")
        #expect(primitives.map { $0.attribute("id") } == ["vip", "db"])
        let vip = try #require(try document.select("//primitive[@id='vip']").first)
        #expect(vip.attribute("type") == "IPaddr2")
        let relative = try vip.select("instance_attributes/nvpair")
        #expect(relative.map { $0.attribute("value") } == ["192.0.2.10"])
        #expect(try document.select("//nothing-like-this").isEmpty)
        #expect(try document.string("string(/cib/@epoch)") == "12")
        #expect(try document.string("count(//primitive)") == "2")
        #expect(try vip.string("string(instance_attributes/nvpair[@name='ip']/@value)") == "192.0.2.10")
    }

    @Test("XPath with namespaces uses the caller's prefix bindings")
    func namespaces() throws {
        let document = try XMLDocument(string: "<r xmlns:m='urn:meridian'><m:site name='a'/><site name='b'/></r>")
        let sites = try document.select("//m:site", namespaces: ["m": "urn:meridian"])
        #expect(sites.map { $0.attribute("name") } == ["a"])
        #expect(sites.first?.namespaceURI == "urn:meridian")
        #expect(sites.first?.prefix == "m")
        #expect(sites.first?.qualifiedName == "m:site")
        #expect(try document.select("//site").map { $0.attribute("name") } == ["b"])
    }

    @Test("a bad XPath expression throws invalidXPath with libxml2's reason")
    func invalidXPath() throws {
        let document = try XMLDocument(string: sampleCIB)
        let syntax = #expect(throws: XMLError.self) { try document.select("//primitive[@id='vip'") }
        #expect(syntax?.code == .invalidXPath)
        #expect(syntax?.diagnostics.isEmpty == false)
        let unbound = #expect(throws: XMLError.self) { try document.select("//x:primitive") }
        #expect(unbound?.code == .invalidXPath)
        let value = #expect(throws: XMLError.self) { try document.select("count(//primitive)") }
        #expect(value?.summary.contains("not a set of elements") == true)
        let attributes = #expect(throws: XMLError.self) { try document.select("//primitive/@id") }
        #expect(attributes?.summary.contains("not elements") == true)
    }

    @Test("serialisation round-trips and escapes special characters")
    func serialisationRoundTrip() throws {
        let document = try XMLDocument(string: sampleCIB, options: .removeBlankText)
        let text = document.serialized()
        #expect(text.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<cib "))
        #expect(text.contains("\n  <configuration>\n"))
        #expect(text.contains("note &amp; more"))
        let again = try XMLDocument(string: text)
        #expect(again.serialized() == text)
        #expect(again.root.children.map(\.name) == document.root.children.map(\.name))

        let compact = document.serialized(format: false, includeDeclaration: false)
        #expect(compact.hasPrefix("<cib "))
        #expect(!compact.contains("\n  <"))

        let vip = try #require(try document.select("//primitive[@id='vip']").first)
        let fragment = vip.serialized(format: false)
        #expect(fragment.hasPrefix("<primitive id=\"vip\""))
        #expect(fragment.hasSuffix("</primitive>"))
        #expect(!fragment.contains("<?xml"))
    }

    @Test("editing returns a changed copy and leaves the original alone")
    func editing() throws {
        let original = try XMLDocument(string: sampleCIB, sourceName: "cib.xml", options: .removeBlankText)
        let fragment = try XMLDocument(
            string: "<primitive id=\"web\" class=\"ocf\" provider=\"heartbeat\" type=\"apache\"/>")
        let edited = try original.editing { editor in
            try editor.root.setAttribute("epoch", to: "13")
            let tickets = try #require(try editor.select("/cib/tickets").first)
            let ticket = try tickets.appendElement(
                named: "ticket_state", attributes: ["id": "ticket-B", "granted": "false"])
            try ticket.setAttribute("note", to: "a \"quoted\" <value> & more")
            try ticket.setText("1 < 2 & 3 > 2")
            let resources = try #require(try editor.select("//resources").first)
            let web = resources.appendCopy(of: fragment.root)
            #expect(web.attribute("type") == "apache")
            try #require(try editor.select("//primitive[@id='db']").first).remove()
            try editor.root.setAttribute("num_updates", to: nil)
        }
        #expect(original.root.attribute("epoch") == "12")
        #expect(original.root.attribute("num_updates") == "0")
        #expect(try original.select("//primitive").count == 2)

        #expect(edited.root.attribute("epoch") == "13")
        #expect(edited.root.attribute("num_updates") == nil)
        #expect(try edited.select("//primitive").map { $0.attribute("id") } == ["vip", "web"])
        let ticket = try #require(try edited.select("//ticket_state[@id='ticket-B']").first)
        #expect(ticket.attribute("note") == "a \"quoted\" <value> & more")
        #expect(ticket.text == "1 < 2 & 3 > 2")
        #expect(edited.sourceName == "cib.xml")
        // Lines of copied elements are kept, so later validation errors still point into the original file.
        #expect(try edited.select("//primitive[@id='vip']").first?.line == 10)

        let reparsed = try XMLDocument(string: edited.serialized())
        #expect(try reparsed.select("//ticket_state").count == 2)
        #expect(try reparsed.string("string(//ticket_state[@id='ticket-B']/@note)") == "a \"quoted\" <value> & more")
    }

    @Test("editing rejects bad names, NUL characters and removing the root")
    func editingErrors() throws {
        let document = try XMLDocument(string: "<cib/>")
        let badName = #expect(throws: XMLError.self) {
            _ = try document.editing { try $0.root.appendElement(named: "1bad name") }
        }
        #expect(badName?.code == .invalidEdit)
        #expect(badName?.summary.contains("1bad name") == true)
        let nul = #expect(throws: XMLError.self) {
            _ = try document.editing { try $0.root.setAttribute("x", to: "a\u{0}b") }
        }
        #expect(nul?.code == .invalidEdit)
        let root = #expect(throws: XMLError.self) {
            _ = try document.editing { try $0.root.remove() }
        }
        #expect(root?.code == .invalidEdit)
        #expect(document.serialized(includeDeclaration: false) == "<cib/>\n")
    }
}
