import Crypto
import Foundation

/// A TSIG key (RFC 8945): a name, an HMAC algorithm and a shared secret.
public struct TSIGKey: Sendable {
    public enum Algorithm: String, Sendable, CaseIterable {
        case hmacSHA256 = "hmac-sha256"
        case hmacSHA512 = "hmac-sha512"
        case hmacSHA1 = "hmac-sha1"

        /// The algorithm's domain name in the TSIG record.
        public var name: DNSName {
            // The three names are valid constants.
            // swiftlint:disable:next force_try
            try! DNSName(rawValue + ".")
        }

        init?(name: DNSName) {
            guard let match = Algorithm.allCases.first(where: { $0.name == name }) else { return nil }
            self = match
        }
    }

    public var name: DNSName
    public var algorithm: Algorithm
    public var secret: [UInt8]

    public init(name: DNSName, algorithm: Algorithm = .hmacSHA256, secret: [UInt8]) throws(DNSError) {
        guard !secret.isEmpty else { throw .invalidKey("the secret of key \(name) is empty") }
        self.name = name
        self.algorithm = algorithm
        self.secret = secret
    }

    /// `NAME:BASE64` or `ALGORITHM:NAME:BASE64` (nsupdate's `-y` form).
    public init(spec: String) throws(DNSError) {
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let algorithm: Algorithm, name: String, secret: String
        switch parts.count {
        case 2: (algorithm, name, secret) = (.hmacSHA256, parts[0], parts[1])
        case 3:
            guard let a = Algorithm(rawValue: parts[0].lowercased()) else {
                throw .invalidKey("algorithm '\(parts[0])' is not one of \(Algorithm.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            (algorithm, name, secret) = (a, parts[1], parts[2])
        default: throw .invalidKey("expected NAME:SECRET or ALGORITHM:NAME:SECRET")
        }
        guard let bytes = Data(base64Encoded: secret) else { throw .invalidKey("the secret of key \(name) is not base64") }
        try self.init(name: try DNSName(name), algorithm: algorithm, secret: Array(bytes))
    }

    /// Reads the first `key` clause of a BIND key file (the output of `tsig-keygen`, or a
    /// named.conf fragment): `key "NAME" { algorithm hmac-sha256; secret "BASE64"; };`.
    public static func parse(keyFile text: String, path: String) throws(DNSError) -> TSIGKey {
        let tokens = tokenize(text)
        var i = 0
        func fail(_ line: Int, _ why: String) -> DNSError { .keyFile(path: path, line: line, why) }
        while i < tokens.count, tokens[i].text != "key" { i += 1 }
        guard i < tokens.count else { throw fail(1, "no `key \"NAME\" { ... };` clause found") }
        let keyLine = tokens[i].line
        guard i + 2 < tokens.count, tokens[i + 2].text == "{" else {
            throw fail(keyLine, "expected `key \"NAME\" {`")
        }
        let nameText = tokens[i + 1].text
        i += 3
        var algorithm: Algorithm?, secret: [UInt8]?
        while i < tokens.count, tokens[i].text != "}" {
            let word = tokens[i], line = word.line
            guard i + 2 < tokens.count, tokens[i + 2].text == ";" else { throw fail(line, "expected `\(word.text) VALUE;`") }
            let value = tokens[i + 1].text
            switch word.text {
            case "algorithm":
                guard let a = Algorithm(rawValue: value.lowercased()) else {
                    throw fail(line, "algorithm '\(value)' is not supported (use \(Algorithm.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                algorithm = a
            case "secret":
                guard let bytes = Data(base64Encoded: value) else { throw fail(line, "the secret is not valid base64") }
                secret = Array(bytes)
            default: throw fail(line, "unknown statement '\(word.text)' in a key clause")
            }
            i += 3
        }
        guard let algorithm else { throw fail(keyLine, "key \(nameText) has no algorithm statement") }
        guard let secret else { throw fail(keyLine, "key \(nameText) has no secret statement") }
        do {
            return try TSIGKey(name: try DNSName(nameText), algorithm: algorithm, secret: secret)
        } catch {
            throw fail(keyLine, error.description)
        }
    }

    private static func tokenize(_ text: String) -> [(text: String, line: Int)] {
        var tokens: [(String, Int)] = []
        var line = 1
        var chars = Array(text)[...]
        while let c = chars.first {
            if c == "\n" { line += 1; chars.removeFirst(); continue }
            if c.isWhitespace { chars.removeFirst(); continue }
            if c == "#" || (c == "/" && chars.dropFirst().first == "/") {
                while let d = chars.first, d != "\n" { chars.removeFirst() }
                continue
            }
            if c == "{" || c == "}" || c == ";" { tokens.append((String(c), line)); chars.removeFirst(); continue }
            if c == "\"" {
                chars.removeFirst()
                var word = ""
                while let d = chars.first, d != "\"" { word.append(d); chars.removeFirst() }
                chars.removeFirst(min(1, chars.count))
                tokens.append((word, line))
                continue
            }
            var word = ""
            while let d = chars.first, !d.isWhitespace, !"{};\"".contains(d) { word.append(d); chars.removeFirst() }
            tokens.append((word, line))
        }
        return tokens
    }

    func mac(_ data: [UInt8]) -> [UInt8] {
        let key = SymmetricKey(data: secret)
        switch algorithm {
        case .hmacSHA256: return Array(HMAC<SHA256>.authenticationCode(for: data, using: key))
        case .hmacSHA512: return Array(HMAC<SHA512>.authenticationCode(for: data, using: key))
        case .hmacSHA1: return Array(HMAC<Insecure.SHA1>.authenticationCode(for: data, using: key))
        }
    }
}

/// The fields of a TSIG record's RDATA (RFC 8945 §4.2).
public struct TSIGRecord: Sendable, Equatable {
    public var algorithm: DNSName
    public var timeSigned: UInt64
    public var fudge: UInt16
    public var mac: [UInt8]
    public var originalID: UInt16
    public var error: DNSRcode
    public var otherData: [UInt8]

    func encodeRData() -> [UInt8] {
        var out: [UInt8] = []
        algorithm.encode(into: &out)
        out.appendBigEndian(UInt16(timeSigned >> 32 & 0xFFFF))
        out.appendBigEndian(UInt32(timeSigned & 0xFFFF_FFFF))
        out.appendBigEndian(fudge)
        out.appendBigEndian(UInt16(mac.count))
        out.append(contentsOf: mac)
        out.appendBigEndian(originalID)
        out.appendBigEndian(error.rawValue)
        out.appendBigEndian(UInt16(otherData.count))
        out.append(contentsOf: otherData)
        return out
    }

    static func decode(_ rdata: [UInt8]) throws(DNSError) -> TSIGRecord {
        var r = WireReader(rdata)
        let algorithm = try r.name()
        let high = UInt64(try r.u16()), low = UInt64(try r.u32())
        let fudge = try r.u16()
        let mac = try r.take(Int(try r.u16()))
        let id = try r.u16()
        let error = DNSRcode(rawValue: try r.u16())
        let other = try r.take(Int(try r.u16()))
        guard r.offset == rdata.count else { throw .malformed("TSIG RDATA has \(rdata.count - r.offset) trailing bytes") }
        return TSIGRecord(algorithm: algorithm, timeSigned: high << 32 | low, fudge: fudge, mac: mac, originalID: id,
                          error: error, otherData: other)
    }

    /// The "TSIG variables" of the digest (RFC 8945 §4.3.3), for the record owned by `keyName`.
    func digestVariables(keyName: DNSName) -> [UInt8] {
        var out: [UInt8] = []
        keyName.canonical.encode(into: &out)
        out.appendBigEndian(DNSClass.any.rawValue)
        out.appendBigEndian(UInt32(0))
        algorithm.canonical.encode(into: &out)
        out.appendBigEndian(UInt16(timeSigned >> 32 & 0xFFFF))
        out.appendBigEndian(UInt32(timeSigned & 0xFFFF_FFFF))
        out.appendBigEndian(fudge)
        out.appendBigEndian(error.rawValue)
        out.appendBigEndian(UInt16(otherData.count))
        out.append(contentsOf: otherData)
        return out
    }
}

/// Signing requests and verifying responses.
public enum TSIG {
    public static let defaultFudge: UInt16 = 300

    /// Appends a TSIG record to `message` (which must not have one); returns the wire bytes
    /// and the request MAC, which the response's MAC covers.
    public static func sign(_ message: DNSMessage, key: TSIGKey, time: UInt64, fudge: UInt16 = defaultFudge)
        -> (wire: [UInt8], mac: [UInt8])
    {
        var tsig = TSIGRecord(algorithm: key.algorithm.name, timeSigned: time, fudge: fudge, mac: [],
                              originalID: message.id, error: .noError, otherData: [])
        var digest = message.encode()
        digest += tsig.digestVariables(keyName: key.name)
        tsig.mac = key.mac(digest)
        var signed = message
        signed.additional.append(DNSRecord(name: key.name, type: .tsig, dnsClass: .any, ttl: 0, data: tsig.encodeRData()))
        return (signed.encode(), tsig.mac)
    }

    /// The TSIG record of a received message, if its last additional record is one.
    public static func record(of message: DNSMessage) throws(DNSError) -> (owner: DNSName, tsig: TSIGRecord)? {
        guard let last = message.additional.last, last.type == .tsig else { return nil }
        return (last.name, try TSIGRecord.decode(last.data))
    }

    /// Verifies a response to a request whose MAC was `requestMAC`. Returns the response's
    /// TSIG record (its `error` says what the server thought of the request); throws if the
    /// response is unsigned or its MAC does not verify — except for the unsigned errors
    /// BADSIG and BADKEY, which a server sends without a MAC (RFC 8945 §5.3.2).
    public static func verify(response wire: [UInt8], message: DNSMessage, requestMAC: [UInt8], key: TSIGKey,
                              server: String) throws(DNSError) -> TSIGRecord
    {
        guard let (owner, tsig) = try record(of: message) else {
            throw .responseNotAuthentic(server: server, "it carries no TSIG record (a signed request must get a signed answer)")
        }
        guard owner == key.name else {
            throw .responseNotAuthentic(server: server, "it is signed with key \(owner), not \(key.name)")
        }
        if tsig.mac.isEmpty, tsig.error == .badSig || tsig.error == .badKey { return tsig }
        guard tsig.algorithm == key.algorithm.name else {
            throw .responseNotAuthentic(server: server, "it is signed with \(tsig.algorithm), not \(key.algorithm.rawValue)")
        }
        // The response without its TSIG record, with the original ID and ARCOUNT minus one.
        var unsigned = message
        unsigned.additional.removeLast()
        unsigned.id = tsig.originalID
        var digest: [UInt8] = []
        digest.appendBigEndian(UInt16(requestMAC.count))
        digest += requestMAC
        digest += unsignedWire(wire, message: unsigned)
        digest += tsig.digestVariables(keyName: key.name)
        let expected = key.mac(digest)
        guard constantTimeEqual(expected, tsig.mac) else {
            throw .responseNotAuthentic(server: server, "its TSIG MAC does not verify with key \(key.name)")
        }
        return tsig
    }

    /// The received bytes up to the TSIG record with the header fixed up: names in the
    /// response may be compressed, so the digest must use the bytes as received, not a
    /// re-encoding.
    static func unsignedWire(_ wire: [UInt8], message: DNSMessage) -> [UInt8] {
        var reader = WireReader(wire)
        reader.offset = 12
        // Skip to the start of the last additional record (the TSIG one).
        do {
            for _ in message.questions { _ = try reader.name(); reader.offset += 4 }
            for _ in 0..<(message.answers.count + message.authority.count + message.additional.count) {
                _ = try reader.record()
            }
        } catch {
            return message.encode()
        }
        var bytes = Array(wire[0..<reader.offset])
        bytes[0] = UInt8(message.id >> 8)
        bytes[1] = UInt8(message.id & 0xFF)
        let count = UInt16(message.additional.count)
        bytes[10] = UInt8(count >> 8)
        bytes[11] = UInt8(count & 0xFF)
        return bytes
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}
