// The second set of Pacemaker reference cases (Tests/Corpus/scheduler-extra): the allocation
// score lines of the kinds (and resources) the scores phase computes must be the ones
// crm_simulate printed, compared as the shared set's scores test compares them.
import CIB
import CorpusTestSupport
import Foundation
import Scheduler
import Testing

@Suite("Extra Pacemaker corpus scores", .serialized)
struct ExtraCorpusScoresTests {
    @Test("computed allocation score lines of the extra cases match crm_simulate -sSQ")
    func scoreLines() throws {
        let set = CorpusSet.extra
        let names = set.caseNames(having: "scores.txt")
        try #require(!names.isEmpty, "no cases at \(set)")
        var tally = CorpusTally(knownFailuresAt: "Tests/SchedulerTests/scores-extra-known-failures.txt")
        let verbose = ProcessInfo.processInfo.environment["SCHEDULER_CORPUS_DIFF"] != nil
        let kinds = ScoreKind.allCases.map(\.rawValue)
        var kindMatches: [String: Int] = [:]
        var kindsProduced: Set<String> = []
        var uncomparedLines = 0
        var uncomparedCases: [String] = []
        for name in names {
            var problems: [String] = []
            do {
                let document = try CIBModel.document(contentsOfFile: set.file(name, "input.xml").path)
                let now = try set.now(for: name, hasExecutionDate: document.root.attribute("execution-date") != nil)
                let scores = AllocationScores.compute(try CIBModel.unpack(document, now: now))
                kindsProduced.formUnion(scores.entries.map(\.kind.rawValue))
                let comparison = ScoreLines.compare(
                    expected: try String(contentsOf: set.file(name, "scores.txt"), encoding: .utf8),
                    produced: scores.entries.map { ($0.kind.rawValue, $0.line) },
                    covered: Dictionary(uniqueKeysWithValues: scores.covered.map { ($0.key.rawValue, $0.value) }),
                    kinds: kinds)
                for kind in comparison.matchingKinds { kindMatches[kind, default: 0] += 1 }
                if comparison.uncompared > 0 {
                    uncomparedLines += comparison.uncompared
                    uncomparedCases.append(name)
                }
                problems = comparison.problems
            } catch {
                problems.append("failed: \(error)")
            }
            let problem = problems.isEmpty ? nil : problems.joined(separator: "\n  ")
            if tally.record(name, problem: problem, verbose: verbose), let problem {
                print("scores mismatch (extra): \(name)\n  \(problem)")
            }
        }
        for kind in kinds {
            guard kindsProduced.contains(kind) else {
                print("scores (extra set, \(kind) lines): not produced yet")
                continue
            }
            print(
                "scores (extra set, \(kind) lines, resources computed so far): \(kindMatches[kind] ?? 0)/\(names.count) cases match"
            )
        }
        print(tally.summary("scores (extra set, all lines produced so far)"))
        print(
            "scores (extra set): \(uncomparedLines) expected lines of resources not computed, in \(uncomparedCases.count) cases: "
                + uncomparedCases.joined(separator: " "))
        // As the shared set's scores test: a listed case that matches now is reported, not failed.
        if !tally.fixed.isEmpty {
            print("listed in scores-extra-known-failures.txt but matching now: \(tally.fixed.joined(separator: " "))")
        }
        #expect(
            tally.unexpected.isEmpty,
            "extra cases not in scores-extra-known-failures.txt whose scores differ: \(tally.unexpected)")
        #expect(
            tally.unknownListed.isEmpty, "scores-extra-known-failures.txt lists no such case: \(tally.unknownListed)")
    }
}
