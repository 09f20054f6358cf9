// The order in which a clone's instances are assigned and promoted.
import CIB

extension ScoresComputation {
    /// A clone's instances (orphans included) in the order Pacemaker assigns them
    /// (`pcmk__cmp_instance`, applied to the instances in configuration order
    /// with GLib's merge sort, so ties keep that order; the comparison is not
    /// always transitive, so the exact algorithm matters).
    mutating func assignmentOrder(_ clone: Int) -> [Int] {
        let instances = model.resources[clone].children
        let colocated = colocatedScoresOnCurrentNodes(clone, instances: instances)
        let priorities = instances.map { promotionPriority[$0] ?? model.resources[$0].settings.priority }
        let position = Dictionary(uniqueKeysWithValues: instances.enumerated().map { ($1, $0) })
        return glibSorted(instances) { a, b in
            compareInstances(
                a, b, priority: { priorities[position[$0]!] }, colocated: { colocated[$0] ?? .zero })
        }
    }

    /// The order in which a promotable clone's placed instances are considered for
    /// promotion (`cmp_promotable_instance`): higher final promotion score, then
    /// higher current role (running counts as unpromoted), then the assignment
    /// order's criteria, with each instance's promotion priority as its priority.
    mutating func promotionOrder(
        _ clone: Int, instances: [Int], sortIndex: [Int: Score], priority: [Int: Score]
    ) -> [Int] {
        let colocated = colocatedScoresOnCurrentNodes(clone, instances: instances)
        return glibSorted(instances) { a, b in
            let sa = sortIndex[a] ?? .zero
            let sb = sortIndex[b] ?? .zero
            if sa != sb { return sa > sb ? -1 : 1 }
            let ra = currentPromotionRole(a)
            let rb = currentPromotionRole(b)
            if ra != rb { return ra > rb ? -1 : 1 }
            return compareInstances(
                a, b, priority: { priority[$0] ?? promotionPriority[$0] ?? model.resources[$0].settings.priority },
                colocated: { colocated[$0] ?? .zero })
        }
    }

    /// A clone's instances in Pacemaker's order once it is assigned (configuration
    /// order before).
    func instances(of clone: Int) -> [Int] {
        instanceOrder[clone] ?? model.resources[clone].children
    }

    /// An instance's current role as promotion sees it: running unpromoted counts
    /// as `unpromoted` (`set_current_role_unpromoted`).
    func currentPromotionRole(_ instance: Int) -> Role {
        let role = model.resources[instance].state.role
        return role == .started ? .unpromoted : role
    }

    /// Chooses the roles of a promotable clone's placed instances
    /// (`set_instance_role`): in promotion order, an instance with a non-negative
    /// final score is promoted while fewer than `promoted-max` are, if it can be
    /// promoted on its node (`node_to_be_promoted_on`); the others are unpromoted.
    mutating func chooseRoles(_ clone: Int, order: [Int], sortIndex: [Int: Score], priority: [Int: Score]) {
        let resource = model.resources[clone]
        let maxPromoted = resource.clone?.maxPromoted ?? 1
        let maxPerNode = resource.clone?.maxPromotedPerNode ?? 1
        let cloneManaged = resource.state.isManaged
        var promotedCount = 0
        var perNode: [Int: Int] = [:]
        for instance in order {
            guard let node = assigned[instance] ?? nil else { continue }
            var eligible = false
            if (sortIndex[instance] ?? .zero) >= .zero && (promotedCount < maxPromoted || !cloneManaged) {
                eligible = canBePromoted(instance, on: node, priority: priority[instance] ?? .zero)
                let managed = model.resources[instance].state.isManaged && !frozen.contains(instance)
                if eligible && managed && perNode[node, default: 0] >= maxPerNode { eligible = false }
            }
            if eligible && currentPromotionRole(instance) < .promoted && !model.haveQuorum
                && model.properties.noQuorumPolicy == .freeze
            {
                eligible = false
            }
            guard eligible else {
                nextRoles[instance] = .unpromoted
                continue
            }
            promotedCount += 1
            perNode[node, default: 0] += 1
            nextRoles[instance] = .promoted
        }
    }

    /// The instance (and, for a cloned group, each member) will be active and may
    /// be promoted on `node` (`node_to_be_promoted_on`, without the per-node limit).
    func canBePromoted(_ instance: Int, on node: Int, priority: Score) -> Bool {
        let resource = model.resources[instance]
        for member in resource.children {
            guard let memberNode = assigned[member] ?? nil,
                canBePromoted(member, on: memberNode, priority: model.resources[member].settings.priority)
            else { return false }
        }
        if !resource.state.isManaged || frozen.contains(instance) {
            if resource.state.role != .promoted { return false }
        } else if priority < .zero || !isAvailable(node) {
            return false
        }
        guard let clone = resource.parent.map({ model.topAncestor(of: $0) }) else { return true }
        return weights[clone][node] != nil
    }

    /// Pacemaker's `pcmk__cmp_instance`: negative when `a` is assigned first.
    func compareInstances(_ a: Int, _ b: Int, priority: (Int) -> Score, colocated: (Int) -> Score) -> Int {
        let ra = model.resources[a]
        let rb = model.resources[b]
        var nodeA = activeNode(a)
        var nodeB = activeNode(b)
        // Both active: the one active on fewer nodes first.
        let countA = ra.state.runningOn.count
        let countB = rb.state.runningOn.count
        if countA > 0 && countB > 0 && countA != countB { return countA < countB ? -1 : 1 }
        // Not active on a node it may no longer use, first.
        let allowedA = isAllowedForInstance(a, &nodeA)
        let allowedB = isAllowedForInstance(b, &nodeB)
        if allowedA != allowedB { return allowedA ? -1 : 1 }
        let pa = priority(a)
        let pb = priority(b)
        if pa != pb { return pa > pb ? -1 : 1 }
        guard let currentA = nodeA, let currentB = nodeB else {
            if nodeA == nil && nodeB == nil { return 0 }
            return nodeA == nil ? 1 : -1
        }
        let availableA = isAvailable(currentA)
        let availableB = isAvailable(currentB)
        if availableA != availableB { return availableA ? -1 : 1 }
        // The clone is allowed on the instance's current node.
        let parentA = ra.parent.map { weights[$0][currentA] != nil } ?? false
        let parentB = rb.parent.map { weights[$0][currentB] != nil } ?? false
        if !parentA && !parentB { return 0 }
        if parentA != parentB { return parentA ? -1 : 1 }
        // (Instances counted on the current node: always 0 when Pacemaker sorts.)
        let failedA = isFailedRecursively(a)
        let failedB = isFailedRecursively(b)
        if failedA != failedB { return failedA ? 1 : -1 }
        let ca = colocated(a)
        let cb = colocated(b)
        if ca != cb { return ca > cb ? -1 : 1 }
        let na = cloneInstanceNumber(ra.id)
        let nb = cloneInstanceNumber(rb.id)
        return na == nb ? 0 : (na < nb ? -1 : 1)
    }

    /// `node_is_allowed`: the instance's current node is in its table with a
    /// non-negative score (else the node is forgotten). Inactive: allowed.
    func isAllowedForInstance(_ instance: Int, _ node: inout Int?) -> Bool {
        guard let current = node else { return true }
        guard let score = weights[instance][current], score >= .zero else {
            node = nil
            return false
        }
        return true
    }

    /// The node Pacemaker takes as a resource's current one (`pe__find_active_on`):
    /// the first it is active on, or, for a resource that does not require
    /// fencing, the first online and clean one if any.
    func activeNode(_ index: Int) -> Int? {
        let resource = model.resources[index]
        let nodes = resource.state.runningOn.compactMap { model.node(named: $0)?.index }
        guard let first = nodes.first else { return nil }
        let requirement = resource.settings.requires
        if requirement == .fencing || requirement == .unfencing { return first }
        return nodes.first { model.nodes[$0].state.online && !model.nodes[$0].state.unclean } ?? first
    }

    /// The resource or one of its descendants failed (`did_fail`).
    func isFailedRecursively(_ index: Int) -> Bool {
        model.resources[index].state.isFailed || model.resources[index].children.contains { isFailedRecursively($0) }
    }

    /// For each active instance, the score its current node gets from the clone's
    /// colocations (`cmp_instance_by_colocation`): the node's base score, plus the
    /// primaries' preferences (`rsc_cons`), plus the influential dependents'
    /// non-negative preferences (`rsc_cons_lhs`), on a table holding that node only.
    mutating func colocatedScoresOnCurrentNodes(_ clone: Int, instances: [Int]) -> [Int: Score] {
        var result: [Int: Score] = [:]
        var byNode: [Int: Score] = [:]
        for instance in instances {
            guard let current = activeNode(instance) else { continue }
            if let known = byNode[current] {
                result[instance] = known
                continue
            }
            var table = [Score?](repeating: nil, count: model.nodes.count)
            table[current] = model.nodes[current].score
            for colocation in withConstraints[clone] {
                table = addColocatedScores(
                    from: colocation.primary, into: table, attribute: colocation.attribute,
                    factor: Double(colocation.score.value) / Double(Score.infinityValue), rollback: false)
            }
            for colocation in dependentConstraints[clone] where colocation.influence {
                table = addColocatedScores(
                    from: colocation.dependent, into: table, attribute: colocation.attribute,
                    factor: Double(colocation.score.value) / Double(Score.infinityValue), onlyPositive: true,
                    rollback: false)
            }
            let score = table[current] ?? .zero
            byNode[current] = score
            result[instance] = score
        }
        return result
    }
}

extension ScoresComputation {
    /// Adds each instance's promotion score (`master-<name>` node attribute, see
    /// ``promotionScore(_:on:)``) to its table on the available nodes where it is
    /// positive, and raises the instance's priority to the best of them
    /// (`pcmk__add_promotion_scores`).
    mutating func addPromotionScores(_ index: Int) {
        for instance in model.resources[index].children {
            var priority = model.resources[instance].settings.priority
            for node in model.nodes.indices where weights[instance][node] != nil && isAvailable(node) {
                let score = promotionScore(instance, on: node) ?? .zero
                if score > .zero { weights[instance][node] = weights[instance][node]! + score }
                if score > priority { priority = score }
            }
            promotionPriority[instance] = priority
        }
    }
}

extension ScoresComputation {
    /// Settles an orphan instance the way Pacemaker's distribution does: it can
    /// run nowhere, so a managed one is assigned no node and an unmanaged one stays
    /// where it is (its scores are not reported). It then counts as an inactive
    /// instance for colocations with the clone.
    mutating func settleOrphan(_ index: Int) {
        guard assigned[index] == nil else { return }
        let resource = model.resources[index]
        if resource.children.isEmpty {
            let keep = !resource.state.isManaged || frozen.contains(index)
            record(index, node: keep ? currentNode(index) : nil, force: true)
            return
        }
        for child in resource.children { settleOrphan(child) }
        let first = resource.children.first
        assigned[index] = .some(first.flatMap { assigned[$0] ?? nil })
        nextRoles[index] = first.flatMap { nextRoles[$0] } ?? .stopped
    }
}

extension ScoresComputation {
    /// A promotable clone instance's next role as Pacemaker sees it when setting
    /// promotion priorities (`instance->fns->state(instance, FALSE)`): for a
    /// cloned group the highest of its members'; for a primitive `stopped` when
    /// it got no node, its current role when unmanaged, else the role the
    /// history or `target-role` fixes (`unknown` when none).
    func nextRoleBeforePromotion(_ index: Int) -> Role {
        let resource = model.resources[index]
        if !resource.children.isEmpty {
            return resource.children.map { nextRoleBeforePromotion($0) }.max() ?? .unknown
        }
        guard assigned[index] ?? nil != nil else { return .stopped }
        if !resource.state.isManaged || frozen.contains(index) { return resource.state.role }
        return resource.state.nextRole ?? resource.settings.targetRole ?? .unknown
    }
}

extension ScoresComputation {
    /// A role-specific colocation of a placed promotable instance, applied to its
    /// promotion priority (`apply_coloc_score` for the dependent's role): with a
    /// primitive, `pcmk__apply_coloc_to_priority`; with a group, through its
    /// last member (INFINITY) or first member; with a promotable clone's role,
    /// for a promoted dependent, the score when an instance in that role is on
    /// the same node, else −INFINITY for INFINITY
    /// (`pcmk__update_promotable_dependent_priority`); with another clone, the
    /// interleaved partner on the same node, or each instance for a finite score.
    func colocationPriority(_ instance: Int, on node: Int, _ colocation: Colocation, _ value: Score) -> Score {
        let primary = model.resources[colocation.primary]
        switch primary.variant {
        case .primitive:
            return priority(on: node, with: colocation.primary, colocation, value)
        case .group:
            guard assigned[colocation.primary] != nil else { return value }
            let members =
                isColocatedGroup(colocation.primary)
                ? (colocation.score >= .infinity
                    ? Array(primary.children.suffix(1)) : Array(primary.children.prefix(1)))
                : (colocation.score >= .infinity ? [] : primary.children)
            return members.reduce(value) { priority(on: node, with: $1, colocation, $0) }
        case .clone:
            guard assigned[colocation.primary] != nil else { return value }
            if primary.settings.isPromotable, let role = colocation.primaryRole, colocation.dependentRole == .promoted {
                let paired = instances(of: colocation.primary).contains { child in
                    (assigned[child] ?? nil) == node && nextRoles[child] == role && !isBlockedRecursively(child)
                }
                if paired { return colocation.score + value }
                return colocation.score >= .infinity ? .minusInfinity : value
            }
            let interleaved =
                model.resources[instance].parent.map { model.resources[$0].clone?.interleave ?? false } ?? false
            if interleaved {
                let partner = instances(of: colocation.primary).first { child in
                    (assigned[child] ?? nil) == node && !isBlockedRecursively(child)
                }
                return partner.map { priority(on: node, with: $0, colocation, value) } ?? value
            }
            // INFINITY changes only the allowed nodes (already placed).
            if colocation.score >= .infinity { return value }
            return instances(of: colocation.primary).reduce(value) { priority(on: node, with: $1, colocation, $0) }
        }
    }

    /// `pcmk__apply_coloc_to_priority` for a dependent placed on `node` and a
    /// primitive primary.
    func priority(on node: Int, with primary: Int, _ colocation: Colocation, _ value: Score) -> Score {
        guard let primaryNode = assigned[primary] ?? nil else { return value }
        if !nodeIndex.groups(colocation.attribute, model).same(node, primaryNode) {
            if colocation.score >= .infinity && colocation.dependentRole == .promoted { return .minusInfinity }
            return value
        }
        if let role = colocation.primaryRole, role != nextRoles[primary] { return value }
        let multiplier = colocation.dependentRole == .unpromoted ? -1 : 1
        return Score(multiplier * colocation.score.value) + value
    }
}

extension ScoresComputation {
    /// The score of the node a resource was assigned, as the node copy Pacemaker
    /// keeps for it carries it (`allocated_to`): for a cloned group, its first
    /// member's (the node `native_location` returns for the group).
    func assignedWeight(_ index: Int, on node: Int) -> Score {
        let resource = model.resources[index]
        if let first = resource.children.first { return assignedWeight(first, on: node) }
        return weights[index][node] ?? .zero
    }
}

extension ScoresComputation {
    /// A colocation of an instance (or a member of a cloned group's instance) with
    /// another clone pairs instances node by node: the dependent's clone has
    /// `interleave` and both clones allow as many instances per node.
    func isInterleaved(_ dependent: Int, with primary: Int) -> Bool {
        let clone = model.topAncestor(of: dependent)
        guard clone != dependent, clone != primary, model.resources[clone].variant == .clone,
            model.resources[clone].clone?.interleave ?? false
        else { return false }
        return copiesPerNode(clone) == copiesPerNode(primary)
    }

    /// `clone-node-max` as configured (`copies_per_node` reads the meta attribute,
    /// without the limit of one for anonymous clones).
    func copiesPerNode(_ index: Int) -> Int {
        let resource = model.resources[index]
        guard resource.variant == .clone else { return 1 }
        guard let text = resource.meta["clone-node-max"] else { return 1 }
        return max(0, Int(text.filter { $0 != " " }) ?? 0)
    }
}

extension ScoresComputation {
    /// Adds a colocation the resource depends on, in Pacemaker's list order
    /// (`pcmk__add_this_with`: sorted by primary, an equal one goes first).
    mutating func addThisWith(_ index: Int, _ colocation: Colocation) {
        let model = model
        withConstraints[index].insertSorted(colocation) { Colocation.compare(model, $0.primary, $1.primary) }
    }

    /// Adds a colocation depending on the resource, in Pacemaker's list order
    /// (`pcmk__add_with_this`: sorted by dependent, an equal one goes first).
    mutating func addWithThis(_ index: Int, _ colocation: Colocation) {
        let model = model
        dependentConstraints[index].insertSorted(colocation) { Colocation.compare(model, $0.dependent, $1.dependent) }
    }
}
