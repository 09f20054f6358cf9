import Testing

@testable import TicketLease

/// A shell may make promises durable ahead of need (a ceiling no promise reaches past); after a
/// restart the core must refuse candidates until the ceiling.
@Suite("Restart from persisted ceilings")
struct CeilingRestoreTests {
    func restarted(_ me: Int, voteTerm: UInt32, promiseCeiling: LeaseInstant?,
                   leader: Int? = nil) -> TicketLease {
        var l = Fixture.lease(me)
        var st = Fixture.state(term: voteTerm, voteTerm: voteTerm, votedFor: nil, leader: leader)
        st.promiseCeiling = promiseCeiling
        _ = l.start(now: Fixture.t0, restored: st)
        _ = l.tick(now: Fixture.t0 + .seconds(1))
        return l
    }

    func replies(_ d: [TicketDirective]) -> [PeerMessage] {
        d.compactMap { if case .send(_, let m) = $0 { m } else { nil } }
    }

    @Test("candidates are refused until the promise ceiling, even with no leader known")
    func promiseCeiling() {
        let ceiling = Fixture.t0 + .seconds(15)
        var l = restarted(2, voteTerm: 1, promiseCeiling: ceiling)
        let before = replies(l.receive(Fixture.msg(.requestVote, reason: .admin, leader: 0, term: 5),
                                       from: 0, now: ceiling - .milliseconds(1)))
        #expect(before.map(\.command) == [.rejected])
        #expect(before.first?.result == .termStillValid)
        let after = replies(l.receive(Fixture.msg(.requestVote, reason: .admin, leader: 0, term: 5),
                                      from: 0, now: ceiling + .milliseconds(1)))
        #expect(after.map(\.command) == [.voteFor])
    }
}
