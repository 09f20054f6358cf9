/// A fully qualified domain name as a list of labels (RFC 1035 §3.1), validated on creation:
/// labels of 1–63 octets, 255 octets on the wire at most. Text form is dotted and absolute
/// (`www.example.com.`); a missing final dot is accepted. Comparison ignores ASCII case.
public struct DNSName: Hashable, Sendable, CustomStringConvertible {
    public let labels: [[UInt8]]

    public init(labels: [[UInt8]]) throws(DNSError) {
        for label in labels where label.isEmpty || label.count > 63 {
            throw .invalidName(String(decoding: label, as: UTF8.self),
                               "a label must be 1 to 63 octets long")
        }
        let wireLength = labels.reduce(1) { $0 + 1 + $1.count }
        guard wireLength <= 255 else {
            throw .invalidName(labels.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "."),
                               "a name is at most 255 octets on the wire (this one is \(wireLength))")
        }
        self.labels = labels
    }

    /// Parses `www.example.com` or `www.example.com.`; `.` is the root. Escapes are not
    /// supported (names of services and zones do not need them).
    public init(_ text: String) throws(DNSError) {
        if text == "." {
            try self.init(labels: [])
            return
        }
        var body = Substring(text)
        if body.hasSuffix(".") { body = body.dropLast() }
        guard !body.isEmpty else { throw .invalidName(text, "the name is empty") }
        var labels: [[UInt8]] = []
        for part in body.split(separator: ".", omittingEmptySubsequences: false) {
            guard !part.isEmpty else { throw .invalidName(text, "it has an empty label (two dots in a row)") }
            guard part.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\\") }) else {
                throw .invalidName(text, "labels must be printable ASCII without spaces or backslashes")
            }
            labels.append(Array(part.utf8))
        }
        try self.init(labels: labels)
    }

    public var description: String {
        labels.isEmpty ? "." : labels.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ".") + "."
    }

    /// Canonical form (RFC 4034 §6.2): ASCII letters lower-cased. TSIG digests use it.
    public var canonical: DNSName {
        // Lower-casing keeps every label's length, so the name stays valid.
        // swiftlint:disable:next force_try
        try! DNSName(labels: labels.map { $0.map { ($0 >= 65 && $0 <= 90) ? $0 + 32 : $0 } })
    }

    /// True when `self` equals `zone` or lies below it.
    public func isSubdomain(of zone: DNSName) -> Bool {
        guard labels.count >= zone.labels.count else { return false }
        return DNSName.equalLabels(Array(labels.suffix(zone.labels.count)), zone.labels)
    }

    /// The name without its first label (the parent zone's candidate); nil for the root.
    public var parent: DNSName? {
        labels.isEmpty ? nil : try? DNSName(labels: Array(labels.dropFirst()))
    }

    public static func == (a: DNSName, b: DNSName) -> Bool { equalLabels(a.labels, b.labels) }

    public func hash(into hasher: inout Hasher) { hasher.combine(canonical.labels) }

    static func equalLabels(_ a: [[UInt8]], _ b: [[UInt8]]) -> Bool {
        guard a.count == b.count else { return false }
        for (x, y) in zip(a, b) {
            guard x.count == y.count else { return false }
            for (p, q) in zip(x, y) where lower(p) != lower(q) { return false }
        }
        return true
    }

    private static func lower(_ c: UInt8) -> UInt8 { (c >= 65 && c <= 90) ? c + 32 : c }

    /// Uncompressed wire form.
    public func encode(into out: inout [UInt8]) {
        for label in labels {
            out.append(UInt8(label.count))
            out.append(contentsOf: label)
        }
        out.append(0)
    }
}
