// Changes to a CIB's status section, made as crm_simulate makes them (pcmk_injections.c):
// node states, resource histories, fail counts, tickets.
import Foundation
import MeridianXML

/// The transition key crm_simulate writes for injected results (Pacemaker's FAKE_TE_ID).
let fakeTransitionEngineID = "xxxxxxxx-xrsc-opxx-xcrm-resourcexxxx"
/// The feature set Pacemaker 2.1.5 records in the history entries it writes.
let simulatedFeatureSet = "3.16.2"

/// A result to record in a resource's history.
struct InjectedResult {
    var resource: String
    var task: String
    var intervalMilliseconds: Int
    var rc: Int
    var targetRC: Int
    var exitReason: String
    var now: Int
}

/// Edits the status section of a CIB copy inside `XMLDocument.editing`.
///
/// Node states are found by exact `uname` (as crm_simulate's XPath finds them); a node state
/// that does not exist yet is created with the node's uuid.
struct StatusEditor {
    let editor: XMLEditor
    let status: XMLEditor.Element
    /// crm_simulate's `pcmk__simulate_node_config` (set by `--node-up`): nodes the
    /// configuration lacks are added to it when their state is created.
    var addsNodeConfiguration = false
    /// Where the changes come from (`crm-debug-origin`).
    let origin = "crm_simulate"

    init(_ editor: XMLEditor) throws(XMLError) {
        self.editor = editor
        let root = editor.root
        if let status = root.children.first(where: { $0.name == "status" }) {
            self.status = status
        } else {
            self.status = try root.appendElement(named: "status")
        }
    }

    var configurationNodes: XMLEditor.Element? {
        editor.root.children.first { $0.name == "configuration" }?.children.first { $0.name == "nodes" }
    }

    /// The uuid of the configured node named `name` (case-insensitively, as Pacemaker's
    /// `query_node_uuid`).
    func configuredUUID(of name: String) -> String? {
        let lowered = name.lowercased()
        return configurationNodes?.children.first {
            $0.name == "node" && $0.attribute("uname")?.lowercased() == lowered
        }?.attribute("id")
    }

    /// The `<node_state>` of `name`, created (with `uuid`, else the configured node's id) when
    /// there is none (Pacemaker's `pcmk__inject_node`).
    func nodeState(_ name: String, uuid: String?) throws -> XMLEditor.Element {
        if addsNodeConfiguration, let nodes = configurationNodes,
            !nodes.children.contains(where: { $0.name == "node" && $0.attribute("uname") == name })
        {
            try nodes.appendElement(named: "node", attributes: ["id": name, "uname": name])
        }
        let states = status.children.filter { $0.name == "node_state" && $0.attribute("uname") == name }
        if states.count > 1 {
            throw SimulationError(
                "the status section has \(states.count) <node_state> entries for node \(name)",
                hint: "keep one <node_state uname=\"\(name)\"> in the CIB's status section")
        }
        if let state = states.first { return state }
        guard let id = uuid ?? configuredUUID(of: name) else {
            throw SimulationError(
                "node \(name) is not in the CIB",
                hint: "use the name of a node in the configuration's <nodes> section (crm_simulate would write a "
                    + "node state without an id that the scheduler ignores)")
        }
        return try status.appendElement(named: "node_state", attributes: ["id": id, "uname": name])
    }

    /// Marks `name` up or down as crm_simulate's `pcmk__inject_node_state_change` does.
    @discardableResult
    func setNodeState(_ name: String, up: Bool) throws -> XMLEditor.Element {
        let state = try nodeState(name, uuid: nil)
        try state.setAttribute("in_ccm", to: up ? "true" : "false")
        try state.setAttribute("crmd", to: up ? "online" : "offline")
        try state.setAttribute("join", to: up ? "member" : "down")
        try state.setAttribute("expected", to: up ? "member" : "down")
        try state.setAttribute("crm-debug-origin", to: origin)
        return state
    }

    /// Removes the node's resource history and transient attributes (what the controller
    /// does when a node leaves or is fenced).
    func clearHistory(of name: String) throws {
        for state in status.children where state.name == "node_state" && state.attribute("uname") == name {
            for child in state.children where child.name == "lrm" || child.name == "transient_attributes" {
                try child.remove()
            }
        }
    }

    /// The `<lrm_resource>` of a resource on a node: an existing entry named `resource`, else one
    /// named `configName`, else a new entry named `configName` (Pacemaker's
    /// `pcmk__inject_resource_history`).
    func resourceHistory(
        on state: XMLEditor.Element, resource: String, configName: String, agentClass: String?,
        provider: String?, type: String?
    ) throws -> XMLEditor.Element {
        let entries = state.children.filter { $0.name == "lrm" }.flatMap(\.children)
            .filter { $0.name == "lrm_resources" }.flatMap(\.children).filter { $0.name == "lrm_resource" }
        // Pacemaker's lookup (get_xpath_object) finds nothing when a name matches more than once.
        func unique(_ name: String) -> XMLEditor.Element? {
            let matches = entries.filter { $0.attribute("id") == name }
            return matches.count == 1 ? matches[0] : nil
        }
        if let entry = unique(resource) { return entry }
        if resource != configName, let entry = unique(configName) { return entry }
        let nodeName = state.attribute("uname") ?? "?"
        guard let agentClass, let type else {
            throw SimulationError(
                "resource \(resource) has no history on \(nodeName) and its agent class or type is unknown",
                hint: "give the resource a class and type in the configuration")
        }
        let classes = ["ocf", "stonith", "service", "upstart", "systemd", "lsb"]
        guard classes.contains(agentClass.lowercased()) else {
            throw SimulationError(
                "resource \(resource) has agent class \(agentClass), which cannot be simulated",
                hint: "use one of the classes \(classes.joined(separator: ", "))")
        }
        if agentClass.lowercased() == "ocf" && provider == nil {
            throw SimulationError(
                "resource \(resource) is an OCF resource without a provider",
                hint: "set the provider attribute of the resource")
        }
        let lrm =
            try state.children.first(where: { $0.name == "lrm" })
            ?? state.appendElement(named: "lrm", attributes: ["id": state.attribute("id") ?? nodeName])
        let list =
            try lrm.children.first(where: { $0.name == "lrm_resources" }) ?? lrm.appendElement(named: "lrm_resources")
        let entry = try list.appendElement(named: "lrm_resource", attributes: ["id": configName])
        try entry.setAttribute("class", to: agentClass)
        try entry.setAttribute("provider", to: provider)
        try entry.setAttribute("type", to: type)
        return entry
    }

    /// The call id for a new operation on `entry`: one more than any recorded.
    func nextCallID(_ entry: XMLEditor.Element) -> Int {
        let highest = entry.children.compactMap { $0.attribute("call-id").flatMap { Int($0) } }.max() ?? 0
        return max(highest, 0) + 1
    }

    /// Records an operation result in a resource history (Pacemaker's
    /// `pcmk__create_history_xml`): `RSC_last_0` for a one-off operation, `RSC_TASK_INTERVAL`
    /// for a recurring one, `RSC_last_failure_0` (and `RSC_last_0` when one-off) for a failure.
    func record(_ result: InjectedResult, in entry: XMLEditor.Element) throws {
        let resource = entry.attribute("id") ?? result.resource
        let callID = nextCallID(entry)
        let key = "\(resource)_\(result.task)_\(result.intervalMilliseconds)"
        let failed = result.rc != result.targetRC
        var ids: [String]
        if failed {
            ids = ["\(resource)_last_failure_0"]
            if result.intervalMilliseconds == 0 { ids.append("\(resource)_last_0") }
        } else if result.intervalMilliseconds > 0 {
            ids = [key]
        } else {
            ids = ["\(resource)_last_0"]
        }
        let transitionKey = "\(callID):-1:\(result.targetRC):\(fakeTransitionEngineID)"
        for id in ids {
            let op =
                try entry.children.first(where: { $0.name == "lrm_rsc_op" && $0.attribute("id") == id })
                ?? entry.appendElement(named: "lrm_rsc_op", attributes: ["id": id])
            let values: KeyValuePairs<String, String> = [
                "operation_key": key, "operation": result.task, "crm-debug-origin": origin,
                "crm_feature_set": simulatedFeatureSet, "transition-key": transitionKey,
                "transition-magic": "0:\(result.rc);\(transitionKey)",
                "exit-reason": failed ? result.exitReason : "", "call-id": String(callID),
                "rc-code": String(result.rc), "op-status": "0", "interval": String(result.intervalMilliseconds),
                "last-rc-change": String(result.now), "exec-time": "0", "queue-time": "0",
            ]
            for (name, value) in values { try op.setAttribute(name, to: value) }
        }
    }

    /// Adds a transient attribute to a node state (Pacemaker's `inject_transient_attr`); returns
    /// crm_simulate's message line.
    ///
    /// Difference: a `value++` for an attribute the node does not have yet is stored as 1
    /// (crm_simulate stores the text `value++`, which its scheduler reads as 0).
    func addTransientAttribute(_ name: String, _ value: String, on state: XMLEditor.Element) throws -> String {
        let uuid = state.attribute("id") ?? ""
        let line = "Injecting attribute \(name)=\(value) into /node_state '\(uuid)'"
        let attributes =
            try state.children.first(where: { $0.name == "transient_attributes" })
            ?? state.appendElement(named: "transient_attributes", attributes: ["id": uuid])
        let set =
            try attributes.children.first(where: { $0.name == "instance_attributes" })
            ?? attributes.appendElement(named: "instance_attributes", attributes: ["id": uuid])
        let id = "\(set.attribute("id") ?? uuid)-\(name)"
        if let pair = set.children.first(where: { $0.name == "nvpair" && $0.attribute("id") == id }) {
            var stored = value
            if value == "value++" {
                stored = String(min((pair.attribute("value").flatMap { Int($0) } ?? 0) + 1, 1_000_000))
            }
            try pair.setAttribute("name", to: name)
            try pair.setAttribute("value", to: stored)
        } else {
            try set.appendElement(
                named: "nvpair", attributes: ["id": id, "name": name, "value": value == "value++" ? "1" : value])
        }
        return line
    }

    /// Records a failure's fail count and last-failure time (Pacemaker's
    /// `pcmk__inject_failcount`): nothing for rc 0, nor for a probe finding the resource not
    /// running (rc 7, interval 0).
    func injectFailCount(
        on state: XMLEditor.Element, resource: String, task: String, intervalMilliseconds: Int, rc: Int, now: Int
    ) throws -> [String] {
        if rc == 0 || (rc == 7 && intervalMilliseconds == 0) { return [] }
        let suffix = "\(resource)#\(task)_\(intervalMilliseconds)"
        return [
            try addTransientAttribute("fail-count-\(suffix)", "value++", on: state),
            try addTransientAttribute("last-failure-\(suffix)", String(now), on: state),
        ]
    }

    /// Sets `granted` or `standby` of a ticket's state, creating it if needed.
    func setTicket(_ ticket: String, _ attribute: String, _ value: Bool) throws {
        let tickets =
            try status.children.first(where: { $0.name == "tickets" }) ?? status.appendElement(named: "tickets")
        let state =
            try tickets.children.first(where: { $0.name == "ticket_state" && $0.attribute("id") == ticket })
            ?? tickets.appendElement(named: "ticket_state", attributes: ["id": ticket])
        try state.setAttribute(attribute, to: value ? "true" : "false")
    }
}
