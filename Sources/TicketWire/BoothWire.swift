/// Booth 1.0 wire protocol: packet layout, commands, results and reasons.
///
/// Every field is a big-endian `UInt32`. A packet is a 48-byte header, an optional payload
/// (a 76-byte ticket message for peer and client ticket commands, free text for list replies)
/// and, when an authfile is configured, a 28-byte HMAC trailer (hash id + 24 bytes, SHA-1 in
/// the first 20). `length` counts header, payload and trailer (Booth's `sendmsglen`), except
/// for list replies, where the text follows the trailer.
public enum BoothWire {
    public static let magic: UInt32 = 0x5F1B_A08C
    public static let version: UInt32 = 0x0001_0003
    public static let headerSize = 48
    public static let ticketPayloadSize = 76
    public static let hmacTrailerSize = 28
    public static let nameLength = 64
    /// Packets larger than this are dropped (Booth's biggest peer packet is 152 bytes).
    public static let maxPacketSize = 4096
    /// The leader id that means "no one" (Booth's `NO_ONE`).
    public static let noOne: UInt32 = 0xFFFF_FFFF
    /// Hash id Booth writes in the trailer when built with libgcrypt (`GCRY_MD_SHA1`).
    public static let hashIDSHA1: UInt32 = 2
    /// Hash id of a libmhash build (`MHASH_SHA1`); accepted on receipt.
    public static let hashIDSHA1MHash: UInt32 = 1
    /// Header `opts` bit: the packet carries an HMAC trailer.
    public static let optAuth: UInt32 = 1
    /// Header `opts` bit: attribute message (geostore), not a ticket message.
    public static let optAttr: UInt32 = 4
    /// Marks a packet sent by Meridian in the header's `options` field of peer messages,
    /// which boothd neither sets nor reads for peer traffic. The low 16 bits are flags.
    public static let meridianTag: UInt32 = 0x4D52_0000
    public static let meridianTagMask: UInt32 = 0xFFFF_0000

    static func fourCC(_ s: StaticString) -> UInt32 {
        var v: UInt32 = 0
        s.withUTF8Buffer { for b in $0 { v = (v << 8) | UInt32(b) } }
        return v
    }
}

/// A Booth command (header `cmd` and `request`).
public struct BoothCommand: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let none = BoothCommand(rawValue: 0)
    // Client commands.
    public static let list = BoothCommand(rawValue: BoothWire.fourCC("CLst"))
    public static let grant = BoothCommand(rawValue: BoothWire.fourCC("CGnt"))
    public static let revoke = BoothCommand(rawValue: BoothWire.fourCC("CRvk"))
    public static let peers = BoothCommand(rawValue: BoothWire.fourCC("Peer"))
    // Client replies.
    public static let clientResult = BoothCommand(rawValue: BoothWire.fourCC("Rslt"))
    public static let clientList = BoothCommand(rawValue: BoothWire.fourCC("RLst"))
    public static let clientGrant = BoothCommand(rawValue: BoothWire.fourCC("RGnt"))
    public static let clientRevoke = BoothCommand(rawValue: BoothWire.fourCC("RRvk"))
    // Peer protocol.
    public static let status = BoothCommand(rawValue: BoothWire.fourCC("Stat"))
    public static let myIndex = BoothCommand(rawValue: BoothWire.fourCC("MIdx"))
    public static let requestVote = BoothCommand(rawValue: BoothWire.fourCC("RVot"))
    public static let voteFor = BoothCommand(rawValue: BoothWire.fourCC("VtFr"))
    public static let heartbeat = BoothCommand(rawValue: BoothWire.fourCC("HrtB"))
    public static let ack = BoothCommand(rawValue: BoothWire.fourCC("Ack."))
    public static let update = BoothCommand(rawValue: BoothWire.fourCC("UpdE"))
    public static let revokePeer = BoothCommand(rawValue: BoothWire.fourCC("Revk"))
    public static let rejected = BoothCommand(rawValue: BoothWire.fourCC("RJC!"))

    public var description: String { BoothWire.fourCCString(rawValue) }
}

/// A Booth result code (header `result`).
public struct BoothResult: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let success = BoothResult(rawValue: 0)
    public static let async = BoothResult(rawValue: BoothWire.fourCC("Asyn"))
    public static let more = BoothResult(rawValue: BoothWire.fourCC("More"))
    public static let syncSuccess = BoothResult(rawValue: BoothWire.fourCC("Sccs"))
    public static let syncFail = BoothResult(rawValue: BoothWire.fourCC("Fail"))
    public static let invalidArgument = BoothResult(rawValue: BoothWire.fourCC("IArg"))
    public static let noSuchAttribute = BoothResult(rawValue: BoothWire.fourCC("NAtr"))
    public static let cibPending = BoothResult(rawValue: BoothWire.fourCC("Pend"))
    public static let externalProgramFailed = BoothResult(rawValue: BoothWire.fourCC("XPrg"))
    public static let attributePrerequisite = BoothResult(rawValue: BoothWire.fourCC("APrq"))
    public static let ticketIdle = BoothResult(rawValue: BoothWire.fourCC("Tidl"))
    public static let overgrant = BoothResult(rawValue: BoothWire.fourCC("Over"))
    public static let probablySuccess = BoothResult(rawValue: BoothWire.fourCC("Suc?"))
    public static let busy = BoothResult(rawValue: BoothWire.fourCC("Busy"))
    public static let authentication = BoothResult(rawValue: BoothWire.fourCC("Auth"))
    public static let termOutdated = BoothResult(rawValue: BoothWire.fourCC("TOdt"))
    public static let termStillValid = BoothResult(rawValue: BoothWire.fourCC("TVld"))
    public static let youOutdated = BoothResult(rawValue: BoothWire.fourCC("Outd"))
    public static let redirect = BoothResult(rawValue: BoothWire.fourCC("Redr"))

    public var description: String { rawValue == 0 ? "OK" : BoothWire.fourCCString(rawValue) }
}

/// Why a peer message was sent (header `reason`).
public struct BoothReason: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let justSo = BoothReason(rawValue: 0)
    public static let again = BoothReason(rawValue: BoothWire.fourCC("Aaaa"))
    public static let ticketLost = BoothReason(rawValue: BoothWire.fourCC("TLst"))
    public static let reacquire = BoothReason(rawValue: BoothWire.fourCC("Racq"))
    public static let admin = BoothReason(rawValue: BoothWire.fourCC("Admn"))
    public static let localFail = BoothReason(rawValue: BoothWire.fourCC("LocF"))
    public static let stepDown = BoothReason(rawValue: BoothWire.fourCC("Spdn"))
    public static let split = BoothReason(rawValue: BoothWire.fourCC("Splt"))

    public var description: String { rawValue == 0 ? "-" : BoothWire.fourCCString(rawValue) }
}

/// Client command option bits (header `options` of client requests).
public struct BoothClientOptions: OptionSet, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `-F`: grant without waiting for unreachable sites.
    public static let immediate = BoothClientOptions(rawValue: 1)
    /// `-w`: wait for the election outcome.
    public static let wait = BoothClientOptions(rawValue: 2)
    /// `-C`: wait for the commit to the CIB.
    public static let waitCommit = BoothClientOptions(rawValue: 4)
}

extension BoothWire {
    /// Renders a four-character code as text, or hex when it is not printable.
    public static func fourCCString(_ v: UInt32) -> String {
        let bytes = [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
        if bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            return String(decoding: bytes, as: UTF8.self)
        }
        return "0x" + String(v, radix: 16)
    }
}
