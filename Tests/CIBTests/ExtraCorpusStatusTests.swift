// The second set of Pacemaker reference cases (Tests/Corpus/scheduler-extra): every case
// unpacks and renders the status crm_simulate 2.1.5 printed; and the unpacker check that
// scripts/make-scheduler-corpus runs on its candidates.
import CIB
import CorpusTestSupport
import Foundation
import MeridianXML
import Testing

/// Unpacks a case of `set` with the `now` crm_simulate had.
private func unpack(_ name: String, of set: CorpusSet) throws -> CIBModel {
    let document = try XMLDocument(contentsOfFile: set.file(name, "input.xml").path, options: [.removeBlankText])
    let now = try set.now(for: name, hasExecutionDate: document.root.attribute("execution-date") != nil)
    return try CIBModel.unpack(document, now: now)
}

@Suite("Extra Pacemaker corpus", .serialized)
struct ExtraCorpusStatusTests {
    static let knownFailuresFile = "Tests/CIBTests/status-extra-known-failures.txt"

    @Test("every extra case unpacks; the current status matches crm_simulate")
    func currentStatus() throws {
        let set = CorpusSet.extra
        let names = set.caseNames(having: "input.xml")
        try #require(!names.isEmpty, "no cases at \(set)")
        var tally = CorpusTally(knownFailuresAt: Self.knownFailuresFile)
        let verbose = ProcessInfo.processInfo.environment["CIB_CORPUS_DIFF"] != nil
        for name in names {
            let actual: String
            do {
                let model = try unpack(name, of: set)
                if !model.unsupportedFeatures.isEmpty {
                    // The set holds only cases without them (scripts/make-scheduler-corpus).
                    print("unsupported in extra case \(name): \(model.unsupportedFeatures.map(\.name))")
                }
                actual = model.renderCurrentStatus()
            } catch {
                actual = "unpack failed: \(error)"
            }
            let simulation = try String(contentsOf: set.file(name, "simulate.txt"), encoding: .utf8)
            let problem = CorpusText.difference(
                expected: CorpusText.currentStatus(ofSimulation: simulation), actual: actual)
            if tally.record(name, problem: problem, verbose: verbose), let problem {
                print("status mismatch (extra): \(name)\n\(problem)")
            }
        }
        print(tally.summary("status (extra set)"))
        #expect(
            tally.unexpected.isEmpty,
            "extra cases not in status-extra-known-failures.txt that do not match: \(tally.unexpected)")
        #expect(
            tally.fixed.isEmpty,
            "extra cases that match now; remove them from status-extra-known-failures.txt: \(tally.fixed)")
        #expect(
            tally.unknownListed.isEmpty, "status-extra-known-failures.txt lists no such case: \(tally.unknownListed)")
    }
}

@Suite("Extra corpus candidates")
struct ExtraCorpusCandidateTests {
    /// `MERIDIAN_CORPUS_CANDIDATES=DIR` (a directory holding `cases/NAME/input.xml`) prints,
    /// for scripts/make-scheduler-corpus, the candidates the unpacker refuses or reports
    /// unsupported features for; without it, nothing runs.
    @Test("the candidates named by MERIDIAN_CORPUS_CANDIDATES, checked by the unpacker")
    func candidates() throws {
        guard let directory = ProcessInfo.processInfo.environment["MERIDIAN_CORPUS_CANDIDATES"] else { return }
        let set = CorpusSet(directory: URL(fileURLWithPath: directory))
        let names = set.caseNames(having: "input.xml")
        for name in names {
            do {
                let features = try unpack(name, of: set).unsupportedFeatures
                if !features.isEmpty {
                    let described = Set(features.map { "\($0.name) (\($0.detail))" }).sorted()
                    print("candidate refused: \(name): unsupported \(described.joined(separator: "; "))")
                }
            } catch {
                let message = "\(error)".split(separator: "\n").joined(separator: " ")
                print("candidate refused: \(name): unpack failed: \(message)")
            }
        }
        print("candidates checked: \(names.count)")
    }
}
