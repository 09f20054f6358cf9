// Unpacking the status section: tickets, node states, and resource histories.
import MeridianXML

extension Unpacker {
    mutating func unpackStatus(_ status: XMLElement) throws(CIBError) {
        for child in status.children {
            if child.name == "tickets" {
                unpackTickets(child)
            } else if child.name == "node_state" {
                unpackNodeState(child)
            }
        }
        // Histories: online nodes first when fencing is off, so that active clone
        // instances get the low instance numbers; then the rest.
        while try unpackNodeHistories(status, includeAll: false) {}
        _ = try unpackNodeHistories(status, includeAll: properties.stonithEnabled)
    }

    // MARK: - Tickets

    mutating func unpackTickets(_ xml: XMLElement) {
        for entry in xml.children(named: "ticket_state") {
            guard let id = entry.attribute("id"), !id.isEmpty else { continue }
            var state: [String: String] = [:]
            for attribute in entry.attributes where attribute.name != "id" { state[attribute.name] = attribute.value }
            if let existing = tickets.firstIndex(where: { $0.id == id }) {
                state = tickets[existing].state.merging(state) { $1 }
                tickets.remove(at: existing)
            }
            tickets.append(
                Ticket(
                    id: id, granted: isTrue(state["granted"]), standby: isTrue(state["standby"]),
                    lastGranted: state["last-granted"].flatMap { clampingLeadingInteger($0) }, state: state,
                    line: entry.line))
        }
    }

    mutating func addTicketsNamedByConstraints() {
        for constraint in constraints.ticket where !tickets.contains(where: { $0.id == constraint.ticket }) {
            tickets.append(
                Ticket(id: constraint.ticket, granted: false, standby: false, lastGranted: nil, state: [:], line: nil))
        }
    }

    // MARK: - Node states

    func findNode(id: String?, name: String?) -> Int? {
        nodeIndex(id: id) ?? nodeIndex(named: name)
    }

    /// Pacemaker's `unpack_node_state`: transient attributes and online status.
    mutating func unpackNodeState(_ state: XMLElement) {
        guard let id = state.attribute("id") else {
            warn("ignoring <node_state> without id", at: state)
            return
        }
        guard let name = state.attribute("uname") else {
            warn("ignoring <node_state> without uname", at: state)
            return
        }
        guard let index = findNode(id: id, name: name) else {
            warn("ignoring the recorded state of node \(name): it is no longer in the configuration", at: state)
            return
        }
        let node = nodes[index]
        if node.kind == .remote {
            return
        }
        // Transient attributes override configured ones.
        let transient = state.firstChild(named: "transient_attributes")
        let sets = attributeSets(transient, kind: "instance_attributes")
        var applied: [String: String] = [:]
        AttributeSet.apply(sets, to: &applied, context: Rule.Context(), overwrite: true)
        node.transient = applied
        addNodeAttributes(node, sets: sets, overwrite: true)
        if isTrue(node.attributes["standby"]) { node.standby = true }
        if isTrue(node.attributes["maintenance"]) { node.maintenance = true }
        if let discovery = node.attributes["resource-discovery-enabled"], !isTrue(discovery) {
            warn(
                "ignoring resource-discovery-enabled for \(node.name): cluster nodes cannot disable resource "
                    + "discovery", at: state)
        }
        // Health attributes count only with a node-health-strategy (reported with the option).
        if let key = node.attributes.keys.sorted().first(where: { $0.hasPrefix("#health") }),
            properties.nodeHealthStrategy == "none"
        {
            report(
                "node health", "node attribute \(key) (no effect with node-health-strategy=none)", at: state,
                impact: .ignored)
        }
        node.unclean = false
        node.seen = true
        determineOnlineStatus(state, node)
        if !haveQuorum && node.online && properties.effectiveNoQuorumPolicy == .suicide {
            fence(node, reason: "cluster does not have quorum")
        }
    }

    /// Pacemaker's `pe_fence_node` for cluster nodes: a node that is not unclean yet
    /// becomes unclean, and the reason is the one its fencing action carries. A node
    /// that is unclean already (a later reason, or one never seen) keeps its state.
    mutating func fence(_ node: WorkingNode, reason: String) {
        guard !node.unclean else { return }
        node.unclean = true
        node.fenceReason = reason
    }

    mutating func determineOnlineStatus(_ state: XMLElement, _ node: WorkingNode) {
        let expected = state.attribute("expected")
        node.shutdown = false
        node.expectedUp = false
        if let shutdown = node.attributes["shutdown"], shutdown != "0" {
            node.shutdown = true
        } else if expected?.lowercased() == "member" {
            node.expectedUp = true
        }
        var online = false
        if node.kind == .ping {
            node.unclean = false
        } else if !properties.stonithEnabled {
            online = onlineWithoutFencing(state, node)
        } else {
            online = onlineWithFencing(state, node)
        }
        if online { node.online = true }
    }

    mutating func onlineWithoutFencing(_ state: XMLElement, _ node: WorkingNode) -> Bool {
        let join = state.attribute("join")
        let peer = state.attribute("crmd")
        let inCluster = state.attribute("in_ccm")
        if !isTrue(inCluster) { return false }
        if peer?.lowercased() == "online" {
            return join?.lowercased() == "member"
        }
        if !node.expectedUp { return false }
        fence(node, reason: "peer is unexpectedly down")
        return false
    }

    mutating func onlineWithFencing(_ state: XMLElement, _ node: WorkingNode) -> Bool {
        let join = state.attribute("join")?.lowercased()
        let peerOnline = state.attribute("crmd")?.lowercased() == "online"
        let inClusterText = state.attribute("in_ccm")
        let inCluster = isTrue(inClusterText)
        let expected = state.attribute("expected")?.lowercased() ?? "down"
        var terminate = false
        if let value = node.attributes["terminate"] {
            if isTrue(value) {
                terminate = true
            } else if let first = value.first, first != "0", first.isASCII, first.isNumber {
                terminate = true
            }
        }
        var online = inCluster
        if node.shutdown {
            online = peerOnline
        } else if inClusterText == nil {
            fence(node, reason: "peer has not been seen by the cluster")
        } else if join == "banned" {
            fence(node, reason: "peer failed Pacemaker membership criteria")
        } else if !terminate && expected == "down" {
            if inCluster || peerOnline {
                node.standby = true
                node.pending = true
            }
        } else if terminate && join == "down" && !inCluster && !peerOnline {
            online = false
        } else if !inCluster {
            fence(node, reason: "peer is no longer part of the cluster")
        } else if !peerOnline {
            fence(node, reason: "peer process is no longer available")
        } else if terminate {
            fence(node, reason: "termination was requested")
        } else if join == "member" {
            // Active.
        } else if join == "pending" || join == "down" {
            node.standby = true
            node.pending = true
        } else {
            fence(node, reason: "peer was in an unknown state")
        }
        return online
    }

    // MARK: - Histories

    /// One pass over the node states (Pacemaker's `unpack_node_history`); true when
    /// any node's history was read.
    mutating func unpackNodeHistories(_ status: XMLElement, includeAll: Bool) throws(CIBError) -> Bool {
        var didUnpack = false
        for state in status.children(named: "node_state") {
            guard let id = state.attribute("id"), let name = state.attribute("uname"),
                let index = findNode(id: id, name: name)
            else { continue }
            let node = nodes[index]
            if node.historyUnpacked || node.kind == .remote { continue }
            if !includeAll && !properties.stonithEnabled && !node.online { continue }
            node.historyUnpacked = true
            try unpackNodeHistory(state, node: index)
            didUnpack = true
        }
        return didUnpack
    }

    mutating func unpackNodeHistory(_ state: XMLElement, node: Int) throws(CIBError) {
        guard let lrm = state.firstChild(named: "lrm"), let list = lrm.firstChild(named: "lrm_resources") else {
            return
        }
        for entry in list.children(named: "lrm_resource") {
            try unpackResourceHistory(entry, node: node)
        }
    }

    /// Pacemaker's `unpack_lrm_resource`.
    mutating func unpackResourceHistory(_ entry: XMLElement, node nodeIndex: Int) throws(CIBError) {
        guard let recordedName = entry.attribute("id") else {
            warn("ignoring <lrm_resource> without id", at: entry)
            return
        }
        let opElements = entry.children(named: "lrm_rsc_op")
        if opElements.isEmpty { return }
        var records: [OperationRecord] = opElements.map { readOperationRecord($0) }
        records.reverse()
        if records.contains(where: { $0.task == "migrate_to" || $0.task == "migrate_from" }) {
            report("live migration", "migrate_to/migrate_from in the history of \(recordedName)", at: entry)
        }

        var rsc = try findResourceForHistory(recordedName, node: nodeIndex)
        if rsc == nil {
            rsc = try unpackOrphanHistory(recordedName, entry: entry)
        }
        guard let rsc else { return }

        let savedRole = rsc.role
        rsc.role = .unknown
        let sorted = glibSorted(records) { compareOperations($0, $1, sameNodeDefault: true) }
        var lastFailure: OperationRecord?
        var onFail = FailureResponse.ignore
        for record in sorted {
            unpackOperation(rsc, node: nodeIndex, record, lastFailure: &lastFailure, onFail: &onFail)
        }
        let recurring = activeRecurring(sorted, nodeOnline: nodes[nodeIndex].online)
        rsc.histories.append(
            ResourceHistory(
                node: nodes[nodeIndex].name, recordedName: recordedName, operations: sorted,
                activeRecurring: recurring, lastFailure: lastFailure, failureResponse: onFail))
        processResourceState(rsc, node: nodeIndex, onFail: onFail)
        if let requested = rsc.targetRole {
            if rsc.nextRole == .unknown || requested < rsc.nextRole {
                rsc.nextRole = requested
            }
        }
        if savedRole > rsc.role { rsc.role = savedRole }
    }

    func readOperationRecord(_ xml: XMLElement) -> OperationRecord {
        func int(_ name: String) -> Int? { xml.attribute(name).flatMap { clampingLeadingInteger($0) } }
        let key = xml.attribute("transition-key")
        var expected = -1
        if let key {
            let parts = key.split(separator: ":", maxSplits: 3, omittingEmptySubsequences: false)
            if parts.count == 4, Int(parts[0]) != nil, Int(parts[1]) != nil, let rc = Int(parts[2]),
                !parts[3].isEmpty
            {
                expected = rc
            }
        }
        let statusValue = int("op-status")
        return OperationRecord(
            id: xml.attribute("id") ?? "", operationKey: xml.attribute("operation_key"),
            task: xml.attribute("operation") ?? "", intervalMilliseconds: int("interval") ?? 0,
            callID: int("call-id") ?? 0, rc: int("rc-code") ?? 0,
            status: statusValue.flatMap { ExecutionStatus(rawValue: $0) }, expectedRC: expected,
            transitionKey: key, transitionMagic: xml.attribute("transition-magic"),
            lastRCChange: int("last-rc-change"), lastRun: int("last-run"), execTime: int("exec-time"),
            queueTime: int("queue-time"), digest: xml.attribute("op-digest"),
            restartDigest: xml.attribute("op-restart-digest"), secureDigest: xml.attribute("op-secure-digest"),
            exitReason: xml.attribute("exit-reason"), onNode: xml.attribute("on_node"), line: xml.line)
    }

    /// The recurring operations still active after the last start (Pacemaker's
    /// `calculate_active_ops` and `process_recurring`).
    func activeRecurring(_ sorted: [OperationRecord], nodeOnline: Bool) -> [OperationRecord] {
        guard nodeOnline else { return [] }
        var stopIndex = -1
        var startIndex = -1
        var impliedMonitorStart = -1
        var impliedCloneStart = -1
        for (counter, op) in sorted.enumerated() {
            if op.task == "stop" && op.status == .done {
                stopIndex = counter
            } else if op.task == "start" || op.task == "migrate_from" {
                startIndex = counter
            } else if impliedMonitorStart <= stopIndex && op.task == "monitor" {
                if op.rc == 0 || op.rc == 8 { impliedMonitorStart = counter }
            } else if op.task == "promote" || op.task == "demote" {
                impliedCloneStart = counter
            }
        }
        if startIndex == -1 {
            if impliedCloneStart != -1 {
                startIndex = impliedCloneStart
            } else if impliedMonitorStart != -1 {
                startIndex = impliedMonitorStart
            }
        }
        var active: [OperationRecord] = []
        for (counter, op) in sorted.enumerated() {
            if startIndex < stopIndex && counter <= stopIndex { continue }
            if counter < startIndex { continue }
            if op.intervalMilliseconds == 0 { continue }
            if op.status == .pending { continue }
            active.append(op)
        }
        return active
    }

    // MARK: - Finding the resource a history belongs to

    /// Pacemaker's `pe_find_resource` (by id, or by the name an earlier history used).
    ///
    /// Pacemaker searches the tree depth-first; ids are unique, and a history name is
    /// given only to instances of the one anonymous clone the name resolves to, so an
    /// index finds the same resource (or an instance of the same clone, which the
    /// caller resolves again).
    func findResource(_ id: String) -> WorkingResource? {
        if let index = idIndex[id] { return resources[index] }
        for index in historyNameIndex[id] ?? [] where resources[index].historyName == id {
            return resources[index]
        }
        return nil
    }

    mutating func setHistoryName(_ rsc: WorkingResource, _ name: String?) {
        rsc.historyName = name
        if let name { historyNameIndex[name, default: []].append(rsc.index) }
    }

    /// `find_rsc(..., pe_find_clone)`: by instance id or configuration id, within a clone.
    func findCloneMember(_ id: String, in index: Int) -> WorkingResource? {
        let rsc = resources[index]
        if resources[topAncestor(rsc.index)].variant == .clone, rsc.id == id || rsc.configID == id {
            return rsc
        }
        for child in rsc.children {
            if let found = findCloneMember(id, in: child) { return found }
        }
        return nil
    }

    /// Pacemaker's `unpack_find_resource`.
    mutating func findResourceForHistory(_ recordedName: String, node: Int) throws(CIBError) -> WorkingResource? {
        var rsc = findResource(recordedName)
        var top: WorkingResource?
        if rsc == nil {
            let zero = cloneBaseName(recordedName) + ":0"
            if let instance = findResource(zero), !instance.unique {
                rsc = instance
                top = resources[topAncestor(instance.index)]
            }
        } else if rsc!.variant != .primitive {
            return nil
        } else {
            top = resources[topAncestor(rsc!.index)]
        }
        if let clone = top, clone.variant == .clone, !clone.unique {
            rsc = try findAnonymousInstance(clone, node: node, name: cloneBaseName(recordedName))
        }
        if let found = rsc, found.id.lowercased() != recordedName.lowercased(),
            found.historyName?.lowercased() != recordedName.lowercased()
        {
            setHistoryName(found, recordedName)
        }
        return rsc
    }

    /// Nodes where a resource (or a member of it) is active or pending (`location(..., 2)`).
    func locations(of index: Int) -> [Int] {
        let rsc = resources[index]
        var result: [Int] = []
        if !rsc.children.isEmpty {
            for child in rsc.children {
                for node in locations(of: child) where !result.contains(node) { result.append(node) }
            }
        } else {
            result = rsc.runningOn
            if let pending = rsc.pendingNode, !result.contains(pending) { result.append(pending) }
        }
        return result
    }

    /// Pacemaker's `find_anonymous_clone`: the instance active on the node, else a
    /// free instance, else a new orphan instance.
    mutating func findAnonymousInstance(
        _ clone: WorkingResource, node: Int, name: String
    ) throws(CIBError)
        -> WorkingResource
    {
        var found: WorkingResource?
        var inactive: WorkingResource?
        var skipInactive = false
        for child in clone.children {
            if found != nil { break }
            let places = locations(of: child)
            if !places.isEmpty {
                if places[0] == node, let member = findCloneMember(name, in: child) {
                    if !member.runningOn.isEmpty {
                        skipInactive = true
                    } else {
                        found = member
                    }
                }
            } else if !skipInactive && inactive == nil && !resources[child].blocked {
                inactive = findCloneMember(name, in: child)
                if let candidate = inactive, let pending = candidate.pendingNode, pending != node {
                    inactive = nil
                }
            }
        }
        if found == nil && !skipInactive { found = inactive }
        let host = nodes[node]
        if let candidate = found, !candidate.needsFencing, !host.online || host.unclean,
            clone.cloneMax != nodes.count
        {
            found = nil
        }
        if let found { return found }
        let instance = try createCloneInstance(clone)
        guard let member = findCloneMember(name, in: instance.index) else {
            throw error(
                .unknownReference, "the history names \(name), which is not part of clone \(clone.configID)",
                at: clone.xml, hint: "clear the stale history with crm_resource --cleanup")
        }
        return member
    }

    /// Pacemaker's `process_orphan_resource`.
    mutating func unpackOrphanHistory(_ name: String, entry: XMLElement) throws(CIBError) -> WorkingResource {
        let rsc = try unpackOrphan(id: name, entry: entry)
        if !properties.stopOrphanResources {
            rsc.managed = false
        } else {
            addLocation(rsc.index, node: nil, score: .minusInfinity, reason: "__orphan_do_not_run__")
        }
        return rsc
    }
}

/// Pacemaker's `pe__is_newer_op` (used to sort histories): by call id on the same
/// node, else by `last-rc-change`, else by transition numbers for pending entries.
func compareOperations(_ a: OperationRecord, _ b: OperationRecord, sameNodeDefault: Bool) -> Int {
    var sameNode = sameNodeDefault
    if let nodeA = a.onNode, let nodeB = b.onNode {
        sameNode = nodeA.lowercased() == nodeB.lowercased()
    }
    if sameNode && a.id == b.id { return 0 }
    let callA = a.callID
    let callB = b.callID
    if callA == -1 && callB == -1 { return 0 }
    if sameNode && callA >= 0 && callA < callB { return -1 }
    if sameNode && callB >= 0 && callA > callB { return 1 }
    if callA >= 0 && callB >= 0 && (!sameNode || callA == callB) {
        let lastA = a.lastRCChange ?? -1
        let lastB = b.lastRCChange ?? -1
        if lastA >= 0 && lastA < lastB { return -1 }
        if lastB >= 0 && lastA > lastB { return 1 }
        return 0
    }
    // One of them is pending: compare the transitions they belong to.
    guard let magicA = a.transitionMagic, let magicB = b.transitionMagic,
        let (uuidA, transitionA) = decodeMagic(magicA), let (uuidB, transitionB) = decodeMagic(magicB)
    else { return 0 }
    if uuidA.lowercased() != uuidB.lowercased() || transitionA == transitionB {
        if callB == -1 { return -1 }
        if callA == -1 { return 1 }
    } else if (transitionA >= 0 && transitionA < transitionB) || transitionB == -1 {
        return -1
    } else if (transitionB >= 0 && transitionA > transitionB) || transitionA == -1 {
        return 1
    }
    return 0
}

/// The transition UUID and number of a `transition-magic` (`status:rc;action:transition:target:uuid`).
func decodeMagic(_ magic: String) -> (String, Int)? {
    guard let semicolon = magic.firstIndex(of: ";") else { return nil }
    let key = magic[magic.index(after: semicolon)...]
    let parts = key.split(separator: ":", maxSplits: 3, omittingEmptySubsequences: false)
    guard parts.count == 4, let transition = Int(parts[1]) else { return nil }
    return (String(parts[3].prefix(36)), transition)
}
