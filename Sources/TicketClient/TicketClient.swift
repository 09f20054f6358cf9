#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
import BoothConfig
import TicketWire

/// A synchronous client of Booth 1.0's TCP client protocol, for `meridian ticket` and the
/// benchmarks. Talks to meridian-ticketd and to Debian's boothd alike: list and peers ask for
/// JSON with Meridian's extension and fall back to parsing boothd's text.
///
/// One request per connection, as booth: the daemon closes the connection after its final
/// reply. The wire rules are in ``ClientMessages`` and ``CommandConversation`` (pure); this
/// type adds sockets, timeouts and the wall clock.
public struct TicketClient: Sendable {
    /// Which local address the connection comes from.
    public enum SourceAddress: Sendable, Equatable {
        /// The target address itself when it is an IPv4 loopback address (127.x), so that
        /// firewall rules between loopback "members" apply; else the kernel's choice.
        case automatic
        /// Always the kernel's choice.
        case kernel
        /// This address.
        case address(String)
    }

    public struct Options: Sendable {
        public var connectTimeout: Duration
        /// How long to wait for each reply.
        public var replyTimeout: Duration
        public var sourceAddress: SourceAddress

        public init(
            connectTimeout: Duration = .seconds(5), replyTimeout: Duration = .seconds(10),
            sourceAddress: SourceAddress = .automatic
        ) {
            self.connectTimeout = connectTimeout
            self.replyTimeout = replyTimeout
            self.sourceAddress = sourceAddress
        }
    }

    public let configuration: BoothConfiguration
    /// The authfile key; `nil` when the configuration has no authfile.
    public let authKey: AuthKey?
    public var options: Options

    public init(configuration: BoothConfiguration, authKey: AuthKey?, options: Options = Options()) {
        self.configuration = configuration
        self.authKey = authKey
        self.options = options
    }

    /// A client whose key is read from the configuration's authfile (if it names one).
    public static func loadingAuthKey(
        configuration: BoothConfiguration, options: Options = Options()
    ) throws(AuthKey.LoadError) -> TicketClient {
        let key = try configuration.authFile.map { (path) throws(AuthKey.LoadError) in try AuthKey.load(path: path) }
        return TicketClient(configuration: configuration, authKey: key, options: options)
    }

    // MARK: - List and peers

    /// Where a list or peers answer came from.
    public enum Dialect: String, Sendable, Codable {
        /// A Meridian daemon answered with JSON.
        case meridian
        /// boothd (or a daemon without the extension) answered with text.
        case boothd
    }

    /// The tickets as one member sees them.
    public struct TicketList: Sendable, Equatable {
        public var member: String
        /// "site" or "arbitrator" (from the daemon's JSON, else from the configuration).
        public var role: String
        public var tickets: [TicketListing]
        public var dialect: Dialect
        /// boothd's warnings (a ticket granted at several sites).
        public var warnings: [String]
        /// Lines of boothd's text that did not parse.
        public var unparsed: [String]
    }

    /// The peers as one member sees them.
    public struct PeerList: Sendable, Equatable {
        public var reply: PeerListReply
        public var dialect: Dialect
    }

    /// Asks `member` for its tickets.
    public func list(at member: String) throws(TicketClientError) -> TicketList {
        let (reply, contacted) = try query(.list, at: member)
        let role = configuration.member(address: member)?.kind.rawValue ?? "site"
        let text = reply.text ?? ""
        if ClientExtension.isMeridianReply(reply.header) {
            do {
                let decoded = try JSONDecoder().decode(TicketListReply.self, from: Data(text.utf8))
                return TicketList(
                    member: decoded.member, role: decoded.role, tickets: decoded.tickets, dialect: .meridian,
                    warnings: [], unparsed: [])
            } catch {
                throw .badReply(address: contacted, port: configuration.port, reason: "list JSON: \(error)")
            }
        }
        let parsed = BoothdText.parseList(text, member: member)
        return TicketList(
            member: member, role: role, tickets: parsed.tickets, dialect: .boothd, warnings: parsed.warnings,
            unparsed: parsed.unparsed)
    }

    /// Asks `member` for its view of the other members.
    public func peers(at member: String) throws(TicketClientError) -> PeerList {
        let (reply, contacted) = try query(.peers, at: member)
        let text = reply.text ?? ""
        if ClientExtension.isMeridianReply(reply.header) {
            do {
                let decoded = try JSONDecoder().decode(PeerListReply.self, from: Data(text.utf8))
                return PeerList(reply: decoded, dialect: .meridian)
            } catch {
                throw .badReply(address: contacted, port: configuration.port, reason: "peers JSON: \(error)")
            }
        }
        return PeerList(reply: BoothdText.parsePeers(text, member: member), dialect: .boothd)
    }

    /// The answer to a geo-attribute request: its result and, for get and list, the text.
    public struct AttributeReply: Sendable, Equatable {
        public var result: BoothResult
        public var text: String?
    }

    /// Booth's geostore commands (`ASet`, `AGet`, `ADel`, `ALst`) at `member`.
    public func attribute(
        _ command: BoothCommand, ticket: String, name: String = "", value: String = "", at member: String
    ) throws(TicketClientError) -> AttributeReply {
        precondition(command.isAttributeCommand, "Internal inconsistency: \(command) is not an attribute command")
        guard let bytes = BoothAttributePayload.request(
            command, BoothAttributePayload(ticket: ticket, name: name, value: value),
            from: SiteID.compute(address: member) ?? 0, key: authKey, timestamp: Self.wallClock())
        else {
            throw .badReply(address: member, port: port,
                            reason: "attribute name must be under 64 bytes and value under 128 bytes")
        }
        let connection = try open(member)
        try exchange(member: member) { () throws(ConnectionFailure) in try connection.send(bytes) }
        let reply = try readReply(connection, member: member)
        if reply.header.result == .authentication { throw .authenticationRejected(address: member, port: port) }
        return AttributeReply(result: reply.header.result, text: reply.text)
    }

    private func query(_ command: BoothCommand, at member: String) throws(TicketClientError) -> (
        ClientMessages.Reply, String
    ) {
        let connection = try open(member)
        try exchange(member: member) { () throws(ConnectionFailure) in
            try connection.send(request(command, ticket: "", options: ClientExtension.jsonRequestOptions, to: member))
        }
        let reply = try readReply(connection, member: member)
        if reply.header.cmd == .clientResult {
            // boothd answers a request it refused (authentication, unknown command) with a
            // bare result.
            if reply.header.result == .authentication { throw .authenticationRejected(address: member, port: port) }
            throw .badReply(address: member, port: port, reason: "result \(reply.header.result) instead of a list")
        }
        guard reply.header.cmd == .clientList else {
            throw .badReply(address: member, port: port, reason: "unexpected reply \(reply.header.cmd)")
        }
        return (reply, member)
    }

    // MARK: - Grant and revoke

    /// How a grant or revoke ended.
    public struct CommandOutcome: Sendable, Equatable {
        public var result: CommandResult
        /// The ticket payload of the last reply (leader site id, term, remaining lease).
        public var ticket: BoothTicketPayload?
        /// The member that gave the last reply (after redirects).
        public var answeredBy: String
        public var redirects: Int
    }

    /// Something to tell the user while a grant or revoke is under way.
    public enum Progress: Sendable, Equatable {
        case notice(CommandConversation.Notice)
        case redirected(from: String, to: String)
    }

    /// Sends a grant or revoke to `member`, follows redirects to the leader and reads interim
    /// replies until the final result (booth's `do_command`). `progress` is called as it goes.
    public func command(
        _ command: BoothCommand, ticket: String, options: BoothClientOptions, at member: String,
        progress: (Progress) -> Void = { _ in }
    ) throws(TicketClientError) -> CommandOutcome {
        var ids: [UInt32: String] = [:]
        for m in configuration.members {
            if let id = SiteID.compute(address: m.address) { ids[id] = m.address }
        }
        var conversation = CommandConversation(command: command, options: options, addressesBySiteID: ids)
        var target = member
        while true {
            let connection = try open(target)
            try exchange(member: target) { () throws(ConnectionFailure) in
                try connection.send(request(command, ticket: ticket, options: options.rawValue, to: target))
            }
            reading: while true {
                let reply: ClientMessages.Reply
                do {
                    reply = try readReply(connection, member: target)
                } catch {
                    if case .timedOut(let a, let p, let d, _) = error, conversation.interimReplies > 0 {
                        throw .timedOut(address: a, port: p, after: d, resultPending: true)
                    }
                    throw error
                }
                guard reply.header.cmd == .clientResult else {
                    throw .badReply(address: target, port: port, reason: "unexpected reply \(reply.header.cmd)")
                }
                switch conversation.onReply(result: reply.header.result, ticket: reply.ticket) {
                case .readNextReply(let notice):
                    if let notice { progress(.notice(notice)) }
                    continue reading
                case .redirect(let next, _):
                    progress(.redirected(from: target, to: next))
                    target = next
                    break reading
                case .finish(let result):
                    return CommandOutcome(
                        result: result, ticket: reply.ticket, answeredBy: target, redirects: conversation.redirects)
                }
            }
        }
    }

    // MARK: - Shell

    private var port: UInt16 { configuration.port }

    /// The source address for a connection to `member` under the current options.
    public func sourceAddress(for member: String) -> String? {
        switch options.sourceAddress {
        case .kernel: return nil
        case .address(let a): return a
        case .automatic:
            guard let bytes = IPAddressBytes.parse(member), bytes.count == 4, bytes[0] == 127 else { return nil }
            return member
        }
    }

    private func open(_ member: String) throws(TicketClientError) -> TCPConnection {
        let source = sourceAddress(for: member)
        do {
            return try TCPConnection(
                address: member, port: port, source: source, timeout: options.connectTimeout)
        } catch {
            switch error {
            case .cannotBindSource(let s, let reason):
                throw .sourceAddress(source: s, reason: reason)
            case .badAddress(let a):
                throw .badAddress(a)
            case .connectTimedOut(let d):
                throw .timedOut(address: member, port: port, after: d, resultPending: false)
            default:
                throw .unreachable(address: member, port: port, reason: error.description)
            }
        }
    }

    private func exchange(member: String, _ body: () throws(ConnectionFailure) -> Void) throws(TicketClientError) {
        do {
            try body()
        } catch {
            throw .unreachable(address: member, port: port, reason: error.description)
        }
    }

    private func readReply(_ connection: borrowing TCPConnection, member: String) throws(TicketClientError)
        -> ClientMessages.Reply
    {
        let timeout = options.replyTimeout
        do {
            let head = try connection.read(exactly: BoothWire.headerSize, timeout: timeout)
            let header = try mapReply(member) { () throws(ClientMessages.ReplyError) in
                try ClientMessages.replyHeader(head)
            }
            let rest = try connection.read(exactly: Int(header.length) - BoothWire.headerSize, timeout: timeout)
            return try mapReply(member) { () throws(ClientMessages.ReplyError) in
                try ClientMessages.reply(head + rest, key: authKey)
            }
        } catch let failure as ConnectionFailure {
            switch failure {
            case .replyTimedOut(let d):
                throw .timedOut(address: member, port: port, after: d, resultPending: false)
            default:
                throw .unreachable(address: member, port: port, reason: failure.description)
            }
        } catch let error as TicketClientError {
            throw error
        } catch {
            preconditionFailure("Internal inconsistency: unexpected error \(error)")
        }
    }

    private func mapReply<T>(_ member: String, _ body: () throws(ClientMessages.ReplyError) -> T) throws(
        TicketClientError
    ) -> T {
        do {
            return try body()
        } catch {
            switch error {
            case .malformed(let why):
                throw .badReply(address: member, port: port, reason: why)
            case .badAuthentication, .unsignedReply, .unexpectedlySigned:
                throw .replyAuthentication(address: member, port: port, reason: error.description)
            }
        }
    }

    private func request(_ command: BoothCommand, ticket: String, options: UInt32, to member: String) -> [UInt8] {
        ClientMessages.request(
            command, ticket: ticket, options: options, from: SiteID.compute(address: member) ?? 0,
            key: authKey, timestamp: Self.wallClock())
    }

    /// The wall-clock time as a header timestamp.
    static func wallClock() -> BoothTimestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return BoothTimestamp(secs: UInt32(truncatingIfNeeded: ts.tv_sec), usecs: UInt32(ts.tv_nsec / 1000))
    }
}

/// Why a client request did not get a result. Operating errors, mapped by the CLI to its exit
/// codes; each names the member and port involved.
public enum TicketClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Connecting or exchanging bytes failed.
    case unreachable(address: String, port: UInt16, reason: String)
    /// No connection or no reply in time. `resultPending`: the daemon had acknowledged a grant
    /// or revoke with an interim reply, so the request is under way.
    case timedOut(address: String, port: UInt16, after: Duration, resultPending: Bool)
    /// The reply is not the Booth client protocol.
    case badReply(address: String, port: UInt16, reason: String)
    /// The daemon refused our request's authentication.
    case authenticationRejected(address: String, port: UInt16)
    /// The daemon's reply failed authentication here.
    case replyAuthentication(address: String, port: UInt16, reason: String)
    /// The local end could not be bound to the source address.
    case sourceAddress(source: String, reason: String)
    /// A member address is not an IP literal.
    case badAddress(String)

    public var description: String {
        switch self {
        case let .unreachable(a, p, r): "cannot reach the ticket daemon at \(a) port \(p): \(r)"
        case let .timedOut(a, p, d, pending):
            pending
                ? "no final result from \(a) port \(p) within \(d.shortText); the request is still under way"
                : "the ticket daemon at \(a) port \(p) did not answer within \(d.shortText)"
        case let .badReply(a, p, r): "unexpected reply from \(a) port \(p): \(r)"
        case let .authenticationRejected(a, p):
            "the ticket daemon at \(a) port \(p) refused the request: authentication failed"
        case let .replyAuthentication(a, p, r): "reply from \(a) port \(p) failed authentication: \(r)"
        case let .sourceAddress(s, r): "cannot use source address \(s): \(r)"
        case let .badAddress(a): "'\(a)' is not an IP address"
        }
    }
}
