// Every case of the Pacemaker reference corpus: unpacks, and renders the status
// crm_simulate 2.1.5 printed.
import CIB
import Foundation
import MeridianXML
import Testing

@Suite("Pacemaker corpus", .serialized)
struct CorpusTests {
    /// crm_simulate ran without --date: it uses the CIB's execution-date when there is
    /// one, else the clock (outputs are stable for any present or future date).
    static func now(for document: XMLDocument) -> Date? {
        document.root.attribute("execution-date") == nil ? Date() : nil
    }

    @Test("every input unpacks or names its unsupported features; the current status matches crm_simulate")
    func currentStatus() throws {
        let names = Corpus.caseNames()
        try #require(!names.isEmpty, "no corpus at \(Corpus.directory.path) (set MERIDIAN_SHARED)")
        let known = Corpus.knownFailures("status-known-failures.txt")
        var matches = 0
        var mismatches: [String] = []
        var fixed: [String] = []
        var unsupportedCases: [String: [String]] = [:]
        let showDiffs = ProcessInfo.processInfo.environment["CIB_CORPUS_DIFF"] != nil
        for name in names {
            let document = try XMLDocument(
                contentsOfFile: Corpus.file(name, "input.xml").path, options: [.removeBlankText])
            let actual: String
            do {
                let model = try CIBModel.unpack(document, now: Self.now(for: document))
                let refused = model.unsupportedFeatures.filter { $0.impact == .affectsDecisions }
                if !refused.isEmpty { unsupportedCases[name] = refused.map(\.name) }
                actual = model.renderCurrentStatus()
            } catch {
                actual = "unpack failed: \(error)"
            }
            let expected = try Corpus.expectedStatus(name)
            let same = Corpus.normalized(expected) == Corpus.normalized(actual)
            if same {
                matches += 1
                if known[name] != nil { fixed.append(name) }
            } else {
                mismatches.append(name)
                if showDiffs || known[name] == nil {
                    print("status mismatch: \(name)\n\(Corpus.difference(expected: expected, actual: actual))")
                }
            }
        }
        print("status: \(matches)/\(names.count) match")
        for (name, features) in unsupportedCases.sorted(by: { $0.key < $1.key }) {
            print("unsupported in \(name): \(Set(features).sorted().joined(separator: ", "))")
        }
        let unexpected = mismatches.filter { known[$0] == nil }
        #expect(unexpected.isEmpty, "cases not in status-known-failures.txt that do not match: \(unexpected)")
        #expect(fixed.isEmpty, "cases that match now; remove them from status-known-failures.txt: \(fixed)")
    }
}

@Suite("Pacemaker corpus against Meridian's schema")
struct CorpusSchemaTests {
    @Test("every corpus input that Pacemaker validates also validates against Meridian's schema")
    func corpusValidates() throws {
        let names = Corpus.caseNames()
        try #require(!names.isEmpty, "no corpus at \(Corpus.directory.path) (set MERIDIAN_SHARED)")
        var valid = 0
        var unvalidated: [String] = []
        for name in names {
            let document = try XMLDocument(contentsOfFile: Corpus.file(name, "input.xml").path)
            if document.root.attribute("validate-with") == "none" {
                // Pacemaker does not validate these either (order-wrong-kind is invalid on purpose).
                unvalidated.append(name)
                continue
            }
            do {
                try CIBModel.validate(document)
                valid += 1
            } catch {
                Issue.record("\(name): \(error)")
            }
        }
        print("schema: \(valid)/\(names.count) valid, not validated (validate-with=none): \(unvalidated)")
    }
}
