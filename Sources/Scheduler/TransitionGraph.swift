// The transition graph: the scheduler's output and the controller's input, in the shape of
// Pacemaker's graph XML (crm_simulate -G).

/// A name and value, kept in document order (graph and action attributes, parameters).
public struct GraphAttribute: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }

    public var description: String { "\(name)=\"\(value)\"" }
}

extension Array where Element == GraphAttribute {
    /// The value of the first attribute called `name`.
    public subscript(named name: String) -> String? {
        first(where: { $0.name == name })?.value
    }
}

/// A transition graph: what the controller must do, as synapses of one action each with the
/// actions that must complete first.
///
/// The same content as Pacemaker's `<transition_graph>`; ``renderXML()`` writes it as
/// crm_simulate's `-G` does (without `crm_feature_set` and `batch-limit`) and
/// ``parse(xml:sourceName:)`` reads such a file. Invariant: action ids are unique among the
/// synapses' actions, and every input refers to a synapse's action by id.
public struct TransitionGraph: Sendable, Hashable {
    /// The `<transition_graph>` attributes in order (cluster-delay, stonith-timeout,
    /// failed-stop-offset, failed-start-offset, transition_id).
    public var attributes: [GraphAttribute]
    /// The synapses in graph order (their ids are 0, 1, 2, ... in graphs the scheduler writes).
    public var synapses: [Synapse]

    public init(attributes: [GraphAttribute] = TransitionGraph.defaultAttributes, synapses: [Synapse] = []) {
        self.attributes = attributes
        self.synapses = synapses
    }

    /// The attributes crm_simulate writes for a cluster with default options.
    public static let defaultAttributes: [GraphAttribute] = [
        GraphAttribute("cluster-delay", "60s"),
        GraphAttribute("stonith-timeout", "60s"),
        GraphAttribute("failed-stop-offset", "INFINITY"),
        GraphAttribute("failed-start-offset", "INFINITY"),
        GraphAttribute("transition_id", "0"),
    ]

    /// The empty graph: nothing to do.
    public static let empty = TransitionGraph()

    /// Whether the graph has no synapse.
    public var isEmpty: Bool { synapses.isEmpty }

    /// The actions of all synapses, in synapse order.
    public var actions: [GraphAction] { synapses.map(\.action) }
}

/// One step of a transition graph: an action that may run once all its inputs have completed.
public struct Synapse: Sendable, Hashable {
    /// The synapse id (its position in the graph).
    public var id: Int
    /// The priority crm_simulate writes when nonzero (for example 1000000 for a clone's
    /// `running`/`stopped` pseudo actions); higher priorities fire first.
    public var priority: Int?
    /// The action, with its details (resource, attributes, downed nodes).
    public var action: GraphAction
    /// The actions that must complete first; as the graph writes them, without details
    /// (each names an action by id, operation, key and node).
    public var inputs: [GraphAction]

    public init(id: Int, priority: Int? = nil, action: GraphAction, inputs: [GraphAction] = []) {
        self.id = id
        self.priority = priority
        self.action = action
        self.inputs = inputs
    }
}

/// The resource an `rsc_op` acts on, as the graph's `<primitive>` element gives it.
public struct GraphPrimitive: Sendable, Hashable {
    /// The resource id as the executor knows it (for anonymous clone instances, the id without `:N`).
    public var id: String
    /// The instance id (`rsc:N`), written for clone instances.
    public var longID: String?
    /// The agent's class (ocf, stonith, lsb, ...).
    public var resourceClass: String
    /// The agent's provider (ocf only).
    public var provider: String?
    /// The agent's type.
    public var type: String

    public init(id: String, longID: String? = nil, resourceClass: String, provider: String? = nil, type: String) {
        self.id = id
        self.longID = longID
        self.resourceClass = resourceClass
        self.provider = provider
        self.type = type
    }
}

/// A node whose maintenance state an action updates (Pacemaker's `<maintenance><node .../>`).
public struct GraphMaintenanceNode: Sendable, Hashable {
    public var id: String
    public var inMaintenance: Bool

    public init(id: String, inMaintenance: Bool) {
        self.id = id
        self.inMaintenance = inMaintenance
    }
}

/// An action of the transition graph: a resource operation, a pseudo action (an ordering
/// point that runs nothing), or a cluster event (fencing, shutdown, clear failcount).
public struct GraphAction: Sendable, Hashable {
    /// The kind of action, named by its graph element.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// `<rsc_op>`: an operation of a resource agent on a node.
        case rscOp = "rsc_op"
        /// `<pseudo_event>`: an ordering point; nothing is executed.
        case pseudoEvent = "pseudo_event"
        /// `<crm_event>`: an action of the cluster itself (stonith, do_shutdown, clear_failcount).
        case crmEvent = "crm_event"
    }

    public var kind: Kind
    /// The action id, unique in the graph.
    public var id: Int
    /// The task (start, stop, monitor, promote, stonith, do_shutdown, running, ...).
    public var operation: String
    /// The operation key (`rsc_task_interval`, `stonith-node-reboot`, ...); for clone instances
    /// the key with the id the executor knows.
    public var operationKey: String
    /// The scheduler's own key, written for clone instances (`rsc:N_task_interval`).
    public var internalOperationKey: String?
    /// The node the action runs on (absent for pseudo actions).
    public var onNode: String?
    /// The node's uuid.
    public var onNodeUUID: String?
    /// The node that routes the action to a remote node.
    public var routerNode: String?
    /// `mode` (crm_event `lrm_delete` of a shutdown lock: "cib"); written before the id.
    public var mode: String?
    /// Any further attributes of the action element, written after the standard ones.
    public var extraAttributes: [GraphAttribute]
    /// The resource (real resource actions only).
    public var primitive: GraphPrimitive?
    /// The action's attributes (parameters and CRM_meta_* meta attributes), sorted by name.
    public var attributes: [GraphAttribute]
    /// Parameters whose names start with a digit, written as `<param>` children of `<attributes>`.
    public var params: [GraphAttribute]
    /// Uuids of the nodes this action brings down (fencing, shutdown).
    public var downed: [String]
    /// Nodes whose maintenance state the action updates; nil when there is no `<maintenance>`.
    public var maintenance: [GraphMaintenanceNode]?

    public init(
        kind: Kind, id: Int, operation: String, operationKey: String, internalOperationKey: String? = nil,
        onNode: String? = nil, onNodeUUID: String? = nil, routerNode: String? = nil, mode: String? = nil,
        extraAttributes: [GraphAttribute] = [], primitive: GraphPrimitive? = nil, attributes: [GraphAttribute] = [],
        params: [GraphAttribute] = [], downed: [String] = [], maintenance: [GraphMaintenanceNode]? = nil
    ) {
        self.kind = kind
        self.id = id
        self.operation = operation
        self.operationKey = operationKey
        self.internalOperationKey = internalOperationKey
        self.onNode = onNode
        self.onNodeUUID = onNodeUUID
        self.routerNode = routerNode
        self.mode = mode
        self.extraAttributes = extraAttributes
        self.primitive = primitive
        self.attributes = attributes
        self.params = params
        self.downed = downed
        self.maintenance = maintenance
    }

    /// The action as an input refers to it: the element's attributes, without details.
    public var reference: GraphAction {
        GraphAction(
            kind: kind, id: id, operation: operation, operationKey: operationKey,
            internalOperationKey: internalOperationKey, onNode: onNode, onNodeUUID: onNodeUUID,
            routerNode: routerNode, mode: mode, extraAttributes: extraAttributes)
    }

    // MARK: What the executor needs

    /// The task (same as ``operation``).
    public var task: String { operation }

    /// The node the action runs on.
    public var node: String? { onNode }

    /// Whether this is a pseudo action (nothing to execute).
    public var isPseudo: Bool { kind == .pseudoEvent }

    /// The resource id as the scheduler knows it: the primitive's long id (`rsc:N`) when
    /// given, else its id; nil for actions without a resource.
    public var resourceLongID: String? {
        guard let primitive else { return nil }
        return primitive.longID ?? primitive.id
    }

    /// The operation interval in milliseconds (`CRM_meta_interval`, 0 when absent).
    public var intervalMilliseconds: Int {
        attributes[named: "CRM_meta_interval"].flatMap { Int($0) } ?? 0
    }

    /// The result the scheduler expects (`CRM_meta_op_target_rc`, 0 when absent): 7 for a
    /// probe expecting "not running", 8 for a promoted monitor.
    public var targetRC: Int {
        attributes[named: "CRM_meta_op_target_rc"].flatMap { Int($0) } ?? 0
    }

    /// The operation timeout in milliseconds (`CRM_meta_timeout`), if given.
    public var timeoutMilliseconds: Int? {
        attributes[named: "CRM_meta_timeout"].flatMap { Int($0) }
    }
}
