import Testing
import TicketLease

@testable import TicketSimulation

/// Seeded runs of the ticket simulation: many seeds must pass, a seed must replay exactly,
/// and the checker must catch deliberately unsafe setups.
@Suite struct SimulationTests {
    /// Runs `seeds` with up to two at a time and returns the results in seed order.
    static func runAll(_ seeds: [UInt64], scenario: Scenario? = nil) async -> [SimulationResult] {
        await withTaskGroup(of: (Int, SimulationResult).self) { group in
            var results = [SimulationResult?](repeating: nil, count: seeds.count)
            var next = 0
            func add(_ g: inout TaskGroup<(Int, SimulationResult)>) {
                let i = next
                let seed = seeds[i]
                next += 1
                g.addTask { (i, TicketSimulation.run(seed: seed, scenario: scenario)) }
            }
            for _ in 0..<min(2, seeds.count) { add(&group) }
            while let (i, r) = await group.next() {
                results[i] = r
                if next < seeds.count { add(&group) }
            }
            return results.map { $0! }
        }
    }

    static let seedsPerScenario = 450

    @Test func manySeedsAcrossAllScenariosPass() async {
        let seeds = (0..<UInt64(Self.seedsPerScenario * Scenario.standard.count)).map { $0 }
        let clock = ContinuousClock()
        let started = clock.now
        let results = await Self.runAll(seeds)
        let elapsed = clock.now - started
        var lines: [String] = []
        for scenario in Scenario.standard {
            let mine = results.filter { $0.scenario.name == scenario.name }
            var counters = SimulationCounters()
            for r in mine { counters.add(r.counters) }
            let failed = mine.filter { !$0.passed }.count
            lines.append("== \(scenario.name): \(mine.count - failed) passed, \(failed) failed\n\(counters.summary)")
        }
        let failures = results.filter { !$0.passed }
        let seconds = (elapsed / .milliseconds(100)).rounded() / 10
        lines.append("\(results.count - failures.count) passed, \(failures.count) failed in \(seconds) s")
        print(lines.joined(separator: "\n"))
        if let first = failures.first { print(first.report) }
        #expect(results.count >= 2000)
        #expect(failures.isEmpty, "failed seeds: \(failures.map { "\($0.seed) (\($0.scenario.name))" })")
    }

    @Test func aSeedReplaysExactly() {
        for seed: UInt64 in [7, 12_345, 129_895] {
            let a = TicketSimulation.run(seed: seed, options: SimulationOptions(fullTrace: true))
            let b = TicketSimulation.run(seed: seed, options: SimulationOptions(fullTrace: true))
            #expect(a.traceHash == b.traceHash)
            #expect(a.counters == b.counters)
            #expect(a.fullTrace == b.fullTrace)
            #expect(a.fullTrace.count > 100)
            #expect(a.recentTrace == b.recentTrace)
            // The full trace does not change the run.
            #expect(TicketSimulation.run(seed: seed).traceHash == a.traceHash)
        }
        let other = TicketSimulation.run(seed: 8, scenario: Scenario.forSeed(7))
        #expect(other.traceHash != TicketSimulation.run(seed: 7).traceHash)
    }

    @Test func theCheckerCatchesAnUnsafeConfiguration() async {
        // Members assume perfect clocks and hold 0.5 s longer than they promised; clocks drift 5000 ppm.
        let results = await Self.runAll((0..<100).map { $0 }, scenario: .broken)
        let caught = results.filter { r in
            r.failure.map { [.twoHolders, .twoGrantedBackends].contains($0.kind) } ?? false
        }
        print("\(Scenario.broken.name): \(caught.count) of \(results.count) seeds show two holders")
        #expect(!caught.isEmpty)
        if let r = caught.first {
            #expect(r.report.contains("FAILED seed \(r.seed)"))
            #expect(
                r.report.contains("meridian-ticket-sim --seed \(r.seed) --scenario \(Scenario.broken.name) --trace"))
            #expect(r.recentTrace.count == 60)
            let again = TicketSimulation.run(seed: r.seed, scenario: .broken)
            #expect(again.failure == r.failure && again.traceHash == r.traceHash)
        }
    }

    @Test func withoutRoundNumbersALateAckStillMakesTwoHolders() async {
        // Without PeerMessage.round on the wire (boothd followers, or a shell that drops it), a
        // late ACK of an earlier round can still extend a lease.
        let results = await Self.runAll((0..<300).map { $0 }, scenario: .withoutRounds)
        let caught = results.filter { r in
            r.failure.map { [.twoHolders, .twoGrantedBackends].contains($0.kind) } ?? false
        }
        print("\(Scenario.withoutRounds.name): \(caught.count) of \(results.count) seeds show two holders")
        #expect(!caught.isEmpty)
    }

    /// The seeds that found each bug of the core (see the commits); they must keep passing.
    @Test(
        arguments: [
            ("2s1a-10s", 0), ("2s1a-10s", 2), ("2s1a-10s", 222), ("2s3a-4s-ms", 0), ("2s3a-4s-ms", 853),
            ("2s3a-4s-ms", 15862),
            ("2s1a-4s-ms-handler", 2), ("2s1a-4s-ms-handler", 43), ("3s2a-10s-two-tickets", 1186),
            ("2s1a-4s-ms-storm", 3), ("2s1a-4s-ms-storm", 49), ("2s1a-4s-ms-storm", 58), ("2s1a-4s-ms-storm", 106),
            ("2s1a-4s-ms-storm", 139), ("2s1a-4s-ms-handler-storm", 2), ("2s1a-4s-ms-handler-storm", 163),
            ("2s1a-4s-ms-handler-storm", 971), ("2s1a-4s-ms-handler-storm", 1614), ("2s1a-4s-ms-handler-storm", 8069),
            ("2s1a-4s-ms-handler-storm", 129_895),
        ] as [(String, UInt64)])
    func seedsThatFoundBugsPass(scenario: String, seed: UInt64) throws {
        let s = try #require(Scenario.named(scenario))
        let r = TicketSimulation.run(seed: seed, scenario: s)
        #expect(r.passed, "\(r.report)")
    }

    @Test func everyStandardScenarioIsValidAndDistinct() {
        let names = Scenario.standard.map(\.name)
        #expect(Set(names).count == names.count)
        for s in Scenario.standard + Scenario.unsafe {
            #expect(s.configuration.members.count >= 2)
            #expect(Scenario.named(s.name) == s)
        }
        #expect(Scenario.forSeed(UInt64(Scenario.standard.count)) == Scenario.standard[0])
    }
}

/// The simulation's building blocks.
@Suite struct SimulationPartsTests {
    @Test func clocksDriftAndInvert() {
        let fast = SimulatedClock(offset: 5_000_000_000, driftPPM: 500)
        #expect(fast.local(at: 0).nanoseconds == 5_000_000_000)
        #expect(fast.local(at: 10_000_000_000).nanoseconds == 15_005_000_000)
        let slow = SimulatedClock(offset: 0, driftPPM: -500)
        #expect(slow.local(at: 10_000_000_000).nanoseconds == 9_995_000_000)
        for clock in [fast, slow] {
            for target: Int64 in [5_000_000_001, 7_123_456_789, 99_999_999_999] {
                let t = clock.trueTime(reaching: LeaseInstant(nanoseconds: target))
                #expect(clock.local(at: t).nanoseconds >= target)
                #expect(clock.local(at: t - 1).nanoseconds < target)
            }
        }
    }

    @Test func eventsAtTheSameInstantRunInSchedulingOrder() {
        var q = EventQueue<String>()
        q.push("c", at: 30)
        q.push("a1", at: 10)
        q.push("b", at: 20)
        q.push("a2", at: 10)
        q.push("a3", at: 10)
        var order: [String] = []
        while let (_, e) = q.pop() { order.append(e) }
        #expect(order == ["a1", "a2", "a3", "b", "c"])
    }

    @Test func theRandomSourceDependsOnTheSeedOnly() {
        var a = SimulationRandom(seed: 42)
        var b = SimulationRandom(seed: 42)
        var c = SimulationRandom(seed: 43)
        let xs = (0..<100).map { _ in a.next() }
        #expect(xs == (0..<100).map { _ in b.next() })
        #expect(xs != (0..<100).map { _ in c.next() })
        for _ in 0..<1000 {
            let v = a.int(in: -5...5)
            #expect((-5...5).contains(v))
            let u = a.unit()
            #expect(u >= 0 && u < 1)
        }
        #expect(abs(naturalLogarithm(2.718281828459045) - 1) < 1e-12)
        #expect(abs(naturalLogarithm(0.001) + 6.907755278982137) < 1e-9)
    }
}
