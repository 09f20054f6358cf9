// What-if injections: spec parsing and its errors, the graph walk's order and failure rules,
// and the changes made to a CIB.
import CIB
import CorpusTestSupport
import Foundation
import MeridianXML
import Scheduler
import Testing

@testable import ClusterSimulation

@Suite("Operation specs")
struct OperationSpecTests {
    @Test("resource_task_interval@node=rc, with underscores and clone instances in the resource name")
    func parses() throws {
        let spec = try OperationSpec.parse("rsc1_monitor_10000@node1=7", option: "--op-fail")
        #expect(
            spec == OperationSpec(resource: "rsc1", task: "monitor", intervalMilliseconds: 10000, node: "node1", rc: 7))
        let underscored = try OperationSpec.parse("my_db_rsc:1_start_0@node-2=1", option: "--op-fail")
        #expect(underscored.resource == "my_db_rsc:1")
        #expect(underscored.task == "start")
        #expect(underscored.key == "my_db_rsc:1_start_0")
        let notify = try OperationSpec.parse("ms_rsc:0_post_notify_start_0@n1=0", option: "--op-inject")
        #expect(notify.resource == "ms_rsc:0")
        #expect(notify.task == "post_notify_start")
        let migrate = try OperationSpec.parse("vm_migrate_to_0@n1=0", option: "--op-inject")
        #expect(migrate.resource == "vm")
        #expect(migrate.task == "migrate_to")
        #expect(try OperationSpec.parse("r_stop_0@n=-2", option: "--op-fail").rc == -2)
    }

    @Test(
        "a bad spec names the option, the spec and the expected format",
        arguments: [
            ("rsc1_monitor_10000node1=7", "has no @"),
            ("rsc1_monitor_10000@node1", "has no =rc"),
            ("rsc1_monitor_10000@node1=seven", "not an integer"),
            ("rsc1_monitor_10000@=7", "names no node"),
            ("rsc1_monitor@node1=7", "resource_task_interval"),
            ("rsc1_monitor_10s@node1=7", "resource_task_interval"),
            ("monitor_0@node1=7", "resource_task_interval"),
        ])
    func rejects(spec: String, problem: String) {
        do {
            _ = try OperationSpec.parse(spec, option: "--op-fail")
            Issue.record("accepted \(spec)")
        } catch {
            #expect(error.option == "--op-fail")
            #expect(error.description.contains(spec))
            #expect(error.description.contains(problem))
            #expect(error.description.contains("${resource}_${task}_${interval_in_ms}@${node}=${rc}"))
        }
    }
}

@Suite("Graph walk")
struct GraphWalkTests {
    static func action(_ id: Int, pseudo: Bool = false) -> GraphAction {
        GraphAction(
            kind: pseudo ? .pseudoEvent : .rscOp, id: id, operation: "start", operationKey: "r\(id)_start_0",
            onNode: pseudo ? nil : "n1")
    }

    static func graph(_ synapses: [(Int, [Int], Int?, Bool)]) -> TransitionGraph {
        TransitionGraph(
            synapses: synapses.enumerated().map { index, entry in
                Synapse(
                    id: index, priority: entry.2, action: action(entry.0, pseudo: entry.3),
                    inputs: entry.1.map { action($0).reference })
            })
    }

    @Test("synapses fire in passes over graph order; later dependents fire in the same pass")
    func order() {
        // 10 waits for 11 (later in the graph): it fires in the second pass; 12 waits for 11 and
        // fires in the same pass.
        var walk = GraphWalk(Self.graph([(10, [11], nil, false), (11, [], nil, false), (12, [11], nil, false)]))
        var fired: [Int] = []
        let outcome = walk.run {
            fired.append($0.id); return false
        }
        #expect(fired == [11, 12, 10])
        #expect(outcome == .complete)
    }

    @Test("a failed action stops its dependents except pseudo actions and INFINITY priorities")
    func failure() {
        var walk = GraphWalk(
            Self.graph([
                (1, [], nil, false), (2, [1], nil, false), (3, [1], 1_000_000, true), (4, [], nil, false),
                (5, [], nil, true),
            ]))
        var fired: [Int] = []
        let outcome = walk.run {
            fired.append($0.id); return $0.id == 1
        }
        // 2 never gets its input; 3 (INFINITY) does; 4 is skipped (below the abort priority);
        // 5 is a pseudo action.
        #expect(fired == [1, 3, 5])
        #expect(outcome == .stopped)
    }

    @Test("a synapse whose input never completes terminates the transition")
    func terminated() {
        var walk = GraphWalk(Self.graph([(1, [99], nil, false), (2, [], nil, false)]))
        var fired: [Int] = []
        #expect(
            walk.run {
                fired.append($0.id); return false
            } == .terminated)
        #expect(fired == [2])
    }
}

@Suite("Injections")
struct InjectionApplyTests {
    static func load(_ name: String) throws -> (XMLDocument, CIBModel) {
        let document = try CIBModel.document(contentsOfFile: PacemakerCorpus.file(name, "input.xml").path)
        return (document, try CIBModel.unpack(document, now: Date()))
    }

    @Test("node down clears the node's history; ticket revoke records granted=false")
    func nodeDownAndTicket() throws {
        let (document, model) = try Self.load("1360")
        var injections = Injections()
        injections.nodesDown = ["ssgtest1a"]
        injections.ticketsRevoked = ["ticketA"]
        let (changed, lines) = try injections.apply(to: document, model: model, now: 1_700_000_000)
        #expect(lines == ["Taking node ssgtest1a offline", "Revoking ticket ticketA"])
        let state = try #require(try changed.select("//node_state[@uname='ssgtest1a']").first)
        #expect(state.attribute("in_ccm") == "false")
        #expect(state.attribute("crmd") == "offline")
        #expect(state.firstChild(named: "lrm") == nil)
        #expect(try changed.select("//ticket_state[@id='ticketA']").first?.attribute("granted") == "false")
        // The input is unchanged.
        #expect(try document.select("//node_state[@uname='ssgtest1a']").first?.attribute("in_ccm") == "true")
    }

    @Test("an injected operation result is recorded with a call id above the history's")
    func operation() throws {
        let (document, model) = try Self.load("1360")
        var injections = Injections()
        injections.operations = [try OperationSpec.parse("VIP_monitor_10000@ssgtest1a=1", option: "--op-inject")]
        let (changed, lines) = try injections.apply(to: document, model: model, now: 1_700_000_000)
        #expect(lines.first == "Injecting VIP_monitor_10000@ssgtest1a=1 into the configuration")
        #expect(lines.dropFirst().allSatisfy { $0.hasPrefix("Injecting attribute ") })
        let op = try #require(
            try changed.select(
                "//node_state[@uname='ssgtest1a']//lrm_resource[@id='VIP']/lrm_rsc_op[@id='VIP_last_failure_0']"
            )
            .first)
        #expect(op.attribute("rc-code") == "1")
        #expect(op.attribute("operation_key") == "VIP_monitor_10000")
        let failCount = try changed.select(
            "//node_state[@uname='ssgtest1a']//nvpair[@name='fail-count-VIP#monitor_10000']")
        #expect(failCount.first?.attribute("value") == "1")
        let revised = try CIBModel.unpack(changed, now: Date())
        #expect(revised.renderRevisedStatus().contains("FAILED ssgtest1a"))
    }

    @Test(
        "names that are not in the CIB are errors naming the option",
        arguments: ["--node-up", "--node-down", "--node-fail", "--op-inject"])
    func unknownNames(option: String) throws {
        let (document, model) = try Self.load("1360")
        var injections = Injections()
        switch option {
        case "--node-up": injections.nodesUp = ["nosuchnode"]
        case "--node-down": injections.nodesDown = ["nosuchnode"]
        case "--node-fail": injections.nodesFailed = ["nosuchnode"]
        default: injections.operations = [try OperationSpec.parse("nosuchrsc_start_0@ssgtest1a=0", option: option)]
        }
        do {
            _ = try injections.apply(to: document, model: model, now: 0)
            Issue.record("accepted an unknown name for \(option)")
        } catch let error as SimulationError {
            #expect(error.option == option)
            #expect(error.description.contains("nosuch"))
            #expect(error.hint.contains(option == "--op-inject" ? "resource" : "ssgtest1a"))
        }
    }
}
