// RelaxNG validation (Pacemaker's CIB schema is RelaxNG).
import CLibXML2
import Synchronization

/// A compiled RelaxNG schema that validates ``XMLDocument``s.
///
/// Pacemaker describes the CIB with RelaxNG (`pacemaker-*.rng` with includes);
/// a schema read from a file resolves `<include href=...>` relative to that file.
///
/// Invariant: the compiled schema is never changed after `init`; each validation
/// uses its own libxml2 validation context, and validations are serialised by a
/// lock because libxml2 does not promise that concurrent validations against one
/// compiled schema are safe. That makes the class `@unchecked Sendable`.
public final class RelaxNGSchema: @unchecked Sendable {
    private let schema: OpaquePointer
    private let lock = Mutex(())

    /// The schema's file path or name; errors use it.
    public let sourceName: String

    /// Reads and compiles the schema in the file at `path`.
    ///
    /// - Throws: ``XMLError`` `.unreadableFile`, `.malformedDocument` (the schema is
    ///   not well-formed XML) or `.invalidSchema` (it is not a correct RelaxNG schema,
    ///   or an included file is missing).
    public convenience init(path: String) throws(XMLError) {
        try self.init(document: XMLDocument(contentsOfFile: path))
    }

    /// Compiles a schema given as text; `sourceName` names it in errors. Relative
    /// includes resolve against the current directory.
    public convenience init(string: String, sourceName: String = "<schema>") throws(XMLError) {
        try self.init(document: XMLDocument(string: string, sourceName: sourceName))
    }

    /// Compiles a schema from a parsed document (libxml2 works on its own copy).
    public init(document: XMLDocument) throws(XMLError) {
        sourceName = document.sourceName
        let (compiled, diagnostics) = capturingDiagnostics(sourceName: document.sourceName) { sink -> OpaquePointer? in
            guard let parser = xmlRelaxNGNewDocParserCtxt(document.pointer) else { return nil }
            defer { xmlRelaxNGFreeParserCtxt(parser) }
            xmlRelaxNGSetParserStructuredErrors(
                parser, diagnosticSinkCallback, Unmanaged.passUnretained(sink).toOpaque())
            return xmlRelaxNGParse(parser)
        }
        guard let compiled else {
            throw XMLError(
                code: .invalidSchema, summary: "\(document.sourceName) is not a usable RelaxNG schema",
                diagnostics: diagnostics.isEmpty
                    ? [
                        XMLDiagnostic(
                            severity: .error, message: "libxml2 could not compile the schema", file: sourceName)
                    ]
                    : diagnostics,
                hint: "fix the schema at the lines shown, and check that every included file exists next to it")
        }
        schema = compiled
    }

    deinit {
        xmlRelaxNGFree(schema)
    }

    /// Every way `document` violates the schema, each with its line; empty when it is valid.
    public func violations(in document: XMLDocument) -> [XMLDiagnostic] {
        let (result, diagnostics) = lock.withLock { _ in
            capturingDiagnostics(sourceName: document.sourceName) { sink -> Int32 in
                guard let validator = xmlRelaxNGNewValidCtxt(schema) else { return -1 }
                defer { xmlRelaxNGFreeValidCtxt(validator) }
                xmlRelaxNGSetValidStructuredErrors(
                    validator, diagnosticSinkCallback, Unmanaged.passUnretained(sink).toOpaque())
                return xmlRelaxNGValidateDoc(validator, document.pointer)
            }
        }
        if result == 0 { return [] }
        let errors = diagnostics.filter { $0.severity != .warning }
        if errors.isEmpty {
            let message =
                result < 0
                ? "libxml2 failed internally while validating against \(sourceName)"
                : "the document does not conform to \(sourceName)"
            return diagnostics + [XMLDiagnostic(severity: .error, message: message, file: document.sourceName)]
        }
        return diagnostics
    }

    /// Checks `document` against the schema.
    ///
    /// - Throws: ``XMLError`` `.documentInvalid` listing each violation with its line
    ///   and element.
    public func validate(_ document: XMLDocument) throws(XMLError) {
        let found = violations(in: document)
        guard found.isEmpty else {
            throw XMLError(
                code: .documentInvalid, summary: "\(document.sourceName) does not conform to the schema \(sourceName)",
                diagnostics: found,
                hint: "change the elements and attributes at the lines shown so that the schema allows them")
        }
    }
}
