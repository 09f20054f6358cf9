import TicketLease

/// What one seeded run counted. Everything is deterministic given the seed and scenario.
public struct SimulationCounters: Sendable, Equatable {
    /// Events processed by the scheduler (deliveries, timers, faults, administrator actions).
    public var events = 0
    /// Peer messages handed to the network (a broadcast counts once per receiver).
    public var messagesSent = 0
    public var messagesDelivered = 0
    /// Lost to random loss, partitions, or a receiver that was down.
    public var messagesDropped = 0
    public var messagesDuplicated = 0
    public var crashes = 0
    /// Crashes that struck between two directives of one transaction.
    public var crashesInsideTransaction = 0
    public var restarts = 0
    public var partitions = 0
    public var electionsStarted = 0
    public var electionsWon = 0
    /// Times a ticket's holder became a different member (the first acquisition counts).
    public var holderChanges = 0
    public var grants = 0
    public var revokes = 0
    public var handlerRuns = 0
    public var handlerFailures = 0
    /// Failovers after a holder crashed: from the old holder's lease end (true time) to the
    /// moment another member held the ticket.
    public var failovers = 0
    public var maximumFailover: Duration = .zero
    /// The failovers during which nothing else went wrong (no other crash, no partition, no
    /// lost message, no administrator action): the protocol's own failover time.
    public var undisturbedFailovers = 0
    public var maximumUndisturbedFailover: Duration = .zero
    /// Liveness phase: from the heal to the first holder, largest over the run's tickets.
    public var timeToHolderAfterHeal: Duration = .zero
    /// Liveness phase: times a holding streak ended (a lease from before the heal lapsed).
    public var livenessStreakRestarts = 0
    /// Replies to administrators by outcome (`success`, `overgrant`, ...), sorted by outcome.
    public var clientOutcomes: [String: Int] = [:]

    public init() {}

    /// Adds another run's counts (maxima are combined as maxima).
    public mutating func add(_ o: SimulationCounters) {
        events += o.events
        messagesSent += o.messagesSent
        messagesDelivered += o.messagesDelivered
        messagesDropped += o.messagesDropped
        messagesDuplicated += o.messagesDuplicated
        crashes += o.crashes
        crashesInsideTransaction += o.crashesInsideTransaction
        restarts += o.restarts
        partitions += o.partitions
        electionsStarted += o.electionsStarted
        electionsWon += o.electionsWon
        holderChanges += o.holderChanges
        grants += o.grants
        revokes += o.revokes
        handlerRuns += o.handlerRuns
        handlerFailures += o.handlerFailures
        failovers += o.failovers
        maximumFailover = max(maximumFailover, o.maximumFailover)
        undisturbedFailovers += o.undisturbedFailovers
        maximumUndisturbedFailover = max(maximumUndisturbedFailover, o.maximumUndisturbedFailover)
        timeToHolderAfterHeal = max(timeToHolderAfterHeal, o.timeToHolderAfterHeal)
        livenessStreakRestarts += o.livenessStreakRestarts
        for (k, v) in o.clientOutcomes { clientOutcomes[k, default: 0] += v }
    }

    /// One line per group of counters, in a fixed order.
    public var summary: String {
        let outcomes = clientOutcomes.keys.sorted().map { "\($0) \(clientOutcomes[$0]!)" }.joined(separator: ", ")
        return """
            events \(events); messages \(messagesSent) sent, \(messagesDelivered) delivered, \(messagesDropped) dropped, \
            \(messagesDuplicated) duplicated
            crashes \(crashes) (\(crashesInsideTransaction) inside a transaction), restarts \(restarts), partitions \(partitions)
            elections \(electionsStarted) started, \(electionsWon) won; holder changes \(holderChanges); \
            grants \(grants), revokes \(revokes); handler runs \(handlerRuns) (\(handlerFailures) failed)
            failovers after a holder crash \(failovers), longest \(formatSeconds(maximumFailover)) after its lease \
            end (\(undisturbedFailovers) undisturbed, longest \(formatSeconds(maximumUndisturbedFailover)))
            longest heal-to-holder \(formatSeconds(timeToHolderAfterHeal)), holder lost after the heal \(livenessStreakRestarts)
            client outcomes: \(outcomes.isEmpty ? "none" : outcomes)
            """
    }
}

/// Which invariant a run broke.
public enum SimulationFailureKind: String, Sendable, Hashable {
    /// Two members considered themselves holder of the same ticket at one true instant.
    case twoHolders
    /// Two members' ticket consumers (backend views) had the ticket granted at one instant.
    case twoGrantedBackends
    /// A member persisted a lower voteTerm than before.
    case voteTermDecreased
    /// A member persisted a different vote in a voteTerm it had already voted in.
    case voteChanged
    /// Two members won an election for the same term.
    case twoLeadersInTerm
    /// After `tick(now:)`, `nextWakeup` was not in the future: a shell would spin.
    case wakeupInPast
    /// `runHandler` while the member's handler was still running (a shell would run two).
    case handlerOverlap
    /// After the faults healed, no site held the ticket within the bound, or the holder
    /// did not keep it.
    case liveness
}

/// A broken invariant, with when and what.
public struct SimulationFailure: Sendable, Hashable, CustomStringConvertible {
    public var kind: SimulationFailureKind
    /// True time of the failure since the start of the run.
    public var at: Duration
    public var message: String
    public var description: String { "\(kind.rawValue) at \(formatSeconds(at)): \(message)" }
}

/// The outcome of ``TicketSimulation/run(seed:scenario:options:)``.
public struct SimulationResult: Sendable {
    public var seed: UInt64
    public var scenario: Scenario
    public var failure: SimulationFailure?
    public var counters: SimulationCounters
    /// A hash of every event and every directive, stable across processes: equal for two
    /// runs of the same seed and scenario.
    public var traceHash: UInt64
    /// The last events before the end (or the failure), formatted.
    public var recentTrace: [String]
    /// Every event, when ``SimulationOptions/fullTrace`` was set.
    public var fullTrace: [String]
    /// What the seed drew: clocks, loss rates, and so on.
    public var draws: [String]
    /// Simulated true time the run covered.
    public var simulatedTime: Duration

    public var passed: Bool { failure == nil }

    /// The text to print when the run failed: seed, configuration, draws, trace, how to replay.
    public var report: String {
        var lines: [String] = []
        lines.append("FAILED seed \(seed): \(failure.map(\.description) ?? "no failure")")
        lines.append(scenario.description)
        lines.append("--- draws ---")
        lines += draws
        lines.append("--- last \(recentTrace.count) events ---")
        lines += recentTrace
        lines.append("--- counters ---")
        lines.append(counters.summary)
        lines.append("replay: meridian-ticket-sim --seed \(seed) --scenario \(scenario.name) --trace")
        return lines.joined(separator: "\n")
    }
}

func formatSeconds(_ d: Duration) -> String {
    let ns = d.nanoseconds
    let sign = ns < 0 ? "-" : ""
    let a = ns.magnitude
    let micros = (a % 1_000_000_000) / 1000
    var frac = String(micros)
    while frac.count < 6 { frac = "0" + frac }
    return "\(sign)\(a / 1_000_000_000).\(frac)s"
}
