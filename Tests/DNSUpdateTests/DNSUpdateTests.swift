import Crypto
import Foundation
import Testing

@testable import DNSUpdate

@Suite struct DNSNameTests {
    @Test func parsesAndPrints() throws {
        #expect(try DNSName("www.Example.com").description == "www.Example.com.")
        #expect(try DNSName("www.example.com.") == DNSName("WWW.EXAMPLE.COM"))
        #expect(try DNSName(".").labels.isEmpty)
        #expect(try DNSName("a.b.example.com").isSubdomain(of: DNSName("Example.com")))
        #expect(try !DNSName("example.org").isSubdomain(of: DNSName("example.com")))
        #expect(try DNSName("a.example.com").parent == DNSName("example.com"))
        var wire: [UInt8] = []
        try DNSName("ab.C").encode(into: &wire)
        #expect(wire == [2, 97, 98, 1, 67, 0])
        var canonical: [UInt8] = []
        try DNSName("ab.C").canonical.encode(into: &canonical)
        #expect(canonical == [2, 97, 98, 1, 99, 0])
    }

    @Test func refusesBadNamesWithTheReason() {
        func why(_ text: String) -> String {
            do {
                _ = try DNSName(text)
                return "accepted"
            } catch { return error.description }
        }
        #expect(why("") .contains("empty"))
        #expect(why("a..b").contains("two dots"))
        #expect(why(String(repeating: "x", count: 64) + ".com").contains("1 to 63 octets"))
        #expect(why(Array(repeating: String(repeating: "x", count: 60), count: 5).joined(separator: ".")).contains("255"))
        #expect(why("a b.com").contains("printable"))
    }
}

@Suite struct DNSMessageTests {
    @Test func updateRoundTrip() throws {
        var m = DNSMessage(id: 0xBEEF)
        m.opcode = .update
        m.questions = [DNSQuestion(name: try DNSName("example.test"), type: .soa)]
        m.authority = [
            DNSRecord(name: try DNSName("www.example.test"), type: .a, dnsClass: .any),
            DNSRecord(name: try DNSName("www.example.test"), type: .a, ttl: 60, data: [192, 0, 2, 10]),
        ]
        let wire = m.encode()
        #expect(Array(wire[0..<12]) == [0xBE, 0xEF, 0x28, 0x00, 0, 1, 0, 0, 0, 2, 0, 0])
        let back = try DNSMessage.decode(wire)
        #expect(back.id == 0xBEEF && back.opcode == .update && !back.isResponse)
        #expect(back.questions == m.questions && back.authority == m.authority)
    }

    @Test func followsCompressionPointersBackwardsOnly() throws {
        // Question www.example.test A; answer with owner = pointer to offset 12.
        var m = DNSMessage(id: 1)
        m.isResponse = true
        m.authoritative = true
        m.questions = [DNSQuestion(name: try DNSName("www.example.test"), type: .a)]
        var wire = m.encode()
        wire[7] = 1  // ANCOUNT = 1
        wire += [0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]
        let decoded = try DNSMessage.decode(wire)
        #expect(decoded.answers.first?.name == (try DNSName("www.example.test")))
        #expect(decoded.answers.first.flatMap(IPAddress.init(record:)) == (try IPAddress("192.0.2.7")))
        // The answer starts after the header (12) and the question (18-byte name, type, class):
        // a pointer there to itself (a loop) is refused.
        let answerOffset = 12 + 18 + 4
        #expect(wire[answerOffset] == 0xC0)
        var looping = wire
        looping[answerOffset + 1] = UInt8(answerOffset)
        #expect(throws: DNSError.self) { try DNSMessage.decode(looping) }
    }

    /// Every truncation and 2,000 random corruptions of a valid answer either decode or throw.
    @Test func corruptPacketsNeverCrash() throws {
        var m = DNSMessage(id: 7)
        m.isResponse = true
        m.questions = [DNSQuestion(name: try DNSName("www.example.test"), type: .a)]
        m.answers = [DNSRecord(name: try DNSName("www.example.test"), type: .a, ttl: 5, data: [1, 2, 3, 4])]
        let wire = m.encode()
        for n in 0..<wire.count { _ = try? DNSMessage.decode(Array(wire[0..<n])) }
        var rng = SystemRandomNumberGenerator()
        var decodedSome = 0
        for _ in 0..<2000 {
            var w = wire
            for _ in 0..<Int.random(in: 1...4, using: &rng) { w[Int.random(in: 0..<w.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            if (try? DNSMessage.decode(w)) != nil { decodedSome += 1 }
        }
        #expect(decodedSome > 0)
    }
}

@Suite struct TSIGTests {
    let key = try! TSIGKey(name: DNSName("meridian-key"), secret: Array("0123456789abcdef0123456789abcdef".utf8))

    /// The request MAC computed by hand from RFC 8945 §4.3.3's layout: message, then key name,
    /// class ANY, TTL 0, algorithm name, 48-bit time, fudge, error, other length.
    @Test func requestMACCoversTheRFCLayout() throws {
        var m = DNSMessage(id: 0x1234)
        m.opcode = .update
        m.questions = [DNSQuestion(name: try DNSName("example.test"), type: .soa)]
        let (wire, mac) = TSIG.sign(m, key: key, time: 0x0001_6000_0000, fudge: 300)
        var digest = m.encode()
        digest += [12] + Array("meridian-key".utf8) + [0]
        digest += [0x00, 0xFF, 0, 0, 0, 0]
        digest += [11] + Array("hmac-sha256".utf8) + [0]
        digest += [0x00, 0x01, 0x60, 0x00, 0x00, 0x00, 0x01, 0x2C, 0, 0, 0, 0]
        let expected = Array(HMAC<SHA256>.authenticationCode(for: digest, using: SymmetricKey(data: key.secret)))
        #expect(mac == expected)
        let decoded = try DNSMessage.decode(wire)
        #expect(decoded.additional.count == 1)
        let record = try #require(try TSIG.record(of: decoded))
        #expect(record.owner == key.name && record.tsig.mac == expected && record.tsig.originalID == 0x1234)
        #expect(record.tsig.timeSigned == 0x0001_6000_0000 && record.tsig.fudge == 300)
    }

    /// A response signed the way a server signs it verifies; one changed byte, another key
    /// or a missing signature do not.
    @Test func verifiesResponsesAndRefusesTamperedOnes() throws {
        var request = DNSMessage(id: 42)
        request.opcode = .update
        request.questions = [DNSQuestion(name: try DNSName("example.test"), type: .soa)]
        let (_, requestMAC) = TSIG.sign(request, key: key, time: 1_800_000_000)

        var response = request
        response.isResponse = true
        var tsig = TSIGRecord(algorithm: key.algorithm.name, timeSigned: 1_800_000_001, fudge: 300, mac: [],
                              originalID: 42, error: .noError, otherData: [])
        var digest: [UInt8] = [0, UInt8(requestMAC.count)] + requestMAC + response.encode()
        digest += tsig.digestVariables(keyName: key.name)
        tsig.mac = key.mac(digest)
        var signed = response
        signed.additional = [DNSRecord(name: key.name, type: .tsig, dnsClass: .any, data: tsig.encodeRData())]
        let wire = signed.encode()
        let verified = try TSIG.verify(response: wire, message: try DNSMessage.decode(wire), requestMAC: requestMAC,
                                       key: key, server: "s")
        #expect(verified.error == .noError)

        var tampered = wire
        tampered[3] ^= 0x05  // the RCODE
        #expect(throws: DNSError.self) {
            _ = try TSIG.verify(response: tampered, message: try DNSMessage.decode(tampered), requestMAC: requestMAC,
                                key: key, server: "s")
        }
        let other = try TSIGKey(name: key.name, secret: Array("another secret".utf8))
        #expect(throws: DNSError.self) {
            _ = try TSIG.verify(response: wire, message: try DNSMessage.decode(wire), requestMAC: requestMAC,
                                key: other, server: "s")
        }
        let unsigned = response.encode()
        #expect(throws: DNSError.self) {
            _ = try TSIG.verify(response: unsigned, message: try DNSMessage.decode(unsigned), requestMAC: requestMAC,
                                key: key, server: "s")
        }
    }

    @Test func readsTsigKeygenFilesAndNamesTheLineOfAnError() throws {
        let text = """
            key "site-a" {
            \talgorithm hmac-sha256;
            \tsecret "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
            };
            """
        let k = try TSIGKey.parse(keyFile: text, path: "a.key")
        #expect(k.name == (try DNSName("site-a")) && k.algorithm == .hmacSHA256 && k.secret.count == 32)
        func error(_ text: String) -> String {
            do {
                _ = try TSIGKey.parse(keyFile: text, path: "k")
                return "accepted"
            } catch { return error.description }
        }
        #expect(error("") == "k:1: no `key \"NAME\" { ... };` clause found")
        #expect(error("key \"x\" {\n algorithm hmac-md5;\n secret \"AA==\";\n};").hasPrefix("k:2: algorithm 'hmac-md5'"))
        #expect(error("key \"x\" {\n algorithm hmac-sha256;\n secret \"***\";\n};").hasPrefix("k:3: the secret is not valid base64"))
        #expect(error("key \"x\" {\n algorithm hmac-sha256;\n};").hasPrefix("k:1: key x has no secret"))
        #expect(try TSIGKey(spec: "hmac-sha512:k2:AAAA").algorithm == .hmacSHA512)
        #expect(throws: DNSError.self) { try TSIGKey(spec: "k2") }
    }
}

@Suite struct IPAddressTests {
    @Test func parsesBothFamilies() throws {
        #expect(try IPAddress("192.0.2.1").type == .a)
        #expect(try IPAddress("2001:db8::1").type == .aaaa)
        #expect(try IPAddress("2001:DB8::1").description == "2001:db8::1")
        #expect(throws: DNSError.invalidAddress("www")) { try IPAddress("www") }
        #expect(throws: DNSError.invalidAddress("300.1.1.1")) { try IPAddress("300.1.1.1") }
    }
}
