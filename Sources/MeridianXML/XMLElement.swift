// A read-only view of one element of an XMLDocument.
import CLibXML2

/// One attribute of an element: its name and its (unescaped) value.
public struct XMLAttribute: Sendable, Hashable, CustomStringConvertible {
    /// The attribute's name, with its namespace prefix if it has one (`xml:lang`).
    public var name: String
    /// The attribute's value, entities and character references resolved.
    public var value: String

    /// Creates an attribute.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    /// `name="value"`.
    public var description: String { "\(name)=\"\(value)\"" }
}

/// A read-only view of one element of an ``XMLDocument``.
///
/// The view keeps its document alive. Two views are equal when they show the
/// same element of the same document. `Sendable` because the document is
/// immutable (see ``XMLDocument``).
public struct XMLElement: @unchecked Sendable, Hashable, CustomStringConvertible {
    /// The document this element belongs to.
    public let document: XMLDocument
    let node: UnsafeMutablePointer<xmlNode>

    init(document: XMLDocument, node: UnsafeMutablePointer<xmlNode>) {
        precondition(
            node.pointee.type == XML_ELEMENT_NODE, "Internal inconsistency: XMLElement over a non-element node")
        self.document = document
        self.node = node
    }

    public static func == (lhs: XMLElement, rhs: XMLElement) -> Bool {
        lhs.node == rhs.node
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(node)
    }

    /// The local name (`primitive` for `<primitive>`, `bar` for `<foo:bar>`).
    public var name: String { nodeName(node) }

    /// The namespace prefix, if the element has one.
    public var prefix: String? { node.pointee.ns.flatMap { borrowXMLString($0.pointee.prefix) } }

    /// The namespace URI, if the element is in a namespace.
    public var namespaceURI: String? { node.pointee.ns.flatMap { borrowXMLString($0.pointee.href) } }

    /// `prefix:name`, or `name` without a prefix.
    public var qualifiedName: String { prefix.map { "\($0):\(name)" } ?? name }

    /// The attributes in document order.
    public var attributes: [XMLAttribute] { nodeAttributes(node) }

    /// The value of the attribute `name` that has no namespace, or `nil`.
    public func attribute(_ name: String) -> String? { nodeAttribute(node, name) }

    /// The child elements in document order (text, comments and processing instructions are left out).
    public var children: [XMLElement] { childElements(node).map { XMLElement(document: document, node: $0) } }

    /// The child elements with local name `name`.
    public func children(named name: String) -> [XMLElement] { children.filter { $0.name == name } }

    /// The first child element with local name `name`.
    public func firstChild(named name: String) -> XMLElement? {
        childElements(node).first { nodeName($0) == name }.map { XMLElement(document: document, node: $0) }
    }

    /// The parent element, or `nil` for the root.
    public var parent: XMLElement? {
        guard let parent = node.pointee.parent, parent.pointee.type == XML_ELEMENT_NODE else { return nil }
        return XMLElement(document: document, node: parent)
    }

    /// All text inside the element, concatenated (`xmlNodeGetContent`).
    public var text: String { takeXMLString(xmlNodeGetContent(node)) ?? "" }

    /// The 1-based line of the element's start tag in the parsed input (0 if unknown).
    public var line: Int { Int(xmlGetLineNo(node)) }

    /// The elements an XPath expression selects with this element as the context node.
    public func select(_ expression: String, namespaces: [String: String] = [:]) throws(XMLError) -> [XMLElement] {
        try selectNodes(
            expression, document: document.pointer, contextNode: node, namespaces: namespaces,
            sourceName: document.sourceName
        ).map { XMLElement(document: document, node: $0) }
    }

    /// The XPath string value of an expression evaluated with this element as the context node.
    public func string(_ expression: String, namespaces: [String: String] = [:]) throws(XMLError) -> String {
        try evaluateString(
            expression, document: document.pointer, contextNode: node, namespaces: namespaces,
            sourceName: document.sourceName)
    }

    /// This element and its subtree as XML text (no declaration).
    public func serialized(format: Bool = true) -> String {
        serialize(document: document.pointer, node: node, format: format, includeDeclaration: false)
    }

    /// `<name id="...">` at `source:line`, for messages.
    public var description: String {
        let id = attribute("id").map { " id=\"\($0)\"" } ?? ""
        return "<\(qualifiedName)\(id)> at \(document.sourceName):\(line)"
    }
}

// MARK: - Node helpers shared with XMLEditor

func nodeName(_ node: UnsafeMutablePointer<xmlNode>) -> String {
    borrowXMLString(node.pointee.name) ?? ""
}

func nodeAttributes(_ node: UnsafeMutablePointer<xmlNode>) -> [XMLAttribute] {
    var result: [XMLAttribute] = []
    var attribute = node.pointee.properties
    while let current = attribute {
        var name = borrowXMLString(current.pointee.name) ?? ""
        if let prefix = current.pointee.ns.flatMap({ borrowXMLString($0.pointee.prefix) }) {
            name = "\(prefix):\(name)"
        }
        let value = takeXMLString(xmlNodeListGetString(node.pointee.doc, current.pointee.children, 1)) ?? ""
        result.append(XMLAttribute(name: name, value: value))
        attribute = current.pointee.next
    }
    return result
}

func nodeAttribute(_ node: UnsafeMutablePointer<xmlNode>, _ name: String) -> String? {
    withXMLChars(name) { takeXMLString(xmlGetNoNsProp(node, $0)) }
}

func childElements(_ node: UnsafeMutablePointer<xmlNode>) -> [UnsafeMutablePointer<xmlNode>] {
    var result: [UnsafeMutablePointer<xmlNode>] = []
    var child = node.pointee.children
    while let current = child {
        if current.pointee.type == XML_ELEMENT_NODE { result.append(current) }
        child = current.pointee.next
    }
    return result
}
