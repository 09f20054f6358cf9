// Reading one recorded operation into the resource's state (Pacemaker's unpack_rsc_op
// and the functions around it), and the resource's state on a node after its history.
import MeridianXML

/// OCF exit codes that matter while reading histories.
enum OCFExit {
    static let ok = 0
    static let unknownError = 1
    static let invalidParameter = 2
    static let unimplementedFeature = 3
    static let insufficientPrivileges = 4
    static let notInstalled = 5
    static let notConfigured = 6
    static let notRunning = 7
    static let runningPromoted = 8
    static let failedPromoted = 9
    static let degraded = 190
    static let degradedPromoted = 191

    /// Pacemaker's words for an exit code (`services_ocf_exitcode_str`).
    static func text(_ rc: Int) -> String {
        switch rc {
        case 0: return "ok"
        case 1: return "error"
        case 2: return "invalid parameter"
        case 3: return "unimplemented feature"
        case 4: return "insufficient privileges"
        case 5: return "not installed"
        case 6: return "not configured"
        case 7: return "not running"
        case 8: return "promoted"
        case 9: return "promoted (failed)"
        case 190: return "OCF_DEGRADED"
        case 191: return "promoted (degraded)"
        case 192: return "exec error (DEPRECATED STATUS)"
        case 193: return "unknown"
        case 194: return "interrupted by signal (DEPRECATED STATUS)"
        case 195: return "not supported (DEPRECATED STATUS)"
        case 196: return "pending (DEPRECATED STATUS)"
        case 197: return "cancelled (DEPRECATED STATUS)"
        case 198: return "timeout (DEPRECATED STATUS)"
        case 199: return "other error (DEPRECATED STATUS)"
        default: return "unknown"
        }
    }
}

/// How a failed action is handled: the response and the role to fall back to.
struct ActionFailureHandling {
    var response: FailureResponse
    var failRole: Role
}

extension Unpacker {
    // MARK: - One operation

    /// Pacemaker's `unpack_rsc_op`.
    mutating func unpackOperation(
        _ rsc: WorkingResource, node: Int, _ record: OperationRecord, lastFailure: inout OperationRecord?,
        onFail: inout FailureResponse
    ) {
        guard let status = record.status, !record.task.isEmpty else { return }
        let task = record.task
        if task == "notify" || task == "meta-data" { return }
        let parent = rsc.unique ? rsc : resources[topAncestor(rsc.index)]
        var rc = record.rc
        var execStatus = status
        var expired = false
        if execStatus != .notInstalled && checkExpiry(rsc, node: node, rc: rc, record) {
            expired = true
        }
        let oldRC = rc
        let expectedRC = record.expectedRC
        remap(record, rsc, node: node, onFail: &onFail, expectedRC: expectedRC, rc: &rc, status: &execStatus)
        let maskable = record.isMaskableProbeFailure

        if expired && maskable && oldRC != expectedRC {
            if rsc.role <= .stopped { rsc.role = .unknown }
            return
        } else if expired && rc != expectedRC {
            if record.intervalMilliseconds == 0 {
                return
            } else if nodes[node].online && !nodes[node].unclean {
                rsc.requiredActions.append(.rescheduleRecurring(node: nodes[node].name, key: record.key))
                return
            }
        }
        if maskable {
            updateResourceState(
                rsc, node: node, record, task: task, rc: expectedRC, lastFailure: lastFailure,
                onFail: &onFail)
            recordFailedOperation(record, node: node, rsc: rsc)
            addLocation(parent.index, node: node, score: .minusInfinity, reason: "masked-probe-failure")
            return
        }
        switch execStatus {
        case .cancelled:
            return
        case .pending:
            if task == "start" {
                rsc.startPending = true
                setActive(rsc)
            } else if task == "promote" {
                rsc.role = .promoted
            }
            if rsc.pendingTask == nil, record.intervalMilliseconds != 0 || task != "monitor" {
                rsc.pendingTask = task
                rsc.pendingNode = node
            }
            return
        case .done:
            updateResourceState(rsc, node: node, record, task: task, rc: rc, lastFailure: lastFailure, onFail: &onFail)
            return
        case .notInstalled:
            let handling = failureHandling(rsc, key: record.key, task: task)
            if handling.response == .ignore {
                onFail = .migrate
            }
            addLocation(parent.index, node: node, score: .minusInfinity, reason: "hard-error")
            unpackFailure(rsc, node: node, rc: rc, record, lastFailure: &lastFailure, onFail: &onFail)
            return
        case .noFenceDevice, .noSecrets:
            execStatus = .hardError
        default:
            break
        }
        let handling = failureHandling(rsc, key: record.key, task: task)
        if handling.response == .ignore || (handling.response == .restartContainer && task == "stop") {
            updateResourceState(
                rsc, node: node, record, task: task, rc: expectedRC, lastFailure: lastFailure, onFail: &onFail)
            rsc.failureIgnored = true
            recordFailedOperation(record, node: node, rsc: rsc)
            if handling.response == .restartContainer && onFail.severity <= FailureResponse.restart.severity {
                onFail = handling.response
            }
        } else {
            unpackFailure(rsc, node: node, rc: rc, record, lastFailure: &lastFailure, onFail: &onFail)
            if execStatus == .hardError {
                addLocation(parent.index, node: node, score: .minusInfinity, reason: "hard-error")
            } else if execStatus == .fatalError {
                addLocation(parent.index, node: nil, score: .minusInfinity, reason: "fatal-error")
            }
        }
    }

    /// Pacemaker's `set_active`.
    func setActive(_ rsc: WorkingResource) {
        rsc.role = resources[topAncestor(rsc.index)].promotable ? .unpromoted : .started
    }

    /// Pacemaker's `remap_operation`: decides from the expected and actual results
    /// whether the operation failed, and what it says about the role.
    mutating func remap(
        _ record: OperationRecord, _ rsc: WorkingResource, node: Int, onFail: inout FailureResponse,
        expectedRC: Int, rc: inout Int, status: inout ExecutionStatus
    ) {
        let task = record.task
        if task == "monitor" {
            let effective =
                rc == OCFExit.degraded ? OCFExit.ok : (rc == OCFExit.degradedPromoted ? OCFExit.runningPromoted : rc)
            if effective != rc {
                if !nodes[node].shutdown || nodes[node].online {
                    recordFailedOperation(record, node: node, rsc: rsc)
                }
                rc = effective
            }
        }
        if record.isMaskableProbeFailure {
            status = .done
            rc = OCFExit.notRunning
        }
        if status != .done && status != .error { return }
        status = .done
        let isProbe = record.isProbe
        if expectedRC < 0 {
            status = .error
            warn(
                "expected result not found for \(record.key) on \(nodes[node].name) (corrupt or obsolete CIB?)",
                at: nil)
        } else if expectedRC != rc {
            status = .error
        }
        switch rc {
        case OCFExit.ok:
            if isProbe && expectedRC == OCFExit.notRunning { status = .done }
        case OCFExit.notRunning:
            if isProbe || expectedRC == rc || !rsc.managed {
                status = .done
                rsc.role = .stopped
                onFail = .ignore
                rsc.nextRole = .unknown
            }
        case OCFExit.runningPromoted:
            if isProbe && rc != expectedRC { status = .done }
            rsc.role = .promoted
        case OCFExit.degradedPromoted, OCFExit.failedPromoted:
            rsc.role = .promoted
            status = .error
        case OCFExit.notConfigured:
            status = .fatalError
        case OCFExit.unimplementedFeature:
            if record.intervalMilliseconds == 0 {
                checkRecoverable(rsc, node: node, task: task)
                status = .hardError
            } else {
                status = .notSupported
            }
        case OCFExit.notInstalled, OCFExit.invalidParameter, OCFExit.insufficientPrivileges:
            checkRecoverable(rsc, node: node, task: task)
            status = .hardError
        default:
            if status == .done { status = .error }
        }
    }

    /// A failed stop that fencing cannot recover blocks the resource.
    func checkRecoverable(_ rsc: WorkingResource, node: Int, task: String) {
        if task != "stop" { return }
        if canFence(node) { return }
        rsc.managed = false
        rsc.blocked = true
    }

    /// Pacemaker's `pe_can_fence` for cluster nodes.
    func canFence(_ node: Int) -> Bool {
        if !properties.stonithEnabled { return false }
        if !haveFencingResource { return false }
        if haveQuorum { return true }
        if properties.effectiveNoQuorumPolicy == .ignore { return true }
        return nodes[node].online
    }

    /// Pacemaker's `update_resource_state`: what a successful (or pretend-successful)
    /// operation says about the resource.
    mutating func updateResourceState(
        _ rsc: WorkingResource, node: Int, _ record: OperationRecord, task: String, rc: Int,
        lastFailure: OperationRecord?, onFail: inout FailureResponse
    ) {
        var clearPastFailure = false
        if rc == OCFExit.notInstalled || record.isMaskableProbeFailure {
            rsc.role = .stopped
        } else if rc == OCFExit.notRunning {
            clearPastFailure = true
        } else if task == "monitor" {
            if let lastFailure, lastFailure.key.lowercased() == record.key.lowercased() {
                clearPastFailure = true
            }
            if rsc.role < .started { setActive(rsc) }
        } else if task == "start" {
            rsc.role = .started
            clearPastFailure = true
        } else if task == "stop" {
            rsc.role = .stopped
            clearPastFailure = true
        } else if task == "promote" {
            rsc.role = .promoted
            clearPastFailure = true
        } else if task == "demote" {
            if onFail == .demote { clearPastFailure = true }
            rsc.role = .unpromoted
        } else if task == "migrate_from" {
            rsc.role = .started
            clearPastFailure = true
        } else if task == "migrate_to" {
            // Live migration is unsupported (reported); Pacemaker's partial-migration
            // bookkeeping is not reproduced. Treat the source as still running.
            rsc.role = .started
        } else if rsc.role < .started {
            setActive(rsc)
        }
        if clearPastFailure {
            switch onFail {
            case .stop, .fence, .migrate, .standby:
                break
            case .block, .ignore, .demote, .restart, .restartContainer:
                onFail = .ignore
                rsc.nextRole = .unknown
            case .resetRemote:
                onFail = .ignore
                rsc.nextRole = .unknown
            }
        }
    }

    /// Pacemaker's `unpack_rsc_op_failure`.
    mutating func unpackFailure(
        _ rsc: WorkingResource, node: Int, rc: Int, _ record: OperationRecord,
        lastFailure: inout OperationRecord?, onFail: inout FailureResponse
    ) {
        let task = record.task
        lastFailure = record
        let isProbe = record.isProbe
        if !(!properties.symmetricCluster && rc == OCFExit.notInstalled) {
            recordFailedOperation(record, node: node, rsc: rsc)
        }
        let handling = failureHandling(rsc, key: record.key, task: task)
        if onFail.severity < handling.response.severity {
            onFail = handling.response
        }
        if task == "stop" {
            addLocation(rsc.index, node: node, score: .minusInfinity, reason: "__stop_fail__")
        } else if task == "promote" {
            rsc.role = .promoted
        } else if task == "demote" {
            if handling.response == .block {
                rsc.role = .promoted
                rsc.nextRole = .stopped
            } else if rc == OCFExit.notRunning {
                rsc.role = .stopped
            } else {
                rsc.role = .unpromoted
            }
        } else if task == "migrate_to" || task == "migrate_from" {
            rsc.role = .started
        }
        if isProbe && rc == OCFExit.notInstalled {
            rsc.role = .stopped
        } else if rsc.role < .started {
            setActive(rsc)
        }
        if handling.failRole != .started && rsc.nextRole < handling.failRole {
            rsc.nextRole = handling.failRole
        }
        if handling.failRole == .stopped {
            var target = rsc
            if rsc.parent != nil {
                let top = resources[topAncestor(rsc.index)]
                if top.variant == .clone && !top.unique { target = top }
            }
            banEverywhere(target.index, reason: "fail-role-stopped")
        }
    }

    /// Pacemaker's `record_failed_op`: remembered for display, once per operation and node.
    mutating func recordFailedOperation(_ record: OperationRecord, node: Int, rsc: WorkingResource) {
        guard nodes[node].online else { return }
        let name = nodes[node].name
        if let key = record.operationKey {
            let unique = key.lowercased() + "\u{0}" + name.lowercased()
            if failedKeys.contains(unique) { return }
            failedKeys.insert(unique)
        }
        failed.append(FailedOperation(node: name, resource: rsc.id, operation: record))
    }

    // MARK: - Failure handling of an action

    /// How a failure of the action `key` (`<rsc>_<task>_<interval>`) is handled:
    /// Pacemaker's `unpack_operation` as far as `on-fail` and the fail role go.
    func failureHandling(_ rsc: WorkingResource, key: String, task: String) -> ActionFailureHandling {
        let interval = parseOperationKey(key)?.interval ?? 0
        let entry = operationEntry(rsc, key: key)
        var meta: [String: String] = [:]
        let context = Rule.Context(agent: rsc.agent, operation: (task, interval))
        AttributeSet.apply(
            operationDefaultSets.filter { $0.kind == "meta_attributes" }, to: &meta, context: context,
            overwrite: false)
        if let entry {
            AttributeSet.apply(rsc.operationMeta[entry], to: &meta, context: context, overwrite: true)
            for (name, value) in rsc.operations[entry].attributes { meta[name] = value }
        }
        var value = meta["on-fail"]
        if task == "stop", let current = value, ["standby", "demote", "stop"].contains(current.lowercased()) {
            value = nil
        } else if task == "demote" && value == nil {
            for (index, op) in rsc.operations.enumerated() where value == nil {
                guard let opOnFail = op.attributes["on-fail"] else { continue }
                if let enabled = pacemakerBoolean(op.attributes["enabled"]), !enabled { continue }
                guard op.name.lowercased() == "monitor", op.role == .promoted else { continue }
                if op.intervalMilliseconds == 0 || opOnFail.lowercased() == "demote" { continue }
                _ = index
                value = opOnFail
            }
        } else if let current = value, current.lowercased() == "demote" {
            let op = entry.map { rsc.operations[$0] }
            let name = op?.name.lowercased()
            if name != "promote" && (name != "monitor" || op?.role != .promoted || op?.intervalMilliseconds == 0) {
                value = nil
            }
        }
        var response: FailureResponse?
        var failRole = Role.unknown
        switch value?.lowercased() {
        case nil: break
        case "block": response = .block
        case "fence":
            if properties.stonithEnabled {
                response = .fence
            } else {
                response = .stop
                failRole = .stopped
            }
        case "standby": response = .standby
        case "ignore", "nothing": response = .ignore
        case "migrate": response = .migrate
        case "stop":
            response = .stop
            failRole = .stopped
        case "restart": response = .restart
        case "restart-container": response = nil
        case "demote": response = .demote
        default: response = nil
        }
        if response == nil {
            if task == "stop" {
                response = properties.stonithEnabled ? .fence : .block
            } else {
                response = .restart
            }
        }
        if failRole == .unknown, entry != nil, let after = meta["role_after_failure"],
            let role = Role(pacemaker: after)
        {
            failRole = role
        }
        if failRole == .unknown {
            failRole = task == "promote" ? .unpromoted : .started
        }
        return ActionFailureHandling(response: response!, failRole: failRole)
    }

    /// The configured `<op>` for an action key (Pacemaker's `find_rsc_op_entry`,
    /// including disabled operations), as an index into the resource's operations.
    func operationEntry(_ rsc: WorkingResource, key: String) -> Int? {
        func search(_ key: String) -> Int? {
            let lowered = key.lowercased()
            for (index, op) in rsc.operations.enumerated() {
                if "\(rsc.id)_\(op.name)_\(op.intervalMilliseconds)".lowercased() == lowered { return index }
                if let name = rsc.historyName,
                    "\(name)_\(op.name)_\(op.intervalMilliseconds)".lowercased() == lowered
                {
                    return index
                }
            }
            return nil
        }
        if let found = search(key) { return found }
        if key.contains("migrate_to") || key.contains("migrate_from") {
            return search("\(rsc.id)_migrate_0")
        }
        if key.contains("_notify_") {
            return search("\(rsc.id)_notify_0")
        }
        return nil
    }

    // MARK: - Failure expiry

    /// Pacemaker's `check_operation_expiry`: whether the entry is older than the
    /// failure timeout (and the fail count with it), scheduling fail-count clearing.
    mutating func checkExpiry(_ rsc: WorkingResource, node: Int, rc: Int, _ record: OperationRecord) -> Bool {
        var expired = false
        var unexpired = Score.zero
        if rsc.failureTimeout > 0, let lastRun = record.lastRCChange, let now = effectiveTime {
            if now >= lastRun + rsc.failureTimeout {
                expired = true
            }
            var lastFailure = 0
            unexpired = failCount(rsc, node: node, effective: true, record, lastFailure: &lastFailure)
            // The next time a failure expires is when the scheduler should run again.
            let expiry = lastFailure + rsc.failureTimeout + 1
            if unexpired > .zero && now < expiry {
                recheckBy = min(recheckBy ?? expiry, expiry)
            }
        }
        var clearReason: String?
        if expired {
            if failCount(rsc, node: node, effective: false, record) > .zero {
                if unexpired == .zero {
                    clearReason = "it expired"
                } else {
                    expired = false
                }
            }
        }
        if let clearReason {
            rsc.requiredActions.append(.clearFailCount(node: nodes[node].name, reason: clearReason))
        }
        if expired && record.intervalMilliseconds == 0 && record.task == "monitor" {
            if [OCFExit.ok, OCFExit.notRunning, OCFExit.runningPromoted, OCFExit.degraded, OCFExit.degradedPromoted]
                .contains(rc)
            {
                expired = false
            }
        }
        return expired
    }

    /// Pacemaker's `pe_get_failcount` during unpacking (it may switch the failure
    /// timeout off when the failure blocks the resource).
    mutating func failCount(
        _ rsc: WorkingResource, node: Int, effective: Bool, _ record: OperationRecord?
    ) -> Score {
        var last = 0
        return failCount(rsc, node: node, effective: effective, record, lastFailure: &last)
    }

    /// As above, also giving the time of the last failure (0 when none).
    mutating func failCount(
        _ rsc: WorkingResource, node: Int, effective: Bool, _ record: OperationRecord?, lastFailure: inout Int
    ) -> Score {
        let name = rsc.historyName ?? rsc.id
        let base = rsc.unique ? name : cloneBaseName(name)
        let legacy: Bool = {
            guard let featureSet else { return true }
            return Rule.compareVersions(featureSet, "3.0.13") < 0
        }()
        var count = Score.zero
        var last = 0
        for (attribute, value) in nodes[node].attributes {
            guard let failure = FailureRecord.parse(name: attribute, value: value) else { continue }
            let matchesName =
                failure.resource == base || (!rsc.unique && isInstanceName(failure.resource, of: base))
            guard matchesName, legacy == (failure.operation == nil) else { continue }
            if let recordCount = failure.count { count = count + recordCount }
            if let time = failure.lastFailure { last = max(last, time) }
        }
        if count > .zero && rsc.failureTimeout > 0 && blocksOnFailure(rsc, node: node, record) {
            warn(
                "ignoring failure-timeout \(rsc.failureTimeout)s for \(rsc.id) because it conflicts with "
                    + "on-fail=block", at: rsc.xml)
            rsc.failureTimeout = 0
        }
        if count > .zero && last > 0 { lastFailure = last }
        if effective && count > .zero && last > 0 && rsc.failureTimeout > 0, let now = effectiveTime,
            now > last + rsc.failureTimeout
        {
            count = .zero
        }
        return count
    }

    /// Pacemaker's `block_failure`: a configured `on-fail=block` operation matches the failure.
    func blocksOnFailure(_ rsc: WorkingResource, node: Int, _ record: OperationRecord?) -> Bool {
        let name = cloneBaseName(rsc.id)
        guard let primitive = seenResourceIDs[name], primitive.name == "primitive" else { return false }
        let ops = (try? primitive.select(".//op[@on-fail='block']")) ?? []
        for op in ops {
            let opName = op.attribute("name") ?? ""
            let interval = pacemakerIntervalMilliseconds(op.attribute("interval")) ?? 0
            if let record {
                if matchedFailure(name, opName: opName, interval: interval, record) { return true }
            } else {
                for other in rsc.histories where other.node == nodes[node].name {
                    for candidate in other.operations
                    where candidate.task == opName && candidate.intervalMilliseconds == interval {
                        if matchedFailure(name, opName: opName, interval: interval, candidate) { return true }
                    }
                }
            }
        }
        return false
    }

    /// Pacemaker's `is_matched_failure`.
    func matchedFailure(_ name: String, opName: String, interval: Int, _ record: OperationRecord) -> Bool {
        guard interval == record.intervalMilliseconds, opName.lowercased() == record.task.lowercased() else {
            return false
        }
        if record.id.lowercased() == "\(name)_last_failure_0".lowercased() { return true }
        if record.id.lowercased() == "\(name)_\(opName)_\(interval)".lowercased() {
            return record.rc != record.expectedRC
        }
        return false
    }

    // MARK: - The resource's state on a node

    /// Pacemaker's `process_rsc_state`: what the history means for the resource on
    /// the node (running there, failed, blocked, the node to fence).
    mutating func processResourceState(_ rsc: WorkingResource, node nodeIndex: Int, onFail: FailureResponse) {
        let node = nodes[nodeIndex]
        if rsc.role != .unknown {
            var holder: WorkingResource? = rsc
            while let current = holder {
                current.knownOn.insert(nodeIndex)
                if current.unique { break }
                holder = current.parent.map { resources[$0] }
            }
        }
        if rsc.role > .stopped && !node.online && !node.maintenance && rsc.managed {
            if properties.stonithEnabled {
                fence(node, reason: "\(rsc.id) is thought to be active there")
            }
        }
        let savedOnFail = onFail
        var response = onFail
        if node.unclean { response = .ignore }
        switch response {
        case .ignore:
            break
        case .demote:
            rsc.failed = true
            rsc.requiredActions.append(.demote(node: node.name))
        case .fence:
            fence(node, reason: "\(rsc.id) failed there")
        case .standby:
            node.standby = true
            node.standbyOnFail = true
        case .block:
            rsc.managed = false
            rsc.blocked = true
        case .migrate:
            addLocation(rsc.index, node: nodeIndex, score: .minusInfinity, reason: "__action_migration_auto__")
        case .stop:
            rsc.nextRole = .stopped
        case .restart:
            if rsc.role != .stopped && rsc.role != .unknown {
                rsc.failed = true
                rsc.mustStop = true
                rsc.requiredActions.append(.stop(node: node.name))
            }
        case .restartContainer, .resetRemote:
            rsc.failed = true
            rsc.mustStop = true
        }
        if rsc.role != .stopped && rsc.role != .unknown {
            if rsc.orphan {
                warn(
                    rsc.managed
                        ? "active orphan \(rsc.id) is running on \(node.name)"
                        : "\(rsc.id) must be stopped manually on \(node.name) because the cluster is configured "
                            + "not to stop active orphans", at: nil)
            }
            addRunning(rsc.index, node: nodeIndex, failed: savedOnFail != .ignore)
            switch response {
            case .ignore: break
            case .demote, .block: rsc.failed = true
            default:
                rsc.failed = true
                rsc.mustStop = true
            }
        } else if let name = rsc.historyName, name.contains(":") {
            setHistoryName(rsc, nil)
        }
    }

    /// Pacemaker's `native_add_running`: the resource (and its parents) run on the node.
    mutating func addRunning(_ index: Int, node nodeIndex: Int, failed: Bool) {
        let rsc = resources[index]
        if rsc.runningOn.contains(nodeIndex) { return }
        rsc.runningOn.append(nodeIndex)
        let node = nodes[nodeIndex]
        if rsc.variant == .primitive {
            node.runningResources.append(index)
            if node.maintenance { rsc.managed = false }
        }
        if !rsc.managed {
            addLocation(index, node: nodeIndex, score: .infinity, reason: "not_managed_default")
            var ancestor = rsc.parent
            while let parent = ancestor, node.online {
                resources[parent].runningOn.append(nodeIndex)
                ancestor = resources[parent].parent
            }
            return
        }
        if rsc.variant == .primitive && activeCount(rsc) > 1 {
            switch rsc.recovery {
            case .stopOnly:
                banEverywhere(index, reason: "multiple-active-stop-only")
            case .block:
                rsc.managed = false
                rsc.blocked = true
                if let parent = rsc.parent, resources[parent].variant == .group,
                    resources[parent].recovery == .block
                {
                    for sibling in resources[parent].children {
                        resources[sibling].managed = false
                        resources[sibling].blocked = true
                    }
                }
            case .stopStart, .stopUnexpected:
                break
            }
        }
        if let parent = rsc.parent {
            addRunning(parent, node: nodeIndex, failed: false)
        }
    }

    /// How many nodes the resource is active on, as `multiple-active` counts them
    /// (only clean nodes unless the resource requires fencing).
    func activeCount(_ rsc: WorkingResource) -> Int {
        if rsc.needsFencing { return rsc.runningOn.count }
        return rsc.runningOn.filter { nodes[$0].online && !nodes[$0].unclean }.count
    }
}

/// Splits an operation key `<resource>_<action>_<interval>` (Pacemaker's `parse_op_key`).
func parseOperationKey(_ key: String) -> (resource: String, task: String, interval: Int)? {
    // Migration and notification keys have underscores in the action name.
    let special = [
        "_migrate_from_", "_migrate_to_", "_pre_notify_", "_post_notify_",
    ]
    for marker in special {
        if let start = lastOccurrence(of: marker, in: key) {
            let resource = String(key[..<start])
            let rest = key[start...].dropFirst()
            guard let underscore = rest.lastIndex(of: "_"), let interval = Int(rest[rest.index(after: underscore)...])
            else { continue }
            return (resource, String(rest[..<underscore]), interval)
        }
    }
    guard let last = key.lastIndex(of: "_"), let interval = Int(key[key.index(after: last)...]) else { return nil }
    let head = key[..<last]
    guard let previous = head.lastIndex(of: "_") else { return nil }
    return (String(head[..<previous]), String(head[head.index(after: previous)...]), interval)
}

/// The start of the last occurrence of `needle` in `haystack`.
func lastOccurrence(of needle: String, in haystack: String) -> String.Index? {
    var found: String.Index?
    var index = haystack.startIndex
    while index < haystack.endIndex {
        if haystack[index...].hasPrefix(needle) { found = index }
        index = haystack.index(after: index)
    }
    return found
}
