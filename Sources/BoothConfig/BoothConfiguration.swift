/// A `booth.conf` file as Booth 1.0 reads it, validated and with every default applied.
///
/// Used by the ticket daemon, the CLI and the simulation. Obtain one from ``parse(_:path:)``
/// (text) or ``load(path:)`` (file). Values that come from `parse`/`load` satisfy these
/// invariants; values built with the memberwise-style initializer are taken as given:
///
/// * `members` is in file order, `members[i].index == i`, and holds at least one site
///   and at most ``maximumMemberCount`` members with pairwise different addresses, each a
///   valid IPv4 or IPv6 literal.
/// * `tickets` is in file order, without `__defaults__`, with unique names; every ticket's
///   `weights.count == members.count`, `retries` is in 3...100, and
///   `timeout * (retries + 1) < renewalFrequency`.
/// * `millisecondWireTimes` is true exactly when some time value in the file was not a
///   whole number of seconds.
///
/// See `Docs/decisions/booth-conf.md` for every difference from Booth 1.0.
public struct BoothConfiguration: Sendable, Equatable {
    /// The transport for the ticket protocol. Booth 1.0 only implements UDP.
    public enum Transport: String, Sendable { case udp }

    /// What a member of the booth cluster is: a site can hold tickets, an arbitrator only votes.
    public enum MemberKind: String, Sendable { case site, arbitrator }

    /// One `site` or `arbitrator` line.
    public struct Member: Sendable, Equatable, Hashable {
        public var kind: MemberKind
        /// The address as written in the file: an IPv4 or IPv6 literal.
        public var address: String
        /// 0-based position among all members in file order (sites and arbitrators
        /// interleaved as written); Booth indexes per-ticket weights with it.
        public var index: Int
        /// 1-based line of the `site`/`arbitrator` key.
        public var line: Int

        public init(kind: MemberKind, address: String, index: Int, line: Int = 0) {
            self.kind = kind
            self.address = address
            self.index = index
            self.line = line
        }

        /// The binary address in network byte order (4 bytes for IPv4, 16 for IPv6), as
        /// Booth computes its site id from it; `nil` if `address` is not an IP literal
        /// (only possible for members not made by `parse`).
        public var addressBytes: [UInt8]? { IPAddress.bytes(of: address) }
    }

    /// Booth's limit on members (sites and arbitrators together): `MAX_NODES`.
    public static let maximumMemberCount = 16
    /// Booth's default UDP/TCP port.
    public static let defaultPort: UInt16 = 9929
    /// Booth's default `maxtimeskew`.
    public static let defaultMaxTimeSkew: Duration = .seconds(600)

    /// The file name used in messages.
    public var path: String
    /// Default `.udp`; `UDP`/`udp` accepted; SCTP and TCP are rejected with a message.
    public var transport: Transport
    /// Default 9929.
    public var port: UInt16
    /// Booth's `name` key, if present. See ``effectiveName`` for Booth's fallback.
    public var name: String?
    /// All members in file order.
    public var members: [Member]
    /// The members that are sites, in file order.
    public var sites: [Member] { members.filter { $0.kind == .site } }
    /// The members that are arbitrators, in file order.
    public var arbitrators: [Member] { members.filter { $0.kind == .arbitrator } }
    /// `authfile`, as written (a path; the file is not read here).
    public var authFile: String?
    /// `maxtimeskew`; default 600 s.
    public var maxTimeSkew: Duration
    /// `debug`; default 0.
    public var debug: Int
    /// `site-user`; Booth's default `hacluster`.
    public var siteUser: String
    /// `site-group`; Booth's default `haclient`.
    public var siteGroup: String
    /// `arbitrator-user`; Booth's default `nobody`.
    public var arbitratorUser: String
    /// `arbitrator-group`; Booth's default `nobody`.
    public var arbitratorGroup: String
    /// The tickets in file order, without `__defaults__`, with `__defaults__` applied.
    public var tickets: [TicketConfiguration]
    /// Booth's wire-time rule: true when any time value in the file has a sub-second part
    /// (booth then sends term_valid_for in milliseconds instead of seconds; its TIME_MULT).
    public var millisecondWireTimes: Bool
    /// Things that are accepted but deserve attention: in line order, then those about the whole file.
    public var warnings: [BoothConfigWarning]

    public init(
        path: String = "booth.conf",
        transport: Transport = .udp,
        port: UInt16 = BoothConfiguration.defaultPort,
        name: String? = nil,
        members: [Member],
        authFile: String? = nil,
        maxTimeSkew: Duration = BoothConfiguration.defaultMaxTimeSkew,
        debug: Int = 0,
        siteUser: String = "hacluster",
        siteGroup: String = "haclient",
        arbitratorUser: String = "nobody",
        arbitratorGroup: String = "nobody",
        tickets: [TicketConfiguration],
        millisecondWireTimes: Bool = false,
        warnings: [BoothConfigWarning] = []
    ) {
        self.path = path
        self.transport = transport
        self.port = port
        self.name = name
        self.members = members
        self.authFile = authFile
        self.maxTimeSkew = maxTimeSkew
        self.debug = debug
        self.siteUser = siteUser
        self.siteGroup = siteGroup
        self.arbitratorUser = arbitratorUser
        self.arbitratorGroup = arbitratorGroup
        self.tickets = tickets
        self.millisecondWireTimes = millisecondWireTimes
        self.warnings = warnings
    }

    /// The configuration name as Booth uses it: the `name` key, or else the file name
    /// without directory and without its last extension (`/etc/booth/booth.conf` -> `booth`).
    public var effectiveName: String {
        if let name { return name }
        let file = path.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? path
        guard let dot = file.lastIndex(of: ".") else { return file }
        return String(file[..<dot])
    }

    /// The unit of Booth's `term_valid_for` on the wire: 1 ms when ``millisecondWireTimes``,
    /// else 1 s.
    public var wireTimeUnit: Duration { millisecondWireTimes ? .milliseconds(1) : .seconds(1) }

    /// The member with this address: the same text, or else the same binary address
    /// (so `::1` finds a member written `0::1`).
    public func member(address: String) -> Member? {
        if let exact = members.first(where: { $0.address == address }) { return exact }
        guard let bytes = IPAddress.bytes(of: address) else { return nil }
        return members.first { $0.addressBytes == bytes }
    }

    /// The ticket with exactly this name.
    public func ticket(named: String) -> TicketConfiguration? {
        tickets.first { $0.name == named }
    }

    /// Parses the text of a `booth.conf` file. Pure: reads no files, resolves no names.
    ///
    /// - Parameter path: the file name to use in errors and warnings.
    /// - Throws: the first error in the file, with line, column and fix.
    public static func parse(_ text: String, path: String) throws(BoothConfigError) -> BoothConfiguration {
        var parser = ConfigParser(path: path)
        let lines = try ConfigLexer.entries(in: text, path: path)
        parser.lineCount = lines.lineCount
        for entry in lines.entries {
            try parser.apply(entry)
        }
        return try parser.finish()
    }

    /// Reads and parses a `booth.conf` file.
    ///
    /// - Throws: an error naming the path and how to fix it when the file cannot be read or
    ///   is not UTF-8, else the errors of ``parse(_:path:)``.
    public static func load(path: String) throws(BoothConfigError) -> BoothConfiguration {
        let text = try ConfigFile.text(atPath: path)
        return try parse(text, path: path)
    }
}
