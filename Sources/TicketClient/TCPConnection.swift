#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a TCP exchange with a daemon failed. Operating errors: values the CLI maps to its
/// exit codes, never crashes.
public enum ConnectionFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The address is not an IPv4 or IPv6 literal.
    case badAddress(String)
    /// The local end could not be bound to the source address.
    case cannotBindSource(source: String, reason: String)
    /// `connect` failed (refused, unreachable, ...).
    case connectFailed(reason: String)
    /// No connection within the connect timeout.
    case connectTimedOut(Duration)
    /// No complete reply within the reply timeout.
    case replyTimedOut(Duration)
    /// The daemon closed the connection before a complete reply.
    case closedByPeer
    /// Reading or writing failed.
    case ioFailed(reason: String)

    public var description: String {
        switch self {
        case let .badAddress(a): "'\(a)' is not an IP address"
        case let .cannotBindSource(s, r): "cannot bind the local end to \(s): \(r)"
        case let .connectFailed(r): r
        case let .connectTimedOut(d): "no connection within \(d.shortText)"
        case let .replyTimedOut(d): "no reply within \(d.shortText)"
        case .closedByPeer: "the daemon closed the connection without a (complete) reply"
        case let .ioFailed(r): r
        }
    }
}

extension Duration {
    /// `10 s`, `1.5 s`, `250 ms`.
    var shortText: String {
        let ms = wholeMillis
        if ms % 1000 == 0 { return "\(ms / 1000) s" }
        if ms < 1000 { return "\(ms) ms" }
        return "\(Double(ms) / 1000) s"
    }

    var wholeMillis: Int64 {
        let (s, atto) = components
        return s * 1000 + atto / 1_000_000_000_000_000
    }
}

/// A blocking TCP connection with timeouts on connect and on every read. Owns its socket.
struct TCPConnection: ~Copyable {
    private let fd: Int32

    /// Connects to `address`:`port`, first binding the local end to `source` when given.
    init(address: String, port: UInt16, source: String?, timeout: Duration) throws(ConnectionFailure) {
        guard var remote = SocketAddress(address, port: port) else { throw .badAddress(address) }
        var local: SocketAddress?
        if let source {
            guard let s = SocketAddress(source, port: 0) else { throw .badAddress(source) }
            guard s.family == remote.family else {
                throw .cannotBindSource(source: source, reason: "it is not of the same address family as \(address)")
            }
            local = s
        }
        #if canImport(Darwin)
            let s = socket(remote.family, SOCK_STREAM, 0)
        #else
            let s = socket(remote.family, Int32(SOCK_STREAM.rawValue), 0)
        #endif
        guard s >= 0 else { throw .ioFailed(reason: "socket: \(Self.errnoText())") }
        do throws(ConnectionFailure) {
            if var local {
                var one: Int32 = 1
                _ = setsockopt(s, Int32(IPPROTO_IP), IP_BIND_ADDRESS_NO_PORT_OR_ZERO, &one, socklen_t(MemoryLayout<Int32>.size))
                let rc = local.withSockaddr { bind(s, $0, $1) }
                guard rc == 0 else { throw .cannotBindSource(source: source ?? "", reason: Self.errnoText()) }
            }
            let flags = fcntl(s, F_GETFL, 0)
            _ = fcntl(s, F_SETFL, flags | O_NONBLOCK)
            let rc = remote.withSockaddr { connect(s, $0, $1) }
            if rc != 0 {
                guard errno == EINPROGRESS else { throw .connectFailed(reason: Self.errnoText()) }
                var pfd = pollfd(fd: s, events: Int16(POLLOUT), revents: 0)
                let ready = Self.pollRetrying(&pfd, timeout: timeout)
                guard ready > 0 else {
                    if ready == 0 { throw .connectTimedOut(timeout) }
                    throw .ioFailed(reason: "poll: \(Self.errnoText())")
                }
                var soError: Int32 = 0
                var len = socklen_t(MemoryLayout<Int32>.size)
                _ = getsockopt(s, SOL_SOCKET, SO_ERROR, &soError, &len)
                guard soError == 0 else { throw .connectFailed(reason: String(cString: strerror(soError))) }
            }
            _ = fcntl(s, F_SETFL, flags)
        } catch {
            close(s)
            throw error
        }
        fd = s
    }

    deinit { close(fd) }

    /// Sends all of `bytes`.
    func send(_ bytes: [UInt8]) throws(ConnectionFailure) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { buf in
                #if canImport(Darwin)
                    Darwin.send(fd, buf.baseAddress! + offset, buf.count - offset, 0)
                #else
                    Glibc.send(fd, buf.baseAddress! + offset, buf.count - offset, Int32(MSG_NOSIGNAL))
                #endif
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw .ioFailed(reason: "send: \(Self.errnoText())")
            }
            offset += n
        }
    }

    /// Reads exactly `count` bytes, waiting at most `timeout` in all.
    func read(exactly count: Int, timeout: Duration) throws(ConnectionFailure) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var offset = 0
        let deadline = Monotonic.now() + timeout
        while offset < count {
            let left = deadline - Monotonic.now()
            guard left > .zero else { throw .replyTimedOut(timeout) }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = Self.pollRetrying(&pfd, timeout: left)
            if ready == 0 { throw .replyTimedOut(timeout) }
            if ready < 0 { throw .ioFailed(reason: "poll: \(Self.errnoText())") }
            let n = out.withUnsafeMutableBytes { buf in
                recv(fd, buf.baseAddress! + offset, count - offset, 0)
            }
            if n == 0 { throw .closedByPeer }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                if errno == ECONNRESET { throw .closedByPeer }
                throw .ioFailed(reason: "recv: \(Self.errnoText())")
            }
            offset += n
        }
        return out
    }

    private static func pollRetrying(_ pfd: inout pollfd, timeout: Duration) -> Int32 {
        let deadline = Monotonic.now() + timeout
        while true {
            let left = deadline - Monotonic.now()
            let ms = max(0, min(Int64(Int32.max), (left.wholeMillis) + 1))
            let rc = poll(&pfd, 1, Int32(ms))
            if rc < 0 && errno == EINTR { continue }
            return rc
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}

/// Linux's IP_BIND_ADDRESS_NO_PORT: let `connect` choose the port after an explicit `bind`.
private let IP_BIND_ADDRESS_NO_PORT_OR_ZERO: Int32 = {
    #if os(Linux)
        return 24
    #else
        return 0
    #endif
}()

/// A monotonic clock reading, for timeouts.
enum Monotonic {
    static func now() -> Duration {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return .seconds(Int64(ts.tv_sec)) + .nanoseconds(Int64(ts.tv_nsec))
    }
}

/// An IPv4 or IPv6 socket address built from a literal (no name look-up).
struct SocketAddress {
    private var storage = sockaddr_storage()
    private(set) var length: socklen_t
    let family: Int32

    init?(_ text: String, port: UInt16) {
        var v4 = sockaddr_in()
        if inet_pton(AF_INET, text, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = port.bigEndian
            family = AF_INET
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
            withUnsafeMutableBytes(of: &storage) { dst in
                withUnsafeBytes(of: &v4) { dst.copyMemory(from: $0) }
            }
            return
        }
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET6, text, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = port.bigEndian
            family = AF_INET6
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            withUnsafeMutableBytes(of: &storage) { dst in
                withUnsafeBytes(of: &v6) { dst.copyMemory(from: $0) }
            }
            return
        }
        return nil
    }

    mutating func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        let len = length
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, len) }
        }
    }
}

/// The IP addresses configured on this host's interfaces (network-order bytes).
public enum LocalAddresses {
    public static func current() -> [[UInt8]] {
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0 else { return [] }
        defer { freeifaddrs(head) }
        var out: [[UInt8]] = []
        var cursor = head
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let sa = entry.pointee.ifa_addr else { continue }
            switch Int32(sa.pointee.sa_family) {
            case AF_INET:
                sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in
                    var a = p.pointee.sin_addr
                    out.append(withUnsafeBytes(of: &a) { Array($0) })
                }
            case AF_INET6:
                sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                    var a = p.pointee.sin6_addr
                    out.append(withUnsafeBytes(of: &a) { Array($0) })
                }
            default:
                break
            }
        }
        return out
    }
}
