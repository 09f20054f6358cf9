// Constraints: location, colocation, order, ticket, and resource sets.

/// Whether the cluster probes a resource on the nodes a location constraint names
/// (`resource-discovery`).
public enum ResourceDiscovery: String, Sendable, Hashable {
    /// Probe everywhere (default).
    case always
    /// Never probe on the nodes the constraint selects.
    case never
    /// Probe only on the nodes selected by `exclusive` constraints.
    case exclusive
}

/// Where a location constraint applies.
public enum LocationPlacement: Sendable, Hashable {
    /// `node=` and `score=`.
    case node(name: String, score: Score)
    /// `<rule>` children: each matching rule gives its score on a node.
    case rules([Rule])
}

/// A `<rsc_location>` constraint.
public struct LocationConstraint: Sendable, Hashable, Identifiable {
    /// The constraint's id.
    public var id: String
    /// The resource's configuration id (`rsc`), or the ids in the sets.
    public var resources: [String]
    /// The resource sets, if the constraint uses them instead of `rsc`.
    public var sets: [ResourceSet]
    /// The role the constraint applies to (`role`), if any.
    public var role: Role?
    /// Node and score, or rules.
    public var placement: LocationPlacement
    /// `resource-discovery`.
    public var discovery: ResourceDiscovery
    /// The 1-based line.
    public var line: Int

    /// Creates a constraint.
    public init(
        id: String, resources: [String], sets: [ResourceSet], role: Role?, placement: LocationPlacement,
        discovery: ResourceDiscovery, line: Int
    ) {
        self.id = id
        self.resources = resources
        self.sets = sets
        self.role = role
        self.placement = placement
        self.discovery = discovery
        self.line = line
    }
}

/// An action named in an order constraint or set.
public enum ResourceAction: String, Sendable, Hashable {
    case start, stop, promote, demote
}

/// How strongly an order constraint binds (`kind`).
public enum OrderKind: String, Sendable, Hashable {
    /// The "then" action happens only after the "first" action, and is redone after it (default).
    case mandatory = "Mandatory"
    /// Only orders actions that happen in the same transition.
    case optional = "Optional"
    /// The actions never run at the same time.
    case serialize = "Serialize"
}

/// A `<resource_set>` in a colocation, order, ticket or location constraint.
public struct ResourceSet: Sendable, Hashable {
    /// The set's id.
    public var id: String
    /// The resources (`<resource_ref id=...>`), in order.
    public var resources: [String]
    /// `sequential` (default true).
    public var sequential: Bool?
    /// `require-all` (default true).
    public var requireAll: Bool?
    /// `ordering` (deprecated), as written.
    public var ordering: String?
    /// `action`.
    public var action: ResourceAction?
    /// `role`.
    public var role: Role?
    /// `score` on the set, if any.
    public var score: Score?
    /// `kind` on the set, if any.
    public var kind: OrderKind?
    /// The 1-based line.
    public var line: Int

    /// Creates a set.
    public init(
        id: String, resources: [String], sequential: Bool?, requireAll: Bool?, ordering: String?,
        action: ResourceAction?, role: Role?, score: Score?, kind: OrderKind?, line: Int
    ) {
        self.id = id
        self.resources = resources
        self.sequential = sequential
        self.requireAll = requireAll
        self.ordering = ordering
        self.action = action
        self.role = role
        self.score = score
        self.kind = kind
        self.line = line
    }
}

/// A `<rsc_colocation>` constraint.
public struct ColocationConstraint: Sendable, Hashable, Identifiable {
    /// The two resources of a simple constraint.
    public struct Pair: Sendable, Hashable {
        /// `rsc`: the dependent resource, placed relative to `withResource`.
        public var resource: String
        /// `with-rsc`.
        public var withResource: String
        /// `rsc-role`.
        public var resourceRole: Role?
        /// `with-rsc-role`.
        public var withResourceRole: Role?

        /// Creates a pair.
        public init(resource: String, withResource: String, resourceRole: Role?, withResourceRole: Role?) {
            self.resource = resource
            self.withResource = withResource
            self.resourceRole = resourceRole
            self.withResourceRole = withResourceRole
        }
    }

    /// The constraint's id.
    public var id: String
    /// The score (positive: together, negative: apart).
    public var score: Score
    /// The resources, unless sets are used.
    public var pair: Pair?
    /// The resource sets, if used.
    public var sets: [ResourceSet]
    /// `node-attribute` (default `#uname`).
    public var nodeAttribute: String?
    /// `influence`, if set.
    public var influence: Bool?
    /// The 1-based line.
    public var line: Int

    /// Creates a constraint.
    public init(
        id: String, score: Score, pair: Pair?, sets: [ResourceSet], nodeAttribute: String?, influence: Bool?,
        line: Int
    ) {
        self.id = id
        self.score = score
        self.pair = pair
        self.sets = sets
        self.nodeAttribute = nodeAttribute
        self.influence = influence
        self.line = line
    }
}

/// A `<rsc_order>` constraint.
public struct OrderConstraint: Sendable, Hashable, Identifiable {
    /// The two resources of a simple constraint.
    public struct Pair: Sendable, Hashable {
        /// `first`.
        public var first: String
        /// `then`.
        public var then: String
        /// `first-action` (default start).
        public var firstAction: ResourceAction?
        /// `then-action` (default: the first action).
        public var thenAction: ResourceAction?

        /// Creates a pair.
        public init(first: String, then: String, firstAction: ResourceAction?, thenAction: ResourceAction?) {
            self.first = first
            self.then = then
            self.firstAction = firstAction
            self.thenAction = thenAction
        }
    }

    /// The constraint's id.
    public var id: String
    /// `kind` (default Mandatory), or derived from a deprecated `score`.
    public var kind: OrderKind?
    /// `score` (deprecated), if set.
    public var score: Score?
    /// `symmetrical` (default true, except for Serialize).
    public var symmetrical: Bool?
    /// `require-all` (clones).
    public var requireAll: Bool?
    /// The resources, unless sets are used.
    public var pair: Pair?
    /// The resource sets, if used.
    public var sets: [ResourceSet]
    /// The 1-based line.
    public var line: Int

    /// Creates a constraint.
    public init(
        id: String, kind: OrderKind?, score: Score?, symmetrical: Bool?, requireAll: Bool?, pair: Pair?,
        sets: [ResourceSet], line: Int
    ) {
        self.id = id
        self.kind = kind
        self.score = score
        self.symmetrical = symmetrical
        self.requireAll = requireAll
        self.pair = pair
        self.sets = sets
        self.line = line
    }
}

/// What happens to resources bound to a ticket when the ticket is revoked (`loss-policy`).
public enum TicketLossPolicy: String, Sendable, Hashable {
    /// Stop them (default).
    case stop
    /// Demote promoted instances (stop others).
    case demote
    /// Fence the nodes they run on.
    case fence
    /// Leave them as they are, start nothing.
    case freeze
}

/// A `<rsc_ticket>` constraint: resources that may only run while the ticket is granted.
public struct TicketConstraint: Sendable, Hashable, Identifiable {
    /// The constraint's id.
    public var id: String
    /// The ticket.
    public var ticket: String
    /// `loss-policy`.
    public var lossPolicy: TicketLossPolicy
    /// `rsc`, unless sets are used.
    public var resource: String?
    /// `rsc-role`.
    public var role: Role?
    /// The resource sets, if used.
    public var sets: [ResourceSet]
    /// The 1-based line.
    public var line: Int

    /// Creates a constraint.
    public init(
        id: String, ticket: String, lossPolicy: TicketLossPolicy, resource: String?, role: Role?,
        sets: [ResourceSet], line: Int
    ) {
        self.id = id
        self.ticket = ticket
        self.lossPolicy = lossPolicy
        self.resource = resource
        self.role = role
        self.sets = sets
        self.line = line
    }
}

/// Every constraint of the configuration, each kind in document order.
public struct Constraints: Sendable, Hashable {
    /// `rsc_location`.
    public var location: [LocationConstraint]
    /// `rsc_colocation`.
    public var colocation: [ColocationConstraint]
    /// `rsc_order`.
    public var order: [OrderConstraint]
    /// `rsc_ticket`.
    public var ticket: [TicketConstraint]

    /// Creates the collection.
    public init(
        location: [LocationConstraint] = [], colocation: [ColocationConstraint] = [],
        order: [OrderConstraint] = [], ticket: [TicketConstraint] = []
    ) {
        self.location = location
        self.colocation = colocation
        self.order = order
        self.ticket = ticket
    }
}
