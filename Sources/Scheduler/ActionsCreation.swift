// Creating each resource's actions (Pacemaker 2.1.5's create_actions methods).
import CIB

extension ActionsComputation {
    /// The role to step to from `current` on the way to `target` (`rsc_state_matrix`).
    static func nextStep(from current: Role, to target: Role) -> Role {
        switch (current, target) {
        case (.unknown, _): return target == .unknown ? .unknown : .stopped
        case (.stopped, .started): return .started
        case (.stopped, .unpromoted), (.stopped, .promoted): return .unpromoted
        case (.stopped, _): return .stopped
        case (.started, .started): return .started
        case (.started, .unpromoted): return .unpromoted
        case (.started, .promoted): return .promoted
        case (.started, _): return .stopped
        case (.unpromoted, .unpromoted): return .unpromoted
        case (.unpromoted, .promoted): return .promoted
        case (.unpromoted, _): return .stopped
        case (.promoted, .unknown): return .stopped
        case (.promoted, .promoted): return .promoted
        case (.promoted, _): return .unpromoted
        }
    }

    /// Takes a primitive one step from `from` to `to` (`rsc_action_matrix`); false when
    /// no step exists.
    func step(_ resource: Int, from: Role, to: Role, node: Int?, optional: Bool) -> Bool {
        switch (from, to) {
        case (_, .stopped) where from != .stopped && from != .promoted:
            stopResource(resource, optional: optional)
        case (.stopped, .started), (.stopped, .unpromoted):
            guard let node else { return false }
            startResource(resource, node: node, optional: optional)
        case (.started, .promoted), (.unpromoted, .promoted):
            guard let node else { return false }
            promoteResource(resource, node: node, optional: optional)
        case (.promoted, .unpromoted):
            demoteResource(resource, optional: optional)
        default:
            return false
        }
        return true
    }

    func stopResource(_ resource: Int, optional: Bool) {
        for current in runningOn[resource] {
            if isExpectedNode(resource, current) { continue }
            let stop = resourceAction(resource, task: "stop", node: current, optional: optional)
            if allocated[resource] == nil {
                actions[stop].reason = "node availability"
            } else if restarting[resource] && stopUnexpected[resource] {
                actions[stop].reason = "being multiply active"
            }
            if !managed[resource] { actions[stop].flags.remove(.runnable) }
        }
    }

    func startResource(_ resource: Int, node: Int, optional: Bool) {
        let start = resourceAction(resource, task: "start", node: node, optional: true)
        if actions[start].flags.contains(.runnable) && !optional { actions[start].flags.remove(.optional) }
        if isExpectedNode(resource, node) { actions[start].flags.insert(.pseudo) }
    }

    func promoteResource(_ resource: Int, node: Int, optional: Bool) {
        let starts = resourceActions[resource].filter { actions[$0].task == "start" && actions[$0].node == node }
        if starts.allSatisfy({ actions[$0].flags.contains(.runnable) }) {
            let promote = resourceAction(resource, task: "promote", node: node, optional: optional)
            if isExpectedNode(resource, node) { actions[promote].flags.insert(.pseudo) }
        } else {
            for index in resourceActions[resource] where actions[index].task == "promote" && actions[index].node == node {
                actions[index].flags.remove(.runnable)
            }
        }
    }

    func demoteResource(_ resource: Int, optional: Bool) {
        for current in runningOn[resource] where !isExpectedNode(resource, current) {
            resourceAction(resource, task: "demote", node: current, optional: optional)
        }
    }

    func isExpectedNode(_ resource: Int, _ node: Int) -> Bool {
        stopUnexpected[resource] && restarting[resource] && nextRole[resource] > .stopped
            && allocated[resource] == node
    }

    /// `pcmk__primitive_create_actions` (without live migration).
    func createPrimitiveActions(_ resource: Int) {
        let state = model.resources[resource].state
        if nextRole[resource] == .unknown { nextRole[resource] = allocated[resource] == nil ? .stopped : .started }
        let current = runningOn[resource].first
        var needStop = false
        var needPromote = false
        var isMoving = false
        if let current, let target = allocated[resource], current != target, nextRole[resource] >= .started {
            isMoving = true
            needStop = true
        }
        let requiresFencing = [.fencing, .unfencing].contains(model.resources[resource].settings.requires)
        let cleanActive = runningOn[resource].filter { !unclean[$0] }.count
        let multiplyActive = requiresFencing ? runningOn[resource].count > 1 : cleanActive > 1
        if multiplyActive {
            switch model.resources[resource].settings.multipleActive {
            case .stopStart: needStop = true
            case .stopUnexpected:
                needStop = true
                stopUnexpected[resource] = true
            default: break
            }
        } else {
            stopUnexpected[resource] = false
        }
        if state.startPending, let target = allocated[resource] {
            let start = resourceAction(resource, task: "start", node: target, optional: true)
            actions[start].flags.insert(.printAlways)
        }
        if isMoving {
        } else if failed[resource] {
            if stopNeeded[resource] {
                needStop = true
            } else if nextRole[resource] == .promoted {
                needPromote = true
            }
        } else if blocked[resource] {
            needStop = true
        } else if role[resource] > .started, current != nil, let target = allocated[resource] {
            let start = resourceAction(resource, task: "start", node: target, optional: true)
            if !actions[start].flags.contains(.optional) { needStop = true }
        }
        // Down to stopped on the current node, and back up to the current role.
        restarting[resource] = true
        var stepRole = role[resource]
        while stepRole != .stopped {
            let next = Self.nextStep(from: stepRole, to: .stopped)
            if !step(resource, from: stepRole, to: next, node: current, optional: !needStop) { break }
            stepRole = next
        }
        while role[resource] <= nextRole[resource], stepRole != role[resource], !blocked[resource] {
            var required = needStop
            let next = Self.nextStep(from: stepRole, to: role[resource])
            if next == .promoted && needPromote { required = true }
            if !step(resource, from: stepRole, to: next, node: allocated[resource], optional: !required) { break }
            stepRole = next
        }
        restarting[resource] = false
        // From the current role to the next one.
        stepRole = role[resource]
        while stepRole != nextRole[resource] {
            let next = Self.nextStep(from: stepRole, to: nextRole[resource])
            if !step(resource, from: stepRole, to: next, node: allocated[resource], optional: false) { break }
            stepRole = next
        }
    }

    /// Creates the actions of a resource and its descendants.
    func createActions(_ resource: Int) {
        let item = model.resources[resource]
        switch item.variant {
        case .primitive:
            createPrimitiveActions(resource)
        case .group:
            for member in item.children { createActions(member) }
            for task in ["start", "running", "stop", "stopped"] + (pacemakerBoolean(item.meta["promotable"]) == true
                ? ["demote", "demoted", "promote", "promoted"] : [])
            {
                let index = resourceAction(resource, task: task, node: nil, optional: true)
                actions[index].flags.formUnion([.pseudo, .runnable])
            }
        case .clone:
            createCloneActions(resource)
        }
    }

    /// `clone_update_pseudo_status`: whether an instance (or its members) is active,
    /// stopping or starting.
    func instanceStatus(_ resource: Int, stopping: inout Bool, starting: inout Bool, active: inout Bool) {
        let item = model.resources[resource]
        if !item.children.isEmpty {
            for child in item.children { instanceStatus(child, stopping: &stopping, starting: &starting, active: &active) }
            return
        }
        if !runningOn[resource].isEmpty { active = true }
        for index in resourceActions[resource].reversed() {
            if starting && stopping { return }
            let flags = actions[index].flags
            if flags.contains(.optional) { continue }
            if flags.isDisjoint(with: [.pseudo, .runnable]) { continue }
            if actions[index].task == "stop" {
                stopping = true
            } else if actions[index].task == "start" && flags.contains(.runnable) {
                starting = true
            }
        }
    }

    /// `clone_create_actions`, with the promotable part.
    func createCloneActions(_ resource: Int) {
        let item = model.resources[resource]
        var anyActive = false
        var anyStarting = false
        var anyStopping = false
        for child in item.children {
            createActions(child)
            var starting = false
            var stopping = false
            instanceStatus(child, stopping: &stopping, starting: &starting, active: &anyActive)
            anyStopping = anyStopping || stopping
            anyStarting = anyStarting || starting
        }
        pseudoAction(resource, task: "start", optional: !anyStarting, runnable: true)
        let started = pseudoAction(resource, task: "running", optional: !anyStarting, runnable: false)
        actions[started].priority = Score.infinityValue
        if anyActive || anyStarting { actions[started].flags.insert(.runnable) }
        pseudoAction(resource, task: "stop", optional: !anyStopping, runnable: true)
        let stopped = pseudoAction(resource, task: "stopped", optional: !anyStopping, runnable: true)
        actions[stopped].priority = Score.infinityValue
        if item.clone?.ordered ?? false {
            var lastStop: Int?
            var lastStart: Int?
            for child in instancesInNumberOrder(resource) {
                if let stop = onlyRequiredAction(child, task: "stop") {
                    if let lastStop { orderActions(stop, lastStop, .optional) }
                    lastStop = stop
                }
                if let start = onlyRequiredAction(child, task: "start") {
                    if let lastStart { orderActions(lastStart, start, .optional) }
                    lastStart = start
                }
            }
        }
        if item.settings.isPromotable {
            var promoting = false
            var demoting = false
            for child in item.children { roleChange(child, demoting: &demoting, promoting: &promoting) }
            pseudoAction(resource, task: "promote", optional: !promoting, runnable: true)
            let promoted = pseudoAction(resource, task: "promoted", optional: !promoting, runnable: true)
            actions[promoted].priority = Score.infinityValue
            pseudoAction(resource, task: "demote", optional: !demoting, runnable: true)
            let demoted = pseudoAction(resource, task: "demoted", optional: !demoting, runnable: true)
            actions[demoted].priority = Score.infinityValue
        }
    }

    /// A clone's instances by instance number (the order ordered clones use).
    func instancesInNumberOrder(_ clone: Int) -> [Int] {
        model.resources[clone].children.sorted {
            cloneInstanceNumber(model.resources[$0].id) < cloneInstanceNumber(model.resources[$1].id)
        }
    }

    /// The single required action of a resource with `task` (`find_rsc_action`).
    func onlyRequiredAction(_ resource: Int, task: String) -> Int? {
        var match: Int?
        for index in resourceActions[resource].reversed()
        where actions[index].task == task && !actions[index].flags.contains(.optional) {
            if match != nil { return nil }
            match = index
        }
        return match
    }

    /// `check_for_role_change`.
    func roleChange(_ resource: Int, demoting: inout Bool, promoting: inout Bool) {
        let item = model.resources[resource]
        if !item.children.isEmpty {
            for child in item.children { roleChange(child, demoting: &demoting, promoting: &promoting) }
            return
        }
        for index in resourceActions[resource].reversed() {
            if promoting && demoting { return }
            if actions[index].flags.contains(.optional) { continue }
            if actions[index].task == "demote" { demoting = true }
            if actions[index].task == "promote" { promoting = true }
        }
    }
}
