// Finding the Pacemaker reference corpus and comparing output as Pacemaker's runner does.
import Foundation

enum Corpus {
    /// The package root, derived from this file's path (Tests/CIBTests/CorpusSupport.swift).
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `$MERIDIAN_SHARED/corpus/pacemaker-scheduler`, else `../shared/corpus/pacemaker-scheduler`
    /// next to the package root.
    static let directory: URL = {
        if let shared = ProcessInfo.processInfo.environment["MERIDIAN_SHARED"], !shared.isEmpty {
            return URL(fileURLWithPath: shared).appendingPathComponent("corpus/pacemaker-scheduler")
        }
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/corpus/pacemaker-scheduler")
    }()

    /// The case names, sorted.
    static func caseNames() -> [String] {
        let cases = directory.appendingPathComponent("cases")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: cases.path)) ?? []
        return names.filter {
            FileManager.default.fileExists(atPath: cases.appendingPathComponent("\($0)/input.xml").path)
        }.sorted()
    }

    static func file(_ name: String, _ file: String) -> URL {
        directory.appendingPathComponent("cases/\(name)/\(file)")
    }

    /// The part of `simulate.txt` before "Transition Summary:" (preamble and current status).
    static func expectedStatus(_ name: String) throws -> String {
        let text = try String(contentsOf: file(name, "simulate.txt"), encoding: .utf8)
        var lines: [Substring] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("Transition Summary:") { break }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    /// Lines as `diff --ignore-all-space --ignore-blank-lines` compares them.
    static func normalized(_ text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.filter { !$0.isWhitespace } }
            .filter { !$0.isEmpty }
    }

    /// A small unified-style listing of the lines that differ.
    static func difference(expected: String, actual: String) -> String {
        let e = normalized(expected)
        let a = normalized(actual)
        var out: [String] = []
        let count = max(e.count, a.count)
        for index in 0..<count {
            let left = index < e.count ? e[index] : "<none>"
            let right = index < a.count ? a[index] : "<none>"
            if left != right {
                out.append("  line \(index + 1):\n    expected: \(left)\n    actual:   \(right)")
                if out.count >= 6 { break }
            }
        }
        return out.joined(separator: "\n")
    }

    /// Case names listed in a known-failures file (`name  # reason`), with their reasons.
    static func knownFailures(_ file: String) -> [String: String] {
        let url = packageRoot.appendingPathComponent("Tests/CIBTests/\(file)")
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
