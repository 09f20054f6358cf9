import Foundation
import ProcessTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Agents/meridian-volume: meta-data against both schemas (and what each of them rejects),
/// the shell dialect, validate-all's error codes, the state-to-code-and-score table through a
/// stub CLI, and the real thing with `ocf-tester` and a state sequence against two running
/// daemons.
@Suite(.serialized) struct MeridianVolumeAgentTests {
    static let agent = Repository.root + "/Agents/meridian-volume"
    static let rng = Repository.root + "/Agents/schema/ra-api-1.1.rng"
    static let dtd = "/usr/share/resource-agents/ra-api-1.dtd"

    /// Runs the agent under `sh` with `OCF_RESKEY_<name>` for every parameter plus `env`.
    func runAgent(_ action: String, _ parameters: [String: String], env extra: [String: String] = [:]) throws
        -> (status: Int32, output: String)
    {
        var assignments = parameters.map { "OCF_RESKEY_\($0.key)='\($0.value)'" }
        assignments += extra.map { "\($0.key)='\($0.value)'" }
        return try runProgram("/bin/sh", ["-c", "\(assignments.joined(separator: " ")) \(Self.agent) \(action)"])
    }

    /// A fresh temporary directory, removed by the caller.
    func temporaryDirectory(_ name: String) throws -> String {
        let dir = NSTemporaryDirectory() + "meridian-volume-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Writes an executable shell script.
    func writeScript(_ path: String, _ body: String) throws {
        try ("#!/bin/sh\n" + body).write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
    }

    /// A `promotion_score_command` that appends its arguments, one call a line, to `file`.
    func scoreRecorder(in dir: String, _ file: String) throws -> String {
        let path = dir + "/score-\(file).sh"
        try writeScript(path, "echo \"$@\" >> \(dir)/\(file)\n")
        return path
    }

    func recorded(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// xmllint's verdicts on a meta-data text: (valid against the 1.1 RNG, valid against the 1.0 DTD).
    func validate(_ xml: String, in dir: String) throws -> (rng: Bool, dtd: Bool, output: String) {
        let file = dir + "/meta-\(UInt32.random(in: 0...UInt32.max)).xml"
        try xml.write(toFile: file, atomically: true, encoding: .utf8)
        let rng = try runProgram("/usr/bin/xmllint", ["--noout", "--relaxng", Self.rng, file])
        let dtd = try runProgram("/usr/bin/xmllint", ["--noout", "--dtdvalid", Self.dtd, file])
        return (rng.status == 0, dtd.status == 0, rng.output + dtd.output)
    }

    @Test func metaDataValidatesAgainstTheOCF11SchemaAndThe10DTD() throws {
        let dir = try temporaryDirectory("meta")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let md = try runProgram(Self.agent, ["meta-data"])
        #expect(md.status == 0)
        let verdict = try validate(md.output, in: dir)
        #expect(verdict.rng && verdict.dtd, "\(verdict.output)")
        #expect(md.output.contains("<resource-agent name=\"meridian-volume\" version=\"1.0\">"))
        #expect(md.output.contains("<version>1.1</version>"))
        #expect(md.output.contains("interval=\"20s\" depth=\"0\" role=\"Promoted\""))
        #expect(md.output.contains("interval=\"30s\" depth=\"0\" role=\"Unpromoted\""))
        for parameter in ["resource", "config", "node", "run_dir", "meridian", "promotion_score_command"] {
            #expect(md.output.contains("<parameter name=\"\(parameter)\""), "\(parameter)")
        }
    }

    /// The facts behind the meta-data's form (Docs/decisions/ocf-agents.md): what the 1.0 DTD
    /// that ocf-tester uses rejects of OCF 1.1, and what the 1.1 schema rejects of 1.0.
    @Test func theDTDAndTheSchemaRejectWhatTheDecisionSays() throws {
        let dir = try temporaryDirectory("schemas")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let md = try runProgram(Self.agent, ["meta-data"]).output
        func variant(_ from: String, _ to: String) -> String {
            #expect(md.contains(from), "the meta-data has \(from)")
            return md.replacingOccurrences(of: from, with: to)
        }
        let reloadAgent = try validate(
            variant("<action name=\"validate-all\"", "<action name=\"reload-agent\" timeout=\"10s\"/>\n<action name=\"validate-all\""), in: dir)
        #expect(reloadAgent.rng && !reloadAgent.dtd, "reload-agent: 1.1 only\n\(reloadAgent.output)")
        let reloadable = try validate(variant("<parameter name=\"config\" unique=\"0\"", "<parameter name=\"config\" reloadable=\"1\" unique=\"0\""), in: dir)
        #expect(reloadable.rng && !reloadable.dtd, "reloadable: 1.1 only\n\(reloadable.output)")
        let uniqueGroup = try validate(variant("<parameter name=\"resource\" unique=\"1\"", "<parameter name=\"resource\" unique-group=\"name\""), in: dir)
        #expect(uniqueGroup.rng && !uniqueGroup.dtd, "unique-group: 1.1 only\n\(uniqueGroup.output)")
        let select = try validate(
            variant("<content type=\"string\" default=\"meridian\"/>",
                    "<content type=\"select\" default=\"meridian\"><option value=\"meridian\"/></content>"), in: dir)
        #expect(select.rng && !select.dtd, "select: 1.1 only\n\(select.output)")
        let time = try validate(variant("<content type=\"string\" default=\"meridian\"/>", "<content type=\"time\" default=\"10s\"/>"), in: dir)
        #expect(!time.rng && time.dtd, "type time: 1.0 only\n\(time.output)")
        let noLang = try validate(variant("<shortdesc lang=\"en\">Resource name</shortdesc>", "<shortdesc>Resource name</shortdesc>"), in: dir)
        #expect(!noLang.rng && noLang.dtd, "lang is required by 1.1 only\n\(noLang.output)")
        let roleName = try validate(variant("role=\"Promoted\"", "role=\"Master\""), in: dir)
        #expect(roleName.rng && roleName.dtd, "role is free text (CDATA) in both\n\(roleName.output)")
    }

    /// The default promotion_score_command (from the meta-data) is one Pacemaker's
    /// crm_attribute parses: pointed at a CIB file (never at a cluster that may run here), only
    /// the transient attribute is refused (a file has no attrd), never the usage (64).
    @Test func defaultScoreCommandIsPacemakers() throws {
        let dir = try temporaryDirectory("crm")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try """
            <cib crm_feature_set="3.16.2" validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">
            <configuration><crm_config/><nodes/><resources/><constraints/></configuration><status/></cib>

            """.write(toFile: dir + "/cib.xml", atomically: true, encoding: .utf8)
        let md = try runProgram(Self.agent, ["meta-data"]).output
        let pattern = "<content type=\"string\" default=\"crm_attribute "
        let start = try #require(md.range(of: pattern), "default is a crm_attribute command")
        let command = String(md[start.upperBound...].prefix { $0 != "\"" })
        #expect(command == "--promotion --lifetime reboot")
        for operation in ["-v 5", "-D"] {
            let run = try runProgram("/bin/sh", ["-c", "CIB_file=\(dir)/cib.xml OCF_RESOURCE_INSTANCE=vol /usr/sbin/crm_attribute \(command) \(operation)"])
            #expect(run.status != 64 && !run.output.contains("Unknown option"), "\(operation): \(run.output)")
        }
    }

    @Test func isPOSIXShellAndRunsWithoutResourceAgents() throws {
        let dash = try runProgram("/usr/bin/dash", ["-n", Self.agent])
        #expect(dash.status == 0, "\(dash.output)")
        #expect(try String(contentsOfFile: Self.agent, encoding: .utf8).hasPrefix("#!/bin/sh\n"))
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/checkbashisms") {
            let check = try runProgram("/usr/bin/checkbashisms", [Self.agent])
            #expect(check.status == 0, "\(check.output)")
        }
        // No ocf-shellfuncs (OCF_FUNCTIONS_DIR empty): the agent's own definitions, under dash.
        let dir = try temporaryDirectory("noshellfuncs")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bare = "OCF_ROOT=\(dir) OCF_FUNCTIONS_DIR=\(dir)"
        let md = try runProgram("/bin/sh", ["-c", "\(bare) /usr/bin/dash \(Self.agent) meta-data"])
        #expect(md.status == 0 && md.output.contains("<resource-agent name=\"meridian-volume\""))
        let missing = try runProgram("/bin/sh", ["-c", "\(bare) /usr/bin/dash \(Self.agent) validate-all"])
        #expect(missing.status == 6 && missing.output.contains("ocf-exit-reason:the 'resource' parameter is required"),
                "\(missing.output)")
        let unknown = try runProgram("/bin/sh", ["-c", "\(bare) OCF_RESKEY_resource=r0 /usr/bin/dash \(Self.agent) frobnicate"])
        #expect(unknown.status == 3 && unknown.output.contains("usage:"), "\(unknown.output)")
        #expect(try runProgram("/bin/sh", ["-c", "\(bare) /usr/bin/dash \(Self.agent)"]).status == 2, "no action")
    }

    @Test func validateAllNamesTheProblemWithTheRightCode() throws {
        let pair = try ReplicaPair(net: 65)  // configuration only: no daemon runs
        let base = ["resource": "r0", "config": pair.config("alpha"), "node": "alpha",
                    "run_dir": pair.runDirectory("alpha"), "meridian": pair.meridian]
        func check(_ change: [String: String?], env: [String: String] = [:], action: String = "validate-all",
                   _ status: Int32, _ message: String, sourceLocation: SourceLocation = #_sourceLocation) throws
        {
            var parameters = base
            for (key, value) in change { parameters[key] = value }
            let result = try runAgent(action, parameters, env: env)
            #expect(result.status == status && (message.isEmpty || result.output.contains(message)), "\(result.output)",
                    sourceLocation: sourceLocation)
        }
        try check(["resource": nil], 6, "ocf-exit-reason:the 'resource' parameter is required")
        try check(["resource": "r0;rm"], 6, "resource name 'r0;rm' has characters")
        try check(["resource": "r9"], 2, "unknown resource 'r9'")
        try check(["config": "/nonexistent/replicad.res"], 2, "/nonexistent/replicad.res does not exist or is not readable")
        try check(["meridian": "/nonexistent/meridian"], 5, "meridian command '/nonexistent/meridian' not found")
        try check(["meridian": "no-such-meridian-cli"], 5, "install meridian or set the 'meridian' parameter")
        try check(["node": "gamma"], 2, "no `on gamma` section")
        let clone = ["OCF_RESKEY_CRM_meta_clone_max": "2", "OCF_RESKEY_CRM_meta_notify": "true"]
        try check([:], env: clone.merging(["OCF_RESKEY_CRM_meta_clone_max": "3"]) { $1 }, 6, "clone-max=3")
        try check([:], env: clone.merging(["OCF_RESKEY_CRM_meta_notify": "false"]) { $1 }, 6, "needs notify=true")
        try check([:], env: clone.merging(["OCF_RESKEY_CRM_meta_promoted_max": "2"]) { $1 }, 6, "promoted-max=2")
        try check([:], env: clone.merging(["OCF_RESKEY_CRM_meta_clone_node_max": "2"]) { $1 }, 6, "clone-node-max=2")
        // Notification variables that are set show notify is on even without the meta attribute.
        try check([:], env: ["OCF_RESKEY_CRM_meta_clone_max": "2", "OCF_RESKEY_CRM_meta_notify_start_uname": "alpha"], 0, "")
        try check([:], env: clone, action: "reload-agent", 0, "")
        // Configuration right, daemon not running: validate-all passes and says how to start it.
        try check([:], env: clone, 0, "start it as a system service: meridian-replicad --config \(pair.config("alpha")) --node alpha")
        // A probe where the resource cannot be configured finds it not running; stop is not
        // refused for the clone's meta attributes.
        try check(["resource": "r9"], env: ["OCF_RESKEY_CRM_meta_interval": "0"], action: "monitor", 7, "")
        try check(["config": "/nonexistent/replicad.res"], action: "monitor", 7, "")
        try check([:], env: clone.merging(["OCF_RESKEY_CRM_meta_clone_max": "3"]) { $1 }, action: "stop", 0, "nothing to stop")
    }

    /// Monitor's exit codes and promotion scores for every kind of state, read from a stub
    /// `meridian` that prints what the test sets (the real CLI is exercised below).
    @Test func monitorCodesAndScoresFollowTheState() throws {
        let dir = try temporaryDirectory("stub")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let stub = dir + "/meridian"
        try writeScript(stub, """
            case "$2" in
              role) if [ -n "$STUB_RC" ]; then echo "$STUB_ERR" >&2; exit "$STUB_RC"; fi; echo "$STUB_ROLE" ;;
              dstate) printf '%b\\n' "$STUB_DSTATE" ;;
              status) printf '[{"name": "r0", "suspended": %s}]\\n' "${STUB_SUSPENDED:-false}" ;;
            esac

            """)
        let config = dir + "/replicad.res"
        _ = FileManager.default.createFile(atPath: config, contents: Data("resource r0 {}\n".utf8))
        let scores = dir + "/scores"
        let parameters = ["resource": "r0", "config": config, "node": "alpha", "meridian": stub,
                          "promotion_score_command": try scoreRecorder(in: dir, "scores")]
        // role, dstate of each volume (comma-separated), expected monitor code, expected score
        // call ("none": the command is not called)
        let table = """
            Primary    UpToDate/UpToDate                    8  -v 10000
            Primary    UpToDate/DUnknown                    8  -v 10000
            Primary    Inconsistent/UpToDate                9  -D
            Primary    Diskless/UpToDate                    9  -D
            Primary    UpToDate/UpToDate,Failed/UpToDate    9  -D
            Secondary  UpToDate/UpToDate                    0  -v 10000
            Secondary  UpToDate/Inconsistent                0  -v 10000
            Secondary  UpToDate/DUnknown                    0  -v 1000
            Secondary  UpToDate/UpToDate,UpToDate/DUnknown  0  -v 1000
            Secondary  Consistent/DUnknown                  0  -D
            Secondary  Outdated/UpToDate                    0  -D
            Secondary  Inconsistent/UpToDate                0  -D
            Secondary  Attaching/DUnknown                   0  none
            Secondary  Negotiating/UpToDate                 0  none
            Unknown    Diskless/DUnknown                    7  -D
            """
        for row in table.split(separator: "\n") {
            let f = row.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            let (role, dstate, code) = (f[0], f[1].replacingOccurrences(of: ",", with: "\\n"), Int32(f[2]))
            let score = f[3...].joined(separator: " ")
            unlink(scores)
            let result = try runAgent("monitor", parameters, env: ["STUB_ROLE": role, "STUB_DSTATE": dstate,
                                                                   "OCF_RESKEY_CRM_meta_interval": "20000"])
            #expect(result.status == code, "\(role) \(dstate): \(result.output)")
            #expect(recorded(scores) == (score == "none" ? [] : [score]), "\(role) \(dstate)")
        }
        // Writes suspended for fencing: still Promoted (as ocf:linbit:drbd), with a warning that
        // names the way out.
        let suspended = try runAgent("monitor", parameters, env: ["STUB_ROLE": "Primary", "STUB_DSTATE": "UpToDate/DUnknown",
                                                                  "STUB_SUSPENDED": "true", "OCF_RESKEY_CRM_meta_interval": "20000"])
        #expect(suspended.status == 8 && suspended.output.contains("suspended for fencing")
            && suspended.output.contains("meridian volume resume-io r0"), "\(suspended.output)")
        let running = try runAgent("monitor", parameters, env: ["STUB_ROLE": "Primary", "STUB_DSTATE": "UpToDate/UpToDate",
                                                                "OCF_RESKEY_CRM_meta_interval": "20000"])
        #expect(!running.output.contains("suspended"), "\(running.output)")
        // A probe (no interval) of a stopped instance leaves the score alone.
        unlink(scores)
        let probe = try runAgent("monitor", parameters, env: ["STUB_ROLE": "Unknown", "STUB_DSTATE": "Diskless/DUnknown"])
        #expect(probe.status == 7 && recorded(scores).isEmpty, "\(recorded(scores))")
        // A daemon that does not run or does not answer: a generic error naming the fix.
        let refused = try runAgent("monitor", parameters, env: ["STUB_RC": "3", "STUB_ERR": "cannot reach: Connection refused"])
        #expect(refused.status == 1 && refused.output.contains("start it (a system service): meridian-replicad --config"),
                "\(refused.output)")
        let hung = try runAgent("monitor", parameters, env: ["STUB_RC": "3", "STUB_ERR": "no answer within 6.0 seconds"])
        #expect(hung.status == 1 && hung.output.contains("does not answer for node alpha: no answer"), "\(hung.output)")
        let hungStop = try runAgent("stop", parameters, env: ["STUB_RC": "3", "STUB_ERR": "no answer within 6.0 seconds"])
        #expect(hungStop.status == 1, "a daemon that may still hold the volume: stop fails\n\(hungStop.output)")
    }

    /// Agents/handlers/meridian-fence-peer against the NFS example's CIB with the real Pacemaker tools
    /// (CIB_file): fencing from site-a-2 pins the Promoted role there (crm_simulate promotes
    /// site-a-2 instead of site-a-1), again replaces the constraint, --unfence removes it.
    @Test func fencePeerHelperPinsThePromotion() throws {
        let dir = try temporaryDirectory("fence")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cib = dir + "/nfs.xml"
        try FileManager.default.copyItem(atPath: Repository.root + "/Examples/services/nfs.xml", toPath: cib)
        let helper = Repository.root + "/Agents/handlers/meridian-fence-peer"
        var env = ProcessInfo.processInfo.environment
        env["CIB_file"] = cib
        env["DRBD_RESOURCE"] = "nfs"
        env["MERIDIAN_NODE"] = "site-a-2"
        func promoted() throws -> String {
            let r = try runProgram("/usr/sbin/crm_simulate", ["-x", cib, "-g", "ticket-nfs", "-S"])
            return r.output.split(separator: "\n").filter { $0.contains("Promote ") }.joined(separator: "\n")
        }
        #expect(try promoted().contains("Promoted site-a-1"), "without fencing the example promotes site-a-1")
        for _ in 0..<2 {
            let fence = try runProgram("/bin/sh", [helper], environment: env)
            #expect(fence.status == 4, "\(fence.output)")
        }
        let constraints = try runProgram("/usr/sbin/cibadmin", ["--query", "--scope", "constraints"], environment: env)
        #expect(constraints.output.components(separatedBy: "id=\"meridian-fence-nfs\"").count == 2, "one constraint")
        let pinned = try promoted()
        #expect(pinned.contains("Promoted site-a-2") && !pinned.contains("Promoted site-a-1"), "\(pinned)")
        let unfence = try runProgram("/bin/sh", [helper, "--unfence"], environment: env)
        #expect(unfence.status == 0, "\(unfence.output)")
        #expect(try promoted().contains("Promoted site-a-1"))
        env["DRBD_RESOURCE"] = "nosuch"
        let unknown = try runProgram("/bin/sh", [helper], environment: env)
        #expect(unknown.status == 1 && unknown.output.contains("no promotable clone"), "\(unknown.output)")
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
        let result = try runProgram("/usr/sbin/ocf-tester", [
            "-n", "vol", "-o", "resource=r0", "-o", "config=\(pair.config("alpha"))", "-o", "node=alpha",
            "-o", "run_dir=\(pair.runDirectory("alpha"))", "-o", "meridian=\(pair.meridian)",
            "-o", "promotion_score_command=\(try scoreRecorder(in: pair.directory, "scores"))", Self.agent,
        ])
        #expect(result.status == 0 && result.output.contains("passed all tests"), "\(result.output)\n\(pair.log("alpha"))")
        let calls = recorded(scores)
        #expect(calls.contains("-v 10000") && calls.contains("-D"), "\(calls)")
    }

    /// monitor 7 → start → 0, promote → 8 (and 8 with the NBD check), the peer's promote
    /// refused with the daemon's reason, demote → 0, stop → 7, the scores each node set, a
    /// notification reconnecting a StandAlone peer, and a killed daemon.
    @Test func stateSequenceAndScores() throws {
        let pair = try ReplicaPair(net: 67)
        for node in pair.nodes {
            try pair.start(node)
            try pair.must(node, ["create-md"])
        }
        func params(_ node: String) throws -> [String: String] {
            ["resource": "r0", "config": pair.config(node), "node": node, "run_dir": pair.runDirectory(node),
             "meridian": pair.meridian, "promotion_score_command": try scoreRecorder(in: pair.directory, "scores-\(node)")]
        }
        let alpha = try params("alpha"), beta = try params("beta")
        let alphaScores = pair.directory + "/scores-alpha", betaScores = pair.directory + "/scores-beta"
        let recurring = ["OCF_RESKEY_CRM_meta_interval": "20000"]

        #expect(try runAgent("monitor", alpha).status == 7)
        #expect(recorded(alphaScores).isEmpty, "a probe of a stopped instance sets no score")
        #expect(try runAgent("start", alpha).status == 0)
        #expect(try runAgent("start", alpha).status == 0, "start is idempotent")
        #expect(try runAgent("start", beta).status == 0)
        try pair.waitConnected()
        #expect(try runAgent("monitor", alpha, env: recurring).status == 0)
        #expect(recorded(alphaScores).last == "-D", "fresh volumes are Inconsistent: \(recorded(alphaScores))")

        // First promotion of fresh volumes needs --force (as drbdadm): done by hand, then synced.
        try pair.must("alpha", ["primary", "--force"])
        try pair.waitInSync()
        try pair.must("alpha", ["secondary"])
        #expect(try runAgent("monitor", alpha, env: recurring).status == 0)
        #expect(recorded(alphaScores).last == "-v 10000", "UpToDate, peer known: \(recorded(alphaScores))")

        #expect(try runAgent("promote", alpha).status == 0)
        #expect(try runAgent("monitor", alpha, env: recurring).status == 8)
        #expect(try runAgent("monitor", alpha, env: recurring.merging(["OCF_CHECK_LEVEL": "10"]) { $1 }).status == 8,
                "the Primary's NBD socket answers nbdinfo")
        let second = try runAgent("promote", beta)
        #expect(second.status == 1 && second.output.contains("promotion refused: ") && second.output.contains("alpha is Primary"),
                "the peer is Primary: \(second.output)")
        #expect(try runAgent("demote", alpha).status == 0)
        #expect(try runAgent("monitor", alpha, env: recurring).status == 0)
        #expect(try runAgent("demote", alpha).status == 0, "demote is idempotent")

        #expect(try runAgent("stop", alpha).status == 0)
        #expect(recorded(alphaScores).last == "-D", "stop deletes the score")
        #expect(try runAgent("monitor", alpha).status == 7)
        #expect(try runAgent("stop", alpha).status == 0, "stop is idempotent")
        try pair.waitUntil("beta sees alpha gone", timeout: 10) {
            try pair.volume("beta", ["dstate"]).output.contains("UpToDate/DUnknown")
        }
        #expect(try runAgent("monitor", beta, env: recurring).status == 0)
        #expect(recorded(betaScores).last == "-v 1000", "UpToDate, peer unknown: \(recorded(betaScores))")

        // beta StandAlone; a start notification reconnects it, the post notification rescores.
        #expect(try runAgent("start", alpha).status == 0)
        try pair.must("beta", ["disconnect"])
        #expect(try pair.volume("beta", ["cstate"]).output.contains("StandAlone"))
        let notify = ["OCF_RESKEY_CRM_meta_notify_type": "post", "OCF_RESKEY_CRM_meta_notify_operation": "start"]
        #expect(try runAgent("notify", beta, env: notify).status == 0)
        try pair.waitConnected()
        try pair.waitInSync()
        #expect(try runAgent("notify", beta, env: notify).status == 0)
        #expect(recorded(betaScores).last == "-v 10000", "\(recorded(betaScores))")

        // A daemon that hangs (stopped): the CLI's timeout follows the operation's, monitor
        // fails in time, and stop fails (the daemon may still hold the volume).
        let pgrep = try runProgram("/usr/bin/pgrep", ["-f", "--", "meridian-replicad --config \(pair.config("beta"))"])
        let betaPID = try #require(pid_t(pgrep.output.trimmingCharacters(in: .whitespacesAndNewlines)), "\(pgrep.output)")
        kill(betaPID, SIGSTOP)
        let shortOperation = ["OCF_RESKEY_CRM_meta_timeout": "6000"]
        let began = Date()
        let hung = try runAgent("monitor", beta, env: recurring.merging(shortOperation) { $1 })
        #expect(hung.status == 1 && hung.output.contains("does not answer for node beta"), "\(hung.output)")
        #expect(Date().timeIntervalSince(began) < 6, "within the monitor's timeout")
        #expect(try runAgent("stop", beta, env: shortOperation).status == 1)
        kill(betaPID, SIGCONT)
        #expect(try runAgent("monitor", beta, env: recurring).status == 0)

        // A killed daemon: monitor and start fail and say how to start it; stop finds nothing
        // running (no daemon holds the volume).
        pair.kill9("alpha")
        let dead = try runAgent("monitor", alpha, env: recurring)
        #expect(dead.status == 1 && dead.output.contains("meridian-replicad --config \(pair.config("alpha")) --node alpha"),
                "\(dead.output)")
        #expect(try runAgent("start", alpha).status == 1)
        #expect(try runAgent("stop", alpha).status == 0)
    }
}
