/// The 48-byte Booth header, in host order.
public struct BoothHeader: Sendable, Equatable {
    public var opts: UInt32 = 0
    /// Generation timestamp (wall clock seconds and microseconds); used against replays.
    public var secs: UInt32 = 0
    public var usecs: UInt32 = 0
    public var magic: UInt32 = BoothWire.magic
    public var version: UInt32 = BoothWire.version
    /// Sender's site id (see ``SiteID``).
    public var from: UInt32 = 0
    /// Length of header + payload (+ trailer when authenticated).
    public var length: UInt32 = 0
    public var cmd: BoothCommand = .none
    public var request: BoothCommand = .none
    public var options: UInt32 = 0
    public var reason: BoothReason = .justSo
    public var result: BoothResult = .success

    public init() {}
}

/// The ticket payload: name, leader site id, term and remaining lease in wire units.
public struct BoothTicketPayload: Sendable, Equatable {
    public var ticket: String
    public var leader: UInt32
    public var term: UInt32
    /// Remaining lease, in seconds or milliseconds (see ``BoothConfiguration/millisecondWireTimes``).
    public var termValidFor: UInt32

    public init(ticket: String, leader: UInt32, term: UInt32, termValidFor: UInt32) {
        self.ticket = ticket
        self.leader = leader
        self.term = term
        self.termValidFor = termValidFor
    }
}

/// A decoded Booth packet. `text` carries the body of list and peers replies.
public struct BoothPacket: Sendable, Equatable {
    public var header: BoothHeader
    public var ticket: BoothTicketPayload?
    public var text: String?

    public init(header: BoothHeader, ticket: BoothTicketPayload? = nil, text: String? = nil) {
        self.header = header
        self.ticket = ticket
        self.text = text
    }
}

/// Why a received packet was dropped. Each case is counted per peer by the daemon.
public enum BoothDecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    case truncated(got: Int, need: Int)
    case oversized(Int)
    case badMagic(UInt32)
    case badVersion(UInt32)
    case lengthMismatch(header: Int, actual: Int)
    case badTicketName
    case missingAuthentication
    case badAuthentication
    case unexpectedAuthentication
    case replayed(secs: UInt32, usecs: UInt32)
    case stale(secs: UInt32)

    public var description: String {
        switch self {
        case let .truncated(got, need): "truncated packet: \(got) bytes, need \(need)"
        case let .oversized(n): "oversized packet: \(n) bytes (limit \(BoothWire.maxPacketSize))"
        case let .badMagic(m): "bad magic 0x\(String(m, radix: 16))"
        case let .badVersion(v): "unsupported protocol version 0x\(String(v, radix: 16))"
        case let .lengthMismatch(h, a): "length field says \(h) bytes, packet has \(a)"
        case .badTicketName: "ticket name is not NUL-terminated UTF-8"
        case .missingAuthentication: "unsigned packet while an authfile is configured"
        case .badAuthentication: "HMAC does not match: wrong authfile key?"
        case .unexpectedAuthentication: "signed packet but no authfile is configured here"
        case let .replayed(s, u): "replayed packet: timestamp \(s).\(u) not newer than the last one from this peer"
        case let .stale(s): "packet timestamp \(s) is older than maxtimeskew"
        }
    }
}

/// Big-endian reading and writing of Booth packets. Pure: no I/O, no clock.
public enum BoothCodec {
    /// Encodes header (+ ticket payload) without trailer; `length` is filled in for a packet
    /// with a trailer when `authenticated`, as Booth does.
    public static func encode(_ packet: BoothPacket, authenticated: Bool) -> [UInt8] {
        var h = packet.header
        let payload = packet.ticket == nil ? 0 : BoothWire.ticketPayloadSize
        // List and peers replies: the text follows the trailer and is counted in `length`
        // but not covered by the HMAC (Booth's send_header_plus).
        let textBytes = Array((packet.text ?? "").utf8)
        h.length = UInt32(BoothWire.headerSize + payload + (authenticated ? BoothWire.hmacTrailerSize : 0)
            + textBytes.count)
        if authenticated { h.opts |= BoothWire.optAuth } else { h.opts &= ~BoothWire.optAuth }
        var out = [UInt8]()
        out.reserveCapacity(Int(h.length))
        for v in [h.opts, h.secs, h.usecs, h.magic, h.version, h.from, h.length, h.cmd.rawValue,
                  h.request.rawValue, h.options, h.reason.rawValue, h.result.rawValue] {
            appendBE(v, to: &out)
        }
        if let t = packet.ticket {
            var name = Array(t.ticket.utf8.prefix(BoothWire.nameLength - 1))
            name += [UInt8](repeating: 0, count: BoothWire.nameLength - name.count)
            out += name
            appendBE(t.leader, to: &out)
            appendBE(t.term, to: &out)
            appendBE(t.termValidFor, to: &out)
        }
        return out
    }

    /// Decodes the header only; checks magic and version.
    public static func decodeHeader(_ bytes: some Collection<UInt8>) throws(BoothDecodeError) -> BoothHeader {
        let b = Array(bytes.prefix(BoothWire.headerSize))
        guard b.count >= BoothWire.headerSize else {
            throw .truncated(got: b.count, need: BoothWire.headerSize)
        }
        var h = BoothHeader()
        h.opts = readBE(b, 0)
        h.secs = readBE(b, 4)
        h.usecs = readBE(b, 8)
        h.magic = readBE(b, 12)
        h.version = readBE(b, 16)
        h.from = readBE(b, 20)
        h.length = readBE(b, 24)
        h.cmd = BoothCommand(rawValue: readBE(b, 28))
        h.request = BoothCommand(rawValue: readBE(b, 32))
        h.options = readBE(b, 36)
        h.reason = BoothReason(rawValue: readBE(b, 40))
        h.result = BoothResult(rawValue: readBE(b, 44))
        guard h.magic == BoothWire.magic else { throw .badMagic(h.magic) }
        guard h.version == BoothWire.version else { throw .badVersion(h.version) }
        guard Int(h.length) >= BoothWire.headerSize else {
            throw .lengthMismatch(header: Int(h.length), actual: b.count)
        }
        guard Int(h.length) <= BoothWire.maxPacketSize else { throw .oversized(Int(h.length)) }
        return h
    }

    /// Decodes a ticket payload at `offset`.
    public static func decodeTicket(_ b: [UInt8], at offset: Int) throws(BoothDecodeError) -> BoothTicketPayload {
        guard b.count >= offset + BoothWire.ticketPayloadSize else {
            throw .truncated(got: b.count, need: offset + BoothWire.ticketPayloadSize)
        }
        let nameBytes = b[offset..<offset + BoothWire.nameLength]
        guard let nul = nameBytes.firstIndex(of: 0),
              let name = String(validating: nameBytes[offset..<nul], as: UTF8.self)
        else { throw .badTicketName }
        let base = offset + BoothWire.nameLength
        return BoothTicketPayload(ticket: name, leader: readBE(b, base), term: readBE(b, base + 4),
                                  termValidFor: readBE(b, base + 8))
    }

    static func appendBE(_ v: UInt32, to out: inout [UInt8]) {
        out.append(UInt8(v >> 24)); out.append(UInt8((v >> 16) & 0xFF))
        out.append(UInt8((v >> 8) & 0xFF)); out.append(UInt8(v & 0xFF))
    }

    static func readBE(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }
}

/// Booth's site id: CRC-32 (zlib's) of the binary address, top bit cleared.
public enum SiteID {
    public static func compute(address: String) -> UInt32? {
        guard let bytes = IPAddressBytes.parse(address) else { return nil }
        return crc32(bytes) & 0x7FFF_FFFF
    }

    static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// zlib-compatible CRC-32.
    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}

/// Parses IPv4 and IPv6 literals to network-order bytes (what `inet_pton` gives).
public enum IPAddressBytes {
    public static func parse(_ s: String) -> [UInt8]? {
        if let v4 = parseV4(s) { return v4 }
        return parseV6(s)
    }

    static func parseV4(_ s: String) -> [UInt8]? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out = [UInt8]()
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy(\.isASCII), let v = UInt8(p) else { return nil }
            out.append(v)
        }
        return out
    }

    static func parseV6(_ s: String) -> [UInt8]? {
        guard s.contains(":") else { return nil }
        var text = Substring(s)
        var tail4: [UInt8] = []
        if let lastColon = text.lastIndex(of: ":"), text[text.index(after: lastColon)...].contains(".") {
            guard let v4 = parseV4(String(text[text.index(after: lastColon)...])) else { return nil }
            tail4 = v4
            text = text[...lastColon]
            if text.hasSuffix(":") && !text.hasSuffix("::") { text = text.dropLast() }
        }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String) -> [UInt16]? {
            if part.isEmpty { return [] }
            var r = [UInt16]()
            for g in part.split(separator: ":", omittingEmptySubsequences: false) {
                guard !g.isEmpty, g.count <= 4, let v = UInt16(g, radix: 16) else { return nil }
                r.append(v)
            }
            return r
        }
        guard let head = groups(halves[0]) else { return nil }
        let tail = halves.count == 2 ? groups(halves[1]) : []
        guard let tail else { return nil }
        let want = tail4.isEmpty ? 8 : 6
        var all: [UInt16]
        if halves.count == 2 {
            guard head.count + tail.count < want else { return nil }
            all = head + [UInt16](repeating: 0, count: want - head.count - tail.count) + tail
        } else {
            guard head.count == want else { return nil }
            all = head
        }
        var out = [UInt8]()
        for g in all { out.append(UInt8(g >> 8)); out.append(UInt8(g & 0xFF)) }
        return out + tail4
    }
}
