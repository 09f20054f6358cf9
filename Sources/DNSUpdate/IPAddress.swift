#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// An IPv4 or IPv6 address: the RDATA of an A or AAAA record.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible, Comparable {
    case v4([UInt8])
    case v6([UInt8])

    public init(_ text: String) throws(DNSError) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self = .v4(withUnsafeBytes(of: &v4) { Array($0) })
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            self = .v6(withUnsafeBytes(of: &v6) { Array($0) })
            return
        }
        throw .invalidAddress(text)
    }

    /// From a record's RDATA; nil unless it is an A (4 bytes) or AAAA (16 bytes) record.
    public init?(record: DNSRecord) {
        switch (record.type, record.data.count) {
        case (.a, 4): self = .v4(record.data)
        case (.aaaa, 16): self = .v6(record.data)
        default: return nil
        }
    }

    public var type: DNSType {
        if case .v4 = self { return .a }
        return .aaaa
    }

    public var bytes: [UInt8] {
        switch self {
        case .v4(let b), .v6(let b): b
        }
    }

    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = (type == .a) ? AF_INET : AF_INET6
        return bytes.withUnsafeBytes { raw in
            inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) == nil
                ? "?" : String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        a.bytes.count != b.bytes.count ? a.bytes.count < b.bytes.count : a.bytes.lexicographicallyPrecedes(b.bytes)
    }
}
