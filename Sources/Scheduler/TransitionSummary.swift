// The "Transition Summary:" lines crm_simulate 2.1.5 prints (pcmk__output_actions and
// the rsc-action / rsc-action-item / node-action messages).
import CIB

extension ActionsComputation {
    /// Actions of a resource with task on a node (`pe__resource_actions`, newest first).
    func summaryActions(_ resource: Int, node: Int?, task: String) -> [Int] {
        findActions(resource, key: key(resource, task), node: node)
    }

    func summaryLines() -> [String] {
        var lines: [String] = []
        for index in actions.indices.reversed() {
            let action = actions[index]
            guard action.resource == nil, !action.flags.contains(.optional), action.task == "stonith",
                let node = action.node, let reason = action.reason
            else { continue }
            lines.append("Fence (\(action.fenceAction ?? "reboot")) \(model.nodes[node].name) '\(reason)'")
        }
        var widths = (resource: 5, detail: 5)
        for top in model.topLevel { summarize(top, into: &lines, widths: &widths) }
        return lines.map { "  * " + $0 }
    }

    func summarize(_ resource: Int, into lines: inout [String], widths: inout (resource: Int, detail: Int)) {
        let item = model.resources[resource]
        if !item.children.isEmpty {
            for child in item.children { summarize(child, into: &lines, widths: &widths) }
            return
        }
        let next = allocated[resource] ?? nil
        var current: Int?
        if !runningOn[resource].isEmpty {
            current = runningOn[resource].first
            if role[resource] == .stopped { role[resource] = .started }
        }
        if current == nil && item.state.isOrphan { return }
        guard managed[resource], current != nil || next != nil else { return }

        func emit(_ change: String, _ origin: Int?, _ destination: Int?, _ action: Int?, _ source: Int?) {
            lines.append(
                summaryItem(
                    change, resource, origin: origin, destination: destination, action: action,
                    source: source ?? action, widths: &widths))
        }

        let moving = current != nil && next != nil && current != next
        let start = summaryActions(resource, node: next, task: "start").first
        let startNode = start.map { actions[$0].flags.contains(.runnable) } == true ? current : nil
        var stop = summaryActions(resource, node: startNode, task: "stop").first
        if stop == nil && stopUnexpected[resource] { stop = summaryActions(resource, node: nil, task: "stop").first }
        let promote = summaryActions(resource, node: next, task: "promote").first
        let demote = summaryActions(resource, node: next, task: "demote").first
        let startRunnable = start.map { actions[$0].flags.contains(.runnable) } ?? false
        let startOptional = start.map { actions[$0].flags.contains(.optional) } ?? true

        if role[resource] == nextRole[resource] {
            guard next != nil else { return }
            if start == nil || startOptional {
                if let demote, let promote, !actions[demote].flags.contains(.optional),
                    !actions[promote].flags.contains(.optional)
                {
                    emit("Re-promote", current, next, promote, demote)
                }
            } else if !startRunnable {
                emit("Stop", current, nil, stop, stop.flatMap { actions[$0].reason } != nil ? stop : start)
            } else if moving && current != nil {
                emit(failed[resource] ? "Recover" : "Move", current, next, stop, nil)
            } else if failed[resource] {
                emit("Recover", current, nil, stop, nil)
            } else {
                emit("Restart", current, next, start, nil)
            }
            return
        }
        if stop != nil, nextRole[resource] == .stopped || (start != nil && !startRunnable) {
            for node in runningOn[resource] {
                let stopHere = findActions(resource, key: key(resource, "stop"), node: node).first
                emit("Stop", node, nil, stopHere, stopHere.flatMap { actions[$0].reason } != nil ? stopHere : start)
            }
        } else if let stop, failed[resource], stopNeeded[resource] {
            emit("Recover", current, next, stop, start)
        } else if moving {
            emit("Move", current, next, stop, nil)
        } else if let stop, !actions[stop].flags.contains(.optional) {
            emit("Restart", current, next, start, nil)
        } else if role[resource] == .promoted {
            emit("Demote", current, next, demote, nil)
        } else if nextRole[resource] == .promoted {
            emit("Promote", current, next, promote, nil)
        } else if role[resource] == .stopped && nextRole[resource] > .stopped {
            emit("Start", current, next, start, nil)
        }
    }

    /// One summary line (`rsc_action_item`).
    func summaryItem(
        _ change: String, _ resource: Int, origin: Int?, destination: Int?, action: Int?, source: Int?,
        widths: inout (resource: Int, detail: Int)
    ) -> String {
        let id = model.resources[resource].id
        if id.count > widths.resource { widths.resource = id.count + 2 }
        let current = role[resource]
        let next = nextRole[resource]
        let needRole = current > .started || next > .unpromoted
        let sameHost = origin != nil && origin == destination
        let sameRole = current == next
        let name = { (node: Int?) in node.map { self.model.nodes[$0].name } ?? "<none>" }
        let details: String
        if needRole && origin == nil {
            details = "\(current) -> \(next) \(name(destination))"
        } else if origin == nil {
            details = name(destination)
        } else if needRole && destination == nil {
            details = "\(current) \(name(origin))"
        } else if destination == nil {
            details = name(origin)
        } else if needRole && sameRole && sameHost {
            details = "\(current) \(name(origin))"
        } else if sameRole && sameHost {
            details = name(origin)
        } else if needRole && sameRole {
            details = "\(name(origin)) -> \(name(destination)) \(current)"
        } else if sameRole {
            details = "\(name(origin)) -> \(name(destination))"
        } else if sameHost {
            details = "\(current) -> \(next) \(name(origin))"
        } else {
            details = "\(current) \(name(origin)) -> \(next) \(name(destination))"
        }
        if details.count > widths.detail { widths.detail = details.count }
        let runnable = action.map { actions[$0].flags.contains(.runnable) } ?? true
        let reason: String?
        if let source, let text = actions[source].reason {
            reason = runnable ? "due to \(text)" : "due to \(text) (blocked)"
        } else {
            reason = runnable ? nil : "blocked"
        }
        let paddedChange = change + String(repeating: " ", count: max(0, 8 - change.count))
        let paddedID = id + String(repeating: " ", count: max(0, widths.resource - id.count))
        let paddedDetails = String(repeating: " ", count: max(0, widths.detail - details.count)) + details
        return "\(paddedChange)   \(paddedID)   ( \(paddedDetails) )" + (reason.map { "  \($0)" } ?? "")
    }
}
