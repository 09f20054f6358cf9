// What-if events injected into a CIB before scheduling (crm_simulate's --node-up,
// --node-down, --node-fail, --op-inject, --ticket-*) and the operation results to fake while
// executing (--op-fail).
import CIB
import Foundation
import MeridianXML

/// A user error of a simulation: what is wrong with which argument, and how to fix it.
public struct SimulationError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The option the error is about (`--op-fail`), if any.
    public var option: String?
    /// What is wrong.
    public var message: String
    /// How to fix it.
    public var hint: String

    public init(_ message: String, option: String? = nil, hint: String) {
        self.option = option
        self.message = message
        self.hint = hint
    }

    public var description: String {
        (option.map { "\($0): " } ?? "") + message + "\n  hint: " + hint
    }
}

/// An operation and its result on a node, as crm_simulate's `--op-inject` and `--op-fail`
/// take it: `${resource}_${task}_${interval_in_ms}@${node}=${rc}`.
public struct OperationSpec: Sendable, Hashable, CustomStringConvertible {
    public var resource: String
    public var task: String
    public var intervalMilliseconds: Int
    public var node: String
    public var rc: Int

    public init(resource: String, task: String, intervalMilliseconds: Int, node: String, rc: Int) {
        self.resource = resource
        self.task = task
        self.intervalMilliseconds = intervalMilliseconds
        self.node = node
        self.rc = rc
    }

    /// The expected format, for messages.
    public static let format =
        "${resource}_${task}_${interval_in_ms}@${node}=${rc}, for example rsc1_monitor_10000@node1=7"

    /// Reads a spec; `option` names the argument in errors.
    public static func parse(_ text: String, option: String) throws(SimulationError) -> OperationSpec {
        func failure(_ problem: String) -> SimulationError {
            SimulationError("\"\(text)\" \(problem)", option: option, hint: "write the operation as \(format)")
        }
        guard let at = text.firstIndex(of: "@") else { throw failure("has no @ before the node") }
        let key = text[..<at]
        let rest = text[text.index(after: at)...]
        guard let equals = rest.firstIndex(of: "=") else { throw failure("has no =rc after the node") }
        let node = String(rest[..<equals])
        let rcText = rest[rest.index(after: equals)...]
        guard !node.isEmpty else { throw failure("names no node between @ and =") }
        guard let rc = Int(rcText) else { throw failure("has result \"\(rcText)\", which is not an integer") }
        guard let (resource, task, interval) = parseOperationKey(String(key)) else {
            throw failure("does not start with resource_task_interval (the interval in milliseconds)")
        }
        return OperationSpec(resource: resource, task: task, intervalMilliseconds: interval, node: node, rc: rc)
    }

    /// Splits `rsc_task_interval` as Pacemaker's `parse_op_key` does: the interval after the
    /// last underscore, the task before it (including `pre_notify_start`-style and
    /// `migrate_to`/`migrate_from` tasks), the resource id (which may contain underscores) first.
    static func parseOperationKey(_ key: String) -> (String, String, Int)? {
        guard let last = key.lastIndex(of: "_") else { return nil }
        let intervalText = key[key.index(after: last)...]
        guard !intervalText.isEmpty, intervalText.allSatisfy(\.isASCII), intervalText.allSatisfy(\.isNumber),
            let interval = Int(intervalText)
        else { return nil }
        let head = key[..<last]
        let compoundTasks = ["migrate_to", "migrate_from"]
        for task in compoundTasks where head.hasSuffix("_" + task) {
            return (String(head.dropLast(task.count + 1)), task, interval)
        }
        // Notifications: rsc_(pre|post)_notify_task[_...]
        for phase in ["_pre_notify_", "_post_notify_"] {
            if let range = head.range(of: phase, options: .backwards), range.lowerBound > head.startIndex {
                let task = head[head.index(after: range.lowerBound)...]
                if !task.hasSuffix("_") {
                    return (String(head[..<range.lowerBound]), String(task), interval)
                }
            }
        }
        guard let previous = head.lastIndex(of: "_") else { return nil }
        let resource = head[..<previous]
        let task = head[head.index(after: previous)...]
        guard !resource.isEmpty, !task.isEmpty else { return nil }
        return (String(resource), String(task), interval)
    }

    public var key: String { "\(resource)_\(task)_\(intervalMilliseconds)" }

    public var description: String { "\(key)@\(node)=\(rc)" }
}

/// The what-if events of a simulation, in crm_simulate's order of application.
public struct Injections: Sendable, Hashable {
    public var nodesUp: [String] = []
    public var nodesDown: [String] = []
    public var nodesFailed: [String] = []
    public var ticketsGranted: [String] = []
    public var ticketsRevoked: [String] = []
    public var ticketsStandby: [String] = []
    public var ticketsActivated: [String] = []
    /// Operation results recorded in the history before scheduling (`--op-inject`).
    public var operations: [OperationSpec] = []
    /// Results to report instead of success when the transition executes these operations
    /// (`--op-fail`); they do not change the input.
    public var failures: [OperationSpec] = []

    public init() {}

    /// Whether anything changes the input before scheduling (`failures` apply later).
    public var changesInput: Bool {
        !(nodesUp.isEmpty && nodesDown.isEmpty && nodesFailed.isEmpty && ticketsGranted.isEmpty
            && ticketsRevoked.isEmpty && ticketsStandby.isEmpty && ticketsActivated.isEmpty && operations.isEmpty)
    }

    /// Checks names against the model: every node must exist (case-insensitively), every
    /// injected operation's resource too; tickets may be new.
    public func validate(against model: CIBModel) throws(SimulationError) {
        let nodeOptions: [(String, [String])] = [
            ("--node-up", nodesUp), ("--node-down", nodesDown), ("--node-fail", nodesFailed),
        ]
        let known = model.nodes.map(\.name)
        for (option, names) in nodeOptions {
            for name in names where model.node(named: name) == nil {
                throw SimulationError(
                    "node \(name) is not in the CIB", option: option,
                    hint: "use one of the configured nodes: \(known.joined(separator: ", "))")
            }
        }
        for spec in operations {
            guard findResource(spec.resource, in: model) != nil else {
                throw SimulationError(
                    "resource \(spec.resource) (in \(spec)) is not in the CIB", option: "--op-inject",
                    hint: "name a configured resource (or a clone instance such as rsc:0)")
            }
            guard model.node(named: spec.node) != nil else {
                throw SimulationError(
                    "node \(spec.node) (in \(spec)) is not in the CIB", option: "--op-inject",
                    hint: "use one of the configured nodes: \(known.joined(separator: ", "))")
            }
        }
        let tickets: [(String, [String])] = [
            ("--ticket-grant", ticketsGranted), ("--ticket-revoke", ticketsRevoked),
            ("--ticket-standby", ticketsStandby), ("--ticket-activate", ticketsActivated),
        ]
        for (option, names) in tickets {
            for name in names where name.isEmpty {
                throw SimulationError("the ticket name is empty", option: option, hint: "give the ticket's id")
            }
        }
    }

    /// Applies the events to `document` as crm_simulate does (pcmk__inject_scheduler_input),
    /// returning the changed copy and the "Performing Requested Modifications" lines.
    ///
    /// - Parameters:
    ///   - model: the unpacked `document`, to find the agents of injected operations.
    ///   - now: the time recorded with injected results and failures (seconds since the epoch).
    public func apply(
        to document: XMLDocument, model: CIBModel, now: Int
    ) throws -> (document: XMLDocument, lines: [String]) {
        try validate(against: model)
        var lines: [String] = []
        let changed = try document.editing { editor in
            var status = try StatusEditor(editor)
            status.addsNodeConfiguration = !nodesUp.isEmpty
            for node in nodesUp {
                lines.append("Bringing node \(node) online")
                try status.setNodeState(node, up: true)
            }
            for node in nodesDown {
                lines.append("Taking node \(node) offline")
                try status.setNodeState(node, up: false)
                try status.clearHistory(of: node)
            }
            for node in nodesFailed {
                lines.append("Failing node \(node)")
                let state = try status.setNodeState(node, up: true)
                try state.setAttribute("in_ccm", to: "false")
            }
            let ticketChanges: [(tickets: [String], message: String, attribute: String, value: Bool)] = [
                (ticketsGranted, "Granting ticket %@", "granted", true),
                (ticketsRevoked, "Revoking ticket %@", "granted", false),
                (ticketsStandby, "Making ticket %@ standby", "standby", true),
                (ticketsActivated, "Activating ticket %@", "standby", false),
            ]
            for change in ticketChanges {
                for ticket in change.tickets {
                    lines.append(change.message.replacingOccurrences(of: "%@", with: ticket))
                    try status.setTicket(ticket, change.attribute, change.value)
                }
            }
            for spec in operations {
                lines.append("Injecting \(spec) into the configuration")
                guard let resource = findResource(spec.resource, in: model) else { continue }
                let state = try status.nodeState(spec.node, uuid: nil)
                lines += try status.injectFailCount(
                    on: state, resource: spec.resource, task: spec.task,
                    intervalMilliseconds: spec.intervalMilliseconds, rc: spec.rc, now: now)
                let entry = try status.resourceHistory(
                    on: state, resource: spec.resource, configName: spec.resource,
                    agentClass: resource.agent?.standard, provider: resource.agent?.provider,
                    type: resource.agent?.type)
                try status.record(
                    InjectedResult(
                        resource: spec.resource, task: spec.task, intervalMilliseconds: spec.intervalMilliseconds,
                        rc: spec.rc, targetRC: 0, exitReason: "Simulated action result", now: now),
                    in: entry)
            }
        }
        return (changed, lines)
    }
}

/// Pacemaker's `pe_find_resource`: a resource by id, or by the name its history recorded.
func findResource(_ name: String, in model: CIBModel) -> Resource? {
    model.resource(name) ?? model.resources.first { $0.state.historyName == name }
}
