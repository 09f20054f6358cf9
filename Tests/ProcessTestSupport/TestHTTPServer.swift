import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A request as the test server received it.
public struct ReceivedRequest: Sendable {
    public var method: String
    public var target: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    public var peerAddress: String

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    public func hasHeader(_ name: String) -> Bool { header(name) != nil }
}

/// What the test server answers.
public struct CannedResponse: Sendable {
    public var status: Int = 200
    public var reason: String = "OK"
    public var headers: [(String, String)] = []
    public var body: [UInt8] = []
    /// Wait this long before answering (to provoke client timeouts).
    public var delay: Duration = .zero

    public init(status: Int = 200, reason: String = "OK", headers: [(String, String)] = [], body: [UInt8] = [],
                delay: Duration = .zero)
    {
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.delay = delay
    }
}

/// A tiny HTTP/1.1 server for tests (MeridianHTTPTests, the dns-failover agent's HTTP mode) on 127.0.0.1 with a random port, written with plain POSIX
/// sockets and run on its own thread. It records every request and answers each
/// with the response the handler returns, then closes the connection.
public final class TestHTTPServer: Sendable {
    public let port: UInt16
    private let listener: Int32
    private let received = Mutex<[ReceivedRequest]>([])
    private let handler: @Sendable (ReceivedRequest) -> CannedResponse
    private let stopped = Mutex(false)

    public init(handler: @escaping @Sendable (ReceivedRequest) -> CannedResponse) throws {
        self.handler = handler
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketFD >= 0 else { throw TestServerError("socket: \(String(cString: strerror(errno)))") }
        var reuse: Int32 = 1
        setsockopt(socketFD, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(socketFD, 64) == 0 else {
            close(socketFD)
            throw TestServerError("bind/listen on 127.0.0.1: \(String(cString: strerror(errno)))")
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socketFD, $0, &length) }
        }
        listener = socketFD
        port = UInt16(bigEndian: actual.sin_port)
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "test-http-server"
        thread.start()
    }

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    public var requests: [ReceivedRequest] { received.withLock { $0 } }

    public func stop() {
        stopped.withLock { $0 = true }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while !stopped.withLock({ $0 }) {
            var peer = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let connection = withUnsafeMutablePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listener, $0, &length) }
            }
            if connection < 0 {
                if errno == EINTR { continue }
                return
            }
            let peerAddress = String(cString: inet_ntoa(peer.sin_addr))
            let thread = Thread { [self] in serve(connection, peerAddress: peerAddress) }
            thread.start()
        }
    }

    private func serve(_ connection: Int32, peerAddress: String) {
        defer { close(connection) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        var headEnd: Int?
        while headEnd == nil {
            let count = recv(connection, &chunk, chunk.count, 0)
            if count <= 0 { return }
            buffer.append(contentsOf: chunk[0..<count])
            if buffer.count >= 4 {
                for index in 0...(buffer.count - 4) where Array(buffer[index..<index + 4]) == separator {
                    headEnd = index
                    break
                }
            }
        }
        let head = String(decoding: buffer[0..<headEnd!], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count >= 2 else { return }
        let headers: [(name: String, value: String)] = lines.compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (
                String(line[..<colon]),
                String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            )
        }
        let contentLength =
            headers.first { $0.name.lowercased() == "content-length" }.flatMap { Int($0.value) } ?? 0
        var body = Array(buffer[(headEnd! + 4)...])
        while body.count < contentLength {
            let count = recv(connection, &chunk, chunk.count, 0)
            if count <= 0 { return }
            body.append(contentsOf: chunk[0..<count])
        }
        let request = ReceivedRequest(
            method: String(requestLine[0]), target: String(requestLine[1]), headers: headers, body: body,
            peerAddress: peerAddress)
        received.withLock { $0.append(request) }
        let response = handler(request)
        if response.delay > .zero {
            Thread.sleep(
                forTimeInterval: Double(response.delay.components.seconds)
                    + Double(response.delay.components.attoseconds) / 1e18)
        }
        var text = "HTTP/1.1 \(response.status) \(response.reason)\r\n"
        for (name, value) in response.headers { text += "\(name): \(value)\r\n" }
        // A HEAD response announces the length of the body it leaves out.
        text += "Content-Length: \(response.body.count)\r\n"
        text += "Connection: close\r\n\r\n"
        var bytes = Array(text.utf8)
        if request.method != "HEAD" { bytes += response.body }
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if sent <= 0 { return }
            offset += sent
        }
    }
}

public struct TestServerError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A port on 127.0.0.1 where nothing listens (bound, then closed).
public func unusedLocalPort() throws -> UInt16 {
    let server = try TestHTTPServer { _ in CannedResponse() }
    server.stop()
    return server.port
}
