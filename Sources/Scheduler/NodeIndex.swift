// Facts about the nodes that the scores phase's inner loops ask for again and again.
import CIB

/// What the scores phase needs to know about the nodes, computed once per
/// computation instead of once per resource and node pair: which nodes may run
/// resources, and the nodes grouped by the value of a node attribute (colocations
/// compare attribute values case-insensitively, `#uname` by default).
///
/// A cache private to one ``ScoresComputation``: everything in it is a function of
/// the model alone, so results are the same as computing each fact where it is used.
/// A class, so that the computation's non-mutating functions can fill it lazily.
final class NodeIndex {
    /// Nodes grouped by the lower-cased value of one attribute.
    struct Groups {
        /// The group of each node (indexed like the model's nodes); -1 where the
        /// attribute is not set.
        let groupOf: [Int]
        /// The nodes of each group, in node order.
        let members: [[Int]]

        /// Nodes `a` and `b` both have the attribute, with the same value ignoring case.
        func same(_ a: Int, _ b: Int) -> Bool {
            groupOf[a] >= 0 && groupOf[a] == groupOf[b]
        }
    }

    private var groups: [String: Groups] = [:]
    private var usable: [Bool] = []
    private var ranks: [Int]?

    /// Each node's position when the names are sorted by their UTF-8 bytes (the
    /// last tie-breaker when nodes are sorted for assignment).
    func nameRanks(_ model: CIBModel) -> [Int] {
        if let ranks { return ranks }
        var result = Array(repeating: 0, count: model.nodes.count)
        let sorted = model.nodes.indices.sorted {
            model.nodes[$0].name.utf8.lexicographicallyPrecedes(model.nodes[$1].name.utf8)
        }
        for (rank, node) in sorted.enumerated() { result[node] = rank }
        ranks = result
        return result
    }

    /// The nodes grouped by `attribute`.
    func groups(_ attribute: String, _ model: CIBModel) -> Groups {
        if let known = groups[attribute] { return known }
        var numbers: [String: Int] = [:]
        var groupOf: [Int] = []
        var members: [[Int]] = []
        groupOf.reserveCapacity(model.nodes.count)
        for node in model.nodes {
            guard let value = node.attributes[attribute]?.lowercased() else {
                groupOf.append(-1)
                continue
            }
            if let number = numbers[value] {
                groupOf.append(number)
                members[number].append(node.index)
            } else {
                numbers[value] = members.count
                groupOf.append(members.count)
                members.append([node.index])
            }
        }
        let result = Groups(groupOf: groupOf, members: members)
        groups[attribute] = result
        return result
    }

    /// The node is online, clean, and not in standby, maintenance or shutdown
    /// (`pcmk__node_available` without scores, before ticket fencing).
    func isUsable(_ node: Int, _ model: CIBModel) -> Bool {
        if usable.isEmpty {
            usable = model.nodes.map { node in
                let state = node.state
                return state.online && !state.unclean && !state.standby && !state.maintenance && !state.shutdown
            }
        }
        return usable[node]
    }
}

/// A value per resource (by index), absent until set: a dictionary keyed by
/// resource index, stored as an array because the scores phase reads it in its
/// inner loops.
struct ResourceTable<Value> {
    private var values: [Value?] = []

    /// The value for a resource; setting `nil` removes it.
    subscript(index: Int) -> Value? {
        get { index < values.count ? values[index] : nil }
        set {
            if index >= values.count {
                guard newValue != nil else { return }
                values.append(contentsOf: repeatElement(nil, count: index - values.count + 1))
            }
            values[index] = newValue
        }
    }
}

/// A set of resource indices, stored as flags (see ``ResourceTable``).
struct ResourceFlags {
    private var flags: [Bool] = []

    func contains(_ index: Int) -> Bool {
        index < flags.count && flags[index]
    }

    mutating func insert(_ index: Int) {
        if index >= flags.count { flags.append(contentsOf: repeatElement(false, count: index - flags.count + 1)) }
        flags[index] = true
    }

    mutating func remove(_ index: Int) {
        if index < flags.count { flags[index] = false }
    }
}
