// The scheduler's result: placement, actions and the transition summary.
import CIB

/// The result of scheduling a CIB: the placement behind it and the actions the
/// transition takes, with crm_simulate's "Transition Summary:" lines.
///
/// Immutable; computed by ``Transition/schedule(_:)``, a pure function of the model.
public struct Transition: Sendable {
    /// Scores and placement.
    public let placement: Placement
    /// The "Transition Summary:" lines (each starting with `  * `), as crm_simulate prints them.
    public let summary: [String]
    /// The transition graph: the required, runnable actions and their orderings
    /// (crm_simulate -G). Probes are not scheduled (see Docs/scheduler.md).
    public let graph: TransitionGraph
    /// The graph in dot form (crm_simulate -D), derived from ``graph``.
    public var dot: String { graph.dot() }

    /// Schedules `model`: scores and placement, then actions, orderings and the summary.
    public static func schedule(_ model: CIBModel) -> Transition {
        let placement = Placement.compute(model)
        let computation = ActionsComputation(model: model, placement: placement)
        computation.run()
        let summary = computation.summaryLines()
        computation.createRecurringMonitors()
        return Transition(placement: placement, summary: summary, graph: computation.graph())
    }
}

extension ActionsComputation {
    /// Runs the phase: actions, internal and configured orderings, fencing, settling.
    func run() {
        for top in model.topLevel { createActions(top) }
        configuredOrderings()
        for top in model.topLevel { internalConstraints(top) }
        scheduleFencing()
        applyOrderings()
    }
}
