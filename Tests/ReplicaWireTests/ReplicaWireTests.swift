import Testing
@testable import ReplicaWire

@Suite struct ReplicaHeaderTests {
    @Test func roundTrip() throws {
        let header = ReplicaHeader(type: .data, volume: 3, bodyLength: 4108, sequence: 0x0102_0304_0506_0708,
                                   flags: [.fua, .noAck])
        let bytes = header.encoded
        #expect(bytes.count == ReplicaWire.headerSize)
        #expect(Array(bytes[0..<4]) == [0x4D, 0x52, 0x50, 0x4C])
        let decoded = try bytes.withUnsafeBytes { try ReplicaHeader.decode($0) }
        #expect(decoded == header)
    }

    @Test func refusesBadMagic() {
        var bytes = ReplicaHeader(type: .ping).encoded
        bytes[0] = 0x00
        #expect(throws: ReplicaHeader.DecodeError.badMagic(0x0052_504C)) {
            try bytes.withUnsafeBytes { try ReplicaHeader.decode($0) }
        }
    }

    @Test func refusesUnknownType() {
        var bytes = ReplicaHeader(type: .ping).encoded
        bytes[4] = 0x7F
        bytes[5] = 0x01
        #expect(throws: ReplicaHeader.DecodeError.unknownType(0x7F01)) {
            try bytes.withUnsafeBytes { try ReplicaHeader.decode($0) }
        }
    }

    @Test func refusesOversizeControlBody() {
        let bytes = ReplicaHeader(type: .handshake, bodyLength: UInt32(ReplicaWire.maxControlBody + 1)).encoded
        #expect(throws: ReplicaHeader.DecodeError.self) { try bytes.withUnsafeBytes { try ReplicaHeader.decode($0) } }
        let data = ReplicaHeader(type: .data, bodyLength: UInt32(ReplicaWire.maxBody + 1)).encoded
        #expect(throws: ReplicaHeader.DecodeError.self) { try data.withUnsafeBytes { try ReplicaHeader.decode($0) } }
        let fine = ReplicaHeader(type: .data, bodyLength: UInt32(ReplicaWire.maxBody)).encoded
        #expect(throws: Never.self) { try fine.withUnsafeBytes { try ReplicaHeader.decode($0) } }
    }

    @Test func refusesRangePacketsWithoutTheirPrefix() {
        let bytes = ReplicaHeader(type: .resyncRequest, bodyLength: 4).encoded
        #expect(throws: ReplicaHeader.DecodeError.shortBody(type: .resyncRequest, length: 4, needed: 12)) {
            try bytes.withUnsafeBytes { try ReplicaHeader.decode($0) }
        }
    }

    @Test func rangeRoundTrip() {
        let range = ReplicaRange(offset: 1 << 40, length: 1 << 20)
        #expect(range.encoded.withUnsafeBytes { ReplicaRange.decode($0) } == range)
    }

    @Test func typeNumbersAreStable() {
        #expect(ReplicaPacketType.hello.rawValue == 1)
        #expect(ReplicaPacketType.data.rawValue == 10)
        #expect(ReplicaPacketType.resyncRequest.rawValue == 20)
        #expect(ReplicaPacketType.verifyRequest.rawValue == 30)
        #expect(ReplicaPacketType.ping.rawValue == 40)
        #expect(Set(ReplicaPacketType.allCases.map(\.rawValue)).count == ReplicaPacketType.allCases.count)
    }
}

@Suite struct ReplicaAuthTests {
    let challenge = ReplicaAuth.makeChallenge()

    @Test func challengesAreFreshAndLong() {
        #expect(challenge.count == 64)
        #expect(ReplicaAuth.makeChallenge() != challenge)
    }

    @Test(arguments: ReplicaAuth.Algorithm.allCases)
    func rightSecretVerifies(algorithm: ReplicaAuth.Algorithm) {
        let answer = ReplicaAuth.response(algorithm: algorithm, secret: "s3cret", challenge: challenge,
                                          responder: "beta", resource: "r0")
        #expect(ReplicaAuth.verify(answer, algorithm: algorithm, secret: "s3cret", challenge: challenge,
                                   responder: "beta", resource: "r0"))
    }

    @Test func wrongSecretFails() {
        let answer = ReplicaAuth.response(algorithm: .sha256, secret: "wrong", challenge: challenge,
                                          responder: "beta", resource: "r0")
        #expect(!ReplicaAuth.verify(answer, algorithm: .sha256, secret: "s3cret", challenge: challenge,
                                    responder: "beta", resource: "r0"))
    }

    @Test func answerCannotBeReflectedOrReusedForAnotherResource() {
        let answer = ReplicaAuth.response(algorithm: .sha256, secret: "s3cret", challenge: challenge,
                                          responder: "alpha", resource: "r0")
        #expect(!ReplicaAuth.verify(answer, algorithm: .sha256, secret: "s3cret", challenge: challenge,
                                    responder: "beta", resource: "r0"))
        #expect(!ReplicaAuth.verify(answer, algorithm: .sha256, secret: "s3cret", challenge: challenge,
                                    responder: "alpha", resource: "r1"))
        #expect(!ReplicaAuth.verify(Array(answer.dropLast()), algorithm: .sha256, secret: "s3cret",
                                    challenge: challenge, responder: "alpha", resource: "r0"))
    }
}
