// Every case of the Pacemaker reference corpus: crm_simulate's own transition graph
// (graph.xml) executed on the case's input must print the "Executing Cluster Transition:"
// lines and the "Revised Cluster Status:" block of simulate.txt (compared ignoring
// whitespace, as Pacemaker's runner compares). Cases that differ are listed with reasons in
// execution-known-failures.txt; the test fails on any other difference and on a listed case
// that now matches.
import CIB
import ClusterSimulation
import CorpusTestSupport
import Foundation
import Scheduler
import Testing

enum ExecutionCorpus {
    static let knownFailuresPath = "Tests/ClusterSimulationTests/execution-known-failures.txt"

    /// Lines with all whitespace removed, blank lines dropped.
    static func normalized(_ text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { String($0.filter { !$0.isWhitespace }) }
            .filter { !$0.isEmpty }
    }

    /// Splits output from "Executing Cluster Transition:" on into the executing part and the
    /// revised status part (from "Revised Cluster Status:").
    static func sections(_ text: String) -> (executing: [String], revised: [String]) {
        let lines = normalized(text)
        let start = lines.firstIndex(of: "ExecutingClusterTransition:") ?? lines.endIndex
        let revised = lines.firstIndex(of: "RevisedClusterStatus:") ?? lines.endIndex
        return (Array(lines[start..<revised]), Array(lines[revised...]))
    }

    /// Meridian's output for a case: crm_simulate's graph executed on the input.
    static func actual(_ name: String) throws -> String {
        let document = try CIBModel.document(contentsOfFile: PacemakerCorpus.file(name, "input.xml").path)
        let now: Date? = document.root.attribute("execution-date") == nil ? Date() : nil
        let model = try CIBModel.unpack(document, now: now)
        let graphText = try String(contentsOf: PacemakerCorpus.file(name, "graph.xml"), encoding: .utf8)
        let graph = try TransitionGraph.parse(xml: graphText, sourceName: "\(name)/graph.xml")
        let execution = try TransitionExecutor.execute(
            graph, on: document, model: model, now: Int(Date().timeIntervalSince1970))
        let revised = try CIBModel.unpack(execution.document, now: now)
        return "Executing Cluster Transition:\n" + execution.lines.map { $0 + "\n" }.joined()
            + revised.renderRevisedStatus()
    }
}

@Suite("Pacemaker corpus: executing crm_simulate's graphs", .serialized)
struct ExecutionCorpusTests {
    @Test("executed actions and the revised status match crm_simulate for every case not listed")
    func execution() throws {
        let names = PacemakerCorpus.caseNames(having: "graph.xml")
        try #require(!names.isEmpty, "no corpus at \(PacemakerCorpus.directory.path) (set MERIDIAN_SHARED)")
        let known = PacemakerCorpus.knownFailures(at: ExecutionCorpus.knownFailuresPath)
        let showDiffs = ProcessInfo.processInfo.environment["SIMULATION_CORPUS_DIFF"] != nil
        var executingPassed = 0
        var revisedPassed = 0
        var passed = 0
        var unexpected: [String] = []
        var fixed: [String] = []
        for name in names {
            var differences: [String] = []
            do {
                let expectedText = try String(contentsOf: PacemakerCorpus.file(name, "simulate.txt"), encoding: .utf8)
                let expected = ExecutionCorpus.sections(expectedText)
                let actual = ExecutionCorpus.sections(try ExecutionCorpus.actual(name))
                if expected.executing == actual.executing {
                    executingPassed += 1
                } else {
                    differences.append(
                        "executing: expected \(expected.executing.dropFirst())\n    produced \(actual.executing.dropFirst())"
                    )
                }
                if expected.revised == actual.revised {
                    revisedPassed += 1
                } else {
                    let missing = expected.revised.filter { !actual.revised.contains($0) }
                    let extra = actual.revised.filter { !expected.revised.contains($0) }
                    differences.append(
                        "revised status: expected not produced \(missing), produced not expected \(extra)")
                }
            } catch {
                differences.append("failed: \(error)")
            }
            if differences.isEmpty {
                passed += 1
                if known[name] != nil { fixed.append(name) }
            } else {
                if known[name] == nil { unexpected.append(name) }
                if showDiffs || known[name] == nil {
                    print("execution mismatch: \(name)\n  " + differences.joined(separator: "\n  "))
                }
            }
        }
        print(
            "graph execution: \(passed)/\(names.count) cases match (executing section \(executingPassed), "
                + "revised status \(revisedPassed)); \(known.count) listed as known failures")
        #expect(unexpected.isEmpty, "unlisted failures: \(unexpected)")
        #expect(fixed.isEmpty, "listed in \(ExecutionCorpus.knownFailuresPath) but now passing: \(fixed)")
    }
}
