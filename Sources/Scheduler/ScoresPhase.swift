// The scores phase: a pure function from the unpacked model to allocation scores.
import CIB

extension AllocationScores {
    /// Computes the allocation scores Pacemaker 2.1.5 reports for `model`.
    ///
    /// Pure: reads nothing but `model`. Covers primitives outside groups and clones
    /// so far (see ``covered``).
    public static func compute(_ model: CIBModel) -> AllocationScores {
        var computation = ScoresComputation(model: model)
        return computation.run()
    }
}

/// The working state of one computation (private to the phase; the result is immutable).
struct ScoresComputation {
    let model: CIBModel
    /// Node scores per resource index, indexed like `model.nodes` (`nil`: not allowed).
    var weights: [[Score?]]
    var entries: [ScoreEntry] = []
    var covered: [ScoreKind: Set<String>] = [:]
    /// The node (index) each assigned resource got, `nil` for none; absent: not assigned yet.
    var assigned = ResourceTable<Int?>()
    var assigning = ResourceFlags()
    /// Resources being merged into another's scores (Pacemaker's `pe_rsc_merging`).
    var merging = ResourceFlags()
    /// Resources a revoked ticket with `loss-policy=freeze` leaves unmanaged.
    var frozen: Set<Int> = []
    /// Nodes a revoked ticket with `loss-policy=fence` fences.
    var fenced: Set<Int> = []
    /// Each assigned clone's instances in Pacemaker's order after assignment and
    /// promotion (the order later colocations with the clone go through them).
    var instanceOrder: [Int: [Int]] = [:]
    /// Promotable clone instances' priorities, raised to their best promotion
    /// score (`pcmk__add_promotion_scores`); they order the instances.
    var promotionPriority: [Int: Score] = [:]
    /// `stonith-enabled` without any fencing device configured (Pacemaker then
    /// leaves each primitive unmanaged when assigning it).
    lazy var fencingWithoutDevice =
        model.properties.stonithEnabled && !model.resources.contains { $0.settings.isFencingDevice }
    /// The next role of each assigned resource.
    var nextRoles = ResourceTable<Role>()
    /// Resources assigned per node (`num_resources`), for tie-breaking.
    var assignedCount: [Int]
    /// Colocations each resource depends on (`rsc_cons`), in Pacemaker's order.
    var withConstraints: [[Colocation]]
    /// Colocations depending on each resource (`rsc_cons_lhs`), in Pacemaker's order.
    var dependentConstraints: [[Colocation]]
    /// Node facts computed once (availability, nodes grouped by attribute value).
    let nodeIndex = NodeIndex()

    init(model: CIBModel) {
        self.model = model
        assignedCount = Array(repeating: 0, count: model.nodes.count)
        let colocations = Colocation.unpack(model)
        withConstraints = Array(repeating: [], count: model.resources.count)
        dependentConstraints = Array(repeating: [], count: model.resources.count)
        var all = colocations
        for resource in model.resources where resource.variant == .group {
            for (previous, member) in zip(resource.children, resource.children.dropFirst()) {
                all.append(
                    Colocation(
                        id: "group:internal_colocation", dependent: member, primary: previous, score: .infinity,
                        dependentRole: nil, primaryRole: nil, attribute: "#uname",
                        influence: model.resources[member].settings.critical))
            }
        }
        for colocation in all {
            withConstraints[colocation.dependent].insertSorted(colocation) { a, b in
                Colocation.compare(model, a.primary, b.primary)
            }
            dependentConstraints[colocation.primary].insertSorted(colocation) { a, b in
                Colocation.compare(model, a.dependent, b.dependent)
            }
        }
        weights = model.resources.map { $0.state.allowedNodes }
        for index in weights.indices where weights[index].count < model.nodes.count {
            weights[index] += Array(repeating: nil, count: model.nodes.count - weights[index].count)
        }
        // Nodes enter a table as copies carrying their base score (`<node score=...>`).
        for index in weights.indices {
            for node in model.nodes where node.score != .zero {
                if let score = weights[index][node.index] { weights[index][node.index] = node.score + score }
            }
        }
    }

    mutating func run() -> AllocationScores {
        // Room for every report (a resource is reported at most twice per node, as a
        // clone instance or group member, plus promotion lines): growing the array by
        // doubling would copy it and hold both copies. Pages never written stay free.
        entries.reserveCapacity(model.resources.count * (2 * model.nodes.count + 1))
        applyLocations()
        applyTickets()
        for top in model.topLevel { applyStickiness(top) }
        for node in model.nodes {
            for top in model.topLevel { applyFailureThreshold(top, node: node) }
        }
        for top in model.topLevel { assign(top) }
        return AllocationScores(entries: entries, covered: covered)
    }

    // MARK: Node criteria

    /// Adds `score` for `node` to a resource's table (`resource_location`). A node
    /// entering the table brings its base score, except from a location
    /// constraint (whose node copy carries the constraint's score only).
    mutating func addLocation(_ resource: Int, node: Int, score: Score, fromConstraint: Bool = false) {
        if let current = weights[resource][node] {
            weights[resource][node] = current + score
        } else {
            weights[resource][node] = fromConstraint ? score : model.nodes[node].score + score
        }
    }

    /// Applies a location to a resource and, for collective resources, its
    /// descendants, as Pacemaker's `rsc_location` callbacks do.
    mutating func addLocationRecursively(_ resource: Int, node: Int, score: Score, fromConstraint: Bool = false) {
        addLocation(resource, node: node, score: score, fromConstraint: fromConstraint)
        for child in model.resources[resource].children {
            addLocationRecursively(child, node: node, score: score, fromConstraint: fromConstraint)
        }
    }

    /// Applies a location constraint's node score to a resource: a colocated group
    /// takes the score itself and passes it to its first member only; the other
    /// members get the node at 0 (`pcmk__group_apply_location`).
    mutating func applyConstraintLocation(_ resource: Int, node: Int, score: Score) {
        let r = model.resources[resource]
        if r.variant == .group && isColocatedGroup(resource) {
            addLocation(resource, node: node, score: score, fromConstraint: true)
            for (position, member) in r.children.enumerated() {
                applyConstraintLocation(member, node: node, score: position == 0 ? score : .zero)
            }
            return
        }
        addLocation(resource, node: node, score: score, fromConstraint: true)
        for child in r.children { applyConstraintLocation(child, node: node, score: score) }
    }

    /// A group whose members are placed together (`collocated`, default true).
    func isColocatedGroup(_ index: Int) -> Bool {
        model.resources[index].meta["collocated"].map { !["false", "no", "off", "0", "n"].contains($0.lowercased()) }
            ?? true
    }

    /// `rsc_location` constraints (Pacemaker's `pcmk__apply_locations`).
    mutating func applyLocations() {
        for constraint in model.constraints.location {
            var ids = constraint.resources
            for set in constraint.sets { ids += set.resources }
            for id in ids {
                guard let resource = model.resource(id) else { continue }
                // Role-specific constraints for promoted roles affect promotion only.
                if let role = constraint.role, role >= .unpromoted { continue }
                switch constraint.placement {
                case .node(let name, let score):
                    guard let node = model.node(named: name) else { continue }
                    applyConstraintLocation(resource.index, node: node.index, score: score)
                case .rules(let rules):
                    for rule in rules {
                        if let role = rule.role, role >= .unpromoted { continue }
                        for node in model.nodes {
                            guard rule.evaluate(Rule.Context(nodeAttributes: node.attributes)) else { continue }
                            let score: Score
                            if let attribute = rule.scoreAttribute {
                                score = node.attributes[attribute].map { Score(pacemaker: $0) } ?? .minusInfinity
                            } else {
                                score = rule.score ?? .zero
                            }
                            applyConstraintLocation(resource.index, node: node.index, score: score)
                        }
                    }
                }
            }
        }
    }

    /// Stickiness on the single node a managed resource runs on (`apply_stickiness`).
    mutating func applyStickiness(_ index: Int) {
        let resource = model.resources[index]
        if !resource.children.isEmpty {
            for child in resource.children { applyStickiness(child) }
            return
        }
        guard resource.state.isManaged, !frozen.contains(index), resource.settings.stickiness >= Score(1),
            resource.state.runningOn.count == 1, let node = model.node(named: resource.state.runningOn[0])
        else { return }
        if !model.properties.symmetricCluster && weights[index][node.index] == nil { return }
        addLocation(index, node: node.index, score: resource.settings.stickiness)
    }

    /// Bans a resource from a node where its fail count reached `migration-threshold`
    /// (`check_failure_threshold`).
    mutating func applyFailureThreshold(_ index: Int, node: Node) {
        // Without failures on the node, no fail count reaches a threshold.
        if node.state.failures.isEmpty { return }
        let resource = model.resources[index]
        if !resource.children.isEmpty {
            for child in resource.children { applyFailureThreshold(child, node: node) }
            return
        }
        let clearing = resource.state.requiredActions.contains {
            if case .clearFailCount(let name, _) = $0 { return name == node.name }
            return false
        }
        if clearing { return }
        let threshold = resource.settings.migrationThreshold
        guard threshold != .zero, !resource.state.failureIgnored else { return }
        let count = model.failCount(of: index, on: node.name).count
        guard count > .zero else { return }
        guard threshold.value - count.value <= 0 else { return }
        let banned = resource.settings.isUnique ? index : model.topAncestor(of: index)
        addLocationRecursively(banned, node: node.index, score: .minusInfinity)
    }

    /// `rsc_ticket` constraints whose ticket is not granted or in standby
    /// (Pacemaker's `rsc_ticket_constraint`).
    mutating func applyTickets() {
        for constraint in model.constraints.ticket {
            let ticket = model.tickets.first { $0.id == constraint.ticket }
            let granted = ticket?.granted ?? false
            let standby = ticket?.standby ?? false
            if granted && !standby { continue }
            var members: [(String, Role?)] = []
            if let resource = constraint.resource { members.append((resource, constraint.role)) }
            for set in constraint.sets {
                for id in set.resources { members.append((id, set.role ?? constraint.role)) }
            }
            for (id, role) in members {
                guard let resource = model.resource(id) else { continue }
                applyTicket(resource.index, role: role, policy: constraint.lossPolicy, granted: granted)
            }
        }
    }

    mutating func applyTicket(_ index: Int, role: Role?, policy: TicketLossPolicy, granted: Bool) {
        let resource = model.resources[index]
        if !resource.children.isEmpty {
            for child in resource.children { applyTicket(child, role: role, policy: policy, granted: granted) }
            return
        }
        let banAll = { (s: inout ScoresComputation) in
            // resource_location on the resource and its ancestors' tables below the constraint.
            for node in s.model.nodes { s.addLocation(index, node: node.index, score: .minusInfinity) }
        }
        let matchesRole = role == nil || role == resource.state.role
        if !granted && !resource.state.runningOn.isEmpty {
            switch policy {
            case .stop: banAll(&self)
            case .demote: if role != .promoted { banAll(&self) }
            case .fence:
                if matchesRole {
                    banAll(&self)
                    // The nodes it runs on are fenced, so they cannot run anything.
                    for name in resource.state.runningOn {
                        if let node = model.node(named: name) { fenced.insert(node.index) }
                    }
                }
            case .freeze:
                // Left where it is, unmanaged (so not sticky either).
                if matchesRole { frozen.insert(index) }
            }
        } else if role != .promoted || policy == .stop {
            banAll(&self)
        }
    }

    // MARK: Assignment

    /// A node may run resources (Pacemaker's `pcmk__node_available` without scores).
    func isAvailable(_ node: Int) -> Bool {
        nodeIndex.isUsable(node, model) && (fenced.isEmpty || !fenced.contains(node))
    }

    /// Some node of a table is available with a non-negative score (`pcmk__any_node_available`).
    func anyAvailable(_ table: [Score?]) -> Bool {
        table.indices.contains { table[$0].map { $0 >= .zero } ?? false && isAvailable($0) }
    }

    /// The node (index) a resource is active on first (`pe__current_node`).
    func currentNode(_ index: Int) -> Int? {
        model.resources[index].state.runningOn.first.flatMap { model.node(named: $0)?.index }
    }

    /// Assigns a resource whose assignment is needed, if the phase can (primitives only so far).
    mutating func assign(_ index: Int) {
        guard isStandalonePrimitive(index) else { return }
        switch model.resources[index].variant {
        case .group: assignGroup(index)
        case .clone: assignClone(index)
        case .primitive: assignPrimitive(index)
        }
    }

    /// A primitive or group outside clones, or a member of such a group (the
    /// resources the phase covers so far).
    func isStandalonePrimitive(_ index: Int) -> Bool {
        let resource = model.resources[index]
        switch resource.variant {
        case .clone:
            return resource.parent == nil
        case .group, .primitive:
            guard let parent = resource.parent else { return true }
            return isStandalonePrimitive(parent)
        }
    }

    /// Reports a clone's and its instances' scores, then distributes the instances
    /// (`pcmk__clone_allocate` and `distribute_children`): instances active on one
    /// node are placed there first when they can be, then the others in order, at
    /// most `clone-node-max` per node and `clone-max` in all.
    mutating func assignClone(_ index: Int) {
        if assigned[index] != nil || assigning.contains(index) { return }
        assigning.insert(index)
        defer { assigning.remove(index) }
        let clone = model.resources[index]
        if clone.settings.isPromotable { addPromotionScores(index) }
        for colocation in withConstraints[index] { assign(colocation.primary) }
        // The dependents' positive preferences order the nodes (only the clone's table).
        for colocation in dependentConstraints[index]
        where colocation.hasInfluence(model) && isStandalonePrimitive(colocation.dependent) {
            weights[index] = addColocatedScores(
                from: colocation.dependent, into: weights[index], attribute: colocation.attribute,
                factor: Double(colocation.score.value) / Double(Score.infinityValue), onlyPositive: true)
        }
        let instances = clone.children.filter { !model.resources[$0].state.isOrphan }
        for resource in [index] + instances.flatMap({ [$0] + model.resources[$0].children }) {
            for node in model.nodes {
                guard let score = weights[resource][node.index] else { continue }
                entries.append(
                    ScoreEntry(
                        kind: .cloneAssign, resource: model.resources[resource].id, node: node.name, score: score))
            }
            covered[.cloneAssign, default: []].insert(model.resources[resource].id)
        }
        let settings = clone.clone
        let maxInstances = settings?.maxInstances ?? clone.children.count
        let perNode = settings?.maxInstancesPerNode ?? 1
        var counts = Array(repeating: 0, count: model.nodes.count)
        // Nodes of the clone's table that can run resources (`distribute_children`).
        let available = model.nodes.indices.filter { weights[index][$0] != nil && isAvailable($0) }.count
        let loopMax = max(1, available > 0 ? maxInstances / available : 0)
        var placed = 0

        func canRun(_ s: ScoresComputation, _ node: Int) -> Bool {
            guard s.isAvailable(node), let score = s.weights[index][node], score >= .zero else { return false }
            return counts[node] < perNode
        }
        let allColocated = maxInstances < available
        func place(_ s: inout ScoresComputation, _ instance: Int, prefer: Int?) -> Bool {
            // The clone's colocations apply to each instance (`append_parent_colocation`),
            // appended again at each attempt, as Pacemaker does.
            for colocation in s.withConstraints[index]
            where allColocated || colocation.score < .zero || colocation.score >= .infinity {
                s.addThisWith(instance, colocation)
            }
            // Influence is judged on the instance (`pcmk__colocation_has_influence`).
            let inactive = s.model.resources[instance].state.runningOn.isEmpty
            for colocation in s.dependentConstraints[index] where colocation.influence || inactive {
                if allColocated || colocation.score < .zero {
                    s.addWithThis(instance, colocation)
                }
            }
            if let prefer {
                guard let score = s.weights[instance][prefer], score >= .zero else { return false }
            }
            let family = [instance] + s.model.resources[instance].children
            for node in s.model.nodes.indices where s.weights[instance][node] != nil && !canRun(s, node) {
                for member in family where s.weights[member][node] != nil { s.weights[member][node] = .minusInfinity }
            }
            let backup = family.map { s.weights[$0] }
            var chosen: Int?
            if s.model.resources[instance].variant == .group {
                chosen = s.assignGroup(instance, prefer: prefer)
            } else {
                chosen = s.assignPrimitive(instance, prefer: prefer)
            }
            if let got = chosen, let prefer, got != prefer {
                if s.model.resources[instance].variant == .group {
                    // `pcmk__unassign_resource` leaves a group as it is (a group has
                    // no node of its own): its members stay where they went, the
                    // instance is not counted, and only its own table is restored.
                    s.weights[instance] = backup[0]
                    return false
                }
                for (member, table) in zip(family, backup) {
                    s.weights[member] = table
                    s.unassign(member)
                }
                chosen = nil
            }
            if let chosen { counts[chosen] += 1 }
            return chosen != nil
        }

        // Instances are distributed in Pacemaker's order (`pcmk__cmp_instance`).
        let order = assignmentOrder(index)
        // Orphans take part too, but can run nowhere (`can_run_instance`): once
        // tried they are assigned no node (an unmanaged one stays where it is).
        func settle(_ s: inout ScoresComputation, _ orphan: Int) -> Bool {
            s.settleOrphan(orphan)
            guard let node = s.assigned[orphan] ?? nil else { return false }
            counts[node] += 1
            return true
        }
        for instance in order where placed < maxInstances {
            let state = model.resources[instance].state
            guard !state.runningOn.isEmpty, assigned[instance] == nil, !state.isFailed,
                let current = activeNode(instance)
            else { continue }
            // Tried there even if the node is full or the clone's score negative:
            // the attempt then bans the node and is undone, as in Pacemaker.
            guard isAvailable(current) && model.nodes[current].score >= .zero && counts[current] < loopMax else {
                continue
            }
            if state.isOrphan {
                guard let score = weights[instance][current], score >= .zero else { continue }
                if settle(&self, instance) { placed += 1 }
            } else if place(&self, instance, prefer: current) {
                placed += 1
            }
        }
        for instance in order where assigned[instance] == nil {
            if placed >= maxInstances {
                for node in model.nodes { addLocationRecursively(instance, node: node.index, score: .minusInfinity) }
            } else if model.resources[instance].state.isOrphan
                ? settle(&self, instance) : place(&self, instance, prefer: nil)
            {
                placed += 1
            }
        }
        instanceOrder[index] = order
        assigned[index] = .some(nil)
        nextRoles[index] = placed > 0 ? .started : .stopped
        if clone.settings.isPromotable { reportPromotionScores(index, instances: order) }
    }

    /// The promotion score of an instance on a node (Pacemaker's `promotion_score`):
    /// for a cloned group the sum of its members'; else the node's
    /// `master-<name>` attribute, where it applies. `nil`: no attribute (default).
    func promotionScore(_ instance: Int, on node: Int) -> Score? {
        let resource = model.resources[instance]
        if !resource.children.isEmpty {
            var total = Score.zero
            var any = false
            for child in resource.children {
                if let score = promotionScore(child, on: node) {
                    total = total + score
                    any = true
                }
            }
            return any ? total : nil
        }
        guard promotionScoreApplies(instance, on: node) else { return nil }
        let table = model.nodes[node].state.promotionScores
        if let score = table[resource.state.historyName ?? resource.id] { return score }
        if !resource.settings.isUnique, let score = table[resource.configID] { return score }
        return nil
    }

    /// Pacemaker's `promotion_score_applies`.
    func promotionScoreApplies(_ instance: Int, on node: Int) -> Bool {
        let resource = model.resources[instance]
        let name = model.nodes[node].name
        guard let score = weights[instance][node], score >= .zero else { return false }
        if !resource.settings.isUnique {
            // The same resource in every instance of the clone (a member, for a cloned group).
            let peers = model.resources[model.topAncestor(of: instance)].children.compactMap { peer -> Int? in
                let members = model.resources[peer].children
                return members.isEmpty ? peer : members.first { model.resources[$0].configID == resource.configID }
            }
            let active = peers.first { model.resources[$0].state.runningOn.contains(name) }
            if active == instance { return true }
            if active == nil && peers.contains(where: { model.resources[$0].state.knownOn.contains(name) }) {
                return true
            }
        }
        if resource.state.runningOn.isEmpty && resource.state.knownOn.isEmpty { return true }
        return resource.state.knownOn.contains(name) || resource.state.runningOn.contains(name)
    }

    /// Reports each instance's promotion score (`pcmk__set_instance_roles` and
    /// `promotion_order`).
    mutating func reportPromotionScores(_ index: Int, instances: [Int]) {
        let clone = model.resources[index]
        var priority: [Int: Score] = [:]
        var sortIndex: [Int: Score] = [:]
        for instance in instances {
            guard let chosen = assigned[instance] ?? nil else { continue }
            let resource = model.resources[instance]
            let role = nextRoleBeforePromotion(instance)
            var value: Score
            switch role {
            case .unpromoted, .stopped: value = .minusInfinity
            case .promoted: value = promotionPriority[instance] ?? resource.settings.priority
            case .unknown, .started: value = promotionScore(instance, on: chosen) ?? Score(-1)
            }
            // Location constraints for the promoted role, on the instance's node.
            for constraint in model.constraints.location {
                let ids = constraint.resources + constraint.sets.flatMap(\.resources)
                guard ids.contains(clone.configID) || ids.contains(resource.configID) else { continue }
                switch constraint.placement {
                case .node(let name, let score):
                    if constraint.role == .promoted, model.node(named: name)?.index == chosen { value = score + value }
                case .rules(let rules):
                    for rule in rules where (rule.role ?? constraint.role) == .promoted {
                        let node = model.nodes[chosen]
                        guard rule.evaluate(Rule.Context(nodeAttributes: node.attributes)) else { continue }
                        let score =
                            rule.scoreAttribute.map {
                                node.attributes[$0].map { Score(pacemaker: $0) } ?? .minusInfinity
                            }
                            ?? rule.score ?? .zero
                        value = score + value
                    }
                }
            }
            // Role-specific colocations of the instance.
            for colocation in withConstraints[instance] where (colocation.dependentRole ?? .unknown) >= .unpromoted {
                value = colocationPriority(instance, on: chosen, colocation, value)
            }
            priority[instance] = value
            sortIndex[instance] = role == .promoted ? .infinity : value
        }
        // promotion_order: the clone's scores plus the instances' on their nodes.
        var table = weights[index]
        // A promoted role needing a ticket that is not granted (or in standby) is
        // banned everywhere (`pcmk__require_promotion_tickets`).
        for constraint in model.constraints.ticket {
            let members =
                (constraint.resource.map { [($0, constraint.role)] } ?? [])
                + constraint.sets.flatMap { set in set.resources.map { ($0, set.role ?? constraint.role) } }
            guard members.contains(where: { $0.0 == clone.id && $0.1 == .promoted }) else { continue }
            let ticket = model.tickets.first { $0.id == constraint.ticket }
            let granted = ticket?.granted ?? false
            if !granted || (ticket?.standby ?? false) {
                for node in table.indices where table[node] != nil { table[node] = .minusInfinity }
            }
        }
        for instance in instances {
            guard let chosen = assigned[instance] ?? nil, let value = sortIndex[instance], value >= .zero,
                let current = table[chosen]
            else { continue }
            table[chosen] = value + current
        }
        // The clone is being merged meanwhile (`sort_promotable_instances`).
        merging.insert(index)
        defer { merging.remove(index) }
        for colocation in withConstraints[index] where colocation.dependentRole == .promoted {
            table = addColocatedScores(
                from: colocation.primary, into: table, attribute: colocation.attribute,
                factor: Double(colocation.score.value) / Double(Score.infinityValue),
                rollback: colocation.score < .infinity)
        }
        for colocation in dependentConstraints[index]
        where colocation.hasInfluence(model) && colocation.primaryRole == .promoted {
            table = addColocatedScores(
                from: colocation.dependent, into: table, attribute: colocation.attribute,
                factor: Double(colocation.score.value) / Double(Score.infinityValue), onlyPositive: true)
        }
        // Pacemaker merges into the clone's own table, which later merges read.
        weights[index] = table
        var finalScores: [(instance: Int, node: Int, score: Score)] = []
        for instance in instances {
            let node = assigned[instance] ?? nil
            // `set_sort_index_to_node_weight`: an unmanaged promoted instance stays
            // first; a placed one with a non-negative score takes the merged table's.
            var value = sortIndex[instance] ?? .zero
            let resource = model.resources[instance]
            if (!resource.state.isManaged || frozen.contains(instance))
                && nextRoleBeforePromotion(instance) == .promoted
            {
                value = .infinity
            } else if let node, value >= .zero {
                value = table[node] ?? value
            }
            if let node { finalScores.append((instance, node, value)) }
            entries.append(
                ScoreEntry(
                    kind: .promotion, resource: model.resources[instance].id,
                    node: node.map { model.nodes[$0].name } ?? "none", score: value))
            covered[.promotion, default: []].insert(model.resources[instance].id)
        }
        // Roles in promotion order (CloneOrder.swift).
        let final = Dictionary(uniqueKeysWithValues: finalScores.map { ($0.instance, $0.score) })
        let order = promotionOrder(index, instances: instances, sortIndex: final, priority: priority)
        chooseRoles(index, order: order, sortIndex: final, priority: priority)
        instanceOrder[index] = order
    }

    /// The resource or one of its descendants is blocked.
    func isBlockedRecursively(_ index: Int) -> Bool {
        model.resources[index].state.isBlocked || model.resources[index].children.contains { isBlockedRecursively($0) }
    }

    /// Undoes an assignment (`pcmk__unassign_resource`).
    mutating func unassign(_ index: Int) {
        if let node = assigned[index] ?? nil { assignedCount[node] -= 1 }
        assigned[index] = nil
        nextRoles[index] = nil
    }

    /// Reports a group's and its members' scores, then assigns the members in
    /// order (`pcmk__group_assign`). The group's colocations pass to its first
    /// member (as dependent) and its last member (as primary).
    @discardableResult
    mutating func assignGroup(_ index: Int, prefer: Int? = nil) -> Int? {
        if let parent = model.resources[index].parent, !assigning.contains(parent) { assign(parent) }
        if let done = assigned[index] { return done }
        if assigning.contains(index) { return nil }
        let group = model.resources[index]
        guard let first = group.children.first, let last = group.children.last else {
            assigned[index] = .some(nil)
            return nil
        }
        assigning.insert(index)
        defer { assigning.remove(index) }
        for colocation in withConstraints[index] { addThisWith(first, colocation) }
        // After an unmanaged member, later members take the group's mandatory
        // colocations themselves (`expand_group_colocations`).
        var anyUnmanaged = !model.resources[first].state.isManaged
        for member in group.children.dropFirst() {
            if anyUnmanaged {
                for colocation in withConstraints[index] where colocation.score >= .infinity {
                    addThisWith(member, colocation)
                }
            } else if !model.resources[member].state.isManaged {
                anyUnmanaged = true
            }
        }
        withConstraints[index] = []
        for colocation in dependentConstraints[index] { addWithThis(last, colocation) }
        dependentConstraints[index] = []
        for resource in [index] + group.children {
            for node in model.nodes {
                guard let score = weights[resource][node.index] else { continue }
                entries.append(
                    ScoreEntry(
                        kind: .groupAssign, resource: model.resources[resource].id, node: node.name, score: score))
            }
            covered[.groupAssign, default: []].insert(model.resources[resource].id)
        }
        for member in group.children { assignPrimitive(member, prefer: prefer) }
        assigned[index] = .some(assigned[first] ?? nil)
        nextRoles[index] = nextRoles[first]
        return assigned[index] ?? nil
    }

    /// Computes and reports a primitive's scores and assigns it a node
    /// (`pcmk__primitive_assign`).
    @discardableResult
    mutating func assignPrimitive(_ index: Int, prefer: Int? = nil) -> Int? {
        if let parent = model.resources[index].parent, !assigning.contains(parent) {
            // Members and instances are assigned by their group or clone.
            assign(parent)
        }
        if let done = assigned[index] { return done }
        if assigning.contains(index) { return nil }
        assigning.insert(index)
        defer { assigning.remove(index) }
        let resource = model.resources[index]

        for var colocation in withConstraints[index] {
            // A group's colocations pass to its first member.
            colocation.dependent = index
            let archive =
                (colocation.dependentRole ?? .unknown) >= .promoted
                    || (colocation.score < .zero && colocation.score > .minusInfinity)
                ? weights[index] : nil
            assign(colocation.primary)
            applyColocation(colocation)
            if let archive, !anyAvailable(weights[index]) { weights[index] = archive }
        }
        for colocation in dependentConstraints[index]
        where colocation.hasInfluence(model) && isStandalonePrimitive(colocation.dependent) {
            weights[index] = addColocatedScores(
                from: colocation.dependent, into: weights[index], attribute: colocation.attribute,
                factor: Double(colocation.score.value) / Double(Score.infinityValue))
        }
        let nextRole = resource.state.nextRole ?? resource.settings.targetRole
        if nextRole == .stopped || nextRoles[index] == .stopped {
            for node in model.nodes { addLocation(index, node: node.index, score: .minusInfinity) }
        }

        for node in model.nodes {
            guard let score = weights[index][node.index] else { continue }
            entries.append(ScoreEntry(kind: .primitiveAssign, resource: resource.id, node: node.name, score: score))
        }
        covered[.primitiveAssign, default: []].insert(resource.id)

        // Fencing enabled without a fencing device: every primitive is left unmanaged.
        if fencingWithoutDevice { frozen.insert(index) }
        var chosen: Int?
        if !resource.state.isManaged || frozen.contains(index) {
            chosen = currentNode(index)
            record(index, node: chosen, force: true)
            return assigned[index] ?? nil
        } else if model.properties.stopAllResources {
            record(index, node: nil, force: true)
            return nil
        }
        let current = currentNode(index)
        // The sort reads only locals: a closure reading `self` copies the whole computation.
        let table = weights[index]
        let keys = table.indices.map { node in isAvailable(node) ? table[node] ?? .minusInfinity : .minusInfinity }
        let counts = assignedCount
        let nameRanks = nodeIndex.nameRanks(model)
        let candidates = table.indices.filter { table[$0] != nil }.sorted { a, b in
            if keys[a] != keys[b] { return keys[a] > keys[b] }
            if counts[a] != counts[b] { return counts[a] < counts[b] }
            if let current, a == current || b == current { return a == current }
            return nameRanks[a] < nameRanks[b]
        }
        if let prefer, let best = candidates.first, let preferred = weights[index][prefer],
            preferred >= weights[index][best]!, preferred >= .zero, isAvailable(prefer)
        {
            chosen = prefer
        } else if let best = candidates.first {
            chosen = best
            let uniqueClone =
                resource.parent.map { model.resources[$0].variant == .clone && resource.settings.isUnique }
                ?? false
            if !uniqueClone, weights[index][best]! > .zero, isAvailable(best), let current, isAvailable(current),
                weights[index][current].map({ $0 >= .zero }) ?? false
            {
                for other in candidates.dropFirst() {
                    if weights[index][other] != weights[index][best] { break }
                    if other == current { chosen = other }
                }
            }
        }
        record(index, node: chosen, force: false)
        return assigned[index] ?? nil
    }

    /// Records an assignment (`pcmk__assign_resource`).
    mutating func record(_ index: Int, node: Int?, force: Bool) {
        var node = node
        if !force, let candidate = node,
            (weights[index][candidate] ?? .minusInfinity) < .zero || !isAvailable(candidate)
        {
            node = nil
        }
        assigned[index] = .some(node)
        let resource = model.resources[index]
        if let node {
            assignedCount[node] += 1
            let next = resource.state.nextRole ?? resource.settings.targetRole
            nextRoles[index] = (next == nil || next == .unknown || next == .stopped) ? .started : next!
        } else {
            nextRoles[index] = .stopped
        }
        if !resource.state.isManaged { nextRoles[index] = resource.state.role }
    }

    /// A colocation's effect on its dependent's scores, once the primary is assigned
    /// (`pcmk__colocation_affects` and `pcmk__apply_coloc_to_weights`).
    mutating func applyColocation(_ colocation: Colocation) {
        var colocation = colocation
        let primary = model.resources[colocation.primary]
        if primary.variant == .group {
            // The whole group must be placed for a mandatory colocation (its last
            // member), its first member is enough for an optional one.
            guard assigned[colocation.primary] != nil, let first = primary.children.first,
                let last = primary.children.last, isColocatedGroup(colocation.primary)
            else { return }
            colocation.primary = colocation.score >= .infinity ? last : first
        }
        if primary.variant == .clone {
            guard assigned[colocation.primary] != nil else { return }
            if let role = colocation.primaryRole, role >= .unpromoted {
                guard primary.settings.isPromotable else { return }
                // With a role of a promotable clone (`pcmk__update_dependent_with_promotable`).
                let dependent = colocation.dependent
                var affected: [Int: Score] = [:]
                for instance in instances(of: colocation.primary) {
                    guard let node = assigned[instance] ?? nil, nextRoles[instance] == role else { continue }
                    affected[node] = assignedWeight(instance, on: node)
                    guard colocation.score < .infinity else { continue }
                    let value = model.nodes[node].attributes[colocation.attribute]?.lowercased()
                    for other in weights[dependent].indices where weights[dependent][other] != nil {
                        if let value, model.nodes[other].attributes[colocation.attribute]?.lowercased() == value {
                            weights[dependent][other] = weights[dependent][other]! + colocation.score
                        }
                    }
                }
                // Not for promoted-with-promoted: inactive dependents could not start.
                if colocation.score >= .infinity
                    && (colocation.dependentRole != .promoted || colocation.primaryRole != .promoted)
                {
                    for node in weights[dependent].indices where weights[dependent][node] != nil {
                        if let add = affected[node] {
                            weights[dependent][node] = weights[dependent][node]! + add
                        } else {
                            weights[dependent][node] = .minusInfinity
                        }
                    }
                    // `node_list_exclude` also adds the instances' nodes missing from the table.
                    for node in affected.keys where weights[dependent][node] == nil {
                        weights[dependent][node] = .minusInfinity
                    }
                }
                return
            }
            // Blocked instances do not count (`is_set_recursive(child, pe_rsc_block)`).
            let nodes = Set(
                primary.children.filter { !isBlockedRecursively($0) }.compactMap { assigned[$0] ?? nil })
            let dependent = colocation.dependent
            if isInterleaved(dependent, with: colocation.primary) {
                // Interleaved: each instance goes with the instance of the other clone
                // on its own node (`pcmk__find_compatible_instance`).
                let ordered = model.nodes.indices.filter { weights[dependent][$0] != nil }.sorted { a, b in
                    let sa = isAvailable(a) ? weights[dependent][a]! : .minusInfinity
                    let sb = isAvailable(b) ? weights[dependent][b]! : .minusInfinity
                    if sa != sb { return sa > sb }
                    if assignedCount[a] != assignedCount[b] { return assignedCount[a] < assignedCount[b] }
                    return model.nodes[a].name.utf8.lexicographicallyPrecedes(model.nodes[b].name.utf8)
                }
                var partner: Int?
                for node in ordered {
                    partner = instances(of: colocation.primary).first { (assigned[$0] ?? nil) == node }
                    if partner != nil { break }
                }
                if let partner {
                    var each = colocation
                    each.primary = partner
                    applyColocation(each)
                } else if colocation.score >= .infinity {
                    // Pacemaker stops the instance: its next role becomes Stopped.
                    nextRoles[dependent] = .stopped
                }
                return
            }
            if colocation.score >= .infinity {
                // Only nodes where an instance was placed remain allowed.
                for node in weights[dependent].indices where weights[dependent][node] != nil && !nodes.contains(node) {
                    weights[dependent][node] = .minusInfinity
                }
                // `node_list_exclude` also adds the instances' nodes missing from the table.
                for node in nodes where weights[dependent][node] == nil { weights[dependent][node] = .minusInfinity }
                return
            }
            for instance in instances(of: colocation.primary) {
                var each = colocation
                each.primary = instance
                applyColocation(each)
            }
            return
        }
        let dependent = colocation.dependent
        guard let primaryNode = assigned[colocation.primary] else { return }
        // `pcmk__colocation_affects`: a positive colocation needs the roles; a
        // negative one is skipped when a role it names is the resource's next role.
        let dependentNext = model.resources[dependent].state.nextRole ?? model.resources[dependent].settings.targetRole
        let positive = colocation.score > .zero
        if let role = colocation.dependentRole, (role == dependentNext) != positive { return }
        if let role = colocation.primaryRole, (role == nextRoles[colocation.primary]) != positive { return }
        if primaryNode == nil && colocation.score < .zero { return }
        let groups = nodeIndex.groups(colocation.attribute, model)
        var work = weights[dependent]
        for node in work.indices {
            guard let score = work[node] else { continue }
            if let primaryNode, groups.same(node, primaryNode) {
                if colocation.score < .infinity { work[node] = colocation.score + score }
            } else if primaryNode == nil {
                // An inactive primary takes the colocation's score away everywhere.
                work[node] = Score(-colocation.score.value) + score
            } else if colocation.score >= .infinity {
                work[node] = .minusInfinity + score
            }
        }
        if colocation.score.isMinusInfinity || colocation.score.isInfinity || anyAvailable(work) {
            weights[dependent] = work
        }
    }

    /// For each group of nodes with the same attribute value, the best score of a
    /// resource on an available node of the group (`best_node_score_matching_attr`
    /// for every value at once; minus infinity where none).
    func bestScores(of index: Int, _ groups: NodeIndex.Groups) -> [Score] {
        var best = Array(repeating: Score.minusInfinity, count: groups.members.count)
        let table = weights[index]
        for node in table.indices {
            let group = groups.groupOf[node]
            guard group >= 0, let score = table[node], score > best[group], isAvailable(node) else { continue }
            best[group] = score
        }
        return best
    }

    /// Merges a dependent's preferences into a table (`pcmk__add_colocated_node_scores`
    /// for a primitive, with only active dependents and rollback).
    mutating func addColocatedScores(
        from index: Int, into table: [Score?], attribute: String, factor: Double, onlyPositive: Bool = false,
        rollback: Bool = true
    ) -> [Score?] {
        var unusable: Set<Int> = []
        return mergeColocatedScores(
            from: index, into: table, attribute: attribute, factor: factor, onlyPositive: onlyPositive,
            rollback: rollback, unusable: &unusable)
    }

    /// ``addColocatedScores(from:into:attribute:factor:onlyPositive:rollback:)`` with
    /// the nodes an only-positive merge marked unusable (Pacemaker's `INFINITY_HACK`):
    /// a positive score that a merge would make negative; later merges skip them,
    /// they count as unavailable, and they become 1 when a merge level ends
    /// without rolling back.
    mutating func mergeColocatedScores(
        from index: Int, into table: [Score?], attribute: String, factor: Double, onlyPositive: Bool,
        rollback: Bool, unusable: inout Set<Int>
    ) -> [Score?] {
        if merging.contains(index) { return table }
        var marks = unusable
        merging.insert(index)
        defer { merging.remove(index) }
        var work = table
        // Whose dependents follow: a group's are its last member's (after its
        // first member's preferences, `init_group_colocated_nodes`).
        var dependentsOf = index
        if model.resources[index].variant == .group {
            guard let first = model.resources[index].children.first,
                let last = model.resources[index].children.last
            else { return table }
            work = mergeColocatedScores(
                from: first, into: table, attribute: attribute, factor: factor, onlyPositive: onlyPositive,
                rollback: rollback, unusable: &marks)
            dependentsOf = last
        } else {
            let groups = nodeIndex.groups(attribute, model)
            let best = bestScores(of: index, groups)
            for node in work.indices {
                guard let current = work[node], marks.isEmpty || !marks.contains(node) else { continue }
                let score = groups.groupOf[node] >= 0 ? best[groups.groupOf[node]] : .minusInfinity
                if factor < 0 && score < .zero { continue }
                let product = factor * Double(score.value)
                var weight = Int(product < 0 ? product - 0.5 : product + 0.5)
                if weight == 0 && score != .zero { weight = factor > 0 ? 1 : (factor < 0 ? -1 : 0) }
                let sum = Score(weight) + current
                if onlyPositive && sum < .zero && current > .zero {
                    marks.insert(node)
                } else if onlyPositive && sum < .zero && current == .zero {
                    continue
                } else {
                    work[node] = sum
                }
            }
        }
        let available = work.indices.contains { node in
            (work[node].map { $0 >= .zero } ?? false) && isAvailable(node) && (marks.isEmpty || !marks.contains(node))
        }
        if available {
            let multiplier = factor < 0 ? -1.0 : 1.0
            for colocation in dependentConstraints[dependentsOf]
            where colocation.hasInfluence(model) && isStandalonePrimitive(colocation.dependent) {
                work = mergeColocatedScores(
                    from: colocation.dependent, into: work, attribute: colocation.attribute,
                    factor: multiplier * Double(colocation.score.value) / Double(Score.infinityValue),
                    onlyPositive: onlyPositive, rollback: true, unusable: &marks)
            }
        } else if rollback {
            return table
        }
        // Marked nodes become 1 where a merge level ends without rolling back.
        if onlyPositive {
            for node in marks { work[node] = Score(1) }
            marks = []
        }
        unusable = marks
        return work
    }
}

/// A colocation between two resources, as Pacemaker unpacks it (`pcmk__colocation_t`).
struct Colocation {
    var id: String
    /// The resource placed relative to the other (`rsc`).
    var dependent: Int
    /// The resource it is placed with (`with-rsc`).
    var primary: Int
    var score: Score
    /// `rsc-role` (Started counts as no role).
    var dependentRole: Role?
    /// `with-rsc-role` (Started counts as no role).
    var primaryRole: Role?
    /// `node-attribute` (default `#uname`).
    var attribute: String
    /// `influence`, defaulting to the dependent's `critical`.
    var influence: Bool

    /// The dependent influences the primary's placement (`pcmk__colocation_has_influence`).
    func hasInfluence(_ model: CIBModel) -> Bool {
        influence || model.resources[primary].state.runningOn.isEmpty
    }

    /// Pacemaker's order of colocations in a resource's lists: higher priority
    /// first, clones before groups before primitives, then by id.
    static func compare(_ model: CIBModel, _ a: Int, _ b: Int) -> Int {
        let ra = model.resources[a]
        let rb = model.resources[b]
        if ra.settings.priority != rb.settings.priority { return ra.settings.priority > rb.settings.priority ? -1 : 1 }
        let rank: (Resource.Variant) -> Int = { $0 == .clone ? 2 : ($0 == .group ? 1 : 0) }
        if rank(ra.variant) != rank(rb.variant) { return rank(ra.variant) > rank(rb.variant) ? -1 : 1 }
        if ra.variant == .clone && ra.settings.isPromotable != rb.settings.isPromotable {
            return ra.settings.isPromotable ? -1 : 1
        }
        if ra.id == rb.id { return 0 }
        return ra.id.utf8.lexicographicallyPrecedes(rb.id.utf8) ? -1 : 1
    }

    /// The colocations of the configuration: pairs, and resource sets.
    static func unpack(_ model: CIBModel) -> [Colocation] {
        var result: [Colocation] = []
        func role(_ role: Role?) -> Role? { role == .started || role == .unknown ? nil : role }
        func add(
            _ constraint: ColocationConstraint, _ dependent: String, _ primary: String, _ score: Score,
            _ dependentRole: Role?, _ primaryRole: Role?
        ) {
            guard score != .zero, let d = model.resource(dependent), let p = model.resource(primary) else { return }
            result.append(
                Colocation(
                    id: constraint.id, dependent: d.index, primary: p.index, score: score,
                    dependentRole: role(dependentRole), primaryRole: role(primaryRole),
                    attribute: constraint.nodeAttribute ?? "#uname",
                    influence: constraint.influence ?? d.settings.critical))
        }
        for constraint in model.constraints.colocation {
            if let pair = constraint.pair {
                add(
                    constraint, pair.resource, pair.withResource, constraint.score, pair.resourceRole,
                    pair.withResourceRole)
                continue
            }
            // Within a sequential set, each member is placed with the one before it;
            // with a negative score, apart from every member before it.
            for set in constraint.sets where set.sequential ?? true {
                let score = set.score ?? constraint.score
                if score < .zero {
                    for (position, member) in set.resources.enumerated() {
                        for previous in set.resources[..<position] {
                            add(constraint, member, previous, score, set.role, set.role)
                        }
                    }
                } else {
                    for (previous, member) in zip(set.resources, set.resources.dropFirst()) {
                        add(constraint, member, previous, score, set.role, set.role)
                    }
                }
            }
            // Between sets, the members of each set are placed with those of the next.
            for (first, second) in zip(constraint.sets, constraint.sets.dropFirst()) {
                let dependents = (first.sequential ?? true) ? Array(first.resources.suffix(1)) : first.resources
                let primaries = (second.sequential ?? true) ? Array(second.resources.prefix(1)) : second.resources
                for dependent in dependents {
                    for primary in primaries {
                        add(constraint, dependent, primary, constraint.score, first.role, second.role)
                    }
                }
            }
        }
        return result
    }
}

extension Array {
    /// Inserts before the first element that does not compare lower, as GLib's
    /// `g_list_insert_sorted` does (so equal elements end up newest first).
    mutating func insertSorted(_ element: Element, by compare: (Element, Element) -> Int) {
        let position = firstIndex { compare(element, $0) <= 0 } ?? count
        insert(element, at: position)
    }
}
