#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
import TicketWire

/// Local-time stamps as boothd writes them in list and peers replies: `strftime("%F %T")`
/// of `localtime()`, whole seconds, no zone.
public enum BoothTime {
    /// `2026-11-22 04:30:00` for a time in milliseconds since the epoch, in local time.
    public static func format(epochMilliseconds ms: Int64) -> String {
        var t = time_t(ms / 1000 - (ms % 1000 < 0 ? 1 : 0))
        var parts = tm()
        guard localtime_r(&t, &parts) != nil else { return "?" }
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M:%S", &parts)
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Parses `YYYY-MM-DD HH:MM:SS` as local time; milliseconds since the epoch.
    public static func parse(_ text: some StringProtocol) -> Int64? {
        let fields = text.split(whereSeparator: { $0 == "-" || $0 == " " || $0 == ":" })
        guard fields.count == 6 else { return nil }
        let numbers = fields.compactMap { Int32($0) }
        guard numbers.count == 6 else { return nil }
        var parts = tm()
        parts.tm_year = numbers[0] - 1900
        parts.tm_mon = numbers[1] - 1
        parts.tm_mday = numbers[2]
        parts.tm_hour = numbers[3]
        parts.tm_min = numbers[4]
        parts.tm_sec = numbers[5]
        parts.tm_isdst = -1
        let t = mktime(&parts)
        guard t != -1 else { return nil }
        return Int64(t) * 1000
    }
}

/// Parses the text boothd (Booth 1.0) sends for list and peers requests.
public enum BoothdText {
    /// A parsed list reply.
    public struct ListText: Sendable, Equatable {
        public var tickets: [TicketListing]
        /// boothd's "WARNING: The ticket T is granted to multiple sites: ..." lines.
        public var warnings: [String]
        /// Lines that did not parse.
        public var unparsed: [String]
    }

    /// Parses boothd's list text, one line per ticket:
    /// `ticket: T, leader: L[, expires: YYYY-MM-DD HH:MM:SS[ (commit pending until ...)]][ [manual mode]]`.
    ///
    /// `leader` is `NONE` or `none` when no one holds the ticket; `expires` is `INF` for a
    /// granted manual ticket. Term and local state are not in the text (nil); `grantedHere`
    /// compares the leader with `member`, the address of the daemon that answered.
    public static func parseList(_ text: String, member: String) -> ListText {
        var result = ListText(tickets: [], warnings: [], unparsed: [])
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = raw.trimmingSpaces()
            if line.isEmpty { continue }
            if line.hasPrefix("WARNING:") {
                result.warnings.append(line)
                continue
            }
            if let listing = parseListLine(line, member: member) {
                result.tickets.append(listing)
            } else {
                result.unparsed.append(line)
            }
        }
        return result
    }

    static func parseListLine(_ input: String, member: String) -> TicketListing? {
        var line = Substring(input)
        var manual = false
        if line.hasSuffix("[manual mode]") {
            manual = true
            line = line.dropLast("[manual mode]".count)
            while line.last == " " { line = line.dropLast() }
        }
        var commitPending: Int64?
        if let open = line.firstRange(of: " (commit pending until "), line.hasSuffix(")") {
            commitPending = BoothTime.parse(line[open.upperBound..<line.index(before: line.endIndex)])
            line = line[..<open.lowerBound]
        }
        guard line.hasPrefix("ticket: ") else { return nil }
        line = line.dropFirst("ticket: ".count)
        guard let leaderRange = line.firstRange(of: ", leader: ") else { return nil }
        let name = String(line[..<leaderRange.lowerBound])
        var rest = line[leaderRange.upperBound...]
        var expiresText: Substring?
        if let expiresRange = rest.firstRange(of: ", expires: ") {
            expiresText = rest[expiresRange.upperBound...]
            rest = rest[..<expiresRange.lowerBound]
        }
        let leaderText = String(rest)
        guard !name.isEmpty, !leaderText.isEmpty else { return nil }
        let leader: String? = leaderText.uppercased() == "NONE" ? nil : leaderText
        var expires: Int64?
        if let expiresText, expiresText != "INF" {
            guard let parsed = BoothTime.parse(expiresText) else { return nil }
            expires = parsed
        }
        return TicketListing(
            ticket: name, leader: leader, expiresEpochMs: expires, term: nil, state: nil,
            grantedHere: leader.map { $0 == member } ?? false,
            commitPendingUntilEpochMs: commitPending, mode: manual ? "manual" : "auto")
    }

    /// Parses boothd's peers text, four lines per peer:
    ///
    ///     site         127.0.1.12, last recv: 2026-11-22 04:23:50
    ///     \tSent pkts:2 error:0 resends:0
    ///     \tRecv pkts:2 error:0 authfail:0 invalid:0
    ///     (blank)
    ///
    /// A last-receive time at the epoch (boothd prints `localtime(0)`) means never.
    /// boothd has no replay counter and no unknown-sender counter: those are 0.
    public static func parsePeers(_ text: String, member: String) -> PeerListReply {
        var peers: [PeerListing] = []
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = raw.trimmingSpaces()
            if line.hasPrefix("Sent pkts:"), !peers.isEmpty {
                let v = counters(line.dropFirst("Sent ".count))
                peers[peers.count - 1].sent = v["pkts"] ?? 0
                peers[peers.count - 1].sendErrors = v["error"] ?? 0
                peers[peers.count - 1].resends = v["resends"] ?? 0
            } else if line.hasPrefix("Recv pkts:"), !peers.isEmpty {
                let v = counters(line.dropFirst("Recv ".count))
                peers[peers.count - 1].received = v["pkts"] ?? 0
                peers[peers.count - 1].receiveErrors = v["error"] ?? 0
                peers[peers.count - 1].authFailures = v["authfail"] ?? 0
                peers[peers.count - 1].invalid = v["invalid"] ?? 0
            } else if let space = line.firstIndex(of: " ") {
                let kind = String(line[..<space])
                var rest = line[space...].drop(while: { $0 == " " })
                var lastReceived: Int64?
                if let r = rest.firstRange(of: ", last recv: ") {
                    let stamp = BoothTime.parse(rest[r.upperBound...])
                    lastReceived = stamp == 0 ? nil : stamp
                    rest = rest[..<r.lowerBound]
                }
                peers.append(
                    PeerListing(
                        address: String(rest), kind: kind, lastReceivedEpochMs: lastReceived, sent: 0,
                        sendErrors: 0, resends: 0, received: 0, receiveErrors: 0, authFailures: 0, invalid: 0,
                        replays: 0, meridian: false))
            }
        }
        return PeerListReply(member: member, peers: peers, unknownSenders: 0)
    }

    /// `pkts:2 error:0 resends:0` as a dictionary.
    static func counters(_ text: Substring) -> [String: Int] {
        var out: [String: Int] = [:]
        for field in text.split(separator: " ") {
            let kv = field.split(separator: ":", maxSplits: 1)
            if kv.count == 2, let v = Int(kv[1]) { out[String(kv[0])] = v }
        }
        return out
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = lastIndex(where: { !isSpace($0) })!
        return String(self[first...last])
    }
}
