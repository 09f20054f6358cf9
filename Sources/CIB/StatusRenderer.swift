// The "Current cluster status" block, exactly as crm_simulate 2.1.5 prints it.

extension CIBModel {
    /// The status display crm_simulate 2.1.5 prints before the transition summary:
    /// the preamble lines (disabled schema validation, the original execution date,
    /// maintenance mode, disabled and blocked instance counts), then "Current cluster
    /// status:" with the node list and the full list of resources.
    ///
    /// The text follows Pacemaker's text formatter: two spaces per nesting level,
    /// `* ` before each item, tabs around a primitive's agent.
    public func renderCurrentStatus() -> String {
        var text = StatusText()
        var printed = false
        if validateWith?.lowercased() == "none" {
            text.info(
                "Schema validation of configuration is disabled (enabling is encouraged and prevents common "
                    + "misconfigurations)")
        }
        if givenTime == nil, let executionDate {
            text.info("Using the original execution date of: \(formatUTC(executionDate))")
        }
        if properties.maintenanceMode {
            text.raw("\n              *** Resource management is DISABLED ***\n")
            text.raw("  The cluster will not attempt to start, stop or recover services\n")
            printed = true
        } else if properties.stopAllResources {
            text.raw("\n    *** Resource management is DISABLED ***\n")
            text.raw("  The cluster will keep all resources stopped\n")
            printed = true
        }
        if instanceCounts.disabled > 0 || instanceCounts.blocked > 0 {
            if printed { text.spacer() }
            text.info(
                "\(instanceCounts.disabled) of \(instanceCounts.total) resource instances DISABLED and "
                    + "\(instanceCounts.blocked) BLOCKED from further action due to failure")
            printed = true
        }
        if printed { text.spacer() }
        renderStatusBlock(into: &text, title: "Current cluster status")
        return text.output
    }

    func renderStatusBlock(into text: inout StatusText, title: String) {
        text.beginList(title)
        renderNodes(into: &text)
        renderResources(into: &text, spacer: true)
        text.endList()
    }

    // MARK: - Nodes

    func renderNodes(into text: inout StatusText) {
        var online: [String] = []
        var offline: [String] = []
        var header = false
        for node in nodes {
            if !header {
                text.beginList("Node List")
                header = true
            }
            let state = node.state
            let health = nodeHealth(node)
            if state.unclean || state.pending || (state.standbyOnFail && state.online) || state.standby
                || state.maintenance || health <= 0
            {
                var line = "Node \(node.name): \(nodeStatusText(node))"
                if health < 0 {
                    line += " (health is RED)"
                } else if health == 0 {
                    line += " (health is YELLOW)"
                }
                text.item(line)
            } else if state.online {
                online.append(node.name)
            } else {
                offline.append(node.name)
            }
        }
        if !online.isEmpty { text.item("Online: [ \(online.joined(separator: " ")) ]") }
        if !offline.isEmpty { text.item("OFFLINE: [ \(offline.joined(separator: " ")) ]") }
        if header { text.endList() }
    }

    /// Pacemaker's `pe__node_health`: negative when a `#health*` attribute is red, 0 when
    /// one is yellow, positive otherwise (always positive without a health strategy).
    func nodeHealth(_ node: Node) -> Int {
        guard properties.nodeHealthStrategy != "none" else { return 1 }
        let red = Score(pacemaker: properties.configured["node-health-red"] ?? "-INFINITY")
        let yellow = Score(pacemaker: properties.configured["node-health-yellow"] ?? "0")
        let green = Score(pacemaker: properties.configured["node-health-green"] ?? "0")
        var result = 1
        for (name, value) in node.attributes where name.hasPrefix("#health") {
            switch value.lowercased() {
            case "red": return -1
            case "yellow": result = 0
            default:
                let score = Score(pacemaker: value)
                if score <= red { return -1 }
                if score <= yellow && yellow != green { result = 0 }
            }
        }
        return result
    }

    /// Pacemaker's `node_text_status`.
    func nodeStatusText(_ node: Node) -> String {
        let state = node.state
        if state.unclean {
            if state.online { return "UNCLEAN (online)" }
            if state.pending { return "UNCLEAN (pending)" }
            return "UNCLEAN (offline)"
        }
        if state.pending { return "pending" }
        if state.standbyOnFail && state.online { return "standby (on-fail)" }
        if state.standby {
            if state.online {
                let running = resources.contains { $0.variant == .primitive && $0.state.runningOn.contains(node.name) }
                return running ? "standby (with active resources)" : "standby"
            }
            return "OFFLINE (standby)"
        }
        if state.maintenance { return state.online ? "maintenance" : "OFFLINE (maintenance)" }
        if state.online { return "online" }
        return "OFFLINE"
    }

    // MARK: - Resources

    func renderResources(into text: inout StatusText, spacer: Bool) {
        var header = false
        var printedAny = false
        for index in topLevel {
            let resource = resources[index]
            let active = isActive(index, all: true)
            let partiallyActive = isActive(index, all: false)
            if resource.state.isOrphan && !active { continue }
            if partiallyActive && resource.state.runningOn.isEmpty { continue }
            if !header {
                if spacer { text.spacer() }
                text.beginList("Full List of Resources")
                header = true
            }
            if render(index, into: &text) { printedAny = true }
        }
        if !printedAny {
            if !header {
                if spacer { text.spacer() }
                text.beginList("Full List of Resources")
                header = true
            }
            text.item("No resources")
        }
        if header { text.endList() }
    }

    /// Renders one resource; false when nothing was printed.
    @discardableResult
    func render(_ index: Int, into text: inout StatusText) -> Bool {
        switch resources[index].variant {
        case .primitive: return renderPrimitive(index, into: &text)
        case .group: return renderGroup(index, into: &text)
        case .clone: return renderClone(index, into: &text)
        }
    }

    func renderPrimitive(_ index: Int, into text: inout StatusText) -> Bool {
        let resource = resources[index]
        if isTrue(resource.meta["internal_rsc"]) { return false }
        let node = currentNode(index) ?? resource.state.pendingNode
        text.item(primitiveLine(index, node: node))
        return true
    }

    func renderGroup(_ index: Int, into text: inout StatusText) -> Bool {
        let group = resources[index]
        var attributes: [String] = []
        if !group.state.isManaged { attributes.append("unmanaged") }
        if isDisabled(index) { attributes.append("disabled") }
        let title =
            attributes.isEmpty
            ? "Resource Group: \(group.id)" : "Resource Group: \(group.id) (\(attributes.joined(separator: ", ")))"
        var header = false
        for child in group.children {
            if !header {
                text.beginList(title)
                header = true
            }
            render(child, into: &text)
        }
        if header { text.endList() }
        return header
    }

    func renderClone(_ index: Int, into text: inout StatusText) -> Bool {
        let clone = resources[index]
        var header = false
        func beginHeader(_ text: inout StatusText) {
            if header { return }
            var attributes: [String] = []
            if clone.settings.isPromotable { attributes.append("promotable") }
            if clone.settings.isUnique { attributes.append("unique") }
            if !clone.state.isManaged { attributes.append("unmanaged") }
            if isDisabled(index) { attributes.append("disabled") }
            let child = clone.clone?.childConfigID ?? ""
            text.beginList(
                attributes.isEmpty
                    ? "Clone Set: \(clone.id) [\(child)]"
                    : "Clone Set: \(clone.id) [\(child)] (\(attributes.joined(separator: ", ")))")
            header = true
        }
        var stopped: [String: String] = [:]
        var promotedNodes: [String] = []
        var startedNodes: [String] = []
        for child in clone.children {
            var printFull = false
            let partiallyActive = isActive(child, all: false)
            if clone.settings.isUnique {
                if partiallyActive || !clone.state.isOrphan { printFull = true }
            } else if !partiallyActive {
                if !resources[child].state.isOrphan { stopped[resources[child].id] = "Stopped" }
            } else if anyInTree(child, \.state.isOrphan) || !allInTree(child, \.state.isManaged)
                || anyInTree(child, \.state.isFailed)
            {
                printFull = true
            } else if isActive(child, all: true) {
                if let location = singleLocation(child) {
                    let node = self.node(named: location)
                    if let node, !node.state.online && node.state.unclean {
                        printFull = true
                    } else if currentRole(child) > .unpromoted {
                        promotedNodes.append(location)
                    } else {
                        startedNodes.append(location)
                    }
                } else {
                    printFull = true
                }
            } else {
                printFull = true
            }
            if printFull {
                beginHeader(&text)
                render(child, into: &text)
            }
        }
        var activeInstances = 0
        let promoted = glibSorted(promotedNodes, by: pacemakerNameCompare)
        if !promoted.isEmpty {
            activeInstances += promoted.count
            beginHeader(&text)
            text.item("Promoted: [ \(promoted.joined(separator: " ")) ]")
        }
        let started = glibSorted(startedNodes, by: pacemakerNameCompare)
        if !started.isEmpty {
            activeInstances += started.count
            beginHeader(&text)
            if clone.settings.isPromotable {
                if configuredRole(index) == .unpromoted {
                    text.item("Unpromoted (target-role): [ \(started.joined(separator: " ")) ]")
                } else {
                    text.item("Unpromoted: [ \(started.joined(separator: " ")) ]")
                }
            } else {
                text.item("Started: [ \(started.joined(separator: " ")) ]")
            }
        }
        if !clone.settings.isUnique && (clone.clone?.maxInstances ?? 0) > activeInstances {
            stopped = [:]
            var candidates = clone.state.allowedNodes.indices.compactMap {
                clone.state.allowedNodes[$0] == nil ? nil : nodes[$0].name
            }
            if candidates.isEmpty { candidates = clone.state.knownOn }
            for name in glibSorted(candidates, by: pacemakerNameCompare) {
                if clone.state.runningOn.contains(where: { $0.lowercased() == name.lowercased() }) { continue }
                var state = configuredRole(index) == .stopped ? "Stopped (disabled)" : "Stopped"
                if let probe = failedProbe(index, node: name) {
                    state = "Stopped (\(OCFExit.text(probe.rc)))"
                }
                stopped[name] = state
            }
        }
        if !stopped.isEmpty {
            beginHeader(&text)
            let statuses = Array(Set(stopped.values)).sorted {
                Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8))
            }
            for status in statuses {
                let names = glibSorted(
                    stopped.filter { $0.value == status }.map(\.key).sorted(), by: pacemakerNameCompare)
                if !names.isEmpty { text.item("\(status): [ \(names.joined(separator: " ")) ]") }
            }
        } else if activeInstances == 0 {
            beginHeader(&text)
        }
        if header { text.endList() }
        return header
    }

    // MARK: - A primitive's line

    /// Pacemaker's `pcmk__native_output_string`.
    func primitiveLine(_ index: Int, node: String?) -> String {
        let resource = resources[index]
        let agent = resource.agent ?? ResourceAgent(standard: "unknown", provider: nil, type: "unknown")
        let running = resource.state.runningOn
        var node = node
        if running.count > 1 { node = nil }
        let provider = agent.hasProvider ? agent.provider : nil
        var line = "\(printableID(index))\t(\(agent.standard)\(provider.map { ":\($0)" } ?? ""):\(agent.type)):\t"
        if resource.state.isOrphan { line += " ORPHANED" }
        let role = displayableRole(index)
        if resource.state.isFailed {
            line += " FAILED"
            if role > .unpromoted { line += " \(role)" }
        } else {
            line += " \(role)"
        }
        if let node { line += " \(node)" }
        if role == .stopped, let probe = failedProbe(index, node: node) {
            line += " (\(OCFExit.text(probe.rc))) "
        }
        var flags: [String] = []
        if let node, let host = self.node(named: node), !host.state.online && host.state.unclean {
            flags.append("UNCLEAN")
        }
        if let targetRole = resource.meta["target-role"], let wanted = Role(pacemaker: targetRole) {
            if wanted == .stopped {
                flags.append("disabled")
            } else if resource.settings.isPromotable && wanted == .unpromoted {
                flags.append("target-role:\(targetRole)")
            }
        }
        if resource.state.isBlocked {
            flags.append("blocked")
        } else if !resource.state.isManaged {
            flags.append("unmanaged")
        }
        if resource.state.failureIgnored { flags.append("failure ignored") }
        if !flags.isEmpty { line += " (\(flags.joined(separator: ", ")))" }
        if running.count > 1, let description = resource.description { line += " \(description)" }
        if running.count > 1 { line += " [ \(running.joined(separator: " ")) ]" }
        return line
    }

    /// `rsc_printable_id`: anonymous clone instances show their configured id.
    func printableID(_ index: Int) -> String {
        let resource = resources[index]
        return resource.settings.isUnique ? resource.id : resource.configID
    }

    /// The role shown: `Started` is shown as `Unpromoted` inside promotable clones.
    func displayableRole(_ index: Int) -> Role {
        let role = resources[index].state.role
        if role == .started && resources[topAncestor(of: index)].settings.isPromotable { return .unpromoted }
        return role
    }

    /// A probe of the resource that found it not installed (or misconfigured) on the
    /// node (any node when `node` is nil), from the failed operations.
    func failedProbe(_ index: Int, node: String?) -> OperationRecord? {
        let resource = resources[index]
        var target = resource.id
        if resource.variant == .clone {
            target = resource.clone?.childConfigID ?? resource.id
        } else {
            let top = resources[topAncestor(of: index)]
            if top.variant == .clone { target = top.clone?.childConfigID ?? target }
        }
        for failure in failedOperations {
            let operation = failure.operation
            guard operation.isMaskableProbeFailure, let onNode = operation.onNode else { continue }
            if let node, onNode.lowercased() != node.lowercased() { continue }
            guard let parsed = parseOperationKey(operation.key), parsed.resource == target else { continue }
            return operation
        }
        return nil
    }

    // MARK: - Pacemaker's resource predicates

    /// `fns->active(rsc, all)`.
    func isActive(_ index: Int, all: Bool) -> Bool {
        let resource = resources[index]
        switch resource.variant {
        case .primitive:
            for name in resource.state.runningOn {
                guard let node = node(named: name) else { continue }
                if node.state.unclean { return true }
                if !node.state.online && resource.state.isManaged { continue }
                return true
            }
            return false
        case .group:
            var any = false
            var every = true
            for child in resource.children {
                if isActive(child, all: all) { any = true } else { every = false }
            }
            if !any { return false }
            return all ? every : true
        case .clone:
            for child in resource.children {
                let childActive = isActive(child, all: all)
                if !all && childActive { return true }
                if all && !childActive { return false }
            }
            return all
        }
    }

    /// `pe__current_node`: the first node it runs on (the first clean one when the
    /// resource does not require fencing).
    func currentNode(_ index: Int) -> String? {
        let resource = resources[index]
        let needsFencing = resource.settings.requires == .fencing || resource.settings.requires == .unfencing
        func happy(_ name: String) -> Bool {
            guard let node = node(named: name) else { return false }
            return node.state.online && !node.state.unclean
        }
        var active: String?
        for name in resource.state.runningOn {
            var keepLooking = false
            if !needsFencing {
                if happy(name) && (active.map { !happy($0) } ?? true) {
                    active = name
                } else {
                    keepLooking = true
                }
            }
            if active == nil { active = name }
            if !keepLooking { break }
        }
        return active
    }

    /// `fns->location(rsc, NULL, current)`: the one node the resource (or its members) runs on.
    func singleLocation(_ index: Int) -> String? {
        var names: [String] = []
        collectRunning(index, into: &names)
        return names.count == 1 ? names[0] : nil
    }

    func collectRunning(_ index: Int, into names: inout [String]) {
        let resource = resources[index]
        if resource.children.isEmpty {
            for name in resource.state.runningOn where !names.contains(name) { names.append(name) }
        } else {
            for child in resource.children { collectRunning(child, into: &names) }
        }
    }

    /// `fns->state(rsc, current)`: the role, or the highest role of the members.
    func currentRole(_ index: Int) -> Role {
        let resource = resources[index]
        if resource.children.isEmpty { return resource.state.role }
        return resource.children.map { currentRole($0) }.max() ?? .unknown
    }

    /// `pe__resource_is_disabled`.
    func isDisabled(_ index: Int) -> Bool {
        let resource = resources[index]
        guard let text = resource.meta["target-role"], let role = Role(pacemaker: text) else { return false }
        return role == .stopped || (role == .unpromoted && resources[topAncestor(of: index)].settings.isPromotable)
    }

    /// The clone's `target-role`, or its first instance's (`configured_role`).
    func configuredRole(_ index: Int) -> Role {
        let clone = resources[index]
        var text = clone.meta["target-role"]
        if text == nil, let first = clone.children.first { text = resources[first].meta["target-role"] }
        return text.flatMap(Role.init(pacemaker:)) ?? .unknown
    }

    func anyInTree(_ index: Int, _ flag: KeyPath<Resource, Bool>) -> Bool {
        if resources[index][keyPath: flag] { return true }
        return resources[index].children.contains { anyInTree($0, flag) }
    }

    func allInTree(_ index: Int, _ flag: KeyPath<Resource, Bool>) -> Bool {
        if !resources[index][keyPath: flag] { return false }
        return resources[index].children.allSatisfy { allInTree($0, flag) }
    }
}

/// Pacemaker's text formatter: nested lists with two spaces per level and `* `.
struct StatusText {
    var output = ""
    var level = 0

    mutating func indent() {
        output += String(repeating: "  ", count: level)
        if level > 0 { output += "* " }
    }

    mutating func beginList(_ title: String) {
        indent()
        output += title + ":\n"
        level += 1
    }

    mutating func endList() {
        level -= 1
    }

    mutating func item(_ text: String) {
        indent()
        output += text + "\n"
    }

    mutating func info(_ text: String) {
        output += text + "\n"
    }

    mutating func raw(_ text: String) {
        output += text
    }

    mutating func spacer() {
        output += "\n"
    }
}

/// `YYYY-MM-DD HH:MM:SSZ` in UTC, as Pacemaker prints dates.
func formatUTC(_ seconds: Int) -> String {
    let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
    let secondsOfDay = seconds - days * 86_400
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let dayOfEra = z - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    var year = yearOfEra + era * 400
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let mp = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * mp + 2) / 5 + 1
    let month = mp < 10 ? mp + 3 : mp - 9
    if month <= 2 { year += 1 }
    func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
    return "\(year)-\(two(month))-\(two(day)) \(two(secondsOfDay / 3600)):\(two(secondsOfDay % 3600 / 60)):"
        + "\(two(secondsOfDay % 60))Z"
}
