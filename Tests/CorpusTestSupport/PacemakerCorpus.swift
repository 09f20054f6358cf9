// Finding the Pacemaker reference corpora (../shared/corpus/pacemaker-scheduler, and the
// second set in Tests/Corpus/scheduler-extra) and reading the known-failures files of the
// tests that compare against them.
import Foundation

/// A set of Pacemaker scheduler reference cases: a directory holding `cases/NAME/FILE`
/// (`input.xml`, `simulate.txt`, `scores.txt`, ... and `args.txt` where a case needs extra
/// crm_simulate arguments, one argument a line).
public struct CorpusSet: Sendable, Hashable, CustomStringConvertible {
    /// The directory that holds `cases/`.
    public let directory: URL

    /// A set at `directory`.
    public init(directory: URL) {
        self.directory = directory
    }

    /// The 313 cases of `../shared/corpus/pacemaker-scheduler` (see ``PacemakerCorpus/directory``).
    public static var shared: CorpusSet { CorpusSet(directory: PacemakerCorpus.directory) }

    /// The second set, `Tests/Corpus/scheduler-extra` in the package (made by
    /// `scripts/make-scheduler-corpus`).
    public static var extra: CorpusSet {
        CorpusSet(directory: PacemakerCorpus.packageRoot.appendingPathComponent("Tests/Corpus/scheduler-extra"))
    }

    public var description: String { directory.path }

    /// The names of the cases that have `file`, sorted.
    public func caseNames(having file: String) -> [String] {
        let cases = directory.appendingPathComponent("cases")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: cases.path)) ?? []
        return names.filter {
            FileManager.default.fileExists(atPath: cases.appendingPathComponent("\($0)/\(file)").path)
        }.sorted()
    }

    /// The URL of a case's file.
    public func file(_ name: String, _ file: String) -> URL {
        directory.appendingPathComponent("cases/\(name)/\(file)")
    }

    /// The extra crm_simulate arguments of a case (`args.txt`), none when it has no such file.
    public func arguments(_ name: String) -> [String] {
        guard let text = try? String(contentsOf: file(name, "args.txt"), encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }

    /// The `now` to unpack a case with, as crm_simulate had it: the date given by `-t`/`--date`
    /// in `args.txt`; else nil when the CIB has an `execution-date` (the unpacker uses it);
    /// else the clock (outputs made without a date are stable for any present or future date).
    /// Throws when `args.txt` gives a date in a form this does not read.
    public func now(for name: String, hasExecutionDate: Bool) throws -> Date? {
        let arguments = arguments(name)
        if let flag = arguments.firstIndex(where: { $0 == "-t" || $0 == "--date" }) {
            let value = flag + 1 < arguments.count ? arguments[flag + 1] : ""
            guard let date = Self.date(value) else { throw UnreadableDate(text: value) }
            return date
        }
        return hasExecutionDate ? nil : Date()
    }

    /// A date argument this reader does not understand.
    public struct UnreadableDate: Error, CustomStringConvertible {
        public let text: String
        public var description: String { "date argument \"\(text)\" is not YYYY-MM-DD[ HH:MM:SS]" }
    }

    /// `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DDTHH:MM:SS`, in UTC (the set is made
    /// with TZ=UTC, and crm_simulate reads a date without an offset in local time).
    static func date(_ text: String) -> Date? {
        let fields = text.split(whereSeparator: { "-: T".contains($0) }).map { Int($0) }
        guard fields.count == 3 || fields.count == 6, !fields.contains(nil) else { return nil }
        let numbers = fields.compactMap { $0 }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let components = DateComponents(
            year: numbers[0], month: numbers[1], day: numbers[2],
            hour: numbers.count == 6 ? numbers[3] : 0, minute: numbers.count == 6 ? numbers[4] : 0,
            second: numbers.count == 6 ? numbers[5] : 0)
        return calendar.date(from: components)
    }
}

public enum PacemakerCorpus {
    /// The package root, derived from this file's path (Tests/CorpusTestSupport/PacemakerCorpus.swift).
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `$MERIDIAN_SHARED/corpus/pacemaker-scheduler`, else `../shared/corpus/pacemaker-scheduler`
    /// next to the package root.
    public static let directory: URL = {
        if let shared = ProcessInfo.processInfo.environment["MERIDIAN_SHARED"], !shared.isEmpty {
            return URL(fileURLWithPath: shared).appendingPathComponent("corpus/pacemaker-scheduler")
        }
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/corpus/pacemaker-scheduler")
    }()

    /// The names of the shared set's cases that have `file`, sorted.
    public static func caseNames(having file: String) -> [String] {
        CorpusSet.shared.caseNames(having: file)
    }

    /// The URL of a shared case's file.
    public static func file(_ name: String, _ file: String) -> URL {
        CorpusSet.shared.file(name, file)
    }

    /// Case names listed in a known-failures file (`name  # reason`), with their reasons;
    /// `path` is relative to the package root.
    public static func knownFailures(at path: String) -> [String: String] {
        let url = packageRoot.appendingPathComponent(path)
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [:] }
        var result: [String: String] = [:]
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let parts = line.split(separator: "#", maxSplits: 1)
            let name = parts[0].trimmingCharacters(in: .whitespaces)
            result[name] = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
        }
        return result
    }
}
