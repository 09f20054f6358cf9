// Small handwritten CIBs for the unit tests.
import CIB
import Foundation
import MeridianXML

/// A fixed clock for tests: 2024-01-01T00:00:00Z.
let testNow = Date(timeIntervalSince1970: 1_704_067_200)

/// A CIB document around the given sections.
func cibXML(
    properties: [String: String] = ["stonith-enabled": "false"], nodes: [String] = ["node1", "node2"],
    resources: String = "", constraints: String = "", extraConfiguration: String = "", status: String = "",
    haveQuorum: Bool = true, cibAttributes: String = ""
) -> String {
    let nvpairs = properties.sorted { $0.key < $1.key }.map {
        "<nvpair id=\"opt-\($0.key)\" name=\"\($0.key)\" value=\"\($0.value)\"/>"
    }.joined(separator: "\n")
    let nodeXML = nodes.map { "<node id=\"\($0)\" uname=\"\($0)\"/>" }.joined(separator: "\n")
    return """
        <cib admin_epoch="0" epoch="1" num_updates="1" validate-with="pacemaker-3.7" have-quorum="\(haveQuorum)" \(cibAttributes)>
          <configuration>
            <crm_config>
              <cluster_property_set id="cib-bootstrap-options">
                \(nvpairs)
              </cluster_property_set>
            </crm_config>
            <nodes>
              \(nodeXML)
            </nodes>
            <resources>
              \(resources)
            </resources>
            <constraints>
              \(constraints)
            </constraints>
            \(extraConfiguration)
          </configuration>
          <status>
            \(status)
          </status>
        </cib>
        """
}

/// A `<node_state>` of a node that is up and a full member.
func onlineState(_ name: String, attributes: [String: String] = [:], history: String = "") -> String {
    nodeState(
        name, inCCM: "true", crmd: "online", join: "member", expected: "member", attributes: attributes,
        history: history)
}

/// A `<node_state>` with the given membership fields (nil leaves the attribute out).
func nodeState(
    _ name: String, inCCM: String?, crmd: String?, join: String?, expected: String?,
    attributes: [String: String] = [:], history: String = ""
) -> String {
    var fields = "id=\"\(name)\" uname=\"\(name)\""
    if let inCCM { fields += " in_ccm=\"\(inCCM)\"" }
    if let crmd { fields += " crmd=\"\(crmd)\"" }
    if let join { fields += " join=\"\(join)\"" }
    if let expected { fields += " expected=\"\(expected)\"" }
    let nvpairs = attributes.sorted { $0.key < $1.key }.map {
        "<nvpair id=\"\(name)-\($0.key)\" name=\"\($0.key)\" value=\"\($0.value)\"/>"
    }.joined(separator: "\n")
    return """
        <node_state \(fields)>
          <transient_attributes id="\(name)">
            <instance_attributes id="status-\(name)">
              \(nvpairs)
            </instance_attributes>
          </transient_attributes>
          <lrm id="\(name)">
            <lrm_resources>
              \(history)
            </lrm_resources>
          </lrm>
        </node_state>
        """
}

/// An `<lrm_resource>` with its operations.
func lrmResource(_ id: String, type: String = "Dummy", _ operations: String...) -> String {
    """
    <lrm_resource id="\(id)" class="ocf" provider="pacemaker" type="\(type)">
      \(operations.joined(separator: "\n"))
    </lrm_resource>
    """
}

/// An `<lrm_rsc_op>`: the operation, its interval, call id, result and expected result.
func lrmOp(
    _ resource: String, _ task: String, interval: Int = 0, call: Int, rc: Int = 0, expected: Int? = nil,
    status: Int = 0, lastChange: Int? = nil, node: String? = nil, id: String? = nil
) -> String {
    let target = expected ?? (task == "monitor" && interval == 0 ? 7 : 0)
    var xml = """
        <lrm_rsc_op id="\(id ?? "\(resource)_\(task)_\(interval)")" operation_key="\(resource)_\(task)_\(interval)" \
        operation="\(task)" interval="\(interval)" call-id="\(call)" rc-code="\(rc)" op-status="\(status)" \
        transition-key="\(call):1:\(target):f2317cad-3d54-cec5-d7d7-aa7d0bf35cf8" \
        transition-magic="\(status):\(rc);\(call):1:\(target):f2317cad-3d54-cec5-d7d7-aa7d0bf35cf8"
        """
    if let lastChange { xml += " last-rc-change=\"\(lastChange)\"" }
    if let node { xml += " on_node=\"\(node)\"" }
    return xml + "/>"
}

/// A primitive of `ocf:pacemaker:Dummy`.
func dummy(_ id: String, meta: [String: String] = [:], operations: String = "") -> String {
    let nvpairs = meta.sorted { $0.key < $1.key }.map {
        "<nvpair id=\"\(id)-meta-\($0.key)\" name=\"\($0.key)\" value=\"\($0.value)\"/>"
    }.joined(separator: "\n")
    return """
        <primitive id="\(id)" class="ocf" provider="pacemaker" type="Dummy">
          <meta_attributes id="\(id)-meta">\(nvpairs)</meta_attributes>
          \(operations.isEmpty ? "" : "<operations>\(operations)</operations>")
        </primitive>
        """
}

/// Parses and unpacks a CIB.
func unpack(_ xml: String, now: Date? = testNow) throws -> CIBModel {
    try CIBModel.unpack(CIBModel.document(string: xml, sourceName: "test.xml"), now: now)
}

/// The error unpacking throws, if any.
func unpackError(_ xml: String) -> CIBError? {
    do {
        _ = try unpack(xml)
        return nil
    } catch let error as CIBError {
        return error
    } catch {
        return nil
    }
}
