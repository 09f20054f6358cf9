// Finding the Pacemaker reference corpus and comparing output as Pacemaker's runner does.
import CorpusTestSupport
import Foundation

enum Corpus {
    static var packageRoot: URL { PacemakerCorpus.packageRoot }
    static var directory: URL { PacemakerCorpus.directory }

    /// The case names, sorted.
    static func caseNames() -> [String] { PacemakerCorpus.caseNames(having: "input.xml") }

    static func file(_ name: String, _ file: String) -> URL { PacemakerCorpus.file(name, file) }

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

    /// Case names listed in a known-failures file of this target (`name  # reason`), with their reasons.
    static func knownFailures(_ file: String) -> [String: String] {
        PacemakerCorpus.knownFailures(at: "Tests/CIBTests/\(file)")
    }
}
