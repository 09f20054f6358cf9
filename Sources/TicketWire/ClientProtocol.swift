/// Meridian's extension of Booth's client protocol: a `CMD_LIST` or `CMD_PEERS` request whose
/// header `options` carries ``BoothWire/meridianTag`` | ``ClientExtension/json`` asks for JSON.
/// boothd ignores `options` for these commands and answers with its text; a Meridian daemon
/// answers with JSON and sets the tag in the reply's `options`.
public enum ClientExtension {
    public static let json: UInt32 = 0x0001
    public static var jsonRequestOptions: UInt32 { BoothWire.meridianTag | json }

    public static func isMeridianReply(_ h: BoothHeader) -> Bool {
        h.options & BoothWire.meridianTagMask == BoothWire.meridianTag
    }
}

/// One ticket as `meridian ticket list --json` shows it.
public struct TicketListing: Codable, Sendable, Equatable {
    public var ticket: String
    /// Leader's address, or nil ("NONE").
    public var leader: String?
    /// Lease end in milliseconds since the epoch (nil: not granted, or manual).
    public var expiresEpochMs: Int64?
    public var term: UInt32?
    /// The local member's state: "leader", "follower", "candidate", "initial"; nil from boothd.
    public var state: String?
    public var grantedHere: Bool?
    public var commitPendingUntilEpochMs: Int64?
    public var mode: String?

    public init(ticket: String, leader: String?, expiresEpochMs: Int64?, term: UInt32?, state: String?,
                grantedHere: Bool?, commitPendingUntilEpochMs: Int64?, mode: String?) {
        self.ticket = ticket
        self.leader = leader
        self.expiresEpochMs = expiresEpochMs
        self.term = term
        self.state = state
        self.grantedHere = grantedHere
        self.commitPendingUntilEpochMs = commitPendingUntilEpochMs
        self.mode = mode
    }
}

/// The reply to a JSON list request.
public struct TicketListReply: Codable, Sendable, Equatable {
    public var member: String
    public var role: String   // "site" or "arbitrator"
    public var tickets: [TicketListing]
    public init(member: String, role: String, tickets: [TicketListing]) {
        self.member = member
        self.role = role
        self.tickets = tickets
    }
}

/// One peer as `meridian ticket peers --json` shows it (the daemon's per-peer counters).
public struct PeerListing: Codable, Sendable, Equatable {
    public var address: String
    public var kind: String
    public var lastReceivedEpochMs: Int64?
    public var sent: Int
    public var sendErrors: Int
    public var resends: Int
    public var received: Int
    public var receiveErrors: Int
    public var authFailures: Int
    public var invalid: Int
    public var replays: Int
    /// The peer tags its packets as Meridian (false: boothd or never heard).
    public var meridian: Bool

    public init(address: String, kind: String, lastReceivedEpochMs: Int64?, sent: Int, sendErrors: Int,
                resends: Int, received: Int, receiveErrors: Int, authFailures: Int, invalid: Int, replays: Int,
                meridian: Bool) {
        self.address = address
        self.kind = kind
        self.lastReceivedEpochMs = lastReceivedEpochMs
        self.sent = sent
        self.sendErrors = sendErrors
        self.resends = resends
        self.received = received
        self.receiveErrors = receiveErrors
        self.authFailures = authFailures
        self.invalid = invalid
        self.replays = replays
        self.meridian = meridian
    }
}

public struct PeerListReply: Codable, Sendable, Equatable {
    public var member: String
    public var peers: [PeerListing]
    /// Packets from addresses that are not members, dropped.
    public var unknownSenders: Int
    public init(member: String, peers: [PeerListing], unknownSenders: Int) {
        self.member = member
        self.peers = peers
        self.unknownSenders = unknownSenders
    }
}
