import ArgumentParser
import BoothConfig
import TicketClient
import TicketWire

extension TicketCommand {
    /// `meridian ticket attr ...`: Booth's geo attributes (what `geostore` manages), tested by
    /// `attr-prereq` before a site acquires a ticket.
    struct Attr: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "attr",
            abstract: "Set, get, delete and list a ticket's geo attributes at a site (booth's geostore).",
            discussion: """
                Attributes live in the site's ticket daemon (in memory, as with boothd) and are \
                what `attr-prereq = auto|manual NAME eq|ne VALUE` in booth.conf tests. Exit codes \
                as for the other ticket commands; a missing attribute exits 1.
                """,
            subcommands: [Set.self, Get.self, Delete.self, List.self])

        struct Set: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Set an attribute.")
            @OptionGroup var member: MemberOptions
            @Argument(help: "The ticket.") var ticket: String
            @Argument(help: "The attribute's name.") var name: String
            @Argument(help: "The value (up to 127 bytes).") var value: String
            func run() throws {
                _ = try TicketSession(member).attribute(.attributeSet, ticket: ticket, name: name, value: value)
                print("set succeeded!")
            }
        }

        struct Get: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Print an attribute's value.")
            @OptionGroup var member: MemberOptions
            @Argument(help: "The ticket.") var ticket: String
            @Argument(help: "The attribute's name.") var name: String
            func run() throws {
                let r = try TicketSession(member).attribute(.attributeGet, ticket: ticket, name: name)
                print(r.text ?? "", terminator: "")
            }
        }

        struct Delete: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Delete an attribute.")
            @OptionGroup var member: MemberOptions
            @Argument(help: "The ticket.") var ticket: String
            @Argument(help: "The attribute's name.") var name: String
            func run() throws {
                _ = try TicketSession(member).attribute(.attributeDelete, ticket: ticket, name: name)
                print("delete succeeded!")
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List a ticket's attributes (name value time).")
            @OptionGroup var member: MemberOptions
            @Argument(help: "The ticket.") var ticket: String
            func run() throws {
                let r = try TicketSession(member).attribute(.attributeList, ticket: ticket)
                print(r.text ?? "", terminator: "")
            }
        }
    }
}

extension TicketSession {
    /// Runs one geo-attribute command; returns normally only on success.
    func attribute(_ command: BoothCommand, ticket name: String, name attribute: String = "",
                   value: String = "") throws(CLIFailure) -> TicketClient.AttributeReply {
        let ticket = try ticket(named: name)
        guard member.kind == .site else {
            let sites = configuration.sites.map(\.address).joined(separator: ", ")
            throw CLIFailure(.usage, "\(member.address) is an arbitrator; attributes live at sites",
                             fix: "pass --site with one of the sites: \(sites)")
        }
        let reply: TicketClient.AttributeReply
        do {
            reply = try client.attribute(command, ticket: ticket.name, name: attribute, value: value,
                                         at: member.address)
        } catch {
            throw failure(error)
        }
        switch reply.result {
        case .success: return reply
        case .noSuchAttribute:
            throw CLIFailure(.refused, "attribute \"\(attribute)\" of ticket \(ticket.name) is not set at \(member.address)",
                             fix: "set it with `meridian ticket attr set \(ticket.name) \(attribute) VALUE`")
        case .invalidArgument:
            throw CLIFailure(.unknownTicket, "\(member.address) does not know ticket \(ticket.name)",
                             fix: "check that the daemon runs with the same booth.conf")
        default:
            throw CLIFailure(.refused, "\(member.address) answered \(reply.result)")
        }
    }
}
