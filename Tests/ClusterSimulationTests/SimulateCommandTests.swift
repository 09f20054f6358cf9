// The built `meridian simulate` binary: corpus cases printed as crm_simulate prints them, and
// bad inputs reported with the place, the fix and exit status 2.
import CorpusTestSupport
import Foundation
import Scheduler
import Testing

enum MeridianBinary {
    /// `meridian` next to the running test bundle (`<scratch>/<triple>/debug/`), whatever the
    /// scratch path; `MERIDIAN_PRODUCTS_DIR` overrides.
    static func path() throws -> String {
        var directories: [String] = []
        if let explicit = ProcessInfo.processInfo.environment["MERIDIAN_PRODUCTS_DIR"] { directories.append(explicit) }
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            var url = URL(fileURLWithPath: exe).deletingLastPathComponent()
            while url.path.contains(".xctest") { url.deleteLastPathComponent() }
            directories.append(url.path)
        }
        for directory in directories where FileManager.default.isExecutableFile(atPath: directory + "/meridian") {
            return directory + "/meridian"
        }
        throw SimulationTestError(
            "meridian was not found in \(directories); build it with the tests: "
                + "`swift build --build-tests` (same --scratch-path as `swift test`)")
    }

    static func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try path())
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (
            process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self)
        )
    }
}

struct SimulationTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

@Suite("meridian simulate", .serialized)
struct SimulateCommandTests {
    @Test(
        "cases without actions print simulate.txt exactly (whitespace ignored)",
        arguments: ["bug-5025-2", "group-unmanaged"])
    func corpusWithoutActions(_ name: String) throws {
        let result = try MeridianBinary.run(["simulate", "-x", PacemakerCorpus.file(name, "input.xml").path, "-S"])
        #expect(result.status == 0, "\(result.stderr)")
        let expected = try String(contentsOf: PacemakerCorpus.file(name, "simulate.txt"), encoding: .utf8)
        #expect(ExecutionCorpus.normalized(result.stdout) == ExecutionCorpus.normalized(expected))
    }

    @Test("a case with a transition prints simulate.txt and saves the graph and its dot form")
    func corpusWithActions() throws {
        let name = "1360"
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-cli-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let graph = directory.appendingPathComponent("graph.xml").path
        let dot = directory.appendingPathComponent("graph.dot").path
        let result = try MeridianBinary.run([
            "simulate", "--xml-file", PacemakerCorpus.file(name, "input.xml").path, "--simulate",
            "--save-graph", graph, "--save-dotfile", dot,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let expected = try String(contentsOf: PacemakerCorpus.file(name, "simulate.txt"), encoding: .utf8)
        #expect(ExecutionCorpus.normalized(result.stdout) == ExecutionCorpus.normalized(expected))
        // The saved graph is a transition graph Meridian (and crm_simulate's consumer) can read.
        _ = try Scheduler.TransitionGraph.parse(xml: String(contentsOfFile: graph, encoding: .utf8))
        #expect(FileManager.default.fileExists(atPath: dot))
    }

    @Test(
        "bad inputs: exit 2, stderr names the place and the fix",
        arguments: [
            (["-x", "/nonexistent/cib.xml"], ["--xml-file /nonexistent/cib.xml: no such file", "fix:"]),
            (["-x", "CORPUS", "--op-fail", "rsc1_start@node1=1"], ["--op-fail", "${resource}_${task}", "fix:"]),
            (["-x", "CORPUS", "--op-inject", "VIP_start_0@node1=x"], ["--op-inject", "not an integer"]),
            (["-x", "CORPUS", "--node-fail", "nosuchnode"], ["--node-fail", "nosuchnode", "ssgtest1a"]),
            (["-x", "CORPUS", "--set-datetime", "yesterday"], ["--set-datetime", "YYYY-MM-DD"]),
            (["-x", "MALFORMED"], ["malformed.xml:3", "hint:"]),
            (["-x", "INVALID"], ["schema", "hint:"]),
        ])
    func badInputs(_ arguments: [String], _ phrases: [String]) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-cli-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let malformed = directory.appendingPathComponent("malformed.xml").path
        try "<cib>\n<configuration>\n</cib>\n".write(toFile: malformed, atomically: true, encoding: .utf8)
        let invalid = directory.appendingPathComponent("invalid.xml").path
        let corpus = PacemakerCorpus.file("1360", "input.xml").path
        try String(contentsOfFile: corpus, encoding: .utf8)
            .replacingOccurrences(of: "<resources>", with: "<resources><bogus-element/>")
            .write(toFile: invalid, atomically: true, encoding: .utf8)
        let resolved = arguments.map { ["CORPUS": corpus, "MALFORMED": malformed, "INVALID": invalid][$0] ?? $0 }
        let result = try MeridianBinary.run(["simulate"] + resolved)
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        for phrase in phrases {
            #expect(result.stderr.contains(phrase), "stderr lacks \(phrase): \(result.stderr)")
        }
    }

    @Test("the help lists crm_simulate's options and the exit statuses")
    func help() throws {
        let result = try MeridianBinary.run(["simulate", "--help"])
        #expect(result.status == 0)
        for phrase in ["--xml-file", "-S, --simulate", "--op-fail", "--ticket-revoke", "EXIT STATUS", "2  usage"] {
            #expect(result.stdout.contains(phrase), "help lacks \(phrase)")
        }
    }
}
