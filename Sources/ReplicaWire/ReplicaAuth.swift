import Crypto

/// Peer authentication: DRBD's `cram-hmac-alg` challenge-response with the resource's
/// `shared-secret`, done in both directions before any other packet is accepted.
///
/// Each side sends a 32-byte random challenge in its ``Hello``; the other answers with
/// HMAC(secret, challenge ‖ responder's node name ‖ resource name). Binding the responder's
/// name and the resource into the MAC means an answer cannot be reflected back to its sender
/// or replayed for another resource (DRBD binds nothing but the challenge and relies on the
/// challenges of the two sides differing).
public enum ReplicaAuth {
    /// The algorithms `cram-hmac-alg` may name.
    public enum Algorithm: String, Sendable, CaseIterable {
        case sha1, sha256, sha512
    }

    /// Fresh 32-byte challenge, hex.
    public static func makeChallenge() -> String {
        var generator = SystemRandomNumberGenerator()
        return hex((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    /// The answer `responder` sends for `challenge`.
    public static func response(algorithm: Algorithm, secret: String, challenge: String, responder: String,
                                resource: String) -> [UInt8] {
        let key = SymmetricKey(data: Array(secret.utf8))
        let message = Array(challenge.utf8) + [0] + Array(responder.utf8) + [0] + Array(resource.utf8)
        switch algorithm {
        case .sha1: return Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: key))
        case .sha256: return Array(HMAC<SHA256>.authenticationCode(for: message, using: key))
        case .sha512: return Array(HMAC<SHA512>.authenticationCode(for: message, using: key))
        }
    }

    /// Checks an answer in constant time.
    public static func verify(_ answer: [UInt8], algorithm: Algorithm, secret: String, challenge: String,
                              responder: String, resource: String) -> Bool {
        let expected = response(algorithm: algorithm, secret: secret, challenge: challenge, responder: responder,
                                resource: resource)
        guard answer.count == expected.count else { return false }
        var difference: UInt8 = 0
        for (a, b) in zip(answer, expected) { difference |= a ^ b }
        return difference == 0
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
