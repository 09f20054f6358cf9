import BoothConfig
import TicketClient
import TicketWire

/// What every `meridian ticket` command needs: the loaded configuration, the member to talk
/// to and a client. Turns the client's errors into ``CLIFailure``s with their exit status.
struct TicketSession {
    let options: MemberOptions
    let configuration: BoothConfiguration
    let member: BoothConfiguration.Member
    let client: TicketClient

    init(_ options: MemberOptions) throws(CLIFailure) {
        self.options = options
        let configuration: BoothConfiguration
        do {
            configuration = try BoothConfiguration.load(path: options.config)
        } catch {
            throw CLIFailure(.usage, verbatim: error.description)
        }
        for warning in configuration.warnings { Output.error(warning.description) }
        self.configuration = configuration
        self.member = try Self.resolveMember(options.site, in: configuration, configPath: options.config)
        var clientOptions = TicketClient.Options()
        if let source = options.source { clientOptions.sourceAddress = .address(source) }
        if let timeout = options.timeout {
            clientOptions.connectTimeout = .milliseconds(Int64(timeout * 1000))
            clientOptions.replyTimeout = .milliseconds(Int64(timeout * 1000))
        }
        do {
            client = try TicketClient.loadingAuthKey(configuration: configuration, options: clientOptions)
        } catch {
            throw CLIFailure(.usage, verbatim: "\(error.path): error: \(error.message)\n  fix: \(error.fix)")
        }
    }

    /// `--site`, or the only member whose address is configured on this host.
    static func resolveMember(
        _ site: String?, in configuration: BoothConfiguration, configPath: String
    ) throws(CLIFailure) -> BoothConfiguration.Member {
        let all = configuration.members.map { "\($0.address) (\($0.kind.rawValue))" }.joined(separator: ", ")
        if let site {
            guard let m = configuration.member(address: site) else {
                throw CLIFailure(
                    .usage, "\(site) is not a member in \(configPath)",
                    fix: "pass --site with one of: \(all)")
            }
            return m
        }
        let local = LocalAddresses.current()
        let candidates = configuration.members.filter { m in m.addressBytes.map(local.contains) ?? false }
        switch candidates.count {
        case 1:
            return candidates[0]
        case 0:
            throw CLIFailure(
                .usage, "no member address of \(configPath) is configured on this host",
                fix: "pass --site with the member to talk to: \(all)")
        default:
            let names = candidates.map(\.address).joined(separator: ", ")
            throw CLIFailure(
                .usage, "several member addresses of \(configPath) are configured on this host (\(names))",
                fix: "pass --site with the member to talk to")
        }
    }

    /// The configured ticket with this name; with no name, the only configured ticket.
    func ticket(named name: String?) throws(CLIFailure) -> TicketConfiguration {
        let names = configuration.tickets.map(\.name).joined(separator: ", ")
        guard let name else {
            guard configuration.tickets.count == 1 else {
                throw CLIFailure(
                    .usage, "no ticket given, and \(options.config) has \(configuration.tickets.count) tickets",
                    fix: "name one of: \(names)")
            }
            return configuration.tickets[0]
        }
        guard let t = configuration.ticket(named: name) else {
            throw CLIFailure(
                .unknownTicket, "ticket \"\(name)\" is not in \(options.config)",
                fix: configuration.tickets.isEmpty ? "configure it with `ticket = \"\(name)\"`" : "configured tickets: \(names)")
        }
        return t
    }

    func list() throws(CLIFailure) -> TicketClient.TicketList {
        do {
            return try client.list(at: member.address)
        } catch {
            throw failure(error)
        }
    }

    func peers() throws(CLIFailure) -> TicketClient.PeerList {
        do {
            return try client.peers(at: member.address)
        } catch {
            throw failure(error)
        }
    }

    /// Grant or revoke, printing booth's messages; returns normally only on success.
    func change(_ command: BoothCommand, ticket name: String?, options: BoothClientOptions) throws(CLIFailure) {
        let op = command == .grant ? "grant" : "revoke"
        let ticket = try ticket(named: name)
        guard member.kind == .site else {
            let sites = configuration.sites.map(\.address).joined(separator: ", ")
            throw CLIFailure(
                .usage, "\(member.address) is an arbitrator; arbitrators cannot \(op) tickets",
                fix: "pass --site with one of the sites: \(sites)")
        }
        var client = client
        if self.options.timeout == nil {
            client.options.replyTimeout = Self.replyTimeout(for: ticket, options: options)
        }
        let outcome: TicketClient.CommandOutcome
        do {
            outcome = try client.command(command, ticket: ticket.name, options: options, at: member.address) {
                switch $0 {
                case .notice(.requestSent): print("\(op) request sent, waiting for the result ...")
                case .notice(.waitingForCommit): print("waiting for the CIB commit ...")
                case .redirected(let from, let to):
                    print("ticket \(ticket.name) is granted at \(to), not at \(from): sending the \(op) there")
                }
            }
        } catch {
            throw failure(error)
        }
        let at = outcome.answeredBy
        switch outcome.result {
        case .succeeded(let commitPending):
            print(commitPending ? "\(op) succeeded (CIB commit pending)" : "\(op) succeeded!")
        case .asynchronous:
            throw CLIFailure(
                .pending, "\(op) command sent, result will be returned asynchronously",
                fix: "use `meridian ticket list` to see the outcome")
        case .gaveUpWaiting:
            throw CLIFailure(
                .pending, "giving up on waiting for the definite result",
                fix: "use `meridian ticket list` later to see the outcome, or pass --wait")
        case .overgrant:
            let holder = outcome.ticket.flatMap { address(ofSite: $0.leader) }.map { " (held by \($0))" } ?? ""
            throw CLIFailure(
                .refused,
                "You're granting a granted ticket\(holder). If you wanted to migrate a ticket, "
                    + "use revoke first, then use grant.")
        case .notOwned:
            throw CLIFailure(.notOwned, "ticket is not owned", fix: "ticket \(ticket.name) is not granted anywhere")
        case .failed:
            throw CLIFailure(.refused, "\(op) failed!", fix: "see the ticket daemon's log at \(at)")
        case .unknownTicket:
            throw CLIFailure(
                .unknownTicket, "ticket \"\(ticket.name)\" does not exist at \(at)",
                fix: "the daemon at \(at) runs with a configuration without this ticket; "
                    + "make its booth.conf the same as \(self.options.config)")
        case .authenticationRejected:
            throw authenticationFailure(address: at)
        case .handlerFailed:
            throw CLIFailure(.refused, "before-acquire-handler for ticket \"\(ticket.name)\" failed, grant denied")
        case .attributePrerequisiteFailed:
            throw CLIFailure(.refused, "attr-prereq for ticket \"\(ticket.name)\" failed, grant denied")
        case .redirectToUnknownSite(let id):
            throw CLIFailure(
                .refused,
                id == BoothWire.noOne
                    ? "\(at) says ticket \(ticket.name) is held elsewhere but names no holder"
                    : "\(at) redirected the request to site id 0x\(String(id, radix: 16)), which is not a member in \(self.options.config)",
                fix: "try again in a moment; check that all members use the same configuration")
        case .tooManyRedirects:
            throw CLIFailure(
                .refused, "the members keep redirecting the \(op) of \(ticket.name) (last: \(at))",
                fix: "check `meridian ticket list` at each site; the members disagree on the holder")
        case .unexpected(let result):
            throw CLIFailure(.refused, "\(op) failed: the daemon at \(at) answered with result code \(result)")
        }
    }

    /// How long to wait for each grant/revoke reply: an election may take the ticket's
    /// `timeout * (retries + 1)`, twice over (a retry round after a lost vote), plus
    /// acquire-after; with -C, the commit may be delayed by a whole lease.
    static func replyTimeout(for ticket: TicketConfiguration, options: BoothClientOptions) -> Duration {
        var d = ticket.timeout * ((ticket.retries + 1) * 2) + ticket.acquireAfter + .seconds(5)
        if options.contains(.waitCommit) { d += ticket.expire }
        return max(d, .seconds(10))
    }

    private func address(ofSite id: UInt32) -> String? {
        configuration.members.first { SiteID.compute(address: $0.address) == id }?.address
    }

    private func authenticationFailure(address: String) -> CLIFailure {
        CLIFailure(
            .authentication, "the ticket daemon at \(address) port \(configuration.port) refused the request: authentication failed",
            fix: configuration.authFile == nil
                ? "the daemon uses an authfile; add the same `authfile = ...` to \(options.config)"
                : "make \(configuration.authFile!) the same key as the daemon's, and keep the clocks within maxtimeskew")
    }

    /// The client's operating errors as the CLI reports them.
    func failure(_ error: TicketClientError) -> CLIFailure {
        let role = member.kind == .arbitrator ? "--arbitrator" : "--site"
        let start = "meridian-ticketd --config \(options.config) \(role) \(member.address)"
        switch error {
        case .unreachable(let address, _, _):
            return CLIFailure(
                .unreachable, error.description,
                fix: "start the ticket daemon there (`\(start)`), or check --site \(address) and the port in \(options.config)")
        case .timedOut(_, _, _, let pending):
            return pending
                ? CLIFailure(
                    .pending, error.description,
                    fix: "use `meridian ticket list` later to see the outcome, or pass a longer --timeout")
                : CLIFailure(
                    .unreachable, error.description,
                    fix: "check that the ticket daemon runs (`\(start)`) and that no firewall drops the connection")
        case .badReply:
            return CLIFailure(
                .unreachable, error.description,
                fix: "check that a booth ticket daemon (not another service) listens on port \(configuration.port)")
        case .authenticationRejected(let address, _):
            return authenticationFailure(address: address)
        case .replyAuthentication:
            return CLIFailure(
                .authentication, error.description,
                fix: "make the authfile of \(options.config) the same as the daemon's (or both absent)")
        case .sourceAddress:
            return CLIFailure(
                .usage, error.description, fix: "pass --source with an address of this host")
        case .badAddress:
            return CLIFailure(.usage, error.description, fix: "write members as IP addresses in \(options.config)")
        }
    }
}
