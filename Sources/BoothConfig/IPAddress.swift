#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// IP literal parsing, with the C library's `inet_pton` as Booth uses it (no name lookup).
enum IPAddress {
    /// Network-order bytes of an IPv4 (4 bytes) or IPv6 (16 bytes) literal, else `nil`.
    static func bytes(of text: String) -> [UInt8]? {
        if text.isEmpty || text.unicodeScalars.contains(where: { !$0.isASCII || $0 == "\u{0}" }) { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }

    /// Booth's site id: zlib's CRC-32 of the binary address with the top bit cleared.
    static func boothSiteID(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1
            }
        }
        return ~crc & 0x7FFF_FFFF
    }

    /// Why `text` is not an address, and how to write it instead.
    static func explainInvalid(_ text: String, key: String) -> (message: String, fix: String) {
        let example = key == "arbitrator" ? "192.168.203.100" : "192.168.201.100"
        if text.hasPrefix("["), text.hasSuffix("]") {
            return (
                "'\(text)' is not an IP address: brackets are not part of an IPv6 address",
                "write `\(key) = \"\(text.dropFirst().dropLast())\"`"
            )
        }
        if text.contains("%") {
            return (
                "'\(text)' has a zone index ('%'), which booth cannot use",
                "write a global or unique-local IPv6 address without '%'"
            )
        }
        let colons = text.filter { $0 == ":" }.count
        if colons == 1, let head = text.split(separator: ":").first, bytes(of: String(head)) != nil {
            return (
                "'\(text)' carries a port; members cannot have their own port",
                "write `\(key) = \"\(head)\"` and set the port for all members with `port = ...`"
            )
        }
        if text.contains(where: { $0 == " " || $0 == "\t" }) {
            return (
                "'\(text)' is not an IP address (it contains a blank)",
                "write one address per `\(key)` line, e.g. `\(key) = \"\(example)\"`"
            )
        }
        if text.contains(where: \.isLetter), colons == 0 {
            return (
                "'\(text)' is not an IP address; Meridian does not look up host names "
                    + "(Booth 1.0 resolved them with DNS while reading the file)",
                "write the member's IPv4 or IPv6 address, e.g. `\(key) = \"\(example)\"`"
            )
        }
        return (
            "'\(text)' is not a valid IPv4 or IPv6 address",
            "write a literal address such as `\(key) = \"\(example)\"` or `\(key) = \"2001:db8::1\"`"
        )
    }
}
