// A parsed, immutable XML document backed by libxml2.
import CLibXML2

#if canImport(FoundationEssentials)
    import struct FoundationEssentials.Data
#else
    import struct Foundation.Data
#endif

/// A well-formed XML document, parsed by libxml2 and never changed afterwards.
///
/// Parsing never touches the network (`XML_PARSE_NONET`), does not substitute
/// entities or load external DTDs, and never prints anything: every libxml2
/// message is captured, and a document that is not well-formed throws an
/// ``XMLError`` listing each problem with its line and column.
///
/// Invariant: no API mutates the libxml2 tree after `init` returns. Reads
/// (element views, XPath with a fresh context per query, serialisation) only
/// read the tree, so one document can be shared between threads; that is why
/// the class is `@unchecked Sendable`. Changes go through ``editing(_:)``,
/// which works on a private copy and returns a new document.
public final class XMLDocument: @unchecked Sendable {
    /// How to parse.
    public struct ParseOptions: OptionSet, Sendable, Hashable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }

        /// Drop text nodes that contain only whitespace (`XML_PARSE_NOBLANKS`), as
        /// Pacemaker does for the CIB; serialising with `format: true` then indents cleanly.
        public static let removeBlankText = ParseOptions(rawValue: 1 << 0)
    }

    /// The libxml2 document; owned, freed in `deinit`, never mutated (see the type's invariant).
    let pointer: UnsafeMutablePointer<xmlDoc>

    /// The file path or name the document was read from; errors and diagnostics use it.
    public let sourceName: String

    /// Warnings libxml2 reported while parsing (the document is usable).
    public let warnings: [XMLDiagnostic]

    init(adopting pointer: UnsafeMutablePointer<xmlDoc>, sourceName: String, warnings: [XMLDiagnostic]) {
        precondition(
            xmlDocGetRootElement(pointer) != nil, "Internal inconsistency: XML document without a root element")
        self.pointer = pointer
        self.sourceName = sourceName
        self.warnings = warnings
    }

    deinit {
        libxml2Lock.withLock { xmlFreeDoc(pointer) }
    }

    /// Parses XML text.
    ///
    /// - Parameters:
    ///   - string: the XML text.
    ///   - sourceName: the name errors use for this input (a file name, or `<string>`).
    ///   - options: parse options.
    /// - Throws: ``XMLError`` with code `.malformedDocument` and one diagnostic per problem.
    public convenience init(
        string: String, sourceName: String = "<string>", options: ParseOptions = []
    ) throws(XMLError) {
        let (pointer, warnings) = try Self.parse(Array(string.utf8), sourceName: sourceName, options: options)
        self.init(adopting: pointer, sourceName: sourceName, warnings: warnings)
    }

    /// Parses XML bytes (the encoding comes from the XML declaration, UTF-8 by default).
    public convenience init(data: Data, sourceName: String = "<data>", options: ParseOptions = []) throws(XMLError) {
        let (pointer, warnings) = try Self.parse(Array(data), sourceName: sourceName, options: options)
        self.init(adopting: pointer, sourceName: sourceName, warnings: warnings)
    }

    /// Parses XML bytes (the encoding comes from the XML declaration, UTF-8 by default).
    public convenience init(bytes: [UInt8], sourceName: String = "<bytes>", options: ParseOptions = []) throws(XMLError)
    {
        let (pointer, warnings) = try Self.parse(bytes, sourceName: sourceName, options: options)
        self.init(adopting: pointer, sourceName: sourceName, warnings: warnings)
    }

    /// Reads and parses an XML file; diagnostics name `path`.
    ///
    /// - Throws: ``XMLError`` with code `.unreadableFile` (with the operating system's
    ///   reason) or `.malformedDocument`.
    public convenience init(contentsOfFile path: String, options: ParseOptions = []) throws(XMLError) {
        let bytes = try readFileBytes(path)
        let (pointer, warnings) = try Self.parse(bytes, sourceName: path, options: options)
        self.init(adopting: pointer, sourceName: path, warnings: warnings)
    }

    static func parse(
        _ bytes: [UInt8], sourceName: String, options: ParseOptions
    ) throws(XMLError) -> (UnsafeMutablePointer<xmlDoc>, [XMLDiagnostic]) {
        guard !bytes.isEmpty else {
            throw XMLError(
                code: .malformedDocument, summary: "\(sourceName) is empty",
                diagnostics: [XMLDiagnostic(severity: .fatal, message: "Document is empty", file: sourceName)],
                hint: "an XML document needs one root element, for example <cib/>")
        }
        guard bytes.count <= Int(Int32.max) else {
            throw XMLError(
                code: .malformedDocument, summary: "\(sourceName) is larger than 2 GiB",
                hint: "libxml2 parses documents of at most 2 GiB from memory; split the input")
        }
        var flags = XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue
        flags |= XML_PARSE_BIG_LINES.rawValue
        if options.contains(.removeBlankText) { flags |= XML_PARSE_NOBLANKS.rawValue }
        let parseFlags = Int32(bitPattern: flags)
        let (document, diagnostics) = capturingDiagnostics(sourceName: sourceName) {
            _ -> UnsafeMutablePointer<xmlDoc>? in
            guard let context = xmlNewParserCtxt() else { return nil }
            defer { xmlFreeParserCtxt(context) }
            let document = bytes.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { chars in
                    xmlCtxtReadMemory(context, chars.baseAddress, Int32(chars.count), sourceName, nil, parseFlags)
                }
            }
            if let document, context.pointee.wellFormed == 0 || xmlDocGetRootElement(document) == nil {
                xmlFreeDoc(document)
                return nil
            }
            return document
        }
        let errors = diagnostics.filter { $0.severity != .warning }
        guard let document, errors.isEmpty else {
            if let document { xmlFreeDoc(document) }
            var reported = diagnostics
            if errors.isEmpty {
                reported.append(
                    XMLDiagnostic(severity: .fatal, message: "libxml2 could not parse the document", file: sourceName))
            }
            throw XMLError(
                code: .malformedDocument, summary: "\(sourceName) is not well-formed XML",
                diagnostics: reported,
                hint: "fix the XML at the line and column shown (unclosed or mismatched tags, an unescaped '&' or '<', "
                    + "or a truncated file)")
        }
        return (document, diagnostics)
    }

    /// The root element.
    public var root: XMLElement {
        XMLElement(document: self, node: xmlDocGetRootElement(pointer)!)
    }

    /// The elements an XPath 1.0 expression selects, in document order.
    ///
    /// - Parameters:
    ///   - expression: for example `/cib/configuration/resources/primitive[@id='vip']`.
    ///   - namespaces: prefix to namespace URI bindings the expression uses.
    /// - Throws: ``XMLError`` with code `.invalidXPath` when the expression does not
    ///   compile, or selects something other than elements (use ``string(_:namespaces:)``).
    public func select(_ expression: String, namespaces: [String: String] = [:]) throws(XMLError) -> [XMLElement] {
        let documentNode = UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: xmlNode.self)
        return try selectNodes(
            expression, document: pointer, contextNode: documentNode, namespaces: namespaces, sourceName: sourceName
        ).map { XMLElement(document: self, node: $0) }
    }

    /// The string value of an XPath 1.0 expression (`string(...)` semantics): for
    /// example `string(/cib/@epoch)` or `count(//primitive)`.
    public func string(_ expression: String, namespaces: [String: String] = [:]) throws(XMLError) -> String {
        let documentNode = UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: xmlNode.self)
        return try evaluateString(
            expression, document: pointer, contextNode: documentNode, namespaces: namespaces, sourceName: sourceName)
    }

    /// The document as UTF-8 XML text.
    ///
    /// - Parameters:
    ///   - format: indent nested elements (libxml2 only re-indents elements without
    ///     mixed text; parse with `.removeBlankText` to re-indent a whole document).
    ///   - includeDeclaration: start with `<?xml version="1.0" encoding="UTF-8"?>`.
    public func serialized(format: Bool = true, includeDeclaration: Bool = true) -> String {
        serialize(document: pointer, node: nil, format: format, includeDeclaration: includeDeclaration)
    }

    /// A changed copy of this document; this document stays as it is.
    ///
    /// `body` receives an ``XMLEditor`` over a private deep copy. The editor and
    /// its elements are valid only while `body` runs. If `body` throws, the copy
    /// is discarded and the error is rethrown.
    public func editing(_ body: (XMLEditor) throws -> Void) rethrows -> XMLDocument {
        ensureLibXML2()
        guard let copy = libxml2Lock.withLock({ xmlCopyDoc(pointer, 1) }) else {
            preconditionFailure("Internal inconsistency: libxml2 could not copy \(sourceName) (out of memory)")
        }
        let editor = XMLEditor(document: copy, sourceName: sourceName)
        do {
            try body(editor)
        } catch {
            editor.close()
            xmlFreeDoc(copy)
            throw error
        }
        editor.close()
        return XMLDocument(adopting: copy, sourceName: sourceName, warnings: [])
    }
}

// MARK: - Shared XPath and serialisation helpers

/// Evaluates `expression` with a fresh XPath context and hands the result object to `body`.
func withXPathObject<T>(
    _ expression: String, document: UnsafeMutablePointer<xmlDoc>, contextNode: UnsafeMutablePointer<xmlNode>,
    namespaces: [String: String], sourceName: String,
    _ body: (UnsafeMutablePointer<xmlXPathObject>) throws(XMLError) -> T
) throws(XMLError) -> T {
    let (object, diagnostics) = capturingDiagnostics(sourceName: sourceName) {
        _ -> UnsafeMutablePointer<xmlXPathObject>? in
        guard let context = xmlXPathNewContext(document) else { return nil }
        defer { xmlXPathFreeContext(context) }
        context.pointee.node = contextNode
        for (prefix, uri) in namespaces {
            withXMLChars(prefix) { prefix in
                withXMLChars(uri) { uri in _ = xmlXPathRegisterNs(context, prefix, uri) }
            }
        }
        return withXMLChars(expression) { xmlXPathEvalExpression($0, context) }
    }
    guard let object else {
        throw XMLError(
            code: .invalidXPath, summary: "XPath expression \"\(expression)\" could not be evaluated",
            diagnostics: diagnostics.map { diagnostic in
                var diagnostic = diagnostic
                diagnostic.line = nil
                diagnostic.file = "XPath"
                return diagnostic
            },
            hint: "check the expression's syntax and that every namespace prefix it uses is passed in namespaces:")
    }
    defer { libxml2Lock.withLock { xmlXPathFreeObject(object) } }
    return try body(object)
}

/// The element nodes `expression` selects; anything else selected is an error.
func selectNodes(
    _ expression: String, document: UnsafeMutablePointer<xmlDoc>, contextNode: UnsafeMutablePointer<xmlNode>,
    namespaces: [String: String], sourceName: String
) throws(XMLError) -> [UnsafeMutablePointer<xmlNode>] {
    try withXPathObject(
        expression, document: document, contextNode: contextNode, namespaces: namespaces, sourceName: sourceName
    ) { object throws(XMLError) in
        guard object.pointee.type == XPATH_NODESET else {
            throw XMLError(
                code: .invalidXPath,
                summary: "XPath expression \"\(expression)\" yields a value, not a set of elements",
                hint: "use string(_:) for expressions such as count(...) or string(...)")
        }
        guard let set = object.pointee.nodesetval, set.pointee.nodeNr > 0, let table = set.pointee.nodeTab else {
            return []
        }
        var nodes: [UnsafeMutablePointer<xmlNode>] = []
        nodes.reserveCapacity(Int(set.pointee.nodeNr))
        for index in 0..<Int(set.pointee.nodeNr) {
            guard let node = table[index] else { continue }
            guard node.pointee.type == XML_ELEMENT_NODE else {
                throw XMLError(
                    code: .invalidXPath,
                    summary: "XPath expression \"\(expression)\" selects nodes that are not elements "
                        + "(attributes, text or the document)",
                    hint: "select the elements and read attribute(_:) or text, or use string(_:) for one value")
            }
            nodes.append(node)
        }
        return nodes
    }
}

/// The XPath string value of `expression`.
func evaluateString(
    _ expression: String, document: UnsafeMutablePointer<xmlDoc>, contextNode: UnsafeMutablePointer<xmlNode>,
    namespaces: [String: String], sourceName: String
) throws(XMLError) -> String {
    try withXPathObject(
        expression, document: document, contextNode: contextNode, namespaces: namespaces, sourceName: sourceName
    ) { object in
        takeXMLString(xmlXPathCastToString(object)) ?? ""
    }
}

/// Serialises a whole document (`node == nil`) or one element subtree as UTF-8 text.
func serialize(
    document: UnsafeMutablePointer<xmlDoc>, node: UnsafeMutablePointer<xmlNode>?, format: Bool,
    includeDeclaration: Bool
) -> String {
    let (text, _) = capturingDiagnostics(sourceName: nil) { _ -> String in
        guard let buffer = xmlBufferCreate() else {
            preconditionFailure("Internal inconsistency: libxml2 could not allocate a buffer (out of memory)")
        }
        defer { xmlBufferFree(buffer) }
        var options: UInt32 = 0
        if format { options |= XML_SAVE_FORMAT.rawValue }
        if !includeDeclaration || node != nil { options |= XML_SAVE_NO_DECL.rawValue }
        guard let save = xmlSaveToBuffer(buffer, "UTF-8", Int32(bitPattern: options)) else {
            preconditionFailure("Internal inconsistency: libxml2 could not open a save context")
        }
        if let node {
            _ = xmlSaveTree(save, node)
        } else {
            _ = xmlSaveDoc(save, document)
        }
        _ = xmlSaveClose(save)
        guard let content = xmlBufferContent(buffer) else { return "" }
        return String(cString: content)
    }
    return text
}
