import ArgumentParser
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `meridian-bench volume`: replicated-volume latency, throughput and resync, each against the
/// same workload on a local file with O_DIRECT in the same run.
struct VolumeBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volume",
        abstract: "meridian-replicad: 4 KiB QD1 write latency, 1 MiB sequential throughput, full and dirty-block resync.",
        discussion: """
            Two meridian-replicad processes (127.0.90.1 and 127.0.90.2, protocol C, HMAC on) replicate a \
            volume between two files in --dir. Baselines use fio on a plain file in the same directory \
            (psync, O_DIRECT). All backing files are written in full before the first measurement (a sparse \
            file would charge the replicas for block allocation the baseline does not pay). Replicated I/O uses fio's nbd engine against the Primary's NBD socket. \
            The resync runs at a fixed rate above the link's speed (c-plan-ahead 0, resync-rate 4G): \
            DRBD's dynamic controller would spend its first c-plan-ahead seconds ramping up. Targets (issue 4): 4 KiB QD1 latency <= 1.5 x local; 1 MiB sequential >= 0.9 x local; full \
            resync >= 0.9 x local sequential write; a reconnect after 10 MiB of writes sends the dirty \
            blocks plus protocol overhead only. Reference rows, measured in the same run, tell a slow \
            machine from a slow replica: nbdkit's memory plugin (the NBD transport with no storage behind it) \
            and a minimal C NBD server that mirrors each write to a C peer and waits for its ack (the least a \
            mirroring server costs here); each is left out, with a note, when nbdkit or cc is missing. \
            Missed targets do not change the exit status; errors do.
            """)

    @Option(help: "Directory for the backing files (default: a new one under the system temporary directory).")
    var dir: String?
    @Option(help: "Volume size in MiB (the full-resync measurement covers all of it).") var sizeMib: Int = 1024
    @Option(help: "Seconds per fio latency/throughput run.") var runtime: Int = 10
    @Option(help: "Runs of each measurement (the median is reported).") var runs: Int = 3
    @Option(help: "Directory with meridian-replicad and meridian (default: next to this program).")
    var products: String?
    @Option(help: "Directory for the peer's backing file (default: --dir). A directory on another device (e.g. /dev/shm) models a peer with its own disk.")
    var peerDir: String?
    @Option(help: "Pin both daemons (options { cpu-mask }) and every fio run, baselines included, to this CPU.")
    var pinCpu: Int?

    func run() throws {
        let productsDir = products ?? {
            let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
            return (me as NSString).deletingLastPathComponent
        }()
        let work = dir ?? NSTemporaryDirectory() + "meridian-volume-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let ownsWork = dir == nil
        defer { if ownsWork { try? FileManager.default.removeItem(atPath: work) } }
        let size = UInt64(sizeMib) << 20

        print("machine: \(machineDescription())")
        let peerWork = peerDir ?? work
        if peerDir != nil { try FileManager.default.createDirectory(atPath: peerWork, withIntermediateDirectories: true) }
        print("backing files: local and Primary in \(work) (\(fileSystem(of: work))), peer in \(peerWork) (\(fileSystem(of: peerWork)))")
        print("volume \(sizeMib) MiB, fio runs of \(runtime) s, median of \(runs)"
            + (pinCpu.map { ", daemons and fio pinned to CPU \($0)" } ?? ", no CPU pinning"))
        let fio = { (arguments: [String]) throws -> FioResult in
            try runFio(arguments + (pinCpu.map { ["--cpus_allowed=\($0)"] } ?? []))
        }
        // The two NBD workloads every server below gets, `runs` times each.
        let nbdRandom = { (uri: String, size: UInt64) throws -> [FioResult] in
            try (0..<runs).map { _ in
                try fio(["--ioengine=nbd", "--uri=\(uri)", "--iodepth=1", "--rw=randwrite", "--bs=4k",
                         "--size=\(size)", "--time_based", "--runtime=\(runtime)"])
            }
        }
        let nbdSequential = { (uri: String, size: UInt64) throws -> [FioResult] in
            try (0..<runs).map { _ in
                try fio(["--ioengine=nbd", "--uri=\(uri)", "--iodepth=8", "--rw=write", "--bs=1M", "--size=\(size)"])
            }
        }

        // Local baselines on a plain file, fully written first (as the replicas are by their sync).
        let local = work + "/local.img"
        let seqLocal = try (0..<runs).map { _ in
            try fio(["--filename=\(local)", "--ioengine=psync", "--direct=1", "--rw=write", "--bs=1M", "--size=\(size)"])
        }
        // What the SyncSource's reads can deliver: a resync cannot beat the source disk's reads.
        let readLocal = try (0..<runs).map { _ in
            try fio(["--filename=\(local)", "--ioengine=psync", "--direct=1", "--rw=read", "--bs=1M", "--size=\(size)"])
        }
        let randLocal = try (0..<runs).map { _ in
            try fio(["--filename=\(local)", "--ioengine=psync", "--direct=1", "--rw=randwrite", "--bs=4k",
                     "--size=\(size)", "--time_based", "--runtime=\(runtime)"])
        }
        // The least a mirroring NBD server can cost here: a C probe on the baseline's file, its peer
        // in the peer's directory.
        let probe = try mirrorProbeReference(directory: work, peerDirectory: peerWork, primaryFile: local,
                                             sizeBytes: size, pinCpu: pinCpu) { uri in
            median(try nbdRandom(uri, size).map(\.latency))
        }
        try? FileManager.default.removeItem(atPath: local)

        // The NBD transport alone, through a reference server with no disk behind it: nbdkit's
        // memory plugin. Whatever it costs, every NBD server pays before storing a byte.
        let reference = try nbdkitReference(directory: work, sizeBytes: size, pinCpu: pinCpu) { uri in
            (median(try nbdRandom(uri, size).map(\.latency)), median(try nbdSequential(uri, size).map(\.bandwidth)))
        }

        let pair = try BenchPair(directory: work, peerDirectory: peerWork, sizeBytes: size, products: productsDir,
                                 cpuMask: pinCpu.map { UInt64(1) << UInt64($0) })
        defer { if peerDir != nil { try? FileManager.default.removeItem(atPath: peerWork + "/beta.img") } }
        defer { pair.stopAll() }
        try pair.startBoth()

        // Full resync: the initial sync of the whole volume after `primary --force`.
        let t0 = Date()
        try pair.volume("alpha", ["primary", "--force"])
        // Timed by the SyncTarget's own log lines (millisecond timestamps): polling `status`
        // often would take CPU from the daemons (a CLI run costs ~30 ms of CPU here).
        try pair.waitFor("the resync to finish", timeout: 600, interval: 0.25) {
            pair.log("beta").contains("resync finished")
        }
        try pair.waitInSync(timeout: 600)
        let t1 = Date()
        let totalSeconds = t1.timeIntervalSince(t0)
        guard let started = pair.logTime("beta", of: "resync starts as SyncTarget"),
              let finished = pair.logTime("beta", of: "resync finished")
        else { throw ValidationError("the SyncTarget's log lacks the resync start or end:\n\(pair.log("beta"))") }
        let fullSeconds = finished.timeIntervalSince(started)
        let dataSize = pair.sizeBytes("alpha")

        let randReplicated = try nbdRandom(pair.uri("alpha"), dataSize)
        let seqReplicated = try nbdSequential(pair.uri("alpha"), dataSize)
        // The same NBD path without a peer: what the NBD server and local write cost alone.
        try pair.volume("alpha", ["disconnect"])
        try pair.waitFor("alpha StandAlone", timeout: 20) { pair.connection("alpha") == "StandAlone" }
        let randAlone = try nbdRandom(pair.uri("alpha"), dataSize)
        // Dirty-block resync: reconnect after 10 MiB were written while disconnected.
        try pair.volume("alpha", ["connect"])
        try pair.waitInSync(timeout: 600)
        try pair.volume("alpha", ["disconnect"])
        try pair.waitFor("alpha StandAlone", timeout: 20) { pair.connection("alpha") == "StandAlone" }
        let dirty: UInt64 = 10 << 20
        _ = try fio(["--ioengine=nbd", "--uri=\(pair.uri("alpha"))", "--iodepth=4", "--rw=write", "--bs=1M",
                     "--offset=64M", "--size=\(dirty)"])
        let outOfSync = pair.outOfSync("alpha")
        let before = pair.counters("beta")
        try pair.volume("alpha", ["connect"])
        try pair.waitInSync(timeout: 600)
        let after = pair.counters("beta")

        let seqL = median(seqLocal.map(\.bandwidth)), seqR = median(seqReplicated.map(\.bandwidth))
        let readL = median(readLocal.map(\.bandwidth))
        let latL = median(randLocal.map(\.latency)), latR = median(randReplicated.map(\.latency))
        let latA = median(randAlone.map(\.latency))
        let fullRate = Double(dataSize) / fullSeconds
        print("")
        print("4 KiB random write, QD1 (mean completion latency):")
        print(String(format: "  local file, O_DIRECT          %8.1f us", latL / 1000))
        if let reference {
            print(String(format: "  nbdkit memory, no disk        %8.1f us   (%.2f x local: the NBD transport alone, reference server)",
                         reference.latency / 1000, reference.latency / latL))
        }
        if let probe {
            print(String(format: "  C probe NBD, no peer          %8.1f us   (%.2f x local: minimal NBD server, one thread, O_DIRECT)",
                         probe.alone / 1000, probe.alone / latL))
            print(String(format: "  C probe NBD, mirrored         %8.1f us   (%.2f x local: the same, sending each write to a C peer over loopback TCP and waiting for its ack)",
                         probe.mirrored / 1000, probe.mirrored / latL))
        }
        print(String(format: "  replicad NBD, no peer         %8.1f us   (%.2f x local)", latA / 1000, latA / latL))
        print(String(format: "  replicad NBD, protocol C      %8.1f us   ratio %.2f x local (target <= 1.5)", latR / 1000, latR / latL))
        print("1 MiB sequential write:")
        print(String(format: "  local file, O_DIRECT, QD1     %8.1f MiB/s", seqL / 1_048_576))
        if let reference {
            print(String(format: "  nbdkit memory, no disk, QD8   %8.1f MiB/s   (%.2f x local: the NBD transport alone, reference server)",
                         reference.bandwidth / 1_048_576, reference.bandwidth / seqL))
        }
        print(String(format: "  replicad NBD, protocol C, QD8 %8.1f MiB/s   ratio %.2f x local (target >= 0.9)", seqR / 1_048_576, seqR / seqL))
        print("full resync of \(dataSize >> 20) MiB (initial sync after primary --force):")
        print(String(format: "  local file, O_DIRECT sequential read, QD1 %8.1f MiB/s   (what the SyncSource's disk reads)", readL / 1_048_576))
        print(String(format: "  resync (SyncTarget's log: start to finish) %.2f s = %.1f MiB/s   ratio %.2f x local sequential write (target >= 0.9), %.2f x local sequential read",
                     fullSeconds, fullRate / 1_048_576, fullRate / seqL, fullRate / readL))
        print(String(format: "  from `primary --force` (renegotiation and handshake included) %.2f s", totalSeconds))
        print("reconnect after \(dirty >> 20) MiB were written while disconnected:")
        print("  out of sync at reconnect       \(outOfSync) bytes")
        print("  resync payload received        \(after.resync - before.resync) bytes")
        print("  link bytes during reconnect    \(after.link - before.link) bytes (handshake, bitmap, requests, data, headers)")
        print(String(format: "  overhead beyond the dirty blocks %.1f%%",
                     (Double(after.link - before.link) / Double(max(outOfSync, 1)) - 1) * 100))
    }
}

/// Writes `bytes` zero bytes to a new file and syncs it: the backing files are allocated in full
/// before anything is measured, as a real disk is and as fio lays out the baseline's file. A sparse
/// file would charge the replicas for block allocation (ext4) or page allocation (tmpfs) that
/// the baseline does not pay.
func writeZeros(path: String, bytes: UInt64) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw ValidationError("cannot create \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    let chunk = [UInt8](repeating: 0, count: 1 << 20)
    var left = bytes
    while left > 0 {
        let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress, Int(min(left, UInt64($0.count)))) }
        guard n > 0 else { throw ValidationError("cannot write \(path): \(String(cString: strerror(errno)))") }
        left -= UInt64(n)
    }
    guard fsync(fd) == 0 else { throw ValidationError("cannot sync \(path): \(String(cString: strerror(errno)))") }
}

struct FioResult {
    var latency: Double  // mean completion latency, ns
    var bandwidth: Double  // bytes/s
}

func runFio(_ arguments: [String]) throws -> FioResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/fio")
    process.arguments = ["--name=bench", "--output-format=json", "--numjobs=1", "--group_reporting"] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.standardError
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0,
          let start = data.firstIndex(of: UInt8(ascii: "{")),
          let json = try JSONSerialization.jsonObject(with: data[start...]) as? [String: Any],
          let job = (json["jobs"] as? [[String: Any]])?.first,
          let side = job[arguments.contains("--rw=read") ? "read" : "write"] as? [String: Any],
          let clat = side["clat_ns"] as? [String: Any], let mean = clat["mean"] as? Double,
          let bw = side["bw_bytes"] as? Double
    else {
        throw ValidationError("fio \(arguments.joined(separator: " ")) failed (exit \(process.terminationStatus))")
    }
    return FioResult(latency: mean, bandwidth: bw)
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
}

func machineDescription() -> String {
    let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
        .split(separator: "\n").first { $0.hasPrefix("model name") }?
        .split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
    return "\(cpu), \(sysconf(Int32(_SC_NPROCESSORS_ONLN))) CPUs"
}

func fileSystem(of path: String) -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/stat")
    process.arguments = ["-f", "-c", "%T", path]
    let pipe = Pipe()
    process.standardOutput = pipe
    try? process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

/// Two daemons for the benchmark (the test suite has its own harness with assertions).
final class BenchPair {
    let directory: String
    let replicad: String
    let meridian: String
    var processes: [String: Process] = [:]

    init(directory: String, peerDirectory: String, sizeBytes: UInt64, products: String, cpuMask: UInt64?) throws {
        self.directory = directory
        replicad = products + "/meridian-replicad"
        meridian = products + "/meridian"
        for node in ["alpha", "beta"] {
            let disk = "\(node == "beta" ? peerDirectory : directory)/\(node).img"
            try writeZeros(path: disk, bytes: sizeBytes + (64 << 20))
            try FileManager.default.createDirectory(atPath: "\(directory)/run-\(node)", withIntermediateDirectories: true)
        }
        let text = """
            resource bench {
              net { protocol C; cram-hmac-alg sha256; shared-secret "bench"; connect-int 1; }
              disk { c-plan-ahead 0; resync-rate 4G; c-max-rate 4G; c-min-rate 4G; }
              \(cpuMask.map { "options { cpu-mask \(String($0, radix: 16)); }" } ?? "")
              on alpha { node-id 0; address 127.0.90.1:7790; volume 0 { disk \(directory)/alpha.img; meta-disk internal; } }
              on beta { node-id 1; address 127.0.90.2:7790; volume 0 { disk \(peerDirectory)/beta.img; meta-disk internal; } }
            }

            """
        try text.write(toFile: "\(directory)/bench.res", atomically: true, encoding: .utf8)
    }

    func uri(_ node: String) -> String { "nbd+unix:///?socket=\(directory)/run-\(node)/bench.0.\(node).nbd" }

    @discardableResult
    func volume(_ node: String, _ args: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: meridian)
        process.arguments = ["volume"] + args + ["bench", "--config", "\(directory)/bench.res", "--node", node,
                                                 "--run-dir", "\(directory)/run-\(node)"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw ValidationError("meridian volume \(args.joined(separator: " ")) on \(node): \(text)")
        }
        return text
    }

    func startBoth() throws {
        for node in ["alpha", "beta"] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: replicad)
            process.arguments = ["--config", "\(directory)/bench.res", "--node", node, "--run-dir", "\(directory)/run-\(node)"]
            _ = FileManager.default.createFile(atPath: "\(directory)/\(node).log", contents: nil)
            let log = FileHandle(forWritingAtPath: "\(directory)/\(node).log")!
            process.standardOutput = log
            process.standardError = log
            try process.run()
            processes[node] = process
            try waitFor("\(node)'s control socket", timeout: 10) {
                FileManager.default.fileExists(atPath: "\(directory)/run-\(node)/\(node).ctl")
            }
            try volume(node, ["create-md"])
            try volume(node, ["up"])
        }
        try waitFor("connection", timeout: 30) { connection("alpha") == "Connected" && connection("beta") == "Connected" }
    }

    func stopAll() {
        for (_, process) in processes where process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        processes = [:]
    }

    func statusJSON(_ node: String) -> [String: Any]? {
        guard let text = try? volume(node, ["status", "--json"]), let start = text.firstIndex(of: "["),
              let array = try? JSONSerialization.jsonObject(with: Data(text[start...].utf8)) as? [[String: Any]]
        else { return nil }
        return array.first
    }

    func volumeJSON(_ node: String) -> [String: Any]? { (statusJSON(node)?["volumes"] as? [[String: Any]])?.first }
    func connection(_ node: String) -> String? { (statusJSON(node)?["connection"] as? [String: Any])?["state"] as? String }
    func sizeBytes(_ node: String) -> UInt64 { (volumeJSON(node)?["sizeBytes"] as? NSNumber)?.uint64Value ?? 0 }
    func outOfSync(_ node: String) -> UInt64 { (volumeJSON(node)?["outOfSyncBytes"] as? NSNumber)?.uint64Value ?? 0 }

    func counters(_ node: String) -> (resync: UInt64, link: UInt64) {
        let volume = volumeJSON(node)
        let connection = statusJSON(node)?["connection"] as? [String: Any]
        let resync = (volume?["resyncReceivedBytes"] as? NSNumber)?.uint64Value ?? 0
        let link = ((connection?["linkReceivedBytes"] as? NSNumber)?.uint64Value ?? 0)
            + ((connection?["linkSentBytes"] as? NSNumber)?.uint64Value ?? 0)
        return (resync, link)
    }

    func waitInSync(timeout: Double) throws {
        try waitFor("both UpToDate", timeout: timeout) {
            ["alpha", "beta"].allSatisfy { node in
                guard let v = volumeJSON(node) else { return false }
                return v["disk"] as? String == "UpToDate" && v["peerDisk"] as? String == "UpToDate"
                    && v["replication"] as? String == "Established"
            }
        }
    }

    func log(_ node: String) -> String {
        (try? String(contentsOfFile: "\(directory)/\(node).log", encoding: .utf8)) ?? ""
    }

    /// The timestamp of the first line of a daemon's log that contains `text`.
    func logTime(_ node: String, of text: String) -> Date? {
        guard let line = log(node).split(separator: "\n").first(where: { $0.contains(text) }),
              let stamp = line.split(separator: " ").first
        else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: String(stamp))
    }

    func waitFor(_ what: String, timeout: Double, interval: Double = 0.05, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return }
            usleep(UInt32(interval * 1_000_000))
        }
        throw ValidationError("timed out waiting for \(what)\n--- alpha:\n\(log("alpha"))\n--- beta:\n\(log("beta"))")
    }
}
