// Changing a private copy of a document inside XMLDocument.editing(_:).
import CLibXML2

/// Changes a private copy of an ``XMLDocument``; handed out only by ``XMLDocument/editing(_:)``.
///
/// Invariant: the editor and every ``Element`` it returns are valid only while the
/// `editing` closure runs; using them afterwards is a programmer error and stops
/// the process with a precondition failure. Removed elements are kept (unlinked)
/// until the closure returns, so an element that was removed can still be read
/// safely; it is simply no longer part of the document. Not `Sendable`: use it on
/// the thread that runs the closure.
public final class XMLEditor {
    let document: UnsafeMutablePointer<xmlDoc>
    let sourceName: String
    private var isOpen = true
    private var removed: [UnsafeMutablePointer<xmlNode>] = []

    init(document: UnsafeMutablePointer<xmlDoc>, sourceName: String) {
        self.document = document
        self.sourceName = sourceName
    }

    /// Frees removed nodes and ends the editor's validity.
    func close() {
        isOpen = false
        for node in removed { xmlFreeNode(node) }
        removed.removeAll()
    }

    fileprivate func checkOpen() {
        precondition(isOpen, "XMLEditor of \(sourceName) used after the editing closure returned")
    }

    fileprivate func keepRemoved(_ node: UnsafeMutablePointer<xmlNode>) {
        removed.append(node)
    }

    /// The root element of the copy.
    public var root: Element {
        checkOpen()
        return Element(editor: self, node: xmlDocGetRootElement(document)!)
    }

    /// The elements an XPath 1.0 expression selects in the copy.
    public func select(_ expression: String, namespaces: [String: String] = [:]) throws(XMLError) -> [Element] {
        checkOpen()
        let documentNode = UnsafeMutableRawPointer(document).assumingMemoryBound(to: xmlNode.self)
        return try selectNodes(
            expression, document: document, contextNode: documentNode, namespaces: namespaces, sourceName: sourceName
        ).map { Element(editor: self, node: $0) }
    }

    /// One element of the copy being edited; valid only inside the `editing` closure.
    public struct Element: Hashable, CustomStringConvertible {
        let editor: XMLEditor
        let node: UnsafeMutablePointer<xmlNode>

        public static func == (lhs: Element, rhs: Element) -> Bool { lhs.node == rhs.node }
        public func hash(into hasher: inout Hasher) { hasher.combine(node) }

        /// The local name.
        public var name: String {
            editor.checkOpen()
            return nodeName(node)
        }

        /// The attributes in document order.
        public var attributes: [XMLAttribute] {
            editor.checkOpen()
            return nodeAttributes(node)
        }

        /// The value of the attribute `name` that has no namespace, or `nil`.
        public func attribute(_ name: String) -> String? {
            editor.checkOpen()
            return nodeAttribute(node, name)
        }

        /// The child elements in document order.
        public var children: [Element] {
            editor.checkOpen()
            return childElements(node).map { Element(editor: editor, node: $0) }
        }

        /// The parent element, or `nil` for the root (or a removed element).
        public var parent: Element? {
            editor.checkOpen()
            guard let parent = node.pointee.parent, parent.pointee.type == XML_ELEMENT_NODE else { return nil }
            return Element(editor: editor, node: parent)
        }

        /// All text inside the element, concatenated.
        public var text: String {
            editor.checkOpen()
            return takeXMLString(xmlNodeGetContent(node)) ?? ""
        }

        /// The elements an XPath expression selects with this element as the context node.
        public func select(_ expression: String, namespaces: [String: String] = [:]) throws(XMLError) -> [Element] {
            editor.checkOpen()
            return try selectNodes(
                expression, document: editor.document, contextNode: node, namespaces: namespaces,
                sourceName: editor.sourceName
            ).map { Element(editor: editor, node: $0) }
        }

        /// Sets the attribute `name` to `value` (stored unescaped; serialisation escapes
        /// it), or removes it when `value` is `nil`.
        ///
        /// - Throws: ``XMLError`` `.invalidEdit` when `name` is not an XML name or a
        ///   string contains a NUL character.
        public func setAttribute(_ name: String, to value: String?) throws(XMLError) {
            editor.checkOpen()
            try checkName(name, what: "attribute")
            guard let value else {
                withXMLChars(name) { name in
                    if let attribute = xmlHasNsProp(node, name, nil) { _ = xmlRemoveProp(attribute) }
                }
                return
            }
            try checkText(value, what: "value of attribute \(name)")
            withXMLChars(name) { name in
                withXMLChars(value) { value in _ = xmlSetProp(node, name, value) }
            }
        }

        /// Appends a new child element `<name attributes.../>` and returns it.
        ///
        /// - Throws: ``XMLError`` `.invalidEdit` when a name is not an XML name.
        @discardableResult
        public func appendElement(
            named name: String, attributes: KeyValuePairs<String, String> = [:]
        ) throws(XMLError)
            -> Element
        {
            editor.checkOpen()
            try checkName(name, what: "element")
            for (attributeName, value) in attributes {
                try checkName(attributeName, what: "attribute")
                try checkText(value, what: "value of attribute \(attributeName)")
            }
            let child = withXMLChars(name) { xmlNewDocNode(editor.document, nil, $0, nil) }
            guard let child else {
                preconditionFailure("Internal inconsistency: libxml2 could not create element \(name) (out of memory)")
            }
            xmlAddChild(node, child)
            let element = Element(editor: editor, node: child)
            for (attributeName, value) in attributes {
                try element.setAttribute(attributeName, to: value)
            }
            return element
        }

        /// Appends a deep copy of an element of another (or the same) document and returns the copy.
        @discardableResult
        public func appendCopy(of element: XMLElement) -> Element {
            editor.checkOpen()
            guard let copy = xmlDocCopyNode(element.node, editor.document, 1) else {
                preconditionFailure("Internal inconsistency: libxml2 could not copy \(element) (out of memory)")
            }
            xmlAddChild(node, copy)
            return Element(editor: editor, node: copy)
        }

        /// Replaces everything inside the element with the text `text` (stored unescaped).
        public func setText(_ text: String) throws(XMLError) {
            editor.checkOpen()
            try checkText(text, what: "text of <\(nodeName(node))>")
            while let child = node.pointee.children {
                xmlUnlinkNode(child)
                editor.keepRemoved(child)
            }
            let textNode = withXMLChars(text) { xmlNewDocText(editor.document, $0) }
            guard let textNode else {
                preconditionFailure("Internal inconsistency: libxml2 could not create a text node (out of memory)")
            }
            xmlAddChild(node, textNode)
        }

        /// Removes the element (and its subtree) from the document.
        ///
        /// - Throws: ``XMLError`` `.invalidEdit` for the root element: a document needs one.
        public func remove() throws(XMLError) {
            editor.checkOpen()
            guard node != xmlDocGetRootElement(editor.document) else {
                throw XMLError(
                    code: .invalidEdit,
                    summary: "cannot remove the root element <\(nodeName(node))> of \(editor.sourceName)",
                    hint: "change the root's children or attributes instead, or build a new document")
            }
            guard node.pointee.parent != nil else { return }
            xmlUnlinkNode(node)
            editor.keepRemoved(node)
        }

        /// `<name id="...">`, for messages.
        public var description: String {
            let id = attribute("id").map { " id=\"\($0)\"" } ?? ""
            return "<\(name)\(id)> in \(editor.sourceName)"
        }
    }
}

private func checkName(_ name: String, what: String) throws(XMLError) {
    let valid = !name.utf8.contains(0) && withXMLChars(name) { xmlValidateName($0, 0) } == 0
    guard valid else {
        throw XMLError(
            code: .invalidEdit, summary: "\"\(name)\" is not a valid XML \(what) name",
            hint: "use a name that starts with a letter or '_' and contains only letters, digits, '-', '_', '.' or ':'")
    }
}

private func checkText(_ text: String, what: String) throws(XMLError) {
    guard !text.utf8.contains(0) else {
        throw XMLError(
            code: .invalidEdit, summary: "the \(what) contains a NUL character",
            hint: "XML cannot carry NUL characters; remove them or encode the data (for example base64)")
    }
}
