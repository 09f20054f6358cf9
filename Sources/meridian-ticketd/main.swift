import ArgumentParser
import BoothConfig
import Dispatch
import Foundation
import Logging
import MeridianLogging
import TicketDaemon
import TicketStore
#if canImport(Glibc)
import Glibc
#endif

/// Prints one line per event: time, member, level, message (what the demo shows).
struct DaemonLogHandler: LogHandler {
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    let label: String

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = ts.tv_sec
        var tmv = tm()
        localtime_r(&t, &tmv)
        var buf = [CChar](repeating: 0, count: 24)
        strftime(&buf, 24, "%T", &tmv)
        let line = "\(String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)).\(String(format: "%03d", ts.tv_nsec / 1_000_000)) \(label) \(event.level.rawValue.uppercased()): \(event.message)\n"
        writeStderr(line)
    }
}

@main
struct TicketDaemonCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meridian-ticketd",
        abstract: "Booth-compatible geo ticket daemon: one per site and per arbitrator.",
        discussion: """
            Binds UDP and TCP on the member's own address (port from booth.conf) and runs the \
            ticket lease protocol with the other members. Sites hand ticket state to a backend: \
            a state file per ticket (default) or Pacemaker's crm_ticket.
            """,
        subcommands: [Run.self, LeaseGuardCommand.self],
        defaultSubcommand: Run.self)
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the daemon (default).")

    @Option(name: .long, help: "booth.conf to read.")
    var config: String = "/etc/booth/booth.conf"
    @Option(name: .long, help: "Run as the site with this address.")
    var site: String?
    @Option(name: .long, help: "Run as the arbitrator with this address.")
    var arbitrator: String?
    @Option(name: .long, help: "Directory for the protocol state (default /var/lib/meridian/ticketd/ADDR).")
    var stateDir: String?
    @Option(name: .long, help: "Ticket backend for sites: statefile, crm_ticket or none.")
    var backend: String = "statefile"
    @Option(name: .long, help: "Directory of the state-file backend (default /var/lib/meridian/tickets).")
    var backendDir: String = "/var/lib/meridian/tickets"
    @Option(name: .long, help: "crm_ticket command for the crm_ticket backend.")
    var crmTicket: String = "crm_ticket"
    @Option(name: .long, help: "Clock drift bound in ppm the lease margin allows for.")
    var driftBoundPpm: Int64 = 500
    @Flag(name: .long, help: "Do not start the lease guard that revokes grants if this daemon dies.")
    var noLeaseGuard = false
    @Option(name: .long, help: "Test hook: file of member addresses to drop packets to and from.")
    var dropFile: String?
    @Option(name: .long, help: "Log level: debug, info, notice, warning, error.")
    var logLevel: String = "info"
    @Option(name: .long, help: "Also log to this file, through libqb (corosync's and pacemaker's line layout).")
    var logFile: String?
    @Flag(name: .long, help: "Also log to syslog (facility daemon), through libqb.")
    var syslog = false

    func validate() throws {
        if (site == nil) == (arbitrator == nil) {
            throw ValidationError("give exactly one of --site ADDR or --arbitrator ADDR (the member this daemon is)")
        }
        if !["statefile", "crm_ticket", "none"].contains(backend) {
            throw ValidationError("--backend must be statefile, crm_ticket or none (got \"\(backend)\")")
        }
        if Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func run() throws {
        let address = site ?? arbitrator!
        let label = "ticketd[\(address)]"
        let level = Logger.Level(rawValue: logLevel)!
        let viaLibqb = logFile != nil || syslog
        if viaLibqb {
            if let problem = MeridianLogging.configure(
                name: "meridian-ticketd", toSyslog: syslog, toStderr: false, logFile: logFile) {
                writeStderr("meridian-ticketd: \(problem.message); hint: \(problem.hint)\n")
            }
        }
        LoggingSystem.bootstrap { _ in
            var h = DaemonLogHandler(label: label)
            h.logLevel = level
            guard viaLibqb else { return h }
            return MultiplexLogHandler([
                h, MeridianLogging.makeHandler(label: label, name: "meridian-ticketd", level: level, backend: .libqb),
            ])
        }
        let logger = Logger(label: label)
        let kind: BoothConfiguration.MemberKind = site != nil ? .site : .arbitrator
        var b: DaemonOptions.Backend = .none
        if kind == .site {
            switch backend {
            case "statefile": b = .stateFile(backendDir)
            case "crm_ticket": b = .crmTicket(crmTicket)
            default: b = .none
            }
        }
        var options = DaemonOptions(configPath: config, address: address, kind: kind,
                                    stateDirectory: stateDir ?? "/var/lib/meridian/ticketd/\(address)", backend: b)
        options.driftBoundPPM = driftBoundPpm
        options.dropFile = dropFile
        if !noLeaseGuard, kind == .site { options.leaseGuardExecutable = CommandLine.executablePath }
        let daemon: TicketDaemon
        do { daemon = try TicketDaemon(options: options, logger: logger) } catch {
            writeStderr("meridian-ticketd: \(error)\n")
            throw ExitCode(2)
        }
        unblockSignals()
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        let sources = [SIGTERM, SIGINT].map { sig -> DispatchSourceSignal in
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { daemon.shutdown() }
            s.resume()
            return s
        }
        defer { sources.forEach { $0.cancel() } }
        do { try daemon.run() } catch {
            writeStderr("meridian-ticketd: \(error)\n")
            throw ExitCode(1)
        }
    }
}

struct LeaseGuardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lease-guard",
        abstract: "Internal: revokes this site's grants at their deadline if the daemon dies.",
        shouldDisplay: false)

    @Option var backend: String
    @Option var backendDir: String?
    @Option var crmTicket: String = "crm_ticket"

    func run() throws {
        unblockSignals()
        signal(SIGTERM, SIG_DFL)
        signal(SIGINT, SIG_IGN)  // a ^C to the daemon's terminal must not kill the guard
        setsid()
        let b: any TicketBackend = backend == "crm_ticket"
            ? CrmTicketBackend(command: crmTicket) : try StateFileBackend(directory: backendDir ?? ".")
        LeaseGuard.run(backend: b, input: FileHandle.standardInput) { writeStderr("meridian-ticketd: \($0)\n") }
    }
}

extension CommandLine {
    static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? arguments[0]
    }
}

/// Writes to standard error with one write(2), so lines from several threads do not interleave.
func writeStderr(_ s: String) {
    var bytes = Array(s.utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}

/// A parent that started us through Foundation's Process may leave signals blocked; SIGTERM
/// must reach the daemon (and its lease guard) whoever started it.
func unblockSignals() {
    var none = sigset_t()
    sigemptyset(&none)
    sigprocmask(SIG_SETMASK, &none, nil)
}
