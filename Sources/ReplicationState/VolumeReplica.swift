/// The local node's view of one replicated volume: role, disk and connection states and the
/// generation identifiers, changed only by events. Pure: no I/O and no clock (times come in as
/// arguments); every event returns the directives the shell must carry out.
///
/// Invariants: a Primary's disk is UpToDate; a Primary never becomes SyncTarget; the
/// generation identifiers change only as DRBD changes them (new current generation when a
/// Primary writes without an UpToDate peer; rotation when a resync finishes).
public struct VolumeReplica: Sendable, Equatable {
    public private(set) var role: Role = .secondary
    public private(set) var disk: DiskState
    public private(set) var connection: ConnectionState = .standAlone
    public private(set) var replication: ReplicationMode = .off
    public private(set) var peerRole: Role = .unknown
    public private(set) var peerDisk: DiskState = .unknown
    public private(set) var generations: GenerationIdentifiers
    public private(set) var crashedPrimary: Bool
    public private(set) var peerOutdated: Bool
    public private(set) var becamePrimaryAt: UInt64
    public let fencing: FencingPolicy
    public let policies: SplitBrainPolicies
    /// The peer's generations when the current resync started (the target adopts them).
    private var resyncPeer: GenerationIdentifiers?
    private var lastSentInfo: HandshakeInfo?
    private var random: SplitMix64

    /// Attach: the disk state follows the persisted flags. A consistent disk alone is UpToDate
    /// with `fencing dont-care`; with resource-only fencing it stays Consistent until it is
    /// connected or the peer is known to be outdated.
    public init(metadata: PersistedState, fencing: FencingPolicy, policies: SplitBrainPolicies,
                seed: UInt64 = UInt64.random(in: 1...UInt64.max)) {
        self.fencing = fencing
        self.policies = policies
        generations = metadata.generations
        crashedPrimary = metadata.crashedPrimary
        peerOutdated = metadata.peerOutdated
        becamePrimaryAt = metadata.becamePrimaryAt
        random = SplitMix64(seed: seed)
        if metadata.generations.current == GenerationIdentifiers.justCreated || !metadata.consistent {
            disk = .inconsistent
        } else if metadata.outdated {
            disk = .outdated
        } else if fencing == .dontCare || (metadata.wasUpToDate && metadata.peerOutdated) {
            disk = .upToDate
        } else {
            disk = .consistent
        }
    }

    public var persisted: PersistedState {
        PersistedState(
            generations: generations,
            consistent: disk == .upToDate || disk == .consistent || disk == .outdated,
            wasUpToDate: disk == .upToDate, primaryIndicator: role == .primary, crashedPrimary: crashedPrimary,
            peerOutdated: peerOutdated, outdated: disk == .outdated, becamePrimaryAt: becamePrimaryAt)
    }

    private mutating func freshGeneration() -> UInt64 {
        var value: UInt64
        repeat { value = random.next() & ~1 } while value <= GenerationIdentifiers.justCreated
        return value
    }

    // MARK: - Roles

    /// `primary [--force]`, at wall-clock `now` (milliseconds; compared by the
    /// discard-younger/older-primary policies).
    public mutating func promote(force: Bool, now: UInt64) -> Result<[ReplicaDirective], ReplicaRefusal> {
        if role == .primary { return .success([]) }
        if connection == .connected && peerRole == .primary {
            return .failure(ReplicaRefusal("State change failed: (-1) Multiple primaries not allowed by config"))
        }
        if replication == .syncTarget {
            return .failure(ReplicaRefusal("State change failed: (-2) Need access to UpToDate data (resync target)"))
        }
        var directives: [ReplicaDirective] = [.persist, .sendState]
        if disk != .upToDate {
            guard force else {
                return .failure(ReplicaRefusal("State change failed: (-2) Need access to UpToDate data (disk is \(disk.rawValue))"))
            }
            guard disk != .diskless, disk != .failed else {
                return .failure(ReplicaRefusal("State change failed: no disk to promote (\(disk.rawValue))"))
            }
            disk = .upToDate
            if generations.current == GenerationIdentifiers.justCreated {
                generations.current = freshGeneration()
            } else {
                generations.startNewGeneration(freshGeneration())
            }
            directives.append(.log("forced promotion: data declared UpToDate, new generation \(hex(generations.current))"))
        } else if !(connection == .connected && peerDisk == .upToDate) {
            generations.startNewGeneration(freshGeneration())
        }
        role = .primary
        becamePrimaryAt = max(now, becamePrimaryAt + 1)
        return .success(directives)
    }

    public mutating func demote() -> Result<[ReplicaDirective], ReplicaRefusal> {
        guard role == .primary else { return .success([]) }
        role = .secondary
        return .success([.persist, .sendState])
    }

    // MARK: - Connection

    public mutating func connecting() -> [ReplicaDirective] {
        if connection == .standAlone { connection = .connecting }
        return []
    }

    /// What this side sends at connect (remembered: the decision uses the same values).
    public mutating func handshakeInfo(nodeID: Int, nodeName: String, outOfSyncBlocks: UInt64) -> HandshakeInfo {
        let info = HandshakeInfo(nodeID: nodeID, nodeName: nodeName, role: role, disk: disk, generations: generations,
                                 outOfSyncBlocks: outOfSyncBlocks, crashedPrimary: crashedPrimary,
                                 becamePrimaryAt: becamePrimaryAt)
        lastSentInfo = info
        return info
    }

    /// The peer's handshake arrived (after ours was sent).
    public mutating func handshake(peer: HandshakeInfo) -> [ReplicaDirective] {
        guard let local = lastSentInfo else {
            preconditionFailure("Internal inconsistency: handshake(peer:) before handshakeInfo()")
        }
        connection = .connected
        peerRole = peer.role
        peerDisk = peer.disk
        let decision = decideSync(local: local, peer: peer, policies: policies)
        switch decision {
        case .noSync:
            replication = .established
            crashedPrimary = false
            if disk == .consistent || disk == .outdated, peer.disk == .upToDate || peer.disk == .consistent {
                disk = .upToDate
            }
            if disk == .upToDate && peerDisk == .consistent { peerDisk = .upToDate }
            return [.persist]
        case .becomeSyncSource(let full):
            return startSync(asSource: true, full: full, peer: peer)
        case .becomeSyncTarget(let full):
            return startSync(asSource: false, full: full, peer: peer)
        case .splitBrain(let resolution):
            let what = "Split brain detected: both \(local.nodeName) and \(peer.nodeName) changed the data since "
                + "they parted (generations \(hex(generations.current)) and \(hex(peer.generations.current)))"
            guard let resolution else {
                return refuseConnection(what + "; no after-sb policy resolves it: StandAlone. Recover by hand: "
                    + "demote and `meridian volume invalidate` the node whose changes are to be discarded, then connect",
                    handler: .splitBrain)
            }
            let discardLocal = resolution == .discardLocal
            return [.log(what + "; resolved by policy: " + (discardLocal ? "\(local.nodeName)'s" : "\(peer.nodeName)'s")
                + " changes are discarded"), .runHandler(.splitBrain, reason: what)]
                + startSync(asSource: !discardLocal, full: false, peer: peer)
        case .unrelatedData:
            return refuseConnection("Unrelated data: the generations of \(local.nodeName) and \(peer.nodeName) share "
                + "no history; refusing to sync. Recreate metadata on the node to overwrite (create-md --force)",
                handler: nil)
        case .bothPrimary:
            return refuseConnection("Both nodes are Primary; refusing the connection", handler: .splitBrain)
        }
    }

    private mutating func refuseConnection(_ message: String, handler: ReplicaHandler?) -> [ReplicaDirective] {
        connection = .standAlone
        replication = .off
        peerRole = .unknown
        peerDisk = .unknown
        var directives: [ReplicaDirective] = [.log(message)]
        if let handler { directives.append(.runHandler(handler, reason: message)) }
        directives.append(.disconnect(reason: message))
        return directives
    }

    private mutating func startSync(asSource: Bool, full: Bool, peer: HandshakeInfo) -> [ReplicaDirective] {
        if !asSource && role == .primary {
            return refuseConnection("\(peer.nodeName) has newer data but this node is Primary: demote it first",
                                    handler: .splitBrain)
        }
        resyncPeer = peer.generations
        if asSource {
            replication = .syncSource
            peerDisk = .inconsistent
        } else {
            replication = .syncTarget
            disk = .inconsistent
        }
        return [.persist, .startResync(asSource: asSource, fullSync: full), .sendState]
    }

    public mutating func peerStateChanged(role: Role, disk: DiskState) -> [ReplicaDirective] {
        guard connection == .connected else { return [] }
        peerRole = role
        if replication == .established || disk != .unknown { peerDisk = disk }
        return []
    }

    /// The resync of this volume completed (called on both sides).
    public mutating func resyncFinished() -> [ReplicaDirective] {
        var directives: [ReplicaDirective] = [.persist, .sendState]
        switch replication {
        case .syncTarget:
            let source = resyncPeer ?? generations
            if source.current != generations.current, generations.current != GenerationIdentifiers.justCreated {
                generations.pushHistory(generations.current)
            }
            generations.current = source.current
            generations.bitmap = 0
            disk = .upToDate
            peerDisk = .upToDate
            directives.append(.runHandler(.afterResyncTarget, reason: "resync finished"))
        case .syncSource:
            if generations.bitmap != 0 {
                generations.pushHistory(generations.bitmap)
                generations.bitmap = 0
            }
            peerDisk = .upToDate
        default:
            return []
        }
        crashedPrimary = false
        replication = .established
        resyncPeer = nil
        return directives
    }

    /// The link is gone. A Primary that had an UpToDate peer starts a new data generation, so
    /// the writes from now on are recognized as newer at the next handshake.
    public mutating func connectionLost() -> [ReplicaDirective] {
        guard connection == .connected else {
            return []
        }
        var directives: [ReplicaDirective] = []
        if role == .primary && (peerDisk == .upToDate || peerDisk == .inconsistent || replication == .syncSource) {
            if generations.bitmap == 0 { generations.startNewGeneration(freshGeneration()) }
            directives.append(.persist)
            if fencing != .dontCare {
                directives.append(.runHandler(.fencePeer, reason: "lost the connection to the peer while Primary"))
            }
        }
        connection = .connecting
        replication = .off
        peerRole = .unknown
        peerDisk = .unknown
        return directives
    }

    /// `disconnect` by the administrator (after connectionLost).
    public mutating func standAlone() { connection = .standAlone }

    /// `invalidate`: the local data is discarded; a full sync from the peer follows.
    public mutating func invalidate() -> Result<[ReplicaDirective], ReplicaRefusal> {
        guard role != .primary else {
            return .failure(ReplicaRefusal("State change failed: a Primary cannot invalidate its own data; demote first"))
        }
        if connection == .connected && peerDisk != .upToDate {
            return .failure(ReplicaRefusal("State change failed: the peer has no UpToDate data to sync from"))
        }
        disk = .inconsistent
        return .success([.persist])
    }

    public mutating func verifyFinished(outOfSyncBlocks: Int) -> [ReplicaDirective] {
        [.log("online verify finished: \(outOfSyncBlocks) blocks out of sync")]
    }

    /// Attach after a crash while Primary: the shell has marked the activity log's extents.
    public mutating func crashRecovery() -> [ReplicaDirective] {
        crashedPrimary = true
        return [.persist]
    }

    /// The fence-peer handler's answer (DRBD: 4 = peer outdated, 7 = peer fenced).
    public mutating func fencePeerResult(exitCode: Int32) -> [ReplicaDirective] {
        if exitCode == 4 || exitCode == 7 {
            peerOutdated = true
            if disk == .consistent { disk = .upToDate }
            return [.persist]
        }
        return [.log("fence-peer handler exited \(exitCode): the peer is not known to be outdated")]
    }
}

func hex(_ value: UInt64) -> String { String(value, radix: 16, uppercase: true) }

/// A small deterministic generator for fresh generation identifiers (seeded by the shell from
/// the system's randomness, by the simulation from its seed, so a seed replays a run exactly).
public struct SplitMix64: RandomNumberGenerator, Sendable, Equatable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
