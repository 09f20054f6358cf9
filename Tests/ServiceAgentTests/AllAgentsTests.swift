import Foundation
import ProcessTestSupport
import Testing

/// What every agent in `Agents/` must do, whatever its service: meta-data valid against the
/// OCF 1.1 RelaxNG schema and the OCF 1.0 DTD (Docs/decisions/ocf-agents.md), POSIX shell,
/// meta-data and usage without resource-agents installed, an unknown action answered with 3,
/// every required action advertised with a timeout.
@Suite struct AllAgentsTests {
    static let expected = ["activemq", "dns-failover", "mariadb", "meridian-volume", "nfs-export", "nfs-server"]

    @Test func everyAgentOfIssue5IsThere() {
        let names = OCFAgent.all.map(\.name)
        for name in Self.expected { #expect(names.contains(name), "Agents/\(name) is missing (have \(names))") }
    }

    @Test(arguments: OCFAgent.all.map(\.name)) func metaDataIsValidAgainstBothSchemas(_ name: String) throws {
        let agent = OCFAgent(name)
        let dir = try ScratchDirectory("agent-meta")
        defer { dir.remove() }
        let verdict = try agent.validateMetaData(in: dir.path)
        #expect(verdict.rng, "\(name): OCF 1.1 RelaxNG: \(verdict.output)")
        #expect(verdict.dtd, "\(name): OCF 1.0 DTD: \(verdict.output)")
        let xml = try agent.metaData()
        for action in ["start", "stop", "monitor", "meta-data", "validate-all"] {
            let line = xml.split(separator: "\n").first { $0.contains("<action name=\"\(action)\"") }
            #expect(line != nil, "\(name) does not advertise \(action)")
            if action != "meta-data", let line { #expect(line.contains("timeout="), "\(name): \(action) has no timeout") }
        }
    }

    @Test(arguments: OCFAgent.all.map(\.name)) func isPOSIXShellAndWorksWithoutResourceAgents(_ name: String) throws {
        let agent = OCFAgent(name)
        let syntax = try runProgram("/bin/dash", ["-n", agent.path])
        #expect(syntax.status == 0, "\(name): dash -n: \(syntax.output)")
        let bare = ["OCF_FUNCTIONS_DIR": "/nonexistent", "OCF_ROOT": "/nonexistent"]
        let meta = try agent.run("meta-data", env: bare)
        #expect(meta.status == 0 && meta.output.contains("<resource-agent"), "\(name): \(meta.output)")
        let unknown = try agent.run("no-such-action", env: bare)
        #expect(unknown.status == 3, "\(name): an unknown action exited \(unknown.status): \(unknown.output)")
        let usage = try agent.run("usage", env: bare)
        #expect(usage.status == 0 && !usage.output.isEmpty, "\(name): usage exited \(usage.status)")
    }
}
