// Orderings between actions: internal ones, the configured ones, fencing, and applying
// them until every action's required and runnable flags are settled (Pacemaker 2.1.5's
// pcmk__apply_orderings and pcmk__update_action_for_orderings).
import CIB

extension ActionsComputation {
    /// Adds an ordering between two actions (`order_actions`); false if it existed.
    @discardableResult
    func orderActions(_ first: Int, _ then: Int, _ type: OrderFlags) -> Bool {
        if type.isEmpty || first == then { return false }
        if actions[first].after.contains(where: { edges[$0].then == then && !edges[$0].type.isDisjoint(with: type) }) {
            return false
        }
        let edge = edges.count
        edges.append((first, then, type))
        actions[first].after.insert(edge, at: 0)
        actions[then].before.insert(edge, at: 0)
        return true
    }

    /// Records a resource-level ordering (`pcmk__new_ordering`).
    func newOrdering(
        first: Int?, firstTask: String?, firstAction: Int? = nil, then: Int?, thenTask: String?,
        thenAction: Int? = nil, _ flags: OrderFlags
    ) {
        orderings.append(
            PendingOrdering(
                firstResource: first ?? firstAction.flatMap { actions[$0].resource },
                firstTask: firstTask.map { key(first!, $0) } ?? firstAction.map { actions[$0].key },
                firstAction: firstAction,
                thenResource: then ?? thenAction.flatMap { actions[$0].resource },
                thenTask: thenTask.map { key(then!, $0) } ?? thenAction.map { actions[$0].key },
                thenAction: thenAction, flags: flags))
    }

    func order(_ first: Int, _ firstTask: String, _ then: Int, _ thenTask: String, _ flags: OrderFlags) {
        newOrdering(first: first, firstTask: firstTask, then: then, thenTask: thenTask, flags)
    }

    // MARK: Internal orderings

    func internalConstraints(_ resource: Int) {
        let item = model.resources[resource]
        switch item.variant {
        case .primitive:
            guard managed[resource] else { return }
            order(resource, "stop", resource, "start", [.optional, .impliesThen, .restart])
            if promotable[resource] || role[resource] > .unpromoted {
                order(resource, "demote", resource, "stop", .promotedImpliesFirst)
                order(resource, "start", resource, "promote", .runnableLeft)
            }
        case .group:
            groupConstraints(resource)
        case .clone:
            cloneConstraints(resource)
        }
    }

    func groupConstraints(_ group: Int) {
        order(group, "stop", group, "stopped", .runnableLeft)
        order(group, "stopped", group, "start", .optional)
        order(group, "start", group, "running", .runnableLeft)
        let ordered = pacemakerBoolean(model.resources[group].meta["ordered"]) ?? true
        let isPromotable = promotable[group]
        var previous: Int?
        var lastActive: Int?
        for member in model.resources[group].children {
            internalConstraints(member)
            var downFlags: OrderFlags = .impliesFirstPrinted
            var postDownFlags: OrderFlags = .impliesThenPrinted
            if previous == nil && ordered {
                downFlags.insert(.optional)
                postDownFlags = .impliesThen
            }
            if isPromotable {
                order(group, "demote", member, "demote", downFlags)
                order(member, "demote", group, "demoted", postDownFlags)
                order(member, "promote", group, "promoted", [.runnableLeft, .impliesThen, .impliesThenPrinted])
                order(group, "promote", member, "promote", .impliesFirstPrinted)
            }
            order(group, "stop", member, "stop", downFlags)
            order(member, "stop", group, "stopped", postDownFlags)
            order(group, "start", member, "start", .impliesFirstPrinted)
            order(member, "start", group, "running", [.runnableLeft, .impliesThen, .impliesThenPrinted])
            if !ordered {
                order(group, "start", member, "start", [.impliesThen, .runnableLeft, .impliesFirstPrinted])
                if isPromotable {
                    order(group, "promote", member, "promote", [.impliesThen, .runnableLeft, .impliesFirstPrinted])
                }
            } else if let previous {
                order(previous, "start", member, "start", [.impliesThen, .runnableLeft])
                order(member, "stop", previous, "stop", [.optional, .restart])
                if isPromotable {
                    order(previous, "promote", member, "promote", [.impliesThen, .runnableLeft])
                    order(member, "demote", previous, "demote", .optional)
                }
            }
            if !runningOn[member].isEmpty {
                if ordered, let previous, runningOn[previous].isEmpty, let lastActive, !runningOn[lastActive].isEmpty {
                    order(member, "stop", lastActive, "stop", .optional)
                }
                lastActive = member
            }
            previous = member
        }
    }

    func cloneConstraints(_ clone: Int) {
        let item = model.resources[clone]
        order(clone, "stopped", clone, "start", .optional)
        order(clone, "start", clone, "running", .runnableLeft)
        order(clone, "stop", clone, "stopped", .runnableLeft)
        if item.settings.isPromotable {
            order(clone, "demoted", clone, "stop", .optional)
            order(clone, "running", clone, "promote", .runnableLeft)
        }
        let ordered = item.clone?.ordered ?? false
        let children = ordered ? instancesInNumberOrder(clone) : item.children
        var last: Int?
        for child in children {
            internalConstraints(child)
            order(clone, "start", child, "start", [.runnableLeft, .impliesFirstPrinted])
            order(child, "start", clone, "running", .impliesThenPrinted)
            if ordered, let last { order(last, "start", child, "start", .optional) }
            order(clone, "stop", child, "stop", .impliesFirstPrinted)
            order(child, "stop", clone, "stopped", .impliesThenPrinted)
            if ordered, let last { order(child, "stop", last, "stop", .optional) }
            last = child
        }
        if item.settings.isPromotable {
            order(clone, "stopped", clone, "start", .optional)
            order(clone, "stopped", clone, "promote", .optional)
            order(clone, "demoted", clone, "stop", .optional)
            order(clone, "demoted", clone, "start", .optional)
            order(clone, "demoted", clone, "promote", .optional)
            order(clone, "running", clone, "promote", .optional)
            order(clone, "demote", clone, "demoted", .optional)
            var previous: Int?
            for child in item.children {
                order(child, "demote", child, "promote", .optional)
                order(clone, "promote", child, "promote", .optional)
                order(child, "promote", clone, "promoted", .optional)
                if let previous, ordered { order(previous, "promote", child, "promote", .optional) }
                order(clone, "demote", child, "demote", .impliesFirstPrinted)
                order(child, "demote", clone, "demoted", .impliesThenPrinted)
                if let previous, ordered { order(child, "demote", previous, "demote", .optional) }
                previous = child
            }
        }
    }

    // MARK: Configured orderings

    static func invert(_ task: String) -> String? {
        switch task {
        case "start": return "stop"
        case "stop": return "start"
        case "promote": return "demote"
        case "demote": return "promote"
        case "promoted": return "demoted"
        case "demoted": return "promoted"
        case "running": return "stopped"
        case "stopped": return "running"
        default: return nil
        }
    }

    enum Symmetry { case asymmetric, symmetric, inverse }

    func flagsForKind(_ kind: OrderKind, first: String, _ symmetry: Symmetry) -> OrderFlags {
        var flags: OrderFlags = .optional
        switch kind {
        case .optional: break
        case .serialize: flags.insert(.serializeOnly)
        case .mandatory:
            switch symmetry {
            case .asymmetric: flags.insert(.asymmetrical)
            case .symmetric:
                flags.insert(.impliesThen)
                if first == "start" || first == "promote" { flags.insert(.runnableLeft) }
            case .inverse: flags.insert(.impliesFirst)
            }
        }
        return flags
    }

    func orderKind(_ constraint: OrderConstraint) -> OrderKind {
        if let kind = constraint.kind { return kind }
        if let score = constraint.score, score == .zero { return .optional }
        return .mandatory
    }

    func symmetry(kind: OrderKind, symmetrical: Bool?) -> Symmetry {
        if let symmetrical {
            return symmetrical && kind != .serialize ? .symmetric : .asymmetric
        }
        return kind == .serialize ? .asymmetric : .symmetric
    }

    func configuredOrderings() {
        for constraint in model.constraints.order {
            let kind = orderKind(constraint)
            let symmetry = symmetry(kind: kind, symmetrical: constraint.symmetrical)
            if constraint.sets.isEmpty {
                simpleOrdering(constraint, kind: kind, symmetry: symmetry)
                continue
            }
            var last: ResourceSet?
            for set in constraint.sets {
                orderWithinSet(set, parentKind: kind, symmetrical: constraint.symmetrical)
                if let last {
                    orderSets(constraint.id, last, set, kind: kind, symmetry: symmetry)
                    if symmetry == .symmetric { orderSets(constraint.id, set, last, kind: kind, symmetry: .inverse) }
                }
                last = set
            }
        }
    }

    func simpleOrdering(_ constraint: OrderConstraint, kind: OrderKind, symmetry: Symmetry) {
        guard let pair = constraint.pair, let first = model.resource(pair.first)?.index,
            let then = model.resource(pair.then)?.index
        else { return }
        let firstTask = pair.firstAction?.rawValue ?? "start"
        let thenTask = pair.thenAction?.rawValue ?? firstTask
        var flags = flagsForKind(kind, first: firstTask, symmetry)
        if kind == .optional && model.resources[then].settings.restartTypeRestart { flags.insert(.impliesThen) }
        let minimum = minimumFirstInstances(first, requireAll: constraint.requireAll)
        if minimum > 0 {
            let met = pseudoOp("clone-one-or-more:\(constraint.id)")
            actions[met].requiredRunnableBefore = minimum
            actions[met].flags.insert(.requiresAny)
            for child in model.resources[first].children {
                newOrdering(
                    first: child, firstTask: firstTask, then: nil, thenTask: nil, thenAction: met,
                    [.oneOrMore, .impliesThenPrinted])
            }
            newOrdering(
                first: nil, firstTask: nil, firstAction: met, then: then, thenTask: thenTask,
                flags.union(.runnableLeft))
        } else {
            order(first, firstTask, then, thenTask, flags)
        }
        if symmetry == .symmetric, let inverseFirst = Self.invert(firstTask), let inverseThen = Self.invert(thenTask) {
            var inverseFlags = flagsForKind(kind, first: inverseFirst, .inverse)
            if kind == .optional && model.resources[first].settings.restartTypeRestart {
                inverseFlags.insert(.impliesFirst)
            }
            order(then, inverseThen, first, inverseFirst, inverseFlags)
        }
    }

    func minimumFirstInstances(_ resource: Int, requireAll: Bool?) -> Int {
        guard model.resources[resource].variant == .clone else { return 0 }
        if let text = model.resources[resource].meta["clone-min"] { return max(0, Int(text) ?? 0) }
        if requireAll == false { return 1 }
        return 0
    }

    func orderWithinSet(_ set: ResourceSet, parentKind: OrderKind, symmetrical: Bool?) {
        let task = set.action?.rawValue ?? "start"
        let kind = set.kind ?? parentKind
        let symmetry = symmetry(kind: parentKind, symmetrical: symmetrical)
        let flags = flagsForKind(kind, first: task, symmetry)
        let members = set.resources.compactMap { model.resource($0)?.index }
        guard members.count > 1 else { return }
        let sequential = set.sequential ?? true
        var last: Int?
        for (position, member) in members.enumerated() {
            if kind == .serialize {
                for then in members[(position + 1)...] { order(member, task, then, task, flags) }
            } else if sequential {
                if let last { order(last, task, member, task, flags) }
                last = member
            }
        }
        guard symmetry != .asymmetric, let inverse = Self.invert(task) else { return }
        let inverseFlags = flagsForKind(kind, first: inverse, .inverse)
        last = nil
        for member in members where sequential {
            if let last { order(member, inverse, last, inverse, inverseFlags) }
            last = member
        }
    }

    func orderSets(_ id: String, _ set1: ResourceSet, _ set2: ResourceSet, kind: OrderKind, symmetry: Symmetry) {
        var action1 = set1.action?.rawValue ?? "start"
        var action2 = set2.action?.rawValue ?? "start"
        if symmetry == .inverse {
            action1 = Self.invert(action1) ?? action1
            action2 = Self.invert(action2) ?? action2
        }
        var requireAll = set1.requireAll ?? true
        if action1 == "stop" || action1 == "demote" { requireAll = true }
        let flags = flagsForKind(kind, first: action2, symmetry)
        let members1 = set1.resources.compactMap { model.resource($0)?.index }
        let members2 = set2.resources.compactMap { model.resource($0)?.index }
        if !requireAll {
            let any = pseudoOp("one-or-more:\(set1.id)")
            actions[any].flags.insert(.requiresAny)
            for member in members1 {
                newOrdering(
                    first: member, firstTask: action1, then: nil, thenTask: nil, thenAction: any,
                    [.oneOrMore, .impliesThenPrinted])
            }
            for member in members2 {
                newOrdering(
                    first: nil, firstTask: nil, firstAction: any, then: member, thenTask: action2,
                    flags.union(.runnableLeft))
            }
            return
        }
        var rsc1: Int?
        var rsc2: Int?
        if set1.sequential == true { rsc1 = symmetry == .inverse ? members1.first : members1.last }
        if set2.sequential == true { rsc2 = symmetry == .inverse ? members2.last : members2.first }
        switch (rsc1, rsc2) {
        case let (first?, then?): order(first, action1, then, action2, flags)
        case let (first?, nil): for then in members2 { order(first, action1, then, action2, flags) }
        case let (nil, then?): for first in members1 { order(first, action1, then, action2, flags) }
        case (nil, nil):
            for first in members1 { for then in members2 { order(first, action1, then, action2, flags) } }
        }
    }

    // MARK: Fencing orderings

    /// `pcmk__order_vs_fence`: stops and demotes on the fenced node become pseudo-actions
    /// implied by the fencing.
    func orderVersusFencing(_ fence: Int) {
        for top in model.topLevel { orderVersusFencing(fence, resource: top) }
    }

    func orderVersusFencing(_ fence: Int, resource: Int) {
        let item = model.resources[resource]
        if !item.children.isEmpty {
            for child in item.children { orderVersusFencing(fence, resource: child) }
            return
        }
        guard managed[resource], let target = actions[fence].node else { return }
        for index in resourceActions[resource].reversed() {
            switch actions[index].needs {
            case .nothing: break
            case .fencing: orderActions(fence, index, .optional)
            case .quorum:
                if actions[index].task == "start",
                    item.state.allowedNodes.indices.contains(target), item.state.allowedNodes[target] != nil,
                    !isKnown(resource, on: target)
                {
                    orderActions(fence, index, [.optional, .runnableLeft])
                }
            }
        }
        let implicit = [.fencing, .unfencing].contains(item.settings.requires)
        let stops = resourceActions[resource].reversed().filter { actions[$0].task == "stop" && actions[$0].node == target }
        let top = model.topAncestor(of: resource)
        let parentStop = implicit && !stops.isEmpty ? firstAction(top, task: "stop", node: nil) : nil
        for stop in stops {
            actions[stop].flags.formUnion([.pseudo, .runnable])
            if implicit {
                actions[stop].flags.insert(.impliedByFencing)
                orderActions(fence, stop, .preserve)
                if let parentStop { orderActions(fence, parentStop, .preserve) }
            }
        }
        for demote in resourceActions[resource].reversed() where actions[demote].task == "demote" && actions[demote].node == target {
            if !online[target] || unclean[target] || failed[resource] {
                actions[demote].flags.formUnion([.pseudo, .runnable])
                if implicit { orderActions(fence, demote, [.preserve, .optional]) }
            }
        }
    }

    func isKnown(_ resource: Int, on node: Int) -> Bool {
        let name = model.nodes[node].name
        if model.resources[resource].state.knownOn.contains(name) { return true }
        if let parent = model.resources[resource].parent, model.resources[parent].variant == .clone,
            !model.resources[parent].settings.isUnique
        {
            return model.resources[parent].state.knownOn.contains(name)
        }
        return false
    }

    /// `schedule_fencing_and_shutdowns`.
    func scheduleFencing() {
        let haveManaged = managed.contains(true)
        for node in model.nodes.indices {
            if haveManaged && unclean[node] && canFence(node) {
                let fence = fenceAction(node: node, optional: false, reason: "node is unclean")
                orderVersusFencing(fence)
            } else if online[node] && model.nodes[node].state.shutdown {
                let name = "do_shutdown-\(model.nodes[node].name)"
                if singletons[name] == nil {
                    let index = actions.count
                    actions.append(
                        PlannedAction(
                            resource: nil, task: "do_shutdown", key: name, node: node, flags: [.runnable]))
                    singletons[name] = index
                }
            }
        }
    }
}
