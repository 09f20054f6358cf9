import Foundation
import ProcessTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Agents/nfs-server and Agents/nfs-export against a real nfs-ganesha (NFSv4 only, FSAL VFS)
/// on 127.0.83.1:2049, checked with our own NFSv4.0 client probe (Tests/tools/nfs4probe.py):
/// there is no kernel NFS client on the build machine.
@Suite(.serialized) struct NFSAgentTests {
    let server = OCFAgent("nfs-server")
    let export = OCFAgent("nfs-export")
    static let host = "127.0.83.1"

    struct Site {
        let dir: ScratchDirectory
        let serverParams: [String: String]
        let env: [String: String]
        var pidFile: String { dir.file("run/nfs-server/ganesha.pid") }
        var pid: pid_t? {
            (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }

        init(_ label: String, grace: Int = 5) throws {
            dir = try ScratchDirectory("nfs-\(label)")
            for sub in ["volume/state", "volume/a", "volume/b"] {
                try FileManager.default.createDirectory(atPath: dir.file(sub), withIntermediateDirectories: true)
            }
            try "alpha contents\n".write(toFile: dir.file("volume/a/x.txt"), atomically: true, encoding: .utf8)
            try "beta contents\n".write(toFile: dir.file("volume/b/y.txt"), atomically: true, encoding: .utf8)
            serverParams = ["state_dir": dir.file("volume/state"), "bind_address": NFSAgentTests.host,
                            "grace_period": "\(grace)", "lease_lifetime": "\(grace)"]
            env = ["HA_RSCTMP": dir.file("run")]
        }

        func exportParams(_ name: String, id: Int) -> [String: String] {
            ["path": dir.file("volume/\(name)"), "pseudo": "/\(name)", "export_id": "\(id)", "fsid": "101.\(id)",
             "clients": "127.0.0.0/8", "squash": "No_Root_Squash"]
        }
    }

    func cleanUp(_ site: Site) {
        if let pid = site.pid {
            kill(pid, SIGCONT)
            kill(pid, SIGKILL)
        }
        site.dir.remove()
    }

    /// Runs the probe: (exit code, stdout + stderr).
    func probe(_ args: String...) throws -> (status: Int32, output: String) {
        try runProgram("/usr/bin/python3", [Repository.root + "/Tests/tools/nfs4probe.py", Self.host, "2049"] + args)
    }

    @Test func serverAndExportLifecycle() throws {
        let site = try Site("life")
        defer { cleanUp(site) }
        #expect(try server.run("monitor", site.serverParams, env: site.env).status == 7)
        let start = try timed { try server.run("start", site.serverParams, env: site.env) }
        #expect(start.value.status == 0, "\(start.value.output)")
        #expect(try server.run("start", site.serverParams, env: site.env).status == 0)
        for level in ["0", "10"] {
            let r = try server.run("monitor", site.serverParams, env: site.env.merging(["OCF_CHECK_LEVEL": level]) { $1 })
            #expect(r.status == 0, "level \(level): \(r.output)")
        }
        #expect(try probe("null").status == 0)

        let a = site.exportParams("a", id: 11), b = site.exportParams("b", id: 12)
        #expect(try export.run("monitor", a, env: site.env).status == 7)
        let exportStart = try timed { try export.run("start", a, env: site.env) }
        #expect(exportStart.value.status == 0, "\(exportStart.value.output)")
        #expect(try export.run("start", a, env: site.env).status == 0)
        #expect(try export.run("start", b, env: site.env).status == 0)
        #expect(try export.run("monitor", a, env: site.env).status == 0)
        #expect(try probe("ls", "/").output == "a\nb\n")
        #expect(try probe("ls", "/a").output == "x.txt\n")
        #expect(try probe("cat", "/a/x.txt").output == "alpha contents\n")
        #expect(try probe("cat", "/b/y.txt").output == "beta contents\n")

        let exportStop = try timed { try export.run("stop", a, env: site.env) }
        #expect(exportStop.value.status == 0, "\(exportStop.value.output)")
        #expect(try export.run("stop", a, env: site.env).status == 0)
        #expect(try export.run("monitor", a, env: site.env).status == 7)
        let gone = try probe("cat", "/a/x.txt")
        #expect(gone.status == 1 && gone.output.contains("NFS4ERR_NOENT"), "\(gone.output)")
        #expect(try probe("cat", "/b/y.txt").output == "beta contents\n")

        // A setting ganesha does not know: start fails with ganesha's message, the list is
        // rolled back, the other export stays.
        var bad = site.exportParams("a", id: 13)
        bad["options"] = "Bogus_Setting = 7"
        let refused = try export.run("start", bad, env: site.env)
        #expect(refused.status == 1 && refused.output.contains("Unknown parameter (Bogus_Setting)"), "\(refused.output)")
        #expect(try export.run("monitor", bad, env: site.env).status == 7)
        #expect(try probe("ls", "/").output == "b\n")

        let stop = try timed { try server.run("stop", site.serverParams, env: site.env) }
        #expect(stop.value.status == 0, "\(stop.value.output)")
        #expect(try server.run("monitor", site.serverParams, env: site.env).status == 7)
        #expect(try export.run("monitor", b, env: site.env).status == 7)
        #expect(try server.run("stop", site.serverParams, env: site.env).status == 0)
        #expect(try probe("null").status == 4)
        print(String(format: "FIGURE agent=nfs-server start=%.2fs stop=%.2fs", start.seconds, stop.seconds))
        print(String(format: "FIGURE agent=nfs-export start=%.2fs stop=%.2fs", exportStart.seconds, exportStop.seconds))
    }

    /// A failover: the server is killed (-9) and started again on the same recovery directory
    /// (the volume moved). During the grace period a new OPEN gets NFS4ERR_GRACE, the client
    /// that held an open reclaims it (CLAIM_PREVIOUS), an unknown client may not reclaim;
    /// after the grace period a new OPEN succeeds.
    @Test func graceAfterFailoverLetsClientsReclaim() throws {
        let site = try Site("grace", grace: 6)
        defer { cleanUp(site) }
        #expect(try server.run("start", site.serverParams, env: site.env).status == 0)
        #expect(try export.run("start", site.exportParams("a", id: 11), env: site.env).status == 0)
        // Wait out the first grace period (a fresh recovery directory has no clients to wait for,
        // but ganesha still starts in grace), then a client opens a file.
        var opened = try probe("open", "/a/x.txt", "client-one")
        let deadline = Date().addingTimeInterval(15)
        while opened.status == 3, Date() < deadline {
            usleep(300_000)
            opened = try probe("open", "/a/x.txt", "client-one")
        }
        #expect(opened.status == 0, "\(opened.output)")

        let pid = try #require(site.pid)
        kill(pid, SIGKILL)
        while kill(pid, 0) == 0 { usleep(50_000) }
        #expect(try server.run("monitor", site.serverParams, env: site.env).status == 7)
        let restarted = Date()
        #expect(try server.run("start", site.serverParams, env: site.env).status == 0)
        let blocked = try probe("open", "/a/x.txt", "client-two")
        #expect(blocked.status == 3 && blocked.output.contains("NFS4ERR_GRACE"), "\(blocked.output)")
        let reclaimed = try probe("reclaim", "/a/x.txt", "client-one")
        #expect(reclaimed.status == 0, "\(reclaimed.output)")
        let stranger = try probe("reclaim", "/a/x.txt", "client-three")
        #expect(stranger.status == 1 && stranger.output.contains("NFS4ERR_NO_GRACE"), "\(stranger.output)")
        #expect(try probe("cat", "/a/x.txt").output == "alpha contents\n")
        var after = try probe("open", "/a/x.txt", "client-two")
        while after.status == 3, Date().timeIntervalSince(restarted) < 30 {
            usleep(300_000)
            after = try probe("open", "/a/x.txt", "client-two")
        }
        #expect(after.status == 0, "\(after.output)")
        #expect(Date().timeIntervalSince(restarted) >= 3, "grace ended after \(Date().timeIntervalSince(restarted)) s")
        #expect(try server.run("stop", site.serverParams, env: site.env).status == 0)
    }

    /// A planned switchover, in the order Pacemaker stops and starts the group (export,
    /// server; server, export): the recovery records survive ganesha's clean exit, so the
    /// client reclaims its open in the new grace period.
    @Test func plannedSwitchoverKeepsTheRecoveryRecords() throws {
        let site = try Site("switchover", grace: 6)
        defer { cleanUp(site) }
        let a = site.exportParams("a", id: 11)
        #expect(try server.run("start", site.serverParams, env: site.env).status == 0)
        #expect(try export.run("start", a, env: site.env).status == 0)
        var opened = try probe("open", "/a/x.txt", "client-one")
        let deadline = Date().addingTimeInterval(15)
        while opened.status == 3, Date() < deadline {
            usleep(300_000)
            opened = try probe("open", "/a/x.txt", "client-one")
        }
        #expect(opened.status == 0, "\(opened.output)")
        #expect(try export.run("stop", a, env: site.env).status == 0)
        #expect(try server.run("stop", site.serverParams, env: site.env).status == 0)
        let records = (try? FileManager.default.subpathsOfDirectory(atPath: site.dir.file("volume/state"))) ?? []
        #expect(records.contains { $0.contains("client-one") }, "\(records)")
        #expect(try server.run("start", site.serverParams, env: site.env).status == 0)
        #expect(try export.run("start", a, env: site.env).status == 0)
        let reclaimed = try probe("reclaim", "/a/x.txt", "client-one")
        #expect(reclaimed.status == 0, "\(reclaimed.output)")
        #expect(try server.run("stop", site.serverParams, env: site.env).status == 0)
    }

    /// A hung server (SIGSTOP): the level-10 monitor (an NFSv4 NULL call) says 1 in time;
    /// stop kills it.
    @Test func hungServerFailsMonitorAndIsKilledByStop() throws {
        let site = try Site("hung")
        defer { cleanUp(site) }
        #expect(try server.run("start", site.serverParams, env: site.env).status == 0)
        let pid = try #require(site.pid)
        kill(pid, SIGSTOP)
        let monitor = try timed {
            try server.run("monitor", site.serverParams,
                           env: site.env.merging(["OCF_CHECK_LEVEL": "10", "OCF_RESKEY_CRM_meta_timeout": "9000"]) { $1 })
        }
        #expect(monitor.value.status == 1 && monitor.value.output.contains("does not answer an NFSv4 NULL call"),
                "\(monitor.value.output)")
        #expect(monitor.seconds < 9)
        let stop = try server.run("stop", site.serverParams, env: site.env.merging(["OCF_RESKEY_CRM_meta_timeout": "6000"]) { $1 })
        #expect(stop.status == 0 && stop.output.contains("SIGKILL"), "\(stop.output)")
        #expect(kill(pid, 0) != 0)
    }

    @Test func validateAllNamesTheParameterAndTheFix() throws {
        let site = try Site("validate")
        defer { site.dir.remove() }
        let serverCases: [(String, String?, Int32, String)] = [
            ("state_dir", nil, 6, "parameter 'state_dir' is not set"),
            ("port", "nfs", 6, "parameter 'port' is 'nfs'"),
            ("grace_period", "2", 6, "grace_period (2) is shorter than lease_lifetime"),
            ("binary", "/nonexistent/ganesha.nfsd", 5, "'/nonexistent/ganesha.nfsd' is not installed"),
        ]
        #expect(try server.run("validate-all", site.serverParams, env: site.env).status == 0)
        for (key, value, code, text) in serverCases {
            var p = site.serverParams
            p[key] = value
            let r = try server.run("validate-all", p, env: site.env)
            #expect(r.status == code && r.output.contains("ocf-exit-reason:") && r.output.contains(text),
                    "nfs-server \(key)=\(value ?? "unset"): exit \(r.status): \(r.output)")
        }
        var unmounted = site.serverParams
        unmounted["state_dir"] = site.dir.file("not-mounted")
        let start = try server.run("start", unmounted, env: site.env)
        #expect(start.status == 2 && start.output.contains("mount the replicated volume first"), "\(start.output)")

        let exportCases: [(String, String?, Int32, String)] = [
            ("path", nil, 6, "parameter 'path' is not set"),
            ("export_id", "0", 6, "outside 1-65535"),
            ("export_id", "x", 6, "parameter 'export_id' is 'x'"),
            ("pseudo", "data", 6, "not absolute"),
            ("fsid", "7", 6, "MAJOR.MINOR"),
            ("access_type", "Full", 6, "RW, RO, MDONLY"),
            ("clients", "a}b", 6, "contains { } or"),
        ]
        let good = site.exportParams("a", id: 11)
        #expect(try export.run("validate-all", good, env: site.env).status == 0)
        for (key, value, code, text) in exportCases {
            var p = good
            p[key] = value
            let r = try export.run("validate-all", p, env: site.env)
            #expect(r.status == code && r.output.contains("ocf-exit-reason:") && r.output.contains(text),
                    "nfs-export \(key)=\(value ?? "unset"): exit \(r.status): \(r.output)")
        }
        // An export without its server fails with the fix.
        let orphan = try export.run("start", good, env: site.env)
        #expect(orphan.status == 1 && orphan.output.contains("order it after"), "\(orphan.output)")
    }

    @Test func bothPassOCFTester() throws {
        let site = try Site("ocf-tester")
        defer { cleanUp(site) }
        let s = try server.ocfTester(site.serverParams, env: site.env)
        #expect(s.passed, "\(s.output)")
        #expect(try server.run("start", site.serverParams, env: site.env).status == 0)
        let e = try export.ocfTester(site.exportParams("a", id: 11), env: site.env)
        #expect(e.passed, "\(e.output)")
        #expect(try server.run("stop", site.serverParams, env: site.env).status == 0)
    }
}
