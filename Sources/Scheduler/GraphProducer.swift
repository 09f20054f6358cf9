// The ordered graph: the required, runnable actions with the orderings between them, in
// the form crm_simulate writes with -G (TransitionGraph), and its dot form (-D).
import CIB

extension ActionsComputation {
    /// Adds the recurring monitors of each primitive that starts or changes role
    /// (`pcmk__create_recurring_actions`, simplified: configured monitors with an
    /// interval, for the role the resource ends in, after its start or promote).
    func createRecurringMonitors() {
        for resource in model.resources where resource.variant == .primitive && managed[resource.index] {
            guard let node = allocated[resource.index] ?? nil, nextRole[resource.index] > .stopped else { continue }
            let trigger = resourceActions[resource.index].reversed().first { index in
                let action = actions[index]
                return ["start", "promote", "demote"].contains(action.task) && action.node == node
                    && !action.flags.contains(.optional) && action.flags.contains(.runnable)
            }
            guard let trigger else { continue }
            for operation in resource.operations
            where operation.name == "monitor" && operation.intervalMilliseconds > 0 && operation.enabled {
                let target = nextRole[resource.index]
                if let role = operation.role, role != target && !(role == .unpromoted && target == .started) {
                    continue
                }
                if operation.role == nil && target == .promoted && promotable[resource.index] { continue }
                let monitorKey = key(resource.index, "monitor", interval: operation.intervalMilliseconds)
                let index = actions.count
                var action = PlannedAction(
                    resource: resource.index, task: "monitor", key: monitorKey, node: node,
                    flags: [.runnable])
                action.interval = operation.intervalMilliseconds
                action.timeout = operation.timeoutMilliseconds
                action.targetRC = target == .promoted ? 8 : 0
                actions.append(action)
                resourceActions[resource.index].append(index)
                orderActions(trigger, index, .optional)
            }
        }
    }

    /// Whether an action belongs in the graph (`should_add_action_to_graph`).
    func inGraph(_ index: Int) -> Bool {
        let action = actions[index]
        guard action.flags.contains(.runnable) else { return false }
        if action.flags.contains(.optional) && !action.flags.contains(.printAlways) { return false }
        if let resource = action.resource, !managed[resource], action.task != "monitor" { return false }
        if action.flags.contains(.pseudo) || action.task == "stonith" || action.task == "do_shutdown" { return true }
        guard let node = action.node else { return false }
        return online[node] && !unclean[node]
    }

    func graphAction(_ index: Int) -> GraphAction {
        let action = actions[index]
        let nodeName = action.node.map { model.nodes[$0].name }
        let nodeUUID = action.node.map { model.nodes[$0].id }
        var attributes: [GraphAttribute] = []
        if let resource = action.resource {
            let item = model.resources[resource]
            if let parent = item.parent ?? nil, model.resources[model.topAncestor(of: resource)].variant == .clone {
                let clone = model.resources[model.topAncestor(of: resource)]
                if let settings = clone.clone {
                    if !action.flags.contains(.pseudo) || parent != clone.index {
                        attributes.append(GraphAttribute("CRM_meta_clone", String(cloneInstanceNumber(item.id))))
                    }
                    attributes.append(GraphAttribute("CRM_meta_clone_max", String(settings.maxInstances)))
                    attributes.append(GraphAttribute("CRM_meta_clone_node_max", String(settings.maxInstancesPerNode)))
                    attributes.append(GraphAttribute("CRM_meta_globally_unique", clone.settings.isUnique ? "true" : "false"))
                    attributes.append(GraphAttribute("CRM_meta_notify", "false"))
                }
            }
            if action.interval > 0 {
                attributes.append(GraphAttribute("CRM_meta_interval", String(action.interval)))
                attributes.append(GraphAttribute("CRM_meta_name", action.task))
            }
            if action.targetRC != 0 {
                attributes.append(GraphAttribute("CRM_meta_op_target_rc", String(action.targetRC)))
            }
            if let nodeName, !action.flags.contains(.pseudo) {
                attributes.append(GraphAttribute("CRM_meta_on_node", nodeName))
                attributes.append(GraphAttribute("CRM_meta_on_node_uuid", nodeUUID ?? nodeName))
            }
            let configured = item.operations.first {
                $0.name == action.task && $0.intervalMilliseconds == action.interval
            }
            attributes.append(
                GraphAttribute("CRM_meta_timeout", String(action.timeout ?? configured?.timeoutMilliseconds ?? 20000)))
            if !action.flags.contains(.pseudo) {
                for (name, value) in item.parameters { attributes.append(GraphAttribute(name, value)) }
            }
            attributes.sort { $0.name < $1.name }
            let kind: GraphAction.Kind = action.flags.contains(.pseudo) ? .pseudoEvent : .rscOp
            var primitive: GraphPrimitive?
            if kind == .rscOp, let agent = item.agent {
                // The name the executor knows: the name in the history when it differs, else
                // the configured id for anonymous clone instances (add_resource_details).
                let anonymous = !item.settings.isUnique
                var shownID = item.id
                var longID: String?
                if let recorded = item.state.historyName, recorded != item.id {
                    shownID = recorded
                    longID = item.id
                } else if anonymous && item.id != item.configID {
                    shownID = item.configID
                    longID = item.id
                }
                primitive = GraphPrimitive(
                    id: shownID, longID: longID, resourceClass: agent.standard, provider: agent.provider,
                    type: agent.type)
            }
            return GraphAction(
                kind: kind, id: index, operation: action.task, operationKey: action.key,
                onNode: kind == .rscOp ? nodeName : nil, onNodeUUID: kind == .rscOp ? nodeUUID : nil,
                primitive: primitive, attributes: attributes)
        }
        if action.task == "stonith" || action.task == "do_shutdown", let nodeName {
            attributes = [
                GraphAttribute("CRM_meta_on_node", nodeName), GraphAttribute("CRM_meta_on_node_uuid", nodeUUID ?? nodeName),
            ]
            if action.task == "stonith" {
                attributes.append(GraphAttribute("CRM_meta_stonith_action", action.fenceAction ?? "reboot"))
            } else {
                attributes.append(GraphAttribute("CRM_meta_op_no_wait", "true"))
            }
            return GraphAction(
                kind: .crmEvent, id: index, operation: action.task, operationKey: action.key, onNode: nodeName,
                onNodeUUID: nodeUUID, attributes: attributes, downed: [nodeUUID ?? nodeName])
        }
        return GraphAction(kind: .pseudoEvent, id: index, operation: action.task, operationKey: action.key)
    }

    /// The inputs of an action that the graph keeps (`should_add_input_to_graph`).
    func graphInputs(_ index: Int, included: [Bool]) -> [Int] {
        var inputs: [Int] = []
        for edge in actions[index].before {
            let (first, _, type) = edges[edge]
            guard !type.isEmpty, included[first], actions[first].flags.contains(.runnable) else { continue }
            if !inputs.contains(first) { inputs.append(first) }
        }
        return inputs.sorted()
    }

    /// The transition graph.
    func graph() -> TransitionGraph {
        let included = actions.indices.map { inGraph($0) }
        var built: [Int: GraphAction] = [:]
        for index in actions.indices where included[index] { built[index] = graphAction(index) }
        var synapses: [Synapse] = []
        for index in actions.indices where included[index] {
            let priority = actions[index].priority
            synapses.append(
                Synapse(
                    id: synapses.count, priority: priority == 0 ? nil : priority, action: built[index]!,
                    inputs: graphInputs(index, included: included).map { built[$0]!.reference }))
        }
        return TransitionGraph(synapses: synapses)
    }
}

extension TransitionGraph {
    /// The graph in dot form, as crm_simulate -D writes it (graph actions only, lines sorted).
    public func dot() -> String {
        func label(_ action: GraphAction) -> String {
            guard !action.isPseudo, let node = action.onNode else { return action.operationKey }
            return "\(action.operationKey) \(node)"
        }
        var lines: [String] = []
        for synapse in synapses {
            let color = synapse.action.isPseudo ? "orange" : "black"
            lines.append("\"\(label(synapse.action))\" [ style=bold color=\"green\" fontcolor=\"\(color)\"]")
            for input in synapse.inputs {
                lines.append("\"\(label(input))\" -> \"\(label(synapse.action))\" [ style = bold]")
            }
        }
        return " digraph \"g\" {\n" + lines.sorted().joined(separator: "\n") + (lines.isEmpty ? "" : "\n") + "}\n"
    }
}
