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
    var assigned: [Int: Int?] = [:]
    var assigning: Set<Int> = []

    init(model: CIBModel) {
        self.model = model
        weights = model.resources.map { $0.state.allowedNodes }
        for index in weights.indices where weights[index].count < model.nodes.count {
            weights[index] += Array(repeating: nil, count: model.nodes.count - weights[index].count)
        }
    }

    mutating func run() -> AllocationScores {
        applyLocations()
        for top in model.topLevel { applyStickiness(top) }
        for node in model.nodes {
            for top in model.topLevel { applyFailureThreshold(top, node: node) }
        }
        for top in model.topLevel where model.resources[top].variant == .primitive {
            assignPrimitive(top)
        }
        return AllocationScores(entries: entries, covered: covered)
    }

    // MARK: Node criteria

    /// Adds `score` for `node` to a resource's table (`resource_location`).
    mutating func addLocation(_ resource: Int, node: Int, score: Score) {
        if let current = weights[resource][node] {
            weights[resource][node] = current + score
        } else {
            weights[resource][node] = score
        }
    }

    /// Applies a location to a resource and, for collective resources, its
    /// descendants, as Pacemaker's `rsc_location` callbacks do.
    mutating func addLocationRecursively(_ resource: Int, node: Int, score: Score) {
        addLocation(resource, node: node, score: score)
        for child in model.resources[resource].children {
            addLocationRecursively(child, node: node, score: score)
        }
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
                    addLocationRecursively(resource.index, node: node.index, score: score)
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
                            addLocationRecursively(resource.index, node: node.index, score: score)
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
        guard resource.state.isManaged, resource.settings.stickiness >= Score(1),
            resource.state.runningOn.count == 1, let node = model.node(named: resource.state.runningOn[0])
        else { return }
        if !model.properties.symmetricCluster && weights[index][node.index] == nil { return }
        addLocation(index, node: node.index, score: resource.settings.stickiness)
    }

    /// Bans a resource from a node where its fail count reached `migration-threshold`
    /// (`check_failure_threshold`).
    mutating func applyFailureThreshold(_ index: Int, node: Node) {
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

    // MARK: Assignment

    /// Reports a primitive's scores (`pcmk__primitive_assign`).
    mutating func assignPrimitive(_ index: Int) {
        if assigned[index] != nil || assigning.contains(index) { return }
        assigning.insert(index)
        defer { assigning.remove(index) }
        let resource = model.resources[index]
        for node in model.nodes {
            guard let score = weights[index][node.index] else { continue }
            entries.append(ScoreEntry(kind: .primitiveAssign, resource: resource.id, node: node.name, score: score))
        }
        covered[.primitiveAssign, default: []].insert(resource.id)
        assigned[index] = .some(nil)
    }
}
