import Testing

@testable import TicketLease

/// One test per bug that the simulation (or these tests) found in the core; each names the
/// commit's subject. They replay the essential events by hand.
@Suite struct RegressionTests {
    typealias F = Fixture
    let t0 = Fixture.t0

    /// "rounds carry a number that Meridian followers echo in their ACK"
    @Test func aLateAckOfAnEarlierRoundDoesNotExtendTheLease() {
        var (l, elected, acked) = F.holdingLeader()
        let hold = l.settings.holdTime(granted: .seconds(10))
        for m in [2, 1] {
            _ = l.receive(
                F.msg(.ack, request: .update, leader: 0, term: 1, valid: .seconds(10), round: 2), from: m,
                now: acked + .milliseconds(10))
        }
        #expect(l.holderUntil == acked + hold)
        // Renewal: HEARTBEAT round 3. Member 1's ACK of round 1's HEARTBEAT arrives only now.
        let renewal = elected + .seconds(5)
        _ = l.tick(now: renewal)
        let late = l.receive(
            F.msg(.ack, request: .heartbeat, leader: 0, term: 1, valid: .seconds(10), round: 1),
            from: 1, now: renewal + .milliseconds(500))
        #expect(late.isEmpty)
        #expect(l.holderUntil == acked + hold)
        // The ACK of this round counts.
        _ = l.receive(
            F.msg(.ack, request: .heartbeat, leader: 0, term: 1, valid: .seconds(10), round: 3), from: 1,
            now: renewal + .milliseconds(600))
        #expect(l.holderUntil == renewal + hold)
    }

    @Test func anAckWithoutRoundFromBoothdStillCounts() {
        var (l, elected) = F.electedLeader(force: true)
        _ = l.receive(
            F.msg(.ack, request: .heartbeat, leader: 0, term: 1, valid: .seconds(10), meridian: false),
            from: 2, now: elected + .milliseconds(30))
        #expect(l.isHolder(at: elected + .milliseconds(30)))
    }

    @Test func followersEchoTheRoundAndStartRoundToUsesANumberOfItsOwn() {
        var f = F.started(1)
        let d = f.receive(
            F.msg(.update, leader: 0, term: 1, valid: .seconds(10), round: 77), from: 0,
            now: t0 + .seconds(3))
        #expect(d.messages.map(\.message.round) == [77])
        // A member that reports another leader gets an UPDATE whose number no round uses.
        var (l, elected, _) = F.holdingLeader()
        let u = l.receive(
            F.msg(.myIndex, request: .status, leader: 1, term: 1, valid: .seconds(3)), from: 1,
            now: elected + .seconds(1))
        #expect(u.messages.map(\.message.round) == [3])
        let ack = l.receive(
            F.msg(.ack, request: .update, leader: 0, term: 1, valid: .seconds(9), round: 3), from: 1,
            now: elected + .seconds(1) + .milliseconds(5))
        #expect(ack.isEmpty)
    }

    /// "a candidate whose term moved on does not win its old election"
    @Test func aCandidateThatLearnsAHigherTermDoesNotLeadIt() {
        var l = F.started(0)
        let at = t0 + .seconds(2)
        _ = l.grant(client: 1, force: true, now: at)
        _ = l.receive(
            F.msg(.rejected, request: .requestVote, result: .termOutdated, leader: nil, term: 7), from: 1,
            now: at + .milliseconds(10))
        let vote = l.receive(
            F.msg(.voteFor, request: .requestVote, leader: 0, term: 1), from: 2,
            now: at + .milliseconds(20))
        #expect(l.role != .leader)
        #expect(!vote.messages.contains { $0.message.command == .heartbeat })
        // The next attempt uses a fresh term above the one it learnt.
        var next: [TicketDirective] = []
        while next.messages.isEmpty, let w = l.nextWakeup, w < at + .seconds(5) { next = l.tick(now: w) }
        #expect(next.messages.map(\.message.term) == [8])
    }

    /// "a grant at a member that just won the election waits for its first round"
    @Test func aGrantAtAnElectedLeaderDoesNotStartAnotherElection() {
        var (l, elected) = F.electedLeader(force: true)
        let g = l.grant(client: 2, force: false, now: elected + .milliseconds(5))
        #expect(g == [.reply(2, .more, leader: nil, final: false)])
        #expect(l.role == .leader && l.term == 1)
        let a = l.receive(
            F.msg(.ack, request: .heartbeat, leader: 0, term: 1, valid: .seconds(10), round: 1), from: 2,
            now: elected + .milliseconds(30))
        #expect(a.contains(.reply(1, .success, leader: 0, final: true)))
        #expect(a.contains(.reply(2, .success, leader: 0, final: true)))
    }

    /// "nextWakeup reports only timers that tick acts on"
    @Test func nextWakeupIsNeverInThePastAfterATick() {
        // A follower restarted after its leader's lease ended: the lost-ticket election
        // waits for the startup period.
        let f = F.follower(1, at: t0 + .seconds(5))
        let persisted = f.persistentState
        var r = F.lease(1, seed: 7)
        let restart = t0 + .seconds(30)
        _ = r.start(now: restart, restored: persisted)
        #expect(r.nextWakeup == restart + .seconds(1))

        // A leader whose renewal falls due while its UPDATE round still resends.
        var (l, _, acked) = F.holdingLeader()
        var now = acked
        for _ in 0..<40 {
            guard let w = l.nextWakeup else { break }
            now = max(now, w)
            _ = l.tick(now: now)
            // A lease that ends in a tick schedules work due at once: one more tick at the
            // same instant does it, and then the next wakeup lies ahead.
            if let next = l.nextWakeup, next <= now { _ = l.tick(now: now) }
            if let next = l.nextWakeup { #expect(next > now) }
        }
    }

    /// "a site that considers an automatic ticket granted keeps acquiring it while nobody leads"
    @Test func aCandidateThatVotesForAnotherKeepsItsAcquisitionScheduled() {
        var l = F.started(0)
        let at = t0 + .seconds(2)
        _ = l.grant(client: 1, force: true, now: at)
        #expect(l.role == .candidate)
        let v = l.receive(
            F.msg(.requestVote, reason: .ticketLost, leader: 1, term: 2), from: 1,
            now: at + .milliseconds(10))
        #expect(v.messages.map(\.message) == [F.msg(.voteFor, request: .requestVote, leader: 1, term: 2)])
        #expect(l.role == .follower)
        #expect(l.nextWakeup != nil)
    }

    @Test func anAdministratorsGrantThatFailsKeepsTheSiteAcquiring() {
        var l = F.started(0)
        var now = t0 + .seconds(2)
        var replies: [TicketDirective] = []
        replies += l.grant(client: 1, force: true, now: now).filter { if case .reply = $0 { true } else { false } }
        // Nobody answers: retries + 1 elections time out.
        for _ in 0..<40 {
            guard let w = l.nextWakeup, !replies.contains(.reply(1, .syncFail, leader: nil, final: true)) else { break }
            now = w
            replies += l.tick(now: now).filter { if case .reply = $0 { true } else { false } }
        }
        #expect(replies.contains(.reply(1, .syncFail, leader: nil, final: true)))
        #expect(!l.revoked)
        #expect(l.nextWakeup != nil)
        var later: [TicketDirective] = []
        while later.messages.isEmpty, let w = l.nextWakeup, w < now + .seconds(10) { later = l.tick(now: w) }
        #expect(later.messages.map(\.message.reason) == [.ticketLost])
    }

    /// "an acquisition handler that ends while a lease is promised does not start an election"
    @Test func anAcquisitionHandlerEndingDuringAPromiseDoesNotCampaign() {
        var l = F.started(1, F.settings(handler: true))
        let at = t0 + .seconds(2)
        #expect(l.grant(client: 1, force: false, now: at).contains(.runHandler))
        // Meanwhile site 0 became leader and this site acknowledged its HEARTBEAT.
        let ack = l.receive(
            F.msg(.heartbeat, leader: 0, term: 1, valid: .seconds(10), round: 1), from: 0,
            now: at + .milliseconds(50))
        #expect(ack.messages.map(\.message.command) == [.ack])
        // The waiting grant lost to that leader (overgrant, naming it), now or when the handler ends.
        let done = l.handlerFinished(success: true, now: at + .milliseconds(100))
        let replies = (ack + done).filter { if case .reply(1, .overgrant, _, true) = $0 { true } else { false } }
        #expect(replies == [.reply(1, .overgrant, leader: 0, final: true)])
        #expect(done.messages.isEmpty)
        #expect(l.role == .follower && l.voteTerm == 0)
    }

    /// "one before-acquire-handler at a time"
    @Test func aSecondGrantDoesNotRunASecondHandler() {
        var l = F.started(0, F.settings(handler: true))
        let at = t0 + .seconds(2)
        #expect(l.grant(client: 1, force: false, now: at).contains(.runHandler))
        let second = l.grant(client: 2, force: false, now: at + .milliseconds(10))
        #expect(second == [.reply(2, .more, leader: nil, final: false)])
        let e = l.handlerFinished(success: true, now: at + .milliseconds(50))
        #expect(e.messages.map(\.message.command) == [.requestVote])
    }

    @Test func aGrantAfterARevokeDuringTheRenewalHandlerIsDecidedByThatHandler() {
        let s = F.settings(handler: true)
        var l = F.started(0, s)
        let at = t0 + .seconds(2)
        _ = l.grant(client: 1, force: true, now: at)
        _ = l.handlerFinished(success: true, now: at + .milliseconds(10))
        let elected = at + .milliseconds(20)
        _ = l.receive(F.msg(.voteFor, request: .requestVote, leader: 0, term: 1), from: 2, now: elected)
        _ = l.receive(
            F.msg(.ack, request: .heartbeat, leader: 0, term: 1, valid: .seconds(10), round: 1), from: 2,
            now: elected + .milliseconds(10))
        for m in [1, 2] {
            _ = l.receive(
                F.msg(.ack, request: .update, leader: 0, term: 1, valid: .seconds(10), round: 2), from: m,
                now: elected + .milliseconds(20))
        }
        #expect(l.tick(now: elected + .seconds(5)) == [.runHandler])
        _ = l.revoke(client: 2, now: elected + .seconds(5) + .milliseconds(10))
        let g = l.grant(client: 3, force: true, now: elected + .seconds(5) + .milliseconds(20))
        #expect(!g.contains(.runHandler))
        let e = l.handlerFinished(success: true, now: elected + .seconds(5) + .milliseconds(30))
        #expect(e.messages.map(\.message.command) == [.requestVote])
    }

    /// "an elected leader whose rounds never reach a majority steps down"
    @Test func anElectedLeaderWithoutAMajorityStepsDownAfterItsRetries() {
        var (l, elected) = F.electedLeader(force: true)
        // Nobody acknowledges: three resends, then the round gives up.
        for n in 1...3 {
            let r = l.tick(now: elected + .seconds(n))
            #expect(r.messages.count == 2)
            #expect(l.role == .leader)
        }
        // It steps down and campaigns again at once, in a new term.
        let given = l.tick(now: elected + .seconds(4))
        #expect(given.messages.map(\.message) == [F.msg(.requestVote, reason: .reacquire, leader: 0, term: 2)])
        #expect(l.role == .candidate)
    }

    /// "a release from an earlier leadership does not cancel a promise"
    @Test func aLateReleaseFromAnEarlierTermIsIgnored() {
        let at = t0 + .seconds(5)
        var f = F.follower(1, at: at, term: 3)
        let d = f.receive(F.msg(.voteFor, leader: nil, term: 1), from: 0, now: at + .milliseconds(100))
        #expect(d.isEmpty)
        #expect(f.leader == 0 && f.promisedUntil == at + .seconds(10))
    }

    /// "a revoke from an earlier leadership does not cancel a promise"
    @Test func aLateRevokeFromAnEarlierTermIsIgnored() {
        let at = t0 + .seconds(5)
        var f = F.follower(1, at: at, term: 3)
        let d = f.receive(F.msg(.revoke, reason: .admin, leader: 0, term: 1), from: 0, now: at + .milliseconds(100))
        #expect(d.withoutLogs.isEmpty)
        #expect(f.leader == 0 && f.promisedUntil == at + .seconds(10) && !f.revoked)
        // The revoke of the current leadership is obeyed.
        let now = f.receive(F.msg(.revoke, reason: .admin, leader: 0, term: 3), from: 0, now: at + .milliseconds(200))
        #expect(now.persisted?.revoked == true)
    }
}
