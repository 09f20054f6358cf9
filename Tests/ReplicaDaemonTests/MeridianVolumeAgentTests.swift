import Foundation
import ProcessTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Agents/meridian-volume: meta-data against both schemas, validate-all's error codes, and
/// the real thing with `ocf-tester` and a state sequence against two running daemons.
@Suite(.serialized) struct MeridianVolumeAgentTests {
    static let agent = Repository.root + "/Agents/meridian-volume"

    func runAgent(_ action: String, _ parameters: [String: String], env extra: [String: String] = [:]) throws
        -> (status: Int32, output: String)
    {
        var assignments = parameters.map { "OCF_RESKEY_\($0.key)='\($0.value)'" }
        assignments += extra.map { "\($0.key)='\($0.value)'" }
        return try runProgram("/bin/sh", ["-c", "\(assignments.joined(separator: " ")) \(Self.agent) \(action)"])
    }

    @Test func metaDataValidatesAgainstTheOCF11SchemaAndThe10DTD() throws {
        let dir = NSTemporaryDirectory()
        let file = dir + "meridian-volume-meta-\(getpid()).xml"
        let md = try runProgram(Self.agent, ["meta-data"])
        #expect(md.status == 0)
        try md.output.write(toFile: file, atomically: true, encoding: .utf8)
        defer { unlink(file) }
        let rng = try runProgram("/usr/bin/xmllint", ["--noout", "--relaxng", Repository.root + "/Agents/schema/ra-api-1.1.rng", file])
        #expect(rng.status == 0, "\(rng.output)")
        let dtd = try runProgram("/usr/bin/xmllint", ["--noout", "--dtdvalid", "/usr/share/resource-agents/ra-api-1.dtd", file])
        #expect(dtd.status == 0, "\(dtd.output)")
        #expect(md.output.contains("role=\"Promoted\"") && md.output.contains("<version>1.1</version>"))
    }

    @Test func isPOSIXShell() throws {
        #expect(try runProgram("/usr/bin/dash", ["-n", Self.agent]).status == 0)
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/checkbashisms") {
            let check = try runProgram("/usr/bin/checkbashisms", [Self.agent])
            #expect(check.status == 0, "\(check.output)")
        }
    }

    @Test func validateAllNamesTheProblemWithTheRightCode() throws {
        let pair = try ReplicaPair(net: 65)
        let meridian = pair.meridian
        let base = ["config": pair.config("alpha"), "node": "alpha", "run_dir": pair.runDirectory("alpha"), "meridian": meridian]
        var missing = base
        missing["resource"] = nil
        let noResource = try runAgent("validate-all", missing)
        #expect(noResource.status == 6 && noResource.output.contains("'resource' parameter is required"), "\(noResource.output)")
        var unknown = base
        unknown["resource"] = "r9"
        let notThere = try runAgent("validate-all", unknown)
        #expect(notThere.status == 6 && notThere.output.contains("unknown resource 'r9'"), "\(notThere.output)")
        var unreadable = base
        unreadable["resource"] = "r0"
        unreadable["config"] = "/nonexistent/replicad.res"
        let noConfig = try runAgent("validate-all", unreadable)
        #expect(noConfig.status == 5 && noConfig.output.contains("not readable"), "\(noConfig.output)")
        var noBinary = base
        noBinary["resource"] = "r0"
        noBinary["meridian"] = "/nonexistent/meridian"
        #expect(try runAgent("validate-all", noBinary).status == 5)
        var wrongNode = base
        wrongNode["resource"] = "r0"
        wrongNode["node"] = "gamma"
        #expect(try runAgent("validate-all", wrongNode).status == 6)
        var tooMany = base
        tooMany["resource"] = "r0"
        let clone = try runAgent("validate-all", tooMany, env: ["OCF_RESKEY_CRM_meta_clone_max": "3", "OCF_RESKEY_CRM_meta_notify": "true"])
        #expect(clone.status == 6 && clone.output.contains("clone-max=3"), "\(clone.output)")
    }

    /// ocf-tester (resource-agents) against alpha, beta up and connected.
    @Test func passesOCFTester() throws {
        let pair = try ReplicaPair(net: 66)
        try pair.startBoth()
        try pair.must("alpha", ["primary", "--force"])
        try pair.waitInSync()
        try pair.must("alpha", ["secondary"])
        try pair.must("alpha", ["down"])
        let scores = pair.directory + "/scores"
        let recorder = pair.directory + "/score.sh"
        try "#!/bin/sh\necho \"$@\" >> \(scores)\n".write(toFile: recorder, atomically: true, encoding: .utf8)
        chmod(recorder, 0o755)
        let result = try runProgram("/usr/sbin/ocf-tester", [
            "-n", "vol", "-o", "resource=r0", "-o", "config=\(pair.config("alpha"))", "-o", "node=alpha",
            "-o", "run_dir=\(pair.runDirectory("alpha"))", "-o", "meridian=\(pair.meridian)",
            "-o", "promotion_score_command=\(recorder)", Self.agent,
        ])
        #expect(result.status == 0 && result.output.contains("passed all tests"), "\(result.output)\n\(pair.log("alpha"))")
        let recorded = (try? String(contentsOfFile: scores, encoding: .utf8)) ?? ""
        #expect(recorded.contains("-v 10000") && recorded.contains("-v 1000") && recorded.contains("-D"), "\(recorded)")
    }

    /// start → 0, promote → 8, demote → 0, stop → 7; a dead daemon → generic error; a Primary
    /// whose peer is Primary cannot exist, so promote is refused there.
    @Test func stateSequenceAndScores() throws {
        let pair = try ReplicaPair(net: 67)
        try pair.startBoth()
        try pair.must("alpha", ["primary", "--force"])
        try pair.waitInSync()
        try pair.must("alpha", ["secondary"])
        let scores = pair.directory + "/scores"
        let recorder = pair.directory + "/score.sh"
        try "#!/bin/sh\necho \"$@\" >> \(scores)\n".write(toFile: recorder, atomically: true, encoding: .utf8)
        chmod(recorder, 0o755)
        func params(_ node: String) -> [String: String] {
            ["resource": "r0", "config": pair.config(node), "node": node, "run_dir": pair.runDirectory(node),
             "meridian": pair.meridian, "promotion_score_command": recorder]
        }
        #expect(try runAgent("monitor", params("alpha")).status == 0)
        #expect(try runAgent("promote", params("alpha")).status == 0)
        #expect(try runAgent("monitor", params("alpha")).status == 8)
        let second = try runAgent("promote", params("beta"))
        #expect(second.status == 1, "the peer is Primary: \(second.output)")
        #expect(try runAgent("demote", params("alpha")).status == 0)
        #expect(try runAgent("monitor", params("alpha")).status == 0)
        #expect(try runAgent("stop", params("alpha")).status == 0)
        #expect(try runAgent("monitor", params("alpha")).status == 7)
        #expect(try runAgent("stop", params("alpha")).status == 0, "stop is idempotent")
        #expect(try runAgent("start", params("alpha")).status == 0)
        #expect(try runAgent("start", params("alpha")).status == 0, "start is idempotent")
        pair.kill9("alpha")
        #expect(try runAgent("monitor", params("alpha")).status == 1, "daemon gone: generic error")
        let recorded = (try? String(contentsOfFile: scores, encoding: .utf8)) ?? ""
        #expect(recorded.contains("-v 10000") && recorded.contains("-v 1000") && recorded.contains("-D"), "\(recorded)")
    }
}
