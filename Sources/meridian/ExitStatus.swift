/// The one exit-code table of the `meridian` CLI. Every command exits with one of these;
/// `meridian ticket --help` and Docs/cli.md show the table.
///
/// Invariant: a failure never exits 0 (unlike Booth 1.0's client, which exits 0 after
/// "ticket is not owned" or after refusing to grant at an arbitrator).
enum ExitStatus: Int32, CaseIterable, Sendable {
    case success = 0
    case refused = 1
    case usage = 2
    case unreachable = 3
    case authentication = 4
    case unknownTicket = 5
    case pending = 6
    case notOwned = 7

    var meaning: String {
        switch self {
        case .success: "success"
        case .refused:
            "operation refused or failed (overgrant, election failed, before-acquire-handler failed, attr-prereq not met, "
                + "volume state change refused)"
        case .usage:
            "usage or configuration error (bad option, booth.conf or authfile error, no such member, "
                + "grant or revoke at an arbitrator)"
        case .unreachable: "daemon (ticket or replica) unreachable, or no answer in time"
        case .authentication:
            "authentication failed (authfile keys differ, or clocks further apart than maxtimeskew)"
        case .unknownTicket: "unknown ticket or resource"
        case .pending:
            "result still pending: the daemon took the request but its outcome was not awaited "
                + "(use --wait)"
        case .notOwned: "ticket not granted (revoke of a free ticket)"
        }
    }

    /// The table as shown in help text: wrapped to fit 80 columns with a hanging indent
    /// (ArgumentParser re-wraps only lines longer than the terminal).
    static var table: String {
        let indent = "     "
        let width = 78
        var lines = ["EXIT STATUS"]
        for status in allCases {
            var line = "  \(status.rawValue)  "
            for word in status.meaning.split(separator: " ") {
                if line.count + 1 + word.count > width, line.count > indent.count {
                    lines.append(line)
                    line = indent + word
                } else {
                    line += (line.hasSuffix(" ") ? "" : " ") + word
                }
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}
