import ArgumentParser
import Foundation
import ReplicaConfig
import ReplicaControl

/// `meridian volume`: drbdadm's verbs for meridian-replicad's resources.
struct VolumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volume",
        abstract: "Control replicated volumes of meridian-replicad (drbdadm's verbs).",
        discussion: """
            Every command reads the resource file first (errors exit 2 before the daemon is asked), \
            then talks to the daemon of --node over <run-dir>/<node>.ctl.

            \(ExitStatus.table)
            """,
        subcommands: [
            CreateMetadata.self, Up.self, Down.self, Primary.self, Secondary.self, Connect.self, Disconnect.self,
            Status.self, Verify.self, Invalidate.self, Outdate.self, ResumeIO.self, Adjust.self, RoleQuery.self, DiskStateQuery.self, ConnectionStateQuery.self,
        ])
}

/// Options every volume command takes.
struct VolumeOptions: ParsableArguments {
    @Option(help: "The resource file (DRBD 9 syntax).") var config: String = "/etc/meridian/replicad.res"
    @Option(help: "This node's name (an `on NAME` section); default: the host name.") var node: String?
    @Option(help: "Directory of the daemon's sockets (default $MERIDIAN_REPLICAD_RUN_DIR or /run/meridian-replicad).")
    var runDir: String?
    @Option(help: "Seconds to wait for the daemon's answer.") var timeout: Double = 60

    var nodeName: String { node ?? ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "" }

    var socketPath: String {
        let dir = runDir ?? ProcessInfo.processInfo.environment["MERIDIAN_REPLICAD_RUN_DIR"] ?? "/run/meridian-replicad"
        return "\(dir)/\(nodeName).ctl"
    }

    /// Loads the configuration and checks the resource and node exist in it.
    func check(resource: String?) throws -> ReplicaConfiguration {
        let configuration: ReplicaConfiguration
        do { configuration = try ReplicaConfiguration.load(path: config) } catch {
            throw CLIFailure(.usage, verbatim: "meridian: \(error.description)")
        }
        if let resource {
            guard let r = configuration.resource(named: resource) else {
                throw CLIFailure(.unknownTicket, "unknown resource '\(resource)' in \(config)",
                                 fix: "resources there: \(configuration.resources.map(\.name).joined(separator: ", "))")
            }
            guard r.nodes.contains(where: { $0.name == nodeName }) else {
                throw CLIFailure(.usage, "resource \(resource) has no `on \(nodeName)` section",
                                 fix: "--node must be one of: \(r.nodes.map(\.name).joined(separator: ", "))")
            }
        }
        return configuration
    }

    /// Sends a request; failures become CLI failures with the exit-code table's meaning.
    func send(_ request: ControlRequest) throws -> ControlResponse {
        let response: ControlResponse
        do { response = try ControlClient(socketPath: socketPath).send(request, timeout: .milliseconds(Int(timeout * 1000))) } catch {
            throw CLIFailure(.unreachable, error.description, fix: error.fix)
        }
        if let error = response.error {
            let status: ExitStatus = switch error.code {
            case "unknown-resource": .unknownTicket
            case "invalid": .usage
            default: .refused
            }
            throw CLIFailure(status, error.message, fix: error.fix)
        }
        return response
    }
}

/// A volume command that names one resource and sends one request.
protocol SimpleVolumeCommand: ParsableCommand {
    static var command: ControlCommand { get }
    var options: VolumeOptions { get }
    var resource: String { get }
    var force: Bool { get }
}

extension SimpleVolumeCommand {
    var force: Bool { false }
    func run() throws {
        _ = try options.check(resource: resource)
        let response = try options.send(ControlRequest(command: Self.command, resource: resource, force: force))
        if let message = response.message { print(message) }
    }
}

struct CreateMetadata: SimpleVolumeCommand {
    static let configuration = CommandConfiguration(
        commandName: "create-md", abstract: "Write fresh metadata on every volume's backing device (resource down).",
        discussion: "Refused when valid metadata exists unless --force (which destroys it).")
    static let command = ControlCommand.createMetadata
    @Argument(help: "Resource name.") var resource: String
    @Flag(help: "Overwrite existing metadata.") var force = false
    @OptionGroup var options: VolumeOptions
}

struct Up: SimpleVolumeCommand {
    static let configuration = CommandConfiguration(abstract: "Attach the volumes (Secondary) and start connecting.")
    static let command = ControlCommand.up
    @Argument(help: "Resource name.") var resource: String
    @OptionGroup var options: VolumeOptions
}

struct Down: SimpleVolumeCommand {
    static let configuration = CommandConfiguration(abstract: "Demote, disconnect and detach (refused while in use).")
    static let command = ControlCommand.down
    @Argument(help: "Resource name.") var resource: String
    @OptionGroup var options: VolumeOptions
}

struct Primary: SimpleVolumeCommand {
    static let configuration = CommandConfiguration(
        abstract: "Promote: serve the volumes over NBD.",
        discussion: "Refused without UpToDate data, or while the peer is Primary. --force declares this node's data "
            + "UpToDate (the first promotion of fresh volumes; it starts the initial full sync).")
    static let command = ControlCommand.primary
    @Argument(help: "Resource name.") var resource: String
    @Flag(help: "Promote even without UpToDate data.") var force = false
    @OptionGroup var options: VolumeOptions
}

struct Secondary: SimpleVolumeCommand {
    static let configuration = CommandConfiguration(abstract: "Demote (refused while NBD clients are connected).")
    static let command = ControlCommand.secondary
    @Argument(help: "Resource name.") var resource: String
    @OptionGroup var options: VolumeOptions
}

struct Connect: SimpleVolumeCommand {
    static let configuration = CommandConfiguration(abstract: "Connect to the peer again after disconnect.")
    static let command = ControlCommand.connect
    @Argument(help: "Resource name.") var resource: String
    @OptionGroup var options: VolumeOptions
}

struct Disconnect: SimpleVolumeCommand {
    static let configuration = CommandConfiguration(abstract: "Drop the connection and stay StandAlone.")
    static let command = ControlCommand.disconnect
    @Argument(help: "Resource name.") var resource: String
    @OptionGroup var options: VolumeOptions
}

struct Invalidate: SimpleVolumeCommand {
    static let configuration = CommandConfiguration(abstract: "Discard the local data: full sync from the peer.")
    static let command = ControlCommand.invalidate
    @Argument(help: "Resource name.") var resource: String
    @OptionGroup var options: VolumeOptions
}

struct Outdate: SimpleVolumeCommand {
    static let configuration = CommandConfiguration(
        abstract: "Mark this node's data Outdated (for fence-peer handlers; refused on a Primary or while connected).",
        discussion: """
            A fence-peer handler on the Primary runs this on the peer (e.g. over ssh) and exits 4 when \
            it succeeds: the peer then cannot be promoted without --force until it has resynced.
            """)
    static let command = ControlCommand.outdate
    @Argument(help: "Resource name.") var resource: String
    @OptionGroup var options: VolumeOptions
}

struct Adjust: SimpleVolumeCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply the configuration file's resync options and handlers to the running resource.",
        discussion: """
            drbdadm adjust for what can change while a resource runs: c-plan-ahead, c-fill-target, \
            c-delay-target, c-max-rate, c-min-rate, resync-rate (a resync in progress switches within \
            100 ms) and the handlers. The daemon reads the file it was started with again. When anything \
            else differs (addresses, protocol, secret, fencing, after-sb policies, volumes, ...), nothing \
            is changed and the answer names it: apply those with `down` and `up`. Run it on both nodes.
            """)
    static let command = ControlCommand.adjust
    @Argument(help: "Resource name.") var resource: String
    @OptionGroup var options: VolumeOptions
}

struct ResumeIO: SimpleVolumeCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume-io",
        abstract: "Resume I/O suspended for fencing (fencing resource-and-stonith) without an outdated peer.",
        discussion: """
            A Primary with `fencing resource-and-stonith` suspends writes when it loses its peer, until \
            the fence-peer handler reports the peer outdated or fenced, or the peer reconnects. When the \
            handler failed, writes stay suspended; resume-io lets them go on. Make sure first that the \
            peer cannot be promoted with its older data (it is down, fenced or outdated), or its site \
            may later run the service on data without these writes.
            """)
    static let command = ControlCommand.resumeIO
    @Argument(help: "Resource name.") var resource: String
    @OptionGroup var options: VolumeOptions
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Online verify: compare hashes with the peer; differences are marked out of sync.",
        discussion: "Marked blocks are resynced at the next reconnect (disconnect, then connect), as with drbdadm.")
    @Argument(help: "Resource name.") var resource: String
    @Flag(help: "Wait until the verify finished.") var wait = false
    @OptionGroup var options: VolumeOptions

    func run() throws {
        _ = try options.check(resource: resource)
        let response = try options.send(ControlRequest(command: .verify, resource: resource, wait: wait))
        if let volumes = response.status?.first?.volumes {
            for v in volumes {
                if let verify = v.verify {
                    print("volume:\(v.volume) verify \(verify.running ? String(format: "running done:%.2f", verify.percentDone) : "done") out-of-sync:\(formatBytes(verify.outOfSyncFoundBytes))")
                }
            }
        }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show roles, disk and connection states, out-of-sync data and resync progress.",
        discussion: "--json prints the daemon's status records, including each Primary volume's NBD socket.")
    @Argument(help: "Resource name (default: all).") var resource: String?
    @Flag(help: "Machine-readable output.") var json = false
    @OptionGroup var options: VolumeOptions

    func run() throws {
        _ = try options.check(resource: resource)
        let response = try options.send(ControlRequest(command: .status, resource: resource))
        let statuses = response.status ?? []
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: (try? encoder.encode(statuses)) ?? Data("[]".utf8), as: UTF8.self))
        } else {
            for s in statuses { print(renderStatus(s, node: options.nodeName), terminator: "") }
        }
    }
}

/// drbdsetup-status-like text.
func renderStatus(_ s: ResourceStatus, node: String) -> String {
    var out = "\(s.name) role:\(s.role)\(s.suspended ? " suspended:fencing" : "")\n"
    for v in s.volumes {
        out += "  volume:\(v.volume) disk:\(v.disk)"
        if v.outOfSyncBytes > 0 { out += " out-of-sync:\(formatBytes(v.outOfSyncBytes))" }
        if let socket = v.nbdSocket { out += " nbd:\(socket)" }
        out += "\n"
    }
    if let c = s.connection {
        out += "  \(c.peerNode) connection:\(c.state)"
        if c.state == "Connected" { out += " role:\(c.peerRole)" }
        out += "\n"
        if c.state == "Connected" {
            for v in s.volumes {
                out += "    volume:\(v.volume) replication:\(v.replication) peer-disk:\(v.peerDisk)"
                if let r = v.resync {
                    out += String(format: " done:%.2f", r.percentDone)
                    out += " rate:\(formatBytes(r.rateBytesPerSecond))/s"
                    if let eta = r.etaSeconds { out += " eta:\(Int(eta.rounded()))s" }
                }
                if let verify = v.verify, verify.running { out += String(format: " verify:running done:%.2f", verify.percentDone) }
                out += "\n"
            }
        }
    }
    return out
}

func formatBytes(_ bytes: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024, unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes)B" : String(format: "%.1f%@", value, units[unit])
}

/// `role`, `dstate`, `cstate`: one-word answers for shell agents (as drbdadm's).
protocol StateQuery: ParsableCommand {
    var resource: String { get }
    var options: VolumeOptions { get }
    func answer(_ status: ResourceStatus) -> String
}

extension StateQuery {
    func run() throws {
        _ = try options.check(resource: resource)
        let response = try options.send(ControlRequest(command: .status, resource: resource))
        guard let status = response.status?.first else {
            throw CLIFailure(.refused, "the daemon returned no status for \(resource)")
        }
        print(answer(status))
    }
}

struct RoleQuery: StateQuery {
    static let configuration = CommandConfiguration(commandName: "role", abstract: "Print Primary, Secondary or Unknown (down).")
    @Argument(help: "Resource name.") var resource: String
    @OptionGroup var options: VolumeOptions
    func answer(_ s: ResourceStatus) -> String { s.role }
}

struct DiskStateQuery: StateQuery {
    static let configuration = CommandConfiguration(commandName: "dstate", abstract: "Print LOCAL/PEER disk states, one line per volume.")
    @Argument(help: "Resource name.") var resource: String
    @OptionGroup var options: VolumeOptions
    func answer(_ s: ResourceStatus) -> String { s.volumes.map { "\($0.disk)/\($0.peerDisk)" }.joined(separator: "\n") }
}

struct ConnectionStateQuery: StateQuery {
    static let configuration = CommandConfiguration(commandName: "cstate", abstract: "Print Connected, Connecting or StandAlone.")
    @Argument(help: "Resource name.") var resource: String
    @OptionGroup var options: VolumeOptions
    func answer(_ s: ResourceStatus) -> String { s.connection?.state ?? "StandAlone" }
}
