// Comparing Meridian's output with a corpus case's files the way Pacemaker's runner does
// (`diff --ignore-all-space --ignore-blank-lines`), and keeping the tally of a corpus test
// against its known-failures file.
import Foundation

/// Text comparison as Pacemaker's runner does it.
public enum CorpusText {
    /// The part of a `simulate.txt` before "Transition Summary:" (preamble and current status).
    public static func currentStatus(ofSimulation text: String) -> String {
        var lines: [Substring] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("Transition Summary:") { break }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    /// A line without its whitespace.
    public static func normalized(_ line: some StringProtocol) -> String {
        String(line.filter { !$0.isWhitespace })
    }

    /// The lines as `diff --ignore-all-space --ignore-blank-lines` compares them.
    public static func normalizedLines(_ text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false).map(normalized).filter { !$0.isEmpty }
    }

    /// Nil when the texts are the same for the runner's diff, else a short listing of the
    /// first `limit` lines that differ (by position).
    public static func difference(expected: String, actual: String, limit: Int = 6) -> String? {
        let e = normalizedLines(expected)
        let a = normalizedLines(actual)
        if e == a { return nil }
        var out: [String] = []
        for index in 0..<max(e.count, a.count) {
            let left = index < e.count ? e[index] : "<none>"
            let right = index < a.count ? a[index] : "<none>"
            if left != right {
                out.append("  line \(index + 1):\n    expected: \(left)\n    actual:   \(right)")
                if out.count >= limit { break }
            }
        }
        return out.joined(separator: "\n")
    }
}

/// The lines of a `scores.txt` (`KIND: RSC allocation score on NODE: S`, or
/// `RSC promotion score on NODE: S` of kind `promotion`), compared kind by kind.
public enum ScoreLines {
    /// The kind and resource of a score line; nil for other lines.
    public static func parse(_ line: some StringProtocol) -> (kind: String, resource: String)? {
        let line = Substring(line)
        if let promotion = line.range(of: " promotion score on ") {
            return ("promotion", String(line[..<promotion.lowerBound]))
        }
        guard let colon = line.firstIndex(of: ":") else { return nil }
        let rest = line[line.index(after: colon)...].drop { $0 == " " }
        guard let end = rest.range(of: " allocation score on ") else { return nil }
        return (String(line[..<colon]), String(rest[..<end.lowerBound]))
    }

    /// What comparing a case's expected lines with the produced ones found.
    public struct Comparison: Sendable {
        /// The kinds whose compared lines are the same.
        public var matchingKinds: [String] = []
        /// For each kind that differs, the first lines missing and produced in excess.
        public var problems: [String] = []
        /// Expected lines of the `kinds` whose resource is not covered (not compared).
        public var uncompared = 0
    }

    /// Compares, for each of `kinds`, the expected lines of the resources that `covered`
    /// names for that kind with the `produced` lines of that kind (whitespace ignored, order
    /// ignored).
    public static func compare(
        expected text: String, produced: [(kind: String, line: String)], covered: [String: Set<String>],
        kinds: [String]
    ) -> Comparison {
        var result = Comparison()
        let parsed = text.split(separator: "\n").compactMap { line in parse(line).map { (line, $0) } }
        for kind in kinds {
            let ofKind = parsed.filter { $0.1.kind == kind }
            let isCovered = { (resource: String) in covered[kind]?.contains(resource) ?? false }
            result.uncompared += ofKind.filter { !isCovered($0.1.resource) }.count
            let expected = ofKind.filter { isCovered($0.1.resource) }.map { CorpusText.normalized($0.0) }.sorted()
            let actual = produced.filter { $0.kind == kind }.map { CorpusText.normalized($0.line) }.sorted()
            if expected == actual {
                result.matchingKinds.append(kind)
            } else {
                let missing = expected.filter { !actual.contains($0) }.prefix(4)
                let extra = actual.filter { !expected.contains($0) }.prefix(4)
                result.problems.append(
                    "\(kind): expected not produced: \(Array(missing))\n  produced not expected: \(Array(extra))")
            }
        }
        return result
    }
}

/// The tally of a corpus test: which cases matched, and how that agrees with the test's
/// known-failures file (`name  # reason`).
public struct CorpusTally: Sendable {
    /// The listed cases and their reasons.
    public let known: [String: String]
    /// The cases recorded.
    public private(set) var names: [String] = []
    /// The cases that did not match.
    public private(set) var mismatches: [String] = []

    /// A tally against the known-failures file at `path` (relative to the package root).
    public init(knownFailuresAt path: String) {
        known = PacemakerCorpus.knownFailures(at: path)
    }

    /// Records a case, `problem` nil when it matched; returns whether the problem is worth
    /// printing (the case is not listed, or `verbose`).
    public mutating func record(_ name: String, problem: String?, verbose: Bool = false) -> Bool {
        names.append(name)
        guard problem != nil else { return false }
        mismatches.append(name)
        return verbose || known[name] == nil
    }

    /// The number of cases that matched.
    public var matches: Int { names.count - mismatches.count }
    /// Cases that do not match and are not listed.
    public var unexpected: [String] { mismatches.filter { known[$0] == nil } }
    /// Listed cases that match now.
    public var fixed: [String] { names.filter { known[$0] != nil && !mismatches.contains($0) } }
    /// Listed names that are no case of the set.
    public var unknownListed: [String] { known.keys.filter { !names.contains($0) }.sorted() }

    /// `label: M/N match (K listed as known failures)`.
    public func summary(_ label: String) -> String {
        "\(label): \(matches)/\(names.count) match (\(known.count) listed as known failures)"
    }
}
