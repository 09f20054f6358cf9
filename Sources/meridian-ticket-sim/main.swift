import ArgumentParser
import TicketSimulation

/// Runs seeded simulations of the ticket lease protocol (see Docs/ticket-simulation.md).
struct TicketSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meridian-ticket-sim",
        abstract: "Run seeded, deterministic simulations of Meridian's ticket lease protocol.",
        discussion: """
            Each seed runs one scenario (seed modulo the number of standard scenarios, unless \
            --scenario is given): a fault phase with loss, delays, duplication, partitions, \
            clock drift, crashes and administrator actions, in which safety is checked in true \
            time after every event, then a liveness phase in which everything heals and some site \
            must acquire every ticket and keep it.

            Scenarios: \(Scenario.standard.map(\.name).joined(separator: ", ")). Expected to \
            fail (they show what the checker catches): \(Scenario.unsafe.map(\.name).joined(separator: ", ")).

            Exit codes: 0 every seed passed; 1 some seed failed (its seed and replay command are \
            printed); 64 invalid command line.
            """)

    @Option(help: "Number of seeds to run.")
    var seeds: Int = 100

    @Option(help: "First seed of the range.")
    var start: UInt64 = 0

    @Option(help: "Run only this seed (replay).")
    var seed: UInt64?

    @Option(help: "Run this scenario for every seed instead of cycling through the standard ones.")
    var scenario: String?

    @Flag(help: "Print every event of the run (with --seed).")
    var trace = false

    @Flag(help: "Keep going after a failure.")
    var keepGoing = false

    func validate() throws {
        if seeds < 1 { throw ValidationError("--seeds must be at least 1, e.g. --seeds 2000") }
        if trace && seed == nil { throw ValidationError("--trace prints one run: add --seed X") }
        if let scenario, Scenario.named(scenario) == nil {
            let names = (Scenario.standard + Scenario.unsafe).map(\.name).joined(separator: ", ")
            throw ValidationError("unknown scenario '\(scenario)'; choose one of \(names)")
        }
    }

    func run() throws {
        let chosen = scenario.flatMap(Scenario.named)
        if let seed {
            let result = TicketSimulation.run(
                seed: seed, scenario: chosen, options: SimulationOptions(fullTrace: trace))
            if trace { for line in result.fullTrace { print(line) } }
            print(
                "seed \(seed) (\(result.scenario.name)): \(result.passed ? "passed" : "FAILED"), "
                    + "\(formatted(result.simulatedTime)) simulated, trace hash \(hex(result.traceHash))")
            print(result.counters.summary)
            if !result.passed {
                print(result.report)
                throw ExitCode(1)
            }
            return
        }
        var perScenario: [String: (passed: Int, failed: Int, counters: SimulationCounters)] = [:]
        var order: [String] = []
        var failedSeeds: [(UInt64, String)] = []
        var passed = 0
        for s in start..<(start + UInt64(seeds)) {
            let result = TicketSimulation.run(seed: s, scenario: chosen)
            let name = result.scenario.name
            if perScenario[name] == nil {
                perScenario[name] = (0, 0, SimulationCounters())
                order.append(name)
            }
            perScenario[name]!.counters.add(result.counters)
            if result.passed {
                passed += 1
                perScenario[name]!.passed += 1
            } else {
                perScenario[name]!.failed += 1
                failedSeeds.append((s, name))
                print(result.report)
                print("")
                if !keepGoing { break }
            }
        }
        for name in order {
            let r = perScenario[name]!
            print("== \(name): \(r.passed) passed, \(r.failed) failed")
            print(r.counters.summary)
        }
        if !failedSeeds.isEmpty {
            print("failed seeds: " + failedSeeds.map { "\($0.0) (\($0.1))" }.joined(separator: ", "))
        }
        print("\(passed) passed, \(failedSeeds.count) failed")
        if !failedSeeds.isEmpty { throw ExitCode(1) }
    }

    func formatted(_ d: Duration) -> String {
        let (s, atto) = d.components
        return "\(s).\(String(atto / 100_000_000_000_000_000))s"
    }

    func hex(_ v: UInt64) -> String {
        let h = String(v, radix: 16)
        return String(repeating: "0", count: 16 - h.count) + h
    }
}

TicketSim.main()
