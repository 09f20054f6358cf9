import Foundation
import TicketWire

#if canImport(Glibc)
    import Glibc
#endif

/// A deliberately small, independent Booth 1.0 client for the process tests (it does not use
/// `TicketClient`, which is under test elsewhere): one blocking TCP connection per request.
///
/// Request: 48-byte header + 76-byte ticket payload (+ 28-byte HMAC trailer with an authfile).
/// Replies are read as a stream of packets, each the header first, then `length - 48` bytes:
/// `Rslt` = [header][payload][trailer]; `RLst` = [header][trailer][text].
struct TestClient {
    var address: String
    var port: UInt16
    var key: AuthKey?
    var timeout: Duration = .seconds(3)

    struct Reply: CustomStringConvertible {
        var header: BoothHeader
        var ticket: BoothTicketPayload?
        var text: String?
        var result: BoothResult { header.result }
        var description: String {
            "\(header.cmd) result=\(header.result)" + (ticket.map { " leader=\($0.leader) term=\($0.term)" } ?? "")
        }
    }

    // MARK: - Commands

    /// `CMD_LIST` with Meridian's JSON option; decodes ``TicketListReply``.
    func list() throws -> TicketListReply {
        let text = try listText(json: true)
        do { return try JSONDecoder().decode(TicketListReply.self, from: Data(text.utf8)) } catch {
            throw HarnessError("list at \(address): reply is not a JSON TicketListReply: \(error)\n\(text)")
        }
    }

    /// `CMD_PEERS` with the JSON option; decodes ``PeerListReply``.
    func peers() throws -> PeerListReply {
        let replies = try exchange(.peers, ticket: "", options: ClientExtension.jsonRequestOptions)
        let text = replies.last?.text ?? ""
        do { return try JSONDecoder().decode(PeerListReply.self, from: Data(text.utf8)) } catch {
            throw HarnessError("peers at \(address): reply is not a JSON PeerListReply: \(error)\n\(text)")
        }
    }

    /// The text of a list reply (JSON from Meridian when asked; boothd always answers text).
    func listText(json: Bool) throws -> String {
        let replies = try exchange(.list, ticket: "", options: json ? ClientExtension.jsonRequestOptions : 0)
        guard let r = replies.last, r.header.cmd == .clientList, let text = r.text else {
            throw HarnessError("list at \(address): unexpected reply \(replies)")
        }
        return text
    }

    /// Grant: option bit 2 = wait for the outcome, bit 1 = force (booth's `-F`). Returns every
    /// reply (`More` first when waiting); the last one is the outcome.
    func grant(_ ticket: String, wait: Bool = true, force: Bool = false) throws -> [Reply] {
        var o: BoothClientOptions = []
        if wait { o.insert(.wait) }
        if force { o.insert(.immediate) }
        return try exchange(.grant, ticket: ticket, options: o.rawValue)
    }

    func revoke(_ ticket: String, wait: Bool = true) throws -> [Reply] {
        try exchange(.revoke, ticket: ticket, options: wait ? BoothClientOptions.wait.rawValue : 0)
    }

    // MARK: - Wire

    static func wallTimestamp(offset: Duration = .zero) -> BoothTimestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let ns = Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec) + offset.nanosecondCount
        return BoothTimestamp(secs: UInt32(ns / 1_000_000_000), usecs: UInt32((ns % 1_000_000_000) / 1000))
    }

    /// Encodes a client request exactly as booth's client does.
    static func encodeRequest(
        _ cmd: BoothCommand, ticket: String, options: UInt32, key: AuthKey?,
        timestamp: BoothTimestamp = wallTimestamp()
    ) -> [UInt8] {
        var h = BoothHeader()
        h.cmd = cmd
        h.options = options
        let payload = BoothTicketPayload(ticket: ticket, leader: 0, term: 0, termValidFor: 0)
        return BoothPeerDecoder.encode(BoothPacket(header: h, ticket: payload), key: key, timestamp: timestamp)
    }

    /// Sends one request and reads replies until a result other than `More` or end of stream.
    func exchange(_ cmd: BoothCommand, ticket: String, options: UInt32) throws -> [Reply] {
        try exchangeRaw(Self.encodeRequest(cmd, ticket: ticket, options: options, key: key))
    }

    /// Sends arbitrary bytes and reads replies (used for malformed requests too).
    func exchangeRaw(_ request: [UInt8]) throws -> [Reply] {
        let fd = try TCPSocket.connect(to: address, port: port, timeout: timeout)
        defer { close(fd) }
        try TCPSocket.writeAll(fd, request)
        var replies: [Reply] = []
        while true {
            guard let head = try TCPSocket.readExactly(fd, BoothWire.headerSize, allowEOF: true) else { break }
            let h: BoothHeader
            do { h = try BoothCodec.decodeHeader(head) } catch {
                throw HarnessError("reply from \(address): bad header: \(error)")
            }
            guard let rest = try TCPSocket.readExactly(fd, Int(h.length) - BoothWire.headerSize, allowEOF: false)
            else { throw HarnessError("reply from \(address): stream ended inside a packet") }
            let bytes = head + rest
            let signed = h.opts & BoothWire.optAuth != 0
            var reply = Reply(header: h)
            if h.cmd == .clientList {
                let start = BoothWire.headerSize + (signed ? BoothWire.hmacTrailerSize : 0)
                if let key, signed, !BoothAuth.verify(bytes, end: start, key: key) {
                    throw HarnessError("list reply from \(address): HMAC does not verify")
                }
                reply.text = String(decoding: bytes[min(start, bytes.count)...], as: UTF8.self)
            } else {
                if let key, signed, h.result != .authentication, !BoothAuth.verify(bytes, end: bytes.count, key: key) {
                    throw HarnessError("reply from \(address): HMAC does not verify")
                }
                let bodyEnd = bytes.count - (signed ? BoothWire.hmacTrailerSize : 0)
                if bodyEnd >= BoothWire.headerSize + BoothWire.ticketPayloadSize {
                    reply.ticket = try? BoothCodec.decodeTicket(bytes, at: BoothWire.headerSize)
                }
            }
            replies.append(reply)
            if h.cmd != .clientList && h.result != .more { break }
        }
        return replies
    }
}

extension Duration {
    var nanosecondCount: Int64 {
        let (s, a) = components
        return s * 1_000_000_000 + a / 1_000_000_000
    }
    var millisecondCount: Int64 { nanosecondCount / 1_000_000 }
}

/// Blocking POSIX socket helpers with timeouts.
enum TCPSocket {
    static func sockaddr(_ address: String, _ port: UInt16) throws -> sockaddr_in {
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = port.bigEndian
        guard inet_pton(AF_INET, address, &sa.sin_addr) == 1 else { throw HarnessError("bad IPv4 address \(address)") }
        return sa
    }

    static func setTimeouts(_ fd: Int32, _ timeout: Duration) {
        let ms = max(1, timeout.millisecondCount)
        var tv = timeval(tv_sec: Int(ms / 1000), tv_usec: Int((ms % 1000) * 1000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    static func connect(to address: String, port: UInt16, timeout: Duration) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
        setTimeouts(fd, timeout)
        var sa = try sockaddr(address, port)
        let rc = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else {
            let e = errno
            close(fd)
            throw ConnectError(address: address, port: port, errno: e)
        }
        return fd
    }

    struct ConnectError: Error, CustomStringConvertible {
        var address: String
        var port: UInt16
        var errno: Int32
        var description: String { "connect to \(address):\(port): \(String(cString: strerror(errno)))" }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw HarnessError("send: \(String(cString: strerror(errno)))")
            }
            off += n
        }
    }

    /// Reads exactly `count` bytes; nil at a clean end of stream before the first byte when
    /// `allowEOF`.
    static func readExactly(_ fd: Int32, _ count: Int, allowEOF: Bool) throws -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = buf[got...].withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 {
                if got == 0 && allowEOF { return nil }
                throw HarnessError("connection closed after \(got) of \(count) bytes")
            }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == ECONNRESET, got == 0, allowEOF { return nil }
                throw HarnessError(
                    "recv: \(String(cString: strerror(errno)))"
                        + (errno == EAGAIN ? " (timed out)" : ""))
            }
            got += n
        }
        return buf
    }
}

/// A UDP socket bound to a chosen source address, to send forged peer packets.
struct UDPSender {
    let fd: Int32

    init(bindTo address: String) throws {
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
        var sa = try TCPSocket.sockaddr(address, 0)
        let rc = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else {
            let e = errno
            Glibc.close(fd)
            throw HarnessError("bind UDP to \(address): \(String(cString: strerror(e)))")
        }
    }

    func send(_ bytes: [UInt8], to address: String, port: UInt16) throws {
        var sa = try TCPSocket.sockaddr(address, port)
        let n = withUnsafePointer(to: &sa) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sp in
                bytes.withUnsafeBytes {
                    sendto(fd, $0.baseAddress, $0.count, 0, sp, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        guard n == bytes.count else {
            throw HarnessError("sendto \(address):\(port) (\(bytes.count) bytes): \(String(cString: strerror(errno)))")
        }
    }

    func close() { Glibc.close(fd) }
}

/// Runs blocking work (a client waiting seconds for an answer) on a thread of its own, so it
/// does not hold one of the few threads of Swift's cooperative pool.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}
