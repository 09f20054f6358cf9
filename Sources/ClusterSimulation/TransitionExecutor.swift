// Executing a transition graph against a CIB, as crm_simulate -S does: every action
// succeeds at once with the result the scheduler expects (unless --op-fail says otherwise),
// and its result is recorded in the status section.
import CIB
import Foundation
import MeridianXML
import Scheduler

/// The outcome of executing a transition graph on a CIB.
public struct TransitionExecution: Sendable {
    /// The CIB after the transition (the input is left unchanged).
    public var document: XMLDocument
    /// The "Executing Cluster Transition:" lines as crm_simulate prints them (items start with
    /// `  * `; messages such as "Pretending action 5 failed with rc=1" are not indented).
    public var lines: [String]
    /// How the walk over the graph ended.
    public var outcome: GraphOutcome
    /// Errors crm_simulate prints on stderr ("Transition failed: terminated", ...); empty when
    /// the transition completed.
    public var errors: [String]
}

/// Executes transition graphs on CIB documents (Pacemaker's pcmk__simulate_transition).
public enum TransitionExecutor {
    /// Runs `graph` on `document`: the synapses fire in the order of Pacemaker's graph consumer,
    /// each action completes at once and its result goes into the status section.
    ///
    /// - Parameters:
    ///   - graph: the transition to run.
    ///   - document: the CIB the graph was computed from (after any injections).
    ///   - model: `document` unpacked; resource names are resolved against it as crm_simulate
    ///     resolves them against the scheduler's resources.
    ///   - failures: operations whose result is replaced (`--op-fail`); a failed action aborts
    ///     the rest of the transition except pseudo actions and INFINITY-priority synapses.
    ///   - now: seconds since the epoch, recorded as the results' `last-rc-change`.
    /// - Throws: ``SimulationError`` for an action that cannot be simulated (a resource action
    ///   without a resource, a resource without class or type).
    public static func execute(
        _ graph: TransitionGraph, on document: XMLDocument, model: CIBModel, failures: [OperationSpec] = [],
        now: Int
    ) throws -> TransitionExecution {
        var lines: [String] = []
        var outcome = GraphOutcome.complete
        var thrown: Error?
        let changed = try document.editing { editor in
            let status = try StatusEditor(editor)
            var walk = GraphWalk(graph)
            outcome = walk.run { action in
                if thrown != nil { return false }
                do {
                    switch action.kind {
                    case .pseudoEvent:
                        lines.append(
                            "  * Pseudo action:   \(action.operationKey)" + (action.onNode.map { " on \($0)" } ?? ""))
                        return false
                    case .rscOp:
                        return try resourceAction(
                            action, status: status, model: model, failures: failures, now: now, lines: &lines)
                    case .crmEvent:
                        try clusterAction(action, status: status, lines: &lines)
                        return false
                    }
                } catch {
                    thrown = error
                    return false
                }
            }
            if let thrown { throw thrown }
        }
        var errors: [String] = []
        if outcome == .terminated {
            errors = ["Transition failed: terminated", "An invalid transition was produced"]
        }
        return TransitionExecution(document: changed, lines: lines, outcome: outcome, errors: errors)
    }

    /// crm_simulate's `simulate_resource_action`; returns whether the action failed.
    static func resourceAction(
        _ action: GraphAction, status: StatusEditor, model: CIBModel, failures: [OperationSpec], now: Int,
        lines: inout [String]
    ) throws -> Bool {
        let operation = action.operation
        if operation == "probe_again" { return false }  // CRM_OP_REPROBE: no output, no history
        guard let primitive = action.primitive else {
            throw SimulationError(
                "resource action \(action.id) (\(action.operationKey)) has no <primitive>",
                hint: "the graph is damaged: give every rsc_op its resource")
        }
        let node = action.onNode ?? "(null)"
        // The name shown and used for history: the configuration name when the scheduler knows a
        // resource by it, else the instance name when it knows that one.
        let configName = primitive.id
        var resource = configName
        if findResource(configName, in: model) == nil, let long = primitive.longID,
            findResource(long, in: model) != nil
        {
            resource = long
        }
        func line(_ interval: Int) -> String {
            let padded = resource.count < 15 ? resource + String(repeating: " ", count: 15 - resource.count) : resource
            let task = interval == 0 ? operation : "\(operation)=\(interval)"
            return "  * Resource action: \(padded) \(task) on \(node)"
        }
        if ["delete", "meta-data"].contains(operation.lowercased()) {
            lines.append(line(0))
            return false
        }
        let targetRC = action.targetRC
        let interval = action.intervalMilliseconds
        let uuid = action.routerNode == nil ? action.onNodeUUID : node
        let state = try status.nodeState(node, uuid: uuid)
        let entry = try status.resourceHistory(
            on: state, resource: resource, configName: configName, agentClass: primitive.resourceClass,
            provider: primitive.provider, type: primitive.type)
        lines.append(line(interval))

        var rc = targetRC
        var failed = false
        for spec in failures {
            let matches = { (name: String) in
                "\(name)_\(operation)_\(interval)".lowercased() == spec.key.lowercased()
                    && node.lowercased() == spec.node.lowercased()
            }
            var matchName: String?
            if matches(resource) {
                matchName = resource
            } else if resource != configName && matches(configName) {
                matchName = configName
            }
            guard let matchName else { continue }
            rc = spec.rc
            lines.append("Pretending action \(action.id) failed with rc=\(rc)")
            failed = true
            lines += try status.injectFailCount(
                on: state, resource: matchName, task: operation, intervalMilliseconds: interval, rc: rc, now: now
            ).map { "  * " + $0 }
            break
        }
        try status.record(
            InjectedResult(
                resource: resource, task: operation, intervalMilliseconds: interval, rc: rc, targetRC: targetRC,
                exitReason: "User-injected result", now: now),
            in: entry)
        return failed
    }

    /// crm_simulate's `simulate_fencing_action` and `simulate_cluster_action`.
    static func clusterAction(_ action: GraphAction, status: StatusEditor, lines: inout [String]) throws {
        let node = action.onNode ?? "(null)"
        guard action.operation.lowercased() == "stonith" else {
            if let primitive = action.primitive {
                lines.append("  * Cluster action:  \(action.operation) for \(primitive.id) on \(node)")
            } else {
                lines.append("  * Cluster action:  \(action.operation) on \(node)")
            }
            return
        }
        let fenceAction = action.attributes[named: "CRM_meta_stonith_action"]
        lines.append("  * Fencing \(node) (\(fenceAction ?? "(null)"))")
        if fenceAction?.lowercased() != "on" {
            let state = try status.setNodeState(node, up: false)
            try state.setAttribute("crm-debug-origin", to: "simulate_fencing_action")
            try status.clearHistory(of: node)
        }
    }
}
