// Requests, responses and headers of the libcurl wrapper.

#if canImport(FoundationEssentials)
    import struct FoundationEssentials.Data
#else
    import struct Foundation.Data
#endif

/// An HTTP request method. Any token is allowed; the common ones have names.
public struct HTTPMethod: RawRepresentable, Sendable, Hashable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The method token as sent on the wire, for example `GET`.
    public let rawValue: String

    /// Creates a method from its token.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// Creates a method from its token.
    public init(stringLiteral value: String) { self.rawValue = value }

    public static let get: HTTPMethod = "GET"
    public static let head: HTTPMethod = "HEAD"
    public static let post: HTTPMethod = "POST"
    public static let put: HTTPMethod = "PUT"
    public static let patch: HTTPMethod = "PATCH"
    public static let delete: HTTPMethod = "DELETE"

    public var description: String { rawValue }
}

/// One header field as sent or received.
public struct HTTPHeaderField: Sendable, Hashable, CustomStringConvertible {
    /// The field name as written (comparisons ignore case).
    public var name: String
    /// The field value without surrounding whitespace.
    public var value: String

    /// Creates a header field.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    /// `Name: value`.
    public var description: String { "\(name): \(value)" }
}

/// An ordered list of header fields; lookups by name ignore case and a name may repeat.
public struct HTTPHeaders: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    /// The fields in order.
    public private(set) var fields: [HTTPHeaderField] = []

    /// An empty list.
    public init() {}

    /// The fields in the order given.
    public init(_ fields: [HTTPHeaderField]) { self.fields = fields }

    /// The fields in the order written.
    public init(dictionaryLiteral elements: (String, String)...) {
        fields = elements.map { HTTPHeaderField(name: $0.0, value: $0.1) }
    }

    /// Appends a field (keeps fields of the same name).
    public mutating func add(name: String, value: String) {
        fields.append(HTTPHeaderField(name: name, value: value))
    }

    /// Replaces every field named `name` with one field, or removes them when `value` is `nil`.
    public mutating func set(name: String, value: String?) {
        fields.removeAll { $0.name.lowercased() == name.lowercased() }
        if let value { add(name: name, value: value) }
    }

    /// The value of the first field named `name` (any case), or `nil`.
    public subscript(name: String) -> String? {
        let lowered = name.lowercased()
        return fields.first { $0.name.lowercased() == lowered }?.value
    }

    /// The values of every field named `name` (any case), in order.
    public func values(for name: String) -> [String] {
        let lowered = name.lowercased()
        return fields.filter { $0.name.lowercased() == lowered }.map(\.value)
    }

    /// Whether a field named `name` (any case) is present.
    public func contains(_ name: String) -> Bool { self[name] != nil }

    public func makeIterator() -> IndexingIterator<[HTTPHeaderField]> { fields.makeIterator() }

    public var description: String { fields.map(\.description).joined(separator: "\r\n") }
}

/// What to send: method, URL, headers, body, limits and the local address to send from.
///
/// Only `http` and `https` URLs are allowed (also when following redirects).
public struct HTTPRequest: Sendable {
    /// The request method; `.get` by default.
    public var method: HTTPMethod
    /// The absolute URL, for example `http://127.0.0.1:8080/v1/zones`.
    public var url: String
    /// Header fields to send. libcurl adds `Host`, `Content-Length` and `User-Agent`
    /// unless given here; `Expect: 100-continue` is never sent.
    public var headers: HTTPHeaders
    /// The body, or `nil` for none.
    public var body: Data?
    /// The whole transfer must finish within this time.
    public var timeout: Duration
    /// Connecting must finish within this time (`nil`: libcurl's default, bounded by `timeout`).
    public var connectTimeout: Duration?
    /// Send from this local interface or address (`CURLOPT_INTERFACE`): an interface
    /// name (`eth0`), an address (`127.0.0.2`), or libcurl's `if!name` / `host!address`
    /// forms. Tests use it so traffic leaves from a specific 127.x address.
    public var interface: String?
    /// Follow 3xx redirects (to http/https only); off by default.
    public var followRedirects: Bool
    /// Verify the server's TLS certificate and host name; on by default.
    public var verifyPeer: Bool
    /// A PEM file of CA certificates to verify against instead of the system's.
    public var caCertificatePath: String?
    /// The largest response body accepted; a larger one fails with `.bodyTooLarge`.
    public var maximumBodySize: Int

    /// Creates a request; only `url` is required.
    public init(
        method: HTTPMethod = .get, url: String, headers: HTTPHeaders = [:], body: Data? = nil,
        timeout: Duration = .seconds(30), connectTimeout: Duration? = nil, interface: String? = nil,
        followRedirects: Bool = false, verifyPeer: Bool = true, caCertificatePath: String? = nil,
        maximumBodySize: Int = 64 << 20
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.interface = interface
        self.followRedirects = followRedirects
        self.verifyPeer = verifyPeer
        self.caCertificatePath = caCertificatePath
        self.maximumBodySize = maximumBodySize
    }

    /// Creates a request whose body is `text` in UTF-8.
    public init(
        method: HTTPMethod, url: String, headers: HTTPHeaders = [:], text: String, timeout: Duration = .seconds(30)
    ) {
        self.init(method: method, url: url, headers: headers, body: Data(text.utf8), timeout: timeout)
    }
}

/// What came back: the final status, its headers, and the body.
///
/// A 4xx or 5xx status is a response, not an error; only transport failures throw.
public struct HTTPResponse: Sendable {
    /// The status code of the final response, for example 200.
    public var status: Int
    /// The header fields of the final response (after redirects and `100 Continue`).
    public var headers: HTTPHeaders
    /// The body.
    public var body: Data
    /// The URL of the final response (differs from the request's after redirects).
    public var url: String

    /// Creates a response.
    public init(status: Int, headers: HTTPHeaders, body: Data, url: String) {
        self.status = status
        self.headers = headers
        self.body = body
        self.url = url
    }

    /// Whether the status is 2xx.
    public var isSuccess: Bool { (200..<300).contains(status) }

    /// The body decoded as UTF-8, or `nil` if it is not valid UTF-8.
    public var text: String? { String(validating: body, as: UTF8.self) }
}

/// A transfer that failed: libcurl's code and message, the URL, and what to do about it.
///
/// These are *operating errors* (a peer is unreachable, a timeout): callers usually
/// turn them into values or retries. An HTTP error status is not an `HTTPError`.
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, grouped for callers that react differently.
    public enum Kind: String, Sendable, Hashable {
        /// The URL is malformed or uses a scheme other than http/https.
        case invalidURL
        /// The host name did not resolve.
        case unresolvedHost
        /// Nobody accepted the connection.
        case connectionFailed
        /// The transfer did not finish in time.
        case timedOut
        /// The local interface or address to send from does not exist here.
        case interfaceUnavailable
        /// TLS set-up or certificate verification failed.
        case tls
        /// The response body exceeded `maximumBodySize`.
        case bodyTooLarge
        /// A request setting was rejected (a string with a NUL character, for example).
        case invalidRequest
        /// Anything else libcurl reported.
        case transfer
    }

    /// What went wrong.
    public var kind: Kind
    /// libcurl's `CURLcode` (0 when the error comes from the wrapper itself).
    public var curlCode: Int
    /// libcurl's message (its error buffer, or `curl_easy_strerror`).
    public var message: String
    /// The method and URL of the request.
    public var request: String
    /// How to fix it.
    public var hint: String

    /// Creates an error.
    public init(kind: Kind, curlCode: Int, message: String, request: String, hint: String) {
        self.kind = kind
        self.curlCode = curlCode
        self.message = message
        self.request = request
        self.hint = hint
    }

    /// `request failed: message (curl code N); hint: ...`.
    public var description: String {
        "\(request) failed: \(message) (curl code \(curlCode)); hint: \(hint)"
    }
}
