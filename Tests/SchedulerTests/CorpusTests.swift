// Every case of the Pacemaker reference corpus: the allocation score lines of the
// kinds (and resources) the scores phase computes must be the ones crm_simulate printed.
import CIB
import Foundation
import Scheduler
import Testing

@Suite("Pacemaker corpus scores", .serialized)
struct ScoresCorpusTests {
    @Test("computed allocation score lines match crm_simulate -sSQ")
    func scoreLines() throws {
        let names = Corpus.caseNames()
        try #require(!names.isEmpty, "no corpus at \(Corpus.directory.path) (set MERIDIAN_SHARED)")
        let known = Corpus.knownFailures()
        let showDiffs = ProcessInfo.processInfo.environment["SCHEDULER_CORPUS_DIFF"] != nil
        var matches = 0
        var kindMatches: [ScoreKind: Int] = [:]
        var kindsProduced: Set<ScoreKind> = []
        var uncomparedLines = 0
        var uncomparedCases: [String] = []
        var mismatches: [String] = []
        var fixed: [String] = []
        for name in names {
            var reasons: [String] = []
            do {
                let document = try CIBModel.document(contentsOfFile: Corpus.file(name, "input.xml").path)
                // crm_simulate ran without --date: the CIB's execution-date, else the clock.
                let now: Date? = document.root.attribute("execution-date") == nil ? Date() : nil
                let model = try CIBModel.unpack(document, now: now)
                let scores = AllocationScores.compute(model)
                kindsProduced.formUnion(scores.entries.map(\.kind))
                let text = try String(contentsOf: Corpus.file(name, "scores.txt"), encoding: .utf8)
                let uncompared = text.split(separator: "\n").filter { line in
                    guard let (kind, resource) = Corpus.resource(ofLine: line) else { return false }
                    return !(scores.covered[kind]?.contains(resource) ?? false)
                }
                if !uncompared.isEmpty {
                    uncomparedLines += uncompared.count
                    uncomparedCases.append(name)
                }
                for kind in ScoreKind.allCases {
                    // Only lines of the resources computed so far are compared.
                    let expected = text.split(separator: "\n").filter { line in
                        guard let (lineKind, resource) = Corpus.resource(ofLine: line), lineKind == kind else {
                            return false
                        }
                        return scores.covered[kind]?.contains(resource) ?? false
                    }.map(Corpus.normalized).sorted()
                    let actual = scores.entries.filter { $0.kind == kind }.map { Corpus.normalized($0.line) }.sorted()
                    if expected == actual {
                        kindMatches[kind, default: 0] += 1
                    } else {
                        let missing = expected.filter { !actual.contains($0) }.prefix(4)
                        let extra = actual.filter { !expected.contains($0) }.prefix(4)
                        reasons.append(
                            "\(kind.rawValue): expected not produced: \(Array(missing))\n  produced not expected: \(Array(extra))"
                        )
                    }
                }
            } catch {
                reasons.append("failed: \(error)")
            }
            if !reasons.isEmpty {
                mismatches.append(name)
                if showDiffs || known[name] == nil {
                    print("scores mismatch: \(name)\n  \(reasons.joined(separator: "\n  "))")
                }
            } else {
                matches += 1
                if known[name] != nil { fixed.append(name) }
            }
        }
        // Compared: the lines of the resources the phase covers so far (primitives and
        // groups outside clones); clone and promotion lines are not produced yet.
        for kind in ScoreKind.allCases {
            guard kindsProduced.contains(kind) else {
                print("scores (\(kind.rawValue) lines): not produced yet")
                continue
            }
            print(
                "scores (\(kind.rawValue) lines, resources computed so far): \(kindMatches[kind] ?? 0)/\(names.count) cases match"
            )
        }
        print("scores (all lines produced so far): \(matches)/\(names.count) cases match")
        print(
            "scores: \(uncomparedLines) expected lines of resources not computed, in \(uncomparedCases.count) cases: "
                + uncomparedCases.joined(separator: " "))
        if !fixed.isEmpty {
            print("listed in scores-known-failures.txt but matching now: \(fixed.joined(separator: " "))")
        }
        let unexpected = mismatches.filter { known[$0] == nil }
        #expect(unexpected.isEmpty, "cases not in scores-known-failures.txt whose scores differ: \(unexpected)")
    }
}

@Suite("Pacemaker corpus scores, one case")
struct ScoresCorpusCaseTests {
    /// `SCHEDULER_CASE=name` prints the lines computed for one case, next to crm_simulate's.
    @Test("the case named by SCHEDULER_CASE, printed")
    func oneCase() throws {
        guard let name = ProcessInfo.processInfo.environment["SCHEDULER_CASE"] else { return }
        let document = try CIBModel.document(contentsOfFile: Corpus.file(name, "input.xml").path)
        let now: Date? = document.root.attribute("execution-date") == nil ? Date() : nil
        let scores = AllocationScores.compute(try CIBModel.unpack(document, now: now))
        for entry in scores.entries { print("computed: \(entry.line)") }
    }
}
