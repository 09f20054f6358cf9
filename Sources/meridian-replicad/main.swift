import ArgumentParser
import Foundation
import ReplicaConfig
import ReplicaDaemon

#if canImport(Glibc)
    import Glibc
#endif

/// `meridian-replicad`: the data plane of one node. Serves the replicated volumes of every
/// resource in the configuration that names this node; controlled by `meridian volume`.
@main
struct ReplicaDaemonCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meridian-replicad",
        abstract: "Replicate block volumes between two nodes (DRBD-style) and serve them over NBD.",
        discussion: """
            Reads DRBD 9 resource files (the subset in Docs/decisions/replica-config.md). Resources start \
            down; control them with `meridian volume up|primary|secondary|connect|status ... RES --config F \
            --node NAME`. The control socket is <run-dir>/<node>.ctl; each volume of a Primary is served \
            on <run-dir>/<resource>.<volume>.<node>.nbd. SIGTERM takes every resource down and writes its \
            metadata.
            """)

    @Option(help: "Resource file (DRBD 9 syntax).") var config: String
    @Option(help: "This node's name: one of the `on NAME` sections.") var node: String
    @Option(help: "Directory for the control and NBD sockets (default $MERIDIAN_REPLICAD_RUN_DIR or /run/meridian-replicad).")
    var runDir: String?
    @Option(help: "Resources to bring up at start (comma-separated, or `all`).") var up: String?

    mutating func run() throws {
        let runDirectory = runDir ?? ProcessInfo.processInfo.environment["MERIDIAN_REPLICAD_RUN_DIR"]
            ?? "/run/meridian-replicad"
        let configuration: ReplicaConfiguration
        do { configuration = try ReplicaConfiguration.load(path: config) } catch {
            FileHandle.standardError.write(Data("meridian-replicad: \(error)\n".utf8))
            throw ExitCode(2)
        }
        guard configuration.resources.contains(where: { r in r.nodes.contains { $0.name == node } }) else {
            let names = Set(configuration.resources.flatMap { $0.nodes.map(\.name) }).sorted()
            FileHandle.standardError.write(Data(
                "meridian-replicad: \(config): no resource has an `on \(node)` section\n  fix: --node must be one of: \(names.joined(separator: ", "))\n".utf8))
            throw ExitCode(2)
        }
        do {
            try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            FileHandle.standardError.write(Data("meridian-replicad: cannot create \(runDirectory): \(error)\n".utf8))
            throw ExitCode(2)
        }
        signal(SIGPIPE, SIG_IGN)
        // options { cpu-mask }: every thread of the daemon inherits this thread's affinity.
        let masks = configuration.resources.filter { r in r.nodes.contains { $0.name == node } }.compactMap(\.cpuMask)
        if !masks.isEmpty {
            var words = [UInt64](repeating: 0, count: 16)
            words[0] = masks.reduce(0, |)
            if words.withUnsafeBytes({ c_sched_setaffinity(0, $0.count, $0.baseAddress!) }) != 0 {
                DaemonLog.write("cpu-mask \(String(words[0], radix: 16)) could not be applied: \(String(cString: strerror(errno)))")
            }
        }
        let daemon: ReplicaDaemon
        do {
            daemon = try ReplicaDaemon(configuration: configuration, node: node, runDirectory: runDirectory,
                                       configPath: config, logger: DaemonLog.write)
            try daemon.start()
        } catch {
            FileHandle.standardError.write(Data("meridian-replicad: \(error)\n".utf8))
            throw ExitCode(1)
        }
        if let up {
            let names = up == "all" ? daemon.resourceNames : up.split(separator: ",").map(String.init)
            for name in names { daemon.bringUp(name) }
        }
        DaemonLog.write("meridian-replicad started for node \(node) (pid \(getpid()))")
        // Wait for SIGTERM/SIGINT on this thread; I/O runs on the daemon's own threads.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        var received: Int32 = 0
        sigwait(&signals, &received)
        DaemonLog.write("signal \(received): taking resources down")
        daemon.shutdown()
        DaemonLog.write("meridian-replicad stopped")
    }
}

/// Log lines on standard error with a UTC timestamp (the journal or the test harness keeps them).
enum DaemonLog {
    static let lock = NSLock()
    @Sendable static func write(_ message: String) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var tm = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &tm)
        let stamp = String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                           tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1_000_000)
        lock.lock()
        FileHandle.standardError.write(Data("\(stamp) \(message)\n".utf8))
        lock.unlock()
    }
}

@_silgen_name("sched_setaffinity")
func c_sched_setaffinity(_ pid: Int32, _ size: Int, _ mask: UnsafeRawPointer) -> Int32
