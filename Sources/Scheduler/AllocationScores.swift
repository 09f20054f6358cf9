// The scores phase's result: allocation scores per resource and node.
import CIB

/// Which of Pacemaker's score reports a line belongs to (the function name
/// `crm_simulate -s` prints before each score).
public enum ScoreKind: String, Sendable, Hashable, CaseIterable {
    /// `pcmk__primitive_assign`: a primitive's scores when it is assigned a node.
    case primitiveAssign = "pcmk__primitive_assign"
    /// `pcmk__group_assign`: a group's (and its members') scores.
    case groupAssign = "pcmk__group_assign"
    /// `pcmk__clone_allocate`: a clone's (and its instances') scores.
    case cloneAssign = "pcmk__clone_allocate"
    /// A promotable clone instance's promotion score on the node it was given
    /// (`INSTANCE promotion score on NODE: S`, node `none` when stopped).
    case promotion = "promotion"
}

/// One allocation score: a resource on a node.
public struct ScoreEntry: Sendable, Hashable {
    /// The report it belongs to.
    public let kind: ScoreKind
    /// The resource's id (`rsc`, or `rsc:N` for a clone instance).
    public let resource: String
    /// The node's name.
    public let node: String
    /// The score.
    public let score: Score

    /// Creates an entry.
    public init(kind: ScoreKind, resource: String, node: String, score: Score) {
        self.kind = kind
        self.resource = resource
        self.node = node
        self.score = score
    }

    /// The line `crm_simulate -s` prints for it.
    public var line: String {
        if kind == .promotion { return "\(resource) promotion score on \(node): \(score)" }
        return "\(kind.rawValue): \(resource) allocation score on \(node): \(score)"
    }
}

/// The second phase of the scheduler: for each resource and node, the allocation
/// score Pacemaker 2.1.5 reports, computed from an unpacked ``CIBModel`` by
/// ``AllocationScores/compute(_:)``.
///
/// Immutable; the entries are in the order the scores were computed (Pacemaker
/// reports a resource once per assignment attempt, so a resource may appear more
/// than once).
public struct AllocationScores: Sendable, Hashable {
    /// Every reported score, in computation order.
    public let entries: [ScoreEntry]
    /// The resources (ids) whose lines of each kind this implementation computes;
    /// lines of other resources are not produced yet (see Docs/scheduler.md).
    public let covered: [ScoreKind: Set<String>]

    /// Creates the value.
    public init(entries: [ScoreEntry], covered: [ScoreKind: Set<String>]) {
        self.entries = entries
        self.covered = covered
    }

    /// The lines `crm_simulate -sSQ` prints, sorted as the corpus stores them.
    public func renderedLines() -> [String] {
        entries.map(\.line).sorted()
    }

    /// The scores of one resource on every node it was scored on (the last report).
    public func scores(of resource: String, kind: ScoreKind = .primitiveAssign) -> [String: Score] {
        var result: [String: Score] = [:]
        for entry in entries where entry.kind == kind && entry.resource == resource {
            result[entry.node] = entry.score
        }
        return result
    }
}
