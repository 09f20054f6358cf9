/// Booth's geo attributes (the `geostore` client): per-ticket name/value pairs kept by a site
/// daemon and tested by `attr-prereq`. A request is a header with ``BoothWire/optAttr`` set,
/// a 256-byte payload (ticket[64], name[64], value[128]) and the HMAC trailer.
extension BoothCommand {
    public static let attributeSet = BoothCommand(rawValue: BoothWire.fourCC("ASet"))
    public static let attributeGet = BoothCommand(rawValue: BoothWire.fourCC("AGet"))
    public static let attributeDelete = BoothCommand(rawValue: BoothWire.fourCC("ADel"))
    public static let attributeList = BoothCommand(rawValue: BoothWire.fourCC("ALst"))

    public var isAttributeCommand: Bool {
        [.attributeSet, .attributeGet, .attributeDelete, .attributeList].contains(self)
    }
}

/// The payload of an attribute request.
public struct BoothAttributePayload: Sendable, Equatable {
    public static let size = 256
    public static let valueLength = 128
    public var ticket: String
    public var name: String
    public var value: String

    public init(ticket: String, name: String, value: String) {
        self.ticket = ticket
        self.name = name
        self.value = value
    }

    /// NUL-padded fields; nil when a field does not fit (name 63 bytes, value 127).
    public func encoded() -> [UInt8]? {
        func field(_ s: String, _ n: Int) -> [UInt8]? {
            let b = Array(s.utf8)
            guard b.count < n, !b.contains(0) else { return nil }
            return b + [UInt8](repeating: 0, count: n - b.count)
        }
        guard let t = field(ticket, BoothWire.nameLength), let n = field(name, BoothWire.nameLength),
              let v = field(value, Self.valueLength) else { return nil }
        return t + n + v
    }

    public static func decode(_ bytes: [UInt8], at offset: Int) throws(BoothDecodeError) -> BoothAttributePayload {
        guard bytes.count >= offset + size else { throw .truncated(got: bytes.count, need: offset + size) }
        func field(_ start: Int, _ n: Int) throws(BoothDecodeError) -> String {
            let slice = bytes[(offset + start)..<(offset + start + n)]
            guard let nul = slice.firstIndex(of: 0), let s = String(validating: slice[slice.startIndex..<nul], as: UTF8.self)
            else { throw .badTicketName }
            return s
        }
        return BoothAttributePayload(ticket: try field(0, 64), name: try field(64, 64), value: try field(128, 128))
    }

    /// A signed (when `key` is set) attribute request.
    public static func request(_ command: BoothCommand, _ payload: BoothAttributePayload, from: UInt32,
                               key: AuthKey?, timestamp: BoothTimestamp) -> [UInt8]? {
        guard let body = payload.encoded() else { return nil }
        var h = BoothHeader()
        h.cmd = command
        h.from = from
        h.opts = BoothWire.optAttr
        var bytes = BoothCodec.encode(BoothPacket(header: h), authenticated: key != nil)
        // encode() counted only the header (+ trailer): add the payload's length.
        let length = UInt32(bytes.count + size + (key != nil ? BoothWire.hmacTrailerSize : 0))
        bytes.replaceSubrange(24..<28, with: [UInt8(length >> 24), UInt8((length >> 16) & 0xFF),
                                              UInt8((length >> 8) & 0xFF), UInt8(length & 0xFF)])
        if key != nil {
            var ts = timestamp
            if ts.secs == 0 { ts.secs = 1 }
            bytes.replaceSubrange(4..<12, with: [UInt8(ts.secs >> 24), UInt8((ts.secs >> 16) & 0xFF),
                                                 UInt8((ts.secs >> 8) & 0xFF), UInt8(ts.secs & 0xFF),
                                                 UInt8(ts.usecs >> 24), UInt8((ts.usecs >> 16) & 0xFF),
                                                 UInt8((ts.usecs >> 8) & 0xFF), UInt8(ts.usecs & 0xFF)])
        }
        bytes = Array(bytes.prefix(BoothWire.headerSize)) + body
        if let key { BoothAuth.sign(&bytes, key: key) }
        return bytes
    }
}
