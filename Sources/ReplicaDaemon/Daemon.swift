#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import ReplicaConfig
import ReplicaControl
import ReplicationState
import ReplicationTracking
import ReplicaWire

/// meridian-replicad: every resource of the configuration that has an `on` section for this
/// node, and the control socket that `meridian volume` talks to.
///
/// Resources start down, as after boot with DRBD: `meridian volume up RES` attaches them. The
/// daemon owns no cluster logic; the cluster drives it through the OCF agent.
public final class ReplicaDaemon: ControlHandler, @unchecked Sendable {
    let resources: [String: ResourceRuntime]
    let order: [String]
    let controlSocketPath: String
    private var server: ControlServer?
    let logger: @Sendable (String) -> Void
    let node: String
    /// The configuration file `adjust` reads again (nil: adjust is refused).
    let configPath: String?

    /// Loads the resources of `configuration` for `node`.
    public init(configuration: ReplicaConfiguration, node: String, runDirectory: String, configPath: String? = nil,
                logger: @escaping @Sendable (String) -> Void) throws {
        self.logger = logger
        self.node = node
        self.configPath = configPath
        var resources: [String: ResourceRuntime] = [:]
        var order: [String] = []
        for resource in configuration.resources {
            guard resource.nodes.contains(where: { $0.name == node }) else { continue }
            let settings = try Self.settings(for: resource, node: node)
            resources[resource.name] = ResourceRuntime(settings: settings, runDirectory: runDirectory, logger: logger)
            order.append(resource.name)
        }
        self.resources = resources
        self.order = order
        self.controlSocketPath = "\(runDirectory)/\(node).ctl"
    }

    /// Starts the control socket.
    public func start() throws {
        let server = ControlServer(socketPath: controlSocketPath, handler: self)
        try server.start()
        self.server = server
        logger("control socket \(controlSocketPath); resources: \(order.joined(separator: ", "))")
    }

    /// Clean stop (SIGTERM): every resource goes down as far as it can; metadata is written.
    public func shutdown() {
        for name in order {
            guard let resource = resources[name] else { continue }
            do { try resource.down() } catch {
                logger("\(name): stopping although \(error.description); metadata written")
                resource.disconnect()
                for volume in resource.volumes {
                    volume.state.lock()
                    volume.flushBitmapLocked()
                    volume.persistLocked()
                    volume.state.unlock()
                }
            }
        }
        server?.stop()
    }

    // MARK: - Control requests

    public func handle(_ request: ControlRequest) -> ControlResponse {
        if request.command == .status {
            let names = request.resource.map { [$0] } ?? order
            var statuses: [ResourceStatus] = []
            for name in names {
                guard let resource = resources[name] else { return unknown(name) }
                statuses.append(Self.status(resource.status(), resource: resource))
            }
            return ControlResponse(ok: true, message: nil, error: nil, status: statuses)
        }
        guard let name = request.resource else {
            return failure(DaemonError("\(request.command.rawValue) needs a resource name", code: "invalid"))
        }
        guard let resource = resources[name] else { return unknown(name) }
        do {
            var message: String?
            switch request.command {
            case .createMetadata: message = try resource.createMetadata(force: request.force)
            case .up: try resource.up()
            case .down: try resource.down()
            case .primary: try resource.primary(force: request.force)
            case .secondary: try resource.secondary()
            case .connect: try resource.connect()
            case .disconnect: resource.disconnect()
            case .verify: try resource.verify(wait: request.wait)
            case .invalidate: try resource.invalidate()
            case .resumeIO: try resource.resumeIO()
            case .outdate: try resource.outdate()
            case .adjust: message = try resource.adjust(to: adjustedSettings(name))
            case .status: break
            }
            return ControlResponse(ok: true, message: message, error: nil,
                                   status: [Self.status(resource.status(), resource: resource)])
        } catch {
            logger("\(name): \(request.command.rawValue) refused: \(error.description)")
            return failure(error)
        }
    }

    /// `adjust`: the resource's settings as the configuration file says now.
    private func adjustedSettings(_ name: String) throws(DaemonError) -> ResourceSettings {
        guard let configPath else {
            throw DaemonError("this daemon was not started with a configuration file to read again")
        }
        let configuration: ReplicaConfiguration
        do { configuration = try ReplicaConfiguration.load(path: configPath) } catch {
            throw DaemonError("\(error)", fix: "correct \(configPath); nothing was changed", code: "invalid")
        }
        guard let resource = configuration.resource(named: name), resource.nodes.contains(where: { $0.name == node }) else {
            throw DaemonError("\(configPath) no longer has resource \(name) on \(node)",
                              fix: "take the resource down (`meridian volume down \(name)`) before removing it", code: "invalid")
        }
        do { return try Self.settings(for: resource, node: node) } catch let error as DaemonError {
            throw error
        } catch {
            throw DaemonError("\(error)", code: "invalid")
        }
    }

    private func unknown(_ name: String) -> ControlResponse {
        failure(DaemonError("unknown resource '\(name)'",
                            fix: "this daemon has: \(order.joined(separator: ", "))", code: "unknown-resource"))
    }

    private func failure(_ error: DaemonError) -> ControlResponse {
        ControlResponse(ok: false, message: nil,
                        error: ControlError(code: error.code, message: error.description, fix: error.fix),
                        status: nil)
    }

    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 16 - digits.count)) + digits
    }

    static func status(_ snapshot: ResourceSnapshot, resource: ResourceRuntime) -> ResourceStatus {
        let volumes = snapshot.volumes.map { v in
            VolumeStatus(
                volume: v.volume, sizeBytes: v.sizeBytes, disk: v.disk.rawValue,
                peerDisk: snapshot.connection == "Connected" ? v.peerDisk.rawValue : "DUnknown",
                replication: v.replication.rawValue, outOfSyncBytes: v.outOfSyncBytes,
                resync: v.resync.map {
                    ResyncStatus(percentDone: $0.percentDone, rateBytesPerSecond: $0.rateBytesPerSecond,
                                 remainingBytes: $0.remainingBytes, etaSeconds: $0.etaSeconds)
                },
                verify: v.verify.map {
                    VerifyStatus(percentDone: $0.percentDone, outOfSyncFoundBytes: $0.outOfSyncFoundBytes,
                                 running: $0.running)
                },
                nbdSocket: v.nbdSocket,
                generations: GenerationStatus(current: hex(v.generations.current), bitmap: hex(v.generations.bitmap),
                                              history: v.generations.history.map(hex)),
                sentBytes: v.counters.sent, receivedBytes: v.counters.received,
                resyncSentBytes: v.counters.resyncSent, resyncReceivedBytes: v.counters.resyncReceived)
        }
        let down = snapshot.volumes.isEmpty
        return ResourceStatus(
            name: snapshot.name, role: snapshot.role.rawValue, suspended: snapshot.suspended,
            connection: ConnectionStatus(peerNode: snapshot.peerName, peerNodeID: snapshot.peerNodeID,
                                         state: snapshot.connection, peerRole: snapshot.peerRole.rawValue,
                                         protocol: snapshot.protocolName, linkSentBytes: snapshot.linkSentBytes,
                                         linkReceivedBytes: snapshot.linkReceivedBytes),
            volumes: down
                ? snapshot.configuredVolumes.map {
                    VolumeStatus(volume: $0, sizeBytes: 0, disk: "Diskless", peerDisk: "DUnknown", replication: "Off",
                                 outOfSyncBytes: 0, resync: nil, verify: nil, nbdSocket: nil,
                                 generations: GenerationStatus(current: hex(0), bitmap: hex(0), history: []),
                                 sentBytes: 0, receivedBytes: 0, resyncSentBytes: 0, resyncReceivedBytes: 0)
                } : volumes)
    }
}

extension ReplicaDaemon {
    public var resourceNames: [String] { order }

    /// `--up`: brings a resource up at start, logging a refusal instead of failing the daemon.
    public func bringUp(_ name: String) {
        let response = handle(ControlRequest(command: .up, resource: name, force: false, wait: false))
        if let error = response.error { logger("\(name): up at start refused: \(error.message)") }
    }
}

extension ReplicaDaemon {
    /// Resolves a configured resource for this node.
    static func settings(for resource: ReplicaResource, node: String) throws -> ResourceSettings {
        guard let me = resource.nodes.first(where: { $0.name == node }),
              let peer = resource.nodes.first(where: { $0.name != node })
        else { throw DaemonError("resource \(resource.name) has no `on \(node)` section") }
        let net = resource.net
        let zero: AfterSplitBrain0Primary =
            switch net.afterSB0Primary {
            case "discard-younger-primary": .discardYoungerPrimary
            case "discard-older-primary": .discardOlderPrimary
            case "discard-zero-changes": .discardZeroChanges
            case "discard-least-changes": .discardLeastChanges
            case let v where v.hasPrefix("discard-node-"): .discardNode(String(v.dropFirst("discard-node-".count)))
            default: .disconnect
            }
        let one: AfterSplitBrain1Primary =
            switch net.afterSB1Primary {
            case "consensus": .consensus
            case "discard-secondary": .discardSecondary
            default: .disconnect
            }
        let disk = resource.disk
        return ResourceSettings(
            name: resource.name, nodeName: node, nodeID: me.nodeID, address: PeerAddress(host: me.host, port: me.port),
            peerName: peer.name, peerNodeID: peer.nodeID, peerAddress: PeerAddress(host: peer.host, port: peer.port),
            protocolA: resource.protocolName == .a,
            hmac: net.cramHMACAlgorithm.flatMap { ReplicaAuth.Algorithm(rawValue: $0) }, secret: net.sharedSecret ?? "",
            connectInterval: net.connectInterval, pingInterval: net.pingInterval, timeout: net.timeout,
            fencing: FencingPolicy(rawValue: net.fencing) ?? .dontCare,
            verifyAlgorithm: net.verifyAlgorithm.flatMap(VerifyAlgorithm.init(rawValue:)) ?? .sha256,
            policies: SplitBrainPolicies(zeroPrimaries: zero, onePrimary: one, twoPrimaries: .disconnect),
            controller: ResyncRateController.Settings(
                planAhead: disk.planAhead, fillTarget: disk.fillTarget, delayTarget: disk.delayTarget,
                maxRate: disk.maxRate, minRate: disk.minRate, fixedRate: disk.resyncRate),
            handlers: resource.handlers,
            volumes: resource.volumes.compactMap { number in
                resource.volume(number, on: node).map { (number: number, disk: $0.disk) }
            },
            activityLogExtents: disk.activityLogExtents)
    }
}
