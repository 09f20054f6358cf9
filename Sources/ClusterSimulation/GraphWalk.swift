// The order in which a transition graph's synapses fire, as Pacemaker's graph consumer
// (pcmk__execute_graph) runs them when every action completes at once.
import Scheduler

/// How a walk over a transition graph ended (Pacemaker's `pcmk__graph_status`).
public enum GraphOutcome: String, Sendable, Hashable {
    /// Every synapse that could fire did; nothing was skipped.
    case complete
    /// A failure aborted the transition: synapses below the abort priority were skipped.
    case stopped
    /// Synapses remain that can never fire (an input never completes, and nothing failed).
    case terminated
}

/// The walk of a transition graph: which synapse fires next, when each action completes as
/// soon as it is initiated (as in a simulation).
///
/// Pure state machine. Pacemaker's consumer makes passes over the synapses in graph order;
/// within a pass, a synapse fires when all its inputs are confirmed, and its action completes
/// at once, confirming the inputs of later synapses (which may then fire in the same pass)
/// and of earlier ones (which fire in the next pass). A failed action confirms only the inputs
/// of synapses with priority INFINITY, and raises the abort priority to INFINITY, so that
/// afterwards only pseudo actions and INFINITY-priority synapses fire.
public struct GraphWalk: Sendable {
    /// Pacemaker's INFINITY, the priority of synapses that must run even after a failure.
    public static let infinity = 1_000_000

    struct SynapseState: Sendable {
        var executed = false
        var confirmed = false
        var ready = false
        /// Per input, confirmed.
        var inputsConfirmed: [Bool]
    }

    public let graph: TransitionGraph
    var states: [SynapseState]
    var abortPriority = 0

    public init(_ graph: TransitionGraph) {
        self.graph = graph
        self.states = graph.synapses.map {
            SynapseState(inputsConfirmed: Array(repeating: false, count: $0.inputs.count))
        }
    }

    /// Runs the graph to its end: `perform` is called once for each action in firing order and
    /// returns whether the action failed.
    public mutating func run(_ perform: (GraphAction) -> Bool) -> GraphOutcome {
        while true {
            let pass = runPass(perform)
            if pass.fired == 0 {
                if pass.incomplete != 0 && abortPriority <= 0 { return .terminated }
                return pass.skipped != 0 ? .stopped : .complete
            }
        }
    }

    /// One pass over the synapses (Pacemaker's `pcmk__execute_graph`).
    mutating func runPass(_ perform: (GraphAction) -> Bool) -> (fired: Int, skipped: Int, incomplete: Int) {
        var fired = 0
        var skipped = 0
        var incomplete = 0
        for index in graph.synapses.indices {
            if states[index].confirmed || states[index].executed { continue }
            switch shouldFire(index) {
            case .fire:
                fired += 1
                states[index].executed = true
                let action = graph.synapses[index].action
                let failed = perform(action)
                // The simulated action completes at once: confirm it and update the graph.
                states[index].confirmed = true
                complete(action.id, failed: failed)
            case .skip:
                skipped += 1
            case .wait:
                incomplete += 1
            }
        }
        return (fired, skipped, incomplete)
    }

    enum Decision { case fire, skip, wait }

    /// Pacemaker's `should_fire_synapse`.
    mutating func shouldFire(_ index: Int) -> Decision {
        states[index].ready = true
        if states[index].inputsConfirmed.contains(false) {
            states[index].ready = false
            return .wait
        }
        let synapse = graph.synapses[index]
        if !synapse.action.isPseudo && (synapse.priority ?? 0) < abortPriority {
            return .skip
        }
        return .fire
    }

    /// Pacemaker's `pcmk__update_graph` after action `id` completed.
    mutating func complete(_ id: Int, failed: Bool) {
        if failed { abortPriority = Self.infinity }
        for index in graph.synapses.indices {
            if states[index].confirmed { continue }
            if states[index].executed { continue }  // its single action is confirmed when it completes
            if failed && (graph.synapses[index].priority ?? 0) != Self.infinity { continue }
            // Pacemaker's update_synapse_ready: nothing to do once all inputs are confirmed.
            if states[index].ready { continue }
            var allConfirmed = true
            for (position, input) in graph.synapses[index].inputs.enumerated() {
                if input.id == id {
                    states[index].inputsConfirmed[position] = true
                } else if !states[index].inputsConfirmed[position] {
                    allConfirmed = false
                }
            }
            states[index].ready = allConfirmed
        }
    }
}
