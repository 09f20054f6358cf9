import Testing

@testable import TicketLease

/// Elections, leases and promises, event by event, matching the directives exactly (log
/// lines excepted).
@Suite struct ElectionAndLeaseTests {
    typealias F = Fixture
    let t0 = Fixture.t0

    @Test func startBroadcastsStatusAndReportsTheBackend() {
        var l = F.lease(0)
        let d = l.start(now: t0, restored: nil)
        #expect(d == [F.backend(false, leader: nil, term: 0), .broadcast(F.msg(.status, leader: nil, term: 0))])
        #expect(l.nextWakeup == t0 + .seconds(1))
    }

    @Test func electionWithTwoSitesAndArbitratorEndsAsSoonAsAMajorityVotes() {
        var l = F.started(0)
        let granted = t0 + .seconds(2)
        let g = l.grant(client: 1, force: false, now: granted)
        #expect(
            g.withoutLogs == [
                .persist(F.state(term: 1, voteTerm: 1, votedFor: 0)),
                F.backend(false, leader: nil, term: 1),
                .reply(1, .more, leader: nil, final: false),
                .broadcast(F.msg(.requestVote, reason: .admin, leader: 0, term: 1)),
            ])
        #expect(l.role == .candidate)
        #expect(l.nextWakeup == granted + .seconds(1))

        // Site 1 is dead; the arbitrator's vote makes two of three: leader at once.
        let elected = granted + .milliseconds(20)
        let v = l.receive(F.msg(.voteFor, request: .requestVote, leader: 0, term: 1), from: 2, now: elected)
        #expect(
            v.withoutLogs == [
                .persist(F.state(term: 1, voteTerm: 1, votedFor: 0, leader: 0)),
                F.backend(false, leader: 0, term: 1),
                .broadcast(F.msg(.heartbeat, leader: 0, term: 1, valid: .seconds(10), round: 1)),
            ])
        #expect(l.role == .leader)
        #expect(!l.isHolder(at: elected))
    }

    @Test func leaderHoldsOnlyAfterAMajorityAcknowledgedItsHeartbeat() {
        // 2 sites + 3 arbitrators: majority 3.
        let kinds: [LeaseMembership.Kind] = [.site, .site, .arbitrator, .arbitrator, .arbitrator]
        var l = F.started(0, kinds: kinds)
        let granted = t0 + .seconds(2)
        _ = l.grant(client: 1, force: true, now: granted)
        let vote = F.msg(.voteFor, request: .requestVote, leader: 0, term: 1)
        _ = l.receive(vote, from: 2, now: granted + .milliseconds(10))
        #expect(l.role == .candidate)
        let elected = granted + .milliseconds(20)
        _ = l.receive(vote, from: 3, now: elected)
        #expect(l.role == .leader)

        let ack = F.msg(.ack, request: .heartbeat, leader: 0, term: 1, valid: .seconds(10), round: 1)
        let first = l.receive(ack, from: 2, now: elected + .milliseconds(30))
        #expect(first.isEmpty)
        #expect(!l.isHolder(at: elected + .milliseconds(30)))
        // The same member again (a duplicate) is still one acknowledgement.
        #expect(l.receive(ack, from: 2, now: elected + .milliseconds(31)).isEmpty)
        let second = l.receive(ack, from: 4, now: elected + .milliseconds(40))
        #expect(l.isHolder(at: elected + .milliseconds(40)))
        #expect(second.persisted?.holderUntil == elected + l.settings.holdTime(granted: .seconds(10)))
    }

    @Test func holderUntilIsTheFirstSendPlusTheHoldTime() {
        var (l, elected) = F.electedLeader(force: true)
        // L = granted·(1−ρ)/(1+ρ) − margin = 10 s · 999500/1000500 − 100 ms, rounded down to ns.
        let hold = Duration.nanoseconds(9_990_004_997 - 100_000_000)
        #expect(l.settings.holdTime(granted: .seconds(10)) == hold)

        let acked = elected + .milliseconds(30)
        let a = l.receive(
            F.msg(.ack, request: .heartbeat, leader: 0, term: 1, valid: .seconds(10), round: 1),
            from: 2, now: acked)
        #expect(
            a.withoutLogs == [
                .persist(F.state(term: 1, voteTerm: 1, votedFor: 0, leader: 0, holderUntil: elected + hold)),
                F.backend(true, until: elected + hold, leader: 0, term: 1),
                .reply(1, .success, leader: 0, final: true),
                .broadcast(F.msg(.update, leader: 0, term: 1, valid: .seconds(10), round: 2)),
            ])
        #expect(l.holderUntil == elected + hold)
        #expect(l.isHolder(at: elected + hold - .nanoseconds(1)))
        #expect(!l.isHolder(at: elected + hold))
        // The renewal is due renewal-freq (expire/2) after the heartbeat was sent.
        _ = l.receive(
            F.msg(.ack, request: .update, leader: 0, term: 1, valid: .seconds(10), round: 2), from: 1,
            now: acked + .milliseconds(5))
        _ = l.receive(
            F.msg(.ack, request: .update, leader: 0, term: 1, valid: .seconds(10), round: 2), from: 2,
            now: acked + .milliseconds(6))
        #expect(l.holderUntil == acked + hold)
        #expect(l.nextWakeup == elected + .seconds(5))
    }

    @Test func resendsCarryTheRemainingLeaseRoundedUpToTheWireUnit() {
        var (l, elected) = F.electedLeader(force: true)
        #expect(l.nextWakeup == elected + .seconds(1))
        let r = l.tick(now: elected + .seconds(1) + .microseconds(300))
        // 10 s − 1.0003 s = 8.9997 s, rounded up to whole seconds.
        let resend = F.msg(.heartbeat, leader: 0, term: 1, valid: .seconds(9), round: 1)
        #expect(r == [.send(to: 1, resend), .send(to: 2, resend)])

        // Millisecond wire times: 4 s − 500.4 ms = 3.4996 s, rounded up to 3.500 s.
        let ms = F.settings(
            expire: .seconds(4), timeout: .milliseconds(500), millisecondWire: true,
            renewal: .milliseconds(2500))
        var (m, mElected) = F.electedLeader(ms, force: true)
        let mr = m.tick(now: mElected + .microseconds(500_400))
        let mResend = F.msg(.heartbeat, leader: 0, term: 1, valid: .milliseconds(3500), round: 1)
        #expect(mr == [.send(to: 1, mResend), .send(to: 2, mResend)])
    }

    @Test func followerPromiseIsReceiveTimePlusValidFor() {
        var f = F.started(1)
        let at = t0 + .seconds(5)
        let d = f.receive(F.msg(.heartbeat, leader: 0, term: 1, valid: .seconds(10), round: 1), from: 0, now: at)
        #expect(
            d.withoutLogs == [
                .persist(F.state(term: 1, voteTerm: 0, votedFor: nil, leader: 0, promisedUntil: at + .seconds(10))),
                F.backend(false, leader: 0, term: 1),
                .send(to: 0, F.msg(.ack, request: .heartbeat, leader: 0, term: 1, valid: .seconds(10), round: 1)),
            ])
        #expect(f.nextWakeup == at + .seconds(10))
    }

    /// boothd truncates leases and applies no drift margin of its own: a follower honours its
    /// lease for one wire unit more plus the drift allowance and margin a Meridian leader uses.
    @Test func followerAddsAWireUnitAndTheMarginWhenTheSenderIsBoothd() {
        var f = F.started(1)
        let at = t0 + .seconds(5)
        let s = F.settings()
        let d = f.receive(F.msg(.heartbeat, leader: 0, term: 1, valid: .seconds(10), meridian: false), from: 0, now: at)
        // drift allowance = D − holdTime(D) − margin = D·2ρ/(1+ρ) ≈ 9.995 ms for D = 10 s, ρ = 500 ppm
        let slack = Duration.seconds(1) + (.seconds(10) - s.holdTime(granted: .seconds(10)))
        #expect(slack > .milliseconds(1109) && slack < .milliseconds(1111))
        #expect(d.persisted?.promisedUntil == at + .seconds(10) + slack)
        #expect(d.messages.map(\.message.command) == [.ack])

        let ms = F.settings(
            expire: .seconds(4), timeout: .milliseconds(500), millisecondWire: true,
            renewal: .milliseconds(2500))
        var g = F.started(1, ms)
        let e = g.receive(F.msg(.heartbeat, leader: 0, term: 1, valid: .seconds(4), meridian: false), from: 0, now: at)
        let msSlack = Duration.milliseconds(1) + (.seconds(4) - ms.holdTime(granted: .seconds(4)))
        #expect(e.persisted?.promisedUntil == at + .seconds(4) + msSlack)
    }

    @Test func voterRefusesEveryCandidateWhilePromiseIsValidIncludingTheOldLeader() {
        var f = F.follower(2, at: t0 + .seconds(5))
        let now = t0 + .seconds(6)
        let refusal = F.msg(
            .rejected, request: .requestVote, result: .termStillValid, leader: 0, term: 1,
            valid: .seconds(9))
        let fromSite1 = f.receive(F.msg(.requestVote, reason: .ticketLost, leader: 1, term: 2), from: 1, now: now)
        #expect(fromSite1 == [.send(to: 1, refusal)])
        let fromOldLeader = f.receive(F.msg(.requestVote, reason: .reacquire, leader: 0, term: 2), from: 0, now: now)
        #expect(fromOldLeader == [.send(to: 0, refusal)])
        let admin = f.receive(F.msg(.requestVote, reason: .admin, leader: 1, term: 9), from: 1, now: now)
        #expect(admin == [.send(to: 1, refusal)])
        #expect(f.voteTerm == 0)
        // Once the promise has ended the vote is given.
        let after = f.receive(F.msg(.requestVote, reason: .admin, leader: 1, term: 2), from: 1, now: t0 + .seconds(15))
        #expect(after.messages.map(\.message) == [F.msg(.voteFor, request: .requestVote, leader: 1, term: 2)])
    }

    @Test func votesAreUniquePerTerm() {
        var a = F.started(2)
        let v1 = a.receive(F.msg(.requestVote, reason: .admin, leader: 0, term: 3), from: 0, now: t0 + .seconds(2))
        #expect(
            v1.withoutLogs == [
                .persist(F.state(term: 3, voteTerm: 3, votedFor: 0, revoked: true)),
                F.backend(false, leader: nil, term: 3),
                .send(to: 0, F.msg(.voteFor, request: .requestVote, leader: 0, term: 3)),
            ])
        // Another candidate of the same term hears whom this member voted for.
        let v2 = a.receive(F.msg(.requestVote, reason: .admin, leader: 1, term: 3), from: 1, now: t0 + .seconds(2))
        #expect(v2 == [.send(to: 1, F.msg(.voteFor, request: .requestVote, leader: 0, term: 3))])
        // A lower term is refused.
        let v3 = a.receive(F.msg(.requestVote, reason: .admin, leader: 1, term: 2), from: 1, now: t0 + .seconds(2))
        #expect(
            v3 == [.send(to: 1, F.msg(.rejected, request: .requestVote, result: .termOutdated, leader: nil, term: 3))])
        #expect(a.voteTerm == 3 && a.votedFor == 0)
        // A candidate of a lower term that hears this vote (term 3) steps down.
        var c = F.started(1)
        _ = c.grant(client: 5, force: false, now: t0 + .seconds(2) - .milliseconds(1))
        let lost = c.receive(v2.messages[0].message, from: 2, now: t0 + .seconds(2))
        #expect(c.role != .leader)
        #expect(lost.messages.isEmpty)
    }

    @Test func restartFromPersistedStateResumesTheHolder() {
        let (l, _, _) = F.holdingLeader()
        let persisted = l.persistentState
        let h = l.holderUntil!
        let restart = h - .seconds(3)
        var r = F.lease(0, seed: 99)
        let d = r.start(now: restart, restored: persisted)
        #expect(
            d.withoutLogs == [
                F.backend(true, until: h, leader: 0, term: 1),
                .broadcast(F.msg(.status, leader: 0, term: 1, valid: .seconds(3))),
                .broadcast(F.msg(.heartbeat, leader: 0, term: 1, valid: .seconds(10), round: 1)),
            ])
        #expect(r.role == .leader)
        #expect(r.isHolder(at: restart))
    }

    @Test func restartAfterTheOwnLeaseEndedSchedulesAnAcquisition() {
        let (l, _, _) = F.holdingLeader()
        let persisted = l.persistentState
        let restart = l.holderUntil! + .seconds(1)
        var r = F.lease(0, seed: 99)
        let d = r.start(now: restart, restored: persisted)
        #expect(
            d.withoutLogs == [
                .persist(F.state(term: 1, voteTerm: 1, votedFor: 0)),
                F.backend(false, leader: nil, term: 1),
                .broadcast(F.msg(.status, leader: nil, term: 1)),
            ])
        #expect(!r.isHolder(at: restart))
        // After the startup period (not before: nextWakeup is never in the past).
        #expect(r.nextWakeup == restart + .seconds(1))
        let e = r.tick(now: restart + .seconds(1))
        #expect(e.messages.map(\.message) == [F.msg(.requestVote, reason: .ticketLost, leader: 0, term: 2)])
    }

    @Test func acquireAfterAndRankDelaysPreferTheHigherWeight() {
        let s = F.settings(acquireAfter: .seconds(2))
        #expect(s.rankStep == .milliseconds(20))
        let kinds: [LeaseMembership.Kind] = [.site, .site, .site]
        let weights = [5, 10, 1]
        let at = t0 + .seconds(5)
        let end = at + .seconds(10)
        // Site 1 (weight 10) led and is lost; site 0 (weight 5) goes first, site 2 (weight 1) 20 ms later.
        var s0 = F.follower(0, s, at: at, kinds: kinds, weights: weights, leader: 1)
        var s2 = F.follower(2, s, at: at, kinds: kinds, weights: weights, leader: 1)
        #expect(s0.nextWakeup == end && s2.nextWakeup == end)
        _ = s0.tick(now: end)
        _ = s2.tick(now: end)
        #expect(s0.nextWakeup == end + .seconds(2))
        #expect(s2.nextWakeup == end + .seconds(2) + .milliseconds(20))
        let e = s0.tick(now: end + .seconds(2))
        #expect(e.messages.map(\.message) == [F.msg(.requestVote, reason: .ticketLost, leader: 0, term: 2)])
        // Ties: the earlier member first.
        var t2 = F.follower(2, s, at: at, kinds: kinds, weights: [0, 0, 0], leader: 1)
        _ = t2.tick(now: end)
        #expect(t2.nextWakeup == end + .seconds(2) + .milliseconds(20))
    }

    @Test func commitIsPendingUntilAllSitesAcknowledged() {
        var (l, elected) = F.electedLeader(force: false)
        let acked = elected + .milliseconds(30)
        let hold = l.settings.holdTime(granted: .seconds(10))
        let a = l.receive(
            F.msg(.ack, request: .heartbeat, leader: 0, term: 1, valid: .seconds(10), round: 1),
            from: 2, now: acked)
        // Holder, but the consumer is not told and the client waits.
        #expect(
            a.withoutLogs == [
                .persist(F.state(term: 1, voteTerm: 1, votedFor: 0, leader: 0, holderUntil: elected + hold)),
                F.backend(false, until: elected + hold, leader: 0, term: 1),
                .broadcast(F.msg(.update, leader: 0, term: 1, valid: .seconds(10), round: 2)),
            ])
        #expect(l.isHolder(at: acked))
        #expect(l.commitPendingUntil == elected + .seconds(10))
        // Site 1 acknowledges the UPDATE: every site has it, commit.
        let c = l.receive(
            F.msg(.ack, request: .update, leader: 0, term: 1, valid: .seconds(10), round: 2),
            from: 1, now: acked + .milliseconds(10))
        #expect(
            c.withoutLogs == [
                .persist(F.state(term: 1, voteTerm: 1, votedFor: 0, leader: 0, holderUntil: acked + hold)),
                F.backend(true, until: acked + hold, leader: 0, term: 1),
                .reply(1, .success, leader: 0, final: true),
            ])
        #expect(l.commitPendingUntil == nil)
    }

    @Test func commitPendingEndsAfterExpirePlusAcquireAfterWithoutTheOtherSite() {
        var (l, elected) = F.electedLeader(force: false)
        _ = l.receive(
            F.msg(.ack, request: .heartbeat, leader: 0, term: 1, valid: .seconds(10), round: 1),
            from: 2, now: elected + .milliseconds(30))
        // Keep the lease alive with the arbitrator only, until the commit time.
        var now = elected + .milliseconds(30)
        var round: UInt16 = 2
        var committed: [TicketDirective] = []
        while committed.isEmpty, let w = l.nextWakeup, w <= elected + .seconds(10) {
            now = w
            let d = l.tick(now: now)
            for (_, m) in d.messages where m.command == .heartbeat || m.command == .update {
                round = m.round ?? round
                _ = l.receive(
                    F.msg(.ack, request: m.command, leader: 0, term: 1, valid: .seconds(10), round: round),
                    from: 2, now: now + .milliseconds(5))
            }
            committed = d.filter { if case .reply(1, .success, _, _) = $0 { true } else { false } }
        }
        #expect(now == elected + .seconds(10))
        #expect(!committed.isEmpty)
        #expect(l.commitPendingUntil == nil)
    }
}
