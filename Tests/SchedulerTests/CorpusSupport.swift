// Finding the Pacemaker reference corpus and comparing score lines.
import CIB
import CorpusTestSupport
import Foundation
import Scheduler

enum Corpus {
    static var packageRoot: URL { PacemakerCorpus.packageRoot }
    static var directory: URL { PacemakerCorpus.directory }

    static func caseNames() -> [String] { PacemakerCorpus.caseNames(having: "scores.txt") }

    static func file(_ name: String, _ file: String) -> URL { PacemakerCorpus.file(name, file) }

    /// Case names listed in scores-known-failures.txt (`name  # reason`), with their reasons.
    static func knownFailures() -> [String: String] {
        PacemakerCorpus.knownFailures(at: "Tests/SchedulerTests/scores-known-failures.txt")
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
