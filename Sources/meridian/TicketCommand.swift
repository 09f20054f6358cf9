import ArgumentParser
import BoothConfig
import TicketClient
import TicketWire

/// `meridian ticket ...`: tickets through Booth 1.0's client protocol, against
/// meridian-ticketd or Debian's boothd.
struct TicketCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ticket",
        abstract: "List, grant and revoke tickets; show a member's peers.",
        discussion: """
            Talks to the ticket daemon (meridian-ticketd or Booth's boothd) of one member of the \
            booth configuration over TCP, as the `booth` client does. The member is --site, or \
            else the only member whose address is configured on this host.

            \(ExitStatus.table)
            """,
        subcommands: [List.self, Grant.self, Revoke.self, Peers.self, Status.self, Attr.self])
}

/// Options shared by every `meridian ticket` command: where the configuration is and which
/// member to talk to.
struct MemberOptions: ParsableArguments {
    @Option(name: [.customShort("c"), .long], help: ArgumentHelp("The booth configuration file.", valueName: "file"))
    var config = "/etc/booth/booth.conf"

    @Option(
        name: [.customShort("s"), .long],
        help: ArgumentHelp(
            "The member to talk to (a site or arbitrator address from the configuration). "
                + "Default: the only member whose address is configured on this host.",
            valueName: "addr"))
    var site: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The local address to connect from. Default: the member's own address when it is "
                + "a 127.x loopback address (so firewall rules between loopback members apply), "
                + "else the kernel's choice.",
            valueName: "addr"))
    var source: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Seconds to wait for the connection and for each reply. Default: 5 to connect; "
                + "10 per reply for list, peers and status; for grant and revoke, derived from "
                + "the ticket's timeout, retries and acquire-after.",
            valueName: "seconds"))
    var timeout: Double?

    func validate() throws {
        if let timeout, !(timeout > 0 && timeout <= 86_400) {
            throw ValidationError("--timeout must be a number of seconds between 0 and 86400")
        }
        if let source, IPAddressBytes.parse(source) == nil {
            throw ValidationError("--source '\(source)' is not an IPv4 or IPv6 address")
        }
    }
}

extension TicketCommand {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the tickets as a member sees them.",
            discussion: """
                One line per ticket, as booth: `ticket: T, leader: L, expires: YYYY-MM-DD HH:MM:SS`, \
                followed by the term and the member's state when the daemon reports them \
                (meridian-ticketd does, boothd does not).
                """)

        @OptionGroup var member: MemberOptions
        @Flag(help: "Print a JSON array of tickets.") var json = false
        @Argument(help: "Only this ticket.") var ticket: String?

        func run() throws {
            let session = try TicketSession(member)
            if let ticket { _ = try session.ticket(named: ticket) }
            let list = try session.list()
            let tickets = list.tickets.filter { ticket == nil || $0.ticket == ticket }
            if json {
                print(Output.json(tickets))
                return
            }
            for t in tickets { print(Output.listLine(t)) }
            if ticket == nil {
                for line in list.unparsed { print(line) }
                if !list.warnings.isEmpty { print("") }
                for warning in list.warnings { print(warning) }
            }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one ticket in detail: leader, term, local state, expiry, commit.")

        @OptionGroup var member: MemberOptions
        @Flag(help: "Print the ticket as a JSON object.") var json = false
        @Argument(help: "The ticket (optional when the configuration has exactly one).") var ticket: String?

        func run() throws {
            let session = try TicketSession(member)
            let name = try session.ticket(named: ticket).name
            let list = try session.list()
            guard let t = list.tickets.first(where: { $0.ticket == name }) else {
                throw CLIFailure(
                    .unknownTicket, "the daemon at \(list.member) does not report ticket \"\(name)\"",
                    fix: "check that \(list.member) runs with the same configuration (\(member.config))")
            }
            print(json ? Output.json(t) : Output.status(t, list: list, now: Output.nowEpochMs()))
        }
    }

    struct Peers: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a member's view of the other members: last contact and packet counters.")

        @OptionGroup var member: MemberOptions
        @Flag(help: "Print the peers as JSON.") var json = false

        func run() throws {
            let session = try TicketSession(member)
            let peers = try session.peers()
            print(json ? Output.json(peers.reply) : Output.peers(peers), terminator: json ? "\n" : "")
        }
    }

    struct Grant: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Grant a ticket to a site.",
            discussion: """
                The ticket is granted to the member the command talks to (--site). Granting a ticket \
                that is granted elsewhere is refused: revoke it first, then grant. Without --wait the \
                command gives up after the daemon's third interim reply, as booth does (exit 6).
                """)

        @OptionGroup var member: MemberOptions
        @Flag(
            name: [.customShort("F"), .long],
            help: "Grant immediately, without waiting for unreachable sites to confirm (booth's -F).")
        var force = false
        @Flag(name: [.customShort("w"), .long], help: "Wait for the outcome of the election.") var wait = false
        @Flag(
            name: [.customShort("C"), .long],
            help: "Also wait until the grant is committed to the cluster (booth's -C).")
        var waitCommit = false
        @Argument(help: "The ticket (optional when the configuration has exactly one).") var ticket: String?

        func run() throws {
            var options: BoothClientOptions = []
            if force { options.insert(.immediate) }
            if wait { options.insert(.wait) }
            if waitCommit { options.insert(.waitCommit) }
            try TicketSession(member).change(.grant, ticket: ticket, options: options)
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a ticket.",
            discussion: """
                When the member asked does not hold the ticket, it names the holder and the command \
                sends the revoke there, as booth does.
                """)

        @OptionGroup var member: MemberOptions
        @Flag(name: [.customShort("w"), .long], help: "Wait for the outcome of the revoke.") var wait = false
        @Argument(help: "The ticket (optional when the configuration has exactly one).") var ticket: String?

        func run() throws {
            try TicketSession(member).change(.revoke, ticket: ticket, options: wait ? [.wait] : [])
        }
    }
}
