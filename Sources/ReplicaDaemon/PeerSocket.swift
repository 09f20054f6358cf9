#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif
import ReplicaWire
import Synchronization

/// A numeric IPv4 or IPv6 socket address (replica links name addresses, never host names).
struct PeerAddress: Sendable, CustomStringConvertible {
    var host: String
    var port: UInt16

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Calls `body` with the sockaddr, or returns nil for an address that is not numeric.
    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t, Int32) -> R) -> R? {
        var v4 = sockaddr_in()
        if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = port.bigEndian
            return withUnsafePointer(to: &v4) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_in>.size), AF_INET)
                }
            }
        }
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = port.bigEndian
            return withUnsafePointer(to: &v6) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_in6>.size), AF_INET6)
                }
            }
        }
        return nil
    }
}

/// An operating error on a peer link: it ends the connection, never the daemon.
struct LinkError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
    static func errno(_ what: String) -> LinkError {
        LinkError("\(what): \(String(cString: strerror(Glibc.errno)))")
    }
}

/// A connected, blocking TCP socket with exact reads and gathered writes. Reads happen on one
/// thread (the link's receiver); writes from many threads are serialized by `sendLock`.
final class PeerSocket: @unchecked Sendable {
    let fd: Int32
    let remote: String
    private let sendLock = PosixLock()
    private var closed = false
    private let closeLock = PosixLock()
    /// Bytes that crossed the link, headers included (for status and the benchmark).
    let sentBytes = Atomic<UInt64>(0)
    let receivedBytes = Atomic<UInt64>(0)

    init(fd: Int32, remote: String) {
        self.fd = fd
        self.remote = remote
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var size: Int32 = 4 << 20
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { Glibc.close(fd) }

    /// Listens on `address` (SO_REUSEADDR, so a restarted daemon rebinds at once).
    static func listen(on address: PeerAddress) throws(LinkError) -> Int32 {
        let result: Result<Int32, LinkError>? = address.withSockaddr { sa, len, family in
            let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { return .failure(.errno("socket")) }
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            guard bind(fd, sa, len) == 0 else {
                let e = LinkError.errno("cannot bind \(address)")
                Glibc.close(fd)
                return .failure(e)
            }
            guard Glibc.listen(fd, 8) == 0 else {
                let e = LinkError.errno("listen on \(address)")
                Glibc.close(fd)
                return .failure(e)
            }
            return .success(fd)
        }
        guard let result else { throw LinkError("\(address.host) is not a numeric IPv4 or IPv6 address") }
        return try result.get()
    }

    /// Connects with a timeout; the socket is blocking afterwards.
    static func connect(to address: PeerAddress, timeout: Duration) throws(LinkError) -> PeerSocket {
        let result: Result<PeerSocket, LinkError>? = address.withSockaddr { sa, len, family in
            let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { return .failure(.errno("socket")) }
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            if Glibc.connect(fd, sa, len) != 0 {
                guard Glibc.errno == EINPROGRESS else {
                    let e = LinkError.errno("connect to \(address)")
                    Glibc.close(fd)
                    return .failure(e)
                }
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                let ms = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
                let ready = poll(&pfd, 1, ms)
                var soError: Int32 = 0
                var soLen = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &soLen)
                guard ready == 1, soError == 0 else {
                    let reason = ready == 0 ? "timed out" : String(cString: strerror(soError))
                    Glibc.close(fd)
                    return .failure(LinkError("connect to \(address): \(reason)"))
                }
            }
            _ = fcntl(fd, F_SETFL, flags)
            return .success(PeerSocket(fd: fd, remote: address.description))
        }
        guard let result else { throw LinkError("\(address.host) is not a numeric IPv4 or IPv6 address") }
        return try result.get()
    }

    /// Sets a receive timeout (0 = none): a silent peer then fails `readExactly`.
    func setReceiveTimeout(_ timeout: Duration?) {
        var tv = timeval()
        if let timeout {
            tv.tv_sec = Int(timeout.components.seconds)
            tv.tv_usec = Int(timeout.components.attoseconds / 1_000_000_000_000)
        }
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Reads exactly `buffer.count` bytes.
    func readExactly(_ buffer: UnsafeMutableRawBufferPointer) throws(LinkError) {
        var done = 0
        while done < buffer.count {
            let n = recv(fd, buffer.baseAddress! + done, buffer.count - done, 0)
            if n > 0 {
                done += n
                receivedBytes.add(UInt64(n), ordering: .relaxed)
            } else if n == 0 {
                throw LinkError("\(remote) closed the connection")
            } else if Glibc.errno == EINTR {
                continue
            } else if Glibc.errno == EAGAIN || Glibc.errno == EWOULDBLOCK {
                throw LinkError("\(remote) sent nothing within the timeout")
            } else {
                throw .errno("receive from \(remote)")
            }
        }
    }

    func readBytes(_ count: Int) throws(LinkError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var failure: LinkError?
        bytes.withUnsafeMutableBytes { raw in
            do throws(LinkError) { try readExactly(raw) } catch { failure = error }
        }
        if let failure { throw failure }
        return bytes
    }

    /// Reads and decodes one header.
    func readHeader() throws(LinkError) -> ReplicaHeader {
        var raw = (UInt64(0), UInt64(0), UInt64(0))
        return try withUnsafeMutableBytes(of: &raw) { buffer throws(LinkError) -> ReplicaHeader in
            try readExactly(buffer)
            do { return try ReplicaHeader.decode(UnsafeRawBufferPointer(buffer)) } catch {
                throw LinkError("from \(remote): \(error)")
            }
        }
    }

    /// Sends a header and up to two body parts as one gathered write.
    func send(_ header: ReplicaHeader, _ first: UnsafeRawBufferPointer? = nil,
              _ second: UnsafeRawBufferPointer? = nil) throws(LinkError) {
        var raw = (UInt64(0), UInt64(0), UInt64(0))
        try withUnsafeMutableBytes(of: &raw) { headerBytes throws(LinkError) in
            header.encode(into: headerBytes)
            var parts = [iovec(iov_base: headerBytes.baseAddress, iov_len: ReplicaWire.headerSize)]
            if let first, first.count > 0 { parts.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: first.baseAddress), iov_len: first.count)) }
            if let second, second.count > 0 { parts.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: second.baseAddress), iov_len: second.count)) }
            sendLock.lock()
            defer { sendLock.unlock() }
            try writeAll(&parts)
        }
    }

    /// Sends a header and a byte array body.
    func send(_ header: ReplicaHeader, body: [UInt8]) throws(LinkError) {
        var header = header
        header.bodyLength = UInt32(body.count)
        let h = header
        var failure: LinkError?
        body.withUnsafeBytes { raw in
            do throws(LinkError) { try send(h, raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    private func writeAll(_ parts: inout [iovec]) throws(LinkError) {
        var index = 0
        while index < parts.count {
            let n = parts.withUnsafeMutableBufferPointer { v in
                // sendmsg with MSG_NOSIGNAL: a vanished peer is an error value, never SIGPIPE.
                var message = msghdr()
                message.msg_iov = v.baseAddress! + index
                message.msg_iovlen = v.count - index
                return sendmsg(fd, &message, Int32(MSG_NOSIGNAL))
            }
            if n < 0 {
                if Glibc.errno == EINTR { continue }
                throw .errno("send to \(remote)")
            }
            sentBytes.add(UInt64(n), ordering: .relaxed)
            var left = n
            while index < parts.count, left >= parts[index].iov_len {
                left -= parts[index].iov_len
                index += 1
            }
            if index < parts.count, left > 0 {
                parts[index].iov_base = parts[index].iov_base! + left
                parts[index].iov_len -= left
            }
        }
    }

    /// Ends the connection: both directions shut down so the receiver thread wakes up.
    func shutdownBoth() {
        closeLock.lock()
        defer { closeLock.unlock() }
        guard !closed else { return }
        closed = true
        Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }
}

/// A pthread mutex: the data path's locks are held for microseconds and must not allocate.
final class PosixLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }
    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }
    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
    @inline(__always) func withLock<R>(_ body: () throws -> R) rethrows -> R {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// A condition variable paired with a ``PosixLock``-like lock of its own.
final class Condition: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>
    init() {
        mutex = .allocate(capacity: 1)
        cond = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
    }
    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }
    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
    func broadcast() { pthread_cond_broadcast(cond) }
    /// Waits up to `timeout`; returns false on timeout.
    func wait(timeout: Duration) -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let ns = Int(timeout.components.seconds) * 1_000_000_000 + Int(timeout.components.attoseconds / 1_000_000_000)
        var deadline = timespec(tv_sec: now.tv_sec + (now.tv_nsec + ns) / 1_000_000_000,
                                tv_nsec: (now.tv_nsec + ns) % 1_000_000_000)
        return pthread_cond_timedwait(cond, mutex, &deadline) == 0
    }
    func wait() { pthread_cond_wait(cond, mutex) }
}

/// Starts a detached thread running `body` (the daemon's I/O threads are long-lived and few).
func startThread(name: String, _ body: @escaping @Sendable () -> Void) {
    final class Box: @unchecked Sendable {
        let body: @Sendable () -> Void
        let name: String
        init(_ body: @escaping @Sendable () -> Void, name: String) {
            self.body = body
            self.name = name
        }
    }
    let box = Unmanaged.passRetained(Box(body, name: name)).toOpaque()
    var thread = pthread_t()
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    let rc = pthread_create(&thread, &attributes, { raw in
        let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
        box.body()
        return nil
    }, box)
    pthread_attr_destroy(&attributes)
    precondition(rc == 0, "pthread_create failed for \(name): \(rc)")
}
