#if canImport(Glibc)
    import Glibc
#endif
import Foundation

/// Why the server could not start.
public struct NBDServerError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// An NBD server on a Unix socket for one export: fixed newstyle handshake (OPT_GO, OPT_INFO,
/// OPT_LIST, OPT_ABORT, OPT_EXPORT_NAME), simple replies, one thread per client connection
/// reading requests with blocking I/O; replies are written with `writev` under a per-connection
/// lock by whichever thread completes the request.
public final class NBDServer: @unchecked Sendable {
    public let socketPath: String
    let export: any NBDExport
    let log: @Sendable (String) -> Void
    private let lock = NSCondition()
    private var listener: Int32 = -1
    private var connections: [ObjectIdentifier: NBDConnection] = [:]
    private var stopping = false

    public init(socketPath: String, export: any NBDExport, log: @escaping @Sendable (String) -> Void) {
        self.socketPath = socketPath
        self.export = export
        self.log = log
    }

    public var clientCount: Int { lock.withLock { connections.count } }

    public func start() throws(NBDServerError) {
        unlink(socketPath)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw NBDServerError(description: "socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(socketPath.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw NBDServerError(description: "socket path \(socketPath) is longer than \(MemoryLayout.size(ofValue: address.sun_path) - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in pathBytes.enumerated() { raw[i] = b }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, chmod(socketPath, 0o600) == 0, listen(fd, 16) == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw NBDServerError(description: "cannot listen on \(socketPath): \(message)")
        }
        lock.withLock { listener = fd }
        let thread = Thread { [self] in acceptLoop(fd) }
        thread.name = "nbd-accept"
        thread.start()
    }

    /// Stops accepting, shuts every client down and waits until each finished its requests.
    public func stop() {
        lock.lock()
        stopping = true
        let fd = listener
        listener = -1
        let open = Array(connections.values)
        lock.unlock()
        if fd >= 0 {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
        }
        unlink(socketPath)
        for connection in open { connection.shutdownSocket() }
        lock.lock()
        while !connections.isEmpty { lock.wait() }
        lock.unlock()
    }

    private func acceptLoop(_ fd: Int32) {
        while true {
            let client = accept(fd, nil, nil)
            if client < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            let connection = NBDConnection(fd: client, server: self)
            lock.lock()
            if stopping {
                lock.unlock()
                close(client)
                return
            }
            connections[ObjectIdentifier(connection)] = connection
            lock.unlock()
            let thread = Thread { [self] in
                connection.serve()
                lock.lock()
                connections[ObjectIdentifier(connection)] = nil
                lock.broadcast()
                lock.unlock()
            }
            thread.name = "nbd-client"
            thread.start()
        }
    }
}

/// A request being answered. Complete it exactly once, from any thread.
public final class NBDReply: @unchecked Sendable {
    let connection: NBDConnection
    let cookie: UInt64
    let length: UInt32
    /// A WRITE's payload goes back to the connection's pool once answered.
    let payload: NBDBuffer?
    private var done = false

    init(connection: NBDConnection, cookie: UInt64, length: UInt32, payload: NBDBuffer?) {
        self.connection = connection
        self.cookie = cookie
        self.length = length
        self.payload = payload
    }

    /// An aligned buffer of the request's length for READ data.
    public func allocateReadBuffer() -> NBDBuffer { connection.takeBuffer(Int(length)) }

    public func succeed(data: NBDBuffer? = nil) { finish(error: 0, data: data) }
    public func fail(_ error: NBDError) { finish(error: error.errno, data: nil) }

    private func finish(error: UInt32, data: NBDBuffer?) {
        precondition(!done, "Internal inconsistency: NBD request \(cookie) answered twice")
        done = true
        connection.sendReply(cookie: cookie, error: error, data: error == 0 ? data : nil)
        if let data { connection.returnBuffer(data) }
        if let payload { connection.returnBuffer(payload) }
    }
}

/// One client: handshake, then requests until DISC or EOF.
final class NBDConnection: @unchecked Sendable {
    let fd: Int32
    unowned let server: NBDServer
    private let sendLock = NSLock()
    private let state = NSCondition()
    private var inFlight = 0
    private var pool: [NBDBuffer] = []
    private var opened = false
    private var noZeroes = false

    init(fd: Int32, server: NBDServer) {
        self.fd = fd
        self.server = server
    }

    deinit { close(fd) }

    func shutdownSocket() { shutdown(fd, Int32(SHUT_RDWR)) }

    func serve() {
        defer {
            state.lock()
            while inFlight > 0 { state.wait() }
            state.unlock()
            if opened { server.export.clientClosed() }
        }
        do {
            guard try handshake() else { return }
            try transmission()
        } catch {
            // The client went away or broke the protocol: the connection ends.
        }
    }

    // MARK: - I/O helpers

    struct Closed: Error {}

    private func readExactly(_ buffer: UnsafeMutableRawBufferPointer) throws {
        var done = 0
        while done < buffer.count {
            let n = recv(fd, buffer.baseAddress! + done, buffer.count - done, 0)
            if n > 0 {
                done += n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                throw Closed()
            }
        }
    }

    private func readBytes(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBytes { try readExactly($0) }
        return bytes
    }

    private func discard(_ count: Int) throws {
        var left = count
        var scratch = [UInt8](repeating: 0, count: min(count, 65536))
        while left > 0 {
            let n = min(left, scratch.count)
            try scratch.withUnsafeMutableBytes { try readExactly(UnsafeMutableRawBufferPointer(rebasing: $0[0..<n])) }
            left -= n
        }
    }

    private func writeAll(_ parts: [UnsafeRawBufferPointer]) -> Bool {
        var vectors = parts.filter { $0.count > 0 }.map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count) }
        var index = 0
        while index < vectors.count {
            let n = vectors.withUnsafeMutableBufferPointer { v in
                // sendmsg with MSG_NOSIGNAL: a vanished peer is an error value, never SIGPIPE.
                var message = msghdr()
                message.msg_iov = v.baseAddress! + index
                message.msg_iovlen = v.count - index
                return sendmsg(fd, &message, Int32(MSG_NOSIGNAL))
            }
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            var left = n
            while index < vectors.count, left >= vectors[index].iov_len {
                left -= vectors[index].iov_len
                index += 1
            }
            if index < vectors.count, left > 0 {
                vectors[index].iov_base += left
                vectors[index].iov_len -= left
            }
        }
        return true
    }

    private func send(_ bytes: [UInt8]) throws {
        let ok = bytes.withUnsafeBytes { writeAll([$0]) }
        if !ok { throw Closed() }
    }

    // MARK: - Handshake

    private func optionReply(_ option: UInt32, _ type: UInt32, _ data: [UInt8] = []) throws {
        var bytes = be(NBDWire.replyMagic) + be(option) + be(type) + be(UInt32(data.count))
        bytes += data
        try send(bytes)
    }

    private func exportInfo() -> (size: UInt64, flags: UInt16) {
        let export = server.export
        var flags = NBDWire.hasFlags | NBDWire.sendFlush | NBDWire.sendFUA | NBDWire.sendTrim | NBDWire.sendWriteZeroes
            | NBDWire.sendCache
        if export.isReadOnly { flags |= NBDWire.readOnly }
        if export.allowsMultipleConnections { flags |= NBDWire.canMultiConn }
        return (export.size, flags)
    }

    /// Returns true when the transmission phase starts.
    private func handshake() throws -> Bool {
        try send(be(NBDWire.passwordMagic) + be(NBDWire.optionMagic) + be(NBDWire.flagFixedNewstyle | NBDWire.flagNoZeroes))
        let clientFlags = try readBytes(4)
        noZeroes = clientFlags[3] & 2 != 0
        while true {
            let header = try readBytes(16)
            guard readBE(header, 0, as: UInt64.self) == NBDWire.optionMagic else {
                server.log("NBD client on \(server.socketPath): bad option magic; closing")
                return false
            }
            let option = readBE(header, 8, as: UInt32.self)
            let length = readBE(header, 12, as: UInt32.self)
            guard length <= NBDWire.maxOptionLength else {
                try discardOrClose(length)
                try optionReply(option, NBDWire.repErrInvalid, Array("option too long".utf8))
                continue
            }
            let data = try readBytes(Int(length))
            switch NBDWire.Option(rawValue: option) {
            case .abort:
                try? optionReply(option, NBDWire.repAck)
                return false
            case .list:
                guard data.isEmpty else {
                    try optionReply(option, NBDWire.repErrInvalid, Array("OPT_LIST takes no data".utf8))
                    continue
                }
                let name = Array(server.export.name.utf8)
                try optionReply(option, NBDWire.repServer, be(UInt32(name.count)) + name)
                try optionReply(option, NBDWire.repAck)
            case .exportName:
                guard matches(data) else { return false }
                if let refusal = server.export.clientOpened() {
                    server.log("NBD client refused on \(server.socketPath): \(refusal)")
                    return false
                }
                opened = true
                let info = exportInfo()
                try send(be(info.size) + be(info.flags) + (noZeroes ? [] : [UInt8](repeating: 0, count: 124)))
                return true
            case .info, .go:
                guard data.count >= 6 else {
                    try optionReply(option, NBDWire.repErrInvalid, Array("malformed request".utf8))
                    continue
                }
                let nameLength = Int(readBE(data, 0, as: UInt32.self))
                guard data.count >= 4 + nameLength + 2 else {
                    try optionReply(option, NBDWire.repErrInvalid, Array("malformed request".utf8))
                    continue
                }
                let name = Array(data[4..<(4 + nameLength)])
                let requests = Int(readBE(data, 4 + nameLength, as: UInt16.self))
                guard data.count == 4 + nameLength + 2 + requests * 2 else {
                    try optionReply(option, NBDWire.repErrInvalid, Array("malformed information requests".utf8))
                    continue
                }
                guard matches(name) else {
                    try optionReply(option, NBDWire.repErrUnknown,
                                    Array("no export named '\(String(decoding: name, as: UTF8.self))'; this socket serves '\(server.export.name)'".utf8))
                    continue
                }
                if option == NBDWire.Option.go.rawValue, let refusal = server.export.clientOpened() {
                    try optionReply(option, NBDWire.repErrPolicy, Array(refusal.description.utf8))
                    continue
                }
                let info = exportInfo()
                try optionReply(option, NBDWire.repInfo, be(NBDWire.infoExport) + be(info.size) + be(info.flags))
                let asked = (0..<requests).map { readBE(data, 4 + nameLength + 2 + $0 * 2, as: UInt16.self) }
                if asked.contains(NBDWire.infoName) {
                    try optionReply(option, NBDWire.repInfo, be(NBDWire.infoName) + Array(server.export.name.utf8))
                }
                if asked.contains(NBDWire.infoDescription) {
                    try optionReply(option, NBDWire.repInfo, be(NBDWire.infoDescription) + Array(server.export.exportDescription.utf8))
                }
                try optionReply(option, NBDWire.repInfo,
                                be(NBDWire.infoBlockSize) + be(UInt32(512)) + be(UInt32(4096)) + be(NBDWire.maxPayload))
                try optionReply(option, NBDWire.repAck)
                if option == NBDWire.Option.go.rawValue {
                    opened = true
                    return true
                }
            default:
                try optionReply(option, NBDWire.repErrUnsup, Array("option \(option) is not supported".utf8))
            }
        }
    }

    private func discardOrClose(_ length: UInt32) throws {
        guard length <= 16 << 20 else { throw Closed() }
        try discard(Int(length))
    }

    /// Empty name means the default export.
    private func matches(_ name: [UInt8]) -> Bool { name.isEmpty || name == Array(server.export.name.utf8) }

    // MARK: - Transmission

    private func transmission() throws {
        var header = [UInt8](repeating: 0, count: 28)
        let size = server.export.size
        while true {
            try header.withUnsafeMutableBytes { try readExactly($0) }
            guard readBE(header, 0, as: UInt32.self) == NBDWire.requestMagic else {
                server.log("NBD client on \(server.socketPath): bad request magic; closing")
                return
            }
            let flags = readBE(header, 4, as: UInt16.self)
            let type = readBE(header, 6, as: UInt16.self)
            let cookie = readBE(header, 8, as: UInt64.self)
            let offset = readBE(header, 16, as: UInt64.self)
            let length = readBE(header, 24, as: UInt32.self)
            guard let kind = NBDCommandKind(rawValue: type) else {
                sendReply(cookie: cookie, error: NBDError.invalid.errno, data: nil)
                continue
            }
            if kind == .disconnect { return }
            if kind == .write {
                guard length <= NBDWire.maxPayload else {
                    // The spec allows closing when a payload is too large to discard sanely.
                    server.log("NBD client on \(server.socketPath): \(length)-byte write exceeds the maximum; closing")
                    return
                }
            }
            var payload: NBDBuffer?
            if kind == .write {
                let buffer = takeBuffer(Int(length))
                try readExactly(buffer.bytes)
                payload = buffer
            }
            let (end, overflow) = offset.addingReportingOverflow(UInt64(length))
            let needsRange = kind != .flush
            // The advertised minimum block size is 512: an unaligned request is refused (the
            // export does O_DIRECT I/O and must never see one).
            if needsRange && kind != .cache && (offset % 512 != 0 || length % 512 != 0) {
                if let payload { returnBuffer(payload) }
                sendReply(cookie: cookie, error: NBDError.invalid.errno, data: nil)
                continue
            }
            if needsRange && (overflow || end > size) || (kind == .read && length > NBDWire.maxPayload) {
                if let payload { returnBuffer(payload) }
                sendReply(cookie: cookie, error: NBDError.invalid.errno, data: nil)
                continue
            }
            if server.export.isReadOnly && (kind == .write || kind == .trim || kind == .writeZeroes) {
                if let payload { returnBuffer(payload) }
                sendReply(cookie: cookie, error: 1, data: nil)
                continue
            }
            state.lock()
            inFlight += 1
            state.unlock()
            let request = NBDRequest(kind: kind, fua: flags & NBDWire.commandFUA != 0,
                                     noHole: flags & NBDWire.commandNoHole != 0, cookie: cookie, offset: offset,
                                     length: length, payload: payload)
            server.export.submit(request, reply: NBDReply(connection: self, cookie: cookie, length: length, payload: payload))
        }
    }

    func sendReply(cookie: UInt64, error: UInt32, data: NBDBuffer?) {
        var header = (UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &header) { raw in
            raw.storeBytes(of: NBDWire.simpleReplyMagic.bigEndian, toByteOffset: 0, as: UInt32.self)
            raw.storeBytes(of: error.bigEndian, toByteOffset: 4, as: UInt32.self)
            raw.storeBytes(of: cookie.bigEndian, toByteOffset: 8, as: UInt64.self)
            sendLock.lock()
            _ = writeAll([UnsafeRawBufferPointer(raw), data.map { UnsafeRawBufferPointer($0.bytes) } ?? UnsafeRawBufferPointer(start: nil, count: 0)])
            sendLock.unlock()
        }
        state.lock()
        if inFlight > 0 { inFlight -= 1 }
        state.broadcast()
        state.unlock()
    }

    // MARK: - Buffers

    func takeBuffer(_ length: Int) -> NBDBuffer {
        state.lock()
        if let index = pool.firstIndex(where: { $0.capacity >= length }) {
            let buffer = pool.remove(at: index)
            state.unlock()
            buffer.count = length
            return buffer
        }
        state.unlock()
        let buffer = NBDBuffer(capacity: max(length, 4096))
        buffer.count = length
        return buffer
    }

    func returnBuffer(_ buffer: NBDBuffer) {
        state.lock()
        if pool.count < 64 { pool.append(buffer) }
        state.unlock()
    }
}

func be<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.bigEndian) { Array($0) }
}

func readBE<T: FixedWidthInteger>(_ bytes: [UInt8], _ offset: Int, as: T.Type) -> T {
    var value: T = 0
    for i in 0..<MemoryLayout<T>.size { value = value << 8 | T(bytes[offset + i]) }
    return value
}
