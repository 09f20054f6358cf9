// A whole crm_simulate-style run: current status, injections, scheduling, execution and the
// revised status, as the text crm_simulate 2.1.5 prints.
import CIB
import Foundation
import MeridianXML
import Scheduler

/// What the scheduler decided for one CIB, as a simulation prints and saves it.
public struct ScheduledTransition: Sendable {
    /// The "Transition Summary:" lines (each starting with `  * `).
    public var summary: [String]
    /// The transition graph.
    public var graph: TransitionGraph
    /// The graph in dot form (crm_simulate's `-D`).
    public var dot: String
    /// The allocation and promotion score lines, in the order they were computed.
    public var scores: [String]

    public init(summary: [String], graph: TransitionGraph, dot: String, scores: [String]) {
        self.summary = summary
        self.graph = graph
        self.dot = dot
        self.scores = scores
    }
}

/// What a simulation is asked to do (crm_simulate's options).
public struct SimulationOptions: Sendable {
    /// Execute the transition and print the revised status (`-S`).
    public var simulate = false
    /// Print the allocation scores (`-s`); like crm_simulate, the output is then plain text
    /// (no section headings, no list bullets).
    public var showScores = false
    /// The effective date (`--set-datetime`), as given and as read.
    public var date: (text: String, value: Date)?
    /// The what-if events.
    public var injections = Injections()

    public init() {}
}

/// The result of a simulation.
public struct SimulationOutput: Sendable {
    /// What crm_simulate prints on stdout.
    public var text: String
    /// What it prints on stderr (a failed transition).
    public var errors: [String]
    /// The scheduler's decision (for `--save-graph` and `--save-dotfile`).
    public var transition: ScheduledTransition
    /// Whether the executed transition failed to complete (crm_simulate's "An invalid
    /// transition was produced"); false without `simulate`.
    public var transitionFailed: Bool
}

/// crm_simulate's run (pcmk__simulate), with the scheduler passed in.
public enum Simulation {
    /// Runs a simulation of `document`.
    ///
    /// - Parameters:
    ///   - document: the CIB as read (not validated here).
    ///   - options: what to do.
    ///   - clock: the current time, used when neither a date is given nor the CIB has an
    ///     `execution-date`, and recorded with injected results.
    ///   - schedule: the scheduler: the transition for an unpacked CIB.
    /// - Throws: ``CIBError`` when the CIB (or the CIB after the injections) cannot be unpacked,
    ///   ``SimulationError`` for injections that name unknown nodes or resources or actions that
    ///   cannot be simulated.
    public static func run(
        _ document: XMLDocument, options: SimulationOptions, clock: Date,
        schedule: (CIBModel) throws -> ScheduledTransition
    ) throws -> SimulationOutput {
        let hasExecutionDate = document.root.attribute("execution-date") != nil
        let now: Date? = options.date?.value ?? (hasExecutionDate ? nil : clock)
        let recordedTime = Int(clock.timeIntervalSince1970)
        // crm_simulate prints the effective date each time it resets its working set.
        let dateNote = options.date.map { "Setting effective cluster time: \($0.text)\n" } ?? ""

        var text = dateNote
        var current = document
        var model = try CIBModel.unpack(current, now: now)
        text += model.renderCurrentStatus()
        if options.injections.changesInput {
            let (injected, lines) = try options.injections.apply(to: current, model: model, now: recordedTime)
            text += "\nPerforming Requested Modifications:\n" + lines.map { "  * \($0)\n" }.joined()
            current = injected
            model = try CIBModel.unpack(current, now: now)
            text += dateNote
            if options.date == nil, let executionDate = model.executionDate {
                text += "Using the original execution date of: \(formatUTC(executionDate))\n"
            }
        }
        let transition = try schedule(model)
        if options.showScores {
            text += "\nAllocation Scores:\n" + transition.scores.map { "  * \($0)\n" }.joined()
        }
        text += "\nTransition Summary:\n" + transition.summary.map { $0 + "\n" }.joined()
        var errors: [String] = []
        var failed = false
        if options.simulate {
            let execution = try TransitionExecutor.execute(
                transition.graph, on: current, model: model, failures: options.injections.failures,
                now: recordedTime)
            text += "\nExecuting Cluster Transition:\n" + execution.lines.map { $0 + "\n" }.joined()
            errors = execution.errors
            failed = execution.outcome == .terminated
            let revised = try CIBModel.unpack(execution.document, now: now)
            text += dateNote + revised.renderRevisedStatus()
        }
        if options.showScores { text = plainText(text) }
        return SimulationOutput(text: text, errors: errors, transition: transition, transitionFailed: failed)
    }

    /// The section titles crm_simulate prints at the top level.
    static let titles: Set = [
        "Current cluster status:", "Performing Requested Modifications:", "Allocation Scores:",
        "Transition Summary:", "Executing Cluster Transition:", "Revised Cluster Status:",
    ]

    /// The node list items Pacemaker prints with an id (`Online: [ ... ]`), which plain text
    /// leaves out.
    static let nodeListIDs = ["Online", "OFFLINE", "RemoteOnline", "RemoteOFFLINE", "GuestOnline"]

    /// crm_simulate's plain text (what it prints with `-s`, where it does not force its
    /// "fancy" text): no list titles, no indentation or bullets, no ids before list items.
    static func plainText(_ fancy: String) -> String {
        var lines: [String] = []
        for line in fancy.split(separator: "\n", omittingEmptySubsequences: false) {
            if titles.contains(String(line)) { continue }
            let trimmed = line.drop(while: { $0 == " " })
            guard trimmed.hasPrefix("* ") else {
                lines.append(String(line))
                continue
            }
            var item = trimmed.dropFirst(2)
            if item.hasSuffix(":") { continue }  // a nested list's title
            for id in nodeListIDs where item.hasPrefix(id + ": [") {
                item = item.dropFirst(id.count + 2)
            }
            lines.append(String(item))
        }
        return lines.joined(separator: "\n")
    }

    /// `YYYY-MM-DD HH:MM:SSZ` in UTC, as Pacemaker prints dates.
    static func formatUTC(_ seconds: Int) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss'Z'"
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }
}
