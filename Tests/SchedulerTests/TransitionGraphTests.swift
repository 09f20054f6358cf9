// The transition graph's XML form: every graph.xml of the Pacemaker corpus is read and written
// back unchanged (compared as `diff --ignore-all-space --ignore-blank-lines` does).
import CorpusTestSupport
import Foundation
import Scheduler
import Testing

enum GraphXMLComparison {
    /// The lines of `text` with all whitespace removed, blank lines dropped.
    static func lines(_ text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { String($0.filter { !$0.isWhitespace }) }
            .filter { !$0.isEmpty }
    }
}

@Suite("Transition graph XML")
struct TransitionGraphTests {
    @Test("every corpus graph.xml round-trips through parse and renderXML")
    func corpusRoundTrip() throws {
        let names = PacemakerCorpus.caseNames(having: "graph.xml")
        try #require(!names.isEmpty, "no corpus at \(PacemakerCorpus.directory.path) (set MERIDIAN_SHARED)")
        var passed = 0
        for name in names {
            let url = PacemakerCorpus.file(name, "graph.xml")
            let text = try String(contentsOf: url, encoding: .utf8)
            let graph = try TransitionGraph.parse(xml: text, sourceName: url.path)
            let expected = GraphXMLComparison.lines(text)
            let rendered = GraphXMLComparison.lines(graph.renderXML())
            if expected == rendered {
                passed += 1
            } else {
                let index =
                    zip(expected, rendered).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset
                    ?? min(expected.count, rendered.count)
                let want = expected.dropFirst(index).first ?? "<end>"
                let got = rendered.dropFirst(index).first ?? "<end>"
                Issue.record("\(name): first difference at line \(index + 1): expected \(want), rendered \(got)")
            }
        }
        print("transition graph round-trip: \(passed)/\(names.count) corpus cases")
        #expect(passed == names.count)
    }

    @Test("the executor's accessors read interval, target rc and resource from the attributes")
    func accessors() throws {
        let xml = """
            <transition_graph cluster-delay="60s" transition_id="0">
              <synapse id="0" priority="1000000">
                <action_set>
                  <rsc_op id="4" operation="monitor" operation_key="db_monitor_10000" internal_operation_key="db:1_monitor_10000" on_node="n1" on_node_uuid="1">
                    <primitive id="db" long-id="db:1" class="ocf" provider="heartbeat" type="Dummy"/>
                    <attributes CRM_meta_interval="10000" CRM_meta_op_target_rc="8" CRM_meta_timeout="20000" a="x&amp;y"/>
                  </rsc_op>
                </action_set>
                <inputs>
                  <trigger>
                    <crm_event id="1" operation="stonith" operation_key="stonith-n2-reboot" on_node="n2" on_node_uuid="2"/>
                  </trigger>
                </inputs>
              </synapse>
            </transition_graph>
            """
        let graph = try TransitionGraph.parse(xml: xml)
        let action = try #require(graph.synapses.first?.action)
        #expect(action.resourceLongID == "db:1")
        #expect(action.intervalMilliseconds == 10000)
        #expect(action.targetRC == 8)
        #expect(action.node == "n1")
        #expect(action.attributes[named: "a"] == "x&y")
        #expect(graph.synapses[0].priority == 1_000_000)
        #expect(graph.synapses[0].inputs.map(\.kind) == [.crmEvent])
        #expect(try TransitionGraph.parse(xml: graph.renderXML()) == graph)
        #expect(TransitionGraph.empty.renderXML().hasSuffix("transition_id=\"0\"/>\n"))
    }

    @Test("a file that is not a transition graph is rejected with the element and line")
    func rejectsOtherDocuments() {
        #expect(throws: TransitionGraphError.self) {
            try TransitionGraph.parse(xml: "<cib>\n</cib>", sourceName: "x.xml")
        }
        do {
            _ = try TransitionGraph.parse(
                xml:
                    "<transition_graph>\n<synapse id=\"0\">\n<action_set><bogus/></action_set></synapse></transition_graph>",
                sourceName: "g.xml")
            Issue.record("accepted a bogus action")
        } catch let error as TransitionGraphError {
            #expect(error.description.contains("g.xml:3"))
            #expect(error.description.contains("bogus"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}
