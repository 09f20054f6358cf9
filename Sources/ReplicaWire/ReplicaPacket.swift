/// The peer protocol of meridian-replicad: one TCP connection per resource between the two
/// nodes, carrying framed packets in both directions.
///
/// Every packet starts with a 24-byte header (big-endian):
///
/// | bytes | field |
/// |-------|-------|
/// | 0..<4 | magic `0x4D52504C` ("MRPL") |
/// | 4..<6 | packet type (``ReplicaPacketType``) |
/// | 6..<8 | volume number |
/// | 8..<12 | length of the body that follows the header, including any data payload |
/// | 12..<20 | sequence number (data writes, barriers and their acknowledgements; 0 otherwise) |
/// | 20..<24 | flags (``ReplicaPacketFlags``) |
///
/// Data-carrying packets (writes, resync data) put an offset (8 bytes) and the data length
/// (4 bytes) at the start of the body, then the data. Control packets carry JSON bodies: they
/// are rare and their readability in a capture is worth more than their size.
///
/// The header is the only thing parsed before a body is read, so a malformed header is
/// refused before any allocation: ``ReplicaHeader/decode(_:maxBody:)`` checks the magic, the
/// type and the length bound.
public enum ReplicaWire {
    public static let magic: UInt32 = 0x4D52_504C
    public static let headerSize = 24
    /// Offset and length at the start of a data-carrying body.
    public static let dataPrefixSize = 12
    /// Largest body accepted: a 32 MiB write (NBD's limit) plus its prefix.
    public static let maxBody = (32 << 20) + dataPrefixSize
    /// Largest JSON body accepted (a handshake or a state change is a few hundred bytes; a
    /// bitmap is sent as data, not JSON).
    public static let maxControlBody = 1 << 16
    /// Version of this protocol, exchanged in ``Hello``.
    public static let protocolVersion: UInt32 = 1
}

/// What a packet is. Numbers are part of the wire format: never renumber.
public enum ReplicaPacketType: UInt16, Sendable, CaseIterable {
    /// First packet in each direction: who I am and my challenge (JSON ``Hello``).
    case hello = 1
    /// The HMAC of the peer's challenge (raw bytes).
    case authResponse = 2
    /// The sender refuses the connection; the body is a UTF-8 reason. The connection closes.
    case refuse = 3
    /// Per volume: the connect-time state (JSON, the daemon's handshake record).
    case handshake = 4
    /// Per volume: the sender's out-of-sync bitmap (raw little-endian 64-bit words).
    case bitmap = 5
    /// Role or disk state changed (JSON).
    case state = 6
    /// Per volume: the sender's decision, so both sides start the same resync (JSON).
    case syncDecision = 7
    /// While connected, a node asks its peer before becoming Primary (empty body).
    case roleRequest = 8
    /// 1 byte granted (1) or refused (0), then a UTF-8 reason.
    case roleReply = 9

    /// A replicated application write (offset, length, data). Flag ``ReplicaPacketFlags/fua``.
    case data = 10
    /// The write with this sequence number reached the peer's disk (protocol C).
    case writeAck = 11
    /// Everything before this sequence number must be on stable storage: the peer flushes and
    /// answers with ``barrierAck``.
    case barrier = 12
    case barrierAck = 13
    /// Replicated TRIM (offset, length, no data).
    case trim = 14
    /// Replicated WRITE_ZEROES (offset, length, no data).
    case writeZeroes = 15
    /// The write with this sequence number failed on the peer's disk.
    case writeError = 16

    /// SyncTarget asks for a range (offset, length).
    case resyncRequest = 20
    /// SyncSource answers with the data of the range.
    case resyncData = 21
    /// SyncTarget wrote the range: the SyncSource marks it in sync.
    case resyncWritten = 22
    /// SyncTarget has no out-of-sync block left.
    case resyncFinished = 23

    /// VerifyS sends the hash of a range (offset, length, 32-byte SHA-256).
    case verifyRequest = 30
    /// VerifyT answers whether its own hash matched (offset, length, 1 byte).
    case verifyResult = 31
    case verifyFinished = 32

    case ping = 40
    case pingAck = 41
}

/// Header flags.
public struct ReplicaPacketFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// The write must be on stable storage before it is acknowledged (NBD FUA).
    public static let fua = ReplicaPacketFlags(rawValue: 1 << 0)
    /// Protocol A: the sender wants no acknowledgement for this write.
    public static let noAck = ReplicaPacketFlags(rawValue: 1 << 1)
}

/// A decoded packet header.
public struct ReplicaHeader: Sendable, Equatable {
    public var type: ReplicaPacketType
    public var volume: UInt16
    public var bodyLength: UInt32
    public var sequence: UInt64
    public var flags: ReplicaPacketFlags

    public init(type: ReplicaPacketType, volume: UInt16 = 0, bodyLength: UInt32 = 0, sequence: UInt64 = 0,
                flags: ReplicaPacketFlags = []) {
        self.type = type
        self.volume = volume
        self.bodyLength = bodyLength
        self.sequence = sequence
        self.flags = flags
    }

    /// Why a header was refused; the connection is closed after it.
    public enum DecodeError: Error, Equatable, CustomStringConvertible {
        case badMagic(UInt32)
        case unknownType(UInt16)
        case bodyTooLong(type: ReplicaPacketType, length: UInt32, limit: Int)
        case shortBody(type: ReplicaPacketType, length: UInt32, needed: Int)

        public var description: String {
            switch self {
            case .badMagic(let m):
                "bad packet magic 0x\(String(m, radix: 16)) (expected 0x4d52504c): the peer is not meridian-replicad "
                    + "or the stream lost its framing"
            case .unknownType(let t): "unknown packet type \(t): the peer runs a newer protocol"
            case .bodyTooLong(let type, let length, let limit):
                "\(type) packet announces a \(length)-byte body, more than the \(limit) allowed"
            case .shortBody(let type, let length, let needed):
                "\(type) packet has a \(length)-byte body, at least \(needed) needed"
            }
        }
    }

    /// Encodes into 24 bytes at `out`.
    public func encode(into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= ReplicaWire.headerSize, "header buffer of \(out.count) bytes")
        out.storeBytes(of: ReplicaWire.magic.bigEndian, toByteOffset: 0, as: UInt32.self)
        out.storeBytes(of: type.rawValue.bigEndian, toByteOffset: 4, as: UInt16.self)
        out.storeBytes(of: volume.bigEndian, toByteOffset: 6, as: UInt16.self)
        out.storeBytes(of: bodyLength.bigEndian, toByteOffset: 8, as: UInt32.self)
        out.storeBytes(of: sequence.bigEndian, toByteOffset: 12, as: UInt64.self)
        out.storeBytes(of: flags.rawValue.bigEndian, toByteOffset: 20, as: UInt32.self)
    }

    public var encoded: [UInt8] {
        var bytes = [UInt8](repeating: 0, count: ReplicaWire.headerSize)
        bytes.withUnsafeMutableBytes { encode(into: $0) }
        return bytes
    }

    /// Decodes and checks a header: magic, known type, body length within bounds for its type.
    public static func decode(_ raw: UnsafeRawBufferPointer) throws(DecodeError) -> ReplicaHeader {
        precondition(raw.count >= ReplicaWire.headerSize, "header of \(raw.count) bytes")
        let magic = UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
        guard magic == ReplicaWire.magic else { throw .badMagic(magic) }
        let rawType = UInt16(bigEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
        guard let type = ReplicaPacketType(rawValue: rawType) else { throw .unknownType(rawType) }
        let header = ReplicaHeader(
            type: type,
            volume: UInt16(bigEndian: raw.loadUnaligned(fromByteOffset: 6, as: UInt16.self)),
            bodyLength: UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self)),
            sequence: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 12, as: UInt64.self)),
            flags: ReplicaPacketFlags(rawValue: UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: 20, as: UInt32.self))))
        let limit = type.carriesData ? ReplicaWire.maxBody : ReplicaWire.maxControlBody
        if type == .bitmap {
            // A bitmap is 1 bit per 4 KiB: 32 MiB covers 1 PiB.
            guard header.bodyLength <= UInt32(ReplicaWire.maxBody) else {
                throw .bodyTooLong(type: type, length: header.bodyLength, limit: ReplicaWire.maxBody)
            }
        } else if Int(header.bodyLength) > limit {
            throw .bodyTooLong(type: type, length: header.bodyLength, limit: limit)
        }
        if type.hasRangePrefix, Int(header.bodyLength) < ReplicaWire.dataPrefixSize {
            throw .shortBody(type: type, length: header.bodyLength, needed: ReplicaWire.dataPrefixSize)
        }
        return header
    }
}

extension ReplicaPacketType {
    /// Packets whose body may carry block data (large bodies allowed).
    public var carriesData: Bool { self == .data || self == .resyncData }
    /// Packets whose body starts with an offset and a length.
    public var hasRangePrefix: Bool {
        switch self {
        case .data, .trim, .writeZeroes, .resyncRequest, .resyncData, .resyncWritten, .verifyRequest, .verifyResult:
            true
        default: false
        }
    }
}

/// The offset and length at the start of a data-carrying body.
public struct ReplicaRange: Sendable, Equatable, Hashable {
    public var offset: UInt64
    public var length: UInt32
    public init(offset: UInt64, length: UInt32) {
        self.offset = offset
        self.length = length
    }

    public func encode(into out: UnsafeMutableRawBufferPointer, at position: Int = 0) {
        out.storeBytes(of: offset.bigEndian, toByteOffset: position, as: UInt64.self)
        out.storeBytes(of: length.bigEndian, toByteOffset: position + 8, as: UInt32.self)
    }

    public var encoded: [UInt8] {
        var bytes = [UInt8](repeating: 0, count: ReplicaWire.dataPrefixSize)
        bytes.withUnsafeMutableBytes { encode(into: $0) }
        return bytes
    }

    public static func decode(_ raw: UnsafeRawBufferPointer, at position: Int = 0) -> ReplicaRange {
        precondition(raw.count >= position + ReplicaWire.dataPrefixSize, "range prefix needs 12 bytes")
        return ReplicaRange(
            offset: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: position, as: UInt64.self)),
            length: UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: position + 8, as: UInt32.self)))
    }
}

/// First packet of each side: identifies the resource and node, and carries the challenge the
/// other side must answer with the shared secret.
public struct Hello: Codable, Sendable, Equatable {
    public var protocolVersion: UInt32
    public var resource: String
    public var nodeName: String
    public var nodeID: Int
    /// 32 random bytes, hex. Empty when the resource has no shared secret.
    public var challenge: String
    /// The sender's `cram-hmac-alg` ("" when none): both sides must agree.
    public var hmacAlgorithm: String
    public var volumes: [Int]

    public init(protocolVersion: UInt32 = ReplicaWire.protocolVersion, resource: String, nodeName: String,
                nodeID: Int, challenge: String, hmacAlgorithm: String, volumes: [Int]) {
        self.protocolVersion = protocolVersion
        self.resource = resource
        self.nodeName = nodeName
        self.nodeID = nodeID
        self.challenge = challenge
        self.hmacAlgorithm = hmacAlgorithm
        self.volumes = volumes
    }
}
