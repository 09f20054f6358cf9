import Crypto
#if canImport(Glibc)
import Glibc
#endif

/// The shared secret of an authfile, with Booth's rules: 8 to 64 bytes, leading and trailing
/// white space trimmed when the key is ASCII, file readable by its owner only.
public struct AuthKey: Sendable, Equatable {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// Why an authfile was refused.
    public struct LoadError: Error, Sendable, CustomStringConvertible {
        public var path: String
        public var message: String
        public var fix: String
        public var description: String { "\(path): error: \(message)\n  fix: \(fix)" }
    }

    /// Applies Booth's trimming and length rules to raw file contents.
    public static func fromFileContents(_ raw: [UInt8], path: String) throws(LoadError) -> AuthKey {
        var key = Array(raw.prefix(64))
        if key.allSatisfy({ $0 < 0x80 }) {
            let isSpace: (UInt8) -> Bool = { $0 == 0x20 || ($0 >= 0x09 && $0 <= 0x0D) }
            while let f = key.first, isSpace(f) { key.removeFirst() }
            while let l = key.last, isSpace(l) { key.removeLast() }
        }
        guard key.count >= 8 else {
            throw LoadError(path: path, message: "key is \(key.count) bytes long; Booth needs 8 to 64",
                            fix: "write a longer key, e.g. `dd if=/dev/urandom bs=64 count=1 of=\(path)`")
        }
        return AuthKey(bytes: key)
    }

    /// Reads an authfile, refusing it when group or others may read it.
    public static func load(path: String) throws(LoadError) -> AuthKey {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw LoadError(path: path, message: "cannot read authfile: \(String(cString: strerror(errno)))",
                            fix: "create it with booth-keygen or `dd if=/dev/urandom bs=64 count=1`, mode 0600")
        }
        guard st.st_mode & (S_IRGRP | S_IROTH | S_IWGRP | S_IWOTH) == 0 else {
            let mode = String(st.st_mode & 0o777, radix: 8)
            throw LoadError(path: path, message: "authfile mode is 0\(mode): group or others may read or write it",
                            fix: "run `chmod 600 \(path)`")
        }
        guard let fp = fopen(path, "rb") else {
            throw LoadError(path: path, message: "cannot open authfile: \(String(cString: strerror(errno)))",
                            fix: "check the file's owner and mode (0600, owned by the daemon's user)")
        }
        defer { fclose(fp) }
        var buf = [UInt8](repeating: 0, count: 65)
        let n = fread(&buf, 1, 65, fp)
        return try fromFileContents(Array(buf.prefix(n)), path: path)
    }
}

/// Signs and verifies Booth packets: HMAC-SHA1 over header and payload, and the per-peer
/// monotonic timestamp check against replays (Booth only checks a skew window).
public enum BoothAuth {
    /// Appends the 28-byte trailer to an encoded packet.
    public static func sign(_ packet: inout [UInt8], key: AuthKey) {
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: packet, using: SymmetricKey(data: key.bytes))
        BoothCodec.appendBE(BoothWire.hashIDSHA1, to: &packet)
        var hash = Array(mac)
        hash += [UInt8](repeating: 0, count: 24 - hash.count)
        packet += hash
    }

    /// Verifies the trailer that ends at `end` and covers `[0, end - 28)`.
    public static func verify(_ packet: [UInt8], end: Int, key: AuthKey) -> Bool {
        guard end >= BoothWire.headerSize + BoothWire.hmacTrailerSize, end <= packet.count else { return false }
        let payloadEnd = end - BoothWire.hmacTrailerSize
        let hid = BoothCodec.readBE(packet, payloadEnd)
        guard hid == BoothWire.hashIDSHA1 || hid == BoothWire.hashIDSHA1MHash else { return false }
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: packet[0..<payloadEnd],
                                                         using: SymmetricKey(data: key.bytes))
        let got = packet[(payloadEnd + 4)..<(payloadEnd + 4 + 20)]
        // Constant-time comparison.
        var diff: UInt8 = 0
        for (a, b) in zip(Array(mac), got) { diff |= a ^ b }
        return diff == 0
    }
}

/// A timestamp carried in the header: wall-clock seconds and microseconds.
public struct BoothTimestamp: Comparable, Sendable {
    public var secs: UInt32
    public var usecs: UInt32
    public init(secs: UInt32, usecs: UInt32) { self.secs = secs; self.usecs = usecs }
    public static func < (a: Self, b: Self) -> Bool { (a.secs, a.usecs) < (b.secs, b.usecs) }
}

/// Decodes and authenticates a peer (UDP) ticket packet. Pure: the caller passes the key,
/// the last timestamp seen from the claimed sender and the wall time.
public enum BoothPeerDecoder {
    public struct Decoded: Sendable {
        public var packet: BoothPacket
        /// The timestamp to remember for this peer (when authenticated).
        public var timestamp: BoothTimestamp?
    }

    /// Checks structure, then the HMAC, then that the timestamp is newer than the last one from
    /// this peer (per-peer monotonic) and not older than `maxTimeSkew` from `wallNow`.
    /// A packet whose timestamp equals the last one is a replay only if its trailer is the same
    /// (`lastDigest`: the last 20 bytes of that packet), since boothd may send two in one microsecond.
    public static func decode(_ bytes: [UInt8], key: AuthKey?, lastSeen: (UInt32) -> BoothTimestamp?,
                              wallNowSeconds: Int64, maxTimeSkew: Duration,
                              allowEqualUnless lastDigest: [UInt8] = []) throws(BoothDecodeError) -> Decoded {
        guard bytes.count <= BoothWire.maxPacketSize else { throw .oversized(bytes.count) }
        let h = try BoothCodec.decodeHeader(bytes)
        guard Int(h.length) == bytes.count else {
            throw .lengthMismatch(header: Int(h.length), actual: bytes.count)
        }
        let signed = h.opts & BoothWire.optAuth != 0
        var timestamp: BoothTimestamp?
        if let key {
            guard signed, bytes.count >= BoothWire.headerSize + BoothWire.hmacTrailerSize else {
                throw .missingAuthentication
            }
            guard BoothAuth.verify(bytes, end: bytes.count, key: key) else { throw .badAuthentication }
            let ts = BoothTimestamp(secs: h.secs, usecs: h.usecs)
            if let last = lastSeen(h.from) {
                if ts < last || (ts == last && Array(bytes.suffix(20)) == lastDigest) {
                    throw .replayed(secs: h.secs, usecs: h.usecs)
                }
            }
            if Int64(h.secs) < wallNowSeconds - Int64(maxTimeSkew.components.seconds) {
                throw .stale(secs: h.secs)
            }
            timestamp = ts
        } else if signed {
            throw .unexpectedAuthentication
        }
        let bodyEnd = bytes.count - (signed ? BoothWire.hmacTrailerSize : 0)
        var packet = BoothPacket(header: h)
        if bodyEnd >= BoothWire.headerSize + BoothWire.ticketPayloadSize, h.opts & BoothWire.optAttr == 0 {
            packet.ticket = try BoothCodec.decodeTicket(bytes, at: BoothWire.headerSize)
        } else if bodyEnd != BoothWire.headerSize {
            throw .truncated(got: bodyEnd, need: BoothWire.headerSize + BoothWire.ticketPayloadSize)
        }
        return Decoded(packet: packet, timestamp: timestamp)
    }

    /// Encodes and (when `key` is set) signs a packet with the given timestamp.
    public static func encode(_ packet: BoothPacket, key: AuthKey?, timestamp: BoothTimestamp) -> [UInt8] {
        var p = packet
        if key != nil {
            p.header.secs = timestamp.secs
            p.header.usecs = timestamp.usecs
        } else {
            p.header.secs = 0
            p.header.usecs = 0
        }
        var bytes = BoothCodec.encode(p, authenticated: key != nil)
        if let key { BoothAuth.sign(&bytes, key: key) }
        // List and peers replies: the text follows the trailer (Booth's send_header_plus).
        if let text = p.text { bytes += Array(text.utf8) }
        return bytes
    }
}
