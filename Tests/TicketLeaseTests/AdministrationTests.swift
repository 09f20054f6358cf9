import Testing

@testable import TicketLease

/// Revoke, manual tickets and the before-acquire-handler, event by event.
@Suite struct AdministrationTests {
    typealias F = Fixture
    let t0 = Fixture.t0

    @Test func revokeAtTheLeaderIsBroadcastAndFollowersDropTheirPromise() {
        var (l, _, acked) = F.holdingLeader()
        let at = acked + .seconds(1)
        let r = l.revoke(client: 7, now: at)
        #expect(
            r.withoutLogs == [
                .persist(F.state(term: 1, voteTerm: 1, votedFor: 0, revoked: true)),
                F.backend(false, leader: nil, term: 1),
                .broadcast(F.msg(.revoke, reason: .admin, leader: 0, term: 1)),
                .reply(7, .success, leader: nil, final: true),
            ])
        #expect(!l.isHolder(at: at) && l.role == .initial)

        var f = F.follower(1, at: acked)
        let fr = f.receive(F.msg(.revoke, reason: .admin, leader: 0, term: 1), from: 0, now: at + .milliseconds(10))
        #expect(
            fr.withoutLogs == [
                .persist(F.state(term: 1, voteTerm: 0, votedFor: nil, revoked: true)),
                F.backend(false, leader: nil, term: 1),
                .send(to: 0, F.msg(.ack, request: .revoke, leader: nil, term: 1)),
            ])
        #expect(f.nextWakeup == nil)
    }

    @Test func revokeElsewhereIsRedirectedOrIdle() {
        var f = F.follower(1, at: t0 + .seconds(5))
        #expect(f.revoke(client: 3, now: t0 + .seconds(6)) == [.reply(3, .redirect, leader: 0, final: true)])
        var idle = F.started(1)
        #expect(idle.revoke(client: 4, now: t0 + .seconds(6)) == [.reply(4, .ticketIdle, leader: nil, final: true)])
    }

    @Test func youOutdatedStopsALostTicketElectionAfterARevoke() {
        // Site 1 missed the revoke: its promise ends and it campaigns for the lost ticket.
        let at = t0 + .seconds(5)
        let end = at + .seconds(10)
        var site = F.follower(1, at: at)
        let lost = site.tick(now: end)
        #expect(
            lost.withoutLogs == [
                .persist(F.state(term: 1, voteTerm: 0, votedFor: nil, promisedUntil: end)),
                F.backend(false, leader: nil, term: 1),
            ])
        #expect(site.nextWakeup == end)
        let campaign = site.tick(now: end)
        let request = F.msg(.requestVote, reason: .ticketLost, leader: 1, term: 2)
        #expect(
            campaign.withoutLogs == [
                .persist(F.state(term: 2, voteTerm: 2, votedFor: 1, promisedUntil: end)),
                F.backend(false, leader: nil, term: 2),
                .broadcast(request),
            ])
        // The arbitrator saw the revoke (it is revoked and knows no leader).
        var arbitrator = F.started(2)
        let answer = arbitrator.receive(request, from: 1, now: end + .milliseconds(20))
        #expect(
            answer == [
                .send(to: 1, F.msg(.rejected, request: .requestVote, result: .youOutdated, leader: nil, term: 0))
            ])
        let stop = site.receive(answer.messages[0].message, from: 2, now: end + .milliseconds(40))
        #expect(
            stop.withoutLogs == [
                .persist(F.state(term: 2, voteTerm: 2, votedFor: 1, promisedUntil: end, revoked: true))
            ])
        #expect(site.role == .initial && site.revoked)
        #expect(site.nextWakeup == nil)
    }

    @Test func manualTicketsAreGrantedWithoutElections() {
        let s = F.settings(manual: true)
        var a = F.started(0, s)
        let at = t0 + .seconds(2)
        let g = a.grant(client: 1, force: false, now: at)
        let heartbeat = F.msg(.heartbeat, leader: 0, term: 0, round: 1)
        #expect(
            g.withoutLogs == [
                .persist(F.state(term: 0, voteTerm: 0, votedFor: nil, leader: 0, manual: true)),
                F.backend(true, leader: 0, term: 0),
                .broadcast(heartbeat),
                .reply(1, .success, leader: 0, final: true),
            ])
        #expect(a.isHolder(at: at + .seconds(100_000)))
        #expect(!g.messages.contains { $0.message.command == .requestVote })

        // The other site learns the owner and refuses a grant (overgrant) unless forced.
        var b = F.started(1, s)
        let ack = b.receive(heartbeat, from: 0, now: at + .milliseconds(10))
        #expect(ack.messages.map(\.message) == [F.msg(.ack, request: .heartbeat, leader: 0, term: 0, round: 1)])
        #expect(
            b.grant(client: 2, force: false, now: at + .seconds(1)) == [.reply(2, .overgrant, leader: 0, final: true)])
        let forced = b.grant(client: 3, force: true, now: at + .seconds(1))
        #expect(forced.withoutLogs.last == .reply(3, .success, leader: 1, final: true))
        #expect(forced.logs.contains { $0.contains("--force") })
        #expect(b.isHolder(at: at + .seconds(2)))
        // Revoking a manual ticket at its owner.
        let r = a.revoke(client: 4, now: at + .seconds(3))
        #expect(r.withoutLogs.last == .reply(4, .success, leader: nil, final: true))
        #expect(!a.isHolder(at: at + .seconds(3)))
    }

    @Test func arbitratorsDoNotAcceptGrants() {
        var a = F.started(2)
        #expect(
            a.grant(client: 9, force: false, now: t0 + .seconds(2)) == [.reply(9, .notASite, leader: nil, final: true)])
    }

    @Test func beforeAcquireHandlerRunsBeforeTheElection() {
        var l = F.started(0, F.settings(handler: true))
        let at = t0 + .seconds(2)
        let g = l.grant(client: 1, force: true, now: at)
        #expect(
            g == [
                .persist(F.state(term: 0, voteTerm: 0, votedFor: nil)),
                .reply(1, .more, leader: nil, final: false),
                .runHandler,
            ])
        let e = l.handlerFinished(success: true, now: at + .milliseconds(100))
        #expect(
            e.withoutLogs == [
                .persist(F.state(term: 1, voteTerm: 1, votedFor: 0)),
                F.backend(false, leader: nil, term: 1),
                .broadcast(F.msg(.requestVote, reason: .admin, leader: 0, term: 1)),
            ])
    }

    @Test func failedAcquisitionHandlerAnswersTheClientAndRetriesLater() {
        var l = F.started(0, F.settings(handler: true))
        let at = t0 + .seconds(2)
        _ = l.grant(client: 1, force: true, now: at)
        let f = l.handlerFinished(success: false, now: at + .milliseconds(100))
        #expect(f.withoutLogs == [.reply(1, .handlerFailed, leader: nil, final: true)])
        #expect(l.role != .candidate)
        // Still granted at this site: it tries again (running the handler again) later.
        let retry = l.nextWakeup!
        #expect(retry >= at + .milliseconds(100) + .seconds(1))
        #expect(l.tick(now: retry) == [.runHandler])
    }

    @Test func beforeAcquireHandlerRunsBeforeEachRenewalAndItsFailureReleasesTheTicket() {
        let s = F.settings(handler: true)
        var l = F.started(0, s)
        let at = t0 + .seconds(2)
        _ = l.grant(client: 1, force: true, now: at)
        _ = l.handlerFinished(success: true, now: at + .milliseconds(10))
        let elected = at + .milliseconds(20)
        _ = l.receive(F.msg(.voteFor, request: .requestVote, leader: 0, term: 1), from: 2, now: elected)
        let acked = elected + .milliseconds(10)
        _ = l.receive(
            F.msg(.ack, request: .heartbeat, leader: 0, term: 1, valid: .seconds(10), round: 1), from: 2,
            now: acked)
        for m in [1, 2] {
            _ = l.receive(
                F.msg(.ack, request: .update, leader: 0, term: 1, valid: .seconds(10), round: 2), from: m,
                now: acked + .milliseconds(5))
        }
        #expect(l.nextWakeup == elected + .seconds(5))
        // Renewal: the handler first, no HEARTBEAT yet.
        #expect(l.tick(now: elected + .seconds(5)) == [.runHandler])
        let ok = l.handlerFinished(success: true, now: elected + .seconds(5) + .milliseconds(50))
        #expect(ok.messages.map(\.message) == [F.msg(.heartbeat, leader: 0, term: 1, valid: .seconds(10), round: 3)])
        _ = l.receive(
            F.msg(.ack, request: .heartbeat, leader: 0, term: 1, valid: .seconds(10), round: 3), from: 2,
            now: elected + .seconds(5) + .milliseconds(60))
        for m in [1, 2] {
            _ = l.receive(
                F.msg(.ack, request: .update, leader: 0, term: 1, valid: .seconds(10), round: 4), from: m,
                now: elected + .seconds(5) + .milliseconds(70))
        }
        // Next renewal: the handler fails, the leader releases the ticket (VOTE_FOR, no leader).
        let renewal = l.nextWakeup!
        #expect(l.tick(now: renewal) == [.runHandler])
        let failed = l.handlerFinished(success: false, now: renewal + .milliseconds(50))
        let release = F.msg(.voteFor, leader: nil, term: 1)
        #expect(
            failed.withoutLogs == [
                .persist(F.state(term: 1, voteTerm: 1, votedFor: 0)),
                F.backend(false, leader: nil, term: 1),
                .broadcast(release),
            ])
        #expect(!l.isHolder(at: renewal + .milliseconds(50)))

        // A follower drops its promise at once and may acquire.
        let heard = elected + .seconds(5) + .milliseconds(55)
        var f = F.follower(1, s, at: heard)
        let dropped = f.receive(release, from: 0, now: renewal + .milliseconds(60))
        #expect(
            dropped.withoutLogs == [
                .persist(F.state(term: 1, voteTerm: 0, votedFor: nil)),
                F.backend(false, leader: nil, term: 1),
            ])
        #expect(f.nextWakeup == renewal + .milliseconds(60))
    }
}
