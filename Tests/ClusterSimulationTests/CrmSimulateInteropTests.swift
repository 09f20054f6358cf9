// Injections and injected failures against the real crm_simulate 2.1.5: for each scenario,
// crm_simulate runs with the what-if options and saves its graph (-G); Meridian applies the
// same injections, executes that graph with the same failures, and must print the same
// "Performing Requested Modifications", "Executing Cluster Transition" and "Revised Cluster
// Status" sections (whitespace ignored, failure timestamps masked).
import CIB
import ClusterSimulation
import CorpusTestSupport
import Foundation
import Scheduler
import Testing

enum CrmSimulate {
    static let path = "/usr/sbin/crm_simulate"

    /// Runs crm_simulate; returns stdout.
    static func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["LC_ALL"] = "C"
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// Whitespace-free lines from `from` (inclusive) up to the first line that starts a later
    /// section in `until`, with last-failure timestamps masked.
    static func section(_ text: String, from: String, until: [String]) -> [String] {
        let lines = text.split(separator: "\n").map { String($0.filter { !$0.isWhitespace }) }.filter { !$0.isEmpty }
        guard let start = lines.firstIndex(of: from) else { return [] }
        let end = lines[(start + 1)...].firstIndex(where: { until.contains($0) }) ?? lines.endIndex
        return lines[start..<end].map { line in
            guard let range = line.range(of: "last-failure-"),
                let equals = line[range.upperBound...].firstIndex(of: "=")
            else { return line }
            let digits = line[line.index(after: equals)...].prefix(while: \.isNumber)
            return line.replacingCharacters(in: line.index(after: equals)..<digits.endIndex, with: "TIME")
        }
    }
}

@Suite("Injections against crm_simulate", .serialized)
struct CrmSimulateInteropTests {
    static let scenarios: [(String, [String])] = [
        ("ticket-primitive-1", ["-g", "ticketA", "-F", "rsc1_start_0@node2=1"]),
        ("ticket-primitive-1", ["-r", "ticketA", "-u", "node1", "-i", "rsc1_monitor_0@node2=0"]),
        ("ticket-primitive-1", ["-f", "node2"]),
        ("1360", ["-F", "dollies_start_0@ssgtest1b=1", "-d", "ssgtest1a"]),
        ("1360", ["-F", "dollies:0_start_0@ssgtest1b=1"]),
        ("1360", ["-i", "VIP_monitor_0@ssgtest1b=0", "-b", "ticketB", "-e", "ticketC"]),
    ]

    @Test("the same modifications, executed actions and revised status", arguments: 0..<scenarios.count)
    func scenario(_ index: Int) throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: CrmSimulate.path),
            "crm_simulate is missing: install pacemaker-cli-utils (scripts/bootstrap does)")
        let (name, arguments) = Self.scenarios[index]
        let input = PacemakerCorpus.file(name, "input.xml").path
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-sim-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let graphPath = directory.appendingPathComponent("graph.xml").path
        let expected = try CrmSimulate.run(["-x", input, "-S", "-G", graphPath] + arguments)

        var injections = Injections()
        var pairs = arguments[...]
        while let flag = pairs.popFirst(), let value = pairs.popFirst() {
            switch flag {
            case "-g": injections.ticketsGranted.append(value)
            case "-r": injections.ticketsRevoked.append(value)
            case "-b": injections.ticketsStandby.append(value)
            case "-e": injections.ticketsActivated.append(value)
            case "-u": injections.nodesUp.append(value)
            case "-d": injections.nodesDown.append(value)
            case "-f": injections.nodesFailed.append(value)
            case "-i": injections.operations.append(try OperationSpec.parse(value, option: "--op-inject"))
            case "-F": injections.failures.append(try OperationSpec.parse(value, option: "--op-fail"))
            default: Issue.record("unknown flag \(flag)")
            }
        }
        let document = try CIBModel.document(contentsOfFile: input)
        let now = Int(Date().timeIntervalSince1970)
        let model = try CIBModel.unpack(document, now: Date())
        let (injected, modifications) = try injections.apply(to: document, model: model, now: now)
        let injectedModel = try CIBModel.unpack(injected, now: Date())
        let graph = try TransitionGraph.parse(xml: String(contentsOfFile: graphPath, encoding: .utf8))
        let execution = try TransitionExecutor.execute(
            graph, on: injected, model: injectedModel, failures: injections.failures, now: now)
        let revised = try CIBModel.unpack(execution.document, now: Date())
        var actual = ""
        if !modifications.isEmpty {
            actual += "Performing Requested Modifications:\n" + modifications.map { "  * \($0)\n" }.joined()
        }
        actual += "Executing Cluster Transition:\n" + execution.lines.map { $0 + "\n" }.joined()
        actual += revised.renderRevisedStatus()

        let ends = ["TransitionSummary:", "ExecutingClusterTransition:", "RevisedClusterStatus:"]
        for heading in ["PerformingRequestedModifications:", "ExecutingClusterTransition:", "RevisedClusterStatus:"] {
            let want = CrmSimulate.section(expected, from: heading, until: ends)
            let got = CrmSimulate.section(actual, from: heading, until: ends)
            #expect(want == got, "\(name) \(arguments.joined(separator: " ")): \(heading)")
            if heading != "PerformingRequestedModifications:" || !modifications.isEmpty {
                #expect(want.count > 1, "crm_simulate printed no \(heading) section for \(name)")
            }
        }
    }
}
