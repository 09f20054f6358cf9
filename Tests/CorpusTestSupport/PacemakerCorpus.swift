// Finding the Pacemaker reference corpus (../shared/corpus/pacemaker-scheduler) and reading
// the known-failures files of the tests that compare against it.
import Foundation

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

    /// The names of the cases that have `file`, sorted.
    public static func caseNames(having file: String) -> [String] {
        let cases = directory.appendingPathComponent("cases")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: cases.path)) ?? []
        return names.filter {
            FileManager.default.fileExists(atPath: cases.appendingPathComponent("\($0)/\(file)").path)
        }.sorted()
    }

    public static func file(_ name: String, _ file: String) -> URL {
        directory.appendingPathComponent("cases/\(name)/\(file)")
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
