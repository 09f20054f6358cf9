import BoothConfig
import TicketWire

/// The client side of Booth 1.0's TCP client protocol as pure functions: how a request is
/// encoded and how a reply is framed, authenticated and split into its parts. No I/O, no
/// clock: the caller passes the key and the timestamp.
///
/// A request is a 48-byte header, the 76-byte ticket payload (the ticket name; boothd reads
/// it for grant and revoke and ignores it for list and peers) and, when an authfile is
/// configured, the 28-byte HMAC trailer over both.
///
/// Replies come in two shapes:
/// * `CL_RESULT` (`Rslt`): header, ticket payload, trailer, all covered by the HMAC; the
///   ticket payload is missing when boothd refuses a request before reading it (its
///   authentication error reply is header + trailer).
/// * `CL_LIST` (`RLst`): header, trailer, then text (boothd's `send_header_plus`): the HMAC
///   covers the header only and `length` counts the text.
public enum ClientMessages {
    /// The largest reply accepted. boothd's list text grows with the number of tickets and a
    /// Meridian daemon's JSON with its counters, so replies are not held to
    /// ``BoothWire/maxPacketSize`` (the peer-packet limit).
    public static let maximumReplySize = 16 * 1024 * 1024

    /// Encodes a client request.
    ///
    /// - Parameters:
    ///   - command: `.list`, `.peers`, `.grant` or `.revoke`.
    ///   - ticket: the ticket name (empty for list and peers).
    ///   - options: the header `options` field: ``BoothClientOptions`` bits for grant and
    ///     revoke, ``ClientExtension/jsonRequestOptions`` for list and peers.
    ///   - from: the header `from` field (the target's site id; boothd does not read it).
    ///   - key: the authfile key; `nil` sends an unsigned request.
    ///   - timestamp: the wall-clock time, checked by boothd against `maxtimeskew`.
    public static func request(
        _ command: BoothCommand, ticket: String, options: UInt32, from: UInt32,
        key: AuthKey?, timestamp: BoothTimestamp
    ) -> [UInt8] {
        var header = BoothHeader()
        header.cmd = command
        header.options = options
        header.from = from
        let payload = BoothTicketPayload(ticket: ticket, leader: 0, term: 0, termValidFor: 0)
        return BoothPeerDecoder.encode(BoothPacket(header: header, ticket: payload), key: key, timestamp: timestamp)
    }

    /// Decodes the 48-byte header of a reply: magic, version and a length between 48 bytes
    /// and ``maximumReplySize``.
    public static func replyHeader(_ bytes: [UInt8]) throws(ReplyError) -> BoothHeader {
        guard bytes.count >= BoothWire.headerSize else {
            throw .malformed("reply header is \(bytes.count) bytes, expected \(BoothWire.headerSize)")
        }
        func word(_ i: Int) -> UInt32 {
            UInt32(bytes[i]) << 24 | UInt32(bytes[i + 1]) << 16 | UInt32(bytes[i + 2]) << 8 | UInt32(bytes[i + 3])
        }
        var h = BoothHeader()
        h.opts = word(0)
        h.secs = word(4)
        h.usecs = word(8)
        h.magic = word(12)
        h.version = word(16)
        h.from = word(20)
        h.length = word(24)
        h.cmd = BoothCommand(rawValue: word(28))
        h.request = BoothCommand(rawValue: word(32))
        h.options = word(36)
        h.reason = BoothReason(rawValue: word(40))
        h.result = BoothResult(rawValue: word(44))
        guard h.magic == BoothWire.magic else {
            throw .malformed("bad magic 0x\(String(h.magic, radix: 16)): not a Booth daemon")
        }
        guard h.version == BoothWire.version else {
            throw .malformed("unsupported protocol version 0x\(String(h.version, radix: 16))")
        }
        guard Int(h.length) >= BoothWire.headerSize, Int(h.length) <= maximumReplySize else {
            throw .malformed("reply length \(h.length) out of range")
        }
        return h
    }

    /// A reply split into its parts, authenticated.
    public struct Reply: Sendable, Equatable {
        public var header: BoothHeader
        /// The ticket payload of a `CL_RESULT` reply, when present.
        public var ticket: BoothTicketPayload?
        /// The text of a `CL_LIST` reply (boothd's text, or JSON from a Meridian daemon).
        public var text: String?
        /// The reply was signed and the HMAC matched the key.
        public var authenticated: Bool
    }

    /// Why a reply was not accepted.
    public enum ReplyError: Error, Sendable, Equatable, CustomStringConvertible {
        /// Not the Booth client protocol, or cut short.
        case malformed(String)
        /// The reply's HMAC does not match the key.
        case badAuthentication
        /// An authfile is configured here but the reply is unsigned.
        case unsignedReply
        /// No authfile is configured here but the daemon signs its replies.
        case unexpectedlySigned

        public var description: String {
            switch self {
            case let .malformed(why): why
            case .badAuthentication: "the reply's HMAC does not match this host's authfile key"
            case .unsignedReply: "the reply is unsigned, but the configuration has an authfile"
            case .unexpectedlySigned: "the reply is signed, but the configuration has no authfile"
            }
        }
    }

    /// Splits and authenticates a complete reply (`bytes.count == header.length`).
    ///
    /// With a key, the reply must be signed and its HMAC must match, except for a reply whose
    /// result is ``BoothResult/authentication``: the daemon refused our request, and that is
    /// what the caller reports, whatever the reply's own signature.
    public static func reply(_ bytes: [UInt8], key: AuthKey?) throws(ReplyError) -> Reply {
        let h = try replyHeader(bytes)
        guard bytes.count == Int(h.length) else {
            throw .malformed("reply has \(bytes.count) bytes, its header says \(h.length)")
        }
        let signed = h.opts & BoothWire.optAuth != 0
        let trailer = signed ? BoothWire.hmacTrailerSize : 0
        let isList = h.cmd == .clientList || h.cmd == .attributeGet || h.cmd == .attributeList
        // Where the signed part ends: after the header for list replies, else at the end.
        let signedEnd = isList ? BoothWire.headerSize + trailer : bytes.count
        guard signedEnd <= bytes.count, signedEnd - trailer >= BoothWire.headerSize else {
            throw .malformed("signed reply of \(bytes.count) bytes is too short for its trailer")
        }
        var authenticated = false
        if let key, h.result != .authentication {
            guard signed else { throw .unsignedReply }
            guard BoothAuth.verify(bytes, end: signedEnd, key: key) else { throw .badAuthentication }
            authenticated = true
        } else if key == nil, signed, h.result != .authentication {
            throw .unexpectedlySigned
        }
        var reply = Reply(header: h, ticket: nil, text: nil, authenticated: authenticated)
        if isList {
            reply.text = String(decoding: bytes[signedEnd...], as: UTF8.self)
        } else {
            let bodyEnd = signedEnd - trailer
            if bodyEnd >= BoothWire.headerSize + BoothWire.ticketPayloadSize {
                do {
                    reply.ticket = try BoothCodec.decodeTicket(bytes, at: BoothWire.headerSize)
                } catch {
                    throw .malformed("reply's ticket payload: \(error)")
                }
            }
        }
        return reply
    }
}
