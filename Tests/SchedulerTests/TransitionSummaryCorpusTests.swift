// Every case of the Pacemaker reference corpus: the "Transition Summary:" section
// Meridian computes must be the one crm_simulate 2.1.5 printed (compared as Pacemaker's
// runner compares, ignoring whitespace). Cases that differ are listed with reasons in
// transition-summary-known-failures.txt; the test fails on any other difference and on a
// listed case that now matches.
import CIB
import CorpusTestSupport
import Foundation
import Scheduler
import Testing

enum SummaryCorpus {
    /// The expected summary lines of a case (the lines after the heading).
    static func expected(_ set: CorpusSet, _ name: String) throws -> [String] {
        let text = try String(contentsOf: set.file(name, "transition_summary.txt"), encoding: .utf8)
        return text.split(separator: "\n").map { Corpus.normalized($0) }.filter {
            !$0.isEmpty && $0 != "TransitionSummary:"
        }
    }

    /// Meridian's summary lines for a case, whitespace removed.
    static func actual(_ set: CorpusSet, _ name: String) throws -> [String] {
        let document = try CIBModel.document(contentsOfFile: set.file(name, "input.xml").path)
        let now = try set.now(for: name, hasExecutionDate: document.root.attribute("execution-date") != nil)
        let model = try CIBModel.unpack(document, now: now)
        return Transition.schedule(model).summary.map { Corpus.normalized($0) }
    }
}

@Suite("Pacemaker corpus transition summaries", .serialized)
struct TransitionSummaryCorpusTests {
    @Test("the Transition Summary matches crm_simulate for every shared case not listed as a known failure")
    func summaries() throws {
        try check(.shared, knownFailuresPath: "Tests/transition-summary-known-failures.txt", label: "shared")
    }

    @Test("the Transition Summary matches crm_simulate for every case of the second set not listed")
    func extraSummaries() throws {
        try check(.extra, knownFailuresPath: "Tests/transition-summary-extra-known-failures.txt", label: "second set")
    }

    func check(_ set: CorpusSet, knownFailuresPath: String, label: String) throws {
        let names = set.caseNames(having: "transition_summary.txt")
        try #require(!names.isEmpty, "no corpus at \(set) (set MERIDIAN_SHARED)")
        let verbose = ProcessInfo.processInfo.environment["SCHEDULER_CORPUS_DIFF"] != nil
        var tally = CorpusTally(knownFailuresAt: knownFailuresPath)
        for name in names {
            var problem: String?
            do {
                let expected = try SummaryCorpus.expected(set, name)
                let actual = try SummaryCorpus.actual(set, name)
                if expected != actual {
                    problem = "expected not produced: \(expected.filter { !actual.contains($0) })\n"
                        + "  produced not expected: \(actual.filter { !expected.contains($0) })"
                }
            } catch {
                problem = "failed: \(error)"
            }
            if tally.record(name, problem: problem, verbose: verbose), let problem {
                print("transition summary mismatch: \(name)\n  \(problem)")
            }
        }
        print(tally.summary("transition summaries (\(label)) against crm_simulate 2.1.5"))
        #expect(tally.unexpected.isEmpty, "cases differing that are not in \(knownFailuresPath): \(tally.unexpected)")
        #expect(tally.fixed.isEmpty, "cases that match now; remove them from \(knownFailuresPath): \(tally.fixed)")
        #expect(tally.unknownListed.isEmpty, "listed in \(knownFailuresPath) but no such case: \(tally.unknownListed)")
        #expect(
            tally.matches * 100 >= names.count * 95, "fewer than 95% of the cases match (\(tally.matches)/\(names.count))")
    }
}
