// Name/value sets and rules (Pacemaker's nvset and rule elements) and how they evaluate.

/// One `<nvpair>`: a name and a value (an `id-ref` to another nvpair is resolved
/// when unpacking).
public struct NameValue: Sendable, Hashable {
    /// The nvpair's id.
    public var id: String?
    /// The name.
    public var name: String
    /// The value; `nil` when the nvpair has none.
    public var value: String?

    /// Creates a pair.
    public init(id: String?, name: String, value: String?) {
        self.id = id
        self.name = name
        self.value = value
    }
}

/// A block of name/value pairs (`instance_attributes`, `meta_attributes`,
/// `cluster_property_set`, `utilization`) with an optional rule and a score.
///
/// Blocks are applied in descending score order (a block whose id is the
/// "always first" id of its context comes first); with "first wins" semantics a
/// name keeps the value of the first block that sets it, which is why higher
/// scores take precedence.
public struct AttributeSet: Sendable, Hashable {
    /// The element name (`meta_attributes`, `instance_attributes`, ...).
    public var kind: String
    /// The block's id.
    public var id: String?
    /// Its score (0 when absent).
    public var score: Score
    /// The rule that decides when the block applies; `nil` means always.
    public var rule: Rule?
    /// The pairs in document order.
    public var pairs: [NameValue]
    /// The 1-based line of the block.
    public var line: Int

    /// Creates a block.
    public init(kind: String, id: String?, score: Score, rule: Rule?, pairs: [NameValue], line: Int) {
        self.kind = kind
        self.id = id
        self.score = score
        self.rule = rule
        self.pairs = pairs
        self.line = line
    }
}

/// The comparison of a node-attribute expression.
public enum AttributeOperation: String, Sendable, Hashable {
    case lt, gt, lte, gte, eq, ne
    case defined
    case notDefined = "not_defined"
}

/// How the values of a node-attribute expression are compared.
public enum AttributeComparison: String, Sendable, Hashable {
    case string, integer, number, version
}

/// A condition on a node attribute (`<expression attribute=... operation=... value=...>`),
/// including the built-in attributes `#uname`, `#id`, `#kind`, `#is_dc`, `#cluster-name`,
/// `#site-name` and `#role` (which tests the role instead of an attribute).
public struct AttributeExpression: Sendable, Hashable {
    /// The expression's id.
    public var id: String?
    /// The node attribute tested.
    public var attribute: String
    /// The comparison.
    public var operation: AttributeOperation
    /// The value compared with; `nil` for `defined` and `not_defined`.
    public var value: String?
    /// How to compare; `nil` means Pacemaker's default (numbers for `lt`/`gt`/`lte`/`gte`,
    /// strings otherwise).
    public var comparison: AttributeComparison?
    /// The 1-based line.
    public var line: Int

    /// Creates an expression.
    public init(
        id: String?, attribute: String, operation: AttributeOperation, value: String?,
        comparison: AttributeComparison?, line: Int
    ) {
        self.id = id
        self.attribute = attribute
        self.operation = operation
        self.value = value
        self.comparison = comparison
        self.line = line
    }
}

/// One condition inside a rule.
public indirect enum RuleCondition: Sendable, Hashable {
    /// A node-attribute test.
    case attribute(AttributeExpression)
    /// A test of the resource's role (`#role` attribute expressions).
    case role(operation: AttributeOperation, value: String?, id: String?)
    /// A nested rule.
    case rule(Rule)
    /// A test of the resource agent (`<rsc_expression class= provider= type=>`).
    case resource(standard: String?, provider: String?, type: String?, id: String?)
    /// A test of the operation (`<op_expression name= interval=>`); interval in milliseconds.
    case operation(name: String, intervalMilliseconds: Int?, id: String?)
    /// A date or time condition; not supported by Meridian (reported as unsupported,
    /// evaluates to false).
    case date(id: String?, line: Int)
}

/// How a rule combines its conditions.
public enum BooleanOperator: String, Sendable, Hashable {
    case and, or
}

/// A `<rule>`: conditions combined with `and` or `or`, with a score (in location
/// constraints) or a score taken from a node attribute.
public struct Rule: Sendable, Hashable {
    /// The rule's id.
    public var id: String?
    /// The score the rule gives when it matches (location constraints); `nil` when absent.
    public var score: Score?
    /// The node attribute whose value is the score (`score-attribute`).
    public var scoreAttribute: String?
    /// How the conditions combine.
    public var booleanOperator: BooleanOperator
    /// The role the rule is limited to (`role=` on a location rule).
    public var role: Role?
    /// The conditions.
    public var conditions: [RuleCondition]
    /// The 1-based line.
    public var line: Int

    /// Creates a rule.
    public init(
        id: String?, score: Score?, scoreAttribute: String?, booleanOperator: BooleanOperator, role: Role?,
        conditions: [RuleCondition], line: Int
    ) {
        self.id = id
        self.score = score
        self.scoreAttribute = scoreAttribute
        self.booleanOperator = booleanOperator
        self.role = role
        self.conditions = conditions
        self.line = line
    }

    /// What a rule is evaluated against.
    public struct Context: Sendable {
        /// The node's attributes (`nil`: no node, so attribute tests fail).
        public var nodeAttributes: [String: String]?
        /// The role being tested (`#role`); `unknown` when not applicable.
        public var role: Role
        /// The resource agent, for `rsc_expression`.
        public var agent: ResourceAgent?
        /// The operation name and interval (milliseconds), for `op_expression`.
        public var operation: (name: String, intervalMilliseconds: Int)?

        /// Creates a context.
        public init(
            nodeAttributes: [String: String]? = nil, role: Role = .unknown, agent: ResourceAgent? = nil,
            operation: (name: String, intervalMilliseconds: Int)? = nil
        ) {
            self.nodeAttributes = nodeAttributes
            self.role = role
            self.agent = agent
            self.operation = operation
        }
    }

    /// Whether the rule holds in `context` (Pacemaker's `pe_eval_expr`): `and` needs
    /// every condition, `or` any; a rule without conditions holds for `and`.
    public func evaluate(_ context: Context) -> Bool {
        let isAnd = booleanOperator == .and
        for condition in conditions {
            let holds = Rule.evaluate(condition, context)
            if holds && !isAnd { return true }
            if !holds && isAnd { return false }
        }
        return isAnd
    }

    static func evaluate(_ condition: RuleCondition, _ context: Context) -> Bool {
        switch condition {
        case .rule(let nested):
            return nested.evaluate(context)
        case .attribute(let expression):
            guard let attributes = context.nodeAttributes else { return false }
            return acceptAttribute(
                attributes[expression.attribute], expression.value, expression.comparison, expression.operation)
        case .role(let operation, let value, _):
            let role = context.role
            guard role != .unknown else { return false }
            switch operation {
            case .defined: return role > .started
            case .notDefined: return role < .unpromoted
            case .eq: return value.flatMap(Role.init(pacemaker:)) ?? .unknown == role
            case .ne:
                // Pacemaker tests "ne" only with the roles of promotable clones.
                if role < .unpromoted { return false }
                return value.flatMap(Role.init(pacemaker:)) ?? .unknown != role
            default: return false
            }
        case .resource(let standard, let provider, let type, _):
            guard let agent = context.agent else { return false }
            if let standard, standard != agent.standard { return false }
            // The provider must match exactly, including being absent on both sides.
            if provider != agent.provider { return false }
            if let type, type != agent.type { return false }
            return true
        case .operation(let name, let interval, _):
            guard let operation = context.operation else { return false }
            if let interval, interval != operation.intervalMilliseconds { return false }
            return name == operation.name
        case .date:
            return false
        }
    }

    /// Pacemaker's `accept_attr_expr`.
    static func acceptAttribute(
        _ left: String?, _ right: String?, _ comparison: AttributeComparison?, _ operation: AttributeOperation
    ) -> Bool {
        switch operation {
        case .defined: return left != nil
        case .notDefined: return left == nil
        default: break
        }
        let order = compareAttributeValues(left, right, comparison, operation)
        switch operation {
        case .eq: return order == 0
        case .ne: return order != 0
        default: break
        }
        guard left != nil, right != nil else { return false }
        switch operation {
        case .lt: return order < 0
        case .lte: return order <= 0
        case .gt: return order > 0
        case .gte: return order >= 0
        default: return false
        }
    }

    /// Pacemaker's `compare_attr_expr_vals`.
    static func compareAttributeValues(
        _ left: String?, _ right: String?, _ comparison: AttributeComparison?, _ operation: AttributeOperation
    ) -> Int {
        guard let left, let right else {
            if left == nil && right == nil { return 0 }
            return right == nil ? 1 : -1
        }
        var kind = comparison
        if kind == nil {
            switch operation {
            case .lt, .lte, .gt, .gte:
                kind = (left.contains(".") || right.contains(".")) ? .number : .integer
            default:
                kind = .string
            }
        }
        switch kind! {
        case .string:
            return caseInsensitiveCompare(left, right)
        case .integer:
            guard let l = clampingLeadingInteger(left), let r = clampingLeadingInteger(right) else {
                return caseInsensitiveCompare(left, right)
            }
            return l < r ? -1 : (l > r ? 1 : 0)
        case .number:
            guard let l = Double(left.trimmingSpaces), let r = Double(right.trimmingSpaces) else {
                return caseInsensitiveCompare(left, right)
            }
            return l < r ? -1 : (l > r ? 1 : 0)
        case .version:
            return compareVersions(left, right)
        }
    }

    /// Pacemaker's `compare_version`: dot-separated numbers compared in turn.
    static func compareVersions(_ left: String, _ right: String) -> Int {
        let l = left.split(separator: ".").map { Int($0) ?? 0 }
        let r = right.split(separator: ".").map { Int($0) ?? 0 }
        for index in 0..<max(l.count, r.count) {
            let a = index < l.count ? l[index] : 0
            let b = index < r.count ? r[index] : 0
            if a != b { return a < b ? -1 : 1 }
        }
        return 0
    }
}

extension AttributeSet {
    /// Applies sets the way Pacemaker's `pe__unpack_dataset_nvpairs` does: sorted by
    /// descending score (the set with id `alwaysFirst` first), skipping sets whose
    /// rule does not hold; `#default` removes a value; without `overwrite` the first
    /// value of a name wins.
    static func apply(
        _ sets: [AttributeSet], to table: inout [String: String], context: Rule.Context, overwrite: Bool,
        alwaysFirst: String? = nil
    ) {
        for set in sortedForApplication(sets, alwaysFirst: alwaysFirst) {
            if let rule = set.rule, !rule.evaluate(context) { continue }
            for pair in set.pairs {
                guard let value = pair.value else { continue }
                if value.lowercased() == "#default" {
                    table[pair.name] = nil
                } else if table[pair.name] == nil || overwrite {
                    table[pair.name] = value
                }
            }
        }
    }

    /// The application order: GLib's sort of the reversed document order, by
    /// descending score, with `alwaysFirst` first.
    static func sortedForApplication(_ sets: [AttributeSet], alwaysFirst: String?) -> [AttributeSet] {
        glibSorted(sets.reversed()) { a, b in
            if let alwaysFirst {
                if equalsIgnoringCase(a.id, alwaysFirst) { return -1 }
                if equalsIgnoringCase(b.id, alwaysFirst) { return 1 }
            }
            if a.score < b.score { return 1 }
            if a.score > b.score { return -1 }
            return 0
        }
    }
}
