import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Geo attributes (Booth's geostore) and `attr-prereq`: a site acquires a lost ticket
/// automatically only while its attribute matches; the `meridian ticket attr` commands set it.
@Suite("geo attributes and attr-prereq", .serialized)
struct AttributePrerequisiteTests {
    func meridian(_ c: TestCluster, _ args: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try Products.path("meridian"))
        p.arguments = ["ticket"] + args + ["--config", c.confPath]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, out)
    }

    @Test("failover waits for the attribute; attr set/get/list/delete", .timeLimit(.minutes(1)))
    func attrPrereq() async throws {
        let (a, b, r) = ("127.0.63.1", "127.0.63.2", "127.0.63.3")
        let c = try TestCluster(
            name: "attr-prereq", port: 29963, members: [.site(a), .site(b), .arbitrator(r)],
            ticketLines: ["expire = 4", "timeout = 400ms", "retries = 3", "attr-prereq = auto repl eq ACTIVE"])
        defer { c.shutdown() }
        try c.startAll()

        // Attribute commands through the CLI.
        #expect(try meridian(c, ["attr", "set", c.ticket, "repl", "SYNCING", "--site", b]).status == 0)
        let got = try meridian(c, ["attr", "get", c.ticket, "repl", "--site", b])
        #expect(got.status == 0 && got.output == "SYNCING\n", "get: \(got)")
        let missing = try meridian(c, ["attr", "get", c.ticket, "nope", "--site", b])
        #expect(missing.status == 1, "a missing attribute exits 1: \(missing)")
        let listed = try meridian(c, ["attr", "list", c.ticket, "--site", b])
        #expect(listed.status == 0 && listed.output.hasPrefix("repl SYNCING "), "list: \(listed)")
        #expect(try meridian(c, ["attr", "set", c.ticket, "x", "1", "--site", r]).status == 2, "arbitrators refuse")

        // An administrator's grant is not an automatic acquisition: the prerequisite is "auto".
        try c.grantSucceeding(at: a)
        c.stop(a, signal: SIGKILL)
        // b's promise ends within one lease; with repl = SYNCING it must not take over.
        try await Task.sleep(for: .milliseconds(4000 + 1500))
        #expect(try c.listing(b).grantedHere == false, "\(b) took the ticket although repl != ACTIVE")
        #expect(c.logTail(b).contains("attr-prereq not met"), "\(b) says why it waits:\n\(c.logTail(b))")

        #expect(try meridian(c, ["attr", "set", c.ticket, "repl", "ACTIVE", "--site", b]).status == 0)
        try await c.waitUntil("\(b) acquires once repl = ACTIVE", timeout: .seconds(3)) {
            try c.listing(b).grantedHere == true
        }
        #expect(try meridian(c, ["attr", "delete", c.ticket, "repl", "--site", b]).status == 0)
        #expect(try meridian(c, ["attr", "delete", c.ticket, "repl", "--site", b]).status == 1)
    }
}
