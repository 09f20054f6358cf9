import Foundation
import Testing

/// Help texts and error messages are part of the user interface: they are compared with the
/// snapshots in Snapshots/. After an intended change, run the tests with
/// MERIDIAN_UPDATE_SNAPSHOTS=1 and review the diff of the snapshot files.
@Suite("help and error message snapshots")
struct HelpSnapshotTests {
    static let snapshots = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Snapshots").path

    func run(_ tool: String, _ args: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try Products.path(tool))
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["COLUMNS"] = "100"
        p.environment = env
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, out)
    }

    func check(_ name: String, _ text: String) throws {
        let path = Self.snapshots + "/" + name + ".txt"
        if ProcessInfo.processInfo.environment["MERIDIAN_UPDATE_SNAPSHOTS"] == "1" {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text == expected, "\(name) differs from \(path); run with MERIDIAN_UPDATE_SNAPSHOTS=1 to accept:\n\(text)")
    }

    @Test func meridianTicketHelp() throws {
        let r = try run("meridian", ["ticket", "--help"])
        #expect(r.status == 0)
        try check("meridian-ticket-help", r.output)
    }

    @Test func ticketdHelp() throws {
        let r = try run("meridian-ticketd", ["run", "--help"])
        #expect(r.status == 0)
        try check("meridian-ticketd-run-help", r.output)
    }

    @Test func ticketdNotAMember() throws {
        let dir = NSTemporaryDirectory() + "meridian-snapshot-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let conf = dir + "/booth.conf"
        try "site = 192.0.2.1\nsite = 192.0.2.2\narbitrator = 192.0.2.3\nticket = \"db\"\n"
            .write(toFile: conf, atomically: true, encoding: .utf8)
        let r = try run("meridian-ticketd", ["--config", conf, "--site", "192.0.2.9", "--state-dir", dir + "/state"])
        #expect(r.status == 2)
        try check("meridian-ticketd-not-a-member", r.output.replacingOccurrences(of: dir, with: "DIR"))
    }

    @Test func configErrorThroughTheCLI() throws {
        let dir = NSTemporaryDirectory() + "meridian-snapshot-cli-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let conf = dir + "/booth.conf"
        try "site = 192.0.2.1\nsite = 192.0.2.2\nticket = \"db\"\n    expire = 10\n    timeout = 5\n    retries = 3\n"
            .write(toFile: conf, atomically: true, encoding: .utf8)
        let r = try run("meridian", ["ticket", "list", "--config", conf, "--site", "192.0.2.1"])
        #expect(r.status == 2)
        try check("meridian-config-error", r.output.replacingOccurrences(of: dir, with: "DIR"))
    }
}
