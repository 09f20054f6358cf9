import Foundation
import Testing
import TicketWire

#if canImport(Glibc)
    import Glibc
#endif

/// Which program runs a member in a test cluster.
enum Implementation: Sendable { case meridian, boothd }

/// One `site`/`arbitrator` line of a test cluster's booth.conf.
struct MemberSpec: Sendable {
    enum Kind: String, Sendable { case site, arbitrator }
    var kind: Kind
    var address: String
    var implementation: Implementation = .meridian

    static func site(_ a: String, _ i: Implementation = .meridian) -> MemberSpec {
        .init(kind: .site, address: a, implementation: i)
    }
    static func arbitrator(_ a: String, _ i: Implementation = .meridian) -> MemberSpec {
        .init(kind: .arbitrator, address: a, implementation: i)
    }
}

/// The JSON a site's state-file backend writes (`<backend-dir>/<ticket>.ticket`), decoded
/// independently of `TicketStore` as any consumer would.
struct BackendRecord: Codable, Equatable, Sendable {
    var ticket: String
    var granted: Bool
    var leader: String?
    var owner: Int64
    var term: UInt32
    var expiresEpochMs: Int64?
    var updatedEpochMs: Int64

    /// What a consumer must do: granted and not past its expiry.
    func isValid(atEpochMs now: Int64) -> Bool { granted && (expiresEpochMs.map { now < $0 } ?? true) }
}

func wallEpochMs() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

/// A cluster of real daemons on loopback addresses for one test: its own temporary directory
/// (booth.conf, authfile 0600, state and backend directories, per-member drop files and logs),
/// its own addresses and port. ``shutdown()`` SIGKILLs every process it started and every
/// process whose command line names its directory (lease guards, boothd), also on failure.
///
/// Not Sendable: a test owns its cluster; the background ``ClusterMonitor`` only gets values.
final class TestCluster {
    static let root = "/tmp/meridian-ticketd-tests"

    let name: String
    let dir: String
    let port: UInt16
    let members: [MemberSpec]
    let ticket: String
    let key: AuthKey
    let confPath: String
    let authPath: String
    let wholeSecondTimes: Bool
    private var processes: [String: Process] = [:]
    private var starts: [String: Int] = [:]
    /// The machine-wide lock that keeps two test processes (two engineers, or CI and a
    /// developer) from running clusters on the same addresses at once; -1 once released.
    private var lockFD: Int32 = -1

    /// - Parameters:
    ///   - ticketLines: the ticket's settings, one `key = value` per element.
    ///   - forBoothd: the directory tree is handed to `hacluster:haclient` (boothd drops to it).
    init(
        name: String, port: UInt16, members: [MemberSpec], ticket: String = "tA",
        ticketLines: [String] = ["expire = 4", "timeout = 400ms", "retries = 3"]
    ) throws {
        Self.cleanUpLeftovers()
        self.name = name
        self.port = port
        self.members = members
        self.ticket = ticket
        dir = "\(Self.root)/\(getpid())-\(name)"
        let fm = FileManager.default
        try? fm.removeItem(atPath: dir)
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        chmod(Self.root, 0o755)
        confPath = dir + "/booth.conf"
        authPath = dir + "/authkey"
        var secret = [UInt8](repeating: 0, count: 32)
        for i in secret.indices { secret[i] = UInt8.random(in: 0x21...0x7E) }
        try Data(secret).write(to: URL(fileURLWithPath: authPath))
        chmod(authPath, 0o600)
        key = try AuthKey.load(path: authPath)
        wholeSecondTimes = !ticketLines.contains { $0.contains("ms") }
        var conf = "transport = UDP\nport = \(port)\nauthfile = \(authPath)\n"
        for m in members { conf += "\(m.kind.rawValue) = \(m.address)\n" }
        conf += "ticket = \"\(ticket)\"\n"
        for l in ticketLines { conf += "    \(l)\n" }
        try conf.write(toFile: confPath, atomically: true, encoding: .utf8)
        for m in members {
            try fm.createDirectory(atPath: memberDir(m.address), withIntermediateDirectories: true)
            try Data().write(to: URL(fileURLWithPath: dropFile(m.address)))
        }
        if members.contains(where: { $0.implementation == .boothd }) {
            // boothd runs as hacluster: it must read the conf and authfile (0600) and write its
            // lock file and the stub crm_ticket's state.
            try chown(path: dir, user: "hacluster", group: "haclient", recursive: true)
            chmod(dir, 0o755)
        }
        // Last, so that a failure above cannot leave the lock taken without a deinit to free it.
        lockFD = try Self.acquireMachineLock(for: name)
        print("[\(name)] cluster directory \(dir)")
    }

    deinit { shutdown() }

    // MARK: - Paths

    func memberDir(_ a: String) -> String { "\(dir)/\(a)" }
    func stateDir(_ a: String) -> String { "\(memberDir(a))/state" }
    func backendDir(_ a: String) -> String { "\(memberDir(a))/backend" }
    func backendPath(_ a: String) -> String { "\(backendDir(a))/\(ticket).ticket" }
    func dropFile(_ a: String) -> String { "\(memberDir(a))/drop" }
    func logPath(_ a: String) -> String { "\(memberDir(a))/daemon.log" }
    func lockFile(_ a: String) -> String { "\(memberDir(a))/boothd.lock" }
    func stubDir(_ a: String) -> String { "\(memberDir(a))/crm_ticket" }
    func spec(_ a: String) -> MemberSpec {
        guard let m = members.first(where: { $0.address == a }) else {
            preconditionFailure("\(a) is not a member of \(name)")
        }
        return m
    }

    func client(_ a: String, timeout: Duration = .seconds(3)) -> TestClient {
        TestClient(address: a, port: port, key: key, timeout: timeout)
    }

    // MARK: - Processes

    /// Starts every member's daemon, in configuration order.
    func startAll() throws {
        for member in members { try start(member.address) }
    }

    /// Grants the ticket at site `a`; the test stops here unless the grant succeeded.
    func grantSucceeding(at a: String) throws {
        let grant = try client(a).grant(ticket)
        try #require(grant.last?.result == .success, "grant at \(a): \(grant)")
    }

    /// Starts a member's daemon and waits until it answers a list request.
    func start(_ a: String, extraArguments: [String] = []) throws {
        precondition(processes[a] == nil, "Internal inconsistency: \(a) already running in \(name)")
        let m = spec(a)
        let n = (starts[a] ?? 0) + 1
        starts[a] = n
        let logFD = open(logPath(a), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard logFD >= 0 else { throw HarnessError("cannot open \(logPath(a))") }
        let log = FileHandle(fileDescriptor: logFD, closeOnDealloc: true)
        log.write(Data("=== [test] start #\(n) of \(a) at \(wallEpochMs()) ===\n".utf8))
        let p = Process()
        var env = ProcessInfo.processInfo.environment
        switch m.implementation {
        case .meridian:
            p.executableURL = URL(fileURLWithPath: try Products.path("meridian-ticketd"))
            var args = [
                "--config", confPath, m.kind == .site ? "--site" : "--arbitrator", a,
                "--state-dir", stateDir(a), "--drop-file", dropFile(a),
            ]
            if m.kind == .site { args += ["--backend", "statefile", "--backend-dir", backendDir(a)] }
            p.arguments = args + extraArguments
        case .boothd:
            let stub = Repository.boothPeerDirectory + "/crm_ticket"
            guard FileManager.default.isExecutableFile(atPath: stub) else {
                throw HarnessError(
                    "the stub crm_ticket for boothd sites is missing at \(stub); "
                        + "set MERIDIAN_SHARED to the shared folder that holds peers/booth")
            }
            try FileManager.default.createDirectory(atPath: stubDir(a), withIntermediateDirectories: true)
            try chown(path: memberDir(a), user: "hacluster", group: "haclient", recursive: true)
            p.executableURL = URL(fileURLWithPath: "/usr/sbin/boothd")
            p.arguments = ["daemon", "-D", "-S", "-c", confPath, "-s", a, "-l", lockFile(a)] + extraArguments
            env["PATH"] = Repository.boothPeerDirectory + ":" + (env["PATH"] ?? "/usr/bin:/bin")
            env["BOOTH_STUB_DIR"] = stubDir(a)
        }
        p.environment = env
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = log
        p.standardError = log
        try p.run()
        processes[a] = p
        try waitUntilAnswering(a)
    }

    func pid(_ a: String) -> pid_t? { processes[a]?.processIdentifier }
    func isRunning(_ a: String) -> Bool { processes[a]?.isRunning ?? false }

    /// Waits until the member answers a list request (up to 10 s); fails with its log if it exits.
    func waitUntilAnswering(_ a: String) throws {
        let deadline = wallEpochMs() + 10_000
        var last = ""
        while wallEpochMs() < deadline {
            guard let p = processes[a], p.isRunning else {
                throw HarnessError("\(a) exited during start-up\n\(logTail(a))")
            }
            do {
                _ = try client(a, timeout: .milliseconds(500)).listText(json: spec(a).implementation == .meridian)
                return
            } catch { last = "\(error)" }
            usleep(20_000)
        }
        throw HarnessError("\(a) did not answer a list request within 10 s: \(last)\n\(logTail(a))")
    }

    /// Sends `signal` and waits for the exit (SIGKILL after 5 s). Returns the termination
    /// status and reason as Foundation reports them.
    @discardableResult
    func stop(_ a: String, signal: Int32 = SIGKILL) -> (status: Int32, reason: Process.TerminationReason)? {
        guard let p = processes.removeValue(forKey: a) else { return nil }
        let pid = p.processIdentifier
        kill(pid, signal)
        let deadline = wallEpochMs() + 5_000
        while p.isRunning && wallEpochMs() < deadline { usleep(5_000) }
        if p.isRunning {
            kill(pid, SIGKILL)
            while p.isRunning { usleep(5_000) }
        }
        return (p.terminationStatus, p.terminationReason)
    }

    /// Kills everything this cluster started, including processes that name its directory.
    func shutdown() {
        for a in Array(processes.keys) { stop(a, signal: SIGKILL) }
        Self.killProcesses { $0.contains(dir + "/") }
        if lockFD >= 0 {
            close(lockFD)  // releases the flock
            lockFD = -1
        }
    }

    /// Takes `<root>/.lock` (flock, exclusive) for the life of one cluster: every test of this
    /// suite uses fixed addresses and ports, so test processes running at the same time take
    /// turns test by test instead of colliding. The kernel releases it if the process dies.
    static func acquireMachineLock(for name: String) throws -> Int32 {
        let path = root + "/.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o666)
        guard fd >= 0 else { throw HarnessError("cannot open \(path): \(String(cString: strerror(errno)))") }
        let start = wallEpochMs()
        var told = false
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if !told {
                print("[\(name)] waiting for another test process that runs clusters (\(path))")
                told = true
            }
            if wallEpochMs() - start > 180_000 {
                close(fd)
                throw HarnessError("another test process held \(path) for 3 minutes")
            }
            usleep(50_000)
        }
        return fd
    }

    // MARK: - Observations

    func list(_ a: String) throws -> TicketListReply { try client(a).list() }

    /// The listing of this cluster's ticket at member `a`.
    func listing(_ a: String) throws -> TicketListing {
        guard let t = try list(a).tickets.first(where: { $0.ticket == ticket }) else {
            throw HarnessError("list at \(a) does not show ticket \(ticket)")
        }
        return t
    }

    func backend(_ a: String) -> BackendRecord? {
        guard let d = FileManager.default.contents(atPath: backendPath(a)) else { return nil }
        return try? JSONDecoder().decode(BackendRecord.self, from: d)
    }

    func log(_ a: String) -> String { (try? String(contentsOfFile: logPath(a), encoding: .utf8)) ?? "" }

    /// The last lines of a member's log (boothd's `debug:` lines left out: it logs every client).
    func logTail(_ a: String, lines: Int = 40) -> String {
        let all = log(a).split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.contains("]: debug: ") }
        return "--- last \(lines) lines of \(logPath(a)) ---\n" + all.suffix(lines).joined(separator: "\n")
    }

    func allLogTails(lines: Int = 30) -> String {
        members.map { logTail($0.address, lines: lines) }.joined(separator: "\n")
    }

    /// Writes a member's drop file (the daemon re-reads it every 50 ms).
    func setDropped(_ a: String, _ addresses: [String]) throws {
        try addresses.map { $0 + "\n" }.joined().write(toFile: dropFile(a), atomically: true, encoding: .utf8)
    }

    /// Polls `condition` every `poll` until it holds; throws with `what`, the last error and
    /// every member's log tail on timeout. Returns the time it took.
    @discardableResult
    func waitUntil(
        _ what: String, timeout: Duration, poll: Duration = .milliseconds(20),
        _ condition: () throws -> Bool
    ) async throws -> Duration {
        let start = ContinuousClock.now
        var lastError = ""
        while true {
            do { if try condition() { return ContinuousClock.now - start } } catch { lastError = "\(error)" }
            if ContinuousClock.now - start > timeout {
                throw HarnessError(
                    "[\(name)] timed out after \(timeout) waiting until \(what)"
                        + (lastError.isEmpty ? "" : "; last error: \(lastError)") + "\n" + allLogTails())
            }
            try await Task.sleep(for: poll)
        }
    }

    // MARK: - Leftovers

    /// Kills processes of earlier test runs (whose test process is gone) and removes their
    /// directories. Runs once per test process.
    static func cleanUpLeftovers() { _ = leftoverCleanup }

    private static let leftoverCleanup: Void = {
        let me = getpid()
        func deadRun(_ path: Substring) -> Bool {
            // <root>/<pid>-<name>/...
            guard let runPid = pid_t(path.split(separator: "-").first ?? "") else { return true }
            return runPid != me && kill(runPid, 0) != 0 && errno == ESRCH
        }
        killProcesses { cmd in
            guard let r = cmd.range(of: root + "/") else { return false }
            return deadRun(cmd[r.upperBound...])
        }
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] where deadRun(Substring(entry))
        {
            try? FileManager.default.removeItem(atPath: root + "/" + entry)
        }
    }()

    /// SIGKILLs every process (but this one) whose command line matches.
    static func killProcesses(where matches: (String) -> Bool) {
        let me = getpid()
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry), pid != me,
                let raw = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
            else { continue }
            let cmd = String(decoding: raw.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            if matches(cmd) { kill(pid, SIGKILL) }
        }
    }
}

/// `chown -R user:group path`.
func chown(path: String, user: String, group: String, recursive: Bool) throws {
    guard let pw = getpwnam(user), let gr = getgrnam(group) else {
        throw HarnessError(
            "user \(user) or group \(group) does not exist: install pacemaker-cli-utils "
                + "(scripts/bootstrap) or create them")
    }
    let uid = pw.pointee.pw_uid, gid = gr.pointee.gr_gid
    guard Glibc.chown(path, uid, gid) == 0 else {
        throw HarnessError("chown \(path): \(String(cString: strerror(errno)))")
    }
    guard recursive, let e = FileManager.default.enumerator(atPath: path) else { return }
    for case let rel as String in e { _ = Glibc.chown(path + "/" + rel, uid, gid) }
}
