import ArgumentParser
import CIB
import ClusterSimulation
import Foundation
import MeridianXML
import Scheduler

/// `meridian simulate`: the administrator's dry run, in crm_simulate's format: what the
/// scheduler decides for a CIB, optionally after what-if events, and the cluster after the
/// transition.
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Show what the scheduler would do with a CIB, and what-if events (crm_simulate).",
        discussion: """
            Prints the current cluster status and the Transition Summary as Pacemaker 2.1.5's \
            crm_simulate does; with --simulate also the actions executed and the revised status, \
            so that the output can be compared with `crm_simulate -x FILE -S` line by line. \
            Injections (--node-*, --ticket-*, --op-inject) change the CIB before scheduling, in \
            crm_simulate's order; --op-fail changes the result of an executed action.

            EXIT STATUS (codes of the meridian table, see `meridian ticket --help`)
              0  success
              1  the simulated transition did not complete (crm_simulate's "An invalid
                 transition was produced"), or --save-graph/--save-dotfile could not be written
              2  usage or input error: bad option, injection spec or date; missing, unreadable
                 or malformed XML; a CIB that violates the schema or uses features Meridian
                 cannot schedule; an unknown node or resource in an injection
            """)

    @Option(
        name: [.customShort("x"), .long],
        help: ArgumentHelp("The CIB to simulate (configuration and status).", valueName: "file"))
    var xmlFile: String

    @Flag(name: [.customShort("S"), .long], help: "Execute the transition and print the revised status.")
    var simulate = false

    @Flag(
        name: [.customShort("s"), .long],
        help: "Print the allocation scores (the output is then crm_simulate's plain text, without headings).")
    var showScores = false

    @Option(
        name: [.customShort("G"), .long],
        help: ArgumentHelp("Write the transition graph (crm_simulate's graph XML) to this file.", valueName: "file"))
    var saveGraph: String?

    @Option(
        name: [.customShort("D"), .long],
        help: ArgumentHelp("Write the transition graph in dot form to this file.", valueName: "file"))
    var saveDotfile: String?

    @Option(
        name: [.customShort("t"), .customLong("set-datetime"), .customLong("date")],
        help: ArgumentHelp(
            "Schedule as if it were this date (YYYY-MM-DD[ HH:MM[:SS]][Z|+HH:MM]; local time without an offset).",
            valueName: "datetime"))
    var date: String?

    @Option(name: [.customShort("u"), .long], help: ArgumentHelp("Bring a node online.", valueName: "node"))
    var nodeUp: [String] = []

    @Option(name: [.customShort("d"), .long], help: ArgumentHelp("Take a node offline.", valueName: "node"))
    var nodeDown: [String] = []

    @Option(
        name: [.customShort("f"), .long],
        help: ArgumentHelp("Mark a node as failed (it will be fenced).", valueName: "node"))
    var nodeFail: [String] = []

    @Option(
        name: [.customShort("i"), .long],
        help: ArgumentHelp(
            "Record an operation result before scheduling: \(OperationSpec.format).", valueName: "spec"))
    var opInject: [String] = []

    @Option(
        name: [.customShort("F"), .long],
        help: ArgumentHelp(
            "Make an executed operation return this result instead (with --simulate): \(OperationSpec.format).",
            valueName: "spec"))
    var opFail: [String] = []

    @Option(name: [.customShort("g"), .long], help: ArgumentHelp("Grant a ticket.", valueName: "ticket"))
    var ticketGrant: [String] = []

    @Option(name: [.customShort("r"), .long], help: ArgumentHelp("Revoke a ticket.", valueName: "ticket"))
    var ticketRevoke: [String] = []

    @Option(name: [.customShort("b"), .long], help: ArgumentHelp("Put a ticket in standby.", valueName: "ticket"))
    var ticketStandby: [String] = []

    @Option(
        name: [.customShort("e"), .long], help: ArgumentHelp("Activate a ticket in standby.", valueName: "ticket"))
    var ticketActivate: [String] = []

    /// The options as the simulation takes them; bad specs and dates are usage errors.
    func simulationOptions() throws -> SimulationOptions {
        var options = SimulationOptions()
        options.simulate = simulate
        options.showScores = showScores
        do {
            if let date { options.date = (date, try SimulationDate.parse(date)) }
            options.injections.nodesUp = nodeUp
            options.injections.nodesDown = nodeDown
            options.injections.nodesFailed = nodeFail
            options.injections.ticketsGranted = ticketGrant
            options.injections.ticketsRevoked = ticketRevoke
            options.injections.ticketsStandby = ticketStandby
            options.injections.ticketsActivated = ticketActivate
            options.injections.operations = try opInject.map { try OperationSpec.parse($0, option: "--op-inject") }
            options.injections.failures = try opFail.map { try OperationSpec.parse($0, option: "--op-fail") }
        } catch let error as SimulationError {
            throw CLIFailure(.usage, "\(error.option.map { "\($0): " } ?? "")\(error.message)", fix: error.hint)
        }
        return options
    }

    func run() throws {
        let options = try simulationOptions()
        let document: XMLDocument
        do {
            guard FileManager.default.fileExists(atPath: xmlFile) else {
                throw CLIFailure(
                    .usage, "--xml-file \(xmlFile): no such file",
                    fix: "give the path of a CIB, for example one saved with `cibadmin --query > cib.xml`")
            }
            document = try CIBModel.document(contentsOfFile: xmlFile)
            if document.root.attribute("validate-with")?.lowercased() != "none" {
                try CIBModel.validate(document)
            }
        } catch let error as CIBError {
            throw CLIFailure(.usage, verbatim: "meridian: \(error)")
        }
        let output: SimulationOutput
        do {
            output = try Simulation.run(document, options: options, clock: Date(), schedule: Self.schedule)
        } catch let error as CIBError {
            throw CLIFailure(.usage, verbatim: "meridian: \(error)")
        } catch let error as SimulationError {
            throw CLIFailure(.usage, "\(error.option.map { "\($0): " } ?? "")\(error.message)", fix: error.hint)
        } catch let failure as CLIFailure {
            throw failure
        }
        print(output.text, terminator: output.text.hasSuffix("\n") ? "" : "\n")
        for line in output.errors { Output.error(line) }
        if let saveGraph { try write(output.transition.graph.renderXML(), to: saveGraph, option: "--save-graph") }
        if let saveDotfile { try write(output.transition.dot, to: saveDotfile, option: "--save-dotfile") }
        if output.transitionFailed {
            throw CLIFailure(
                .refused, "the simulated transition did not complete",
                fix: "an action's inputs never completed; check --op-fail, or report the CIB as a scheduler bug")
        }
    }

    func write(_ text: String, to path: String, option: String) throws {
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw CLIFailure(
                .refused, "\(option) \(path): cannot write: \(error.localizedDescription)",
                fix: "give a path in a directory that exists and is writable")
        }
    }

    /// Refuses CIBs with features the scheduler does not support where they affect decisions.
    static func checkSupported(_ model: CIBModel) throws {
        let blocking = model.unsupportedFeatures.filter { $0.impact == .affectsDecisions }
        guard !blocking.isEmpty else { return }
        throw CLIFailure(
            .usage,
            "\(model.source): the CIB uses features Meridian's scheduler does not support:\n"
                + blocking.map { "  \($0)" }.joined(separator: "\n"),
            fix: "remove them, or simulate this CIB with Pacemaker's crm_simulate")
    }

    /// The scheduler: Meridian's transition for the (injected) CIB.
    static func schedule(_ model: CIBModel) throws -> ScheduledTransition {
        try checkSupported(model)
        let transition = Transition.schedule(model)
        return ScheduledTransition(
            summary: transition.summary, graph: transition.graph, dot: transition.dot,
            scores: transition.placement.scores.entries.map(\.line))
    }
}
