// The placement phase's result: where each resource goes and in which role.
import CIB

/// The number after the last `:` of a clone instance id, 0 for none
/// (`pcmk__cmp_instance_number`).
func cloneInstanceNumber(_ id: String) -> Int {
    guard let colon = id.lastIndex(of: ":") else { return 0 }
    return Int(id[id.index(after: colon)...].prefix { $0.isNumber }) ?? 0
}

/// The third phase of the scheduler: the node and role Pacemaker 2.1.5 would give
/// each resource, computed together with the scores (``Placement/compute(_:)``).
///
/// Immutable; indexed like ``CIBModel/resources`` and ``CIBModel/nodes``.
public struct Placement: Sendable, Hashable {
    /// The node (index into ``CIBModel/nodes``) each resource is assigned, `nil`
    /// for none (stopped).
    public let nodes: [Int?]
    /// The role each resource ends in (`stopped` when it has no node).
    public let roles: [Role]
    /// Nodes a revoked ticket with `loss-policy=fence` fences.
    public let ticketFencedNodes: Set<Int>
    /// Resources a revoked ticket with `loss-policy=freeze` leaves as they are.
    public let frozen: Set<Int>
    /// The scores behind the decisions.
    public let scores: AllocationScores

    /// Creates the value.
    public init(
        nodes: [Int?], roles: [Role], ticketFencedNodes: Set<Int>, frozen: Set<Int>, scores: AllocationScores
    ) {
        self.nodes = nodes
        self.roles = roles
        self.ticketFencedNodes = ticketFencedNodes
        self.frozen = frozen
        self.scores = scores
    }

    /// Computes scores and placement for `model`. Pure.
    public static func compute(_ model: CIBModel) -> Placement {
        var computation = ScoresComputation(model: model)
        let scores = computation.run()
        var nodes: [Int?] = []
        var roles: [Role] = []
        nodes.reserveCapacity(model.resources.count)
        roles.reserveCapacity(model.resources.count)
        for resource in model.resources {
            let node = computation.assigned[resource.index] ?? nil
            nodes.append(node)
            roles.append(computation.nextRoles[resource.index] ?? (node == nil ? .stopped : .started))
        }
        return Placement(
            nodes: nodes, roles: roles, ticketFencedNodes: computation.fenced, frozen: computation.frozen,
            scores: scores)
    }
}
