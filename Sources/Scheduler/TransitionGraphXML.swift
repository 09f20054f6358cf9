// Writing and reading the transition graph as Pacemaker's graph XML (crm_simulate -G).
import MeridianXML

/// Why a transition graph file could not be read: which element, where, and what to change.
public struct TransitionGraphError: Error, Sendable, CustomStringConvertible {
    /// The file or source the graph came from.
    public var sourceName: String
    /// The line of the offending element, when known.
    public var line: Int?
    /// What is wrong.
    public var message: String
    /// How to fix it.
    public var hint: String

    public init(sourceName: String, line: Int? = nil, message: String, hint: String) {
        self.sourceName = sourceName
        self.line = line
        self.message = message
        self.hint = hint
    }

    public var description: String {
        let place = line.map { "\(sourceName):\($0)" } ?? sourceName
        return "\(place): \(message)\n  hint: \(hint)"
    }
}

extension TransitionGraph {
    // MARK: Writing

    /// The graph as crm_simulate writes it with `-G` (without the `crm_feature_set` and
    /// `batch-limit` attributes), two spaces of indentation per level, ending with a newline.
    public func renderXML() -> String {
        var out = "<transition_graph"
        for attribute in attributes { out += " \(attribute.name)=\"\(Self.escape(attribute.value))\"" }
        if synapses.isEmpty { return out + "/>\n" }
        out += ">\n"
        for synapse in synapses {
            out += "  <synapse id=\"\(synapse.id)\""
            if let priority = synapse.priority { out += " priority=\"\(priority)\"" }
            out += ">\n    <action_set>\n"
            synapse.action.render(into: &out, indent: "      ", details: true)
            out += "    </action_set>\n"
            if synapse.inputs.isEmpty {
                out += "    <inputs/>\n"
            } else {
                out += "    <inputs>\n"
                for input in synapse.inputs {
                    out += "      <trigger>\n"
                    input.render(into: &out, indent: "        ", details: false)
                    out += "      </trigger>\n"
                }
                out += "    </inputs>\n"
            }
            out += "  </synapse>\n"
        }
        return out + "</transition_graph>\n"
    }

    /// Escapes an attribute value as Pacemaker's XML writer does.
    static func escape(_ value: String) -> String {
        guard value.contains(where: { "<>\"'&\t\n\r".contains($0) }) else { return value }
        var out = ""
        for character in value {
            switch character {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "&": out += "&amp;"
            case "\t": out += "    "
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default: out.append(character)
            }
        }
        return out
    }

    // MARK: Reading

    /// Reads a graph written by crm_simulate (`-G`) or by ``renderXML()``.
    ///
    /// - Throws: ``TransitionGraphError`` naming the element and line of anything that is not
    ///   a transition graph, or the XML parser's error.
    public static func parse(xml: String, sourceName: String = "<graph>") throws -> TransitionGraph {
        let document = try XMLDocument(string: xml, sourceName: sourceName, options: [.removeBlankText])
        let root = document.root
        func failure(_ element: XMLElement, _ message: String) -> TransitionGraphError {
            TransitionGraphError(
                sourceName: sourceName, line: element.line, message: message,
                hint:
                    "the file must be a transition graph as crm_simulate -G or meridian simulate --save-graph write it")
        }
        guard root.name == "transition_graph" else {
            throw failure(root, "the root element is <\(root.name)>, not <transition_graph>")
        }
        var graph = TransitionGraph(
            attributes: root.attributes.map { GraphAttribute($0.name, $0.value) }, synapses: [])
        for element in root.children {
            guard element.name == "synapse" else { throw failure(element, "unexpected <\(element.name)> in the graph") }
            guard let id = element.attribute("id").flatMap({ Int($0) }) else {
                throw failure(element, "<synapse> without a numeric id")
            }
            var priority: Int?
            if let text = element.attribute("priority") {
                guard let value = Int(text) else {
                    throw failure(element, "synapse \(id) has priority \"\(text)\", not a number")
                }
                priority = value
            }
            var action: GraphAction?
            var inputs: [GraphAction] = []
            for part in element.children {
                switch part.name {
                case "action_set":
                    let actions = part.children
                    guard actions.count == 1 else {
                        throw failure(part, "synapse \(id) has \(actions.count) actions; exactly one is expected")
                    }
                    action = try GraphAction.parse(actions[0], details: true, failure: failure)
                case "inputs":
                    for trigger in part.children {
                        guard trigger.name == "trigger" else {
                            throw failure(trigger, "unexpected <\(trigger.name)> in the inputs of synapse \(id)")
                        }
                        for input in trigger.children {
                            inputs.append(try GraphAction.parse(input, details: false, failure: failure))
                        }
                    }
                default:
                    throw failure(part, "unexpected <\(part.name)> in synapse \(id)")
                }
            }
            guard let action else { throw failure(element, "synapse \(id) has no <action_set>") }
            graph.synapses.append(Synapse(id: id, priority: priority, action: action, inputs: inputs))
        }
        return graph
    }
}

extension GraphAction {
    /// The action element's attributes, in the order Pacemaker writes them.
    var elementAttributes: [GraphAttribute] {
        var list: [GraphAttribute] = []
        if let mode { list.append(GraphAttribute("mode", mode)) }
        list.append(GraphAttribute("id", String(id)))
        list.append(GraphAttribute("operation", operation))
        list.append(GraphAttribute("operation_key", operationKey))
        if let internalOperationKey { list.append(GraphAttribute("internal_operation_key", internalOperationKey)) }
        if let onNode { list.append(GraphAttribute("on_node", onNode)) }
        if let onNodeUUID { list.append(GraphAttribute("on_node_uuid", onNodeUUID)) }
        if let routerNode { list.append(GraphAttribute("router_node", routerNode)) }
        return list + extraAttributes
    }

    func render(into out: inout String, indent: String, details: Bool) {
        let escape = TransitionGraph.escape
        out += indent + "<" + kind.rawValue
        for attribute in elementAttributes { out += " \(attribute.name)=\"\(escape(attribute.value))\"" }
        guard details else {
            out += "/>\n"
            return
        }
        out += ">\n"
        let inner = indent + "  "
        if let primitive {
            out += inner + "<primitive id=\"\(escape(primitive.id))\""
            if let longID = primitive.longID { out += " long-id=\"\(escape(longID))\"" }
            out += " class=\"\(escape(primitive.resourceClass))\""
            if let provider = primitive.provider { out += " provider=\"\(escape(provider))\"" }
            out += " type=\"\(escape(primitive.type))\"/>\n"
        }
        out += inner + "<attributes"
        for attribute in attributes { out += " \(attribute.name)=\"\(escape(attribute.value))\"" }
        if params.isEmpty {
            out += " />\n"
        } else {
            out += " >\n"
            for param in params {
                out += inner + "  <param name=\"\(escape(param.name))\" value=\"\(escape(param.value))\"/>\n"
            }
            out += inner + "</attributes>\n"
        }
        if !downed.isEmpty {
            out += inner + "<downed>\n"
            for node in downed { out += inner + "  <node id=\"\(escape(node))\"/>\n" }
            out += inner + "</downed>\n"
        }
        if let maintenance {
            if maintenance.isEmpty {
                out += inner + "<maintenance/>\n"
            } else {
                out += inner + "<maintenance>\n"
                for node in maintenance {
                    out +=
                        inner
                        + "  <node id=\"\(escape(node.id))\" node_in_maintenance=\"\(node.inMaintenance ? 1 : 0)\"/>\n"
                }
                out += inner + "</maintenance>\n"
            }
        }
        out += indent + "</" + kind.rawValue + ">\n"
    }

    static func parse(
        _ element: XMLElement, details: Bool, failure: (XMLElement, String) -> TransitionGraphError
    ) throws -> GraphAction {
        guard let kind = Kind(rawValue: element.name) else {
            throw failure(element, "<\(element.name)> is not an action (rsc_op, pseudo_event or crm_event)")
        }
        guard let id = element.attribute("id").flatMap({ Int($0) }) else {
            throw failure(element, "<\(element.name)> without a numeric id")
        }
        guard let operation = element.attribute("operation"), let key = element.attribute("operation_key") else {
            throw failure(element, "action \(id) lacks operation or operation_key")
        }
        var action = GraphAction(kind: kind, id: id, operation: operation, operationKey: key)
        let standard: Set = [
            "id", "operation", "operation_key", "internal_operation_key", "on_node", "on_node_uuid", "router_node",
            "mode",
        ]
        action.internalOperationKey = element.attribute("internal_operation_key")
        action.onNode = element.attribute("on_node")
        action.onNodeUUID = element.attribute("on_node_uuid")
        action.routerNode = element.attribute("router_node")
        action.mode = element.attribute("mode")
        action.extraAttributes = element.attributes.filter { !standard.contains($0.name) }.map {
            GraphAttribute($0.name, $0.value)
        }
        let children = element.children
        if !details {
            guard children.isEmpty else { throw failure(children[0], "an input of a synapse has details") }
            return action
        }
        for child in children {
            switch child.name {
            case "primitive":
                guard let id = child.attribute("id"), let resourceClass = child.attribute("class"),
                    let type = child.attribute("type")
                else { throw failure(child, "<primitive> of action \(id) lacks id, class or type") }
                action.primitive = GraphPrimitive(
                    id: id, longID: child.attribute("long-id"), resourceClass: resourceClass,
                    provider: child.attribute("provider"), type: type)
            case "attributes":
                action.attributes = child.attributes.map { GraphAttribute($0.name, $0.value) }
                for param in child.children {
                    guard param.name == "param", let name = param.attribute("name") else {
                        throw failure(param, "unexpected <\(param.name)> in the attributes of action \(id)")
                    }
                    action.params.append(GraphAttribute(name, param.attribute("value") ?? ""))
                }
            case "downed":
                for node in child.children {
                    guard node.name == "node", let uuid = node.attribute("id") else {
                        throw failure(node, "<downed> of action \(id) holds <\(node.name)>, not <node id=...>")
                    }
                    action.downed.append(uuid)
                }
            case "maintenance":
                var nodes: [GraphMaintenanceNode] = []
                for node in child.children {
                    guard node.name == "node", let uuid = node.attribute("id") else {
                        throw failure(node, "<maintenance> of action \(id) holds <\(node.name)>, not <node id=...>")
                    }
                    nodes.append(
                        GraphMaintenanceNode(id: uuid, inMaintenance: node.attribute("node_in_maintenance") == "1"))
                }
                action.maintenance = nodes
            default:
                throw failure(child, "unexpected <\(child.name)> in action \(id)")
            }
        }
        return action
    }
}
