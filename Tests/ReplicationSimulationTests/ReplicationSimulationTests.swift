import Foundation
import Testing

/// Seeded runs of ``ReplicationSimulation``. `MERIDIAN_SIM_SEED` replays one seed,
/// `MERIDIAN_SIM_RUNS` sets how many seeds run (default 200). A failure prints its seed and trace.
@Suite struct ReplicationSimulationTests {
    @Test func safetyAndLivenessOverSeededFaults() {
        let env = ProcessInfo.processInfo.environment
        let seeds: [UInt64] = env["MERIDIAN_SIM_SEED"].flatMap(UInt64.init).map { [$0] }
            ?? (1...UInt64(env["MERIDIAN_SIM_RUNS"].flatMap(Int.init) ?? 200)).map { $0 }
        var splitBrains = 0, resyncs = 0, failovers = 0, failures = 0
        for seed in seeds {
            var sim = ReplicationSimulation(seed: seed)
            let violations = sim.run(steps: 400)
            splitBrains += sim.splitBrainsDetected
            resyncs += sim.resyncs
            failovers += sim.failovers
            if !violations.isEmpty {
                failures += 1
                Issue.record("seed \(seed) (replay: MERIDIAN_SIM_SEED=\(seed)): \(violations.joined(separator: "; "))\ntrace:\n\(sim.trace.suffix(30).joined(separator: "\n"))")
                if failures >= 3 { break }
            }
        }
        print("replication simulation: \(seeds.count) seeds, \(resyncs) resyncs, \(failovers) failovers checked, \(splitBrains) split brains detected, \(failures) failing")
        #expect(resyncs > seeds.count, "the runs must exercise resyncs")
        #expect(splitBrains > 0, "the runs must provoke split brain")
        #expect(failovers > 0, "the runs must check failovers")
    }
}
