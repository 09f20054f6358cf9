import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The daemon's control socket: a thread per client, one request and one response per line.
public final class ControlServer: @unchecked Sendable {
    public let socketPath: String
    let handler: any ControlHandler
    private let lock = NSLock()
    private var listener: Int32 = -1

    public init(socketPath: String, handler: any ControlHandler) {
        self.socketPath = socketPath
        self.handler = handler
    }

    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    public func start() throws {
        unlink(socketPath)
        let (fd, error) = unixSocket(path: socketPath, bindInstead: true)
        guard fd >= 0 else {
            throw StartError(description: "cannot bind the control socket \(socketPath): \(String(cString: strerror(error)))")
        }
        chmod(socketPath, 0o600)
        guard listen(fd, 16) == 0 else {
            close(fd)
            throw StartError(description: "cannot listen on \(socketPath): \(String(cString: strerror(errno)))")
        }
        lock.withLock { listener = fd }
        let thread = Thread { [self] in acceptLoop(fd) }
        thread.name = "control"
        thread.start()
    }

    public func stop() {
        let fd = lock.withLock { () -> Int32 in
            let fd = listener
            listener = -1
            return fd
        }
        if fd >= 0 {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
        }
        unlink(socketPath)
    }

    private func acceptLoop(_ fd: Int32) {
        while true {
            let client = accept(fd, nil, nil)
            if client < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            let thread = Thread { [self] in
                serve(client)
                close(client)
            }
            thread.name = "control-client"
            thread.start()
        }
    }

    private func serve(_ fd: Int32) {
        guard let line = readLine(fd, limit: maxControlLine) else {
            let response = ControlResponse(
                ok: false, message: nil,
                error: ControlError(code: "invalid", message: "request missing, too long (over \(maxControlLine) bytes) or not terminated by a newline", fix: nil),
                status: nil)
            if let data = try? JSONEncoder().encode(response) { _ = writeLine(fd, Array(data)) }
            return
        }
        let response: ControlResponse
        do {
            let request = try JSONDecoder().decode(ControlRequest.self, from: Data(line))
            response = handler.handle(request)
        } catch {
            response = ControlResponse(
                ok: false, message: nil,
                error: ControlError(code: "invalid", message: "malformed request: \(error)",
                                    fix: "send one JSON object per line: {\"command\":\"status\",\"force\":false,\"wait\":false}"),
                status: nil)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        if let data = try? encoder.encode(response) { _ = writeLine(fd, Array(data)) }
    }
}

/// Why the CLI could not get an answer.
public struct ControlClientError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public var fix: String
}

/// The CLI side.
public struct ControlClient: Sendable {
    public let socketPath: String
    public init(socketPath: String) { self.socketPath = socketPath }

    public func send(_ request: ControlRequest, timeout: Duration) throws(ControlClientError) -> ControlResponse {
        let (fd, error) = unixSocket(path: socketPath, bindInstead: false)
        guard fd >= 0 else {
            throw ControlClientError(
                description: "cannot reach meridian-replicad at \(socketPath): \(String(cString: strerror(error)))",
                fix: "is meridian-replicad running for this node? start it: meridian-replicad --config F --node N "
                    + "(and use the same --run-dir)")
        }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard let body = try? JSONEncoder().encode(request), writeLine(fd, Array(body)) else {
            throw ControlClientError(description: "cannot send the request to \(socketPath)", fix: "check the daemon's log")
        }
        guard let line = readLine(fd, limit: 16 << 20) else {
            throw ControlClientError(description: "no answer from meridian-replicad at \(socketPath) within \(timeout)",
                                     fix: "check the daemon's log; raise --timeout for long operations")
        }
        do { return try JSONDecoder().decode(ControlResponse.self, from: Data(line)) } catch {
            throw ControlClientError(description: "malformed answer from \(socketPath): \(error)",
                                     fix: "the daemon and the CLI must be the same version")
        }
    }
}
