// Applying orderings until every action's flags are settled (Pacemaker 2.1.5's
// pcmk__apply_orderings, pcmk__update_action_for_orderings and the per-variant
// update_ordered_actions / action_flags methods).
import CIB

extension ActionsComputation {
    /// The resource actions matching an ordering's task key (`find_actions_by_task`).
    func actionsByKey(_ resource: Int, _ originalKey: String) -> [Int] {
        let direct = findActions(resource, key: originalKey, node: nil)
        if !direct.isEmpty { return direct }
        guard let task = Self.task(ofKey: originalKey) else { return [] }
        return findActions(resource, key: key(resource, task), node: nil)
    }

    /// The task of a key `rsc_task_interval`.
    static func task(ofKey key: String) -> String? {
        guard let last = key.lastIndex(of: "_") else { return nil }
        let head = key[..<last]
        guard let previous = head.lastIndex(of: "_") else { return nil }
        return String(head[head.index(after: previous)...])
    }

    func orderAfter(_ first: Int?, resource: Int, _ ordering: PendingOrdering) {
        var thens: [Int]
        if let action = ordering.thenAction {
            thens = [action]
        } else if let task = ordering.thenTask {
            thens = actionsByKey(resource, task)
        } else {
            thens = []
        }
        if thens.isEmpty { return }
        if first == nil && !ordering.flags.contains(.impliesThen) { return }
        for then in thens {
            if let first {
                orderActions(first, then, ordering.flags)
            } else {
                actions[then].flags.remove(.runnable)
            }
        }
    }

    func roleOf(_ resource: Int) -> Role {
        let item = model.resources[resource]
        if item.children.isEmpty { return role[resource] }
        return item.children.map { roleOf($0) }.max() ?? .stopped
    }

    /// `pcmk__apply_orderings`.
    func applyOrderings() {
        for ordering in orderings {
            if let firstResource = ordering.firstResource {
                var firsts: [Int]
                if let action = ordering.firstAction {
                    firsts = [action]
                } else {
                    firsts = actionsByKey(firstResource, ordering.firstTask ?? "")
                }
                if firsts.isEmpty && firstResource != ordering.thenResource {
                    let task = Self.task(ofKey: ordering.firstTask ?? "") ?? ""
                    let state = roleOf(firstResource)
                    if (state == .stopped && task == "stop") || (state == .unpromoted && task == "demote") {
                    } else if !task.isEmpty {
                        firsts = [resourceAction(firstResource, task: task, node: nil, optional: true)]
                    }
                }
                let thenResource = ordering.thenResource ?? ordering.thenAction.flatMap { actions[$0].resource }
                for first in firsts {
                    if let thenResource {
                        orderAfter(first, resource: thenResource, ordering)
                    } else if let then = ordering.thenAction {
                        orderActions(first, then, ordering.flags)
                    }
                }
            } else if let thenResource = ordering.thenResource {
                orderAfter(ordering.firstAction, resource: thenResource, ordering)
            } else if let first = ordering.firstAction, let then = ordering.thenAction {
                orderActions(first, then, ordering.flags)
            }
        }
        for index in actions.indices.reversed() { blockColocationDependents(index) }
        for index in actions.indices.reversed() { updateForOrderings(index) }
    }

    // MARK: Flags per variant

    func complexTask(_ resource: Int, _ task: String) -> String {
        guard model.resources[resource].variant == .primitive else { return task }
        switch task {
        case "running": return "start"
        case "stopped": return "stop"
        case "promoted": return "promote"
        case "demoted": return "demote"
        default: return task
        }
    }

    /// The flags of an action as its resource reports them (`action_flags` methods).
    func actionFlags(_ index: Int, node: Int?) -> ActionFlags {
        guard let resource = actions[index].resource else { return actions[index].flags }
        let item = model.resources[resource]
        switch item.variant {
        case .primitive:
            return actions[index].flags
        case .group:
            var flags: ActionFlags = [.optional, .runnable, .pseudo]
            for member in item.children {
                let task = complexTask(member, actions[index].task)
                if let memberAction = firstAction(member, task: task, node: node) {
                    let memberFlags = actionFlags(memberAction, node: node)
                    if flags.contains(.optional) && !memberFlags.contains(.optional) {
                        flags.remove(.optional)
                        actions[index].flags.remove(.optional)
                    }
                    if task != actions[index].task && flags.contains(.runnable) && !memberFlags.contains(.runnable) {
                        flags.remove(.runnable)
                        actions[index].flags.remove(.runnable)
                    }
                } else if task != "stop" && task != "demote" {
                    flags.remove(.runnable)
                }
            }
            return flags
        case .clone:
            var flags: ActionFlags = [.optional, .runnable, .pseudo]
            var anyRunnable = false
            guard let firstChild = item.children.first else { return flags }
            let task = complexTask(firstChild, actions[index].task)
            for child in item.children {
                let childNode = model.resources[child].children.isEmpty ? node : nil
                guard let childAction = firstAction(child, task: task, node: childNode) else { continue }
                let childFlags = actionFlags(childAction, node: node)
                if flags.contains(.optional) && !childFlags.contains(.optional) {
                    flags.remove(.optional)
                    actions[index].flags.remove(.optional)
                }
                if childFlags.contains(.runnable) { anyRunnable = true }
            }
            if !anyRunnable {
                flags.remove(.runnable)
                if node == nil { actions[index].flags.remove(.runnable) }
            }
            return flags
        }
    }

    /// `action_flags_for_ordering`.
    func flagsForOrdering(_ index: Int, node: Int?) -> ActionFlags {
        guard let resource = actions[index].resource else { return actions[index].flags }
        var flags = actionFlags(index, node: nil)
        guard let node, model.resources[resource].variant == .clone else { return flags }
        let runnable = flags.contains(.runnable)
        flags = actionFlags(index, node: node)
        if runnable { flags.insert(.runnable) }
        return flags
    }

    func reasonText(_ index: Int, _ flag: ActionFlags) -> String {
        let change = flag == .optional ? "required" : "unrunnable"
        if let resource = actions[index].resource {
            return "\(change) \(model.resources[resource].id) \(actions[index].task)"
        }
        return "\(change) \(actions[index].task)"
    }

    /// `clear_action_flag_because`.
    func clearFlag(_ index: Int, _ flag: ActionFlags, because reason: Int) {
        guard actions[index].flags.contains(flag) else { return }
        actions[index].flags.remove(flag)
        if actions[index].resource != actions[reason].resource {
            let text = reasonText(reason, flag)
            if actions[index].reason == nil || flag == .migrateRunnable { actions[index].reason = text }
        }
    }

    func isAncestor(_ ancestor: Int, of resource: Int) -> Bool {
        var current = model.resources[resource].parent
        while let parent = current {
            if parent == ancestor { return true }
            current = model.resources[parent].parent
        }
        return false
    }

    /// `action_for_ordering`: a collective's start/stop/promote/demote stands for its
    /// completion (`running`, `stopped`, ...) when ordered against another resource.
    func actionForOrdering(_ index: Int) -> Int {
        guard let resource = actions[index].resource, model.resources[resource].variant != .primitive else {
            return index
        }
        let task = actions[index].task
        let mapped: String
        switch task {
        case "stop": mapped = "stopped"
        case "start": mapped = "running"
        case "promote": mapped = "promoted"
        case "demote": mapped = "demoted"
        case "stopped", "running", "promoted", "demoted": mapped = task
        default: return index
        }
        let wanted = key(resource, mapped)
        return resourceActions[resource].reversed().first { actions[$0].key == wanted } ?? index
    }

    /// `pcmk__update_action_for_orderings`.
    func updateForOrderings(_ then: Int) {
        var changedThen = false
        let lastFlags = actions[then].flags
        if actions[then].flags.contains(.requiresAny) {
            actions[then].runnableBefore = 0
            if actions[then].requiredRunnableBefore == 0 { actions[then].requiredRunnableBefore = 1 }
            actions[then].flags.remove(.runnable)
        }
        for edge in actions[then].before {
            let original = edges[edge].first
            let type = edges[edge].type
            if type.isEmpty { continue }
            var first = original
            var thenNode = actions[then].node
            var firstNode = actions[first].node
            if let resource = actions[first].resource, model.resources[resource].variant == .group,
                actions[first].task == "start"
            {
                firstNode = allocated[resource] ?? nil
            }
            if let resource = actions[then].resource, model.resources[resource].variant == .group,
                actions[then].task == "start"
            {
                thenNode = allocated[resource] ?? nil
            }
            if type.contains(.sameNode), let firstNode, let thenNode, firstNode != thenNode {
                edges[edge].type = .none
                continue
            }
            if actions[first].resource != nil, type.contains(.thenCancelsFirst),
                !actions[then].flags.contains(.optional)
            {
                actions[first].flags.insert(.optional)
            }
            if let firstResource = actions[first].resource, let thenResource = actions[then].resource,
                firstResource != thenResource, !isAncestor(firstResource, of: thenResource)
            {
                first = actionForOrdering(first)
            }
            var changed: (first: Bool, then: Bool) = (false, false)
            if first == original {
                let firstFlags = flagsForOrdering(first, node: thenNode)
                let thenFlags = flagsForOrdering(then, node: firstNode)
                changed = updateForOrderingFlags(first, then, firstFlags, thenFlags, edge)
            } else if orderActions(first, then, type) {
                changed.then = true
                edges[edge].type = .none
            }
            if changed.then { changedThen = true }
            if changed.first {
                for next in actions[first].after { updateForOrderings(edges[next].then) }
                updateForOrderings(first)
            }
        }
        if actions[then].flags.contains(.requiresAny) {
            changedThen = lastFlags != actions[then].flags
        }
        if changedThen {
            if lastFlags.contains(.runnable) && !actions[then].flags.contains(.runnable) {
                blockColocationDependents(then)
            }
            updateForOrderings(then)
            for next in actions[then].after { updateForOrderings(edges[next].then) }
        }
    }

    /// `update_action_for_ordering_flags`.
    func updateForOrderingFlags(
        _ first: Int, _ then: Int, _ firstFlags: ActionFlags, _ thenFlags: ActionFlags, _ edge: Int
    ) -> (first: Bool, then: Bool) {
        let type = edges[edge].type
        var changed: (first: Bool, then: Bool) = (false, false)
        let node = actions[then].node
        func merge(_ result: (first: Bool, then: Bool)) {
            changed.first = changed.first || result.first
            changed.then = changed.then || result.then
        }
        if type.contains(.impliesThen) {
            if actions[then].resource != nil {
                merge(updateOrdered(first, then, node, firstFlags.intersection(.optional), .optional, .impliesThen))
            } else if !firstFlags.contains(.optional) && actions[then].flags.contains(.optional) {
                actions[then].flags.remove(.optional)
                changed.then = true
            }
        }
        if type.contains(.restart) && actions[then].resource != nil {
            merge(updateOrdered(first, then, node, firstFlags, [.optional, .runnable], .restart))
        }
        if type.contains(.impliesFirst) {
            if actions[first].resource != nil {
                merge(updateOrdered(first, then, node, firstFlags, .optional, .impliesFirst))
            } else if !firstFlags.contains(.optional) && actions[first].flags.contains(.runnable) {
                actions[first].flags.remove(.runnable)
                changed.first = true
            }
        }
        if type.contains(.promotedImpliesFirst) && actions[then].resource != nil {
            merge(
                updateOrdered(first, then, node, firstFlags.intersection(.optional), .optional, .promotedImpliesFirst))
        }
        if type.contains(.oneOrMore) {
            if actions[then].resource != nil {
                merge(updateOrdered(first, then, node, firstFlags, .runnable, .oneOrMore))
            } else if firstFlags.contains(.runnable) {
                actions[then].runnableBefore += 1
                if actions[then].runnableBefore >= actions[then].requiredRunnableBefore
                    && !actions[then].flags.contains(.runnable)
                {
                    actions[then].flags.insert(.runnable)
                    changed.then = true
                }
            }
        }
        if type.contains(.runnableLeft) {
            if actions[then].resource != nil {
                merge(updateOrdered(first, then, node, firstFlags, .runnable, .runnableLeft))
            } else if !firstFlags.contains(.runnable) && actions[then].flags.contains(.runnable) {
                actions[then].flags.remove(.runnable)
                changed.then = true
            }
        }
        if type.contains(.optional) && actions[then].resource != nil {
            merge(updateOrdered(first, then, node, firstFlags, .runnable, .optional))
        }
        if type.contains(.asymmetrical) && actions[then].resource != nil {
            merge(updateOrdered(first, then, node, firstFlags, .runnable, .asymmetrical))
        }
        if actions[first].flags.contains(.runnable) && type.contains(.impliesThenPrinted)
            && !firstFlags.contains(.optional)
        {
            actions[then].flags.insert(.printAlways)
        }
        if type.contains(.impliesFirstPrinted) && !thenFlags.contains(.optional) {
            actions[first].flags.insert(.printAlways)
        }
        if !type.isDisjoint(with: [.impliesThen, .impliesFirst, .restart]), let resource = actions[first].resource,
            !managed[resource], blocked[resource], !actions[first].flags.contains(.runnable),
            actions[first].task == "stop"
        {
            if actions[then].flags.contains(.runnable) {
                actions[then].flags.remove(.runnable)
                changed.then = true
            }
        }
        return changed
    }

    /// The resource's `update_ordered_actions` method.
    func updateOrdered(
        _ first: Int, _ then: Int, _ node: Int?, _ flags: ActionFlags, _ filter: ActionFlags, _ type: OrderFlags
    ) -> (first: Bool, then: Bool) {
        guard let resource = actions[then].resource else { return (false, false) }
        let item = model.resources[resource]
        switch item.variant {
        case .primitive:
            return updatePrimitiveOrdered(first, then, node, flags, filter, type)
        case .group:
            var changed = updatePrimitiveOrdered(first, then, node, flags, filter, type)
            for member in item.children {
                if let memberAction = firstAction(member, task: actions[then].task, node: node) {
                    let result = updateOrdered(first, memberAction, node, flags, filter, type)
                    changed = (changed.first || result.first, changed.then || result.then)
                }
            }
            return changed
        case .clone:
            if canInterleave(first, then) {
                return updateInterleaved(first, then, node, filter, type)
            }
            var changed = updatePrimitiveOrdered(first, then, node, flags, filter, type)
            for child in item.children {
                guard let childAction = firstAction(child, task: actions[then].task, node: node) else { continue }
                let childFlags = actionFlags(childAction, node: node)
                if childFlags.contains(.runnable) {
                    let result = updateOrdered(first, childAction, node, flags, filter, type)
                    changed = (changed.first || result.first, changed.then || result.then)
                    if result.then {
                        for next in actions[childAction].after { updateForOrderings(edges[next].then) }
                    }
                }
            }
            return changed
        }
    }

    func canInterleave(_ first: Int, _ then: Int) -> Bool {
        guard let firstResource = actions[first].resource, let thenResource = actions[then].resource,
            firstResource != thenResource, model.resources[firstResource].variant == .clone,
            model.resources[thenResource].variant == .clone
        else { return false }
        let key = actions[then].key
        let resource = key.hasSuffix("_stop_0") || key.hasSuffix("_demote_0") ? firstResource : thenResource
        return model.resources[resource].clone?.interleave ?? false
    }

    /// Where an instance is or will be (`rsc->fns->location`).
    func instanceNode(_ resource: Int, current: Bool) -> Int? {
        if current {
            if model.resources[resource].children.isEmpty { return runningOn[resource].first }
            for child in model.resources[resource].children {
                if let node = instanceNode(child, current: true) { return node }
            }
            return nil
        }
        return allocated[resource] ?? nil
    }

    /// `find_compatible_child`: the instance of `clone` on the same node as `instance`.
    func compatibleInstance(_ instance: Int, in clone: Int, current: Bool) -> Int? {
        guard let node = instanceNode(instance, current: current) else { return nil }
        for child in model.resources[clone].children where instanceNode(child, current: current) == node {
            return child
        }
        return nil
    }

    /// `multi_update_interleave_actions`.
    func updateInterleaved(
        _ first: Int, _ then: Int, _ node: Int?, _ filter: ActionFlags, _ type: OrderFlags
    ) -> (first: Bool, then: Bool) {
        var changed: (first: Bool, then: Bool) = (false, false)
        guard let firstResource = actions[first].resource, let thenResource = actions[then].resource else {
            return changed
        }
        let current = actions[first].key.hasSuffix("_stopped_0") || actions[first].key.hasSuffix("_demoted_0")
        for thenChild in model.resources[thenResource].children {
            guard let firstChild = compatibleInstance(thenChild, in: firstResource, current: current) else {
                if !current, !type.isDisjoint(with: [.runnableLeft, .impliesThen]), allocated[thenChild] != nil {
                    unassign(thenChild)
                    changed.then = true
                }
                continue
            }
            let firstTask = model.resources[firstChild].children.isEmpty
                ? complexTask(firstChild, actions[first].task) : actions[first].task
            guard let firstChildAction = firstAction(firstChild, task: firstTask, node: node),
                let thenChildAction = firstAction(thenChild, task: actions[then].task, node: node)
            else { continue }
            if orderActions(firstChildAction, thenChildAction, type) { changed = (true, true) }
            let result = updateOrdered(
                firstChildAction, thenChildAction, node, actionFlags(firstChildAction, node: node), filter, type)
            changed = (changed.first || result.first, changed.then || result.then)
        }
        return changed
    }

    /// Unassigns an instance that cannot be active (`pcmk__assign_resource(NULL)`):
    /// its next role becomes stopped and its start and promote can no longer run.
    func unassign(_ resource: Int) {
        allocated[resource] = nil
        nextRole[resource] = .stopped
        for child in model.resources[resource].children { unassign(child) }
        for index in resourceActions[resource] where ["start", "promote"].contains(actions[index].task) {
            actions[index].flags.remove(.runnable)
        }
    }

    /// `pcmk__update_ordered_actions` (the primitive method).
    func updatePrimitiveOrdered(
        _ first: Int, _ then: Int, _ node: Int?, _ flags: ActionFlags, _ filter: ActionFlags, _ type: OrderFlags
    ) -> (first: Bool, then: Bool) {
        let thenBefore = actions[then].flags
        let firstBefore = actions[first].flags
        if type.contains(.asymmetrical) { asymmetricOrdering(first, then) }
        if type.contains(.impliesFirst) && !thenBefore.contains(.optional) {
            if filter.contains(.optional) && !flags.contains(.optional) && firstBefore.contains(.optional) {
                clearFlag(first, .optional, because: then)
            }
        }
        if type.contains(.promotedImpliesFirst), let resource = actions[then].resource, role[resource] == .promoted,
            filter.contains(.optional), !actions[then].flags.contains(.optional)
        {
            clearFlag(first, .optional, because: then)
        }
        if type.contains(.runnableLeft) && filter.contains(.runnable) && actions[then].flags.contains(.runnable)
            && !flags.contains(.runnable)
        {
            clearFlag(then, .runnable, because: first)
        }
        if type.contains(.impliesThen) && filter.contains(.optional) && actions[then].flags.contains(.optional)
            && !flags.contains(.optional) && !actions[first].flags.contains(.migrateRunnable)
        {
            clearFlag(then, .optional, because: first)
        }
        if type.contains(.restart) { restartOrdering(first, then, filter) }
        var changed: (first: Bool, then: Bool) = (false, false)
        if thenBefore != actions[then].flags {
            changed.then = true
            if let resource = actions[then].resource, model.resources[resource].parent != nil {
                updateForOrderings(then)
            }
        }
        if firstBefore != actions[first].flags { changed.first = true }
        return changed
    }

    func asymmetricOrdering(_ first: Int, _ then: Int) {
        guard let resource = actions[then].resource else { return }
        let state = roleOf(resource)
        if state == .stopped && actions[then].task == "stop" { return }
        if state >= .started && actions[then].flags.contains(.optional), let node = actions[then].node,
            runningOn[resource] == [node], actions[then].task == "start"
        {
            return
        }
        if !actions[first].flags.contains(.runnable) {
            clearFlag(then, .optional, because: first)
            clearFlag(then, .runnable, because: first)
        }
    }

    func restartOrdering(_ first: Int, _ then: Int, _ filter: ActionFlags) {
        guard let thenResource = actions[then].resource,
            model.resources[thenResource].variant == .primitive,
            let firstResource = actions[first].resource, model.resources[firstResource].variant == .primitive
        else { return }
        var applies = filter.contains(.optional) && !actions[then].flags.contains(.optional)
        if filter.contains(.runnable) && !actions[then].flags.contains(.runnable) && managed[thenResource]
            && firstResource == thenResource
        {
            applies = true
        }
        guard applies else { return }
        if actions[first].flags.contains(.runnable) { clearFlag(first, .optional, because: then) }
        if !actions[then].flags.contains(.optional) { clearFlag(first, .optional, because: then) }
        if !actions[first].flags.contains(.optional) && !actions[first].flags.contains(.runnable) {
            clearFlag(then, .runnable, because: first)
        }
    }

    // MARK: Colocation blocking

    /// `pcmk__block_colocation_dependents`.
    func blockColocationDependents(_ index: Int) {
        guard !actions[index].flags.contains(.runnable), let resource = actions[index].resource else { return }
        let task = actions[index].task
        guard task == "start" || task == "promote" else { return }
        let top = model.topAncestor(of: resource)
        guard !primaryOf[top].isEmpty else { return }
        for child in model.resources[top].children {
            guard let childAction = firstAction(child, task: task, node: nil) else { return }
            if actions[childAction].flags.contains(.runnable) { return }
        }
        for colocation in primaryOf[top] where colocation.score >= .infinity {
            if task != "start" && colocation.primaryRole != .promoted { continue }
            let blockedTask = colocation.dependentRole == .promoted ? "promote" : "start"
            markBlocked(colocation.dependent, task: blockedTask, reason: resource)
        }
    }

    func markBlocked(_ resource: Int, task: String, reason: Int) {
        let text = "colocation with \(model.resources[reason].id)"
        for index in resourceActions[resource]
        where actions[index].flags.contains(.runnable) && actions[index].task == task {
            actions[index].flags.remove(.runnable)
            if actions[index].reason == nil { actions[index].reason = text }
            blockColocationDependents(index)
            updateForOrderings(index)
        }
        for child in model.resources[resource].children { markBlocked(child, task: task, reason: reason) }
    }
}
