// Meridian's own transition, executed: for every corpus case, the graph Transition.schedule
// produces is run by the executor, and the resulting "Revised Cluster Status" must be the one
// crm_simulate 2.1.5 printed after running its own graph. Differences are listed with reasons
// in Tests/revised-status-known-failures.txt.
import CIB
import ClusterSimulation
import CorpusTestSupport
import Foundation
import Scheduler
import Testing

@Suite("Meridian's transitions executed on the corpus", .serialized)
struct SchedulerEndToEndTests {
    static let knownFailuresPath = "Tests/revised-status-known-failures.txt"

    static func revisedSection(_ text: String) -> [String] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0.hasPrefix("Revised Cluster Status:") }) else { return [] }
        return lines[start...].map { String($0.filter { !$0.isWhitespace }) }.filter { !$0.isEmpty }
    }

    @Test("executing Meridian's graph gives crm_simulate's revised status (shared cases)")
    func revisedStatus() throws {
        try check(.shared, knownFailuresPath: Self.knownFailuresPath, label: "shared")
    }

    @Test("executing Meridian's graph gives crm_simulate's revised status (second set)")
    func revisedStatusExtra() throws {
        try check(.extra, knownFailuresPath: "Tests/revised-status-extra-known-failures.txt", label: "second set")
    }

    func check(_ set: CorpusSet, knownFailuresPath: String, label: String) throws {
        let names = set.caseNames(having: "simulate.txt")
        try #require(!names.isEmpty, "no corpus at \(set) (set MERIDIAN_SHARED)")
        var tally = CorpusTally(knownFailuresAt: knownFailuresPath)
        for name in names {
            var difference: String?
            do {
                let document = try CIBModel.document(contentsOfFile: set.file(name, "input.xml").path)
                var options = SimulationOptions()
                options.simulate = true
                let output = try Simulation.run(document, options: options, clock: Date()) { model in
                    let transition = Transition.schedule(model)
                    return ScheduledTransition(
                        summary: transition.summary, graph: transition.graph, dot: transition.dot, scores: [])
                }
                let expected = Self.revisedSection(
                    try String(contentsOf: set.file(name, "simulate.txt"), encoding: .utf8))
                let actual = Self.revisedSection(output.text)
                if expected != actual {
                    let missing = expected.filter { !actual.contains($0) }.prefix(4)
                    let extra = actual.filter { !expected.contains($0) }.prefix(4)
                    difference = "expected not produced: \(Array(missing))\n  produced not expected: \(Array(extra))"
                }
            } catch {
                difference = "failed: \(error)"
            }
            if tally.record(name, problem: difference), let difference {
                print("revised status mismatch: \(name)\n  \(difference)")
            }
        }
        print(tally.summary("revised status after executing Meridian's graph (\(label))"))
        #expect(tally.unexpected.isEmpty, "cases differing that are not in \(knownFailuresPath): \(tally.unexpected)")
        #expect(tally.fixed.isEmpty, "cases that match now; remove them from \(knownFailuresPath): \(tally.fixed)")
    }
}
