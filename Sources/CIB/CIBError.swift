// User errors in a CIB, unsupported features and warnings.
import MeridianXML

/// Why a CIB could not be unpacked or validated: a user error that names the
/// element (its id and line) and says what to change.
///
/// The three parts a reader needs are kept apart: `message` says what is wrong,
/// `location` where, `hint` what to do about it. libxml2 diagnostics (parse errors,
/// schema violations) are kept in `diagnostics`, each with its line and column.
public struct CIBError: Error, Sendable, CustomStringConvertible {
    /// The kind of problem.
    public enum Code: String, Sendable, Hashable {
        /// The input is not well-formed XML.
        case malformedDocument
        /// The document is XML but not a CIB (wrong root, no configuration).
        case notACIB
        /// An element that must have an `id` has none (or an empty one).
        case missingID
        /// Two elements that must have distinct ids share one.
        case duplicateID
        /// An element refers to a resource, node or other object that does not exist.
        case unknownReference
        /// An attribute has a value Meridian cannot read.
        case invalidValue
        /// The configuration asks for two things that cannot both hold.
        case contradictoryConfiguration
        /// The document does not conform to Meridian's CIB schema.
        case schemaViolation
    }

    /// The kind of problem.
    public var code: Code
    /// What is wrong, in one sentence.
    public var message: String
    /// The element's name (`primitive`, `rsc_colocation`, ...), if the error is about one.
    public var element: String?
    /// The element's `id`, if it has one.
    public var elementID: String?
    /// The file or source name of the document.
    public var source: String
    /// The 1-based line of the element, if known.
    public var line: Int?
    /// What to change.
    public var hint: String
    /// libxml2's messages (parse errors, schema violations), each with line and column.
    public var diagnostics: [XMLDiagnostic]

    /// Creates an error.
    public init(
        code: Code, message: String, element: String? = nil, elementID: String? = nil, source: String,
        line: Int? = nil, hint: String, diagnostics: [XMLDiagnostic] = []
    ) {
        self.code = code
        self.message = message
        self.element = element
        self.elementID = elementID
        self.source = source
        self.line = line
        self.hint = hint
        self.diagnostics = diagnostics
    }

    init(_ code: Code, _ message: String, at xml: XMLElement?, source: String, hint: String) {
        self.init(
            code: code, message: message, element: xml?.name, elementID: xml?.attribute("id"), source: source,
            line: xml.map { $0.line > 0 ? $0.line : nil } ?? nil, hint: hint)
    }

    /// `source:line: error: <element id="...">: message`, each diagnostic, and the hint.
    public var description: String {
        var location = source
        if let line { location += ":\(line)" }
        var subject = ""
        if let element {
            subject = "<\(element)"
            if let elementID { subject += " id=\"\(elementID)\"" }
            subject += ">: "
        }
        var text = "\(location): error: \(subject)\(message)"
        for diagnostic in diagnostics {
            text += "\n  \(diagnostic)"
        }
        text += "\n  hint: \(hint)"
        return text
    }
}

/// A configuration or status feature that Pacemaker supports and Meridian does not
/// (yet): named, with where it was found and what its absence means.
public struct UnsupportedFeature: Sendable, Hashable, CustomStringConvertible {
    /// What leaving the feature out means for decisions taken on this CIB.
    public enum Impact: String, Sendable, Hashable {
        /// A scheduler that ignored the feature could take a wrong decision; the
        /// scheduler refuses CIBs with such features.
        case affectsDecisions
        /// The feature has no influence on what the scheduler decides (alerts, ACLs,
        /// fencing topology); it is ignored and only reported.
        case ignored
    }

    /// The feature's name, for example `bundle`, `remote node`, `live migration`.
    public var name: String
    /// What was found, for example `allow-migrate=true`.
    public var detail: String
    /// The element's name.
    public var element: String
    /// The element's id (or the nearest enclosing id).
    public var elementID: String?
    /// The 1-based line, if known.
    public var line: Int?
    /// Whether a decision could depend on it.
    public var impact: Impact

    /// Creates a report.
    public init(
        name: String, detail: String, element: String, elementID: String?, line: Int?, impact: Impact
    ) {
        self.name = name
        self.detail = detail
        self.element = element
        self.elementID = elementID
        self.line = line
        self.impact = impact
    }

    /// `name (detail) at <element id="..."> line N [ignored]`.
    public var description: String {
        var text = "\(name) (\(detail)) at <\(element)"
        if let elementID { text += " id=\"\(elementID)\"" }
        text += ">"
        if let line { text += " line \(line)" }
        if impact == .ignored { text += " [ignored]" }
        return text
    }
}

/// Something in the CIB that Pacemaker accepts with a complaint (an invalid option
/// value replaced by its default, a status entry for a removed node, ...). Unpacking
/// goes on; the warning says what was assumed.
public struct CIBWarning: Sendable, Hashable, CustomStringConvertible {
    /// What was found and what Meridian assumed instead.
    public var message: String
    /// The element's name, if the warning is about one.
    public var element: String?
    /// The element's id, if it has one.
    public var elementID: String?
    /// The 1-based line, if known.
    public var line: Int?

    /// Creates a warning.
    public init(message: String, element: String? = nil, elementID: String? = nil, line: Int? = nil) {
        self.message = message
        self.element = element
        self.elementID = elementID
        self.line = line
    }

    init(_ message: String, at xml: XMLElement?) {
        self.init(
            message: message, element: xml?.name, elementID: xml?.attribute("id"),
            line: xml.map { $0.line > 0 ? $0.line : nil } ?? nil)
    }

    /// `line N: <element id="...">: message`.
    public var description: String {
        var text = ""
        if let line { text += "line \(line): " }
        if let element {
            text += "<\(element)"
            if let elementID { text += " id=\"\(elementID)\"" }
            text += ">: "
        }
        return text + message
    }
}
