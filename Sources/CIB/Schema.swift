// The RelaxNG schema of the CIB subset Meridian supports, and validation against it.
import MeridianXML

/// Meridian's CIB schema: the subset of Pacemaker's `pacemaker-3.x` schema that
/// Meridian interprets, written so that every CIB valid for Pacemaker 3.x stays
/// valid (see `Docs/decisions/cib-subset.md`).
///
/// - Elements Meridian reads are described precisely, with Pacemaker's datatypes
///   (scores, roles, actions, order kinds, `on-fail` values, booleans, ids).
/// - Pacemaker elements outside the subset (bundles, templates, tags, ACLs, alerts,
///   fencing topology, utilization, date expressions, lifetimes) are accepted by
///   name with any content; ``CIBModel/unpack(_:now:)`` reports each of them as an
///   ``UnsupportedFeature`` with its id and line.
/// - Anything else (a misspelt element or attribute, an invalid value) fails.
/// - The status section is described as far as Meridian reads it (node states,
///   transient attributes, resource histories, tickets); attributes it does not
///   read are allowed, as Pacemaker's own schema allows any status content.
public enum CIBSchema {
    /// The schema, as RelaxNG XML.
    public static let relaxNG = #"""
        <?xml version="1.0" encoding="UTF-8"?>
        <grammar xmlns="http://relaxng.org/ns/structure/1.0"
                 datatypeLibrary="http://www.w3.org/2001/XMLSchema-datatypes">
          <start>
            <element name="cib">
              <ref name="cib-attributes"/>
              <element name="configuration">
                <interleave>
                  <element name="crm_config">
                    <zeroOrMore>
                      <element name="cluster_property_set"><ref name="nvset"/></element>
                    </zeroOrMore>
                  </element>
                  <optional>
                    <element name="rsc_defaults"><ref name="defaults-sets"/></element>
                  </optional>
                  <optional>
                    <element name="op_defaults"><ref name="defaults-sets"/></element>
                  </optional>
                  <ref name="nodes"/>
                  <ref name="resources"/>
                  <ref name="constraints"/>
                  <optional><element name="fencing-topology"><ref name="unsupported-content"/></element></optional>
                  <optional><element name="acls"><ref name="unsupported-content"/></element></optional>
                  <optional><element name="tags"><ref name="unsupported-content"/></element></optional>
                  <optional><element name="alerts"><ref name="unsupported-content"/></element></optional>
                </interleave>
              </element>
              <optional>
                <ref name="status"/>
              </optional>
            </element>
          </start>

          <!-- <cib> -->
          <define name="cib-attributes">
            <interleave>
              <optional>
                <attribute name="validate-with">
                  <choice>
                    <value>none</value>
                    <data type="string"><param name="pattern">(pacemaker|transitional)-[0-9]+\.[0-9]+|pacemaker-next</param></data>
                  </choice>
                </attribute>
              </optional>
              <attribute name="admin_epoch"><data type="nonNegativeInteger"/></attribute>
              <attribute name="epoch"><data type="nonNegativeInteger"/></attribute>
              <attribute name="num_updates"><data type="nonNegativeInteger"/></attribute>
              <optional><attribute name="crm_feature_set"><text/></attribute></optional>
              <optional><attribute name="remote-tls-port"><data type="nonNegativeInteger"/></attribute></optional>
              <optional><attribute name="remote-clear-port"><data type="nonNegativeInteger"/></attribute></optional>
              <optional><attribute name="have-quorum"><ref name="boolean"/></attribute></optional>
              <optional><attribute name="dc-uuid"><text/></attribute></optional>
              <optional><attribute name="cib-last-written"><text/></attribute></optional>
              <optional><attribute name="no-quorum-panic"><ref name="boolean"/></attribute></optional>
              <optional><attribute name="update-origin"><text/></attribute></optional>
              <optional><attribute name="update-client"><text/></attribute></optional>
              <optional><attribute name="update-user"><text/></attribute></optional>
              <optional><attribute name="execution-date"><data type="integer"/></attribute></optional>
            </interleave>
          </define>

          <!-- Values -->
          <define name="boolean">
            <choice>
              <value>true</value><value>false</value>
              <value>TRUE</value><value>FALSE</value>
              <value>True</value><value>False</value>
              <value>yes</value><value>no</value>
              <value>on</value><value>off</value>
              <value>y</value><value>n</value>
              <value>1</value><value>0</value>
            </choice>
          </define>
          <define name="score-value">
            <choice>
              <data type="integer"/>
              <value>INFINITY</value>
              <value>+INFINITY</value>
              <value>-INFINITY</value>
            </choice>
          </define>
          <define name="score">
            <attribute name="score"><ref name="score-value"/></attribute>
          </define>
          <define name="role">
            <choice>
              <value>Stopped</value>
              <value>Started</value>
              <value>Promoted</value>
              <value>Unpromoted</value>
              <value>Master</value>
              <value>Slave</value>
            </choice>
          </define>
          <define name="action">
            <choice>
              <value>start</value>
              <value>promote</value>
              <value>demote</value>
              <value>stop</value>
            </choice>
          </define>
          <define name="order-kind">
            <choice>
              <value>Optional</value>
              <value>Mandatory</value>
              <value>Serialize</value>
            </choice>
          </define>

          <!-- Outside the subset: accepted by name, reported by unpacking. -->
          <define name="unsupported-content">
            <zeroOrMore>
              <choice>
                <attribute><anyName/></attribute>
                <text/>
                <element><anyName/><ref name="unsupported-content"/></element>
              </choice>
            </zeroOrMore>
          </define>

          <!-- Name/value blocks -->
          <define name="nvpair">
            <element name="nvpair">
              <choice>
                <group>
                  <attribute name="id-ref"><data type="IDREF"/></attribute>
                  <optional><attribute name="name"><text/></attribute></optional>
                </group>
                <group>
                  <attribute name="id"><data type="ID"/></attribute>
                  <attribute name="name"><text/></attribute>
                  <optional><attribute name="value"><text/></attribute></optional>
                </group>
              </choice>
            </element>
          </define>
          <define name="nvset">
            <choice>
              <attribute name="id-ref"><data type="IDREF"/></attribute>
              <group>
                <attribute name="id"><data type="ID"/></attribute>
                <interleave>
                  <optional><ref name="rule"/></optional>
                  <zeroOrMore><ref name="nvpair"/></zeroOrMore>
                  <optional><ref name="score"/></optional>
                </interleave>
              </group>
            </choice>
          </define>
          <define name="defaults-sets">
            <zeroOrMore>
              <choice>
                <element name="meta_attributes"><ref name="nvset"/></element>
                <element name="instance_attributes"><ref name="nvset"/></element>
              </choice>
            </zeroOrMore>
          </define>

          <!-- Rules -->
          <define name="rule">
            <element name="rule">
              <choice>
                <attribute name="id-ref"><data type="IDREF"/></attribute>
                <group>
                  <attribute name="id"><data type="ID"/></attribute>
                  <optional>
                    <attribute name="boolean-op"><choice><value>or</value><value>and</value></choice></attribute>
                  </optional>
                  <optional><attribute name="role"><ref name="role"/></attribute></optional>
                  <optional>
                    <choice>
                      <ref name="score"/>
                      <attribute name="score-attribute"><text/></attribute>
                    </choice>
                  </optional>
                  <oneOrMore>
                    <choice>
                      <ref name="expression"/>
                      <ref name="rule"/>
                      <element name="rsc_expression">
                        <attribute name="id"><data type="ID"/></attribute>
                        <optional><attribute name="class"><text/></attribute></optional>
                        <optional><attribute name="provider"><text/></attribute></optional>
                        <optional><attribute name="type"><text/></attribute></optional>
                      </element>
                      <element name="op_expression">
                        <attribute name="id"><data type="ID"/></attribute>
                        <attribute name="name"><text/></attribute>
                        <optional><attribute name="interval"><text/></attribute></optional>
                      </element>
                      <element name="date_expression"><ref name="unsupported-content"/></element>
                    </choice>
                  </oneOrMore>
                </group>
              </choice>
            </element>
          </define>
          <define name="expression">
            <element name="expression">
              <attribute name="id"><data type="ID"/></attribute>
              <attribute name="attribute"><text/></attribute>
              <attribute name="operation">
                <choice>
                  <value>lt</value><value>gt</value><value>lte</value><value>gte</value>
                  <value>eq</value><value>ne</value><value>defined</value><value>not_defined</value>
                </choice>
              </attribute>
              <optional><attribute name="value"><text/></attribute></optional>
              <optional>
                <attribute name="type">
                  <choice>
                    <value>string</value><value>integer</value><value>number</value><value>version</value>
                  </choice>
                </attribute>
              </optional>
              <optional>
                <attribute name="value-source">
                  <choice><value>literal</value><value>param</value><value>meta</value></choice>
                </attribute>
              </optional>
            </element>
          </define>

          <!-- Nodes -->
          <define name="nodes">
            <element name="nodes">
              <zeroOrMore>
                <element name="node">
                  <attribute name="id"><text/></attribute>
                  <attribute name="uname"><text/></attribute>
                  <optional>
                    <attribute name="type"><choice><value>member</value><value>ping</value><value>remote</value></choice></attribute>
                  </optional>
                  <optional><attribute name="description"><text/></attribute></optional>
                  <optional><ref name="score"/></optional>
                  <zeroOrMore>
                    <choice>
                      <element name="instance_attributes"><ref name="nvset"/></element>
                      <element name="utilization"><ref name="unsupported-content"/></element>
                    </choice>
                  </zeroOrMore>
                </element>
              </zeroOrMore>
            </element>
          </define>

          <!-- Resources -->
          <define name="resources">
            <element name="resources">
              <zeroOrMore>
                <choice>
                  <ref name="primitive"/>
                  <ref name="group"/>
                  <ref name="clone"/>
                  <element name="template"><ref name="unsupported-content"/></element>
                  <element name="bundle"><ref name="unsupported-content"/></element>
                </choice>
              </zeroOrMore>
            </element>
          </define>
          <define name="resource-sets">
            <zeroOrMore>
              <choice>
                <element name="meta_attributes"><ref name="nvset"/></element>
                <element name="instance_attributes"><ref name="nvset"/></element>
                <element name="utilization"><ref name="unsupported-content"/></element>
              </choice>
            </zeroOrMore>
          </define>
          <define name="primitive">
            <element name="primitive">
              <interleave>
                <attribute name="id"><data type="ID"/></attribute>
                <choice>
                  <group>
                    <choice>
                      <group>
                        <attribute name="class"><value>ocf</value></attribute>
                        <attribute name="provider"><text/></attribute>
                      </group>
                      <attribute name="class">
                        <choice>
                          <value>lsb</value><value>heartbeat</value><value>stonith</value><value>upstart</value>
                          <value>service</value><value>systemd</value><value>nagios</value>
                        </choice>
                      </attribute>
                    </choice>
                    <attribute name="type"><text/></attribute>
                  </group>
                  <attribute name="template"><data type="IDREF"/></attribute>
                </choice>
                <optional><attribute name="description"><text/></attribute></optional>
                <ref name="resource-sets"/>
                <optional><ref name="operations"/></optional>
              </interleave>
            </element>
          </define>
          <define name="operations">
            <element name="operations">
              <optional><attribute name="id"><data type="ID"/></attribute></optional>
              <optional><attribute name="id-ref"><data type="IDREF"/></attribute></optional>
              <zeroOrMore>
                <element name="op">
                  <attribute name="id"><data type="ID"/></attribute>
                  <attribute name="name"><text/></attribute>
                  <attribute name="interval"><text/></attribute>
                  <optional><attribute name="description"><text/></attribute></optional>
                  <optional>
                    <choice>
                      <attribute name="start-delay"><text/></attribute>
                      <attribute name="interval-origin"><text/></attribute>
                    </choice>
                  </optional>
                  <optional><attribute name="timeout"><text/></attribute></optional>
                  <optional><attribute name="enabled"><ref name="boolean"/></attribute></optional>
                  <optional><attribute name="record-pending"><ref name="boolean"/></attribute></optional>
                  <optional><attribute name="role"><ref name="role"/></attribute></optional>
                  <optional>
                    <attribute name="on-fail">
                      <choice>
                        <value>ignore</value><value>block</value><value>demote</value><value>stop</value>
                        <value>restart</value><value>standby</value><value>fence</value>
                        <value>restart-container</value>
                      </choice>
                    </attribute>
                  </optional>
                  <zeroOrMore>
                    <choice>
                      <element name="meta_attributes"><ref name="nvset"/></element>
                      <element name="instance_attributes"><ref name="nvset"/></element>
                    </choice>
                  </zeroOrMore>
                </element>
              </zeroOrMore>
            </element>
          </define>
          <define name="group">
            <element name="group">
              <attribute name="id"><data type="ID"/></attribute>
              <optional><attribute name="description"><text/></attribute></optional>
              <interleave>
                <ref name="resource-sets"/>
                <oneOrMore><ref name="primitive"/></oneOrMore>
              </interleave>
            </element>
          </define>
          <define name="clone">
            <choice>
              <element name="clone"><ref name="clone-content"/></element>
              <element name="master"><ref name="clone-content"/></element>
            </choice>
          </define>
          <define name="clone-content">
            <attribute name="id"><data type="ID"/></attribute>
            <optional><attribute name="description"><text/></attribute></optional>
            <interleave>
              <ref name="resource-sets"/>
              <choice>
                <ref name="primitive"/>
                <ref name="group"/>
              </choice>
            </interleave>
          </define>

          <!-- Constraints -->
          <define name="constraints">
            <element name="constraints">
              <zeroOrMore>
                <choice>
                  <ref name="location"/>
                  <ref name="colocation"/>
                  <ref name="order"/>
                  <ref name="ticket"/>
                </choice>
              </zeroOrMore>
            </element>
          </define>
          <define name="lifetime">
            <element name="lifetime"><ref name="unsupported-content"/></element>
          </define>
          <define name="resource-set">
            <element name="resource_set">
              <choice>
                <attribute name="id-ref"><data type="IDREF"/></attribute>
                <group>
                  <attribute name="id"><data type="ID"/></attribute>
                  <optional><attribute name="sequential"><ref name="boolean"/></attribute></optional>
                  <optional><attribute name="require-all"><ref name="boolean"/></attribute></optional>
                  <optional>
                    <attribute name="ordering"><choice><value>group</value><value>listed</value></choice></attribute>
                  </optional>
                  <optional><attribute name="action"><ref name="action"/></attribute></optional>
                  <optional><attribute name="role"><ref name="role"/></attribute></optional>
                  <optional>
                    <choice>
                      <ref name="score"/>
                      <attribute name="kind"><ref name="order-kind"/></attribute>
                    </choice>
                  </optional>
                  <oneOrMore>
                    <element name="resource_ref"><attribute name="id"><data type="IDREF"/></attribute></element>
                  </oneOrMore>
                </group>
              </choice>
            </element>
          </define>
          <define name="location">
            <element name="rsc_location">
              <attribute name="id"><data type="ID"/></attribute>
              <choice>
                <group>
                  <choice>
                    <attribute name="rsc"><data type="IDREF"/></attribute>
                    <attribute name="rsc-pattern"><text/></attribute>
                  </choice>
                  <optional><attribute name="role"><ref name="role"/></attribute></optional>
                </group>
                <oneOrMore><ref name="resource-set"/></oneOrMore>
              </choice>
              <choice>
                <group>
                  <ref name="score"/>
                  <attribute name="node"><text/></attribute>
                </group>
                <oneOrMore><ref name="rule"/></oneOrMore>
              </choice>
              <optional><ref name="lifetime"/></optional>
              <optional>
                <attribute name="resource-discovery">
                  <choice><value>always</value><value>never</value><value>exclusive</value></choice>
                </attribute>
              </optional>
            </element>
          </define>
          <define name="colocation">
            <element name="rsc_colocation">
              <attribute name="id"><data type="ID"/></attribute>
              <optional><ref name="score"/></optional>
              <optional><attribute name="influence"><ref name="boolean"/></attribute></optional>
              <optional><ref name="lifetime"/></optional>
              <choice>
                <oneOrMore><ref name="resource-set"/></oneOrMore>
                <group>
                  <attribute name="rsc"><data type="IDREF"/></attribute>
                  <attribute name="with-rsc"><data type="IDREF"/></attribute>
                  <optional><attribute name="node-attribute"><text/></attribute></optional>
                  <optional><attribute name="rsc-role"><ref name="role"/></attribute></optional>
                  <optional><attribute name="with-rsc-role"><ref name="role"/></attribute></optional>
                </group>
              </choice>
            </element>
          </define>
          <define name="order">
            <element name="rsc_order">
              <attribute name="id"><data type="ID"/></attribute>
              <optional><ref name="lifetime"/></optional>
              <optional><attribute name="symmetrical"><ref name="boolean"/></attribute></optional>
              <optional><attribute name="require-all"><ref name="boolean"/></attribute></optional>
              <optional>
                <choice>
                  <ref name="score"/>
                  <attribute name="kind"><ref name="order-kind"/></attribute>
                </choice>
              </optional>
              <choice>
                <oneOrMore><ref name="resource-set"/></oneOrMore>
                <group>
                  <attribute name="first"><data type="IDREF"/></attribute>
                  <attribute name="then"><data type="IDREF"/></attribute>
                  <optional><attribute name="first-action"><ref name="action"/></attribute></optional>
                  <optional><attribute name="then-action"><ref name="action"/></attribute></optional>
                </group>
              </choice>
            </element>
          </define>
          <define name="ticket">
            <element name="rsc_ticket">
              <attribute name="id"><data type="ID"/></attribute>
              <choice>
                <oneOrMore><ref name="resource-set"/></oneOrMore>
                <group>
                  <attribute name="rsc"><data type="IDREF"/></attribute>
                  <optional><attribute name="rsc-role"><ref name="role"/></attribute></optional>
                </group>
              </choice>
              <attribute name="ticket"><text/></attribute>
              <optional>
                <attribute name="loss-policy">
                  <choice><value>stop</value><value>demote</value><value>fence</value><value>freeze</value></choice>
                </attribute>
              </optional>
            </element>
          </define>

          <!-- Status: what Meridian reads is typed; other attributes are allowed. -->
          <define name="other-attributes">
            <zeroOrMore><attribute><anyName/></attribute></zeroOrMore>
          </define>
          <define name="status">
            <element name="status">
              <zeroOrMore>
                <choice>
                  <ref name="node_state"/>
                  <element name="tickets">
                    <zeroOrMore>
                      <element name="ticket_state">
                        <attribute name="id"><text/></attribute>
                        <optional><attribute name="granted"><ref name="boolean"/></attribute></optional>
                        <optional><attribute name="standby"><ref name="boolean"/></attribute></optional>
                        <optional><attribute name="last-granted"><data type="integer"/></attribute></optional>
                        <zeroOrMore>
                          <attribute>
                            <anyName><except><name>id</name><name>granted</name><name>standby</name><name>last-granted</name></except></anyName>
                          </attribute>
                        </zeroOrMore>
                      </element>
                    </zeroOrMore>
                  </element>
                </choice>
              </zeroOrMore>
            </element>
          </define>
          <define name="node_state">
            <element name="node_state">
              <attribute name="id"><text/></attribute>
              <attribute name="uname"><text/></attribute>
              <zeroOrMore>
                <attribute><anyName><except><name>id</name><name>uname</name></except></anyName></attribute>
              </zeroOrMore>
              <interleave>
                <optional>
                  <element name="transient_attributes">
                    <ref name="other-attributes"/>
                    <zeroOrMore>
                      <choice>
                        <element name="instance_attributes"><ref name="status-nvset"/></element>
                        <element name="utilization"><ref name="unsupported-content"/></element>
                      </choice>
                    </zeroOrMore>
                  </element>
                </optional>
                <optional>
                  <element name="lrm">
                    <ref name="other-attributes"/>
                    <optional>
                      <element name="lrm_resources">
                        <ref name="other-attributes"/>
                        <zeroOrMore><ref name="lrm_resource"/></zeroOrMore>
                      </element>
                    </optional>
                  </element>
                </optional>
              </interleave>
            </element>
          </define>
          <define name="status-nvset">
            <zeroOrMore><attribute><anyName/></attribute></zeroOrMore>
            <zeroOrMore>
              <choice>
                <element name="nvpair">
                  <zeroOrMore><attribute><anyName><except><name>name</name></except></anyName></attribute></zeroOrMore>
                  <attribute name="name"><text/></attribute>
                </element>
                <ref name="rule"/>
              </choice>
            </zeroOrMore>
          </define>
          <define name="lrm_resource">
            <element name="lrm_resource">
              <attribute name="id"><text/></attribute>
              <zeroOrMore>
                <attribute><anyName><except><name>id</name></except></anyName></attribute>
              </zeroOrMore>
              <zeroOrMore>
                <element name="lrm_rsc_op">
                  <attribute name="id"><text/></attribute>
                  <attribute name="operation"><text/></attribute>
                  <optional><attribute name="call-id"><data type="integer"/></attribute></optional>
                  <optional><attribute name="rc-code"><data type="integer"/></attribute></optional>
                  <optional><attribute name="op-status"><data type="integer"/></attribute></optional>
                  <optional><attribute name="interval"><data type="integer"/></attribute></optional>
                  <optional><attribute name="last-rc-change"><data type="integer"/></attribute></optional>
                  <optional><attribute name="last-run"><data type="integer"/></attribute></optional>
                  <zeroOrMore>
                    <attribute>
                      <anyName>
                        <except>
                          <name>id</name><name>operation</name><name>call-id</name><name>rc-code</name>
                          <name>op-status</name><name>interval</name><name>last-rc-change</name><name>last-run</name>
                        </except>
                      </anyName>
                    </attribute>
                  </zeroOrMore>
                </element>
              </zeroOrMore>
            </element>
          </define>
        </grammar>
        """#

    /// The compiled schema (compiled once; the text is a constant, so compiling cannot fail).
    static let compiled: RelaxNGSchema = {
        do {
            return try RelaxNGSchema(string: relaxNG, sourceName: "meridian-cib.rng")
        } catch {
            preconditionFailure("Internal inconsistency: Meridian's CIB schema does not compile: \(error)")
        }
    }()
}

extension CIBModel {
    /// Checks a CIB against ``CIBSchema`` (Meridian's subset of Pacemaker 3.x).
    ///
    /// Validation and unpacking are separate: Pacemaker does not validate a CIB whose
    /// `validate-with` is `none`, and neither does `meridian simulate`; ``unpack(_:now:)``
    /// itself reports what it cannot read.
    ///
    /// - Throws: ``CIBError`` with code `.schemaViolation`, naming the first offending
    ///   element and line, with every violation in `diagnostics`.
    public static func validate(_ document: XMLDocument) throws(CIBError) {
        let violations = CIBSchema.compiled.violations(in: document)
        guard let first = violations.first(where: { $0.severity != .warning }) else { return }
        let count = violations.filter { $0.severity != .warning }.count
        throw CIBError(
            code: .schemaViolation,
            message: "the CIB does not conform to Meridian's CIB schema (\(count) problem\(count == 1 ? "" : "s")): "
                + first.message,
            element: first.element, elementID: nil, source: document.sourceName, line: first.line,
            hint: "fix the elements and attributes at the lines shown; Meridian's schema is Pacemaker 3.x's, "
                + "restricted to the values Meridian reads (see Docs/decisions/cib-subset.md)",
            diagnostics: violations)
    }
}
