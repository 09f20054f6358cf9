/// One ticket's lease protocol at one member: a pure, synchronous state machine.
///
/// Events carry `now` (the member's monotonic clock); the result is a list of directives for
/// the shell, executed in order: `persist` first, then `backend`, then messages and replies.
/// The shell calls ``tick(now:)`` at ``nextWakeup`` and whenever else it likes.
///
/// Safety argument (see Docs/ticket-protocol.md): a leader counts a lease from the *send* time
/// of a renewal that a majority acknowledged, shortened for clock drift and a margin; every
/// acknowledging member refuses all candidates until its own promise (receive time + lease)
/// ends; votes are unique per term (persisted); a member never acknowledges a lower-term leader
/// after voting for someone else in a higher term. Any two majorities intersect, so no two
/// members are holders at the same instant.
public struct TicketLease: Sendable {
    public enum Role: String, Sendable, Hashable { case initial, follower, candidate, leader }

    public let settings: LeaseSettings
    public let membership: LeaseMembership

    public private(set) var role: Role = .initial
    public private(set) var term: UInt32 = 0
    /// Highest term this member voted in, and for whom (monotonic, persisted).
    public private(set) var voteTerm: UInt32 = 0
    public private(set) var votedFor: Int?
    public private(set) var leader: Int?
    /// Until when this member refuses other candidates (the lease it acknowledged).
    public private(set) var promisedUntil: LeaseInstant?
    /// As leader: until when this member may consider itself the holder.
    public private(set) var holderUntil: LeaseInstant?
    /// Not granted anywhere by an administrator's decision: no automatic acquisition.
    public private(set) var revoked = true
    public private(set) var manualGrantedHere = false
    /// Grant waits for all sites (or expire + acquire-after) before telling the backend.
    public private(set) var commitPendingUntil: LeaseInstant?

    struct Election: Sendable {
        var term: UInt32
        var reason: PeerReason
        var end: LeaseInstant
        var votes: [Int: Int] = [:]
        var refusals: Set<Int> = []
    }

    struct Round: Sendable {
        var command: PeerCommand
        /// Sent in every message of the round and echoed by Meridian followers' ACKs.
        var number: UInt16
        var firstSent: LeaseInstant
        var lastSent: LeaseInstant
        var granted: Duration
        var acks: Set<Int>
        var resends = 0
        var succeeded = false
    }

    enum HandlerPurpose: Sendable { case renewal, acquire(PeerReason) }

    var election: Election?
    var round: Round?
    /// Number of the last round started; starts from the seed so that a restarted leader does
    /// not reuse the numbers of rounds whose ACKs may still be in flight.
    var roundNumber: UInt16
    var nextRenewalAt: LeaseInstant?
    var nextElectionAt: LeaseInstant?
    var electionReason: PeerReason = .ticketLost
    /// Earliest time an election for a lost ticket may start (lease end + acquire-after).
    var acquireNotBefore: LeaseInstant?
    var lostLeader: Int?
    var failedElections = 0
    var handler: HandlerPurpose?
    var startupUntil: LeaseInstant?
    var pendingGrants: [ClientID] = []
    var pendingRevokes: [ClientID] = []
    var rng: UInt64
    public private(set) var attributes: [String: String] = [:]

    var lastPersisted = PersistentTicketState()
    var lastBackend: BackendView?
    var out: [TicketDirective] = []

    /// `seed` drives the randomised election back-off and the first round number: give each
    /// start (and restart) its own.
    public init(settings: LeaseSettings, membership: LeaseMembership, seed: UInt64) {
        self.settings = settings
        self.membership = membership
        self.rng = seed | 1
        self.roundNumber = UInt16(truncatingIfNeeded: seed >> 48)
    }

    // MARK: - Queries

    /// True when this member considers the ticket granted to itself with an unexpired lease.
    public func isHolder(at now: LeaseInstant) -> Bool {
        guard role == .leader else { return false }
        if settings.manual { return manualGrantedHere }
        return holderUntil.map { now < $0 } ?? false
    }

    /// The earliest time at which ``tick(now:)`` has something to do.
    public var nextWakeup: LeaseInstant? {
        // An election for a lost ticket waits for the startup period, and is not started by a
        // leader or a candidate (see onTick).
        let campaigning = role == .leader || role == .candidate
        let election = campaigning ? nil : nextElectionAt.map { at in startupUntil.map { max($0, at) } ?? at }
        // A renewal waits for the current round and the handler to finish (see leaderTick).
        let renewal = round == nil && handler == nil ? nextRenewalAt : nil
        var c: [LeaseInstant?] = [startupUntil, election, self.election?.end, renewal, commitPendingUntil]
        if let r = round { c.append(r.lastSent + settings.timeout) }
        if role == .leader, !settings.manual { c.append(holderUntil) }
        if role != .leader, !settings.manual, leader != nil { c.append(promisedUntil) }
        return c.compactMap { $0 }.min()
    }

    /// What `meridian ticket list` shows for this member.
    public struct Status: Sendable, Hashable {
        public var role: Role
        public var leader: Int?
        public var term: UInt32
        public var expires: LeaseInstant?
        public var holder: Bool
        public var commitPendingUntil: LeaseInstant?
        public var revoked: Bool
    }

    public func status(at now: LeaseInstant) -> Status {
        let expires: LeaseInstant? = settings.manual ? nil : (role == .leader ? holderUntil : promisedUntil)
        return Status(role: role, leader: leader, term: term, expires: leader == nil ? nil : expires,
                      holder: isHolder(at: now), commitPendingUntil: commitPendingUntil, revoked: revoked)
    }

    public var persistentState: PersistentTicketState {
        PersistentTicketState(term: term, voteTerm: voteTerm, votedFor: votedFor, leader: leader,
                              promisedUntil: promisedUntil, holderUntil: role == .leader ? holderUntil : nil,
                              revoked: revoked, manualGrantedHere: manualGrantedHere)
    }

    // MARK: - Events

    /// Starts (or restarts) this member, optionally from the state it persisted before.
    public mutating func start(now: LeaseInstant, restored: PersistentTicketState?) -> [TicketDirective] {
        transaction(now) { s in
            if let r = restored {
                s.term = r.term
                s.voteTerm = r.voteTerm
                s.votedFor = r.votedFor
                s.leader = r.leader
                s.promisedUntil = r.promisedUntil
                s.revoked = r.revoked
                s.lastPersisted = r
                // A shell that makes promises durable ahead of need stores a ceiling no promise
                // reached past: refuse candidates until then.
                if let c = r.promiseCeiling, c > (r.promisedUntil ?? c - .nanoseconds(1)) {
                    s.promisedUntil = c
                }
                if s.settings.manual, r.manualGrantedHere, r.leader == s.membership.me {
                    s.role = .leader
                    s.manualGrantedHere = true
                } else if let h = r.holderUntil, h > now, r.leader == s.membership.me {
                    // Still holding by the lease a majority acknowledged: resume and renew.
                    s.role = .leader
                    s.holderUntil = h
                    s.log(.info, "resuming as holder until \(h) (term \(s.term))")
                } else if r.leader != nil, r.leader != s.membership.me {
                    s.role = .follower
                } else {
                    s.leader = r.leader == s.membership.me ? nil : r.leader
                    s.role = s.revoked ? .initial : .follower
                    // Granted, but nobody (or a lease of our own that ended) leads: acquire it as
                    // a lost ticket; members that saw it revoked answer YOU_OUTDATED.
                    s.lostLeader = r.leader
                    s.scheduleAcquire(reason: .ticketLost, at: now + s.settings.acquireAfter, now: now)
                }
            }
            s.startupUntil = now + s.settings.timeout
            s.send(.broadcast(s.message(.status, now: now)))
            if s.role == .leader { s.startRound(.heartbeat, now: now) }
        }
    }

    /// A message from member `from` (already authenticated and mapped by the shell).
    public mutating func receive(_ m: PeerMessage, from: Int, now: LeaseInstant) -> [TicketDirective] {
        precondition(membership.kinds.indices.contains(from), "Internal inconsistency: sender \(from) unknown")
        guard from != membership.me else { return [] }
        return transaction(now) { s in
            switch m.command {
            case .requestVote: s.onRequestVote(m, from: from, now: now)
            case .voteFor: s.onVoteFor(m, from: from, now: now)
            case .heartbeat, .update: s.onLeaderMessage(m, from: from, now: now)
            case .ack: s.onAck(m, from: from, now: now)
            case .revoke: s.onRevoke(m, from: from, now: now)
            case .rejected: s.onRejected(m, from: from, now: now)
            case .status:
                if s.election == nil { s.send(.send(to: from, s.message(.myIndex, request: .status, now: now))) }
            case .myIndex: s.onMyIndex(m, from: from, now: now)
            }
        }
    }

    /// Timers: the shell calls this at ``nextWakeup`` (calling it early is harmless).
    public mutating func tick(now: LeaseInstant) -> [TicketDirective] {
        transaction(now) { s in s.onTick(now) }
    }

    /// An administrator asks to grant the ticket here (`force` is booth's `-F`).
    public mutating func grant(client: ClientID, force: Bool, now: LeaseInstant) -> [TicketDirective] {
        transaction(now) { s in s.onGrant(client: client, force: force, now: now) }
    }

    /// An administrator asks to revoke the ticket here.
    public mutating func revoke(client: ClientID, now: LeaseInstant) -> [TicketDirective] {
        transaction(now) { s in s.onRevokeRequest(client: client, now: now) }
    }

    /// The before-acquire-handler finished.
    public mutating func handlerFinished(success: Bool, now: LeaseInstant) -> [TicketDirective] {
        transaction(now) { s in s.onHandlerFinished(success: success, now: now) }
    }

    /// A geo attribute (attr-prereq) changed.
    public mutating func setAttribute(_ name: String, value: String?, now: LeaseInstant) -> [TicketDirective] {
        transaction(now) { s in
            s.attributes[name] = value
            // A prerequisite that now holds lets a site acquire a lost ticket it gave up on.
            if s.role == .follower, s.leader == nil, !s.revoked, s.election == nil, s.nextElectionAt == nil,
               s.handler == nil, s.membership.isSite, !s.settings.manual, s.prerequisitesMet(manual: false) {
                s.scheduleAcquire(reason: s.electionReason, at: now, now: now)
            }
        }
    }

    // MARK: - Transaction: derive persist and backend directives from state changes

    mutating func transaction(_ now: LeaseInstant, _ body: (inout TicketLease) -> Void) -> [TicketDirective] {
        out = []
        body(&self)
        // Leases end by time alone; settle that before reporting.
        settleExpiry(now)
        var head: [TicketDirective] = []
        let p = persistentState
        if p != lastPersisted {
            head.append(.persist(p))
            lastPersisted = p
        }
        let committed = commitPendingUntil == nil
        let b = BackendView(granted: isHolder(at: now) && committed,
                            grantedUntil: settings.manual ? nil : holderUntil,
                            leader: leader, term: term)
        if b != lastBackend {
            head.append(.backend(b))
            lastBackend = b
        }
        let result = head + out
        out = []
        return result
    }

    mutating func send(_ d: TicketDirective) { out.append(d) }

    mutating func log(_ level: TicketDirective.LogLevel, _ text: String) {
        out.append(.log(level, "\(settings.ticket): \(text)"))
    }

    // MARK: - Messages

    func remaining(_ until: LeaseInstant?, _ now: LeaseInstant) -> Duration {
        guard let until, until > now else { return .zero }
        return until - now
    }

    /// A message carrying this member's view.
    func message(_ c: PeerCommand, request: PeerCommand? = nil, result: PeerResult = .success,
                 reason: PeerReason = .none, now: LeaseInstant) -> PeerMessage {
        let valid = settings.manual ? .zero : remaining(role == .leader ? holderUntil : promisedUntil, now)
        return PeerMessage(ticket: settings.ticket, command: c, request: request, result: result, reason: reason,
                           leader: leader, term: term, validFor: valid)
    }

    mutating func reject(_ to: Int, _ result: PeerResult, request: PeerCommand, now: LeaseInstant) {
        send(.send(to: to, message(.rejected, request: request, result: result, now: now)))
    }

    /// The promise a lease message creates: boothd truncates leases to whole wire units, so
    /// add one unit when the sender is not Meridian.
    func promise(for m: PeerMessage, now: LeaseInstant) -> LeaseInstant? {
        guard m.validFor > .zero else { return nil }
        if m.fromMeridian { return now + m.validFor }
        // boothd truncates the leases it sends (up to one wire unit less than its own view)
        // and holds until its own expiry with no margin for clock drift: honour it for one
        // unit more, plus the drift and the margin a Meridian leader would have subtracted.
        let drift = m.validFor - settings.holdTime(granted: m.validFor) - settings.safetyMargin
        return now + m.validFor + settings.wireResolution + drift + settings.safetyMargin
    }

    mutating func extendPromise(_ p: LeaseInstant?) {
        guard let p else { return }
        promisedUntil = max(promisedUntil ?? p, p)
    }

    mutating func onRequestVote(_ m: PeerMessage, from c: Int, now: LeaseInstant) {
        if isHolder(at: now) {
            log(.warning, "member \(c) asks for votes (term \(m.term)) but the ticket is held here; rejected")
            return reject(c, .termStillValid, request: .requestVote, now: now)
        }
        if let p = promisedUntil, p > now {
            return reject(c, .termStillValid, request: .requestVote, now: now)
        }
        if m.reason == .ticketLost, revoked, leader == nil {
            return reject(c, .youOutdated, request: .requestVote, now: now)
        }
        if m.term < term {
            return reject(c, .termOutdated, request: .requestVote, now: now)
        }
        if m.term > term { term = m.term }
        if leader != nil, promisedUntil.map({ $0 <= now }) ?? true { leader = nil }
        var vote: Int? = votedFor
        if m.term > voteTerm || (m.term == voteTerm && votedFor == nil) {
            voteTerm = m.term
            votedFor = c
            vote = c
            if role == .candidate || role == .leader {
                let reason = election?.reason ?? .ticketLost
                stepDownToFollower(now)
                // Keep acquiring if the candidate voted for does not win.
                scheduleAcquire(reason: reason, at: now + settings.timeout, now: now)
            }
            log(.info, "votes for member \(c) in term \(m.term)")
        } else if m.term < voteTerm {
            return reject(c, .termOutdated, request: .requestVote, now: now)
        }
        var reply = message(.voteFor, request: .requestVote, now: now)
        reply.leader = vote
        reply.term = m.term
        send(.send(to: c, reply))
    }

    mutating func onVoteFor(_ m: PeerMessage, from v: Int, now: LeaseInstant) {
        if m.leader == nil {
            // The leader gives the ticket away (Booth's release after a failed handler). A release
            // from an earlier leadership (lower term, delayed) must not cancel today's promise.
            if v == leader, role != .leader, m.term >= term {
                log(.info, "member \(v) released the ticket")
                leader = nil
                promisedUntil = nil
                lostLeader = v
                role = .follower
                scheduleAcquire(reason: .stepDown, at: now + settings.acquireAfter, now: now)
            }
            return
        }
        guard role == .candidate, var e = election else { return }
        if m.term > e.term {
            term = max(term, m.term)
            return stepDownToFollower(now)
        }
        guard m.term == e.term else { return }
        if m.leader == membership.me { e.votes[v] = membership.me } else { e.refusals.insert(v) }
        election = e
        evaluateElection(now)
    }

    mutating func onRejected(_ m: PeerMessage, from v: Int, now: LeaseInstant) {
        guard role == .candidate, var e = election else {
            if role == .leader, m.result == .termStillValid, m.leader != membership.me, m.leader != nil {
                log(.warning, "member \(v) reports the ticket valid at member \(m.leader!) (term \(m.term))")
            }
            return
        }
        switch m.result {
        case .termStillValid:
            // Someone still honours a lease: wait for it, then try again.
            if m.leader == membership.me {
                e.refusals.insert(v)
                election = e
                return evaluateElection(now)
            }
            extendPromise(promise(for: m, now: now))
            if let l = m.leader { leader = l }
            election = nil
            role = .follower
            scheduleAcquire(reason: e.reason, at: acquireNotBefore ?? now, now: now)
            log(.info, "election term \(e.term) deferred: member \(v) still honours a lease for \(remaining(promisedUntil, now).seconds)s")
        case .termOutdated:
            if m.term > term { term = m.term }
            e.refusals.insert(v)
            election = e
            evaluateElection(now)
        case .youOutdated:
            log(.info, "ticket was revoked (member \(v)); not acquiring")
            election = nil
            role = .initial
            revoked = true
            leader = nil
            nextElectionAt = nil
            finishClients(grant: .syncFail, now: now)
        case .success:
            break
        }
    }

    mutating func onLeaderMessage(_ m: PeerMessage, from l: Int, now: LeaseInstant) {
        let request = m.command
        if role == .leader {
            if isHolder(at: now) {
                if m.term > term {
                    // Cannot happen if every member keeps the rules: be safe, stop holding.
                    log(.critical, "member \(l) leads term \(m.term) while held here in term \(term): revoking locally")
                } else {
                    return reject(l, .termStillValid, request: request, now: now)
                }
            }
            stepDownToFollower(now)
        }
        if m.term < term && l != leader {
            // Follow a lower-term leader only if no higher-term vote went to someone else.
            let votedElsewhere = voteTerm > m.term && votedFor != nil && votedFor != l && votedFor != membership.me
            if votedElsewhere || role == .candidate || (promisedUntil.map { $0 > now } ?? false && leader != nil) {
                return reject(l, .termOutdated, request: request, now: now)
            }
        }
        if let p = promisedUntil, p > now, let cur = leader, cur != l, m.term <= term {
            return reject(l, .termStillValid, request: request, now: now)
        }
        if m.term > term { term = m.term }
        if role == .candidate {
            log(.info, "member \(l) leads term \(m.term); election term \(election?.term ?? 0) abandoned")
            election = nil
        }
        if leader != l { log(.info, "following member \(l) (term \(m.term))") }
        role = .follower
        leader = l
        // A grant waiting here lost to this leader: tell the client (Booth: overgrant), naming it.
        if !pendingGrants.isEmpty { finishClients(grant: .overgrant, now: now) }
        revoked = false
        nextElectionAt = nil
        acquireNotBefore = nil
        failedElections = 0
        extendPromise(promise(for: m, now: now))
        var ack = message(.ack, request: request, now: now)
        ack.term = m.term  // echo the leader's term, as boothd does
        ack.leader = l
        ack.round = m.round
        send(.send(to: l, ack))
    }

    mutating func onAck(_ m: PeerMessage, from f: Int, now: LeaseInstant) {
        guard role == .leader, var r = round, m.request == r.command, m.term == term, m.leader == membership.me
        else { return }
        // An ACK that names a round must name this one: an ACK of an earlier round (late or
        // duplicated) proves only an older, shorter promise. ACKs from boothd, or through a
        // shell that does not carry rounds, name none and count as before.
        if let n = m.round, n != r.number { return }
        r.acks.insert(f)
        round = r
        if !r.succeeded && r.acks.count >= membership.majority { roundSucceeded(now) }
        if let rr = round, rr.acks.count == membership.count {
            round = nil
            if commitPendingUntil != nil && allSitesAcked(rr) { commit(now) }
        } else if let rr = round, commitPendingUntil != nil, allSitesAcked(rr) {
            commit(now)
        }
    }

    func allSitesAcked(_ r: Round) -> Bool {
        membership.kinds.indices.allSatisfy { membership.kinds[$0] != .site || r.acks.contains($0) }
    }

    mutating func onRevoke(_ m: PeerMessage, from l: Int, now: LeaseInstant) {
        if l == leader, m.term < term, !settings.manual {
            // A REVOKE from an earlier leadership (delayed) must not cancel today's promise.
            return log(.warning, "member \(l) revokes the ticket in term \(m.term), below term \(term): ignored")
        }
        if l == leader || (role == .initial && leader == nil) || settings.manual {
            if l == leader {
                log(.info, "member \(l) revoked the ticket")
                leader = nil
                promisedUntil = nil
                revoked = true
                if role != .leader { role = .initial }
                nextElectionAt = nil
                acquireNotBefore = nil
            }
            var ack = message(.ack, request: .revoke, now: now)
            ack.term = m.term
            send(.send(to: l, ack))
        } else {
            log(.warning, "member \(l) revokes the ticket but member \(leader.map(String.init) ?? "none") leads; ignored")
        }
    }

    mutating func onMyIndex(_ m: PeerMessage, from x: Int, now: LeaseInstant) {
        guard let l = m.leader, m.validFor > .zero || settings.manual else {
            if m.term > term && role != .leader { term = m.term }
            return
        }
        if role == .leader {
            if l != membership.me, m.term > term, isHolder(at: now) {
                log(.critical, "member \(x) reports member \(l) leading newer term \(m.term): revoking locally")
                stepDownToFollower(now)
            } else {
                if m.term < term || l != membership.me { startRoundTo(x, now: now) }
                return
            }
        }
        if l == membership.me { return }
        if role == .candidate { return }
        if m.term >= term || leader == nil {
            term = max(term, m.term)
            leader = l
            revoked = false
            role = .follower
            extendPromise(promise(for: m, now: now))
        }
    }

    // MARK: - Timers

    mutating func onTick(_ now: LeaseInstant) {
        if let s = startupUntil, now >= s { startupUntil = nil }
        if let c = commitPendingUntil, now >= c { commit(now) }
        if role == .leader {
            leaderTick(now)
        } else if role == .candidate, let e = election, now >= e.end {
            log(.info, "election term \(e.term) timed out: \(e.votes.count) of \(membership.count) votes")
            electionFailed(now)
        }
        if let at = nextElectionAt, now >= at, role != .leader, role != .candidate, startupUntil == nil {
            nextElectionAt = nil
            beginAcquire(reason: electionReason, now: now)
        }
    }

    mutating func leaderTick(_ now: LeaseInstant) {
        if var r = round, now >= r.lastSent + settings.timeout {
            if r.resends < settings.retries {
                r.resends += 1
                r.lastSent = now
                round = r
                var msg = message(r.command, now: now)
                msg.leader = membership.me
                msg.round = r.number
                msg.validFor = settings.ceilToWire(r.granted - (now - r.firstSent))
                if settings.manual { msg.validFor = .zero }
                for i in membership.kinds.indices where i != membership.me && !r.acks.contains(i) {
                    send(.send(to: i, msg))
                }
            } else {
                if !r.succeeded { log(.warning, "renewal got \(r.acks.count) of \(membership.count) answers; retrying") }
                round = nil
                if !r.succeeded && !settings.manual { nextRenewalAt = now }
                if !r.succeeded && !settings.manual && holderUntil == nil {
                    // Elected, but no round of this leadership ever reached a majority (the others
                    // moved to higher terms): no lease ends to demote it, so step down and acquire
                    // anew in a fresh term instead of holding a few followers captive for ever.
                    log(.warning, "no majority for term \(term) after \(settings.retries) resends: new election")
                    stepDownToFollower(now)
                    scheduleAcquire(reason: .reacquire, at: now, now: now)
                }
            }
        }
        if let n = nextRenewalAt, now >= n, round == nil, handler == nil {
            nextRenewalAt = nil
            if settings.hasHandler {
                handler = .renewal
                send(.runHandler)
            } else {
                startRound(.heartbeat, now: now)
            }
        }
    }

    /// Lease expiry by time alone, for the leader and for followers.
    mutating func settleExpiry(_ now: LeaseInstant) {
        guard !settings.manual else { return }
        if role == .leader, let h = holderUntil, now >= h {
            log(.warning, "lease not renewed by a majority: no longer holding (term \(term))")
            role = .follower
            leader = nil
            holderUntil = nil
            round = nil
            nextRenewalAt = nil
            lostLeader = membership.me
            commitPendingUntil = nil
            finishClients(grant: .syncFail, now: now)
            scheduleAcquire(reason: .reacquire, at: now + settings.acquireAfter, now: now)
        }
        if role == .follower || role == .initial, let l = leader, let p = promisedUntil, now >= p {
            log(.warning, "lease of member \(l) ended")
            leader = nil
            lostLeader = l
            if !revoked {
                role = .follower
                scheduleAcquire(reason: .ticketLost, at: p + settings.acquireAfter, now: now)
            }
        }
    }

    // MARK: - Acquisition and elections

    mutating func scheduleAcquire(reason: PeerReason, at notBefore: LeaseInstant, now: LeaseInstant) {
        guard membership.isSite, !settings.manual, !revoked else { return }
        electionReason = reason
        acquireNotBefore = max(acquireNotBefore ?? notBefore, notBefore)
        let base = max(acquireNotBefore!, promisedUntil ?? notBefore)
        var at = base + settings.rankStep * membership.rank(excluding: lostLeader)
        if failedElections > 0 {
            at = max(at, now) + .nanoseconds(Int64(nextRandom() % UInt64(max(1, settings.timeout.nanoseconds / 2))))
        }
        nextElectionAt = at
    }

    mutating func beginAcquire(reason: PeerReason, now: LeaseInstant) {
        guard membership.isSite else { return }
        // A handler already runs (for an earlier acquisition, or a renewal before a revoke): its
        // result decides this acquisition.
        if handler != nil { return handler = .acquire(reason) }
        if !prerequisitesMet(manual: reason == .admin) {
            log(.info, "attr-prereq not met: not acquiring")
            return finishClients(grant: .attributePrerequisite, now: now)
        }
        if settings.hasHandler {
            handler = .acquire(reason)
            return send(.runHandler)
        }
        startElection(reason: reason, now: now)
    }

    func prerequisitesMet(manual: Bool) -> Bool {
        settings.prerequisites.allSatisfy { p in
            guard (p.grantType == .manual) == manual else { return true }
            let v = attributes[p.name]
            return p.op == .eq ? v == p.value : v != p.value
        }
    }

    mutating func startElection(reason: PeerReason, now: LeaseInstant) {
        let t = max(term, voteTerm) + 1
        term = t
        voteTerm = t
        votedFor = membership.me
        role = .candidate
        leader = nil
        var e = Election(term: t, reason: reason, end: now + settings.timeout)
        e.votes[membership.me] = membership.me
        election = e
        log(.info, "starting election term \(t) (\(reason))")
        var req = message(.requestVote, reason: reason, now: now)
        req.leader = membership.me
        req.validFor = .zero
        send(.broadcast(req))
        evaluateElection(now)
    }

    mutating func evaluateElection(_ now: LeaseInstant) {
        guard let e = election else { return }
        if term != e.term {
            // A reply or status carried a higher term: votes for e.term cannot make this member
            // the leader of its current term (another member may win that term).
            log(.info, "election term \(e.term) abandoned: term \(term) seen")
            return electionFailed(now)
        }
        let mine = e.votes.values.filter { $0 == membership.me }.count
        if mine >= membership.majority {
            return wonElection(e, now: now)
        }
        let undecided = membership.count - e.votes.count - e.refusals.count
        if mine + undecided < membership.majority {
            log(.info, "election term \(e.term) lost: \(mine) votes, \(e.refusals.count) refusals")
            electionFailed(now)
        }
    }

    mutating func electionFailed(_ now: LeaseInstant) {
        let reason = election?.reason ?? electionReason
        election = nil
        role = .follower
        failedElections += 1
        if reason == .admin && failedElections > settings.retries {
            finishClients(grant: .syncFail, now: now)
            failedElections = 0
            role = leader == nil ? .initial : .follower
            // Still granted (not revoked): keep acquiring it as a lost ticket; members that saw
            // it revoked answer YOU_OUTDATED.
            return scheduleAcquire(reason: .ticketLost, at: now, now: now)
        }
        if reason == .admin { for c in pendingGrants { send(.reply(c, .more, leader: nil, final: false)) } }
        scheduleAcquire(reason: reason, at: now, now: now)
    }

    mutating func wonElection(_ e: Election, now: LeaseInstant) {
        log(.info, "won election term \(e.term) with \(e.votes.count) votes")
        election = nil
        role = .leader
        leader = membership.me
        revoked = false
        failedElections = 0
        nextElectionAt = nil
        acquireNotBefore = nil
        promisedUntil = nil
        if e.reason == .admin && commitPendingUntil == nil && !forceGrant {
            commitPendingUntil = now + settings.expire + settings.acquireAfter
        }
        forceGrant = false
        startRound(.heartbeat, now: now)
    }

    var forceGrant = false

    /// A leader's lease round: HEARTBEAT then UPDATE, each extending the hold once a majority acks.
    mutating func startRound(_ c: PeerCommand, now: LeaseInstant) {
        let granted = settings.manual ? Duration.zero : settings.floorToWire(settings.expire)
        roundNumber &+= 1
        round = Round(command: c, number: roundNumber, firstSent: now, lastSent: now, granted: granted,
                      acks: [membership.me])
        var msg = message(c, now: now)
        msg.leader = membership.me
        msg.round = roundNumber
        msg.validFor = granted
        send(.broadcast(msg))
        if membership.majority == 1 { roundSucceeded(now) }
    }

    mutating func startRoundTo(_ x: Int, now: LeaseInstant) {
        var msg = message(.update, now: now)
        msg.leader = membership.me
        // Its lease is what is left of the hold, not a round's grant: a number of its own, so
        // that its ACK does not count for the round in progress.
        roundNumber &+= 1
        msg.round = roundNumber
        send(.send(to: x, msg))
    }

    mutating func roundSucceeded(_ now: LeaseInstant) {
        guard var r = round else { return }
        r.succeeded = true
        round = r
        if !settings.manual {
            let until = r.firstSent + settings.holdTime(granted: r.granted)
            holderUntil = max(holderUntil ?? until, until)
        }
        if r.command == .heartbeat {
            nextRenewalAt = r.firstSent + settings.renewalFrequency
            if commitPendingUntil == nil { finishClients(grant: .success, now: now) }
            // Booth's sites write the ticket on UPDATE: send one after each heartbeat majority.
            let acks = r.acks
            startRound(.update, now: now)
            if var u = round { u.acks.formUnion(acks.intersection([membership.me])); round = u }
        }
    }

    mutating func commit(_ now: LeaseInstant) {
        commitPendingUntil = nil
        if isHolder(at: now) { finishClients(grant: .success, now: now) }
    }

    mutating func stepDownToFollower(_ now: LeaseInstant) {
        if role == .leader { lostLeader = membership.me }
        role = .follower
        holderUntil = nil
        round = nil
        nextRenewalAt = nil
        election = nil
        commitPendingUntil = nil
        if leader == membership.me { leader = nil }
    }

    // MARK: - Clients

    mutating func onGrant(client: ClientID, force: Bool, now: LeaseInstant) {
        guard membership.isSite else { return send(.reply(client, .notASite, leader: nil, final: true)) }
        if isHolder(at: now) { return send(.reply(client, .success, leader: membership.me, final: true)) }
        let ownedElsewhere: Bool = {
            guard let l = leader, l != membership.me else { return false }
            return settings.manual || (promisedUntil.map { $0 > now } ?? false)
        }()
        if ownedElsewhere && !(settings.manual && force) {
            return send(.reply(client, .overgrant, leader: leader, final: true))
        }
        if !prerequisitesMet(manual: true) {
            return send(.reply(client, .attributePrerequisite, leader: nil, final: true))
        }
        if settings.manual {
            if ownedElsewhere { log(.warning, "manual ticket granted with --force while member \(leader!) holds it") }
            role = .leader
            leader = membership.me
            manualGrantedHere = true
            revoked = false
            startRound(.heartbeat, now: now)
            return send(.reply(client, .success, leader: membership.me, final: true))
        }
        pendingGrants.append(client)
        send(.reply(client, .more, leader: nil, final: false))
        revoked = false
        forceGrant = force
        // A candidate's election, or an elected leader's first round, answers the client.
        if role != .candidate && role != .leader {
            failedElections = 0
            nextElectionAt = nil
            beginAcquire(reason: .admin, now: now)
        }
    }

    mutating func onRevokeRequest(client: ClientID, now: LeaseInstant) {
        guard role == .leader else {
            if let l = leader, l != membership.me {
                return send(.reply(client, .redirect, leader: l, final: true))
            }
            return send(.reply(client, .ticketIdle, leader: nil, final: true))
        }
        log(.info, "revoking (term \(term))")
        stepDownToFollower(now)
        role = .initial
        leader = nil
        revoked = true
        manualGrantedHere = false
        promisedUntil = nil
        nextElectionAt = nil
        acquireNotBefore = nil
        finishClients(grant: .syncFail, now: now)
        var msg = message(.revoke, reason: .admin, now: now)
        msg.leader = membership.me
        send(.broadcast(msg))
        send(.reply(client, .success, leader: nil, final: true))
    }

    mutating func finishClients(grant outcome: ClientOutcome, now: LeaseInstant) {
        for c in pendingGrants { send(.reply(c, outcome, leader: leader, final: true)) }
        pendingGrants = []
    }

    mutating func onHandlerFinished(success: Bool, now: LeaseInstant) {
        guard let h = handler else { return }
        handler = nil
        switch h {
        case .renewal:
            guard role == .leader else { return }
            if success {
                startRound(.heartbeat, now: now)
            } else {
                log(.warning, "before-acquire-handler failed: releasing the ticket")
                stepDownToFollower(now)
                var msg = message(.voteFor, now: now)
                msg.leader = nil
                send(.broadcast(msg))
                // Another site may take it over first; else try again (the handler may succeed then).
                scheduleAcquire(reason: .stepDown, at: now + settings.acquireAfter + settings.timeout, now: now)
            }
        case let .acquire(reason):
            if success, let p = promisedUntil, p > now {
                // While the handler ran this member promised a leader its lease: it must not
                // campaign (its own vote would break that promise) before the promise ends.
                if let l = leader {
                    log(.info, "member \(l) leads now: not starting an election")
                    return finishClients(grant: .overgrant, now: now)
                }
                return scheduleAcquire(reason: reason, at: now, now: now)
            }
            if success {
                startElection(reason: reason, now: now)
            } else {
                log(.warning, "before-acquire-handler failed: not acquiring")
                finishClients(grant: .handlerFailed, now: now)
                // Try again later while the ticket is lost: the handler may succeed then.
                failedElections += 1
                scheduleAcquire(reason: reason == .admin ? .ticketLost : reason, at: now + settings.timeout, now: now)
            }
        }
    }

    mutating func nextRandom() -> UInt64 {
        rng &+= 0x9E37_79B9_7F4A_7C15
        var z = rng
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
