import BoothConfig

/// A point on a member's monotonic clock, in nanoseconds. The core never reads a clock:
/// every event carries `now`, so the same type serves real and simulated time.
public struct LeaseInstant: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64
    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }
    public static func < (a: Self, b: Self) -> Bool { a.nanoseconds < b.nanoseconds }
    public static func + (a: Self, d: Duration) -> Self { Self(nanoseconds: a.nanoseconds + d.nanoseconds) }
    public static func - (a: Self, d: Duration) -> Self { Self(nanoseconds: a.nanoseconds - d.nanoseconds) }
    public static func - (a: Self, b: Self) -> Duration { .nanoseconds(a.nanoseconds - b.nanoseconds) }
    public var description: String { "\(Double(nanoseconds) / 1e9)s" }
}

extension Duration {
    /// Whole nanoseconds (saturating for durations beyond ±292 years).
    public var nanoseconds: Int64 {
        let (s, atto) = components
        let (m, o1) = s.multipliedReportingOverflow(by: 1_000_000_000)
        if o1 { return s < 0 ? .min : .max }
        let (r, o2) = m.addingReportingOverflow(atto / 1_000_000_000)
        return o2 ? (s < 0 ? .min : .max) : r
    }

    /// Seconds as a floating-point value, for printing and benchmarks.
    public var seconds: Double { Double(nanoseconds) / 1e9 }
}

/// Commands of the peer protocol (Booth 1.0's raft messages).
public enum PeerCommand: String, Sendable, Hashable {
    case status, myIndex, requestVote, voteFor, heartbeat, ack, update, revoke, rejected
}

/// Results carried by peer replies; `rejected` uses the three non-success ones.
public enum PeerResult: String, Sendable, Hashable {
    case success, termOutdated, termStillValid, youOutdated
}

/// Why a peer message was sent (Booth's reasons).
public enum PeerReason: String, Sendable, Hashable {
    case none, again, ticketLost, reacquire, admin, localFail, stepDown
}

/// A peer message as the core sees it: members are indices into the configuration's member list.
/// The shell maps it to and from Booth's packets (site ids, wire time units, HMAC).
public struct PeerMessage: Sendable, Hashable, CustomStringConvertible {
    public var ticket: String
    public var command: PeerCommand
    /// What this replies to (Booth's `request`).
    public var request: PeerCommand?
    public var result: PeerResult
    public var reason: PeerReason
    /// The leader (or, in votes, the member voted for); nil means no one.
    public var leader: Int?
    public var term: UInt32
    /// Remaining lease as sent: a whole number of wire units (zero for manual tickets).
    public var validFor: Duration
    /// True when the sender is Meridian: its lease values are exact; boothd truncates them.
    public var fromMeridian: Bool
    /// Meridian peers only: the leader's lease round a HEARTBEAT or UPDATE belongs to, echoed
    /// in the ACK, so that a late or duplicated ACK of an earlier round is not counted for a
    /// later one. Nil from boothd, which neither sends nor echoes it.
    public var round: UInt16?

    public init(ticket: String, command: PeerCommand, request: PeerCommand? = nil, result: PeerResult = .success,
                reason: PeerReason = .none, leader: Int?, term: UInt32, validFor: Duration,
                fromMeridian: Bool = true, round: UInt16? = nil) {
        self.ticket = ticket
        self.command = command
        self.request = request
        self.result = result
        self.reason = reason
        self.leader = leader
        self.term = term
        self.validFor = validFor
        self.fromMeridian = fromMeridian
        self.round = round
    }

    public var description: String {
        var s = "\(command)"
        if let request { s += "(re \(request))" }
        if result != .success { s += " \(result)" }
        if reason != .none { s += " reason=\(reason)" }
        if let round { s += " round=\(round)" }
        return s + " t=\(term) leader=\(leader.map(String.init) ?? "-") valid=\(validFor.seconds)s"
    }
}

/// Identifies a waiting client request in the shell.
public typealias ClientID = Int

/// The answer to a client's grant or revoke (Booth's client results).
public enum ClientOutcome: String, Sendable, Hashable {
    case success, more, commitPending, syncFail, overgrant, ticketIdle, redirect, handlerFailed
    case attributePrerequisite, notASite
}

/// What the local site's ticket consumer (CIB, crm_ticket, state file) must know.
public struct BackendView: Sendable, Hashable {
    /// Granted here; the consumer must treat the ticket as revoked after `grantedUntil`.
    public var granted: Bool
    /// Nil for manual tickets (no expiry).
    public var grantedUntil: LeaseInstant?
    public var leader: Int?
    public var term: UInt32
}

/// The state that must reach stable storage before any message that depends on it is sent.
public struct PersistentTicketState: Sendable, Hashable, Codable {
    public var term: UInt32
    /// Highest term this member voted in, and for whom.
    public var voteTerm: UInt32
    public var votedFor: Int?
    public var leader: Int?
    /// The latest lease this member promised to honour (refuses other candidates until then).
    public var promisedUntil: LeaseInstant?
    /// Set when this member held the ticket: until when it may consider itself the holder.
    public var holderUntil: LeaseInstant?
    /// Revoked by an administrator (or never granted): no automatic failover.
    public var revoked: Bool
    /// Manual tickets: granted here without expiry.
    public var manualGrantedHere: Bool

    /// Set by a shell that makes promises durable ahead of need: no promise ever reached past
    /// this instant. A restart refuses candidates until then.
    public var promiseCeiling: LeaseInstant?

    public init(term: UInt32 = 0, voteTerm: UInt32 = 0, votedFor: Int? = nil, leader: Int? = nil, promisedUntil: LeaseInstant? = nil,
                holderUntil: LeaseInstant? = nil, revoked: Bool = true, manualGrantedHere: Bool = false,
                promiseCeiling: LeaseInstant? = nil) {
        self.promiseCeiling = promiseCeiling
        self.term = term
        self.voteTerm = voteTerm
        self.votedFor = votedFor
        self.leader = leader
        self.promisedUntil = promisedUntil
        self.holderUntil = holderUntil
        self.revoked = revoked
        self.manualGrantedHere = manualGrantedHere
    }
}

extension LeaseInstant: Codable {
    public init(from decoder: any Decoder) throws {
        nanoseconds = try decoder.singleValueContainer().decode(Int64.self)
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(nanoseconds)
    }
}

/// What the core asks its shell to do, in order.
public enum TicketDirective: Sendable, Hashable {
    /// Write to stable storage before executing the directives that follow.
    case persist(PersistentTicketState)
    /// Tell the local ticket consumer (before any message that follows).
    case backend(BackendView)
    case send(to: Int, PeerMessage)
    case broadcast(PeerMessage)
    case reply(ClientID, ClientOutcome, leader: Int?, final: Bool)
    /// Run the before-acquire-handler; answer with ``TicketLease/handlerFinished(success:now:)``.
    case runHandler
    case log(LogLevel, String)

    public enum LogLevel: String, Sendable { case debug, info, warning, error, critical }
}

/// Parameters of one ticket's lease protocol, derived from booth.conf plus Meridian's safety bounds.
public struct LeaseSettings: Sendable, Equatable {
    public var ticket: String
    public var expire: Duration
    public var timeout: Duration
    public var retries: Int
    public var renewalFrequency: Duration
    public var acquireAfter: Duration
    public var manual: Bool
    public var hasHandler: Bool
    /// Wire granularity of lease values: 1 s, or 1 ms when the file uses sub-second times.
    public var wireResolution: Duration
    /// Largest rate error of any member's clock against true time, in parts per million.
    public var driftBoundPPM: Int64
    /// Fixed margin by which a leader stops holding before any other member's promise ends.
    public var safetyMargin: Duration
    /// Delay per preference rank before a site starts an election for a lost ticket.
    public var rankStep: Duration
    /// Attribute prerequisites for automatic and manual acquisition.
    public var prerequisites: [TicketConfiguration.AttrPrerequisite]

    public static let defaultDriftBoundPPM: Int64 = 500
    public static let defaultSafetyMargin: Duration = .milliseconds(100)

    public init(ticket t: TicketConfiguration, millisecondWireTimes: Bool,
                driftBoundPPM: Int64 = defaultDriftBoundPPM, safetyMargin: Duration = defaultSafetyMargin) {
        ticket = t.name
        expire = t.expire
        timeout = t.timeout
        retries = t.retries
        renewalFrequency = t.renewalFrequency
        acquireAfter = t.acquireAfter
        manual = t.mode == .manual
        hasHandler = t.beforeAcquireHandler != nil
        wireResolution = millisecondWireTimes ? .milliseconds(1) : .seconds(1)
        self.driftBoundPPM = driftBoundPPM
        self.safetyMargin = safetyMargin
        rankStep = min(t.timeout / 4, .milliseconds(20))
        prerequisites = t.attrPrerequisites
    }

    /// How long a leader may hold after sending a lease of `granted`: shortened so that, with
    /// every clock within the drift bound, it ends before any receiver's promise ends.
    /// L = granted·(1−ρ)/(1+ρ) − margin.
    public func holdTime(granted: Duration) -> Duration {
        let g = granted.nanoseconds
        let scaled = Int64((Double(g) * Double(1_000_000 - driftBoundPPM) / Double(1_000_000 + driftBoundPPM))
            .rounded(.down))
        return .nanoseconds(max(0, scaled - safetyMargin.nanoseconds))
    }

    /// Rounds a lease down to the wire unit (what a boothd receiver will see).
    public func floorToWire(_ d: Duration) -> Duration {
        let u = wireResolution.nanoseconds
        return .nanoseconds(max(0, d.nanoseconds / u * u))
    }

    /// Rounds a lease up to the wire unit.
    public func ceilToWire(_ d: Duration) -> Duration {
        let u = wireResolution.nanoseconds
        let n = max(0, d.nanoseconds)
        return .nanoseconds((n + u - 1) / u * u)
    }
}

/// Who is in the ticket's cluster and who this instance is.
public struct LeaseMembership: Sendable, Hashable {
    public enum Kind: Sendable, Hashable { case site, arbitrator }
    public var kinds: [Kind]
    /// Per member; higher is preferred when several sites may acquire. Ties: earlier member first.
    public var weights: [Int]
    public var me: Int

    public init(kinds: [Kind], weights: [Int], me: Int) {
        precondition(kinds.indices.contains(me), "Internal inconsistency: local member \(me) not in \(kinds.count)")
        precondition(weights.count == kinds.count, "Internal inconsistency: \(weights.count) weights for \(kinds.count) members")
        self.kinds = kinds
        self.weights = weights
        self.me = me
    }

    public var count: Int { kinds.count }
    public var majority: Int { count / 2 + 1 }
    public var isSite: Bool { kinds[me] == .site }

    /// This site's preference rank among the sites that may acquire, excluding `excluded`
    /// (the holder that was lost): 0 is the most preferred.
    public func rank(excluding excluded: Int?) -> Int {
        var r = 0
        for i in kinds.indices where kinds[i] == .site && i != me && i != excluded {
            if weights[i] > weights[me] || (weights[i] == weights[me] && i < me) { r += 1 }
        }
        return r
    }
}
