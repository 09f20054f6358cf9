import Foundation
import ProcessTestSupport
import ReplicaControl

#if canImport(Glibc)
    import Glibc
#endif

/// Two meridian-replicad processes (nodes `alpha` on 127.0.<net>.1 and `beta` on
/// 127.0.<net>.2) replicating resource `r0` between two sparse files under a fresh temporary
/// directory. Tests drive them with the real `meridian volume` CLI and the libnbd tools.
final class ReplicaPair: @unchecked Sendable {
    let directory: String
    let net: Int
    let sizeMiB: Int
    let nodes = ["alpha", "beta"]
    private var processes: [String: Process] = [:]
    /// Extra environment of the daemons (handlers inherit it).
    var daemonEnvironment: [String: String] = [:]
    let replicad: String
    let meridian: String

    /// - Parameters:
    ///   - secrets: the shared-secret each node's configuration file carries (they differ in
    ///     the authentication test).
    ///   - extraNet: more `net` options.
    ///   - extraResource: more sections of the resource (e.g. `handlers { ... }`).
    ///   - disk: the `disk` section's options (default: a fast dynamic resync).
    init(net: Int, sizeMiB: Int = 64, protocolName: String = "C", secrets: [String: String] = [:],
         extraNet: String = "", extraResource: String = "", disk diskOptions: String = "c-max-rate 2G; c-fill-target 4M;") throws {
        self.net = net
        self.sizeMiB = sizeMiB
        replicad = try Products.path("meridian-replicad")
        meridian = try Products.path("meridian")
        directory = NSTemporaryDirectory() + "meridian-replica-\(getpid())-\(net)-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for node in nodes {
            let path = disk(node)
            _ = FileManager.default.createFile(atPath: path, contents: nil)
            guard truncate(path, off_t(sizeMiB) << 20) == 0 else { throw HarnessError("cannot size \(path)") }
            try FileManager.default.createDirectory(atPath: runDirectory(node), withIntermediateDirectories: true)
            let secret = secrets[node] ?? "replica-test-secret"
            let text = """
                resource r0 {
                  net { protocol \(protocolName); cram-hmac-alg sha256; shared-secret "\(secret)"; connect-int 1; ping-int 2; timeout 30; \(extraNet) }
                  disk { \(diskOptions) }
                  \(extraResource)
                  on alpha { node-id 0; address 127.0.\(net).1:7\(String(format: "%03d", net)); volume 0 { disk \(disk("alpha")); meta-disk internal; } }
                  on beta { node-id 1; address 127.0.\(net).2:7\(String(format: "%03d", net)); volume 0 { disk \(disk("beta")); meta-disk internal; } }
                }

                """
            try text.write(toFile: config(node), atomically: true, encoding: .utf8)
        }
    }

    deinit {
        for (_, process) in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    func disk(_ node: String) -> String { "\(directory)/\(node).img" }
    func config(_ node: String) -> String { "\(directory)/\(node).res" }
    func runDirectory(_ node: String) -> String { "\(directory)/run-\(node)" }
    func logPath(_ node: String) -> String { "\(directory)/\(node).log" }
    func nbdSocket(_ node: String) -> String { "\(runDirectory(node))/r0.0.\(node).nbd" }
    func nbdURI(_ node: String) -> String { "nbd+unix:///?socket=\(nbdSocket(node))" }
    func log(_ node: String) -> String { (try? String(contentsOfFile: logPath(node), encoding: .utf8)) ?? "" }

    func start(_ node: String) throws {
        // A killed daemon's control socket is still there: wait for the new one, not the old.
        try? FileManager.default.removeItem(atPath: "\(runDirectory(node))/\(node).ctl")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: replicad)
        process.arguments = ["--config", config(node), "--node", node, "--run-dir", runDirectory(node)]
        if !daemonEnvironment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(daemonEnvironment) { $1 }
        }
        _ = FileManager.default.createFile(atPath: logPath(node), contents: nil)
        let log = FileHandle(forWritingAtPath: logPath(node))!
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        try process.run()
        processes[node] = process
        try waitUntil("the control socket of \(node)", timeout: 10) {
            FileManager.default.fileExists(atPath: "\(runDirectory(node))/\(node).ctl")
        }
    }

    func kill9(_ node: String) {
        guard let process = processes[node] else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        processes[node] = nil
        // A killed daemon leaves its sockets behind, as after a real crash.
    }

    func stop(_ node: String) {
        guard let process = processes[node] else { return }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        processes[node] = nil
    }

    /// Runs `meridian volume <args> r0 --config … --node … --run-dir …`.
    @discardableResult
    func volume(_ node: String, _ args: [String], resource: String = "r0") throws -> (status: Int32, output: String) {
        try runProgram(meridian, ["volume"] + args + [resource, "--config", config(node), "--node", node,
                                                      "--run-dir", runDirectory(node)])
    }

    /// Runs a volume command that must succeed.
    func must(_ node: String, _ args: [String]) throws {
        let result = try volume(node, args)
        guard result.status == 0 else {
            throw HarnessError("`meridian volume \(args.joined(separator: " ")) r0` on \(node) exited \(result.status): "
                + result.output + "\n--- \(node) log:\n" + log(node))
        }
    }

    func status(_ node: String) -> ResourceStatus? {
        guard let result = try? volume(node, ["status", "--json"]), result.status == 0,
              let start = result.output.firstIndex(of: "[")
        else { return nil }
        return try? JSONDecoder().decode([ResourceStatus].self, from: Data(result.output[start...].utf8)).first
    }

    /// Creates metadata on both nodes, starts both daemons, brings r0 up and waits until they
    /// are connected.
    func startBoth() throws {
        for node in nodes {
            try start(node)
            try must(node, ["create-md"])
            try must(node, ["up"])
        }
        try waitConnected()
    }

    func waitConnected(timeout: Double = 20) throws {
        try waitUntil("alpha and beta connected", timeout: timeout) {
            nodes.allSatisfy { status($0)?.connection?.state == "Connected" }
        }
    }

    /// Waits until both disks are UpToDate and no resync runs.
    func waitInSync(timeout: Double = 60) throws {
        try waitUntil("both volumes UpToDate and Established", timeout: timeout) {
            nodes.allSatisfy { node in
                guard let v = status(node)?.volumes.first else { return false }
                return v.disk == "UpToDate" && v.peerDisk == "UpToDate" && v.replication == "Established"
            }
        }
    }

    /// Takes both nodes down (alpha first, demoted before when `demoteAlpha`) and returns the
    /// checksums of the two data areas, which must match once a resync has ended.
    func downBothAndChecksum(demoteAlpha: Bool = false) throws -> (alpha: String, beta: String) {
        guard let size = status("alpha")?.volumes.first?.sizeBytes else { throw HarnessError("alpha reports no volume size") }
        if demoteAlpha { try must("alpha", ["secondary"]) }
        try must("alpha", ["down"])
        try must("beta", ["down"])
        return (try checksum(disk("alpha"), length: size), try checksum(disk("beta"), length: size))
    }

    func waitUntil(_ what: String, timeout: Double, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return }
            usleep(100_000)
        }
        let states = nodes.map { "\($0): \(String(describing: status($0)))" }.joined(separator: "\n")
        throw HarnessError("timed out after \(timeout) s waiting for \(what)\n\(states)\n--- alpha log:\n\(log("alpha"))\n--- beta log:\n\(log("beta"))")
    }
}

/// SHA-256 of the first `length` bytes of a file, with sha256sum (a real tool, independent of
/// the code under test).
func checksum(_ path: String, length: UInt64? = nil) throws -> String {
    let script = length.map { "head -c \($0) '\(path)' | sha256sum" } ?? "sha256sum < '\(path)'"
    let result = try runProgram("/bin/sh", ["-c", script])
    guard result.status == 0, let first = result.output.split(separator: " ").first else {
        throw HarnessError("sha256sum of \(path) failed: \(result.output)")
    }
    return String(first)
}

/// Runs a shell command that must succeed.
@discardableResult
func shell(_ command: String) throws -> String {
    let result = try runProgram("/bin/sh", ["-c", command])
    guard result.status == 0 else { throw HarnessError("`\(command)` exited \(result.status): \(result.output)") }
    return result.output
}
