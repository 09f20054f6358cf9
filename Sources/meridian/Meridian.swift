import ArgumentParser

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// `meridian`: the administrator's command line. One subcommand group per area; `ticket`
/// speaks Booth 1.0's client protocol to meridian-ticketd or boothd.
@main
struct Meridian: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meridian",
        abstract: "Manage a Meridian geo-cluster.",
        discussion: "Exit codes are the same for every command; see `meridian ticket --help`.",
        subcommands: [TicketCommand.self, VolumeCommand.self, DNSCommand.self, SimulateCommand.self])

    /// Runs the command line and exits with a code from ``ExitStatus``: usage errors exit 2
    /// (ArgumentParser's default is 64), help exits 0.
    static func main() {
        let status: Int32
        do {
            var command = try parseAsRoot()
            try command.run()
            status = ExitStatus.success.rawValue
        } catch let failure as CLIFailure {
            Output.error(failure.text)
            status = failure.status.rawValue
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { print(message) }
                status = 0
            } else {
                if !message.isEmpty { Output.error(message) }
                // ArgumentParser's usage errors (64) and any other of its codes: usage.
                status = ExitStatus(rawValue: code.rawValue) == nil ? ExitStatus.usage.rawValue : code.rawValue
            }
        }
        #if canImport(Glibc)
            Glibc.exit(status)
        #elseif canImport(Musl)
            Musl.exit(status)
        #else
            Darwin.exit(status)
        #endif
    }
}

/// A failure the CLI reports: the exit status and the message (with its fix) for stderr.
struct CLIFailure: Error {
    var status: ExitStatus
    var text: String

    init(_ status: ExitStatus, _ message: String, fix: String? = nil) {
        self.status = status
        self.text = "meridian: error: \(message)" + (fix.map { "\n  fix: \($0)" } ?? "")
    }

    /// A failure whose text is already complete (e.g. a `BoothConfigError` description).
    init(_ status: ExitStatus, verbatim: String) {
        self.status = status
        self.text = verbatim
    }
}
