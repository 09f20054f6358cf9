// The actions phase: the actions a placement needs, their orderings, and which of them
// are required and runnable after the orderings are applied (Pacemaker 2.1.5's
// create_actions, internal constraints, pcmk__apply_orderings and
// pcmk__update_action_for_orderings).
import CIB

/// Flags of an action (Pacemaker's `pe_action_flags`, the ones the phase uses).
struct ActionFlags: OptionSet, Hashable {
    let rawValue: UInt32
    static let optional = ActionFlags(rawValue: 1 << 0)
    static let runnable = ActionFlags(rawValue: 1 << 1)
    static let pseudo = ActionFlags(rawValue: 1 << 2)
    static let printAlways = ActionFlags(rawValue: 1 << 3)
    static let requiresAny = ActionFlags(rawValue: 1 << 4)
    static let impliedByFencing = ActionFlags(rawValue: 1 << 5)
    static let migrateRunnable = ActionFlags(rawValue: 1 << 6)
}

/// Kinds of ordering (Pacemaker's `pe_ordering` bits, same values).
struct OrderFlags: OptionSet, Hashable {
    let rawValue: UInt32
    static let none: OrderFlags = []
    static let optional = OrderFlags(rawValue: 0x1)
    static let impliesFirst = OrderFlags(rawValue: 0x10)
    static let impliesThen = OrderFlags(rawValue: 0x20)
    static let promotedImpliesFirst = OrderFlags(rawValue: 0x40)
    static let runnableLeft = OrderFlags(rawValue: 0x100)
    static let restart = OrderFlags(rawValue: 0x1000)
    static let serializeOnly = OrderFlags(rawValue: 0x4000)
    static let sameNode = OrderFlags(rawValue: 0x8000)
    static let impliesFirstPrinted = OrderFlags(rawValue: 0x10000)
    static let impliesThenPrinted = OrderFlags(rawValue: 0x20000)
    static let asymmetrical = OrderFlags(rawValue: 0x100000)
    static let oneOrMore = OrderFlags(rawValue: 0x400000)
    static let preserve = OrderFlags(rawValue: 0x1000000)
    static let thenCancelsFirst = OrderFlags(rawValue: 0x2000000)
}

/// What an action needs before it may run.
enum ActionNeeds { case nothing, quorum, fencing }

/// One action of the transition (resource action, pseudo-action or node action).
struct PlannedAction {
    /// The resource (index into the model), `nil` for node and pseudo actions without one.
    var resource: Int?
    /// `start`, `stop`, `promote`, `demote`, `running`, `stopped`, `promoted`, `demoted`,
    /// `stonith`, `do_shutdown`, or a pseudo-action's name.
    var task: String
    /// Pacemaker's key (`rsc_start_0`), or the pseudo-action's name.
    var key: String
    var node: Int?
    var flags: ActionFlags
    var reason: String?
    var needs: ActionNeeds = .nothing
    /// Orderings this action comes after (`actions_before`; edge indices), newest first.
    var before: [Int] = []
    /// Orderings this action comes before (`actions_after`; edge indices), newest first.
    var after: [Int] = []
    var runnableBefore = 0
    var requiredRunnableBefore = 0
    /// For fencing: the fence action (`reboot`, `off`, `on`).
    var fenceAction: String?
    var priority = 0
    /// Recurring operations: the interval in milliseconds (0 for others).
    var interval = 0
    /// The configured timeout, if any.
    var timeout: Int?
    /// The result expected (8 for a promoted monitor).
    var targetRC = 0
}

/// A resource-level ordering before it is expanded to actions (`pe__ordering_t`).
struct PendingOrdering {
    var firstResource: Int?
    var firstTask: String?
    var firstAction: Int?
    var thenResource: Int?
    var thenTask: String?
    var thenAction: Int?
    var flags: OrderFlags
}

/// The working state of the actions phase (private; the result is immutable).
final class ActionsComputation {
    let model: CIBModel
    let placement: Placement
    var actions: [PlannedAction] = []
    /// Orderings between actions: `first` before `then`.
    var edges: [(first: Int, then: Int, type: OrderFlags)] = []
    /// Actions per resource, in creation order.
    var resourceActions: [[Int]]
    /// Node actions and pseudo-actions without resource, by key.
    var singletons: [String: Int] = [:]
    var orderings: [PendingOrdering] = []

    // Per-resource scheduling state (Pacemaker's resource fields that actions change).
    var role: [Role]
    var nextRole: [Role]
    var allocated: [Int?]
    var runningOn: [[Int]]
    var managed: [Bool]
    var failed: [Bool]
    var stopNeeded: [Bool]
    var blocked: [Bool]
    var restarting: [Bool]
    var stopUnexpected: [Bool]
    let promotable: [Bool]

    // Per-node state.
    var online: [Bool]
    var unclean: [Bool]
    var pendingNode: [Bool]
    let haveFencingResource: Bool
    /// Colocations where each configured resource is the primary (`rsc_cons_lhs`).
    var primaryOf: [[Colocation]]

    init(model: CIBModel, placement: Placement) {
        self.model = model
        self.placement = placement
        let count = model.resources.count
        resourceActions = Array(repeating: [], count: count)
        role = model.resources.map { $0.state.role }
        nextRole = placement.roles
        allocated = placement.nodes
        runningOn = model.resources.map { resource in
            resource.state.runningOn.compactMap { model.node(named: $0)?.index }
        }
        managed = model.resources.map { $0.state.isManaged && !placement.frozen.contains($0.index) }
        failed = model.resources.map { $0.state.isFailed }
        stopNeeded = model.resources.map { $0.state.mustStop }
        blocked = model.resources.map { $0.state.isBlocked }
        restarting = Array(repeating: false, count: count)
        stopUnexpected = Array(repeating: false, count: count)
        promotable = model.resources.map { model.resources[model.topAncestor(of: $0.index)].settings.isPromotable }
        online = model.nodes.map { $0.state.online }
        unclean = model.nodes.map { $0.state.unclean }
        pendingNode = model.nodes.map { $0.state.pending }
        haveFencingResource =
            model.properties.haveWatchdog || model.resources.contains { $0.agent?.isFencing ?? false }
        primaryOf = Array(repeating: [], count: count)
        for colocation in Colocation.unpack(model) {
            primaryOf[colocation.primary].append(colocation)
        }
        // Promotable clone instances use the unpromoted role instead of started.
        for resource in model.resources where promotable[resource.index] && role[resource.index] == .started {
            role[resource.index] = .unpromoted
        }
        // Members of a promotable clone's group instances take the instance's role.
        for resource in model.resources where resource.variant == .group && promotable[resource.index] {
            for member in resource.children where nextRole[resource.index] >= .unpromoted {
                nextRole[member] = allocated[member] == nil ? .stopped : nextRole[resource.index]
            }
        }
        // Nodes unpacking found must be fenced, with the first reason found.
        for node in model.nodes where node.state.unclean {
            if let reason = node.state.fenceReason {
                _ = fenceAction(node: node.index, optional: true, reason: reason)
            }
        }
        // Nodes fenced because a ticket with loss-policy=fence was lost.
        for node in placement.ticketFencedNodes.sorted() where !unclean[node] {
            unclean[node] = true
            _ = fenceAction(node: node, optional: true, reason: "deadman ticket was lost")
        }
    }

    // MARK: Creating actions

    func key(_ resource: Int, _ task: String, interval: Int = 0) -> String {
        "\(model.resources[resource].id)_\(task)_\(interval)"
    }

    /// Actions of a resource with `key` on `node` (any node when `nil`), newest first.
    func findActions(_ resource: Int, key: String, node: Int?) -> [Int] {
        resourceActions[resource].reversed().filter { index in
            actions[index].key == key && (node == nil || actions[index].node == nil || actions[index].node == node)
        }
    }

    /// The newest action of a resource with `task` on `node` (any node when `nil`)
    /// (`find_first_action` with a task).
    func firstAction(_ resource: Int, task: String, node: Int?) -> Int? {
        resourceActions[resource].reversed().first { index in
            actions[index].task == task && (node == nil || actions[index].node == node)
        }
    }

    func isActive(_ resource: Int) -> Bool {
        if model.resources[resource].children.isEmpty { return !runningOn[resource].isEmpty }
        return model.resources[resource].children.contains { isActive($0) }
    }

    /// Creates or updates a resource action (`custom_action`).
    @discardableResult
    func resourceAction(_ resource: Int, task: String, node: Int?, optional: Bool) -> Int {
        let actionKey = key(resource, task)
        let index: Int
        if let existing = findActions(resource, key: actionKey, node: node).first {
            index = existing
        } else {
            index = actions.count
            var flags: ActionFlags = [.runnable]
            if optional { flags.insert(.optional) }
            var action = PlannedAction(
                resource: resource, task: task, key: actionKey, node: node, flags: flags)
            if task == "start" || task == "promote" {
                switch model.resources[resource].settings.requires {
                case .fencing, .unfencing: action.needs = .fencing
                case .quorum: action.needs = .quorum
                case .nothing: action.needs = .nothing
                }
            }
            actions.append(action)
            resourceActions[resource].append(index)
        }
        // Non-recurring actions of unmanaged resources are optional.
        if node != nil, !actions[index].flags.contains(.pseudo), !managed[resource] {
            actions[index].flags.insert(.optional)
        } else if !optional {
            actions[index].flags.remove(.optional)
        }
        updateRunnable(index)
        return index
    }

    /// `update_resource_action_runnable`.
    func updateRunnable(_ index: Int) {
        guard !actions[index].flags.contains(.pseudo), let resource = actions[index].resource else { return }
        guard let node = actions[index].node else {
            actions[index].flags.remove(.runnable)
            return
        }
        if !online[node] {
            actions[index].flags.remove(.runnable)
            if managed[resource] && actions[index].task == "stop" && !unclean[node] {
                fenceNode(node, reason: "stop is unrunnable")
            }
        } else if pendingNode[node] {
            actions[index].flags.remove(.runnable)
        } else if actions[index].needs == .nothing {
            actions[index].reason = nil
            actions[index].flags.insert(.runnable)
        } else {
            switch effectiveQuorumPolicy(resource) {
            case .stop:
                actions[index].flags.remove(.runnable)
                actions[index].reason = "no quorum"
            case .freeze:
                if !isActive(resource) || nextRole[resource] > role[resource] {
                    actions[index].flags.remove(.runnable)
                    actions[index].reason = "quorum freeze"
                }
            default:
                actions[index].flags.insert(.runnable)
            }
        }
    }

    func effectiveQuorumPolicy(_ resource: Int) -> NoQuorumPolicy {
        if model.haveQuorum { return .ignore }
        let policy = model.properties.effectiveNoQuorumPolicy
        if policy == .demote {
            switch role[resource] {
            case .promoted, .unpromoted:
                if nextRole[resource] > .unpromoted { nextRole[resource] = .unpromoted }
                return .ignore
            default:
                return .stop
            }
        }
        return policy
    }

    /// A pseudo-action of a collective resource (`pe__new_rsc_pseudo_action`).
    @discardableResult
    func pseudoAction(_ resource: Int, task: String, optional: Bool, runnable: Bool) -> Int {
        let index = resourceAction(resource, task: task, node: nil, optional: optional)
        actions[index].flags.insert(.pseudo)
        if runnable { actions[index].flags.insert(.runnable) }
        return index
    }

    /// A pseudo-action without resource (`get_pseudo_op`).
    func pseudoOp(_ name: String) -> Int {
        if let existing = singletons[name] { return existing }
        let index = actions.count
        actions.append(
            PlannedAction(
                resource: nil, task: name, key: name, node: nil, flags: [.optional, .pseudo, .runnable]))
        singletons[name] = index
        return index
    }

    // MARK: Fencing

    func canFence(_ node: Int?) -> Bool {
        guard model.properties.stonithEnabled, haveFencingResource else { return false }
        if model.haveQuorum || model.properties.effectiveNoQuorumPolicy == .ignore { return true }
        guard let node else { return false }
        return online[node]
    }

    /// Marks a node for fencing (`pe_fence_node`).
    func fenceNode(_ node: Int, reason: String) {
        guard !unclean[node] else { return }
        unclean[node] = true
        _ = fenceAction(node: node, optional: true, reason: reason)
    }

    /// Creates or updates a node's fence action (`pe_fence_op`).
    func fenceAction(node: Int, optional: Bool, reason: String?) -> Int {
        let operation = model.properties.stonithAction
        let name = "stonith-\(model.nodes[node].name)-\(operation)"
        let index: Int
        if let existing = singletons[name] {
            index = existing
        } else {
            index = actions.count
            var action = PlannedAction(
                resource: nil, task: "stonith", key: name, node: node, flags: [.optional, .runnable])
            action.fenceAction = operation
            actions.append(action)
            singletons[name] = index
        }
        if !optional && canFence(node) {
            actions[index].flags.remove(.optional)
            if actions[index].reason == nil { actions[index].reason = reason }
        } else if let reason, actions[index].reason == nil {
            actions[index].reason = reason
        }
        return index
    }
}
