import BoothConfig
import TicketLease

/// Knobs of one run that do not change what happens, only what is recorded.
public struct SimulationOptions: Sendable {
    /// Keep every event, formatted, in ``SimulationResult/fullTrace``.
    public var fullTrace = false
    /// How many of the last events a result keeps (printed with failures).
    public var recentTraceLength = 60

    public init(fullTrace: Bool = false, recentTraceLength: Int = 60) {
        self.fullTrace = fullTrace
        self.recentTraceLength = recentTraceLength
    }
}

/// A seeded, deterministic simulation of Booth-compatible tickets: N ``TicketLease`` members
/// with drifting clocks on a lossy, duplicating, reordering, partitioned network, with
/// crashes (also between the directives of one transaction), restarts from persisted
/// state, and administrators granting and revoking.
///
/// A run has a fault phase, in which safety is checked in true time after every event, then
/// a liveness phase: everything heals, and some site must acquire every ticket within a
/// bound and keep it. The same seed and scenario always produce the same run (compare
/// ``SimulationResult/traceHash``). See Docs/ticket-simulation.md.
public enum TicketSimulation {
    /// Runs one seed of `scenario` (default: the standard scenario the seed selects).
    public static func run(
        seed: UInt64, scenario: Scenario? = nil,
        options: SimulationOptions = SimulationOptions()
    ) -> SimulationResult {
        var run = SimulationRun(seed: seed, scenario: scenario ?? Scenario.forSeed(seed), options: options)
        return run.execute()
    }
}

// MARK: - The run

struct SimulationRun {
    enum Phase { case faults, healed }

    enum Event {
        case deliver(from: Int, to: Int, ticket: Int, message: PeerMessage)
        case wakeup(member: Int, ticket: Int, generation: UInt64)
        case handlerDone(member: Int, ticket: Int, incarnation: Int)
        case crash(member: Int)
        case restart(member: Int, incarnation: Int)
        case partition
        case partitionHeal(generation: Int)
        case admin
        case heal
        case probe
    }

    struct Member {
        var kind: LeaseMembership.Kind
        var clock: SimulatedClock
        var up = false
        var incarnation = 0
        var leases: [TicketLease?]
        var persisted: [PersistentTicketState?]
        var backend: [BackendView?]
        var wakeupAt: [Int64?]
        var wakeupGeneration: [UInt64]
        var ticksAtSameInstant: [Int]
        var crashInsideNextTransaction = false
        /// Last persisted (voteTerm, votedFor) per ticket, across restarts.
        var lastVote: [(term: UInt32, votedFor: Int?)?]
    }

    struct PendingFailover {
        var oldHolder: Int
        var leaseEnd: Int64
        /// ``SimulationRun/disturbances`` right after the holder's crash, or nil when another
        /// member was down then (the failover is disturbed from the start).
        var disturbances: Int?
    }

    let seed: UInt64
    let scenario: Scenario
    let options: SimulationOptions
    let settings: [LeaseSettings]
    let ticketNames: [String]
    var rng: SimulationRandom
    var queue = EventQueue<Event>()
    var now: Int64 = 0
    var phase = Phase.faults
    var members: [Member] = []
    var counters = SimulationCounters()
    var failure: SimulationFailure?
    var draws: [String] = []
    var trace: TraceRecorder

    // Network state.
    var loss: Double = 0
    var duplication: Double = 0
    var longDelayProbability: Double = 0
    var blocked: [[Bool]]
    var partitionGeneration = 0

    var nextClient = 1
    /// Per ticket: winners by term.
    var winners: [[UInt32: Int]]
    var lastHolder: [Int?]
    var pendingFailover: [PendingFailover?]
    /// Counts every fault and administrator action (crash, partition, lost message, grant,
    /// revoke): a failover during which it did not change was undisturbed.
    var disturbances = 0

    // Liveness phase.
    var healTime: Int64 = 0
    var firstHolderAfterHeal: [(member: Int, time: Int64)?]
    var holdingStreak: [(member: Int, time: Int64)?]
    var livenessGranted: [Bool]
    var quietSince: [Int64?]
    /// Per member and ticket: a before-acquire-handler is running.
    var handlerRunning: [[Bool]]
    var finished = false

    init(seed: UInt64, scenario: Scenario, options: SimulationOptions) {
        self.seed = seed
        self.scenario = scenario
        self.options = options
        let tickets = scenario.configuration.tickets
        settings = tickets.indices.map { scenario.settings(ticket: $0) }
        ticketNames = tickets.map(\.name)
        rng = SimulationRandom(seed: seed)
        trace = TraceRecorder(capacity: options.recentTraceLength, keepAll: options.fullTrace)
        let n = scenario.configuration.members.count
        blocked = Array(repeating: Array(repeating: false, count: n), count: n)
        winners = Array(repeating: [:], count: tickets.count)
        lastHolder = Array(repeating: nil, count: tickets.count)
        pendingFailover = Array(repeating: nil, count: tickets.count)
        firstHolderAfterHeal = Array(repeating: nil, count: tickets.count)
        holdingStreak = Array(repeating: nil, count: tickets.count)
        livenessGranted = Array(repeating: false, count: tickets.count)
        quietSince = Array(repeating: nil, count: tickets.count)
        handlerRunning = Array(repeating: Array(repeating: false, count: tickets.count), count: n)
    }

    // MARK: Setup and main loop

    mutating func execute() -> SimulationResult {
        drawFaults()
        let kinds = scenario.memberKinds
        let t = settings.count
        for i in kinds.indices {
            let bound = scenario.clockDriftPPM
            let drift: Int64
            switch rng.index(4) {
            case 0: drift = bound
            case 1: drift = -bound
            default: drift = rng.int(in: -bound...bound)
            }
            let clock = SimulatedClock(offset: rng.int(in: 0...1_000_000_000_000), driftPPM: drift)
            members.append(
                Member(
                    kind: kinds[i], clock: clock, leases: Array(repeating: nil, count: t),
                    persisted: Array(repeating: nil, count: t), backend: Array(repeating: nil, count: t),
                    wakeupAt: Array(repeating: nil, count: t), wakeupGeneration: Array(repeating: 0, count: t),
                    ticksAtSameInstant: Array(repeating: 0, count: t),
                    lastVote: Array(repeating: nil, count: t)))
            draws.append("member \(i) (\(kinds[i])): clock \(clock)")
            queue.push(.restart(member: i, incarnation: 0), at: rng.int(in: 0...500_000_000))
        }
        let f = scenario.faults
        // The administrator grants every ticket early, then acts at random.
        queue.push(.admin, at: rng.int(in: 1_000_000_000...3_000_000_000))
        if let every = f.partitionEvery { queue.push(.partition, at: rng.exponential(mean: every).nanoseconds) }
        if let every = f.crashEvery {
            for i in kinds.indices { queue.push(.crash(member: i), at: rng.exponential(mean: every).nanoseconds) }
        }
        queue.push(.heal, at: scenario.faultPhase.nanoseconds)

        var initialGrantsDone = false
        while failure == nil, !finished, let (time, event) = queue.pop() {
            precondition(time >= now, "Internal inconsistency: event at \(time) before now \(now)")
            now = time
            counters.events += 1
            switch event {
            case .deliver(let from, let to, let ticket, let message):
                deliver(from: from, to: to, ticket: ticket, message)
            case .wakeup(let m, let k, let generation): wakeup(m, k, generation)
            case .handlerDone(let m, let k, let incarnation): handlerDone(m, k, incarnation)
            case .crash(let m): crashEvent(m)
            case .restart(let m, let incarnation): restart(m, incarnation)
            case .partition: partition()
            case .partitionHeal(let generation): partitionHeal(generation)
            case .admin:
                adminAction(initial: !initialGrantsDone)
                initialGrantsDone = true
            case .heal: heal()
            case .probe: probe()
            }
        }
        if failure == nil, !finished {
            fail(.liveness, "the event queue ran dry before the liveness phase ended")
        }
        return SimulationResult(
            seed: seed, scenario: scenario, failure: failure, counters: counters,
            traceHash: trace.hash, recentTrace: trace.recent(), fullTrace: trace.all,
            draws: draws, simulatedTime: .nanoseconds(now))
    }

    mutating func drawFaults() {
        let f = scenario.faults
        loss = rng.chance(0.2) ? 0 : rng.unit() * f.maximumLoss
        duplication = rng.unit() * f.maximumDuplication
        longDelayProbability = rng.unit() * f.maximumLongDelayProbability
        draws.append("scenario \(scenario.name), seed \(seed)")
        draws.append("loss \(loss), duplication \(duplication), long delays \(longDelayProbability)")
    }

    mutating func fail(_ kind: SimulationFailureKind, _ message: String) {
        guard failure == nil else { return }
        failure = SimulationFailure(kind: kind, at: .nanoseconds(now), message: message)
        trace.note(now, "FAILURE \(kind.rawValue): \(message)")
    }

    func local(_ m: Int) -> LeaseInstant { members[m].clock.local(at: now) }

    func membership(_ m: Int, ticket k: Int) -> LeaseMembership {
        LeaseMembership(kinds: scenario.memberKinds, weights: scenario.configuration.tickets[k].weights, me: m)
    }

    // MARK: Events

    mutating func deliver(from: Int, to: Int, ticket k: Int, _ message: PeerMessage) {
        guard members[to].up, var lease = members[to].leases[k] else {
            counters.messagesDropped += 1
            return
        }
        counters.messagesDelivered += 1
        let before = (lease.role, lease.term)
        let d = lease.receive(message, from: from, now: local(to))
        members[to].leases[k] = lease
        apply(to, k, .receive(from: from, message), d, before: before)
    }

    mutating func wakeup(_ m: Int, _ k: Int, _ generation: UInt64) {
        guard members[m].up, members[m].wakeupGeneration[k] == generation, var lease = members[m].leases[k] else {
            return
        }
        members[m].wakeupAt[k] = nil
        let before = (lease.role, lease.term)
        let d = lease.tick(now: local(m))
        members[m].leases[k] = lease
        apply(m, k, .tick, d, before: before)
    }

    mutating func handlerDone(_ m: Int, _ k: Int, _ incarnation: Int) {
        guard members[m].up, members[m].incarnation == incarnation, var lease = members[m].leases[k] else { return }
        handlerRunning[m][k] = false
        let success = phase == .healed || !rng.chance(scenario.faults.handlerFailure)
        if !success { counters.handlerFailures += 1 }
        let before = (lease.role, lease.term)
        let d = lease.handlerFinished(success: success, now: local(m))
        members[m].leases[k] = lease
        apply(m, k, .handler(success: success), d, before: before)
    }

    mutating func crashEvent(_ m: Int) {
        guard phase == .faults, let every = scenario.faults.crashEvery else { return }
        queue.push(.crash(member: m), at: now + max(1, rng.exponential(mean: every).nanoseconds))
        guard members[m].up, !members[m].crashInsideNextTransaction else { return }
        if rng.chance(scenario.faults.crashInsideTransaction) {
            // Strikes during the member's next transaction that has directives.
            members[m].crashInsideNextTransaction = true
        } else {
            crash(m, inside: false)
        }
    }

    mutating func crash(_ m: Int, inside: Bool) {
        counters.crashes += 1
        disturbances += 1
        if inside { counters.crashesInsideTransaction += 1 }
        for k in settings.indices {
            if let l = members[m].leases[k], l.isHolder(at: local(m)), let h = l.holderUntil {
                let othersUp = members.indices.allSatisfy { $0 == m || members[$0].up }
                pendingFailover[k] = PendingFailover(
                    oldHolder: m, leaseEnd: members[m].clock.trueTime(reaching: h),
                    disturbances: othersUp ? disturbances : nil)
            }
            members[m].leases[k] = nil
            handlerRunning[m][k] = false
            members[m].wakeupAt[k] = nil
            members[m].wakeupGeneration[k] += 1
        }
        members[m].up = false
        members[m].crashInsideNextTransaction = false
        members[m].incarnation += 1
        trace.record(
            TraceEntry(
                time: now, member: m, ticket: -1, event: .crash(inside: inside), directives: [],
                executed: 0), names: ticketNames)
        let down = rng.duration(in: scenario.faults.downtime).nanoseconds
        queue.push(.restart(member: m, incarnation: members[m].incarnation), at: now + down)
    }

    mutating func restart(_ m: Int, _ incarnation: Int) {
        guard !members[m].up, members[m].incarnation == incarnation else { return }
        members[m].up = true
        if incarnation > 0 { counters.restarts += 1 }
        for k in settings.indices {
            var lease = TicketLease(settings: settings[k], membership: membership(m, ticket: k), seed: rng.next())
            let restored = members[m].persisted[k]
            let d = lease.start(now: local(m), restored: restored)
            members[m].leases[k] = lease
            apply(m, k, .start(restored: restored != nil), d, before: (.initial, 0), isStart: true)
            if failure != nil || !members[m].up { return }
        }
    }

    mutating func partition() {
        guard phase == .faults, let every = scenario.faults.partitionEvery else { return }
        let n = members.count
        var b = Array(repeating: Array(repeating: false, count: n), count: n)
        let description: String
        switch rng.index(4) {
        case 0:
            // Symmetric split into two non-empty groups.
            var side = (0..<n).map { _ in rng.chance(0.5) }
            if side.allSatisfy({ $0 }) || side.allSatisfy({ !$0 }) { side[rng.index(n)].toggle() }
            if side.allSatisfy({ $0 }) || side.allSatisfy({ !$0 }) { side[0] = !side[n - 1] }
            for i in 0..<n { for j in 0..<n where side[i] != side[j] { b[i][j] = true } }
            description = "split \((0..<n).filter { side[$0] }) | \((0..<n).filter { !side[$0] })"
        case 1:
            let x = rng.index(n)
            for j in 0..<n where j != x { b[x][j] = true; b[j][x] = true }
            description = "isolate \(x)"
        case 2:
            // Asymmetric: one member cannot send, or cannot receive.
            let x = rng.index(n)
            let outgoing = rng.chance(0.5)
            for j in 0..<n where j != x { if outgoing { b[x][j] = true } else { b[j][x] = true } }
            description = outgoing ? "\(x) cannot send" : "\(x) cannot receive"
        default:
            // Random one-way links.
            var links: [String] = []
            for i in 0..<n {
                for j in 0..<n where i != j && rng.chance(0.3) { b[i][j] = true; links.append("\(i)->\(j)") }
            }
            description = "one-way cuts " + (links.isEmpty ? "none" : links.joined(separator: " "))
        }
        blocked = b
        partitionGeneration += 1
        counters.partitions += 1
        disturbances += 1
        trace.note(now, "partition: \(description)")
        let length = rng.duration(in: scenario.faults.partitionLength).nanoseconds
        queue.push(.partitionHeal(generation: partitionGeneration), at: now + length)
        queue.push(.partition, at: now + length + max(1, rng.exponential(mean: every).nanoseconds))
    }

    mutating func partitionHeal(_ generation: Int) {
        guard generation == partitionGeneration else { return }
        clearPartitions()
        trace.note(now, "partition healed")
    }

    mutating func clearPartitions() {
        for i in blocked.indices { for j in blocked.indices { blocked[i][j] = false } }
        partitionGeneration += 1
    }

    mutating func adminAction(initial: Bool) {
        guard phase == .faults else { return }
        if initial {
            for k in settings.indices { adminGrant(k, force: false) }
        } else {
            let k = rng.index(settings.count)
            if rng.chance(0.6) {
                adminGrant(k, force: rng.chance(scenario.faults.forceGrant))
            } else {
                adminRevoke(k)
            }
        }
        if let every = scenario.faults.adminEvery {
            queue.push(.admin, at: now + max(1, rng.exponential(mean: every).nanoseconds))
        }
    }

    mutating func adminGrant(_ k: Int, force: Bool) {
        let sites = members.indices.filter { members[$0].kind == .site && members[$0].up }
        guard !sites.isEmpty else { return }
        let s = sites[rng.index(sites.count)]
        guard var lease = members[s].leases[k] else { return }
        counters.grants += 1
        disturbances += 1
        let client = nextClient
        nextClient += 1
        let before = (lease.role, lease.term)
        let d = lease.grant(client: client, force: force, now: local(s))
        members[s].leases[k] = lease
        apply(s, k, .grant(client: client, force: force), d, before: before)
    }

    mutating func adminRevoke(_ k: Int) {
        let up = members.indices.filter { members[$0].up && members[$0].leases[k] != nil }
        guard !up.isEmpty else { return }
        let leaders = up.filter { members[$0].leases[k]!.role == .leader }
        let target = leaders.first ?? up[rng.index(up.count)]
        var lease = members[target].leases[k]!
        counters.revokes += 1
        disturbances += 1
        let client = nextClient
        nextClient += 1
        let before = (lease.role, lease.term)
        let d = lease.revoke(client: client, now: local(target))
        members[target].leases[k] = lease
        apply(target, k, .revoke(client: client), d, before: before)
    }

    // MARK: Liveness phase

    mutating func heal() {
        phase = .healed
        healTime = now
        loss = 0
        duplication = 0
        longDelayProbability = 0
        clearPartitions()
        trace.note(now, "heal: no more loss, partitions, crashes or administrator actions")
        for m in members.indices {
            members[m].crashInsideNextTransaction = false
            if !members[m].up {
                members[m].incarnation += 1
                restart(m, members[m].incarnation)
                if failure != nil { return }
            }
        }
        queue.push(.probe, at: now + 100_000_000)
    }

    /// The administrator's part of the liveness phase. Once a ticket has been quiet for a
    /// while (nobody holds it, and no member has a timer, a running handler or an election
    /// for it, so nothing will happen on its own):
    /// * if every site says it is revoked, the administrator grants it (once);
    /// * otherwise a site considers it granted but nobody will ever acquire it: an automatic
    ///   failover stalled, which is a liveness failure.
    mutating func livenessGrant() {
        guard now >= healTime + settings.map(\.timeout).max()!.nanoseconds * 2 else { return }
        for k in settings.indices where !livenessGranted[k] {
            let quiet =
                holders(k).isEmpty
                && members.allSatisfy { m in
                    guard let l = m.leases[k] else { return false }
                    return l.nextWakeup == nil && l.role != .candidate && l.role != .leader
                } && !handlerRunning.contains { $0[k] }
            guard quiet else {
                quietSince[k] = nil
                continue
            }
            let since = quietSince[k] ?? now
            quietSince[k] = since
            guard now - since >= quietPeriod else { continue }
            let granted = members.indices.filter { members[$0].kind == .site && !members[$0].leases[k]!.revoked }
            if !granted.isEmpty {
                return fail(
                    .liveness,
                    "\(ticketNames[k]): sites \(granted) consider it granted, yet nobody holds it and "
                        + "nobody will acquire it\n" + stateDump(k))
            }
            livenessGranted[k] = true
            trace.note(now, "liveness: \(ticketNames[k]) is revoked at every site and idle; granting it")
            adminGrant(k, force: false)
            if failure != nil { return }
        }
    }

    /// Longer than any message may still be in flight from the fault phase.
    var quietPeriod: Int64 { scenario.faults.longDelay.upperBound.nanoseconds + 500_000_000 }

    func livenessBound(_ k: Int) -> Int64 {
        let s = settings[k]
        return (s.expire * 3 + s.acquireAfter + s.timeout * (s.retries + 2)).nanoseconds + quietPeriod
    }

    func holdWindow(_ k: Int) -> Int64 { (settings[k].expire * 2).nanoseconds }

    /// Liveness: by `heal + livenessBound` a holding streak must have begun (one member
    /// holding at every probe) that lasts `holdWindow`. A lease granted before the heal may
    /// still lapse (its renewal failed in the fault phase); that only restarts the streak.
    mutating func probe() {
        livenessGrant()
        if failure != nil { return }
        var done = true
        for k in settings.indices {
            let h = holders(k)
            if let streak = holdingStreak[k], h == [streak.member] {
                if now >= streak.time + holdWindow(k) { continue }
            } else if h.count == 1 {
                if holdingStreak[k] != nil { counters.livenessStreakRestarts += 1 }
                holdingStreak[k] = (h[0], now)
                if firstHolderAfterHeal[k] == nil {
                    firstHolderAfterHeal[k] = (h[0], now)
                    counters.timeToHolderAfterHeal = max(counters.timeToHolderAfterHeal, .nanoseconds(now - healTime))
                }
            } else {
                if let streak = holdingStreak[k] {
                    counters.livenessStreakRestarts += 1
                    trace.note(
                        now,
                        "liveness: \(ticketNames[k]) held by member \(streak.member) since "
                            + "\(formatSeconds(.nanoseconds(streak.time))) is now held by \(h)")
                }
                holdingStreak[k] = nil
            }
            done = false
            let deadline = healTime + livenessBound(k)
            if now > deadline, (holdingStreak[k]?.time ?? now) > deadline {
                return fail(
                    .liveness,
                    "\(ticketNames[k]): no site has held it steadily since "
                        + "\(formatSeconds(.nanoseconds(livenessBound(k)))) after the heal (holders now: \(h))\n"
                        + stateDump(k))
            }
        }
        if done {
            finished = true
        } else {
            queue.push(.probe, at: now + 100_000_000)
        }
    }

    func holders(_ k: Int) -> [Int] {
        members.indices.filter { i in
            guard members[i].up, let l = members[i].leases[k] else { return false }
            return l.isHolder(at: local(i))
        }
    }

    func stateDump(_ k: Int) -> String {
        members.indices.map { i -> String in
            guard members[i].up, let l = members[i].leases[k] else { return "  member \(i): down" }
            let n = local(i)
            func rel(_ x: LeaseInstant?) -> String { x.map { formatSeconds($0 - n) } ?? "-" }
            return
                "  member \(i) (\(members[i].kind)): \(l.role) term \(l.term) vote \(l.voteTerm)->\(l.votedFor.map(String.init) ?? "-") "
                + "leader \(l.leader.map(String.init) ?? "-") revoked \(l.revoked) promised \(rel(l.promisedUntil)) "
                + "holder \(rel(l.holderUntil)) next wakeup \(rel(l.nextWakeup))"
        }.joined(separator: "\n")
    }

    // MARK: Directives and invariants

    mutating func apply(
        _ m: Int, _ k: Int, _ event: TraceEvent, _ directives: [TicketDirective],
        before: (TicketLease.Role, UInt32), isStart: Bool = false
    ) {
        var executed = directives.count
        let crashing = members[m].crashInsideNextTransaction && !directives.isEmpty
        if crashing { executed = rng.index(directives.count) }
        trace.record(
            TraceEntry(time: now, member: m, ticket: k, event: event, directives: directives, executed: executed),
            names: ticketNames)
        for d in directives.prefix(executed) {
            execute(d, m, k)
        }
        if let lease = members[m].leases[k] { accountElection(m, k, lease, before: before, isStart: isStart) }
        if crashing {
            crash(m, inside: true)
        } else {
            rescheduleWakeup(m, k, afterTick: { if case .tick = event { true } else { false } }())
        }
        checkSafety(k)
    }

    mutating func execute(_ d: TicketDirective, _ m: Int, _ k: Int) {
        switch d {
        case .persist(let p):
            if let last = members[m].lastVote[k] {
                if p.voteTerm < last.term {
                    fail(.voteTermDecreased, "member \(m) persisted voteTerm \(p.voteTerm) after \(last.term)")
                } else if p.voteTerm == last.term, let v = last.votedFor, p.votedFor != v {
                    fail(
                        .voteChanged,
                        "member \(m) changed its vote in term \(p.voteTerm) from \(v) to "
                            + "\(p.votedFor.map(String.init) ?? "nobody")")
                }
            }
            members[m].lastVote[k] = (p.voteTerm, p.votedFor)
            members[m].persisted[k] = p
        case .backend(let v):
            members[m].backend[k] = v
        case .send(let to, let message):
            transmit(from: m, to: to, ticket: k, message)
        case .broadcast(let message):
            for j in members.indices where j != m { transmit(from: m, to: j, ticket: k, message) }
        case .reply(_, let outcome, _, _):
            counters.clientOutcomes[outcome.rawValue, default: 0] += 1
        case .runHandler:
            counters.handlerRuns += 1
            if handlerRunning[m][k] {
                fail(.handlerOverlap, "member \(m) \(ticketNames[k]): runHandler while its handler is still running")
            }
            handlerRunning[m][k] = true
            let d = rng.duration(in: scenario.faults.handlerDuration).nanoseconds
            queue.push(.handlerDone(member: m, ticket: k, incarnation: members[m].incarnation), at: now + d)
        case .log:
            break
        }
    }

    mutating func transmit(from: Int, to: Int, ticket k: Int, _ sent: PeerMessage) {
        counters.messagesSent += 1
        var message = sent
        if !scenario.wireCarriesRound { message.round = nil }
        if blocked[from][to] || rng.chance(loss) {
            counters.messagesDropped += 1
            disturbances += 1
            return
        }
        var copies = 1
        if rng.chance(duplication) {
            copies = 2
            counters.messagesDuplicated += 1
        }
        for _ in 0..<copies {
            let delay: Duration
            if phase == .healed {
                delay = rng.duration(in: .microseconds(100)...(.milliseconds(5)))
            } else if rng.chance(longDelayProbability) {
                delay = rng.duration(in: scenario.faults.longDelay)
            } else {
                delay = rng.duration(in: scenario.faults.delay)
            }
            queue.push(.deliver(from: from, to: to, ticket: k, message: message), at: now + delay.nanoseconds)
        }
    }

    mutating func rescheduleWakeup(_ m: Int, _ k: Int, afterTick: Bool) {
        guard let lease = members[m].leases[k] else { return }
        let localNow = local(m)
        if afterTick, let w = lease.nextWakeup, w <= localNow {
            members[m].ticksAtSameInstant[k] += 1
            if members[m].ticksAtSameInstant[k] >= 3 {
                return fail(
                    .wakeupInPast,
                    "member \(m) \(ticketNames[k]): after tick(now: \(localNow)) nextWakeup is "
                        + "\(w) (\(formatSeconds(w - localNow))); a shell would call tick in a loop\n" + stateDump(k))
            }
        } else if afterTick {
            members[m].ticksAtSameInstant[k] = 0
        }
        let want = lease.nextWakeup.map { max(now, members[m].clock.trueTime(reaching: $0)) }
        if want == members[m].wakeupAt[k] { return }
        members[m].wakeupGeneration[k] += 1
        members[m].wakeupAt[k] = want
        if let w = want {
            queue.push(.wakeup(member: m, ticket: k, generation: members[m].wakeupGeneration[k]), at: w)
        }
    }

    mutating func accountElection(
        _ m: Int, _ k: Int, _ lease: TicketLease, before: (TicketLease.Role, UInt32),
        isStart: Bool
    ) {
        if lease.role == .candidate, before.0 != .candidate || before.1 != lease.term {
            counters.electionsStarted += 1
        }
        if lease.role == .leader, before.0 == .candidate || (before.0 != .leader && !isStart) {
            counters.electionsWon += 1
            if let w = winners[k][lease.term], w != m {
                fail(.twoLeadersInTerm, "\(ticketNames[k]): members \(w) and \(m) both won term \(lease.term)")
            }
            winners[k][lease.term] = m
        }
    }

    mutating func checkSafety(_ k: Int) {
        let h = holders(k)
        if h.count > 1 {
            let detail = h.map { i in
                "member \(i) holds until \(members[i].leases[k]!.holderUntil.map { formatSeconds($0 - local(i)) } ?? "-") from now"
            }.joined(separator: ", ")
            return fail(.twoHolders, "\(ticketNames[k]): \(detail)\n" + stateDump(k))
        }
        var granted: [Int] = []
        for i in members.indices {
            guard let b = members[i].backend[k], b.granted else { continue }
            if b.grantedUntil.map({ local(i) < $0 }) ?? true { granted.append(i) }
        }
        if granted.count > 1 {
            return fail(
                .twoGrantedBackends,
                "\(ticketNames[k]): the ticket consumers of members \(granted) all have it granted\n"
                    + stateDump(k))
        }
        if let holder = h.first, holder != lastHolder[k] {
            counters.holderChanges += 1
            lastHolder[k] = holder
            if let p = pendingFailover[k], p.oldHolder != holder {
                counters.failovers += 1
                counters.maximumFailover = max(counters.maximumFailover, .nanoseconds(now - p.leaseEnd))
                if p.disturbances == disturbances {
                    counters.undisturbedFailovers += 1
                    counters.maximumUndisturbedFailover = max(
                        counters.maximumUndisturbedFailover, .nanoseconds(now - p.leaseEnd))
                }
            }
            pendingFailover[k] = nil
        } else if let holder = h.first, pendingFailover[k]?.oldHolder == holder {
            pendingFailover[k] = nil  // the old holder came back and resumed
        }
    }
}
