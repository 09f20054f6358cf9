import Foundation
import Logging
import MeridianLogging
import Testing

/// One log line in corosync's layout: `Nov 22 04:14:31.123 [6862] host meridian-test notice  [label] message`.
struct LogLine {
    var pid: Int
    var host: String
    var name: String
    var priority: String
    var body: String

    init?(_ line: Substring) {
        let pattern = #/^[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d\.\d{3} \[(\d+)\] (\S+) (\S+) (\S+) +(.*)$/#
        guard let match = line.wholeMatch(of: pattern), let pid = Int(match.1) else { return nil }
        self.pid = pid
        host = String(match.2)
        name = String(match.3)
        priority = String(match.4)
        body = String(match.5)
    }
}

func readLines(_ path: String) throws -> [Substring] {
    try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
}

/// Removes the temporary directory a `temporaryPath` lives in.
func removeTemporaryDirectory(of path: String) {
    try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent)
}

func temporaryPath(_ name: String) throws -> String {
    let directory = NSTemporaryDirectory() + "meridian-logging-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    return directory + "/" + name
}

/// Logs at whatever level it is given from one call site (a shared helper, as daemons often have).
func logAt(_ logger: Logger, _ level: Logger.Level, _ message: String) {
    logger.log(level: level, "\(message)")
}

// libqb's configuration is global to the process, so these tests run one at a time.
@Suite("libqb logging", .serialized)
struct LoggingTests {
    @Test("lines written through libqb to a file look like corosync's, with the right priorities")
    func libqbFileTarget() throws {
        let path = try temporaryPath("meridian.log")
        defer { removeTemporaryDirectory(of: path) }
        #expect(MeridianLogging.configure(name: "meridian-test", toSyslog: false, toStderr: false) == nil)
        let file = try QBLog.openFile(at: path)
        #expect(file.path == path)
        #expect(try QBLog.openFile(at: path) == file)

        var logger = Logger(label: "ticket") { QBLogHandler(label: $0, logLevel: .trace) }
        logger[metadataKey: "site"] = "site-a"
        logger.notice("granted ticket-A", metadata: ["term": "7"])
        logger.debug("renewing")
        logger.trace("tick")
        logger.error("first line\nsecond line")
        logAt(logger, .warning, "from the helper")
        logAt(logger, .critical, "from the helper again")
        logAt(logger, .info, "and once more")
        logger.info("\(String(repeating: "x", count: 1000))")
        QBLog.close(file)

        let lines = try readLines(path)
        let parsed = lines.compactMap(LogLine.init)
        #expect(parsed.count == lines.count, "every line has corosync's layout: \(lines)")
        #expect(parsed.allSatisfy { $0.name == "meridian-test" && $0.pid == Int(getpid()) })
        let expected: [(String, String)] = [
            ("notice", "[ticket] granted ticket-A site=site-a term=7"),
            ("debug", "[ticket] renewing site=site-a"),
            ("trace", "[ticket] tick site=site-a"),
            ("error", "[ticket] first line"),
            ("error", "[ticket] second line site=site-a"),
            ("warning", "[ticket] from the helper site=site-a"),
            ("crit", "[ticket] from the helper again site=site-a"),
            ("info", "[ticket] and once more site=site-a"),
        ]
        #expect(parsed.prefix(expected.count).map { $0.priority } == expected.map(\.0))
        #expect(parsed.prefix(expected.count).map { $0.body } == expected.map(\.1))
        // The long message is split, not truncated by libqb's 512-byte line limit.
        let long = parsed.dropFirst(expected.count)
        #expect(long.count == 3)
        #expect(long.map { $0.body.count(where: { $0 == "x" }) }.reduce(0, +) == 1000)
        #expect(lines.allSatisfy { $0.utf8.count < 512 })
        // The priority column is padded like corosync's %-7p.
        #expect(lines.first?.contains(" meridian-test notice  [ticket] ") == true)
    }

    @Test("the handler's level filters messages")
    func levels() throws {
        let path = try temporaryPath("levels.log")
        defer { removeTemporaryDirectory(of: path) }
        MeridianLogging.configure(name: "meridian-test", toStderr: false)
        let file = try QBLog.openFile(at: path)
        let logger = Logger(label: "lease") { QBLogHandler(label: $0, logLevel: .warning) }
        logger.info("hidden")
        logger.debug("hidden")
        logger.warning("shown")
        QBLog.close(file)
        let bodies = try readLines(path).compactMap(LogLine.init).map(\.body)
        #expect(bodies == ["[lease] shown"])
    }

    @Test("many threads logging at once lose no line")
    func concurrentWriters() async throws {
        let path = try temporaryPath("concurrent.log")
        defer { removeTemporaryDirectory(of: path) }
        MeridianLogging.configure(name: "meridian-test", toStderr: false)
        let file = try QBLog.openFile(at: path)
        await withTaskGroup(of: Void.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    let logger = Logger(label: "writer-\(writer)") { QBLogHandler(label: $0, logLevel: .info) }
                    for index in 0..<50 { logger.info("message \(index)") }
                }
            }
        }
        QBLog.close(file)
        let bodies = try readLines(path).compactMap(LogLine.init).map(\.body)
        #expect(bodies.count == 400)
        #expect(Set(bodies).count == 400)
    }

    @Test("an unwritable log file is reported with the path and the reason")
    func unwritableLogFile() {
        let problem = MeridianLogging.configure(
            name: "meridian-test", toStderr: false, logFile: "/nonexistent-meridian-dir/meridian.log")
        #expect(problem?.message.contains("/nonexistent-meridian-dir/meridian.log") == true)
        #expect(problem?.message.contains("No such file or directory") == true)
        #expect(problem?.hint.isEmpty == false)
        #expect(MeridianLogging.configure(name: "x", logFile: "/tmp/x.log", backend: .plainStderr) != nil)
    }

    @Test("the plain handler writes the same layout to a pipe")
    func plainHandlerToPipe() throws {
        var descriptors: [Int32] = [0, 0]
        try #require(pipe(&descriptors) == 0)
        defer { close(descriptors[0]) }
        let logger = Logger(label: "replica") {
            PlainLogHandler(label: $0, name: "meridian-replicad", fileDescriptor: descriptors[1], logLevel: .debug)
        }
        logger.notice("volume r0 connected", metadata: ["peer": "site-b"])
        logger.debug("two\nlines")
        logger.trace("filtered")
        close(descriptors[1])
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(descriptors[0], &buffer, buffer.count)
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
        let parsed = lines.compactMap(LogLine.init)
        #expect(parsed.count == 3, "\(lines)")
        #expect(parsed.map(\.name) == ["meridian-replicad", "meridian-replicad", "meridian-replicad"])
        #expect(parsed.map(\.priority) == ["notice", "debug", "debug"])
        #expect(
            parsed.map(\.body) == ["[replica] volume r0 connected peer=site-b", "[replica] two", "[replica] lines"])
        #expect(lines.first?.contains(" meridian-replicad notice  [replica] ") == true)
    }

    @Test("without libqb started, the libqb handler falls back to stderr")
    func fallbackToStderr() throws {
        QBLog.stop()
        #expect(!QBLog.isStarted)
        let path = try temporaryPath("stderr")
        defer { removeTemporaryDirectory(of: path) }
        let capture = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try #require(capture >= 0)
        let saved = dup(2)
        dup2(capture, 2)
        Logger(label: "fallback") { QBLogHandler(label: $0) }.warning("libqb is not started")
        dup2(saved, 2)
        close(saved)
        close(capture)
        let lines = try readLines(path).filter { $0.contains("[fallback]") }
        #expect(lines.count == 1)
        let line = try #require(lines.first.flatMap(LogLine.init))
        #expect(line.priority == "warning")
        #expect(line.body == "[fallback] libqb is not started")

        // libqb starts again after a stop.
        let logPath = try temporaryPath("restart.log")
        defer { removeTemporaryDirectory(of: logPath) }
        MeridianLogging.configure(name: "meridian-test", toStderr: false, logFile: logPath)
        Logger(label: "again") { QBLogHandler(label: $0) }.notice("back")
        QBLog.stop()
        #expect(try readLines(logPath).compactMap(LogLine.init).map(\.body) == ["[again] back"])
    }
}
