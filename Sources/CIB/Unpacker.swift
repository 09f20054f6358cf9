// Unpacking: configuration (options, nodes, resources). Status is in UnpackStatus.swift.
import MeridianXML

/// A node while the CIB is being unpacked (mutable; frozen into ``Node`` at the end).
final class WorkingNode {
    let id: String
    let name: String
    let kind: Node.Kind
    let score: Score
    let line: Int
    var attributes: [String: String] = [:]
    var configured: [String: String] = [:]
    var transient: [String: String] = [:]
    var seen = false
    var online = false
    var unclean = false
    var pending = false
    var standby = false
    var standbyOnFail = false
    var maintenance = false
    var shutdown = false
    var expectedUp = false
    var isDC = false
    var historyUnpacked = false
    var fenceReason: String?
    var runningResources: [Int] = []

    init(id: String, name: String, kind: Node.Kind, score: Score, line: Int) {
        self.id = id
        self.name = name
        self.kind = kind
        self.score = score
        self.line = line
    }
}

/// A resource while the CIB is being unpacked (mutable; frozen into ``Resource``).
final class WorkingResource {
    let index: Int
    let id: String
    let configID: String
    let element: String
    let variant: Resource.Variant
    let xml: XMLElement?
    let agent: ResourceAgent?
    let parent: Int?
    let line: Int
    var children: [Int] = []
    var meta: [String: String] = [:]
    var parameters: [String: String] = [:]
    var operations: [OperationDefinition] = []
    var operationMeta: [[AttributeSet]] = []
    var description: String?

    // Flags, as Pacemaker's pe_rsc_* flags.
    var managed = true
    var maintenance = false
    var unique = false
    var promotable = false
    var orphan = false
    var failed = false
    var blocked = false
    var failureIgnored = false
    var mustStop = false
    var startPending = false
    var fenceDevice = false
    var needsFencing = false
    var needsQuorum = false
    var critical = true
    var notify = false
    var allowMigrate = false
    var isRemoteConnection = false

    var priority = Score.zero
    var stickiness = Score.zero
    var migrationThreshold = Score.infinity
    var failureTimeout = 0
    var recovery = MultipleActivePolicy.stopStart
    var restartTypeRestart = false
    var requires = StartRequirement.quorum

    var targetRole: Role?
    var role = Role.stopped
    var nextRole = Role.unknown
    var runningOn: [Int] = []
    var knownOn: Set<Int> = []
    /// Pacemaker's `allowed_nodes`, by node index; empty until a node is added.
    var allowedNodes: [Score?] = []
    var historyName: String?
    var pendingTask: String?
    var pendingNode: Int?
    var histories: [ResourceHistory] = []
    var requiredActions: [RequiredAction] = []

    // Clones.
    var cloneMax = 0
    var cloneNodeMax = 1
    var promotedMax = 1
    var promotedNodeMax = 1
    var cloneOrdered = false
    var cloneChildXML: XMLElement?
    var totalClones = 0

    init(
        index: Int, id: String, configID: String, element: String, variant: Resource.Variant, xml: XMLElement?,
        agent: ResourceAgent?, parent: Int?, line: Int
    ) {
        self.index = index
        self.id = id
        self.configID = configID
        self.element = element
        self.variant = variant
        self.xml = xml
        self.agent = agent
        self.parent = parent
        self.line = line
    }
}

/// Attribute blocks already read, by element; a cache private to one unpacking.
final class AttributeSetCache {
    var meta: [XMLElement: [AttributeSet]] = [:]
    var instance: [XMLElement: [AttributeSet]] = [:]
}

/// Pacemaker's `cluster_status`, rewritten over Meridian's value types: reads the
/// document once, in Pacemaker's order, into working objects, then freezes them.
struct Unpacker {
    let document: XMLDocument
    let source: String
    let now: Int?
    var effectiveTime: Int?
    var recheckBy: Int?

    var properties = ClusterProperties.defaults
    var haveQuorum = false
    var dcID: String?
    var executionDate: Int?
    var featureSet: String?
    var validateWith: String?
    var version = CIBVersion(adminEpoch: 0, epoch: 0, updates: 0)
    var haveFencingResource = false
    var enableUnfencing = false

    var nodes: [WorkingNode] = []
    var resources: [WorkingResource] = []
    var topLevel: [Int] = []
    var resourceDefaultSets: [AttributeSet] = []
    var operationDefaultSets: [AttributeSet] = []
    var tickets: [Ticket] = []
    var failed: [FailedOperation] = []
    var historyLocations: [HistoryLocation] = []
    var unsupported: [UnsupportedFeature] = []
    var warnings: [CIBWarning] = []
    var constraints = Constraints()
    var seenResourceIDs: [String: XMLElement] = [:]
    var unsupportedResourceIDs: Set<String> = []
    var promotableConfigIDs: Set<String> = []
    /// Names of remote and guest nodes (unsupported), lower-cased.
    var unsupportedNodeNames: Set<String> = []
    /// Resources by unique id, and by the names histories used for them (Pacemaker
    /// searches the resource tree for each history entry; an index keeps large
    /// clusters fast).
    var idIndex: [String: Int] = [:]
    var historyNameIndex: [String: [Int]] = [:]
    /// Failed operations already recorded, by operation key and node.
    var failedKeys: Set<String> = []
    /// Attribute blocks already read, by element (clone instances share their element).
    let setsCache = AttributeSetCache()

    init(document: XMLDocument, now: Int?) {
        self.document = document
        self.source = document.sourceName
        self.now = now
    }

    // MARK: - Errors and reports

    func error(_ code: CIBError.Code, _ message: String, at xml: XMLElement?, hint: String) -> CIBError {
        CIBError(code, message, at: xml, source: source, hint: hint)
    }

    mutating func warn(_ message: String, at xml: XMLElement?) {
        warnings.append(CIBWarning(message, at: xml))
    }

    mutating func report(
        _ name: String, _ detail: String, at xml: XMLElement, id: String? = nil,
        impact: UnsupportedFeature.Impact = .affectsDecisions
    ) {
        unsupported.append(
            UnsupportedFeature(
                name: name, detail: detail, element: xml.name, elementID: id ?? nearestID(xml),
                line: xml.line > 0 ? xml.line : nil, impact: impact))
    }

    func nearestID(_ xml: XMLElement) -> String? {
        var current: XMLElement? = xml
        while let element = current {
            if let id = element.attribute("id") { return id }
            current = element.parent
        }
        return nil
    }

    /// The `id` of `xml`, which must be present and non-empty.
    func requiredID(_ xml: XMLElement, what: String) throws(CIBError) -> String {
        guard let id = xml.attribute("id"), !id.isEmpty else {
            throw error(
                .missingID, "\(what) has no id", at: xml,
                hint:
                    "add an id attribute that is unique in the CIB, for example <\(xml.name) id=\"my-\(xml.name)\" ...>"
            )
        }
        return id
    }

    // MARK: - Run

    mutating func run() throws(CIBError) -> CIBModel {
        let root = document.root
        guard root.name == "cib" else {
            throw error(
                .notACIB, "the root element is <\(root.name)>, not <cib>", at: root,
                hint: "give a Pacemaker CIB (cibadmin --query, or a file saved by crm_simulate or crm_report)")
        }
        guard let configuration = root.firstChild(named: "configuration") else {
            throw error(
                .notACIB, "<cib> has no <configuration>", at: root,
                hint: "add <configuration> with <crm_config>, <nodes>, <resources> and <constraints>")
        }
        readCIBAttributes(root)
        try unpackOptions(configuration)
        readDefaults(configuration)
        try unpackNodes(configuration)
        try unpackResources(configuration)
        scanConfigurationForUnsupported(configuration)
        try unpackConstraints(configuration)
        if let status = root.firstChild(named: "status") {
            try unpackStatus(status)
        }
        addTicketsNamedByConstraints()
        return freeze()
    }

    mutating func readCIBAttributes(_ root: XMLElement) {
        haveQuorum = isTrue(root.attribute("have-quorum"))
        dcID = root.attribute("dc-uuid")
        executionDate = root.attribute("execution-date").flatMap { clampingLeadingInteger($0) }
        featureSet = root.attribute("crm_feature_set")
        validateWith = root.attribute("validate-with")
        version = CIBVersion(
            adminEpoch: root.attribute("admin_epoch").flatMap { clampingLeadingInteger($0) } ?? 0,
            epoch: root.attribute("epoch").flatMap { clampingLeadingInteger($0) } ?? 0,
            updates: root.attribute("num_updates").flatMap { clampingLeadingInteger($0) } ?? 0)
        effectiveTime = now ?? executionDate
    }

    // MARK: - Attribute sets and rules

    /// Reads the attribute blocks named `kind` that are children of `xml`.
    func attributeSets(_ xml: XMLElement?, kind: String? = nil) -> [AttributeSet] {
        guard let xml else { return [] }
        var sets: [AttributeSet] = []
        for child in xml.children where kind == nil || child.name == kind {
            let block = resolveReference(child)
            var pairs: [NameValue] = []
            var list = block
            // Pacemaker accepts an <attributes> wrapper (very old CIBs).
            if let first = block.children.first, first.name == "attributes" { list = first }
            for pair in list.children(named: "nvpair") {
                let referenced = pair.attribute("id-ref").flatMap { findByID($0, element: "nvpair") }
                guard let name = pair.attribute("name") ?? referenced?.attribute("name") else { continue }
                pairs.append(
                    NameValue(
                        id: pair.attribute("id"), name: name,
                        value: pair.attribute("value") ?? referenced?.attribute("value")))
            }
            let rule = block.firstChild(named: "rule").map { readRule($0) }
            sets.append(
                AttributeSet(
                    kind: child.name, id: block.attribute("id"), score: Score(pacemaker: block.attribute("score")),
                    rule: rule, pairs: pairs, line: child.line))
        }
        return sets
    }

    /// The element an `id-ref` points to, or the element itself.
    func resolveReference(_ xml: XMLElement) -> XMLElement {
        guard let reference = xml.attribute("id-ref") else { return xml }
        return findByID(reference, element: xml.name) ?? xml
    }

    func findByID(_ id: String, element: String) -> XMLElement? {
        let quoted = id.contains("'") ? "\"\(id)\"" : "'\(id)'"
        return (try? document.select("//\(element)[@id=\(quoted)]"))?.first
    }

    func readRule(_ xml: XMLElement) -> Rule {
        let rule = resolveReference(xml)
        var conditions: [RuleCondition] = []
        for child in rule.children {
            switch child.name {
            case "expression":
                let attribute = child.attribute("attribute") ?? ""
                let operation = AttributeOperation(rawValue: (child.attribute("operation") ?? "").lowercased()) ?? .eq
                if attribute == "#role" {
                    conditions.append(
                        .role(operation: operation, value: child.attribute("value"), id: child.attribute("id")))
                } else {
                    conditions.append(
                        .attribute(
                            AttributeExpression(
                                id: child.attribute("id"), attribute: attribute, operation: operation,
                                value: child.attribute("value"),
                                comparison: child.attribute("type").flatMap {
                                    AttributeComparison(rawValue: $0.lowercased())
                                }, line: child.line)))
                }
            case "rule":
                conditions.append(.rule(readRule(child)))
            case "date_expression":
                conditions.append(.date(id: child.attribute("id"), line: child.line))
            case "rsc_expression":
                conditions.append(
                    .resource(
                        standard: child.attribute("class"), provider: child.attribute("provider"),
                        type: child.attribute("type"), id: child.attribute("id")))
            case "op_expression":
                conditions.append(
                    .operation(
                        name: child.attribute("name") ?? "",
                        intervalMilliseconds: child.attribute("interval").map {
                            pacemakerIntervalMilliseconds($0) ?? 0
                        },
                        id: child.attribute("id")))
            default:
                continue
            }
        }
        return Rule(
            id: rule.attribute("id"), score: rule.attribute("score").map { Score(pacemaker: $0) },
            scoreAttribute: rule.attribute("score-attribute"),
            booleanOperator: (rule.attribute("boolean-op") ?? "").lowercased() == "or" ? .or : .and,
            role: rule.attribute("role").flatMap(Role.init(pacemaker:)), conditions: conditions, line: rule.line)
    }

    // MARK: - Options

    /// Cluster option names that Pacemaker's upgrade to schema 3.0 renames or moves.
    static let pre30OptionNames: Set<String> = [
        "cluster_recheck_interval", "dc_deadtime", "default-action-timeout", "default_action_timeout",
        "default-migration-threshold", "default_migration_threshold", "default-resource-stickiness",
        "default_resource_stickiness", "default-resource-failure-stickiness", "default_resource_failure_stickiness",
        "election_timeout", "is-managed-default", "is_managed_default", "no_quorum_policy", "remove_after_stop",
        "shutdown_escalation", "startup_fencing", "stonith_action", "stonith_enabled", "stop_orphan_actions",
        "stop_orphan_resources", "symmetric_cluster", "transition_idle_timeout",
    ]

    mutating func unpackOptions(_ configuration: XMLElement) throws(CIBError) {
        var values: [String: String] = [:]
        let crmConfig = configuration.firstChild(named: "crm_config")
        AttributeSet.apply(
            attributeSets(crmConfig, kind: "cluster_property_set"), to: &values, context: Rule.Context(),
            overwrite: false, alwaysFirst: "cib-bootstrap-options")
        let panic = document.root.attribute("no-quorum-panic").flatMap { clampingLeadingInteger($0) } ?? 0
        properties = ClusterProperties.read(
            values, haveQuorum: haveQuorum, noQuorumPanic: panic != 0, warnings: &warnings)
        if properties.haveWatchdog { haveFencingResource = true }
        if let crmConfig {
            // Pacemaker renames these when it upgrades a pre-3.0 CIB (upgrade-2.10.xsl); Meridian
            // does not upgrade, so a value under an old name would be silently lost.
            for pair in (try? crmConfig.select(".//nvpair")) ?? [] {
                guard let name = pair.attribute("name"), Unpacker.pre30OptionNames.contains(name) else { continue }
                report(
                    "pre-3.0 cluster option", "\(name) (upgrade the CIB with cibadmin --upgrade)", at: pair)
            }
            if properties.placementStrategy != "default" {
                report(
                    "utilization placement", "placement-strategy=\(properties.placementStrategy)", at: crmConfig)
            }
            if properties.shutdownLock {
                report("shutdown lock", "shutdown-lock=true", at: crmConfig)
            }
            if properties.nodeHealthStrategy != "none" {
                report("node health", "node-health-strategy=\(properties.nodeHealthStrategy)", at: crmConfig)
            }
        }
        // Unfencing is switched on by any requires=unfencing or provides=unfencing meta attribute.
        let unfencing =
            (try? document.select(
                "/cib/configuration/resources//meta_attributes/nvpair[(@name='provides' or @name='requires') "
                    + "and @value='unfencing'] | /cib/configuration/rsc_defaults/meta_attributes/nvpair["
                    + "(@name='provides' or @name='requires') and @value='unfencing']")) ?? []
        enableUnfencing = !unfencing.isEmpty
        if let first = unfencing.first {
            report("unfencing", "\(first.attribute("name") ?? "requires")=unfencing", at: first)
        }
    }

    mutating func readDefaults(_ configuration: XMLElement) {
        let resourceDefaults = (try? document.select("//rsc_defaults"))?.first
        let operationDefaults = (try? document.select("//op_defaults"))?.first
        resourceDefaultSets = attributeSets(resourceDefaults).filter {
            $0.kind == "meta_attributes" || $0.kind == "instance_attributes"
        }
        operationDefaultSets = attributeSets(operationDefaults).filter {
            $0.kind == "meta_attributes" || $0.kind == "instance_attributes"
        }
    }

    // MARK: - Nodes

    mutating func unpackNodes(_ configuration: XMLElement) throws(CIBError) {
        guard let section = configuration.firstChild(named: "nodes") else { return }
        var seenIDs: [String: XMLElement] = [:]
        for xml in section.children(named: "node") {
            let id = try requiredID(xml, what: "node")
            guard let name = xml.attribute("uname"), !name.isEmpty else {
                throw error(
                    .missingID, "node \"\(id)\" has no uname", at: xml,
                    hint: "add uname=\"<host name>\", the name the cluster layer knows the node by")
            }
            if let other = seenIDs[id.lowercased()] {
                throw error(
                    .duplicateID, "node id \"\(id)\" is used twice (also at line \(other.line))", at: xml,
                    hint: "give each <node> its own id")
            }
            if nodes.contains(where: { $0.name.lowercased() == name.lowercased() }) {
                throw error(
                    .duplicateID, "more than one node is named \"\(name)\"", at: xml,
                    hint: "remove the duplicate <node uname=\"\(name)\"> entry")
            }
            seenIDs[id.lowercased()] = xml
            var kind = Node.Kind.member
            switch xml.attribute("type")?.lowercased() {
            case nil, "member": kind = .member
            case "remote":
                kind = .remote
                report("remote node", "node \(name) has type=remote", at: xml)
            case "ping":
                kind = .ping
                report("ping node", "node \(name) has type=ping (deprecated)", at: xml, impact: .affectsDecisions)
            default:
                warn("node type \"\(xml.attribute("type") ?? "")\" is unknown; Pacemaker assumes ping", at: xml)
                kind = .ping
            }
            let node = WorkingNode(
                id: id, name: name, kind: kind, score: Score(pacemaker: xml.attribute("score")), line: xml.line)
            node.unclean = properties.stonithEnabled && properties.startupFencing
            node.attributes["#kind"] = kind == .member || kind == .ping ? "cluster" : "remote"
            addNodeAttributes(node, sets: attributeSets(xml, kind: "instance_attributes"), overwrite: false)
            node.configured = node.attributes.filter { !$0.key.hasPrefix("#") }
            if xml.firstChild(named: "utilization") != nil, properties.placementStrategy != "default" {
                report("utilization", "node \(name) has utilization", at: xml)
            }
            glibInsertSorted(node, into: &nodes) { pacemakerNameCompare($0.name, $1.name) }
        }
    }

    /// Pacemaker's `add_node_attrs`: the built-in attributes, then the blocks.
    mutating func addNodeAttributes(_ node: WorkingNode, sets: [AttributeSet], overwrite: Bool) {
        node.attributes["#uname"] = node.name
        node.attributes["#id"] = node.id
        if let dcID, dcID.lowercased() == node.id.lowercased() {
            node.isDC = true
            node.attributes["#is_dc"] = "true"
        } else {
            node.attributes["#is_dc"] = "false"
        }
        if let clusterName = properties.clusterName {
            node.attributes["#cluster-name"] = clusterName
        }
        AttributeSet.apply(sets, to: &node.attributes, context: Rule.Context(), overwrite: overwrite)
        if node.attributes["#site-name"] == nil {
            if let site = node.attributes["site-name"] {
                node.attributes["#site-name"] = site
            } else if let clusterName = properties.clusterName {
                node.attributes["#site-name"] = clusterName
            }
        }
    }

    func nodeIndex(named name: String?) -> Int? {
        guard let name else { return nil }
        let lowered = name.lowercased()
        return nodes.firstIndex { $0.name.lowercased() == lowered }
    }

    func nodeIndex(id: String?) -> Int? {
        guard let id else { return nil }
        let lowered = id.lowercased()
        return nodes.firstIndex { $0.id.lowercased() == lowered }
    }
}
