// The whole `meridian simulate` output (library part): with crm_simulate's own decisions (the
// corpus's graph.xml and Transition Summary standing in for the scheduler), the text must be
// simulate.txt for every corpus case; with --show-scores it must be crm_simulate's plain text.
import CIB
import CorpusTestSupport
import Foundation
import Scheduler
import Testing

@testable import ClusterSimulation

enum CorpusDecisions {
    /// crm_simulate's transition for a case, as a stand-in scheduler.
    static func transition(_ name: String) throws -> ScheduledTransition {
        let graph = try TransitionGraph.parse(
            xml: String(contentsOf: PacemakerCorpus.file(name, "graph.xml"), encoding: .utf8))
        let summary = try String(contentsOf: PacemakerCorpus.file(name, "transition_summary.txt"), encoding: .utf8)
            .split(separator: "\n").map(String.init).filter { $0.hasPrefix("  ") }
        let scores = try String(contentsOf: PacemakerCorpus.file(name, "scores.txt"), encoding: .utf8)
            .split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        return ScheduledTransition(summary: summary, graph: graph, dot: "", scores: scores)
    }

    static func run(_ name: String, _ options: SimulationOptions) throws -> SimulationOutput {
        let document = try CIBModel.document(contentsOfFile: PacemakerCorpus.file(name, "input.xml").path)
        let decided = try transition(name)
        return try Simulation.run(document, options: options, clock: Date()) { _ in decided }
    }
}

@Suite("Simulation output", .serialized)
struct SimulationOutputTests {
    @Test("with crm_simulate's decisions, `simulate -S` prints simulate.txt for every corpus case")
    func corpusOutput() throws {
        let names = PacemakerCorpus.caseNames(having: "graph.xml")
        try #require(!names.isEmpty, "no corpus at \(PacemakerCorpus.directory.path) (set MERIDIAN_SHARED)")
        // The execution test lists the cases whose executed part differs; the rest must match whole.
        let known = PacemakerCorpus.knownFailures(at: ExecutionCorpus.knownFailuresPath)
        var options = SimulationOptions()
        options.simulate = true
        var passed = 0
        for name in names where known[name] == nil {
            let expected = try String(contentsOf: PacemakerCorpus.file(name, "simulate.txt"), encoding: .utf8)
            let output = try CorpusDecisions.run(name, options)
            if ExecutionCorpus.normalized(expected) == ExecutionCorpus.normalized(output.text) {
                passed += 1
            } else {
                Issue.record("\(name): the output differs from simulate.txt:\n\(output.text)")
            }
            #expect(!output.transitionFailed)
        }
        print("simulate output with crm_simulate's decisions: \(passed)/\(names.count - known.count) cases")
    }

    @Test(
        "with --show-scores the text is crm_simulate's plain text",
        arguments: ["1360", "anti-colocation-promoted", "inc6", "stonith-0", "ticket-primitive-1"])
    func plainText(_ name: String) throws {
        try #require(FileManager.default.isExecutableFile(atPath: CrmSimulate.path), "crm_simulate is missing")
        var options = SimulationOptions()
        options.simulate = true
        options.showScores = true
        let output = try CorpusDecisions.run(name, options)
        let expected = try CrmSimulate.run(["-x", PacemakerCorpus.file(name, "input.xml").path, "-s", "-S"])
        // Score lines are compared by the scheduler's tests; here, everything around them.
        func withoutScores(_ text: String) -> [String] {
            text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter {
                !$0.contains(" allocation score on ") && !$0.contains(" promotion score on ")
            }
        }
        #expect(withoutScores(output.text) == withoutScores(expected))
    }

    @Test("a date is announced before each status, and rules and failures are judged at it")
    func date() throws {
        var options = SimulationOptions()
        options.simulate = true
        options.date = ("2020-01-01 10:00:00", try SimulationDate.parse("2020-01-01 10:00:00Z"))
        let output = try CorpusDecisions.run("1360", options)
        let expected = try CrmSimulate.run(
            ["-x", PacemakerCorpus.file("1360", "input.xml").path, "-S", "-t", "2020-01-01 10:00:00"])
        #expect(ExecutionCorpus.normalized(output.text) == ExecutionCorpus.normalized(expected))
        #expect(output.text.hasPrefix("Setting effective cluster time: 2020-01-01 10:00:00\n"))
    }

    @Test("dates: the accepted forms, and errors naming the option and the format")
    func dates() throws {
        #expect(try SimulationDate.parse("2020-01-01T10:00:00Z").timeIntervalSince1970 == 1_577_872_800)
        #expect(try SimulationDate.parse("2020-01-01 12:00+02:00").timeIntervalSince1970 == 1_577_872_800)
        #expect(
            try SimulationDate.parse("2020-01-01", zone: TimeZone(identifier: "UTC")!).timeIntervalSince1970
                == 1_577_836_800)
        for bad in ["tomorrow", "2020-13-01", "2020-02-30", "2020-01-01 25:00", "2020-01-01 10:00 junk"] {
            #expect(throws: SimulationError.self) { try SimulationDate.parse(bad) }
        }
        do {
            _ = try SimulationDate.parse("2020/01/01")
        } catch {
            #expect(error.option == "--set-datetime")
            #expect(error.hint.contains("YYYY-MM-DD"))
        }
    }
}
