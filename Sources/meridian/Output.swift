#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import TicketClient
import TicketWire

/// Writing to the terminal, and the human and JSON forms of ticket data.
enum Output {
    /// Writes a line to stderr (by file descriptor: the C `stderr` global is not
    /// concurrency-safe in Swift 6).
    static func error(_ text: String) {
        let bytes = Array((text.hasSuffix("\n") ? text : text + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { return }
            offset += n
        }
    }

    /// Pretty, key-sorted JSON of `value`.
    static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            preconditionFailure("Internal inconsistency: cannot encode \(type(of: value)) as JSON: \(error)")
        }
    }

    /// Milliseconds since the epoch, now (wall clock).
    static func nowEpochMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// One line per ticket, as booth's list plus term and local state when known:
    /// `ticket: T, leader: L, expires: 2026-11-22 04:30:00, term: 5, state: follower`.
    static func listLine(_ t: TicketListing) -> String {
        var line = "ticket: \(t.ticket), leader: \(t.leader ?? "NONE")"
        if t.leader != nil {
            line += ", expires: " + (t.expiresEpochMs.map(BoothTime.format(epochMilliseconds:)) ?? "INF")
        }
        if let pending = t.commitPendingUntilEpochMs {
            line += " (commit pending until \(BoothTime.format(epochMilliseconds: pending)))"
        }
        if let term = t.term { line += ", term: \(term)" }
        if let state = t.state { line += ", state: \(state)" }
        if t.mode == "manual" { line += " [manual mode]" }
        return line
    }

    /// booth's peers layout, with Meridian's extra counters when the daemon reports them.
    static func peers(_ list: TicketClient.PeerList) -> String {
        var out = ""
        for p in list.reply.peers {
            let last = p.lastReceivedEpochMs.map(BoothTime.format(epochMilliseconds:)) ?? "never"
            out += "\(p.kind.padding(12)) \(p.address), last recv: \(last)"
            if list.dialect == .meridian { out += p.meridian ? " (meridian)" : " (boothd)" }
            out += "\n\tSent pkts:\(p.sent) error:\(p.sendErrors) resends:\(p.resends)\n"
            out += "\tRecv pkts:\(p.received) error:\(p.receiveErrors) authfail:\(p.authFailures) invalid:\(p.invalid)"
            if list.dialect == .meridian { out += " replays:\(p.replays)" }
            out += "\n\n"
        }
        if list.reply.unknownSenders > 0 {
            out += "packets from non-members dropped: \(list.reply.unknownSenders)\n"
        }
        return out
    }

    /// The detailed block of `meridian ticket status`.
    static func status(_ t: TicketListing, list: TicketClient.TicketList, now: Int64) -> String {
        let unknown = "unknown (boothd does not report it)"
        var rows: [(String, String)] = []
        rows.append(("ticket", t.ticket))
        var leader = t.leader ?? "NONE (not granted)"
        if t.grantedHere == true { leader += " (granted at the member asked)" }
        rows.append(("leader", leader))
        rows.append(("term", t.term.map(String.init) ?? (list.dialect == .boothd ? unknown : "-")))
        rows.append(("local state", t.state ?? (list.dialect == .boothd ? unknown : "-")))
        if let expires = t.expiresEpochMs {
            rows.append(("expires", "\(BoothTime.format(epochMilliseconds: expires)) (\(relative(expires, now: now)))"))
        } else {
            rows.append(("expires", t.leader == nil ? "-" : "never (manual ticket)"))
        }
        if let pending = t.commitPendingUntilEpochMs {
            rows.append(
                ("commit", "pending until \(BoothTime.format(epochMilliseconds: pending)) (\(relative(pending, now: now)))"))
        } else {
            rows.append(("commit", "not pending"))
        }
        rows.append(("mode", t.mode ?? "auto"))
        let daemon = list.dialect == .meridian ? "meridian-ticketd" : "boothd"
        rows.append(("member", "\(list.member) (\(list.role), \(daemon))"))
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { "\(($0.0 + ":").padding(width + 1))  \($0.1)" }.joined(separator: "\n")
    }

    /// `in 7 s` or `3 s ago`.
    static func relative(_ epochMs: Int64, now: Int64) -> String {
        let delta = epochMs - now
        if delta >= 0 { return "in \(delta / 1000) s" }
        return "\((-delta) / 1000) s ago"
    }
}

extension String {
    /// Left-aligned in a field of `width` characters (`%-12s`).
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
