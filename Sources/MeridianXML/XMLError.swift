// Errors and diagnostics reported by the libxml2 wrapper.

/// One message from libxml2 about a document or schema, with where it points.
///
/// `line` and `column` are 1-based and `nil` when libxml2 did not know them
/// (for example a missing file). `description` reads like a compiler message:
/// `cib.xml:12:7: error: Opening and ending tag mismatch: primitive line 9 and group`.
public struct XMLDiagnostic: Sendable, Hashable, CustomStringConvertible {
    /// How serious the message is, as libxml2 classifies it.
    public enum Severity: String, Sendable, Hashable {
        /// The document is usable; something looked suspicious.
        case warning
        /// A recoverable error: the document or schema is not acceptable.
        case error
        /// The parser stopped here.
        case fatal
    }

    /// How serious the message is.
    public var severity: Severity
    /// libxml2's message, without the trailing newline.
    public var message: String
    /// The file or source name the message refers to, if known.
    public var file: String?
    /// The 1-based line, if known.
    public var line: Int?
    /// The 1-based column, if known.
    public var column: Int?
    /// The name of the element the message is about (validation messages), if known.
    public var element: String?

    /// Creates a diagnostic; the wrapper makes these from libxml2's structured errors.
    public init(
        severity: Severity, message: String, file: String? = nil, line: Int? = nil, column: Int? = nil,
        element: String? = nil
    ) {
        self.severity = severity
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.element = element
    }

    /// `file:line:column: severity: message`, leaving out what is unknown.
    public var description: String {
        var location = file ?? "<input>"
        if let line {
            location += ":\(line)"
            if let column { location += ":\(column)" }
        }
        return "\(location): \(severity.rawValue): \(message)"
    }
}

/// Why an XML operation failed: a code, every diagnostic libxml2 reported, and what to do.
///
/// This is a *user error* in the sense of the conventions: the diagnostics name the
/// file, line and column; `hint` says how to fix it.
public struct XMLError: Error, Sendable, CustomStringConvertible {
    /// What kind of operation failed.
    public enum Code: String, Sendable, Hashable {
        /// The input is not well-formed XML (or is empty).
        case malformedDocument
        /// A file could not be read.
        case unreadableFile
        /// An XPath expression did not compile or did not select what was asked.
        case invalidXPath
        /// A RelaxNG schema could not be parsed or compiled.
        case invalidSchema
        /// A document does not conform to a RelaxNG schema.
        case documentInvalid
        /// An edit of a document was rejected (for example a name that is not an XML name).
        case invalidEdit
    }

    /// What kind of operation failed.
    public var code: Code
    /// A one-line summary naming the input.
    public var summary: String
    /// Every message libxml2 reported, in order.
    public var diagnostics: [XMLDiagnostic]
    /// How to fix it.
    public var hint: String

    /// Creates an error; `summary` names the input, `hint` says how to fix it.
    public init(code: Code, summary: String, diagnostics: [XMLDiagnostic] = [], hint: String) {
        self.code = code
        self.summary = summary
        self.diagnostics = diagnostics
        self.hint = hint
    }

    /// The diagnostics that are errors (not warnings).
    public var errors: [XMLDiagnostic] { diagnostics.filter { $0.severity != .warning } }

    /// The summary, one indented line per diagnostic, and the hint.
    public var description: String {
        var text = summary
        for diagnostic in diagnostics {
            text += "\n  \(diagnostic)"
        }
        text += "\n  hint: \(hint)"
        return text
    }
}
