/// DNS messages (RFC 1035 §4) as far as dynamic update (RFC 2136), TSIG (RFC 8945) and
/// checking an authoritative answer need them. Encoding never compresses names; decoding
/// follows compression pointers (only backwards, so a hostile packet cannot loop).

/// Record types used here; anything else is kept as its number.
public struct DNSType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let a = DNSType(rawValue: 1)
    public static let ns = DNSType(rawValue: 2)
    public static let cname = DNSType(rawValue: 5)
    public static let soa = DNSType(rawValue: 6)
    public static let aaaa = DNSType(rawValue: 28)
    public static let tsig = DNSType(rawValue: 250)
    public static let any = DNSType(rawValue: 255)

    public var description: String {
        switch self {
        case .a: "A"
        case .ns: "NS"
        case .cname: "CNAME"
        case .soa: "SOA"
        case .aaaa: "AAAA"
        case .tsig: "TSIG"
        case .any: "ANY"
        default: "TYPE\(rawValue)"
        }
    }
}

public struct DNSClass: RawRepresentable, Hashable, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let inet = DNSClass(rawValue: 1)
    public static let none = DNSClass(rawValue: 254)
    public static let any = DNSClass(rawValue: 255)
}

public enum DNSOpcode: UInt8, Sendable {
    case query = 0
    case update = 5
}

/// Response codes, with the extended TSIG errors of RFC 8945 §4.3 in the same space.
public struct DNSRcode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let noError = DNSRcode(rawValue: 0)
    public static let formErr = DNSRcode(rawValue: 1)
    public static let servFail = DNSRcode(rawValue: 2)
    public static let nxDomain = DNSRcode(rawValue: 3)
    public static let notImp = DNSRcode(rawValue: 4)
    public static let refused = DNSRcode(rawValue: 5)
    public static let yxDomain = DNSRcode(rawValue: 6)
    public static let yxRRSet = DNSRcode(rawValue: 7)
    public static let nxRRSet = DNSRcode(rawValue: 8)
    public static let notAuth = DNSRcode(rawValue: 9)
    public static let notZone = DNSRcode(rawValue: 10)
    public static let badSig = DNSRcode(rawValue: 16)
    public static let badKey = DNSRcode(rawValue: 17)
    public static let badTime = DNSRcode(rawValue: 18)
    public static let badTrunc = DNSRcode(rawValue: 22)

    public var description: String {
        switch self {
        case .noError: "NOERROR"
        case .formErr: "FORMERR"
        case .servFail: "SERVFAIL"
        case .nxDomain: "NXDOMAIN"
        case .notImp: "NOTIMP"
        case .refused: "REFUSED"
        case .yxDomain: "YXDOMAIN"
        case .yxRRSet: "YXRRSET"
        case .nxRRSet: "NXRRSET"
        case .notAuth: "NOTAUTH"
        case .notZone: "NOTZONE"
        case .badSig: "BADSIG"
        case .badKey: "BADKEY"
        case .badTime: "BADTIME"
        case .badTrunc: "BADTRUNC"
        default: "RCODE\(rawValue)"
        }
    }
}

/// One resource record; `data` is the RDATA as on the wire (names inside it, as in SOA,
/// are expanded by the decoder only for the types that need it here: none).
public struct DNSRecord: Hashable, Sendable {
    public var name: DNSName
    public var type: DNSType
    public var dnsClass: DNSClass
    public var ttl: UInt32
    public var data: [UInt8]

    public init(name: DNSName, type: DNSType, dnsClass: DNSClass = .inet, ttl: UInt32 = 0, data: [UInt8] = []) {
        self.name = name
        self.type = type
        self.dnsClass = dnsClass
        self.ttl = ttl
        self.data = data
    }

    func encode(into out: inout [UInt8]) {
        name.encode(into: &out)
        out.appendBigEndian(type.rawValue)
        out.appendBigEndian(dnsClass.rawValue)
        out.appendBigEndian(ttl)
        out.appendBigEndian(UInt16(data.count))
        out.append(contentsOf: data)
    }
}

public struct DNSQuestion: Hashable, Sendable {
    public var name: DNSName
    public var type: DNSType
    public var dnsClass: DNSClass

    public init(name: DNSName, type: DNSType, dnsClass: DNSClass = .inet) {
        self.name = name
        self.type = type
        self.dnsClass = dnsClass
    }
}

/// A whole message. For an UPDATE the four sections are zone, prerequisite, update and
/// additional (RFC 2136 §2); the same fields hold them.
public struct DNSMessage: Sendable {
    public var id: UInt16
    public var isResponse = false
    public var opcode: DNSOpcode = .query
    public var authoritative = false
    public var truncated = false
    public var recursionDesired = false
    public var recursionAvailable = false
    /// The 4-bit header RCODE (an extended TSIG error is in the TSIG record).
    public var rcode: DNSRcode = .noError
    public var questions: [DNSQuestion] = []
    public var answers: [DNSRecord] = []
    public var authority: [DNSRecord] = []
    public var additional: [DNSRecord] = []

    public init(id: UInt16) { self.id = id }

    public func encode() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        out.appendBigEndian(id)
        var flags: UInt16 = UInt16(opcode.rawValue & 0x0F) << 11
        if isResponse { flags |= 0x8000 }
        if authoritative { flags |= 0x0400 }
        if truncated { flags |= 0x0200 }
        if recursionDesired { flags |= 0x0100 }
        if recursionAvailable { flags |= 0x0080 }
        flags |= rcode.rawValue & 0x000F
        out.appendBigEndian(flags)
        out.appendBigEndian(UInt16(questions.count))
        out.appendBigEndian(UInt16(answers.count))
        out.appendBigEndian(UInt16(authority.count))
        out.appendBigEndian(UInt16(additional.count))
        for q in questions {
            q.name.encode(into: &out)
            out.appendBigEndian(q.type.rawValue)
            out.appendBigEndian(q.dnsClass.rawValue)
        }
        for r in answers { r.encode(into: &out) }
        for r in authority { r.encode(into: &out) }
        for r in additional { r.encode(into: &out) }
        return out
    }

    /// Decodes a message; every malformation is an error naming the offset.
    public static func decode(_ bytes: [UInt8]) throws(DNSError) -> DNSMessage {
        var reader = WireReader(bytes)
        let id = try reader.u16()
        let flags = try reader.u16()
        var message = DNSMessage(id: id)
        message.isResponse = flags & 0x8000 != 0
        guard let opcode = DNSOpcode(rawValue: UInt8((flags >> 11) & 0x0F)) else {
            throw .malformed("opcode \((flags >> 11) & 0x0F) is neither QUERY nor UPDATE")
        }
        message.opcode = opcode
        message.authoritative = flags & 0x0400 != 0
        message.truncated = flags & 0x0200 != 0
        message.recursionDesired = flags & 0x0100 != 0
        message.recursionAvailable = flags & 0x0080 != 0
        message.rcode = DNSRcode(rawValue: flags & 0x000F)
        let qd = try reader.u16(), an = try reader.u16(), ns = try reader.u16(), ar = try reader.u16()
        for _ in 0..<qd {
            let name = try reader.name()
            message.questions.append(
                DNSQuestion(name: name, type: DNSType(rawValue: try reader.u16()), dnsClass: DNSClass(rawValue: try reader.u16())))
        }
        for _ in 0..<an { message.answers.append(try reader.record()) }
        for _ in 0..<ns { message.authority.append(try reader.record()) }
        for _ in 0..<ar { message.additional.append(try reader.record()) }
        return message
    }
}

/// Reads big-endian fields and (possibly compressed) names from a packet.
struct WireReader {
    let bytes: [UInt8]
    var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func u8() throws(DNSError) -> UInt8 {
        guard offset < bytes.count else { throw .malformed("packet ends at offset \(offset), a field was expected") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16() throws(DNSError) -> UInt16 { UInt16(try u8()) << 8 | UInt16(try u8()) }

    mutating func u32() throws(DNSError) -> UInt32 { UInt32(try u16()) << 16 | UInt32(try u16()) }

    mutating func take(_ n: Int) throws(DNSError) -> [UInt8] {
        guard n >= 0, offset + n <= bytes.count else {
            throw .malformed("packet ends at offset \(bytes.count), \(n) bytes were expected at offset \(offset)")
        }
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }

    /// A name at the current offset; compression pointers must point before the place they
    /// are found, so decoding always ends.
    mutating func name() throws(DNSError) -> DNSName {
        var labels: [[UInt8]] = []
        var position = offset
        var jumped = false
        while true {
            guard position < bytes.count else { throw .malformed("a name runs past the end of the packet") }
            let length = bytes[position]
            switch length & 0xC0 {
            case 0x00:
                if length == 0 {
                    if !jumped { offset = position + 1 }
                    return try DNSName(labels: labels)
                }
                let start = position + 1, end = start + Int(length)
                guard end <= bytes.count else { throw .malformed("a label at offset \(position) runs past the end") }
                labels.append(Array(bytes[start..<end]))
                position = end
            case 0xC0:
                guard position + 1 < bytes.count else { throw .malformed("a compression pointer is cut off") }
                let target = Int(length & 0x3F) << 8 | Int(bytes[position + 1])
                guard target < position else {
                    throw .malformed("compression pointer at offset \(position) points forward to \(target)")
                }
                if !jumped { offset = position + 2 }
                jumped = true
                position = target
            default:
                throw .malformed("label type 0x\(String(length, radix: 16)) at offset \(position) is not supported")
            }
        }
    }

    mutating func record() throws(DNSError) -> DNSRecord {
        let name = try name()
        let type = DNSType(rawValue: try u16())
        let cls = DNSClass(rawValue: try u16())
        let ttl = try u32()
        let length = try u16()
        return DNSRecord(name: name, type: type, dnsClass: cls, ttl: ttl, data: try take(Int(length)))
    }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian(_ v: UInt16) {
        append(UInt8(v >> 8))
        append(UInt8(v & 0xFF))
    }

    mutating func appendBigEndian(_ v: UInt32) {
        appendBigEndian(UInt16(v >> 16))
        appendBigEndian(UInt16(v & 0xFFFF))
    }
}
