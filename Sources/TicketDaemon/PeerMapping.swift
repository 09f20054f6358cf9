import BoothConfig
import TicketLease
import TicketWire

/// Maps the core's ``PeerMessage`` to Booth packets and back: site ids, wire time units and
/// Meridian's sub-unit remainder (carried in the header's `options`, which boothd ignores).
struct PeerMapping: Sendable {
    let siteIDs: [UInt32]
    let resolution: Duration

    init(config: BoothConfiguration) {
        siteIDs = config.members.map { SiteID.compute(address: $0.address) ?? 0 }
        resolution = config.millisecondWireTimes ? .milliseconds(1) : .seconds(1)
    }

    func index(ofSiteID id: UInt32) -> Int? { siteIDs.firstIndex(of: id) }

    static let commands: [(PeerCommand, BoothCommand)] = [
        (.status, .status), (.myIndex, .myIndex), (.requestVote, .requestVote), (.voteFor, .voteFor),
        (.heartbeat, .heartbeat), (.ack, .ack), (.update, .update), (.revoke, .revokePeer), (.rejected, .rejected),
    ]
    static let results: [(PeerResult, BoothResult)] = [
        (.success, .success), (.termOutdated, .termOutdated), (.termStillValid, .termStillValid),
        (.youOutdated, .youOutdated),
    ]
    static let reasons: [(PeerReason, BoothReason)] = [
        (.none, .justSo), (.again, .again), (.ticketLost, .ticketLost), (.reacquire, .reacquire),
        (.admin, .admin), (.localFail, .localFail), (.stepDown, .stepDown),
    ]

    static let roundCommands: Set<PeerCommand> = [.heartbeat, .update, .ack]

    func packet(_ m: PeerMessage, from me: Int) -> BoothPacket {
        var h = BoothHeader()
        h.from = siteIDs[me]
        h.cmd = Self.commands.first { $0.0 == m.command }!.1
        h.request = m.request.map { r in Self.commands.first { $0.0 == r }!.1 } ?? .none
        h.result = Self.results.first { $0.0 == m.result }!.1
        h.reason = Self.reasons.first { $0.0 == m.reason }!.1
        // The round number of HEARTBEAT/UPDATE and their ACKs travels in `reason`, which boothd
        // neither sets nor reads for these commands; Meridian followers echo it.
        if let round = m.round, Self.roundCommands.contains(m.command), m.reason == .none {
            h.reason = BoothReason(rawValue: BoothWire.meridianTag | UInt32(round))
        }
        let (units, remainderMs) = encodeValid(m.validFor)
        h.options = BoothWire.meridianTag | remainderMs
        let payload = BoothTicketPayload(ticket: m.ticket, leader: m.leader.map { siteIDs[$0] } ?? BoothWire.noOne,
                                         term: m.term, termValidFor: units)
        return BoothPacket(header: h, ticket: payload)
    }

    /// Whole wire units (what boothd reads) and, for Meridian receivers, the rest in ms (rounded up).
    func encodeValid(_ v: Duration) -> (UInt32, UInt32) {
        let ns = max(0, v.nanoseconds)
        let unit = resolution.nanoseconds
        var units = ns / unit
        var rem = (ns - units * unit + 999_999) / 1_000_000
        if unit == 1_000_000 { if rem > 0 { units += 1 }; rem = 0 }
        if rem >= 1000 { units += 1; rem = 0 }
        return (UInt32(clamping: units), UInt32(rem))
    }

    enum MappingError: Error, CustomStringConvertible {
        case unknownCommand(BoothCommand), unknownLeader(UInt32), noPayload
        var description: String {
            switch self {
            case let .unknownCommand(c): "unknown peer command \(c)"
            case let .unknownLeader(l): "unknown leader site id \(l)"
            case .noPayload: "peer packet without ticket payload"
            }
        }
    }

    func message(_ p: BoothPacket) throws(MappingError) -> PeerMessage {
        guard let t = p.ticket else { throw .noPayload }
        guard let cmd = Self.commands.first(where: { $0.1 == p.header.cmd })?.0 else {
            throw .unknownCommand(p.header.cmd)
        }
        let request = Self.commands.first { $0.1 == p.header.request }?.0
        let result = Self.results.first { $0.1 == p.header.result }?.0 ?? .success
        var reason = Self.reasons.first { $0.1 == p.header.reason }?.0 ?? .none
        var round: UInt16?
        if p.header.reason.rawValue & BoothWire.meridianTagMask == BoothWire.meridianTag,
           Self.roundCommands.contains(cmd) {
            round = UInt16(p.header.reason.rawValue & 0xFFFF)
            reason = .none
        }
        var leader: Int?
        if t.leader != BoothWire.noOne && t.leader != 0 {
            guard let l = index(ofSiteID: t.leader) else { throw .unknownLeader(t.leader) }
            leader = l
        }
        let meridian = p.header.options & BoothWire.meridianTagMask == BoothWire.meridianTag
        var valid = resolution * Int(t.termValidFor)
        if meridian { valid += .milliseconds(Int(p.header.options & 0xFFFF) % 1000) }
        var m = PeerMessage(ticket: t.ticket, command: cmd, request: request, result: result, reason: reason,
                            leader: leader, term: t.term, validFor: valid, fromMeridian: meridian)
        m.round = meridian ? round : nil
        return m
    }
}
