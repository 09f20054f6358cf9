import BoothConfig
import Testing

@testable import TicketLease

/// Helpers shared by the event-by-event tests of ``TicketLease``.
enum Fixture {
    static let ticket = "db"

    /// booth.conf values for one ticket; defaults: expire 10 s, timeout 1 s, retries 3.
    static func settings(
        expire: Duration = .seconds(10), timeout: Duration = .seconds(1), retries: Int = 3,
        acquireAfter: Duration = .zero, manual: Bool = false, handler: Bool = false,
        millisecondWire: Bool = false, renewal: Duration? = nil
    ) -> LeaseSettings {
        let t = TicketConfiguration(
            name: ticket, expire: expire, timeout: timeout, retries: retries, renewalFrequency: renewal,
            acquireAfter: acquireAfter,
            beforeAcquireHandler: handler ? ["/usr/share/booth/service-runnable", ticket] : nil,
            mode: manual ? .manual : .automatic)
        return LeaseSettings(ticket: t, millisecondWireTimes: millisecondWire)
    }

    /// Two sites (0, 1) and an arbitrator (2), unless told otherwise.
    static func lease(
        _ me: Int, _ settings: LeaseSettings = settings(),
        kinds: [LeaseMembership.Kind] = [.site, .site, .arbitrator], weights: [Int]? = nil,
        seed: UInt64 = 1
    ) -> TicketLease {
        TicketLease(
            settings: settings,
            membership: LeaseMembership(kinds: kinds, weights: weights ?? kinds.map { _ in 0 }, me: me),
            seed: seed)
    }

    /// An arbitrary base instant on the member's clock (1000 s).
    static let t0 = LeaseInstant(nanoseconds: 1_000_000_000_000)

    static func msg(
        _ command: PeerCommand, request: PeerCommand? = nil, result: PeerResult = .success,
        reason: PeerReason = .none, leader: Int?, term: UInt32, valid: Duration = .zero,
        meridian: Bool = true, round: UInt16? = nil
    ) -> PeerMessage {
        PeerMessage(
            ticket: ticket, command: command, request: request, result: result, reason: reason,
            leader: leader, term: term, validFor: valid, fromMeridian: meridian, round: round)
    }

    static func state(
        term: UInt32, voteTerm: UInt32, votedFor: Int?, leader: Int? = nil,
        promisedUntil: LeaseInstant? = nil, holderUntil: LeaseInstant? = nil,
        revoked: Bool = false, manual: Bool = false
    ) -> PersistentTicketState {
        PersistentTicketState(
            term: term, voteTerm: voteTerm, votedFor: votedFor, leader: leader,
            promisedUntil: promisedUntil, holderUntil: holderUntil, revoked: revoked,
            manualGrantedHere: manual)
    }

    /// A member started at t0 whose startup period (one timeout) is over.
    static func started(
        _ me: Int, _ settings: LeaseSettings = settings(),
        kinds: [LeaseMembership.Kind] = [.site, .site, .arbitrator], weights: [Int]? = nil,
        seed: UInt64 = 1
    ) -> TicketLease {
        var l = lease(me, settings, kinds: kinds, weights: weights, seed: seed)
        _ = l.start(now: t0, restored: nil)
        _ = l.tick(now: t0 + settings.timeout)
        return l
    }

    static func backend(_ granted: Bool, until: LeaseInstant? = nil, leader: Int?, term: UInt32) -> TicketDirective {
        .backend(BackendView(granted: granted, grantedUntil: until, leader: leader, term: term))
    }

    /// Site 0 after start at t0, an administrator's grant at t0 + 2 s, and the arbitrator's
    /// vote 20 ms later: leader of term 1, its first HEARTBEAT (round 1) sent at
    /// `elected` and not yet acknowledged.
    static func electedLeader(
        _ settings: LeaseSettings = settings(), force: Bool = false
    )
        -> (lease: TicketLease, elected: LeaseInstant)
    {
        var l = started(0, settings)
        let granted = t0 + .seconds(2)
        _ = l.grant(client: 1, force: force, now: granted)
        let elected = granted + .milliseconds(20)
        _ = l.receive(msg(.voteFor, request: .requestVote, leader: 0, term: 1), from: 2, now: elected)
        return (l, elected)
    }

    /// ``electedLeader(_:force:)`` after the arbitrator acknowledged the HEARTBEAT at
    /// `acked` (elected + 30 ms): holder, with an UPDATE round (2) in progress.
    static func holdingLeader(
        _ settings: LeaseSettings = settings(), force: Bool = true
    )
        -> (lease: TicketLease, elected: LeaseInstant, acked: LeaseInstant)
    {
        var (l, elected) = electedLeader(settings, force: force)
        let acked = elected + .milliseconds(30)
        _ = l.receive(
            msg(.ack, request: .heartbeat, leader: 0, term: 1, valid: .seconds(10), round: 1),
            from: 2, now: acked)
        return (l, elected, acked)
    }

    /// Member `me` (a follower) after start at t0 and a HEARTBEAT of `leader` (default 0) in
    /// `term` (default 1) received at `at` with the given lease.
    static func follower(
        _ me: Int, _ settings: LeaseSettings = settings(), at: LeaseInstant,
        valid: Duration = .seconds(10), kinds: [LeaseMembership.Kind] = [.site, .site, .arbitrator],
        weights: [Int]? = nil, leader: Int = 0, term: UInt32 = 1
    ) -> TicketLease {
        var l = started(me, settings, kinds: kinds, weights: weights)
        _ = l.receive(msg(.heartbeat, leader: leader, term: term, valid: valid, round: 1), from: leader, now: at)
        return l
    }
}

extension Array where Element == TicketDirective {
    /// The directives without log lines (whose wording the tests do not pin down).
    var withoutLogs: [TicketDirective] {
        filter { if case .log = $0 { false } else { true } }
    }

    var logs: [String] {
        compactMap { if case .log(_, let text) = $0 { text } else { nil } }
    }

    /// Messages sent, as (receiver or nil for broadcast, message).
    var messages: [(to: Int?, message: PeerMessage)] {
        compactMap {
            switch $0 {
            case .send(let to, let m): (to, m)
            case .broadcast(let m): (nil, m)
            default: nil
            }
        }
    }

    var persisted: PersistentTicketState? {
        compactMap { if case .persist(let p) = $0 { p } else { nil } }.last
    }
}
