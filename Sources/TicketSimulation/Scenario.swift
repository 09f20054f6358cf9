import BoothConfig
import TicketLease

/// Which faults a run injects, and how hard. Each seed draws its own intensities within
/// these bounds (for example a loss rate in `0...maximumLoss`), so one scenario covers calm
/// and stormy runs.
public struct FaultProfile: Sendable, Equatable {
    /// Largest per-message loss probability a seed may draw.
    public var maximumLoss: Double = 0.3
    /// Largest per-message duplication probability a seed may draw.
    public var maximumDuplication: Double = 0.1
    /// Usual one-way delay. Every copy gets its own delay, so messages reorder.
    public var delay: ClosedRange<Duration> = .microseconds(100)...(.milliseconds(50))
    /// Largest probability that a message is held up long, and how long at most.
    public var maximumLongDelayProbability: Double = 0.05
    public var longDelay: ClosedRange<Duration> = .milliseconds(50)...(.seconds(2))
    /// Mean time between partitions (nil: none) and how long each lasts.
    public var partitionEvery: Duration? = .seconds(12)
    public var partitionLength: ClosedRange<Duration> = .milliseconds(500)...(.seconds(20))
    /// Mean time between crashes of one member (nil: none) and how long it stays down.
    public var crashEvery: Duration? = .seconds(45)
    public var downtime: ClosedRange<Duration> = .milliseconds(10)...(.seconds(25))
    /// Fraction of crashes that strike inside a transaction: only a prefix of the
    /// directives of the member's next event is executed (a persist may be lost, or it may be
    /// written while the messages after it are not sent).
    public var crashInsideTransaction: Double = 0.3
    /// Mean time between administrator actions (nil: none).
    public var adminEvery: Duration? = .seconds(20)
    /// Probability that an administrator's grant uses `--force`.
    public var forceGrant: Double = 0.3
    /// How long a before-acquire-handler runs, and how often it fails (fault phase only).
    public var handlerDuration: ClosedRange<Duration> = .milliseconds(1)...(.milliseconds(400))
    public var handlerFailure: Double = 0.15

    public init() {}

    /// Only crashes (and restarts), on a clean network, after one grant: failover times after
    /// a holder crash are then the protocol's own.
    public static var crashesOnly: FaultProfile {
        var f = FaultProfile.none
        f.crashEvery = .seconds(20)
        f.crashInsideTransaction = 0.3
        f.delay = .microseconds(100)...(.milliseconds(20))
        return f
    }

    /// Heavy weather: much loss, many long delays and duplicates, frequent short partitions
    /// and crashes, so that stale messages from earlier rounds meet later ones.
    public static var storm: FaultProfile {
        var f = FaultProfile()
        f.maximumLoss = 0.5
        f.maximumDuplication = 0.3
        f.maximumLongDelayProbability = 0.4
        f.longDelay = .milliseconds(100)...(.seconds(3))
        f.partitionEvery = .seconds(4)
        f.partitionLength = .milliseconds(200)...(.seconds(6))
        f.crashEvery = .seconds(20)
        f.downtime = .milliseconds(10)...(.seconds(6))
        f.adminEvery = .seconds(15)
        return f
    }

    /// No faults at all (what the liveness phase uses, apart from small delays).
    public static var none: FaultProfile {
        var f = FaultProfile()
        f.maximumLoss = 0
        f.maximumDuplication = 0
        f.maximumLongDelayProbability = 0
        f.partitionEvery = nil
        f.crashEvery = nil
        f.crashInsideTransaction = 0
        f.adminEvery = nil
        f.handlerFailure = 0
        return f
    }
}

/// A cluster, its tickets, the safety parameters the members assume, how the simulated
/// clocks really behave, and the faults to inject.
///
/// Invariant: `configuration` came from ``BoothConfiguration/parse(_:path:)`` (so it is a
/// configuration boothd would accept too), all its tickets are automatic, and there are at
/// least two members.
public struct Scenario: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    /// The booth.conf text the scenario was built from (printed with failures).
    public var boothConf: String
    public var configuration: BoothConfiguration
    /// What every member's ``LeaseSettings`` assumes about clocks.
    public var driftBoundPPM: Int64
    public var safetyMargin: Duration
    /// How far the simulated clocks really drift (each clock uniformly within ±this, with the
    /// extremes over-represented). Larger than `driftBoundPPM` only in broken scenarios.
    public var clockDriftPPM: Int64
    /// Faults are injected during this long, then everything heals.
    public var faultPhase: Duration
    public var faults: FaultProfile
    /// Whether the simulated wire carries ``PeerMessage/round`` (the leader's round number,
    /// echoed in ACKs). False models a shell whose packet mapping drops it.
    public var wireCarriesRound: Bool

    /// Builds a scenario from booth.conf text.
    /// - Precondition: the text parses and has only automatic tickets (a programmer error otherwise).
    public init(
        name: String, boothConf: String, driftBoundPPM: Int64 = LeaseSettings.defaultDriftBoundPPM,
        safetyMargin: Duration = LeaseSettings.defaultSafetyMargin, clockDriftPPM: Int64? = nil,
        faultPhase: Duration = .seconds(60), faults: FaultProfile = FaultProfile(),
        wireCarriesRound: Bool = true
    ) {
        let parsed: BoothConfiguration
        do {
            parsed = try BoothConfiguration.parse(boothConf, path: "\(name).conf")
        } catch {
            preconditionFailure("Internal inconsistency: scenario \(name) has an invalid booth.conf: \(error)")
        }
        precondition(parsed.members.count >= 2, "Internal inconsistency: scenario \(name) needs two members")
        precondition(
            parsed.tickets.allSatisfy { $0.mode == .automatic },
            "Internal inconsistency: scenario \(name) simulates automatic tickets only")
        self.name = name
        self.boothConf = boothConf
        configuration = parsed
        self.driftBoundPPM = driftBoundPPM
        self.safetyMargin = safetyMargin
        self.clockDriftPPM = clockDriftPPM ?? driftBoundPPM
        self.faultPhase = faultPhase
        self.faults = faults
        self.wireCarriesRound = wireCarriesRound
    }

    /// The lease settings every member uses for ticket `index`.
    public func settings(ticket index: Int) -> LeaseSettings {
        LeaseSettings(
            ticket: configuration.tickets[index], millisecondWireTimes: configuration.millisecondWireTimes,
            driftBoundPPM: driftBoundPPM, safetyMargin: safetyMargin)
    }

    public var memberKinds: [LeaseMembership.Kind] {
        configuration.members.map { $0.kind == .site ? .site : .arbitrator }
    }

    public var description: String {
        let sites = configuration.sites.count
        let arbitrators = configuration.arbitrators.count
        var s = "scenario \(name): \(sites) sites + \(arbitrators) arbitrators, "
        s +=
            "drift bound \(driftBoundPPM) ppm, margin \(safetyMargin.seconds)s, clocks drift up to \(clockDriftPPM) ppm, "
        s += "fault phase \(faultPhase.seconds)s"
        if !wireCarriesRound { s += ", the wire drops round numbers" }
        s += "\n--- booth.conf ---\n" + boothConf
        return s
    }

    /// Returns booth.conf text for `sites` sites and `arbitrators` arbitrators (sites first)
    /// followed by `tickets` (each a block of `key = value` lines after the `ticket` line).
    public static func boothConf(sites: Int, arbitrators: Int, tickets: [(name: String, lines: [String])]) -> String {
        var text = "transport = UDP\nport = 9929\n"
        for i in 0..<sites { text += "site = 192.0.2.\(i + 1)\n" }
        for i in 0..<arbitrators { text += "arbitrator = 198.51.100.\(i + 1)\n" }
        for t in tickets {
            text += "ticket = \"\(t.name)\"\n"
            for l in t.lines { text += "    \(l)\n" }
        }
        return text
    }

    // MARK: - The standard scenarios

    /// The scenarios the seed runner cycles through (seed `s` runs `standard[s % count]`).
    public static let standard: [Scenario] = [
        Scenario(
            name: "2s1a-10s",
            boothConf: boothConf(
                sites: 2, arbitrators: 1,
                tickets: [
                    ("db", ["expire = 10", "timeout = 1", "retries = 3"])
                ])),
        Scenario(
            name: "3s2a-10s-two-tickets",
            boothConf: boothConf(
                sites: 3, arbitrators: 2,
                tickets: [
                    ("db", ["expire = 10", "timeout = 1", "retries = 3", "weights = 0,10,5,0,0"]),
                    ("web", ["expire = 10", "timeout = 1", "retries = 3", "acquire-after = 5"]),
                ])),
        Scenario(
            name: "2s3a-4s-ms",
            boothConf: boothConf(
                sites: 2, arbitrators: 3,
                tickets: [
                    ("db", ["expire = 4", "timeout = 500ms", "retries = 3", "renewal-freq = 2500ms"])
                ])),
        Scenario(
            name: "2s1a-4s-ms-acquire-after",
            boothConf: boothConf(
                sites: 2, arbitrators: 1,
                tickets: [
                    (
                        "db",
                        [
                            "expire = 4", "timeout = 500ms", "retries = 3", "renewal-freq = 2500ms",
                            "acquire-after = 1500ms",
                        ]
                    )
                ])),
        Scenario(
            name: "2s1a-4s-ms-handler",
            boothConf: boothConf(
                sites: 2, arbitrators: 1,
                tickets: [
                    (
                        "db",
                        [
                            "expire = 4", "timeout = 500ms", "retries = 3", "renewal-freq = 2500ms",
                            "before-acquire-handler = /usr/share/booth/service-runnable db",
                        ]
                    )
                ])),
        Scenario(
            name: "3s-10s-weights",
            boothConf: boothConf(
                sites: 3, arbitrators: 0,
                tickets: [
                    ("db", ["expire = 10", "timeout = 1", "retries = 3", "weights = 5,10,1", "acquire-after = 2"])
                ])),
        Scenario(
            name: "2s1a-10s-crashes-only",
            boothConf: boothConf(
                sites: 2, arbitrators: 1,
                tickets: [
                    ("db", ["expire = 10", "timeout = 1", "retries = 3"])
                ]),
            faults: .crashesOnly),
        Scenario(
            name: "2s1a-4s-ms-storm",
            boothConf: boothConf(
                sites: 2, arbitrators: 1,
                tickets: [
                    ("db", ["expire = 4", "timeout = 500ms", "retries = 3", "renewal-freq = 2500ms"])
                ]),
            faults: .storm),
        Scenario(
            name: "2s1a-4s-ms-handler-storm",
            boothConf: boothConf(
                sites: 2, arbitrators: 1,
                tickets: [
                    (
                        "db",
                        [
                            "expire = 4", "timeout = 500ms", "retries = 3", "renewal-freq = 2500ms",
                            "acquire-after = 500ms", "before-acquire-handler = /usr/share/booth/service-runnable db",
                        ]
                    )
                ]),
            faults: .storm),
        Scenario(
            name: "3s2a-10s-storm",
            boothConf: boothConf(
                sites: 3, arbitrators: 2,
                tickets: [
                    ("db", ["expire = 10", "timeout = 1", "retries = 3", "weights = 1,2,3,0,0"])
                ]),
            faults: .storm),
    ]

    /// The scenario seed `seed` runs in ``TicketSimulation/run(seed:)``.
    public static func forSeed(_ seed: UInt64) -> Scenario {
        standard[Int(seed % UInt64(standard.count))]
    }

    /// Scenarios that are expected to fail: they show what the checker catches.
    public static var unsafe: [Scenario] { [broken, withoutRounds] }

    /// The scenario with this name among ``standard`` and ``unsafe``.
    public static func named(_ name: String) -> Scenario? {
        (standard + unsafe).first { $0.name == name }
    }

    /// A deliberately unsafe setup, to show that the checker can fail: members assume
    /// perfect clocks and hold 0.5 s *longer* than they promised, while clocks drift
    /// 5,000 ppm. Some seeds must report two holders.
    public static let broken = Scenario(
        name: "broken-negative-margin",
        boothConf: boothConf(
            sites: 2, arbitrators: 1,
            tickets: [
                ("db", ["expire = 4", "timeout = 500ms", "retries = 3", "renewal-freq = 2500ms"])
            ]),
        driftBoundPPM: 0, safetyMargin: .milliseconds(-500), clockDriftPPM: 5000)

    /// The storm over a wire that does not carry round numbers (as boothd's packets, and a
    /// shell that does not map ``PeerMessage/round``): a late ACK of an earlier round then
    /// counts for the current one, and some seeds report two holders.
    public static let withoutRounds = Scenario(
        name: "2s1a-4s-ms-storm-without-rounds",
        boothConf: boothConf(
            sites: 2, arbitrators: 1,
            tickets: [
                ("db", ["expire = 4", "timeout = 500ms", "retries = 3", "renewal-freq = 2500ms"])
            ]),
        faults: .storm, wireCarriesRound: false)
}
