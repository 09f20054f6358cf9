import Foundation
import ProcessTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Agents/mariadb against a real mariadbd (Debian's mariadb-server) on 127.0.81.1, with its
/// data directory and run directory in a scratch directory.
@Suite(.serialized) struct MariaDBAgentTests {
    let agent = OCFAgent("mariadb")

    struct Instance {
        let dir: ScratchDirectory
        var params: [String: String]
        let env: [String: String]
        var socket: String { dir.file("run/mariadb-db/mariadb.sock") }
        var pidFile: String { dir.file("run/mariadb-db/mariadb.pid") }

        init(_ label: String) throws {
            dir = try ScratchDirectory("mariadb-\(label)")
            try FileManager.default.createDirectory(atPath: dir.file("data"), withIntermediateDirectories: true)
            params = ["datadir": dir.file("data"), "bind_address": "127.0.81.1", "port": "3306", "enable_creation": "true"]
            env = ["HA_RSCTMP": dir.file("run"), "OCF_RESOURCE_INSTANCE": "db"]
        }

        /// SQL through the client on the instance's socket, as root (unix_socket authentication).
        func sql(_ statement: String) throws -> (status: Int32, output: String) {
            try runProgram("/usr/bin/mariadb", ["-S", socket, "-N", "-B", "-e", statement])
        }

        var pid: pid_t? {
            (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
    }

    /// Stops whatever the test left running, then removes the scratch directory.
    func cleanUp(_ db: Instance) {
        if let pid = db.pid {
            kill(pid, SIGCONT)
            kill(pid, SIGKILL)
        }
        _ = try? agent.run("stop", db.params, env: db.env)
        db.dir.remove()
    }

    @Test func lifecycleKeepsCommittedRowsAcrossACleanStop() throws {
        let db = try Instance("life")
        defer { cleanUp(db) }
        #expect(try agent.run("monitor", db.params, env: db.env).status == 7)
        // The first start initialises the data directory; the figure is taken on the second.
        let first = try agent.run("start", db.params, env: db.env)
        #expect(first.status == 0, "\(first.output)")
        #expect(try agent.run("start", db.params, env: db.env).status == 0)
        for level in ["0", "10", "20"] {
            let r = try agent.run("monitor", db.params, env: db.env.merging(["OCF_CHECK_LEVEL": level]) { $1 })
            #expect(r.status == 0, "level \(level): \(r.output)")
        }
        #expect(canConnectTCP("127.0.81.1", 3306))
        let create = try db.sql("""
            CREATE DATABASE app; CREATE TABLE app.orders (id INT PRIMARY KEY, item VARCHAR(40)) ENGINE=InnoDB;
            INSERT INTO app.orders WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 1000)
                SELECT n, CONCAT('item-', n) FROM s;
            """)
        #expect(create.status == 0, "\(create.output)")
        #expect(try db.sql("SELECT COUNT(*) FROM app.orders").output.hasPrefix("1000"))
        var paramsWithTable = db.params
        paramsWithTable["test_table"] = "app.orders"
        #expect(try agent.run("monitor", paramsWithTable, env: db.env.merging(["OCF_CHECK_LEVEL": "10"]) { $1 }).status == 0)

        let stop = try timed { try agent.run("stop", db.params, env: db.env) }
        #expect(stop.value.status == 0, "\(stop.value.output)")
        #expect(try agent.run("monitor", db.params, env: db.env).status == 7)
        #expect(try agent.run("stop", db.params, env: db.env).status == 0)
        #expect(!canConnectTCP("127.0.81.1", 3306))

        let start = try timed { try agent.run("start", db.params, env: db.env) }
        #expect(start.value.status == 0, "\(start.value.output)")
        let rows = try db.sql("SELECT COUNT(*), SUM(id) FROM app.orders")
        #expect(rows.output.trimmingCharacters(in: .whitespacesAndNewlines) == "1000\t500500", "\(rows.output)")
        // The server's log says the shutdown was clean (InnoDB needed no crash recovery).
        let log = (try? String(contentsOfFile: db.dir.file("data/mariadb-error.log"), encoding: .utf8)) ?? ""
        #expect(log.contains("Shutdown complete"), "\(log.suffix(2000))")
        print(String(format: "FIGURE agent=mariadb start=%.2fs stop=%.2fs", start.seconds, stop.seconds))
    }

    /// A server that does not answer (SIGSTOP): monitor says 1 (not 0, not 7) within its
    /// timeout; stop kills it after the clean-shutdown share of its timeout and returns 0.
    @Test func hungServerFailsMonitorAndIsKilledByStop() throws {
        let db = try Instance("hung")
        defer { cleanUp(db) }
        #expect(try agent.run("start", db.params, env: db.env).status == 0)
        let pid = try #require(db.pid)
        kill(pid, SIGSTOP)
        let monitor = try timed {
            try agent.run("monitor", db.params, env: db.env.merging(["OCF_RESKEY_CRM_meta_timeout": "9000"]) { $1 })
        }
        #expect(monitor.value.status == 1 && monitor.value.output.contains("does not answer"), "\(monitor.value.output)")
        #expect(monitor.seconds < 9, "monitor took \(monitor.seconds) s")
        let stop = try timed {
            try agent.run("stop", db.params, env: db.env.merging(["OCF_RESKEY_CRM_meta_timeout": "6000"]) { $1 })
        }
        #expect(stop.value.status == 0 && stop.value.output.contains("SIGKILL"), "\(stop.value.output)")
        #expect(stop.seconds < 6, "stop took \(stop.seconds) s")
        #expect(kill(pid, 0) != 0)
        #expect(try agent.run("monitor", db.params, env: db.env).status == 7)
        // InnoDB recovers after the kill: the next start works.
        #expect(try agent.run("start", db.params, env: db.env).status == 0)
    }

    @Test func validateAllNamesTheParameterAndTheFix() throws {
        let db = try Instance("validate")
        defer { db.dir.remove() }
        #expect(try agent.run("validate-all", db.params, env: db.env).status == 0)
        let cases: [(String, String?, Int32, String)] = [
            ("datadir", nil, 6, "parameter 'datadir' is not set"),
            ("port", "db", 6, "parameter 'port' is 'db'"),
            ("port", "70000", 6, "outside 1-65535"),
            ("binary", "/nonexistent/mariadbd", 5, "'/nonexistent/mariadbd' is not installed"),
            ("user", "no-such-user", 2, "system user 'no-such-user' does not exist"),
            ("config", "/nonexistent/my.cnf", 2, "option file /nonexistent/my.cnf is missing"),
        ]
        for (key, value, code, text) in cases {
            var p = db.params
            p[key] = value
            let r = try agent.run("validate-all", p, env: db.env)
            #expect(r.status == code && r.output.contains("ocf-exit-reason:") && r.output.contains(text),
                    "\(key)=\(value ?? "unset"): exit \(r.status): \(r.output)")
        }
        // The volume's file system not mounted here: start says so (2: not valid on this node), a probe says 7.
        var unmounted = db.params
        unmounted["datadir"] = db.dir.file("not-mounted")
        let start = try agent.run("start", unmounted, env: db.env)
        #expect(start.status == 2 && start.output.contains("mount the replicated volume first"), "\(start.output)")
        #expect(try agent.run("monitor", unmounted, env: db.env).status == 7)
        // An empty directory (an unmounted mount point) is not initialised unless asked:
        // that would start an empty database on the local disk.
        var empty = db.params
        empty["enable_creation"] = nil
        let refused = try agent.run("start", empty, env: db.env)
        #expect(refused.status == 2 && refused.output.contains("is the replicated volume mounted here?"), "\(refused.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: db.dir.file("data")).isEmpty)
        // Nor a directory with other files in it.
        try "x".write(toFile: db.dir.file("data/stray"), atomically: true, encoding: .utf8)
        let stray = try agent.run("start", db.params, env: db.env)
        #expect(stray.status == 2 && stray.output.contains("is not empty but holds no system tables"), "\(stray.output)")
    }

    @Test func passesOCFTester() throws {
        let db = try Instance("ocf-tester")
        defer { cleanUp(db) }
        let result = try agent.ocfTester(db.params, env: db.env)
        #expect(result.passed, "\(result.output)")
    }
}
