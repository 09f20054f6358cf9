import Foundation
import ReplicationState
import Testing

/// Seeded runs of ``ReplicationSimulation``. `MERIDIAN_SIM_SEED` replays one seed,
/// `MERIDIAN_SIM_RUNS` sets how many seeds run (default 200). A failure prints its seed and trace.
@Suite struct ReplicationSimulationTests {
    struct Totals {
        var seeds = 0, resyncs = 0, failovers = 0, splitBrains = 0, fences = 0, held = 0, checked = 0, failures = 0
    }

    /// Runs the seeds with `fencing`, records every failing seed (up to three) with its trace.
    static func runSeeds(fencing: FencingPolicy) -> Totals {
        let env = ProcessInfo.processInfo.environment
        let seeds: [UInt64] = env["MERIDIAN_SIM_SEED"].flatMap(UInt64.init).map { [$0] }
            ?? (1...UInt64(env["MERIDIAN_SIM_RUNS"].flatMap(Int.init) ?? 200)).map { $0 }
        var t = Totals(seeds: seeds.count)
        for seed in seeds {
            var sim = ReplicationSimulation(seed: seed, fencing: fencing)
            let violations = sim.run(steps: 400)
            t.resyncs += sim.resyncs
            t.failovers += sim.failovers
            t.splitBrains += sim.splitBrainsDetected
            t.fences += sim.fences
            t.held += sim.heldWrites
            t.checked += sim.promotionsChecked
            if !violations.isEmpty {
                t.failures += 1
                Issue.record("fencing \(fencing.rawValue), seed \(seed) (replay: MERIDIAN_SIM_SEED=\(seed)): \(violations.joined(separator: "; "))\ntrace:\n\(sim.trace.suffix(30).joined(separator: "\n"))")
                if t.failures >= 3 { break }
            }
        }
        return t
    }

    @Test func safetyAndLivenessOverSeededFaults() {
        let t = Self.runSeeds(fencing: .dontCare)
        print("replication simulation: \(t.seeds) seeds, \(t.resyncs) resyncs, \(t.failovers) failovers checked, \(t.splitBrains) split brains detected, \(t.failures) failing")
        #expect(t.resyncs > t.seeds, "the runs must exercise resyncs")
        #expect(t.splitBrains > 0, "the runs must provoke split brain")
        #expect(t.failovers > 0, "the runs must check failovers")
    }

    /// The same faults with `fencing resource-and-stonith` and a modelled fence-peer handler:
    /// invariants 5 (no promotion loses an acknowledged write) and 6 (the sides never both
    /// acknowledge writes while parted) as well.
    @Test func fencingClosesTheWindowOverSeededFaults() {
        let t = Self.runSeeds(fencing: .resourceAndStonith)
        print("replication simulation with fencing: \(t.seeds) seeds, \(t.fences) fence-peer runs, \(t.held) writes held while suspended, \(t.checked) promotions checked, \(t.resyncs) resyncs, \(t.failures) failing")
        #expect(t.fences > t.seeds, "the runs must fence")
        #expect(t.held > 0, "the runs must hold writes while I/O is suspended")
        #expect(t.checked > t.seeds, "the runs must check promotions")
    }
}
