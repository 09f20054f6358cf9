// A small synchronous HTTP client over a libcurl easy handle.
import CCurl

#if canImport(FoundationEssentials)
    import struct FoundationEssentials.Data
#else
    import struct Foundation.Data
#endif

/// `curl_global_init` must run once before any handle exists; Swift runs this exactly once, thread-safely.
private let curlGlobalInitResult: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))

/// Sends ``HTTPRequest``s with libcurl, one easy handle per request.
///
/// `send(_:)` blocks the calling thread until the transfer ends or its timeout
/// passes; call it from a thread that may block (not from a latency-sensitive
/// event loop). The client holds no mutable state, so it is `Sendable` and one
/// value can be used from many threads at once.
public struct HTTPClient: Sendable {
    /// Sent as `User-Agent` unless the request sets one.
    public var userAgent: String

    /// Creates a client.
    public init(userAgent: String = "meridian") {
        self.userAgent = userAgent
    }

    /// The libcurl version string, for example `libcurl/7.88.1 OpenSSL/3.0.11 ...`.
    public static var libcurlVersion: String { String(cString: curl_version()) }

    /// Performs `request` and returns the final response (any status).
    ///
    /// - Throws: ``HTTPError`` when the transfer itself fails (connection refused,
    ///   timeout, unknown interface, TLS, a body over `maximumBodySize`).
    public func send(_ request: HTTPRequest) throws(HTTPError) -> HTTPResponse {
        let label = "\(request.method) \(request.url)"
        guard curlGlobalInitResult == CURLE_OK else {
            throw HTTPError(
                kind: .transfer, curlCode: Int(curlGlobalInitResult.rawValue),
                message: String(cString: curl_easy_strerror(curlGlobalInitResult)), request: label,
                hint: "libcurl could not initialise; check the libcurl installation (apt libcurl4-openssl-dev)")
        }
        guard let handle = curl_easy_init() else {
            throw HTTPError(
                kind: .transfer, curlCode: 0, message: "curl_easy_init failed", request: label,
                hint: "the process is probably out of memory")
        }
        defer { curl_easy_cleanup(handle) }

        let transfer = Transfer(maximumBodySize: request.maximumBodySize)
        let context = Unmanaged.passRetained(transfer)
        defer { context.release() }
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        defer { errorBuffer.deallocate() }

        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }

        try configure(handle, request: request, label: label)
        try setPointer(handle, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(errorBuffer), label: label)
        try setPointer(handle, CURLOPT_WRITEDATA, context.toOpaque(), label: label)
        try setPointer(handle, CURLOPT_HEADERDATA, context.toOpaque(), label: label)
        try check(
            meridian_curl_setopt_data_callback(handle, CURLOPT_WRITEFUNCTION, transferBodyCallback),
            option: CURLOPT_WRITEFUNCTION, label: label)
        try check(
            meridian_curl_setopt_data_callback(handle, CURLOPT_HEADERFUNCTION, transferHeaderCallback),
            option: CURLOPT_HEADERFUNCTION, label: label)

        // "Name;" sends a header with an empty value; "Expect:" stops libcurl from sending
        // "Expect: 100-continue" and waiting for an interim response.
        var lines = request.headers.map { $0.value.isEmpty ? "\($0.name);" : "\($0.name): \($0.value)" }
        if !request.headers.contains("Expect") { lines.append("Expect:") }
        for line in lines {
            try checkNoNUL(line, what: "header line \(line)", label: label)
            guard let appended = curl_slist_append(headerList, line) else {
                throw HTTPError(
                    kind: .transfer, curlCode: 0, message: "curl_slist_append failed", request: label,
                    hint: "the process is probably out of memory")
            }
            headerList = appended
        }
        try check(
            meridian_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList), option: CURLOPT_HTTPHEADER, label: label
        )

        let result = curl_easy_perform(handle)
        guard result == CURLE_OK else {
            let buffered = String(cString: errorBuffer)
            let message = buffered.isEmpty ? String(cString: curl_easy_strerror(result)) : buffered
            if transfer.bodyTooLarge {
                throw HTTPError(
                    kind: .bodyTooLarge, curlCode: Int(result.rawValue),
                    message: "the response body is larger than \(request.maximumBodySize) bytes", request: label,
                    hint: "raise maximumBodySize if such a large response is expected")
            }
            throw Self.error(for: result, message: message, request: request, label: label)
        }

        var status = 0
        _ = meridian_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        var effective: UnsafeMutablePointer<CChar>?
        _ = meridian_curl_getinfo_string(handle, CURLINFO_EFFECTIVE_URL, &effective)
        return HTTPResponse(
            status: status, headers: HTTPHeaders(transfer.headers), body: Data(transfer.body),
            url: effective.map { String(cString: $0) } ?? request.url)
    }

    private func configure(_ handle: UnsafeMutableRawPointer, request: HTTPRequest, label: String) throws(HTTPError) {
        try setString(handle, CURLOPT_URL, request.url, label: label)
        if !request.headers.contains("User-Agent") {
            try setString(handle, CURLOPT_USERAGENT, userAgent, label: label)
        }
        try setString(handle, CURLOPT_PROTOCOLS_STR, "http,https", label: label)
        try setString(handle, CURLOPT_REDIR_PROTOCOLS_STR, "http,https", label: label)
        try setLong(handle, CURLOPT_NOSIGNAL, 1, label: label)
        try setLong(handle, CURLOPT_NOPROGRESS, 1, label: label)
        try setLong(handle, CURLOPT_TIMEOUT_MS, milliseconds(request.timeout), label: label)
        if let connectTimeout = request.connectTimeout {
            try setLong(handle, CURLOPT_CONNECTTIMEOUT_MS, milliseconds(connectTimeout), label: label)
        }
        if let interface = request.interface {
            try setString(handle, CURLOPT_INTERFACE, interface, label: label)
        }
        try setLong(handle, CURLOPT_FOLLOWLOCATION, request.followRedirects ? 1 : 0, label: label)
        try setLong(handle, CURLOPT_SSL_VERIFYPEER, request.verifyPeer ? 1 : 0, label: label)
        try setLong(handle, CURLOPT_SSL_VERIFYHOST, request.verifyPeer ? 2 : 0, label: label)
        if let caCertificatePath = request.caCertificatePath {
            try setString(handle, CURLOPT_CAINFO, caCertificatePath, label: label)
        }

        switch request.method {
        case .get where request.body == nil:
            try setLong(handle, CURLOPT_HTTPGET, 1, label: label)
        case .head:
            try setLong(handle, CURLOPT_NOBODY, 1, label: label)
        case .post:
            try setLong(handle, CURLOPT_POST, 1, label: label)
        default:
            try checkNoNUL(request.method.rawValue, what: "method", label: label)
            try setString(handle, CURLOPT_CUSTOMREQUEST, request.method.rawValue, label: label)
        }
        if let body = request.body {
            try check(
                meridian_curl_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)),
                option: CURLOPT_POSTFIELDSIZE_LARGE, label: label)
            // COPYPOSTFIELDS copies the bytes, so the buffer only has to live for this call.
            var bytes = [UInt8](body)
            bytes.append(0)
            let code = bytes.withUnsafeMutableBytes { raw in
                meridian_curl_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, raw.baseAddress)
            }
            try check(code, option: CURLOPT_COPYPOSTFIELDS, label: label)
        } else if request.method == .post {
            try setLong(handle, CURLOPT_POSTFIELDSIZE, 0, label: label)
            try setString(handle, CURLOPT_COPYPOSTFIELDS, "", label: label)
        }
    }

    private static func error(for code: CURLcode, message: String, request: HTTPRequest, label: String) -> HTTPError {
        let kind: HTTPError.Kind
        let hint: String
        switch code {
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT:
            kind = .invalidURL
            hint = "use an absolute http:// or https:// URL, for example http://127.0.0.1:8080/path"
        case CURLE_COULDNT_RESOLVE_HOST:
            kind = .unresolvedHost
            hint = "check the host name in the URL, or use an IP address"
        case CURLE_COULDNT_CONNECT:
            kind = .connectionFailed
            hint =
                "check that the server is running and listening on that address and port, "
                + "and that no firewall rule drops the traffic"
        case CURLE_OPERATION_TIMEDOUT:
            kind = .timedOut
            hint = "the server did not answer within \(request.timeout); check the server, or raise the timeout"
        case CURLE_INTERFACE_FAILED:
            kind = .interfaceUnavailable
            hint =
                "the local interface or address \"\(request.interface ?? "")\" is not configured here; "
                + "check `ip addr`, or add it (ip addr add 127.0.0.2/8 dev lo)"
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE,
            CURLE_SSL_CERTPROBLEM:
            kind = .tls
            hint = "check the server's certificate, or set caCertificatePath to the CA that signed it"
        default:
            kind = .transfer
            hint = "see libcurl's message; retry if the server was restarting"
        }
        return HTTPError(kind: kind, curlCode: Int(code.rawValue), message: message, request: label, hint: hint)
    }
}

// MARK: - libcurl plumbing

/// What one transfer collects; touched only by libcurl's callbacks on the sending thread.
private final class Transfer {
    let maximumBodySize: Int
    var body: [UInt8] = []
    var headers: [HTTPHeaderField] = []
    var bodyTooLarge = false

    init(maximumBodySize: Int) {
        self.maximumBodySize = maximumBodySize
    }

    func receiveHeaderLine(_ bytes: UnsafeBufferPointer<UInt8>) {
        var line = String(decoding: bytes, as: UTF8.self)
        // "\r\n" is a single Character, so test for any newline.
        while let last = line.last, last.isNewline { line.removeLast() }
        if line.isEmpty { return }
        if line.hasPrefix("HTTP/") {
            // A new status line: an interim (100) or redirected response came before.
            headers.removeAll()
            return
        }
        if let first = line.first, first == " " || first == "\t", !headers.isEmpty {
            headers[headers.count - 1].value += " " + line.trimmingSpaces()
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = String(line[..<colon])
        let value = String(line[line.index(after: colon)...]).trimmingSpaces()
        headers.append(HTTPHeaderField(name: name, value: value))
    }
}

private let transferBodyCallback: meridian_curl_data_callback = { data, size, count, context in
    guard let context else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    guard let data, length > 0 else { return length }
    if transfer.body.count + length > transfer.maximumBodySize {
        transfer.bodyTooLarge = true
        return 0
    }
    data.withMemoryRebound(to: UInt8.self, capacity: length) {
        transfer.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: length))
    }
    return length
}

private let transferHeaderCallback: meridian_curl_data_callback = { data, size, count, context in
    guard let context else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    guard let data, length > 0 else { return length }
    data.withMemoryRebound(to: UInt8.self, capacity: length) {
        transfer.receiveHeaderLine(UnsafeBufferPointer(start: $0, count: length))
    }
    return length
}

private func milliseconds(_ duration: Duration) -> Int {
    let (seconds, attoseconds) = duration.components
    let total = seconds * 1000 + attoseconds / 1_000_000_000_000_000
    return Int(max(1, min(total, Int64(Int32.max))))
}

private func check(_ code: CURLcode, option: CURLoption, label: String) throws(HTTPError) {
    guard code == CURLE_OK else {
        throw HTTPError(
            kind: .invalidRequest, curlCode: Int(code.rawValue),
            message: "setting libcurl option \(option.rawValue) failed: \(String(cString: curl_easy_strerror(code)))",
            request: label,
            hint: code == CURLE_UNKNOWN_OPTION || code == CURLE_NOT_BUILT_IN
                ? "this libcurl lacks the feature; install a libcurl with it (apt libcurl4-openssl-dev)"
                : "check the request's settings (URL, interface, CA file)")
    }
}

private func checkNoNUL(_ string: String, what: String, label: String) throws(HTTPError) {
    guard !string.utf8.contains(0) else {
        throw HTTPError(
            kind: .invalidRequest, curlCode: 0, message: "the \(what) contains a NUL character", request: label,
            hint: "remove the NUL character")
    }
}

private func setLong(
    _ handle: UnsafeMutableRawPointer, _ option: CURLoption, _ value: Int, label: String
) throws(HTTPError) {
    try check(meridian_curl_setopt_long(handle, option, value), option: option, label: label)
}

private func setString(
    _ handle: UnsafeMutableRawPointer, _ option: CURLoption, _ value: String, label: String
)
    throws(HTTPError)
{
    try checkNoNUL(value, what: "value of libcurl option \(option.rawValue)", label: label)
    // libcurl copies string options, so the C string only has to live for this call.
    try check(value.withCString { meridian_curl_setopt_string(handle, option, $0) }, option: option, label: label)
}

private func setPointer(
    _ handle: UnsafeMutableRawPointer, _ option: CURLoption, _ value: UnsafeMutableRawPointer?, label: String
)
    throws(HTTPError)
{
    try check(meridian_curl_setopt_pointer(handle, option, value), option: option, label: label)
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }
}
