#if canImport(Glibc)
    import Glibc
#endif

/// Constants of the NBD protocol (https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md),
/// the subset a fixed-newstyle server with simple replies needs.
enum NBDWire {
    static let passwordMagic: UInt64 = 0x4E42_444D_4147_4943  // "NBDMAGIC"
    static let optionMagic: UInt64 = 0x4948_4156_454F_5054  // "IHAVEOPT"
    static let replyMagic: UInt64 = 0x0003_E889_0455_65A9
    static let requestMagic: UInt32 = 0x2560_9513
    static let simpleReplyMagic: UInt32 = 0x6744_6698

    static let flagFixedNewstyle: UInt16 = 1
    static let flagNoZeroes: UInt16 = 2

    enum Option: UInt32 {
        case exportName = 1, abort = 2, list = 3, startTLS = 5, info = 6, go = 7, structuredReply = 8
    }

    static let repAck: UInt32 = 1
    static let repServer: UInt32 = 2
    static let repInfo: UInt32 = 3
    static let repErrUnsup: UInt32 = 0x8000_0001
    static let repErrPolicy: UInt32 = 0x8000_0002
    static let repErrInvalid: UInt32 = 0x8000_0003
    static let repErrUnknown: UInt32 = 0x8000_0006

    static let infoExport: UInt16 = 0
    static let infoName: UInt16 = 1
    static let infoDescription: UInt16 = 2
    static let infoBlockSize: UInt16 = 3

    static let hasFlags: UInt16 = 1
    static let readOnly: UInt16 = 2
    static let sendFlush: UInt16 = 4
    static let sendFUA: UInt16 = 8
    static let sendTrim: UInt16 = 32
    static let sendWriteZeroes: UInt16 = 64
    static let canMultiConn: UInt16 = 256
    static let sendCache: UInt16 = 1024

    static let commandFUA: UInt16 = 1
    static let commandNoHole: UInt16 = 2

    /// Largest request payload accepted (the block-size maximum advertised).
    static let maxPayload: UInt32 = 32 << 20
    /// Longest option body read (names, info requests).
    static let maxOptionLength: UInt32 = 64 << 10
}

/// The commands of the transmission phase.
public enum NBDCommandKind: UInt16, Sendable {
    case read = 0, write = 1, disconnect = 2, flush = 3, trim = 4, cache = 5, writeZeroes = 6
}

/// An error answered to a request (carried to the client as an errno value), or a refusal of
/// a client at OPT_GO.
public enum NBDError: Error, Sendable, Equatable, CustomStringConvertible {
    case io
    case permissionDenied(String)
    case invalid
    case noSpace
    case notSupported
    case shutdown

    var errno: UInt32 {
        switch self {
        case .io: 5
        case .permissionDenied: 1
        case .invalid: 22
        case .noSpace: 28
        case .notSupported: 95
        case .shutdown: 108
        }
    }

    public var description: String {
        switch self {
        case .io: "input/output error"
        case .permissionDenied(let why): why
        case .invalid: "invalid request"
        case .noSpace: "no space left"
        case .notSupported: "operation not supported"
        case .shutdown: "server shutting down"
        }
    }
}

/// One request of the transmission phase, handed to the export.
public struct NBDRequest: Sendable {
    public let kind: NBDCommandKind
    public let fua: Bool
    public let noHole: Bool
    public let cookie: UInt64
    public let offset: UInt64
    public let length: UInt32
    /// The data of a WRITE (4096-aligned, exactly `length` bytes).
    public let payload: NBDBuffer?
}

/// A 4096-aligned buffer (for O_DIRECT) that owns its memory.
public final class NBDBuffer: @unchecked Sendable {
    public let capacity: Int
    public var count: Int
    private let base: UnsafeMutableRawPointer

    public init(capacity: Int) {
        var raw: UnsafeMutableRawPointer?
        let size = max((capacity + 4095) & ~4095, 4096)
        precondition(posix_memalign(&raw, 4096, size) == 0, "posix_memalign(\(size)) failed")
        base = raw!
        self.capacity = capacity
        count = capacity
    }

    deinit { free(base) }

    /// The first `count` bytes.
    public var bytes: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: base, count: count) }
}

/// What a served volume implements.
public protocol NBDExport: AnyObject, Sendable {
    var name: String { get }
    var exportDescription: String { get }
    var size: UInt64 { get }
    var isReadOnly: Bool { get }
    var allowsMultipleConnections: Bool { get }
    /// READ/WRITE/FLUSH/TRIM/WRITE_ZEROES/CACHE; may complete later, on any thread, exactly once.
    func submit(_ request: NBDRequest, reply: NBDReply)
    /// nil accepts the client at OPT_GO; an error refuses it with NBD_REP_ERR_POLICY and its text.
    func clientOpened() -> NBDError?
    func clientClosed()
}
