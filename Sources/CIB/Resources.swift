// Resources: configuration (primitive, group, clone) and the state derived from history.

/// A resource agent: standard (class), provider and type.
public struct ResourceAgent: Sendable, Hashable, CustomStringConvertible {
    /// The standard (`ocf`, `lsb`, `systemd`, `service`, `stonith`, ...).
    public var standard: String
    /// The provider (`ocf` only).
    public var provider: String?
    /// The agent's name.
    public var type: String

    /// Creates an agent.
    public init(standard: String, provider: String?, type: String) {
        self.standard = standard
        self.provider = provider
        self.type = type
    }

    /// `standard:provider:type` (`standard:type` without a provider).
    public var description: String {
        provider.map { "\(standard):\($0):\(type)" } ?? "\(standard):\(type)"
    }

    /// The standard supports agent providers (`ocf`).
    var hasProvider: Bool { standard.lowercased() == "ocf" }
    /// Instances may be globally unique (`ocf`, `stonith`).
    var supportsUnique: Bool { ["ocf", "stonith"].contains(standard.lowercased()) }
    /// The agent may be promoted (`ocf`).
    var supportsPromotion: Bool { standard.lowercased() == "ocf" }
    /// A fencing device.
    public var isFencing: Bool { standard.lowercased() == "stonith" }
}

/// What an operation failure leads to (`on-fail`), in Pacemaker's terms.
public enum FailureResponse: String, Sendable, Hashable {
    /// Pretend the operation succeeded.
    case ignore
    /// Demote the instance (promoted role only).
    case demote
    /// Stop and start again, possibly elsewhere (the default).
    case restart
    /// Stop the resource and keep it stopped.
    case stop
    /// Move the resource away from the node.
    case migrate
    /// Leave the resource alone (unmanaged) until the failure is cleared.
    case block
    /// Put the node in standby.
    case standby
    /// Fence the node.
    case fence
    /// Restart the container (bundles; unsupported).
    case restartContainer = "restart-container"
    /// Reset a remote connection (unsupported).
    case resetRemote = "reset-remote"

    /// How severe the response is, in Pacemaker's order of escalation; the most
    /// severe response among an instance's failures wins.
    var severity: Int {
        switch self {
        case .ignore: return 0
        case .demote: return 1
        case .restart: return 2
        case .resetRemote: return 3
        case .restartContainer: return 4
        case .migrate: return 5
        case .block: return 6
        case .stop: return 7
        case .standby: return 8
        case .fence: return 9
        }
    }
}

/// A configured operation (`<op>` under `<operations>`).
public struct OperationDefinition: Sendable, Hashable {
    /// The op's id.
    public var id: String?
    /// The action (`monitor`, `start`, `stop`, `promote`, `demote`, ...).
    public var name: String
    /// The interval in milliseconds (0: not recurring).
    public var intervalMilliseconds: Int
    /// The timeout in milliseconds, if configured on the op.
    public var timeoutMilliseconds: Int?
    /// `on-fail`, if configured on the op.
    public var onFail: String?
    /// The role the op applies to (`role`), if any.
    public var role: Role?
    /// `enabled` (default true).
    public var enabled: Bool
    /// Every attribute of the `<op>` element and its `meta_attributes`, as written.
    public var attributes: [String: String]
    /// The 1-based line.
    public var line: Int

    /// Creates a definition.
    public init(
        id: String?, name: String, intervalMilliseconds: Int, timeoutMilliseconds: Int?, onFail: String?,
        role: Role?, enabled: Bool, attributes: [String: String], line: Int
    ) {
        self.id = id
        self.name = name
        self.intervalMilliseconds = intervalMilliseconds
        self.timeoutMilliseconds = timeoutMilliseconds
        self.onFail = onFail
        self.role = role
        self.enabled = enabled
        self.attributes = attributes
        self.line = line
    }
}

/// What a resource needs before it may start (`requires`).
public enum StartRequirement: String, Sendable, Hashable {
    /// Nothing: it may start even without quorum.
    case nothing
    /// Quorum.
    case quorum
    /// Quorum, and every node it may have run on must be known clean (fenced if needed).
    case fencing
    /// As `fencing`, and the node must be unfenced (unsupported).
    case unfencing
}

/// What to do when a resource is found active on more than one node (`multiple-active`).
public enum MultipleActivePolicy: String, Sendable, Hashable {
    /// Stop everywhere and start once (default).
    case stopStart = "stop_start"
    /// Stop everywhere and leave stopped.
    case stopOnly = "stop_only"
    /// Leave it alone (unmanaged).
    case block
    /// Stop the unexpected instances only.
    case stopUnexpected = "stop_unexpected"
}

/// A resource's meta attributes, read into the values the scheduler uses.
public struct ResourceSettings: Sendable, Hashable {
    /// `target-role`, when it limits the resource (`Started` and roles above it on
    /// non-promotable resources are left out, as Pacemaker does).
    public var targetRole: Role?
    /// `target-role` as written, if any (the status display shows it).
    public var targetRoleText: String?
    /// Managed by configuration (`is-managed`, `maintenance`, `maintenance-mode`).
    public var managed: Bool
    /// In maintenance (`maintenance` meta attribute or cluster `maintenance-mode`).
    public var maintenance: Bool
    /// Instances are distinct (`globally-unique`; always true outside clones).
    public var isUnique: Bool
    /// In a promotable clone.
    public var isPromotable: Bool
    /// `critical` (default true).
    public var critical: Bool
    /// `notify` (unsupported when true).
    public var notify: Bool
    /// `allow-migrate` (unsupported when true).
    public var allowMigrate: Bool
    /// `resource-stickiness` (default 0; clones default to 1).
    public var stickiness: Score
    /// `migration-threshold` (default INFINITY; negative values become 1).
    public var migrationThreshold: Score
    /// `failure-timeout` in seconds (0: failures never expire).
    public var failureTimeoutSeconds: Int
    /// `priority` (default 0).
    public var priority: Score
    /// `requires`, after Pacemaker's defaulting.
    public var requires: StartRequirement
    /// `multiple-active`.
    public var multipleActive: MultipleActivePolicy
    /// `restart-type` is `restart` (deprecated).
    public var restartTypeRestart: Bool
    /// A fencing device (class `stonith`).
    public var isFencingDevice: Bool

    /// Creates settings.
    public init(
        targetRole: Role?, targetRoleText: String?, managed: Bool, maintenance: Bool, isUnique: Bool,
        isPromotable: Bool, critical: Bool, notify: Bool, allowMigrate: Bool, stickiness: Score,
        migrationThreshold: Score, failureTimeoutSeconds: Int, priority: Score, requires: StartRequirement,
        multipleActive: MultipleActivePolicy, restartTypeRestart: Bool, isFencingDevice: Bool
    ) {
        self.targetRole = targetRole
        self.targetRoleText = targetRoleText
        self.managed = managed
        self.maintenance = maintenance
        self.isUnique = isUnique
        self.isPromotable = isPromotable
        self.critical = critical
        self.notify = notify
        self.allowMigrate = allowMigrate
        self.stickiness = stickiness
        self.migrationThreshold = migrationThreshold
        self.failureTimeoutSeconds = failureTimeoutSeconds
        self.priority = priority
        self.requires = requires
        self.multipleActive = multipleActive
        self.restartTypeRestart = restartTypeRestart
        self.isFencingDevice = isFencingDevice
    }
}

/// A clone's settings (`clone-max`, `clone-node-max`, `promoted-max`, ...).
public struct CloneSettings: Sendable, Hashable {
    /// `clone-max` (default: the number of nodes, at least 1).
    public var maxInstances: Int
    /// `clone-node-max` (default 1; always 1 for anonymous clones).
    public var maxInstancesPerNode: Int
    /// `promoted-max` (legacy `master-max`, default 1), for promotable clones.
    public var maxPromoted: Int
    /// `promoted-node-max` (legacy `master-node-max`, default 1), for promotable clones.
    public var maxPromotedPerNode: Int
    /// `clone-min` (default 0).
    public var minInstances: Int
    /// `ordered` (default false).
    public var ordered: Bool
    /// `interleave` (default false).
    public var interleave: Bool
    /// The id of the cloned primitive or group as configured.
    public var childConfigID: String

    /// Creates settings.
    public init(
        maxInstances: Int, maxInstancesPerNode: Int, maxPromoted: Int, maxPromotedPerNode: Int, minInstances: Int,
        ordered: Bool, interleave: Bool, childConfigID: String
    ) {
        self.maxInstances = maxInstances
        self.maxInstancesPerNode = maxInstancesPerNode
        self.maxPromoted = maxPromoted
        self.maxPromotedPerNode = maxPromotedPerNode
        self.minInstances = minInstances
        self.ordered = ordered
        self.interleave = interleave
        self.childConfigID = childConfigID
    }
}

/// How an operation ended, as the executor recorded it (`op-status`).
public enum ExecutionStatus: Int, Sendable, Hashable {
    case pending = -1
    case done = 0
    case cancelled = 1
    case timedOut = 2
    case notSupported = 3
    case error = 4
    case hardError = 5
    case fatalError = 6
    case notInstalled = 7
    case notConnected = 8
    case invalid = 9
    case noFenceDevice = 10
    case noSecrets = 11
}

/// One recorded operation (`<lrm_rsc_op>`) in a node's resource history.
public struct OperationRecord: Sendable, Hashable {
    /// The entry's id (`<rsc>_<op>_<interval>`, or `<rsc>_last_failure_0`).
    public var id: String
    /// `operation_key`, if recorded.
    public var operationKey: String?
    /// The action (`operation`).
    public var task: String
    /// The interval in milliseconds.
    public var intervalMilliseconds: Int
    /// `call-id` (-1 while pending).
    public var callID: Int
    /// The agent's exit code (`rc-code`).
    public var rc: Int
    /// `op-status`; `nil` when absent or out of range (the entry is then ignored).
    public var status: ExecutionStatus?
    /// The result that was expected, from `transition-key` (-1 when unknown).
    public var expectedRC: Int
    /// `transition-key`.
    public var transitionKey: String?
    /// `transition-magic`.
    public var transitionMagic: String?
    /// `last-rc-change` (seconds since the epoch).
    public var lastRCChange: Int?
    /// `last-run` (seconds since the epoch).
    public var lastRun: Int?
    /// `exec-time` in milliseconds.
    public var execTime: Int?
    /// `queue-time` in milliseconds.
    public var queueTime: Int?
    /// `op-digest`.
    public var digest: String?
    /// `op-restart-digest`.
    public var restartDigest: String?
    /// `op-secure-digest`.
    public var secureDigest: String?
    /// `exit-reason`.
    public var exitReason: String?
    /// `on_node`.
    public var onNode: String?
    /// The 1-based line.
    public var line: Int

    /// Creates a record.
    public init(
        id: String, operationKey: String?, task: String, intervalMilliseconds: Int, callID: Int, rc: Int,
        status: ExecutionStatus?, expectedRC: Int, transitionKey: String?, transitionMagic: String?,
        lastRCChange: Int?, lastRun: Int?, execTime: Int?, queueTime: Int?, digest: String?,
        restartDigest: String?, secureDigest: String?, exitReason: String?, onNode: String?, line: Int
    ) {
        self.id = id
        self.operationKey = operationKey
        self.task = task
        self.intervalMilliseconds = intervalMilliseconds
        self.callID = callID
        self.rc = rc
        self.status = status
        self.expectedRC = expectedRC
        self.transitionKey = transitionKey
        self.transitionMagic = transitionMagic
        self.lastRCChange = lastRCChange
        self.lastRun = lastRun
        self.execTime = execTime
        self.queueTime = queueTime
        self.digest = digest
        self.restartDigest = restartDigest
        self.secureDigest = secureDigest
        self.exitReason = exitReason
        self.onNode = onNode
        self.line = line
    }

    /// The key Pacemaker uses for the operation: `operation_key`, or else the id.
    public var key: String { operationKey ?? id }
    /// A probe: a one-time monitor.
    public var isProbe: Bool { task == "monitor" && intervalMilliseconds == 0 }
    /// A probe that found the agent missing or misconfigured; Pacemaker reports the
    /// resource as stopped there ("not installed") instead of failed.
    public var isMaskableProbeFailure: Bool {
        isProbe && (rc == 5 || rc == 2 || status == .notInstalled)
    }
}

/// A resource's history on one node, as Pacemaker reads it.
public struct ResourceHistory: Sendable, Hashable {
    /// The node's name.
    public var node: String
    /// The name the history was recorded under (`<lrm_resource id>`).
    public var recordedName: String
    /// The operations, oldest first (Pacemaker's order by call id).
    public var operations: [OperationRecord]
    /// The recurring operations still active (after the last start).
    public var activeRecurring: [OperationRecord]
    /// The last failed operation, if any was not cleared.
    public var lastFailure: OperationRecord?
    /// The failure response in force after reading the history (`ignore` when none).
    public var failureResponse: FailureResponse

    /// Creates a history.
    public init(
        node: String, recordedName: String, operations: [OperationRecord], activeRecurring: [OperationRecord],
        lastFailure: OperationRecord?, failureResponse: FailureResponse
    ) {
        self.node = node
        self.recordedName = recordedName
        self.operations = operations
        self.activeRecurring = activeRecurring
        self.lastFailure = lastFailure
        self.failureResponse = failureResponse
    }
}

/// An action that reading the history already requires (Pacemaker creates these
/// while unpacking; the action phase turns them into graph actions).
public enum RequiredAction: Sendable, Hashable {
    /// Stop the resource on the node (recovery after a failure).
    case stop(node: String)
    /// Demote the resource on the node (`on-fail=demote`).
    case demote(node: String)
    /// Clear the resource's fail count on the node (the failure expired, or the
    /// parameters changed since a failure).
    case clearFailCount(node: String, reason: String)
    /// Restart the recurring operation `key` on the node: its failure expired, and the
    /// agent reports only changes, so a still-failing monitor would go unnoticed
    /// (Pacemaker forces this by overriding the operation's restart digest).
    case rescheduleRecurring(node: String, key: String)
}

/// A resource's state after reading the status section.
public struct ResourceState: Sendable, Hashable {
    /// The current role; for groups and clones the highest role of a member, as
    /// Pacemaker computes it. Instances of promotable clones that run unpromoted are
    /// `started` until promoted or demoted, as in Pacemaker (shown as Unpromoted).
    public var role: Role
    /// The role the resource must end up in, if the history or `target-role` fixes one.
    public var nextRole: Role?
    /// Where it is active, in the order Pacemaker found it (node names).
    public var runningOn: [String]
    /// Where its state is known (probed or run), node names sorted.
    public var knownOn: [String]
    /// The node of a pending start, promote or other non-probe action, if any.
    public var pendingNode: String?
    /// The pending action, if any.
    public var pendingTask: String?
    /// A resource that is in the history but not in the configuration (or a clone
    /// instance beyond `clone-max`).
    public var isOrphan: Bool
    /// Failed and needing recovery.
    public var isFailed: Bool
    /// Blocked: a failure with `on-fail=block` or an unrecoverable stop; unmanaged.
    public var isBlocked: Bool
    /// Managed after reading the history (false when blocked, in maintenance, or
    /// active on a node in maintenance).
    public var isManaged: Bool
    /// A failure was ignored (`on-fail=ignore`).
    public var failureIgnored: Bool
    /// Must be stopped (recovery).
    public var mustStop: Bool
    /// A start is pending.
    public var startPending: Bool
    /// The name the history recorded for this instance when it differs from `id`
    /// (anonymous clone instances are recorded without or with another number).
    public var historyName: String?
    /// The failure timeout in seconds in force (a failure with `on-fail=block` disables it).
    public var failureTimeoutSeconds: Int
    /// The nodes the resource may be placed on so far, with their scores, before
    /// constraints: every node at 0 in a symmetric cluster, plus what the history
    /// added (see ``CIBModel/historyLocations``). Pacemaker's `allowed_nodes` after
    /// unpacking, indexed like ``CIBModel/nodes``; `nil` for a node not in the table.
    public var allowedNodes: [Score?]
    /// The histories per node, for primitives (in the order the nodes were read).
    public var histories: [ResourceHistory]
    /// Actions the history already requires.
    public var requiredActions: [RequiredAction]

    /// Creates a state.
    public init(
        role: Role = .stopped, nextRole: Role? = nil, runningOn: [String] = [], knownOn: [String] = [],
        pendingNode: String? = nil, pendingTask: String? = nil, isOrphan: Bool = false, isFailed: Bool = false,
        isBlocked: Bool = false, isManaged: Bool = true, failureIgnored: Bool = false, mustStop: Bool = false,
        startPending: Bool = false, historyName: String? = nil, failureTimeoutSeconds: Int = 0,
        allowedNodes: [Score?] = [], histories: [ResourceHistory] = [], requiredActions: [RequiredAction] = []
    ) {
        self.role = role
        self.nextRole = nextRole
        self.runningOn = runningOn
        self.knownOn = knownOn
        self.pendingNode = pendingNode
        self.pendingTask = pendingTask
        self.isOrphan = isOrphan
        self.isFailed = isFailed
        self.isBlocked = isBlocked
        self.isManaged = isManaged
        self.failureIgnored = failureIgnored
        self.mustStop = mustStop
        self.startPending = startPending
        self.historyName = historyName
        self.failureTimeoutSeconds = failureTimeoutSeconds
        self.allowedNodes = allowedNodes
        self.histories = histories
        self.requiredActions = requiredActions
    }
}

/// A resource in the unpacked model: a primitive, a group, or a clone with its
/// instances. Clones are expanded as Pacemaker expands them: a clone's children
/// are its instances (`child:0`, `child:1`, ...), each a primitive or a group.
///
/// Invariant: `index` is the resource's position in ``CIBModel/resources``;
/// `parent` and `children` are indices into the same array, and a resource's
/// children list it as their parent.
public struct Resource: Sendable, Hashable, Identifiable {
    /// The kind of resource.
    public enum Variant: String, Sendable, Hashable {
        case primitive, group, clone
    }

    /// The stored values, shared by every copy (see ``SharedValue``).
    @usableFromInline
    struct Fields: Sendable, Hashable {
        @usableFromInline let index: Int
        @usableFromInline let id: String
        @usableFromInline let configID: String
        @usableFromInline let element: String
        @usableFromInline let variant: Variant
        @usableFromInline let agent: ResourceAgent?
        @usableFromInline let parent: Int?
        @usableFromInline let children: [Int]
        @usableFromInline let meta: [String: String]
        @usableFromInline let parameters: [String: String]
        @usableFromInline let operations: [OperationDefinition]
        @usableFromInline let settings: ResourceSettings
        @usableFromInline let clone: CloneSettings?
        @usableFromInline let description: String?
        @usableFromInline let line: Int
        @usableFromInline let state: ResourceState
    }

    @usableFromInline let storage: SharedValue<Fields>

    /// The position in ``CIBModel/resources``.
    @inlinable public var index: Int { storage.value.index }
    /// The unique id (`rsc`, or `rsc:N` for a clone instance).
    @inlinable public var id: String { storage.value.id }
    /// The `id` attribute in the configuration (the same for every instance).
    @inlinable public var configID: String { storage.value.configID }
    /// The configuration element (`primitive`, `group`, `clone`, `master`).
    @inlinable public var element: String { storage.value.element }
    /// The kind of resource.
    @inlinable public var variant: Variant { storage.value.variant }
    /// The agent (primitives only).
    @inlinable public var agent: ResourceAgent? { storage.value.agent }
    /// The parent (a group or clone), if any.
    @inlinable public var parent: Int? { storage.value.parent }
    /// The children: group members, or clone instances.
    @inlinable public var children: [Int] { storage.value.children }
    /// The effective meta attributes (own, inherited from parents, and `rsc_defaults`).
    @inlinable public var meta: [String: String] { storage.value.meta }
    /// The instance attributes (parameters) without node-specific rules.
    @inlinable public var parameters: [String: String] { storage.value.parameters }
    /// The configured operations (primitives only).
    @inlinable public var operations: [OperationDefinition] { storage.value.operations }
    /// The meta attributes read into values.
    @inlinable public var settings: ResourceSettings { storage.value.settings }
    /// Clone settings (clones only).
    @inlinable public var clone: CloneSettings? { storage.value.clone }
    /// The `description` attribute, if any.
    @inlinable public var description: String? { storage.value.description }
    /// The 1-based line of the configuration element (0 for orphans).
    @inlinable public var line: Int { storage.value.line }
    /// The state after reading the history.
    @inlinable public var state: ResourceState { storage.value.state }

    /// Creates a resource.
    public init(
        index: Int, id: String, configID: String, element: String, variant: Variant, agent: ResourceAgent?,
        parent: Int?, children: [Int], meta: [String: String], parameters: [String: String],
        operations: [OperationDefinition], settings: ResourceSettings, clone: CloneSettings?,
        description: String?, line: Int, state: ResourceState
    ) {
        storage = SharedValue(
            Fields(
                index: index, id: id, configID: configID, element: element, variant: variant, agent: agent,
                parent: parent, children: children, meta: meta, parameters: parameters, operations: operations,
                settings: settings, clone: clone, description: description, line: line, state: state))
    }
}

/// A node score that reading the history adds to a resource (Pacemaker's
/// `resource_location` calls during unpacking), applied before constraints.
public struct HistoryLocation: Sendable, Hashable {
    /// The resource (index into ``CIBModel/resources``).
    public var resource: Int
    /// The node, or `nil` for every node.
    public var node: String?
    /// The score added.
    public var score: Score
    /// Pacemaker's tag for it (`hard-error`, `__stop_fail__`, `masked-probe-failure`, ...).
    public var reason: String

    /// Creates an entry.
    public init(resource: Int, node: String?, score: Score, reason: String) {
        self.resource = resource
        self.node = node
        self.score = score
        self.reason = reason
    }
}
