// Finding the Pacemaker reference corpus and comparing score lines.
import CIB
import Foundation
import Scheduler

enum Corpus {
    /// The package root, derived from this file's path (Tests/SchedulerTests/CorpusSupport.swift).
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `$MERIDIAN_SHARED/corpus/pacemaker-scheduler`, else `../shared/corpus/pacemaker-scheduler`.
    static let directory: URL = {
        if let shared = ProcessInfo.processInfo.environment["MERIDIAN_SHARED"], !shared.isEmpty {
            return URL(fileURLWithPath: shared).appendingPathComponent("corpus/pacemaker-scheduler")
        }
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/corpus/pacemaker-scheduler")
    }()

    static func caseNames() -> [String] {
        let cases = directory.appendingPathComponent("cases")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: cases.path)) ?? []
        return names.filter {
            FileManager.default.fileExists(atPath: cases.appendingPathComponent("\($0)/scores.txt").path)
        }.sorted()
    }

    static func file(_ name: String, _ file: String) -> URL {
        directory.appendingPathComponent("cases/\(name)/\(file)")
    }

    /// Case names listed in scores-known-failures.txt (`name  # reason`), with their reasons.
    static func knownFailures() -> [String: String] {
        let url = packageRoot.appendingPathComponent("Tests/SchedulerTests/scores-known-failures.txt")
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

    /// Whitespace dropped, as Pacemaker's runner compares (`diff --ignore-all-space`).
    static func normalized(_ line: some StringProtocol) -> String {
        String(line.filter { !$0.isWhitespace })
    }

    /// The resource named by a score line (`kind: RSC allocation score on NODE: S`).
    static func resource(ofLine line: Substring) -> (kind: ScoreKind, resource: String)? {
        if let promotion = line.range(of: " promotion score on ") {
            return (.promotion, String(line[..<promotion.lowerBound]))
        }
        guard let colon = line.firstIndex(of: ":"),
            let kind = ScoreKind(rawValue: String(line[..<colon]))
        else { return nil }
        let rest = line[line.index(after: colon)...].drop { $0 == " " }
        guard let end = rest.range(of: " allocation score on ") else { return nil }
        return (kind, String(rest[..<end.lowerBound]))
    }
}
