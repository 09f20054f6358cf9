import Foundation
import MeridianCorosync

/// Why the test could not run Corosync; the message says what to do.
struct CorosyncTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A real single-node Corosync (knet on 127.0.0.1, votequorum with one expected vote)
/// started with `corosync -f -c <temporary config>`, its state and log in a temporary
/// directory.
///
/// Corosync allows one instance per machine (it locks /var/run/corosync.pid and
/// serves its IPC under fixed names), so the test waits for another instance to
/// go away before starting, and fails with an explanation if it does not.
final class CorosyncTestCluster {
    static let executable = "/usr/sbin/corosync"
    static let pidFile = "/var/run/corosync.pid"
    static let clusterName = "meridian-test"

    let directory: String
    private var pid: pid_t = 0
    private var running = false
    var logPath: String { directory + "/corosync.log" }

    init() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.executable) else {
            throw CorosyncTestError("\(Self.executable) is missing: install corosync (scripts/bootstrap)")
        }
        try Self.waitUntilNoCorosyncRuns(for: .seconds(60))
        directory = NSTemporaryDirectory() + "meridian-corosync-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let configuration = """
            totem {
                version: 2
                cluster_name: \(Self.clusterName)
                transport: knet
                crypto_cipher: none
                crypto_hash: none
            }
            nodelist {
                node {
                    ring0_addr: 127.0.0.1
                    name: node1
                    nodeid: 1
                }
            }
            quorum {
                provider: corosync_votequorum
                expected_votes: 1
            }
            logging {
                to_logfile: yes
                logfile: \(directory)/corosync.log
                to_stderr: no
                to_syslog: no
                timestamp: on
            }
            system {
                state_dir: \(directory)
            }
            """
        try configuration.write(toFile: directory + "/corosync.conf", atomically: true, encoding: .utf8)
        pid = try spawn(
            Self.executable, arguments: ["-f", "-c", directory + "/corosync.conf"], output: directory + "/corosync.out")
        running = true
        try waitUntilQuorate(within: .seconds(30))
    }

    /// Whether corosync is still running (reaps it once it has exited).
    private var isRunning: Bool {
        guard running else { return false }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid {
            running = false
            exitStatus = status
        }
        return running
    }

    private var exitStatus: Int32 = 0

    /// Waits until the quorum service answers `quorate`, or fails with Corosync's own words.
    private func waitUntilQuorate(within limit: Duration) throws {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        var lastError = "no answer yet"
        while clock.now < deadline {
            if !isRunning {
                throw CorosyncTestError(
                    "corosync exited (wait status \(exitStatus)) while starting:\n\(diagnostics())")
            }
            do {
                if try QuorumConnection().isQuorate() { return }
                lastError = "not quorate yet"
            } catch {
                lastError = "\(error)"
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
        stop()
        throw CorosyncTestError("corosync did not become quorate within \(limit) (\(lastError)):\n\(diagnostics())")
    }

    /// Stops corosync (SIGTERM, then SIGKILL after 10 s) and waits until it has gone.
    func stop() {
        guard isRunning else { return }
        kill(pid, SIGTERM)
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while isRunning && clock.now < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if isRunning {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            running = false
        }
    }

    /// The end of Corosync's log and its stderr, for failure messages.
    func diagnostics() -> String {
        let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "(no log)"
        let output = (try? String(contentsOfFile: directory + "/corosync.out", encoding: .utf8)) ?? ""
        return (log.split(separator: "\n").suffix(25) + output.split(separator: "\n").suffix(10))
            .joined(separator: "\n")
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The pid of a running corosync, if one holds the pid file.
    static func runningCorosyncPID() -> Int32? {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return nil }
        return kill(pid, 0) == 0 ? pid : nil
    }

    static func waitUntilNoCorosyncRuns(for limit: Duration) throws {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        while let pid = runningCorosyncPID() {
            if clock.now >= deadline {
                throw CorosyncTestError(
                    "another corosync (pid \(pid), \(pidFile)) is running and did not stop within \(limit); "
                        + "Corosync allows one instance per machine: stop it and run the test again")
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
    }
}

/// Starts `executable` with stdout and stderr appended to `output`.
///
/// Uses posix_spawn with an empty signal mask and default signal handlers: a child
/// started by Foundation's `Process` from the test runner inherits blocked signals,
/// and corosync then never sees the SIGTERM that should stop it.
func spawn(_ executable: String, arguments: [String], output: String) throws -> pid_t {
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var emptyMask = sigset_t()
    sigemptyset(&emptyMask)
    posix_spawnattr_setsigmask(&attributes, &emptyMask)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGUSR1, SIGUSR2, SIGCHLD] { sigaddset(&defaults, signal) }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)

    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let result = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
    guard result == 0 else {
        throw CorosyncTestError("cannot start \(executable): \(String(cString: strerror(result)))")
    }
    return pid
}
