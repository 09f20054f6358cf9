// `meridian-bench scheduler`: the scheduler at scale, against the real crm_simulate.
import ArgumentParser
import CIB
import Foundation
import Scheduler

#if canImport(Glibc)
    import Glibc
#endif

/// Times Meridian's scheduler on generated CIBs of growing size, each run in its
/// own process so that its peak memory can be measured, then the real
/// `crm_simulate -R` on the same files.
struct SchedulerScale: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler",
        abstract:
            "Scheduler at scale: parse+unpack, placement and transition times and peak memory, vs crm_simulate -R.",
        discussion: """
            CIBs come from ../shared/tools/gen_cib.py N M (N nodes, M Dummy primitives, 1% clones, \
            colocation and order chains, a location preference on every 7th). Each Meridian run is a \
            child process (this program re-executed) pinned to one core; the scheduler is \
            single-threaded. Its peak RSS comes from wait4. crm_simulate runs once per size with a time \
            cap. The target is 32x10000 in <= 1 s and <= 200 MB. Missed targets do not change the exit \
            status; errors do.
            """)

    @Option(help: "Sizes as NODESxRESOURCES, comma-separated.") var sizes: String = "8x1000,16x5000,32x10000"
    @Option(help: "Meridian runs per size (min and median are printed).") var runs: Int = 3
    @Option(help: "Seconds after which crm_simulate is stopped.") var baselineTimeout: Double = 120
    @Flag(help: "Skip the crm_simulate baseline.") var noBaseline = false
    @Option(help: "crm_simulate binary.") var crmSimulate: String = "/usr/sbin/crm_simulate"
    @Option(help: "The shared directory with tools/gen_cib.py (default: $MERIDIAN_SHARED, else ../shared).")
    var shared: String?
    @Option(help: "Keep the generated CIBs and outputs in this directory (default: a temporary one, removed).")
    var workDir: String?

    struct Size: CustomStringConvertible {
        let nodes: Int
        let resources: Int
        var description: String { "\(nodes)x\(resources)" }
    }

    func validate() throws {
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1.") }
        guard baselineTimeout > 0 else { throw ValidationError("--baseline-timeout must be positive (seconds).") }
        _ = try parsedSizes()
    }

    func parsedSizes() throws -> [Size] {
        try sizes.split(separator: ",").map { item in
            let parts = item.lowercased().split(separator: "x")
            guard parts.count == 2, let n = Int(parts[0]), let m = Int(parts[1]), n > 0, m > 0 else {
                throw ValidationError("--sizes: '\(item)' is not NODESxRESOURCES (for example 32x10000).")
            }
            return Size(nodes: n, resources: m)
        }
    }

    func sharedDirectory() throws -> String {
        var candidates: [String] = []
        if let shared { candidates.append(shared) }
        if let s = ProcessInfo.processInfo.environment["MERIDIAN_SHARED"] { candidates.append(s) }
        candidates.append(FileManager.default.currentDirectoryPath + "/../shared")
        // The package root from the binary's place (.build*/CONFIG/meridian-bench).
        let exe = URL(fileURLWithPath: executablePath())
        candidates.append(
            exe.deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent().path + "/shared")
        for c in candidates where FileManager.default.fileExists(atPath: c + "/tools/gen_cib.py") {
            return URL(fileURLWithPath: c).standardizedFileURL.path
        }
        throw BenchFailure(
            "tools/gen_cib.py not found in \(candidates.joined(separator: ", ")); pass --shared DIR or set MERIDIAN_SHARED."
        )
    }

    func run() throws {
        let sizes = try parsedSizes()
        let shared = try sharedDirectory()
        let dir = workDir ?? NSTemporaryDirectory() + "meridian-bench-scheduler-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { if workDir == nil { try? FileManager.default.removeItem(atPath: dir) } }

        print("Scheduler scale: CIBs from gen_cib.py N M; \(runs) Meridian run(s) per size, each in its own process")
        print("pinned to one core (the scheduler is single-threaded); times are min / median, peak RSS the largest;")
        print("wall times, and the CPU time of the same phases (the difference: other processes on the machine).")
        print("machine: \(machineDescription())")
        #if DEBUG
            print("warning: this is a debug build; build with -c release for meaningful figures.")
        #endif
        let full = SchedulerRun.measuresTransition
        if full {
            print("phases: parse (libxml2), unpack (CIBModel.unpack), placement (Placement.compute, scores and")
            print("        assignment, timed alone), transition (Transition.schedule: placement again, then actions,")
            print("        orderings and the Transition Summary); total = parse + unpack + transition.")
        } else {
            print("note: the actions phase is not there yet: 'transition' is not measured,")
            print("      'total' is parse+unpack+placement, and decisions are not compared with crm_simulate yet.")
        }
        if !noBaseline {
            print("baseline: LC_ALL=C \(crmSimulate) -R -x FILE (computes the transition, prints status and")
            print("          Transition Summary), one run per size, stopped after \(Int(baselineTimeout)) s.")
        }

        var rows: [Row] = []
        for size in sizes {
            let file = "\(dir)/cib-\(size).xml"
            let rc = try spawnAndWait(
                "/usr/bin/env",
                ["python3", shared + "/tools/gen_cib.py", "\(size.nodes)", "\(size.resources)", "-o", file],
                stdout: "\(dir)/gen-\(size).out", stderr: "\(dir)/gen-\(size).err", timeout: nil)
            guard rc.exitCode == 0 else {
                throw BenchFailure(
                    "gen_cib.py \(size.nodes) \(size.resources) failed: \(contents(of: "\(dir)/gen-\(size).err"))")
            }
            var row = Row(size: size)
            for r in 0..<runs {
                let out = "\(dir)/run-\(size)-\(r).json"
                let summaryFile = "\(dir)/meridian-\(size).summary"
                let result = try spawnAndWait(
                    executablePath(), ["scheduler-run", "--file", file, "--summary", summaryFile],
                    stdout: out, stderr: "\(dir)/run-\(size)-\(r).err", timeout: nil)
                guard result.exitCode == 0,
                    let timing = try? JSONDecoder().decode(
                        SchedulerRun.Timing.self, from: Data(contentsOf: URL(fileURLWithPath: out)))
                else {
                    throw BenchFailure(
                        "Meridian run \(r + 1) at \(size) failed (\(result)): \(contents(of: "\(dir)/run-\(size)-\(r).err"))"
                    )
                }
                row.timings.append(timing)
                row.peakRSS = max(row.peakRSS, result.maxRSSKiB)
                print(
                    String(
                        format:
                            "  %@ run %d: parse+unpack %.1f ms, placement %.1f ms%@, total %.1f ms (CPU %.1f ms), peak RSS %.1f MB",
                        "\(size)", r + 1, timing.parseUnpackMs, timing.placementMs,
                        timing.transitionMs.map { String(format: ", transition %.1f ms", $0) } ?? "",
                        timing.totalMs, timing.totalCPUMs, Double(result.maxRSSKiB) / 1024))
            }
            if full { row.meridianSummary = readLines(of: "\(dir)/meridian-\(size).summary").filter { !$0.isEmpty } }
            if !noBaseline {
                let out = "\(dir)/crm_simulate-\(size).out"
                print("  \(size) crm_simulate -R ...")
                fflush(nil)
                let b = try spawnAndWait(
                    crmSimulate, ["-R", "-x", file], stdout: out, stderr: "\(dir)/crm_simulate-\(size).err",
                    timeout: baselineTimeout, environment: ["LC_ALL": "C"])
                if b.timedOut {
                    row.baseline = .stopped
                    print(String(format: "  %@ crm_simulate: stopped after %.0f s", "\(size)", baselineTimeout))
                } else if b.exitCode != 0 {
                    throw BenchFailure(
                        "crm_simulate at \(size) failed (\(b)): \(contents(of: "\(dir)/crm_simulate-\(size).err"))")
                } else {
                    row.baseline = .finished(ms: b.wallMs, rssKiB: b.maxRSSKiB)
                    row.baselineSummary = transitionSummary(readLines(of: out))
                    print(
                        String(
                            format: "  %@ crm_simulate: %.1f s, peak RSS %.1f MB", "\(size)", b.wallMs / 1000,
                            Double(b.maxRSSKiB) / 1024))
                }
            }
            rows.append(row)
            fflush(nil)
        }
        printTable(rows, full: full)
    }

    // MARK: Report

    struct Row {
        enum Baseline { case skipped, stopped, finished(ms: Double, rssKiB: Int) }
        let size: Size
        var timings: [SchedulerRun.Timing] = []
        var peakRSS = 0
        var baseline = Baseline.skipped
        var meridianSummary: [String]?
        var baselineSummary: [String]?
    }

    func printTable(_ rows: [Row], full: Bool) {
        func pair(_ xs: [Double]) -> String {
            let s = summary(xs)
            return s.min < 100
                ? String(format: "%.1f / %.1f", s.min, s.median) : String(format: "%.0f / %.0f", s.min, s.median)
        }
        var table: [[String]] = [
            [
                "size", "parse+unpack ms", "placement ms", "transition ms", "total ms", "total CPU ms", "peak RSS MB",
                "crm_simulate -R", "ratio M/crm", "decisions",
            ]
        ]
        var notes: [String] = []
        for row in rows {
            let total = summary(row.timings.map(\.totalMs)).median
            var baseline = "not run"
            var ratio = "-"
            var decisions = "-"
            switch row.baseline {
            case .skipped: break
            case .stopped: baseline = String(format: "> %.0f s (stopped)", baselineTimeout)
            case .finished(let ms, _):
                baseline = String(format: "%.1f s", ms / 1000)
                ratio = String(format: "%.4f (%.0fx)", total / ms, ms / total)
                if !full {
                    decisions = "not compared yet"
                } else if let mine = row.meridianSummary, let theirs = row.baselineSummary {
                    let (a, b) = (normalized(mine), normalized(theirs))
                    if a == b {
                        decisions = "same (\(b.count) lines)"
                    } else {
                        let missing = b.filter { !Set(a).contains($0) }
                        let extra = a.filter { !Set(b).contains($0) }
                        decisions = "different (\(missing.count) of \(b.count) lines)"
                        if withoutInstanceNumbers(a) == withoutInstanceNumbers(b) {
                            decisions += ": clone instance numbers only"
                        }
                        notes.append("\(row.size): crm_simulate lines Meridian lacks: \(missing.prefix(5))")
                        notes.append("\(row.size): Meridian lines crm_simulate lacks: \(extra.prefix(5))")
                    }
                }
            }
            table.append([
                "\(row.size)", pair(row.timings.map(\.parseUnpackMs)), pair(row.timings.map(\.placementMs)),
                full ? pair(row.timings.compactMap(\.transitionMs)) : "not measured",
                pair(row.timings.map(\.totalMs)), pair(row.timings.map(\.totalCPUMs)),
                String(format: "%.0f", Double(row.peakRSS) / 1024),
                baseline, ratio, decisions,
            ])
        }
        let widths = table[0].indices.map { c in table.map { $0[c].count }.max()! }
        print("")
        for (i, cells) in table.enumerated() {
            print(
                cells.enumerated().map { c, s in
                    c == 0 || c >= 7
                        ? s.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                        : String(repeating: " ", count: widths[c] - s.count) + s
                }.joined(separator: "  "))
            if i == 0 { print(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
        }
        for note in notes { print(note) }
        print("")
        if let target = rows.first(where: { $0.size.nodes == 32 && $0.size.resources == 10000 }) {
            let total = summary(target.timings.map(\.totalMs)).median
            let mb = Double(target.peakRSS) / 1024
            let met = total <= 1000 && mb <= 200
            print(
                String(
                    format:
                        "target 32x10000 <= 1 s and <= 200 MB on one core: %@ (median total %.0f ms%@, peak RSS %.0f MB)",
                    met ? "met" : "NOT MET", total, full ? "" : ", without the actions phase", mb))
        } else {
            print("target 32x10000 <= 1 s and <= 200 MB: not measured (size not in --sizes)")
        }
    }

    /// Transition Summary lines compared as Pacemaker's runner does (whitespace ignored).
    func normalized(_ lines: [String]) -> [String] {
        lines.map { $0.split(whereSeparator: \.isWhitespace).joined(separator: " ") }.filter { !$0.isEmpty }
    }

    /// The lines with clone instance numbers removed (`rsc:3` -> `rsc`), sorted: the
    /// same nodes for each clone, whichever instance goes where.
    func withoutInstanceNumbers(_ lines: [String]) -> [String] {
        lines.map { line in
            line.split(separator: " ").map { word in
                guard let colon = word.lastIndex(of: ":"), word.index(after: colon) < word.endIndex,
                    word[word.index(after: colon)...].allSatisfy(\.isNumber)
                else { return String(word) }
                return String(word[..<colon])
            }.joined(separator: " ")
        }.sorted()
    }

    /// The lines after `Transition Summary:` up to the next blank line or section.
    func transitionSummary(_ lines: [String]) -> [String] {
        guard let start = lines.firstIndex(where: { $0.hasPrefix("Transition Summary:") }) else { return [] }
        var result: [String] = []
        for line in lines[(start + 1)...] {
            if line.trimmingCharacters(in: .whitespaces).isEmpty || !line.hasPrefix(" ") { break }
            result.append(line)
        }
        return result
    }

    func machineDescription() -> String {
        let cpuinfo = contents(of: "/proc/cpuinfo")
        let model =
            cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last!.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
        let memKiB =
            contents(of: "/proc/meminfo").split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
            .flatMap { Int($0.split(separator: " ")[1]) } ?? 0
        return String(
            format: "%d cores (%@), %.0f GiB, Linux", sysconf(Int32(_SC_NPROCESSORS_ONLN)), model,
            Double(memKiB) / 1024 / 1024)
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func contents(of path: String) -> String {
    (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
}

func readLines(of path: String) -> [String] {
    contents(of: path).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
}

func executablePath() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
}

/// This process's peak RSS so far, in MB.
func peakRSSMB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

func threadCPUMs() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) * 1000 + Double(ts.tv_nsec) / 1e6
}

func monotonicMs() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) * 1000 + Double(ts.tv_nsec) / 1e6
}

/// Restricts a process (0: this one) to the one CPU this process runs on now.
/// (glibc's affinity calls are GNU extensions Swift does not import: found with dlsym.)
func pinToOneCPU(_ pid: pid_t = 0) {
    typealias GetCPU = @convention(c) () -> Int32
    typealias SetAffinity = @convention(c) (pid_t, Int, UnsafeRawPointer) -> Int32
    guard let handle = dlopen(nil, RTLD_NOW), let get = dlsym(handle, "sched_getcpu"),
        let setAffinity = dlsym(handle, "sched_setaffinity")
    else { return }
    let cpu = Int(unsafeBitCast(get, to: GetCPU.self)())
    guard cpu >= 0, cpu < 1024 else { return }
    var mask = [UInt8](repeating: 0, count: 128)  // cpu_set_t: 1024 bits
    mask[cpu / 8] |= UInt8(1 << (cpu % 8))
    _ = mask.withUnsafeBytes { unsafeBitCast(setAffinity, to: SetAffinity.self)(pid, 128, $0.baseAddress!) }
}

struct ChildResult {
    var status: Int32
    var wallMs: Double
    var maxRSSKiB: Int
    var timedOut: Bool
    var exitCode: Int32? { status & 0x7f == 0 ? (status >> 8) & 0xff : nil }
    var signal: Int32? { status & 0x7f != 0 ? status & 0x7f : nil }
}

extension ChildResult: CustomStringConvertible {
    var description: String {
        if let exitCode { return "exit status \(exitCode)" }
        return "signal \(signal ?? 0)"
    }
}

/// Runs a program with stdout and stderr to files; waits (killing it after
/// `timeout` seconds) and returns its status, wall time and peak RSS (wait4).
func spawnAndWait(
    _ path: String, _ arguments: [String], stdout: String, stderr: String, timeout: Double?,
    environment: [String: String] = [:]
) throws -> ChildResult {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
    let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        for p in argv { free(p) }
        for p in envp { free(p) }
    }
    var pid: pid_t = 0
    let start = monotonicMs()
    let rc = posix_spawn(&pid, path, &actions, nil, argv, envp)
    guard rc == 0 else { throw BenchFailure("cannot start \(path): \(String(cString: strerror(rc)))") }
    pinToOneCPU(pid)
    var status: Int32 = 0
    var usage = rusage()
    var timedOut = false
    if let timeout {
        while true {
            let r = wait4(pid, &status, WNOHANG, &usage)
            if r == pid { break }
            if r < 0 && errno != EINTR { throw BenchFailure("wait4: \(String(cString: strerror(errno)))") }
            if monotonicMs() - start > timeout * 1000 {
                kill(pid, SIGKILL)
                timedOut = true
                while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
                break
            }
            usleep(10_000)
        }
    } else {
        while wait4(pid, &status, 0, &usage) < 0 {
            if errno != EINTR { throw BenchFailure("wait4: \(String(cString: strerror(errno)))") }
        }
    }
    return ChildResult(status: status, wallMs: monotonicMs() - start, maxRSSKiB: usage.ru_maxrss, timedOut: timedOut)
}

/// The hidden child of `scheduler`: one run on one file, timings as JSON on stdout.
struct SchedulerRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler-run", abstract: "One timed scheduler run (used by 'scheduler').", shouldDisplay: false)

    @Option(help: "The CIB file.") var file: String
    @Option(help: "Write the Transition Summary lines here.") var summary: String?
    @Option(help: "Write the allocation score lines here (to check that optimisations keep results).")
    var scores: String?

    /// The full transition (`Transition.schedule`, with the actions phase) is measured.
    static let measuresTransition = true

    struct Timing: Codable {
        var parseMs: Double
        var unpackMs: Double
        /// `Placement.compute` alone (scores and placement).
        var placementMs: Double
        /// `Transition.schedule`: placement again, then actions, orderings, summary.
        var transitionMs: Double?
        /// Parse, unpack and the transition (placement counted once).
        var totalMs: Double
        /// The CPU time of the same phases (this thread's; less sensitive than the wall
        /// time to other processes on a shared machine).
        var totalCPUMs: Double
        /// CPU time per phase: parse, unpack, placement, transition.
        var phaseCPUMs: [Double]
        /// Peak RSS (MB) after each phase: parse, unpack, placement, transition.
        var phasePeakMB: [Double]
        var nodes: Int
        var resources: Int
        var placed: Int
        var summaryLines: Int
        var parseUnpackMs: Double { parseMs + unpackMs }
    }

    func run() throws {
        pinToOneCPU()
        let (t0, c0) = (monotonicMs(), threadCPUMs())
        let document = try CIBModel.document(contentsOfFile: file)
        let (t1, c1, m1) = (monotonicMs(), threadCPUMs(), peakRSSMB())
        let model = try CIBModel.unpack(document, now: nil)
        let (t2, c2, m2) = (monotonicMs(), threadCPUMs(), peakRSSMB())
        let placed = Placement.compute(model).nodes.lazy.filter { $0 != nil }.count
        let (t3, c3, m3) = (monotonicMs(), threadCPUMs(), peakRSSMB())
        let transition = Transition.schedule(model)
        let (t4, c4, m4) = (monotonicMs(), threadCPUMs(), peakRSSMB())
        let timing = Timing(
            parseMs: t1 - t0, unpackMs: t2 - t1, placementMs: t3 - t2, transitionMs: t4 - t3,
            totalMs: (t2 - t0) + (t4 - t3), totalCPUMs: (c2 - c0) + (c4 - c3),
            phaseCPUMs: [c1 - c0, c2 - c1, c3 - c2, c4 - c3], phasePeakMB: [m1, m2, m3, m4], nodes: model.nodes.count,
            resources: model.resources.count,
            placed: placed, summaryLines: transition.summary.count)
        if let summary {
            try (transition.summary.joined(separator: "\n") + "\n").write(
                toFile: summary, atomically: true, encoding: .utf8)
        }
        if let scores {
            let lines = transition.placement.scores.entries.map(\.line)
            try (lines.joined(separator: "\n") + "\n").write(toFile: scores, atomically: true, encoding: .utf8)
        }
        // The document stays (a daemon keeps its CIB): it counts in the peak RSS.
        withExtendedLifetime(document) {}
        FileHandle.standardOutput.write(try JSONEncoder().encode(timing))
    }
}
