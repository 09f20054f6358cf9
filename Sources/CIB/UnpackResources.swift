// Unpacking resources: primitives, groups, clones (and legacy master), with
// Pacemaker's meta-attribute inheritance and clone instance expansion.
import MeridianXML

extension Unpacker {
    mutating func unpackResources(_ configuration: XMLElement) throws(CIBError) {
        guard let section = configuration.firstChild(named: "resources") else { return }
        // Remote and guest nodes are unsupported; their names may still appear in constraints.
        for xml in (try? section.select(".//primitive[@class='ocf' and @provider='pacemaker' and @type='remote']"))
            ?? []
        {
            if let id = xml.attribute("id") { unsupportedNodeNames.insert(id.lowercased()) }
        }
        for xml in (try? section.select(".//meta_attributes/nvpair[@name='remote-node']")) ?? [] {
            if let name = xml.attribute("value") { unsupportedNodeNames.insert(name.lowercased()) }
        }
        for xml in section.children {
            switch xml.name {
            case "primitive", "group", "clone", "master":
                let index = try unpackResource(xml, parent: nil, instance: nil)
                topLevel.append(index)
            case "template", "bundle":
                report(
                    xml.name == "bundle" ? "bundle" : "resource template", "\(xml.name) \(xml.attribute("id") ?? "")",
                    at: xml)
                // Constraints may name these and what they contain; they are reported, not errors.
                for element in [xml] + ((try? xml.select(".//primitive")) ?? []) {
                    if let id = element.attribute("id") { unsupportedResourceIDs.insert(id) }
                }
            default:
                throw error(
                    .invalidValue, "<\(xml.name)> is not a resource", at: xml,
                    hint: "inside <resources> use <primitive>, <group>, <clone> or <master>")
            }
        }
        // Pacemaker lists resources by descending priority (stable for equal priorities).
        topLevel = glibSorted(topLevel) { a, b in
            let pa = resources[a].priority
            let pb = resources[b].priority
            return pa > pb ? -1 : (pa < pb ? 1 : 0)
        }
        if properties.stonithEnabled && !haveFencingResource {
            warn(
                "fencing is enabled but no fencing device is configured: Pacemaker will not start resources "
                    + "(configure a stonith resource, or set stonith-enabled=false)", at: section)
        }
    }

    /// Unpacks one resource element (Pacemaker's `pe__unpack_resource`) and returns its index.
    mutating func unpackResource(_ xml: XMLElement, parent: Int?, instance: String?) throws(CIBError) -> Int {
        let configID = try requiredID(xml, what: "<\(xml.name)>")
        if instance == nil || instance == "0" {
            if let other = seenResourceIDs[configID], other != xml {
                throw error(
                    .duplicateID, "resource id \"\(configID)\" is also used at line \(other.line)", at: xml,
                    hint: "give every primitive, group and clone its own id")
            }
            seenResourceIDs[configID] = xml
        }
        if let template = xml.attribute("template") {
            report("resource template", "template=\(template)", at: xml)
        }
        let variant: Resource.Variant
        switch xml.name {
        case "primitive": variant = .primitive
        case "group": variant = .group
        default: variant = .clone
        }
        var agent: ResourceAgent?
        if variant == .primitive {
            if let template = xml.attribute("template"), xml.attribute("class") == nil {
                // Reported as unsupported above; kept so that constraints naming it resolve.
                agent = ResourceAgent(standard: "template", provider: nil, type: template)
            } else {
                guard let standard = xml.attribute("class") else {
                    throw error(
                        .invalidValue, "primitive \"\(configID)\" has no class", at: xml,
                        hint: "add class=\"ocf\" (with provider= and type=), or lsb, systemd, service, stonith")
                }
                guard let type = xml.attribute("type") else {
                    throw error(
                        .invalidValue, "primitive \"\(configID)\" has no type", at: xml,
                        hint: "add type=\"<agent name>\", for example type=\"Dummy\"")
                }
                let provider = xml.attribute("provider")
                if standard.lowercased() == "ocf" && provider == nil {
                    throw error(
                        .invalidValue, "OCF primitive \"\(configID)\" has no provider", at: xml,
                        hint: "add provider=\"heartbeat\" or provider=\"pacemaker\" (the agent's directory)")
                }
                agent = ResourceAgent(standard: standard, provider: provider, type: type)
            }
        }
        let id = instance.map { "\(configID):\($0)" } ?? configID
        let rsc = WorkingResource(
            index: resources.count, id: id, configID: configID, element: xml.name, variant: variant, xml: xml,
            agent: agent, parent: parent, line: xml.line)
        resources.append(rsc)
        if idIndex[id] == nil { idIndex[id] = rsc.index }
        rsc.description = xml.attribute("description")
        try configure(rsc, xml: xml, instance: instance)
        return rsc.index
    }

    /// Unpacks an orphan: a resource found in the history but not in the
    /// configuration (Pacemaker's `create_fake_resource`).
    mutating func unpackOrphan(id: String, entry: XMLElement) throws(CIBError) -> WorkingResource {
        let agent = ResourceAgent(
            standard: entry.attribute("class") ?? "ocf", provider: entry.attribute("provider"),
            type: entry.attribute("type") ?? "unknown")
        let rsc = WorkingResource(
            index: resources.count, id: id, configID: id, element: "primitive", variant: .primitive, xml: nil,
            agent: agent, parent: nil, line: 0)
        resources.append(rsc)
        if idIndex[id] == nil { idIndex[id] = rsc.index }
        var attributes: [String: String] = ["id": id, "class": agent.standard, "type": agent.type]
        if let provider = agent.provider { attributes["provider"] = provider }
        if let container = entry.attribute("container") {
            attributes["container"] = container
            report("container resource", "orphan \(id) was in container \(container)", at: entry)
        }
        try configure(rsc, xml: nil, instance: nil, orphanAttributes: attributes)
        rsc.orphan = true
        topLevel.append(rsc.index)
        return rsc
    }

    /// Meta attributes, parameters, flags and the variant's own unpacking.
    mutating func configure(
        _ rsc: WorkingResource, xml: XMLElement?, instance: String?, orphanAttributes: [String: String] = [:]
    ) throws(CIBError) {
        let context = Rule.Context(agent: rsc.agent)

        // Meta attributes: the element's own XML attributes, its meta_attributes, the
        // parents' configured meta_attributes, rsc_defaults, then whatever the parent
        // has. Each step only fills names not set yet.
        var meta: [String: String] = [:]
        func add(_ name: String, _ value: String) {
            if value.lowercased() == "#default" { return }
            if meta[name] == nil { meta[name] = value }
        }
        if let xml {
            for attribute in xml.attributes { add(attribute.name, attribute.value) }
        } else {
            for (name, value) in orphanAttributes { add(name, value) }
        }
        if let instance { add("clone", instance) }
        AttributeSet.apply(metaSets(rsc), to: &meta, context: context, overwrite: false)
        if rsc.parent != nil {
            var inherited: [String: String] = [:]
            var ancestor = rsc.parent
            while let index = ancestor {
                AttributeSet.apply(metaSets(resources[index]), to: &inherited, context: context, overwrite: false)
                ancestor = resources[index].parent
            }
            for (name, value) in inherited { add(name, value) }
        }
        AttributeSet.apply(
            resourceDefaultSets.filter { $0.kind == "meta_attributes" }, to: &meta, context: context,
            overwrite: false)
        if let parent = rsc.parent {
            for (name, value) in resources[parent].meta { add(name, value) }
        }
        rsc.meta = meta

        // Parameters: own instance_attributes, then the parents', then rsc_defaults'.
        var parameters: [String: String] = [:]
        var holder: WorkingResource? = rsc
        while let current = holder {
            AttributeSet.apply(instanceSets(current), to: &parameters, context: Rule.Context(), overwrite: false)
            holder = current.parent.map { resources[$0] }
        }
        AttributeSet.apply(
            resourceDefaultSets.filter { $0.kind == "instance_attributes" }, to: &parameters,
            context: Rule.Context(), overwrite: false)
        rsc.parameters = parameters

        if rsc.variant == .primitive, let xml {
            readOperations(rsc, xml: xml)
        }

        // Flags and settings.
        rsc.managed = !properties.maintenanceMode
        rsc.priority = Score(pacemaker: meta["priority"])
        rsc.critical = meta["critical"].map { isTrue($0) } ?? true
        rsc.notify = isTrue(meta["notify"])
        if let agent = rsc.agent, agent.standard.lowercased() == "ocf", agent.provider?.lowercased() == "pacemaker",
            agent.type == "remote"
        {
            rsc.isRemoteConnection = true
            if let xml { report("remote node", "connection resource \(rsc.configID)", at: xml) }
        }
        if let xml, meta["remote-node"] != nil {
            report("guest node", "remote-node=\(meta["remote-node"] ?? "")", at: xml)
        }
        rsc.allowMigrate = meta["allow-migrate"].map { isTrue($0) } ?? rsc.isRemoteConnection
        if let value = meta["is-managed"], value.lowercased() != "default" {
            rsc.managed = isTrue(value)
        }
        if isTrue(meta["maintenance"]) {
            rsc.managed = false
            rsc.maintenance = true
        }
        if properties.maintenanceMode {
            rsc.managed = false
            rsc.maintenance = true
        }
        let top = resources[topAncestor(rsc.index)]
        if top.variant == .clone {
            rsc.unique = isTrue(meta["globally-unique"])
            if isTrue(meta["promotable"]) {
                rsc.promotable = true
            } else if rsc.element == "master" {
                rsc.meta["promotable"] = "true"
                rsc.promotable = true
            }
        } else {
            rsc.unique = true
        }
        rsc.restartTypeRestart = meta["restart-type"]?.lowercased() == "restart"
        switch meta["multiple-active"]?.lowercased() {
        case "stop_only": rsc.recovery = .stopOnly
        case "block": rsc.recovery = .block
        case "stop_unexpected": rsc.recovery = .stopUnexpected
        case nil, "stop_start": rsc.recovery = .stopStart
        case let other?:
            warn("multiple-active=\"\(other)\" is not valid; using stop_start", at: xml)
            rsc.recovery = .stopStart
        }
        if let value = meta["resource-stickiness"], value.lowercased() != "default" {
            rsc.stickiness = Score(pacemaker: value)
        }
        if let value = meta["migration-threshold"], value.lowercased() != "default" {
            rsc.migrationThreshold = Score(pacemaker: value)
            if rsc.migrationThreshold < .zero {
                warn("migration-threshold must be non-negative; using 1", at: xml)
                rsc.migrationThreshold = Score(1)
            }
        }
        if rsc.agent?.isFencing == true {
            haveFencingResource = true
            rsc.fenceDevice = true
        }
        unpackRequires(rsc, meta["requires"], isDefault: false, at: xml)
        if let value = meta["failure-timeout"] {
            rsc.failureTimeout = (pacemakerIntervalMilliseconds(value) ?? 0) / 1000
        }
        if let value = meta["target-role"] {
            rsc.targetRole = targetRole(rsc, value, at: xml)
            rsc.nextRole = rsc.targetRole ?? .unknown
        }
        if rsc.notify, let xml {
            report("notifications", "notify=true", at: xml)
        }
        if rsc.allowMigrate, !rsc.isRemoteConnection, let xml {
            report("live migration", "allow-migrate=true", at: xml)
        }
        if meta["container"] != nil, let xml {
            report("container resource", "container=\(meta["container"] ?? "")", at: xml)
        }

        switch rsc.variant {
        case .primitive: try unpackPrimitive(rsc, at: xml)
        case .group: try unpackGroup(rsc, xml: xml!, instance: instance)
        case .clone: try unpackClone(rsc, xml: xml!)
        }

        if properties.symmetricCluster {
            addLocation(rsc.index, node: nil, score: .zero, reason: "symmetric_default", record: false)
        }
        if let xml, xml.firstChild(named: "utilization") != nil, properties.placementStrategy != "default" {
            report("utilization", "resource utilization", at: xml)
        }
    }

    /// The element's `meta_attributes` blocks (read once per element: clone instances share it).
    func metaSets(_ rsc: WorkingResource) -> [AttributeSet] {
        guard let xml = rsc.xml else { return [] }
        if let cached = setsCache.meta[xml] { return cached }
        let sets = attributeSets(xml, kind: "meta_attributes")
        setsCache.meta[xml] = sets
        return sets
    }

    /// The element's `instance_attributes` blocks (read once per element).
    func instanceSets(_ rsc: WorkingResource) -> [AttributeSet] {
        guard let xml = rsc.xml else { return [] }
        if let cached = setsCache.instance[xml] { return cached }
        let sets = attributeSets(xml, kind: "instance_attributes")
        setsCache.instance[xml] = sets
        return sets
    }

    /// Pacemaker's `get_target_role`: `nil` when the value does not limit the resource.
    mutating func targetRole(_ rsc: WorkingResource, _ value: String, at xml: XMLElement?) -> Role? {
        let lowered = value.lowercased()
        if lowered == "started" || lowered == "default" { return nil }
        guard let role = Role(pacemaker: value), role != .unknown else {
            warn("target-role=\"\(value)\" is not a role; ignoring it", at: xml)
            return nil
        }
        if role > .started {
            if resources[topAncestor(rsc.index)].promotable {
                if role > .unpromoted { return nil }
            } else {
                warn(
                    "target-role=\"\(value)\" only makes sense for promotable clones; ignoring it for \(rsc.id)",
                    at: xml)
                return nil
            }
        }
        return role
    }

    /// Pacemaker's `unpack_requires`.
    mutating func unpackRequires(_ rsc: WorkingResource, _ value: String?, isDefault: Bool, at xml: XMLElement?) {
        rsc.needsFencing = false
        rsc.needsQuorum = false
        switch value?.lowercased() {
        case "nothing":
            rsc.requires = .nothing
        case "quorum":
            rsc.requires = .quorum
            rsc.needsQuorum = true
        case "fencing":
            rsc.requires = .fencing
            rsc.needsFencing = true
            if !properties.stonithEnabled {
                warn("\(rsc.id) requires fencing but fencing is disabled", at: xml)
            }
        case "unfencing":
            if rsc.fenceDevice || !properties.stonithEnabled {
                unpackRequires(rsc, "quorum", isDefault: true, at: xml)
            } else {
                rsc.requires = .unfencing
                rsc.needsFencing = true
            }
        default:
            let chosen: String
            if rsc.fenceDevice || rsc.isRemoteConnection {
                chosen = "quorum"
            } else if enableUnfencing {
                chosen = "unfencing"
            } else if properties.stonithEnabled {
                chosen = "fencing"
            } else if properties.effectiveNoQuorumPolicy == .ignore {
                chosen = "nothing"
            } else {
                chosen = "quorum"
            }
            if let value {
                warn("requires=\"\(value)\" is not valid for \(rsc.id); using \(chosen)", at: xml)
            }
            unpackRequires(rsc, chosen, isDefault: true, at: xml)
        }
    }

    func topAncestor(_ index: Int) -> Int {
        var current = index
        while let parent = resources[current].parent { current = parent }
        return current
    }

    /// Pacemaker's `resource_location`: adds `score` for the node (or every node) to
    /// the resource and, recursively, its children.
    mutating func addLocation(_ index: Int, node: Int?, score: Score, reason: String, record: Bool = true) {
        if record {
            historyLocations.append(
                HistoryLocation(resource: index, node: node.map { nodes[$0].name }, score: score, reason: reason))
        }
        if let node {
            addNodeScore(index, node: node, score: score)
        } else {
            addScoreEverywhere(index, score: score)
        }
    }

    /// ``addNodeScore(_:node:score:)`` for every node, in one pass over each table.
    mutating func addScoreEverywhere(_ index: Int, score: Score) {
        let rsc = resources[index]
        for child in rsc.children { addScoreEverywhere(child, score: score) }
        var table = rsc.allowedNodes
        rsc.allowedNodes = []  // keeps `table` the only reference, so it is changed in place
        if table.isEmpty { table = Array(repeating: nil, count: nodes.count) }
        for node in table.indices { table[node] = (table[node] ?? .zero) + score }
        rsc.allowedNodes = table
    }

    mutating func addNodeScore(_ index: Int, node: Int, score: Score) {
        let rsc = resources[index]
        for child in rsc.children { addNodeScore(child, node: node, score: score) }
        if rsc.allowedNodes.isEmpty { rsc.allowedNodes = Array(repeating: nil, count: nodes.count) }
        rsc.allowedNodes[node] = (rsc.allowedNodes[node] ?? .zero) + score
    }

    /// Replaces the resource's allowed nodes by every node at -INFINITY (Pacemaker
    /// does this when a resource must not run anywhere again).
    mutating func banEverywhere(_ index: Int, reason: String) {
        historyLocations.append(HistoryLocation(resource: index, node: nil, score: .minusInfinity, reason: reason))
        let rsc = resources[index]
        rsc.allowedNodes = Array(repeating: .minusInfinity, count: nodes.count)
    }

    // MARK: - Operations

    mutating func readOperations(_ rsc: WorkingResource, xml: XMLElement) {
        guard let operations = xml.firstChild(named: "operations").map({ resolveReference($0) }) else { return }
        for op in operations.children(named: "op") {
            let resolved = resolveReference(op)
            var attributes: [String: String] = [:]
            for attribute in resolved.attributes { attributes[attribute.name] = attribute.value }
            let name = attributes["name"] ?? ""
            let interval = pacemakerIntervalMilliseconds(attributes["interval"]) ?? 0
            if let value = attributes["interval"], pacemakerIntervalMilliseconds(value) == nil {
                warn("interval=\"\(value)\" is not a time; Pacemaker uses 0", at: resolved)
            }
            rsc.operations.append(
                OperationDefinition(
                    id: attributes["id"], name: name, intervalMilliseconds: interval,
                    timeoutMilliseconds: attributes["timeout"].flatMap { pacemakerMilliseconds($0) },
                    onFail: attributes["on-fail"], role: attributes["role"].flatMap(Role.init(pacemaker:)),
                    enabled: pacemakerBoolean(attributes["enabled"]) ?? true, attributes: attributes,
                    line: resolved.line))
            rsc.operationMeta.append(attributeSets(resolved, kind: "meta_attributes"))
            if let onFail = attributes["on-fail"], onFail.lowercased() == "restart-container" {
                report("container resource", "on-fail=restart-container", at: resolved)
            }
            if name == "reload" || name == "reload-agent" {
                report("reload", "\(name) operation", at: resolved, impact: .affectsDecisions)
            }
        }
    }

    // MARK: - Variants

    /// Pacemaker's `native_unpack`: agents that cannot be unique force an anonymous
    /// clone; agents that cannot be promoted cannot be in a promotable clone.
    mutating func unpackPrimitive(_ rsc: WorkingResource, at xml: XMLElement?) throws(CIBError) {
        guard let agent = rsc.agent else { return }
        let top = resources[topAncestor(rsc.index)]
        if !agent.supportsUnique && rsc.unique && top.variant == .clone {
            warn(
                "ignoring globally-unique for \(top.id) because \(agent.standard) resources such as \(rsc.configID) "
                    + "can only be anonymous clones", at: xml)
            top.cloneNodeMax = 1
            top.cloneMax = min(top.cloneMax, nodes.count)
            clearUnique(top.index)
            rsc.unique = false
            rsc.meta["globally-unique"] = rsc.meta["globally-unique"] ?? "false"
        }
        if !agent.supportsPromotion && top.promotable {
            throw error(
                .contradictoryConfiguration,
                "\(rsc.configID) is a \(agent.standard) resource in the promotable clone \(top.configID); "
                    + "only OCF agents can be promoted", at: xml,
                hint: "use an OCF agent that implements promote and demote, or remove promotable=true from "
                    + "\(top.configID)")
        }
    }

    mutating func clearUnique(_ index: Int) {
        let rsc = resources[index]
        rsc.unique = false
        if rsc.meta["globally-unique"] == nil { rsc.meta["globally-unique"] = "false" }
        for child in rsc.children { clearUnique(child) }
    }

    mutating func unpackGroup(_ rsc: WorkingResource, xml: XMLElement, instance: String?) throws(CIBError) {
        for child in xml.children {
            switch child.name {
            case "primitive":
                let index = try unpackResource(child, parent: rsc.index, instance: instance)
                rsc.children.append(index)
            case "group", "clone", "master", "bundle":
                throw error(
                    .invalidValue, "group \"\(rsc.configID)\" contains a <\(child.name)>", at: child,
                    hint: "a group holds primitives only; use constraints or a resource set to combine other "
                        + "resources")
            default:
                continue
            }
        }
        if rsc.children.isEmpty {
            throw error(
                .invalidValue, "group \"\(rsc.configID)\" has no primitives", at: xml,
                hint: "add at least one <primitive> to the group, or remove the group")
        }
    }

    /// Pacemaker's `clone_unpack`: reads the clone options and creates one instance
    /// per allowed copy (`clone-max`).
    mutating func unpackClone(_ rsc: WorkingResource, xml: XMLElement) throws(CIBError) {
        let meta = rsc.meta
        if rsc.promotable {
            let maxText = meta["promoted-max"] ?? meta["master-max"]
            rsc.promotedMax = maxText.map { minimumZero($0) } ?? 1
            let nodeMaxText = meta["promoted-node-max"] ?? meta["master-node-max"]
            rsc.promotedNodeMax = nodeMaxText.map { minimumZero($0) } ?? 1
        }
        rsc.cloneNodeMax = meta["clone-node-max"].map { minimumZero($0) } ?? 1
        rsc.cloneMax = meta["clone-max"].map { minimumZero($0) } ?? max(1, nodes.count)
        rsc.cloneOrdered = isTrue(meta["ordered"])
        if !rsc.unique && rsc.cloneNodeMax > 1 {
            warn(
                "ignoring clone-node-max for \(rsc.id) because anonymous clones support only one instance per node",
                at: xml)
            rsc.cloneNodeMax = 1
        }
        var childXML: XMLElement?
        var extra: [XMLElement] = []
        for child in xml.children where ["primitive", "group", "clone", "master", "bundle"].contains(child.name) {
            if child.name == "primitive" || child.name == "group" {
                if childXML == nil { childXML = child } else { extra.append(child) }
            } else {
                throw error(
                    .invalidValue, "clone \"\(rsc.configID)\" contains a <\(child.name)>", at: child,
                    hint: "a clone holds one primitive or one group")
            }
        }
        guard let childXML else {
            throw error(
                .invalidValue, "clone \"\(rsc.configID)\" has nothing to clone", at: xml,
                hint: "put one <primitive> or <group> inside the <\(xml.name)>")
        }
        if let second = extra.first {
            throw error(
                .invalidValue, "clone \"\(rsc.configID)\" holds more than one resource", at: second,
                hint: "a clone holds exactly one primitive or group; move the others into a group or a clone "
                    + "of their own")
        }
        rsc.cloneChildXML = childXML
        if rsc.meta["resource-stickiness"] == nil { rsc.meta["resource-stickiness"] = "1" }
        if rsc.meta["globally-unique"] == nil { rsc.meta["globally-unique"] = rsc.unique ? "true" : "false" }
        if rsc.cloneMax <= 0 {
            _ = try createCloneInstance(rsc)
        } else {
            while rsc.totalClones < rsc.cloneMax {
                _ = try createCloneInstance(rsc)
            }
        }
    }

    /// Pacemaker's `pe__create_clone_child`: the next numbered instance (an orphan
    /// when `clone-max` instances exist already).
    mutating func createCloneInstance(_ clone: WorkingResource) throws(CIBError) -> WorkingResource {
        let asOrphan = clone.totalClones >= clone.cloneMax
        let number = String(clone.totalClones)
        let index = try unpackResource(clone.cloneChildXML!, parent: clone.index, instance: number)
        clone.totalClones += 1
        clone.children.append(index)
        if asOrphan { setOrphan(index) }
        let child = resources[index]
        if child.meta["clone-max"] == nil { child.meta["clone-max"] = String(clone.cloneMax) }
        return child
    }

    mutating func setOrphan(_ index: Int) {
        resources[index].orphan = true
        for child in resources[index].children { setOrphan(child) }
    }
}

/// `pcmk__scan_min_int(text, &result, 0)`: the leading integer, at least 0; 0 when invalid.
func minimumZero(_ text: String) -> Int {
    max(0, clampingLeadingInteger(text) ?? 0)
}
