// Cluster nodes: configuration and the state Pacemaker derives from node_state.

/// A cluster node (`<node>` in the configuration), with its attributes and the
/// state derived from its `<node_state>` in the status section.
///
/// Invariant: `name` is unique among the model's nodes and `attributes` always
/// holds the built-in attributes `#uname`, `#id`, `#kind` and `#is_dc`.
public struct Node: Sendable, Hashable, Identifiable {
    /// What kind of node Pacemaker takes it for.
    public enum Kind: String, Sendable, Hashable {
        /// A full cluster node (type `member`, the default).
        case member
        /// A Pacemaker Remote node (unsupported).
        case remote
        /// A quorum-only node that never runs resources (deprecated type `ping`).
        case ping
    }

    /// The stored values, shared by every copy (see ``SharedValue``).
    @usableFromInline
    struct Fields: Sendable, Hashable {
        @usableFromInline let index: Int
        @usableFromInline let id: String
        @usableFromInline let name: String
        @usableFromInline let kind: Kind
        @usableFromInline let score: Score
        @usableFromInline let attributes: [String: String]
        @usableFromInline let configuredAttributes: [String: String]
        @usableFromInline let line: Int
        @usableFromInline let state: NodeState
    }

    @usableFromInline let storage: SharedValue<Fields>

    /// The node's position in ``CIBModel/nodes`` (Pacemaker's order: by name).
    @inlinable public var index: Int { storage.value.index }
    /// The node's id (`id`, the cluster layer's node id or UUID).
    @inlinable public var id: String { storage.value.id }
    /// The node's name (`uname`).
    @inlinable public var name: String { storage.value.name }
    /// The node type.
    @inlinable public var kind: Kind { storage.value.kind }
    /// The node's `score` attribute (0 when absent).
    @inlinable public var score: Score { storage.value.score }
    /// Every attribute rules see: the built-in `#` attributes, the configured
    /// `instance_attributes` and the transient attributes from the status section
    /// (which override configured ones).
    @inlinable public var attributes: [String: String] { storage.value.attributes }
    /// Attributes from the configuration's `instance_attributes` only.
    @inlinable public var configuredAttributes: [String: String] { storage.value.configuredAttributes }
    /// The 1-based line of the `<node>` element.
    @inlinable public var line: Int { storage.value.line }
    /// The node's state as of the status section.
    @inlinable public var state: NodeState { storage.value.state }

    /// Creates a node.
    public init(
        index: Int, id: String, name: String, kind: Kind, score: Score, attributes: [String: String],
        configuredAttributes: [String: String], line: Int, state: NodeState
    ) {
        storage = SharedValue(
            Fields(
                index: index, id: id, name: name, kind: kind, score: score, attributes: attributes,
                configuredAttributes: configuredAttributes, line: line, state: state))
    }
}

/// A node's state as Pacemaker derives it from `<node_state>` (`in_ccm`, `crmd`,
/// `join`, `expected`), its transient attributes (`standby`, `maintenance`,
/// `shutdown`, `terminate`) and the resource history on it.
///
/// `unclean` means the node must be fenced before anything that ran there may be
/// started elsewhere; `fenceReason` says why, when unpacking found the reason (a node
/// never seen under startup fencing is unclean without one: the scheduler fences it
/// because it is unclean).
public struct NodeState: Sendable, Hashable {
    /// A `<node_state>` entry was found for the node.
    public var seen: Bool
    /// The node can run resources.
    public var online: Bool
    /// The node must be fenced.
    public var unclean: Bool
    /// The node is joining and may not run resources yet.
    public var pending: Bool
    /// The node is in standby (the `standby` attribute, a pending join, or `on-fail=standby`).
    public var standby: Bool
    /// Standby because an operation failed with `on-fail=standby`.
    public var standbyOnFail: Bool
    /// The node is in maintenance (the `maintenance` attribute).
    public var maintenance: Bool
    /// The node is shutting down (the `shutdown` attribute is set and not 0).
    public var shutdown: Bool
    /// The node's controller is expected to be up (`expected="member"`).
    public var expectedUp: Bool
    /// The node is the designated controller (`dc-uuid`).
    public var isDC: Bool
    /// Why the node must be fenced: the first reason unpacking found, which is the one
    /// Pacemaker's fencing action carries ("peer is no longer part of the cluster", ...).
    public var fenceReason: String?
    /// The node's transient attributes (`<transient_attributes>`), as applied.
    public var transientAttributes: [String: String]
    /// Fail counts and last-failure times recorded for resources on this node.
    public var failures: [FailureRecord]
    /// Promotion scores recorded on this node (`master-<resource>` or
    /// `promotion-<resource>` transient attributes), by resource name as written.
    public var promotionScores: [String: Score]

    /// Creates a state.
    public init(
        seen: Bool = false, online: Bool = false, unclean: Bool = false, pending: Bool = false,
        standby: Bool = false, standbyOnFail: Bool = false, maintenance: Bool = false, shutdown: Bool = false,
        expectedUp: Bool = false, isDC: Bool = false, fenceReason: String? = nil,
        transientAttributes: [String: String] = [:], failures: [FailureRecord] = [],
        promotionScores: [String: Score] = [:]
    ) {
        self.seen = seen
        self.online = online
        self.unclean = unclean
        self.pending = pending
        self.standby = standby
        self.standbyOnFail = standbyOnFail
        self.maintenance = maintenance
        self.shutdown = shutdown
        self.expectedUp = expectedUp
        self.isDC = isDC
        self.fenceReason = fenceReason
        self.transientAttributes = transientAttributes
        self.failures = failures
        self.promotionScores = promotionScores
    }
}

/// One `fail-count-*` or `last-failure-*` transient attribute, parsed.
///
/// Pacemaker 1.1.17 and later record per operation
/// (`fail-count-<resource>#<operation>_<interval-ms>`); older CIBs per resource
/// (`fail-count-<resource>`), in which case `operation` is `nil`.
public struct FailureRecord: Sendable, Hashable {
    /// The resource name as written (may carry a clone instance suffix `:N`).
    public var resource: String
    /// The operation name, or `nil` for a per-resource record.
    public var operation: String?
    /// The operation interval in milliseconds, or `nil` for a per-resource record.
    public var intervalMilliseconds: Int?
    /// The fail count (`INFINITY` after a fatal failure); `nil` for a last-failure record.
    public var count: Score?
    /// The time of the last failure (seconds since the epoch); `nil` for a fail-count record.
    public var lastFailure: Int?
    /// The attribute's name.
    public var attribute: String

    /// Creates a record.
    public init(
        resource: String, operation: String?, intervalMilliseconds: Int?, count: Score?, lastFailure: Int?,
        attribute: String
    ) {
        self.resource = resource
        self.operation = operation
        self.intervalMilliseconds = intervalMilliseconds
        self.count = count
        self.lastFailure = lastFailure
        self.attribute = attribute
    }

    /// Parses `fail-count-...` and `last-failure-...` attribute names; `nil` for other names.
    static func parse(name: String, value: String) -> FailureRecord? {
        let isCount = name.hasPrefix("fail-count-")
        guard isCount || name.hasPrefix("last-failure-") else { return nil }
        let rest = String(name.dropFirst(isCount ? "fail-count-".count : "last-failure-".count))
        guard !rest.isEmpty else { return nil }
        var resource = rest
        var operation: String?
        var interval: Int?
        if let hash = rest.lastIndex(of: "#") {
            let opPart = rest[rest.index(after: hash)...]
            if let underscore = opPart.lastIndex(of: "_"), let ms = Int(opPart[opPart.index(after: underscore)...]) {
                resource = String(rest[..<hash])
                operation = String(opPart[..<underscore])
                interval = ms
            }
        }
        if isCount {
            return FailureRecord(
                resource: resource, operation: operation, intervalMilliseconds: interval,
                count: Score(pacemaker: value), lastFailure: nil, attribute: name)
        }
        return FailureRecord(
            resource: resource, operation: operation, intervalMilliseconds: interval, count: nil,
            lastFailure: clampingLeadingInteger(value), attribute: name)
    }
}

/// A ticket (`<ticket_state>` in the status section, or only referenced by an
/// `rsc_ticket` constraint, in which case it is not granted).
public struct Ticket: Sendable, Hashable, Identifiable {
    /// The ticket's name.
    public let id: String
    /// The ticket is granted to this site.
    public let granted: Bool
    /// The ticket is granted but in standby: resources depending on it must stop.
    public let standby: Bool
    /// When it was last granted (seconds since the epoch), if recorded.
    public let lastGranted: Int?
    /// Every attribute of the `<ticket_state>` except `id`.
    public let state: [String: String]
    /// The 1-based line of its `<ticket_state>`, if it has one.
    public let line: Int?

    /// Creates a ticket.
    public init(id: String, granted: Bool, standby: Bool, lastGranted: Int?, state: [String: String], line: Int?) {
        self.id = id
        self.granted = granted
        self.standby = standby
        self.lastGranted = lastGranted
        self.state = state
        self.line = line
    }
}
