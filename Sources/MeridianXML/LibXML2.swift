// Process-wide libxml2 set-up and the scoped error capture every call goes through.
import CLibXML2

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// libxml2 must be initialised once before threads use it; Swift runs this exactly once.
private let libxml2Initialized: Void = {
    xmlInitParser()
}()

/// Makes sure libxml2 is initialised.
func ensureLibXML2() {
    _ = libxml2Initialized
}

/// Collects libxml2's structured errors while one wrapper call runs.
final class DiagnosticSink {
    let sourceName: String?
    private(set) var diagnostics: [XMLDiagnostic] = []

    init(sourceName: String?) {
        self.sourceName = sourceName
    }

    func record(_ error: xmlError) {
        let severity: XMLDiagnostic.Severity
        switch error.level {
        case XML_ERR_WARNING: severity = .warning
        case XML_ERR_FATAL: severity = .fatal
        default: severity = .error
        }
        var message = error.message.map { String(cString: $0) } ?? "unknown libxml2 error (code \(error.code))"
        while let last = message.last, last.isWhitespace { message.removeLast() }
        var file = error.file.map { String(cString: $0) } ?? sourceName
        if file == "" { file = sourceName }
        var element: String?
        var line = error.line > 0 ? Int(error.line) : nil
        if let node = error.node?.assumingMemoryBound(to: xmlNode.self) {
            if node.pointee.type == XML_ELEMENT_NODE, let name = node.pointee.name {
                element = String(cString: name)
            }
            if line == nil {
                let nodeLine = xmlGetLineNo(node)
                if nodeLine > 0 { line = Int(nodeLine) }
            }
        }
        // Only the parser puts a column in int2; other domains use it for other things.
        let column = error.domain == Int32(XML_FROM_PARSER.rawValue) && error.int2 > 0 ? Int(error.int2) : nil
        let diagnostic = XMLDiagnostic(
            severity: severity, message: message, file: file, line: line, column: column, element: element)
        if diagnostics.last != diagnostic {
            diagnostics.append(diagnostic)
        }
    }
}

/// libxml2 2.9 is not safe when several threads use one document at once (XPath evaluation
/// and serialisation from 16 tasks corrupted the heap: MALLOC_PERTURB_ made it reproducible).
/// Meridian's use of XML is light, so every call into libxml2 holds this (recursive) lock.
let libxml2Lock = LibXML2Lock()

/// A recursive mutex (pthread), usable from a global constant.
final class LibXML2Lock: @unchecked Sendable {
    private var mutex = pthread_mutex_t()

    init() {
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_RECURSIVE))
        pthread_mutex_init(&mutex, &attributes)
        pthread_mutexattr_destroy(&attributes)
    }

    func lock() { pthread_mutex_lock(&mutex) }
    func unlock() { pthread_mutex_unlock(&mutex) }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// The structured error callback handed to libxml2; `context` is an unretained `DiagnosticSink`.
let diagnosticSinkCallback: xmlStructuredErrorFunc = { context, error in
    guard let context, let error else { return }
    Unmanaged<DiagnosticSink>.fromOpaque(context).takeUnretainedValue().record(error.pointee)
}

/// Runs `body` with libxml2's error output redirected into a fresh sink, on this thread.
///
/// libxml2's error handlers are per thread; this installs a structured handler that
/// records every message (so nothing is printed on stderr), silences the generic
/// handler, and restores both afterwards. `body` must not suspend.
func capturingDiagnostics<T>(sourceName: String?, _ body: (DiagnosticSink) -> T) -> (T, [XMLDiagnostic]) {
    libxml2Lock.lock()
    defer { libxml2Lock.unlock() }
    ensureLibXML2()
    let sink = DiagnosticSink(sourceName: sourceName)
    let previousStructured = meridian_xml_structured_error_handler()
    let previousStructuredContext = meridian_xml_structured_error_context()
    let previousGeneric = meridian_xml_generic_error_handler()
    let previousGenericContext = meridian_xml_generic_error_context()
    let context = Unmanaged.passRetained(sink)
    xmlSetStructuredErrorFunc(context.toOpaque(), diagnosticSinkCallback)
    xmlSetGenericErrorFunc(nil, meridian_xml_silent_generic_error_handler())
    defer {
        xmlSetStructuredErrorFunc(previousStructuredContext, previousStructured)
        xmlSetGenericErrorFunc(previousGenericContext, previousGeneric)
        context.release()
    }
    let value = body(sink)
    return (value, sink.diagnostics)
}

/// Calls `body` with `string` as a NUL-terminated `xmlChar` pointer.
func withXMLChars<T>(_ string: String, _ body: (UnsafePointer<xmlChar>) -> T) -> T {
    var bytes = Array(string.utf8)
    bytes.append(0)
    return bytes.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// Converts a string that libxml2 allocated, and frees it.
func takeXMLString(_ pointer: UnsafeMutablePointer<xmlChar>?) -> String? {
    guard let pointer else { return nil }
    defer { meridian_xml_free(pointer) }
    return String(cString: pointer)
}

/// A string libxml2 owns (not freed here).
func borrowXMLString(_ pointer: UnsafePointer<xmlChar>?) -> String? {
    pointer.map { String(cString: $0) }
}

/// Reads a whole file, with the operating system's reason when it cannot.
func readFileBytes(_ path: String) throws(XMLError) -> [UInt8] {
    guard let file = fopen(path, "rb") else {
        let reason = String(cString: strerror(errno))
        throw XMLError(
            code: .unreadableFile, summary: "cannot read \(path): \(reason)",
            hint: "check that the path is right and that the file is readable by this user")
    }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
        if count > 0 { bytes.append(contentsOf: chunk[0..<count]) }
        if count < chunk.count {
            if ferror(file) != 0 {
                let reason = String(cString: strerror(errno))
                throw XMLError(
                    code: .unreadableFile, summary: "cannot read \(path): \(reason)",
                    hint: "check that the path names a regular, readable file")
            }
            break
        }
    }
    return bytes
}
