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
        var mismatches: [String] = []
        var fixed: [String] = []
        for name in names {
            var reason: String?
            do {
                let document = try CIBModel.document(contentsOfFile: Corpus.file(name, "input.xml").path)
                // crm_simulate ran without --date: the CIB's execution-date, else the clock.
                let now: Date? = document.root.attribute("execution-date") == nil ? Date() : nil
                let model = try CIBModel.unpack(document, now: now)
                let scores = AllocationScores.compute(model)
                let text = try String(contentsOf: Corpus.file(name, "scores.txt"), encoding: .utf8)
                // Only lines of the kinds and resources computed so far are compared.
                let expected = text.split(separator: "\n").filter { line in
                    guard let (kind, resource) = Corpus.resource(ofLine: line) else { return false }
                    return scores.covered[kind]?.contains(resource) ?? false
                }.map(Corpus.normalized).sorted()
                let actual = scores.renderedLines().map(Corpus.normalized).sorted()
                if expected != actual {
                    let missing = expected.filter { !actual.contains($0) }.prefix(4)
                    let extra = actual.filter { !expected.contains($0) }.prefix(4)
                    reason = "expected not produced: \(Array(missing))\n  produced not expected: \(Array(extra))"
                }
            } catch {
                reason = "failed: \(error)"
            }
            if let reason {
                mismatches.append(name)
                if showDiffs || known[name] == nil { print("scores mismatch: \(name)\n  \(reason)") }
            } else {
                matches += 1
                if known[name] != nil { fixed.append(name) }
            }
        }
        print("scores (primitive assign lines, primitives outside groups and clones): \(matches)/\(names.count) cases match")
        if !fixed.isEmpty {
            print("listed in scores-known-failures.txt but matching now: \(fixed.joined(separator: " "))")
        }
        let unexpected = mismatches.filter { known[$0] == nil }
        #expect(unexpected.isEmpty, "cases not in scores-known-failures.txt whose scores differ: \(unexpected)")
    }
}
