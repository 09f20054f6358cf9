// Unpacking constraints (and the configuration sections Meridian does not support).
import MeridianXML

extension Unpacker {
    mutating func unpackConstraints(_ configuration: XMLElement) throws(CIBError) {
        guard let section = configuration.firstChild(named: "constraints") else { return }
        for rsc in resources where resources[topAncestor(rsc.index)].promotable {
            promotableConfigIDs.insert(rsc.configID)
        }
        var ids: [String: XMLElement] = [:]
        for xml in section.children {
            let id = try requiredID(xml, what: "<\(xml.name)>")
            if let other = ids[id] {
                throw error(
                    .duplicateID, "constraint id \"\(id)\" is also used at line \(other.line)", at: xml,
                    hint: "give each constraint its own id")
            }
            ids[id] = xml
            switch xml.name {
            case "rsc_location": constraints.location.append(try readLocation(xml, id: id))
            case "rsc_colocation": constraints.colocation.append(try readColocation(xml, id: id))
            case "rsc_order": constraints.order.append(try readOrder(xml, id: id))
            case "rsc_ticket": constraints.ticket.append(try readTicket(xml, id: id))
            default:
                throw error(
                    .invalidValue, "<\(xml.name)> is not a constraint", at: xml,
                    hint: "use rsc_location, rsc_colocation, rsc_order or rsc_ticket")
            }
        }
    }

    /// A resource reference must name a configured primitive, group or clone.
    func checkResource(_ name: String?, attribute: String, in xml: XMLElement) throws(CIBError) -> String {
        guard let name, !name.isEmpty else {
            throw error(
                .unknownReference, "\(attribute) is missing", at: xml,
                hint: "set \(attribute)= to the id of a primitive, group or clone")
        }
        guard seenResourceIDs[name] != nil || unsupportedResourceIDs.contains(name) else {
            if let tag = (try? document.select("/cib/configuration/tags/tag[@id='\(name)']"))?.first {
                throw error(
                    .unknownReference, "\(attribute)=\"\(name)\" names a tag; tags are not supported", at: xml,
                    hint: "list the tagged resources (line \(tag.line)) in a resource set instead")
            }
            throw error(
                .unknownReference, "\(attribute)=\"\(name)\" names no resource", at: xml,
                hint: "use the id of a configured primitive, group or clone, or remove the constraint")
        }
        return name
    }

    /// Promoted and Unpromoted (and promote and demote) only exist for promotable clones;
    /// Pacemaker accepts them elsewhere and the constraint silently never applies.
    func checkPromotable(
        _ resources: [String], role: Role?, action: ResourceAction? = nil, attribute: String, in xml: XMLElement
    ) throws(CIBError) {
        let needsPromotable = role == .promoted || role == .unpromoted || action == .promote || action == .demote
        guard needsPromotable else { return }
        for name in resources where !promotableConfigIDs.contains(name) && !unsupportedResourceIDs.contains(name) {
            let what = action.map { "\($0.rawValue)" } ?? "\(role!)"
            throw error(
                .contradictoryConfiguration,
                "\(attribute) asks for \(what), but \(name) is not in a promotable clone, so the constraint could never "
                    + "apply", at: xml,
                hint: "use Started/Stopped (start/stop) for \(name), or name the promotable clone")
        }
    }

    func readRole(_ value: String?, attribute: String, in xml: XMLElement) throws(CIBError) -> Role? {
        guard let value else { return nil }
        guard let role = Role(pacemaker: value) else {
            throw error(
                .invalidValue, "\(attribute)=\"\(value)\" is not a role", at: xml,
                hint: "use Started, Stopped, Promoted or Unpromoted")
        }
        return role == .unknown ? nil : role
    }

    func readScore(_ value: String?, attribute: String, in xml: XMLElement) throws(CIBError) -> Score? {
        guard let value else { return nil }
        guard let score = Score(strict: value) else {
            throw error(
                .invalidValue, "\(attribute)=\"\(value)\" is not a score", at: xml,
                hint: "use an integer, INFINITY or -INFINITY")
        }
        return score
    }

    func readAction(_ value: String?, attribute: String, in xml: XMLElement) throws(CIBError) -> ResourceAction? {
        guard let value else { return nil }
        guard let action = ResourceAction(rawValue: value.lowercased()) else {
            throw error(
                .invalidValue, "\(attribute)=\"\(value)\" is not an action", at: xml,
                hint: "use start, stop, promote or demote")
        }
        return action
    }

    /// An order kind. Pacemaker resets an unknown kind to Mandatory (the strictest
    /// kind) with a configuration error; Meridian does the same with a warning. The
    /// schema rejects such a value when validation is on.
    mutating func readKind(_ value: String?, in xml: XMLElement) -> OrderKind? {
        guard let value else { return nil }
        switch value.lowercased() {
        case "mandatory": return .mandatory
        case "optional": return .optional
        case "serialize": return .serialize
        default:
            warn("kind=\"\(value)\" is not an order kind (Mandatory, Optional, Serialize); using Mandatory", at: xml)
            return .mandatory
        }
    }

    func readBoolean(_ value: String?, attribute: String, in xml: XMLElement) throws(CIBError) -> Bool? {
        guard let value else { return nil }
        guard let flag = pacemakerBoolean(value) else {
            throw error(
                .invalidValue, "\(attribute)=\"\(value)\" is not a boolean", at: xml, hint: "use true or false")
        }
        return flag
    }

    mutating func readSets(_ xml: XMLElement) throws(CIBError) -> [ResourceSet] {
        var sets: [ResourceSet] = []
        for child in xml.children(named: "resource_set") {
            let set = resolveReference(child)
            let id = try requiredID(set, what: "<resource_set>")
            var members: [String] = []
            for reference in set.children(named: "resource_ref") {
                members.append(
                    try checkResource(reference.attribute("id"), attribute: "resource_ref id", in: reference))
            }
            try checkPromotable(
                members, role: try readRole(set.attribute("role"), attribute: "role", in: set),
                action: try readAction(set.attribute("action"), attribute: "action", in: set),
                attribute: "resource set \(id)", in: set)
            sets.append(
                ResourceSet(
                    id: id, resources: members,
                    sequential: try readBoolean(set.attribute("sequential"), attribute: "sequential", in: set),
                    requireAll: try readBoolean(set.attribute("require-all"), attribute: "require-all", in: set),
                    ordering: set.attribute("ordering"),
                    action: try readAction(set.attribute("action"), attribute: "action", in: set),
                    role: try readRole(set.attribute("role"), attribute: "role", in: set),
                    score: try readScore(set.attribute("score"), attribute: "score", in: set),
                    kind: readKind(set.attribute("kind"), in: set), line: set.line))
        }
        return sets
    }

    mutating func readLocation(_ xml: XMLElement, id: String) throws(CIBError) -> LocationConstraint {
        var resources: [String] = []
        let sets = try readSets(xml)
        if let pattern = xml.attribute("rsc-pattern") {
            report("resource pattern", "rsc-pattern=\(pattern)", at: xml)
        } else if sets.isEmpty {
            resources.append(try checkResource(xml.attribute("rsc"), attribute: "rsc", in: xml))
        } else {
            resources = sets.flatMap(\.resources)
        }
        let role = try readRole(xml.attribute("role"), attribute: "role", in: xml)
        try checkPromotable(resources, role: role, attribute: "role", in: xml)
        for rule in xml.children(named: "rule") {
            try checkPromotable(
                resources, role: try readRole(rule.attribute("role"), attribute: "role", in: rule),
                attribute: "rule \(rule.attribute("id") ?? "")", in: rule)
        }
        let discovery: ResourceDiscovery
        switch xml.attribute("resource-discovery")?.lowercased() {
        case nil, "always": discovery = .always
        case "never": discovery = .never
        case "exclusive": discovery = .exclusive
        case let other?:
            throw error(
                .invalidValue, "resource-discovery=\"\(other)\" is not valid", at: xml,
                hint: "use always, never or exclusive")
        }
        let placement: LocationPlacement
        if let node = xml.attribute("node") {
            guard nodeIndex(named: node) != nil || unsupportedNodeNames.contains(node.lowercased()) else {
                throw error(
                    .unknownReference, "node=\"\(node)\" names no node", at: xml,
                    hint: "use the uname of a node in <nodes>, or remove the constraint")
            }
            guard let scoreText = xml.attribute("score") else {
                throw error(
                    .invalidValue, "a location constraint with node= needs a score", at: xml,
                    hint: "add score=\"INFINITY\" (or a number, or -INFINITY to keep the resource away)")
            }
            guard let score = Score(strict: scoreText) else {
                throw error(
                    .invalidValue, "score=\"\(scoreText)\" is not a score", at: xml,
                    hint: "use an integer, INFINITY or -INFINITY")
            }
            placement = .node(name: node, score: score)
        } else {
            let rules = xml.children(named: "rule").map { readRule($0) }
            if rules.isEmpty {
                throw error(
                    .invalidValue, "the location constraint has neither node= nor a rule", at: xml,
                    hint: "add node=\"<node>\" score=\"...\", or a <rule>")
            }
            for rule in xml.children(named: "rule") { reportDateRules(rule) }
            placement = .rules(rules)
        }
        if xml.firstChild(named: "lifetime") != nil {
            report("constraint lifetime", "lifetime element (deprecated)", at: xml)
        }
        return LocationConstraint(
            id: id, resources: resources, sets: sets, role: role, placement: placement, discovery: discovery,
            line: xml.line)
    }

    mutating func reportDateRules(_ rule: XMLElement) {
        if let date = (try? rule.select(".//date_expression"))?.first {
            report("date rule", "date_expression", at: date)
        }
        for expression in (try? rule.select(".//expression[@value-source]")) ?? [] {
            let source = expression.attribute("value-source") ?? ""
            if source != "literal" { report("rule value source", "value-source=\(source)", at: expression) }
        }
    }

    mutating func readColocation(_ xml: XMLElement, id: String) throws(CIBError) -> ColocationConstraint {
        let sets = try readSets(xml)
        var pair: ColocationConstraint.Pair?
        if sets.isEmpty {
            pair = ColocationConstraint.Pair(
                resource: try checkResource(xml.attribute("rsc"), attribute: "rsc", in: xml),
                withResource: try checkResource(xml.attribute("with-rsc"), attribute: "with-rsc", in: xml),
                resourceRole: try readRole(xml.attribute("rsc-role"), attribute: "rsc-role", in: xml),
                withResourceRole: try readRole(xml.attribute("with-rsc-role"), attribute: "with-rsc-role", in: xml))
            try checkPromotable([pair!.resource], role: pair!.resourceRole, attribute: "rsc-role", in: xml)
            try checkPromotable([pair!.withResource], role: pair!.withResourceRole, attribute: "with-rsc-role", in: xml)
        }
        guard let scoreText = xml.attribute("score") else {
            throw error(
                .invalidValue, "the colocation has no score", at: xml,
                hint: "add score=\"INFINITY\" to keep the resources together, -INFINITY to keep them apart")
        }
        return ColocationConstraint(
            id: id, score: try readScore(scoreText, attribute: "score", in: xml)!, pair: pair, sets: sets,
            nodeAttribute: xml.attribute("node-attribute"),
            influence: try readBoolean(xml.attribute("influence"), attribute: "influence", in: xml), line: xml.line)
    }

    mutating func readOrder(_ xml: XMLElement, id: String) throws(CIBError) -> OrderConstraint {
        let sets = try readSets(xml)
        var pair: OrderConstraint.Pair?
        if sets.isEmpty {
            pair = OrderConstraint.Pair(
                first: try checkResource(xml.attribute("first"), attribute: "first", in: xml),
                then: try checkResource(xml.attribute("then"), attribute: "then", in: xml),
                firstAction: try readAction(xml.attribute("first-action"), attribute: "first-action", in: xml),
                thenAction: try readAction(xml.attribute("then-action"), attribute: "then-action", in: xml))
            try checkPromotable([pair!.first], role: nil, action: pair!.firstAction, attribute: "first-action", in: xml)
            try checkPromotable([pair!.then], role: nil, action: pair!.thenAction, attribute: "then-action", in: xml)
        }
        return OrderConstraint(
            id: id, kind: readKind(xml.attribute("kind"), in: xml),
            score: try readScore(xml.attribute("score"), attribute: "score", in: xml),
            symmetrical: try readBoolean(xml.attribute("symmetrical"), attribute: "symmetrical", in: xml),
            requireAll: try readBoolean(xml.attribute("require-all"), attribute: "require-all", in: xml), pair: pair,
            sets: sets, line: xml.line)
    }

    mutating func readTicket(_ xml: XMLElement, id: String) throws(CIBError) -> TicketConstraint {
        guard let ticket = xml.attribute("ticket"), !ticket.isEmpty else {
            throw error(
                .invalidValue, "the ticket constraint names no ticket", at: xml,
                hint: "add ticket=\"<ticket name>\"")
        }
        let sets = try readSets(xml)
        var resource: String?
        if sets.isEmpty {
            resource = try checkResource(xml.attribute("rsc"), attribute: "rsc", in: xml)
        }
        let policy: TicketLossPolicy
        switch xml.attribute("loss-policy")?.lowercased() {
        case nil, "stop": policy = .stop
        case "demote": policy = .demote
        case "fence": policy = .fence
        case "freeze": policy = .freeze
        case let other?:
            throw error(
                .invalidValue, "loss-policy=\"\(other)\" is not valid", at: xml,
                hint: "use stop, demote, fence or freeze")
        }
        let role = try readRole(xml.attribute("rsc-role"), attribute: "rsc-role", in: xml)
        if let resource { try checkPromotable([resource], role: role, attribute: "rsc-role", in: xml) }
        return TicketConstraint(
            id: id, ticket: ticket, lossPolicy: policy, resource: resource, role: role, sets: sets, line: xml.line)
    }

    // MARK: - Unsupported sections

    mutating func scanConfigurationForUnsupported(_ configuration: XMLElement) {
        for child in configuration.children {
            switch child.name {
            case "acls":
                if !child.children.isEmpty { report("ACLs", "access control lists", at: child, impact: .ignored) }
            case "alerts":
                if !child.children.isEmpty { report("alerts", "alert agents", at: child, impact: .ignored) }
            case "fencing-topology":
                if !child.children.isEmpty {
                    report("fencing topology", "fencing levels", at: child, impact: .ignored)
                }
            case "tags":
                if !child.children.isEmpty { report("tags", "resource tags", at: child) }
            default:
                continue
            }
        }
        for set in resourceDefaultSets + operationDefaultSets {
            if let rule = set.rule, ruleHasDate(rule) {
                report("date rule", "date_expression in defaults", at: document.root, id: set.id)
            }
        }
        for xml in (try? configuration.select(".//meta_attributes/rule | .//instance_attributes/rule")) ?? [] {
            reportDateRules(xml)
        }
    }

    func ruleHasDate(_ rule: Rule) -> Bool {
        rule.conditions.contains {
            switch $0 {
            case .date: return true
            case .rule(let nested): return ruleHasDate(nested)
            default: return false
            }
        }
    }
}
