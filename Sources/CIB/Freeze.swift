// Turning the working objects into the immutable model.

extension Unpacker {
    func freeze() -> CIBModel {
        let frozenNodes = nodes.enumerated().map { index, node in
            var failures: [FailureRecord] = []
            var promotion: [String: Score] = [:]
            for (name, value) in node.attributes.sorted(by: { $0.key < $1.key }) {
                if let failure = FailureRecord.parse(name: name, value: value) {
                    failures.append(failure)
                } else if name.hasPrefix("master-") {
                    promotion[String(name.dropFirst("master-".count))] = Score(pacemaker: value)
                } else if name.hasPrefix("promotion-") {
                    promotion[String(name.dropFirst("promotion-".count))] = Score(pacemaker: value)
                }
            }
            let state = NodeState(
                seen: node.seen, online: node.online, unclean: node.unclean, pending: node.pending,
                standby: node.standby, standbyOnFail: node.standbyOnFail, maintenance: node.maintenance,
                shutdown: node.shutdown, expectedUp: node.expectedUp, isDC: node.isDC,
                fenceReason: node.fenceReason, transientAttributes: node.transient, failures: failures,
                promotionScores: promotion)
            return Node(
                index: index, id: node.id, name: node.name, kind: node.kind, score: node.score,
                attributes: node.attributes, configuredAttributes: node.configured, line: node.line, state: state)
        }
        let frozenResources = resources.map { freeze($0) }
        var counts = InstanceCounts(total: 0, disabled: 0, blocked: 0)
        for index in topLevel { count(index, into: &counts) }
        return CIBModel(
            source: source, validateWith: validateWith, featureSet: featureSet, version: version,
            haveQuorum: haveQuorum, dcID: dcID, executionDate: executionDate, givenTime: now,
            effectiveTime: effectiveTime, recheckBy: recheckBy,
            properties: properties, nodes: frozenNodes, resources: frozenResources, topLevel: topLevel,
            constraints: constraints, resourceDefaults: resourceDefaultSets, operationDefaults: operationDefaultSets,
            tickets: tickets, failedOperations: failed, historyLocations: historyLocations,
            unsupportedFeatures: unsupported, warnings: warnings, instanceCounts: counts)
    }

    func freeze(_ rsc: WorkingResource) -> Resource {
        let top = resources[topAncestor(rsc.index)]
        let settings = ResourceSettings(
            targetRole: rsc.targetRole, targetRoleText: rsc.meta["target-role"], managed: rsc.managed,
            maintenance: rsc.maintenance, isUnique: rsc.unique, isPromotable: top.promotable,
            critical: rsc.critical, notify: rsc.notify, allowMigrate: rsc.allowMigrate, stickiness: rsc.stickiness,
            migrationThreshold: rsc.migrationThreshold, failureTimeoutSeconds: rsc.failureTimeout,
            priority: rsc.priority, requires: rsc.requires, multipleActive: rsc.recovery,
            restartTypeRestart: rsc.restartTypeRestart, isFencingDevice: rsc.fenceDevice)
        var clone: CloneSettings?
        if rsc.variant == .clone {
            clone = CloneSettings(
                maxInstances: rsc.cloneMax, maxInstancesPerNode: rsc.cloneNodeMax, maxPromoted: rsc.promotedMax,
                maxPromotedPerNode: rsc.promotedNodeMax, minInstances: minimumZero(rsc.meta["clone-min"] ?? "0"),
                ordered: rsc.cloneOrdered, interleave: isTrue(rsc.meta["interleave"]),
                childConfigID: rsc.cloneChildXML?.attribute("id") ?? "")
        }
        let state = ResourceState(
            role: rsc.variant == .primitive ? rsc.role : collectiveRole(rsc),
            nextRole: rsc.nextRole == .unknown ? nil : rsc.nextRole,
            runningOn: rsc.runningOn.map { nodes[$0].name },
            knownOn: rsc.knownOn.sorted().map { nodes[$0].name },
            pendingNode: rsc.pendingNode.map { nodes[$0].name }, pendingTask: rsc.pendingTask,
            isOrphan: rsc.orphan, isFailed: rsc.failed, isBlocked: rsc.blocked, isManaged: rsc.managed,
            failureIgnored: rsc.failureIgnored, mustStop: rsc.mustStop, startPending: rsc.startPending,
            historyName: rsc.historyName, failureTimeoutSeconds: rsc.failureTimeout,
            allowedNodes: rsc.allowedNodes.isEmpty ? Array(repeating: nil, count: nodes.count) : rsc.allowedNodes,
            histories: rsc.histories,
            requiredActions: rsc.requiredActions)
        return Resource(
            index: rsc.index, id: rsc.id, configID: rsc.configID, element: rsc.element, variant: rsc.variant,
            agent: rsc.agent, parent: rsc.parent, children: rsc.children, meta: rsc.meta,
            parameters: rsc.parameters, operations: rsc.operations, settings: settings, clone: clone,
            description: rsc.description, line: rsc.line, state: state)
    }

    /// A group's or clone's role: the highest role of its members (`fns->state`).
    func collectiveRole(_ rsc: WorkingResource) -> Role {
        guard rsc.variant != .primitive else { return rsc.role }
        return rsc.children.map { collectiveRole(resources[$0]) }.max() ?? .unknown
    }

    /// Pacemaker's `pe__count_common`.
    func count(_ index: Int, into counts: inout InstanceCounts) {
        let rsc = resources[index]
        if !rsc.children.isEmpty {
            for child in rsc.children { count(child, into: &counts) }
            return
        }
        guard !rsc.orphan || rsc.role > .stopped else { return }
        counts.total += 1
        if isDisabled(rsc) { counts.disabled += 1 }
        if rsc.blocked { counts.blocked += 1 }
    }

    /// Pacemaker's `pe__resource_is_disabled`: `target-role` stops the resource, or
    /// keeps an instance of a promotable clone unpromoted.
    func isDisabled(_ rsc: WorkingResource) -> Bool {
        guard let text = rsc.meta["target-role"], let role = Role(pacemaker: text) else { return false }
        return role == .stopped || (role == .unpromoted && resources[topAncestor(rsc.index)].promotable)
    }
}
