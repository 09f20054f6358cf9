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
    /// Application I/O is suspended until fencing resolves (DRBD's `suspended:fencing`): a
    /// Primary with `fencing resource-and-stonith` that lost its peer answers no write until the
    /// fence-peer handler reports the peer outdated or fenced, the peer reconnects, or the
    /// administrator runs `resume-io`.
    public private(set) var ioSuspended = false
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
        // With fencing, a node that cannot see its peer becomes Primary only once the peer is
        // known to be outdated (DRBD's "Refusing to be Primary while peer is not outdated"):
        // otherwise the peer may be a Primary whose acknowledged writes this node lacks.
        if !force && fencing != .dontCare && connection != .connected && !peerOutdated && disk == .upToDate {
            return .failure(ReplicaRefusal("State change failed: (-7) Refusing to be Primary while peer is not outdated",
                                           needsPeerFenced: true))
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

    /// The peer's handshake arrived (after ours was sent). Once connected, a "peer outdated"
    /// mark from an earlier fencing no longer holds (the peer's state is known again), and I/O
    /// suspended for fencing resumes (as DRBD clears susp-fen when the connection is back).
    public mutating func handshake(peer: HandshakeInfo) -> [ReplicaDirective] {
        var directives = decideHandshake(peer: peer)
        if connection == .connected {
            if peerOutdated {
                peerOutdated = false
                if !directives.contains(.persist) { directives.append(.persist) }
                // Fenced earlier and UpToDate again without a resync: the fence can go. (After a
                // resync the SyncSource unfences when it finishes.)
                if replication == .established && peerDisk == .upToDate && fencing != .dontCare {
                    directives.append(.runHandler(.unfencePeer, reason: "the peer is connected and UpToDate again"))
                }
            }
            directives += endSuspension("the peer is connected again: suspended I/O resumes")
        }
        return directives
    }

    private mutating func decideHandshake(peer: HandshakeInfo) -> [ReplicaDirective] {
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
                return [.runHandler(.initialSplitBrain, reason: what)]
                    + refuseConnection(what + "; no after-sb policy resolves it: StandAlone. Recover by hand: "
                        + "demote and `meridian volume invalidate` the node whose changes are to be discarded, then connect",
                        handler: .splitBrain)
            }
            let discardLocal = resolution == .discardLocal
            return [.log(what + "; resolved by policy: " + (discardLocal ? "\(local.nodeName)'s" : "\(peer.nodeName)'s")
                + " changes are discarded"), .runHandler(.initialSplitBrain, reason: what)]
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
            if fencing != .dontCare {
                directives.append(.runHandler(.unfencePeer, reason: "the peer's disk is UpToDate again after the resync"))
            }
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
        }
        // Fencing only when the peer had usable data (DRBD: peer disk Consistent or UpToDate): an
        // Inconsistent peer (e.g. a SyncTarget) cannot be promoted without --force anyway.
        if role == .primary && (peerDisk == .upToDate || peerDisk == .consistent) {
            if fencing == .resourceAndStonith {
                ioSuspended = true
                directives.append(.log("I/O suspended until the peer is known to be outdated or fenced "
                    + "(fencing resource-and-stonith)"))
            }
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

    /// `outdate` (drbdadm outdate), what a fence-peer handler on the peer asks for: this node's
    /// data is marked Outdated, durably, so it cannot be promoted without --force until a
    /// connection brings it up to date. Refused on a Primary and while connected (DRBD: "Refusing
    /// to be Outdated while Connected"); an Inconsistent or diskless node is unusable already.
    public mutating func outdate() -> Result<[ReplicaDirective], ReplicaRefusal> {
        guard role != .primary else {
            return .failure(ReplicaRefusal("State change failed: (-7) a Primary cannot be outdated (the peer may not take over)"))
        }
        guard connection != .connected else {
            return .failure(ReplicaRefusal("State change failed: (-16) Refusing to be Outdated while Connected"))
        }
        switch disk {
        case .upToDate, .consistent:
            disk = .outdated
            return .success([.persist, .log("data marked Outdated")])
        default:
            return .success([])
        }
    }

    /// Online verify ended (on both sides): the `out-of-sync` handler runs when it found any.
    public mutating func verifyFinished(outOfSyncBlocks: Int) -> [ReplicaDirective] {
        let what = "online verify finished: \(outOfSyncBlocks) blocks out of sync"
        return [.log(what)] + (outOfSyncBlocks > 0 ? [.runHandler(.outOfSync, reason: what)] : [])
    }

    /// Attach after a crash while Primary: the shell has marked the activity log's extents.
    public mutating func crashRecovery() -> [ReplicaDirective] {
        crashedPrimary = true
        return [.persist]
    }

    /// The fence-peer handler's answer, with DRBD's exit codes: 3 the peer's disk is Inconsistent,
    /// 4 it is Outdated, 5 the peer is unreachable, 6 the peer is Primary, 7 the peer was fenced
    /// (STONITH). Any other code means the handler failed. 5 and 7 count only when this disk is
    /// UpToDate, and no answer turns a Consistent disk UpToDate (stricter than DRBD: an outdated
    /// or fenced peer may still hold newer data than a disk that is only Consistent, e.g. after
    /// a restart; the simulation found that loss). Only an outdated or fenced peer resumes
    /// suspended I/O; otherwise it stays suspended until the peer reconnects or the
    /// administrator runs `resume-io`.
    public mutating func fencePeerResult(exitCode: Int32) -> [ReplicaDirective] {
        guard connection != .connected else {
            return [.log("fence-peer handler exited \(exitCode) after the peer had reconnected: ignored")]
        }
        let outdated: String? =
            switch exitCode {
            case 3: "the peer's disk is Inconsistent"
            case 4: "the peer's disk is Outdated"
            case 5 where disk == .upToDate: "the peer is unreachable and taken as outdated"
            case 7 where disk == .upToDate: "the peer was fenced"
            default: nil
            }
        guard let outdated else {
            let why =
                switch exitCode {
                case 5: "the peer is unreachable, but this disk is \(disk.rawValue), not UpToDate"
                case 7: "the peer was fenced, but this disk is \(disk.rawValue), not UpToDate: the peer may hold "
                    + "newer data; promote with --force only when this node's data is known to be current"
                case 6: "the peer is Primary: this node's data is not the current one"
                default: "the handler failed (DRBD's codes: 3, 4, 5, 7 = peer outdated or fenced; 6 = peer is Primary)"
                }
            let consequence = ioSuspended
                ? "I/O stays suspended: resolve the cause, then `meridian volume resume-io` (or reconnect the peer)"
                : "the peer is not known to be outdated"
            return [.log("fence-peer handler exited \(exitCode): \(why); \(consequence)")]
        }
        peerOutdated = true
        var directives: [ReplicaDirective] = [.persist, .log("fence-peer handler exited \(exitCode): \(outdated)")]
        if disk != .upToDate {
            directives.append(.log("this disk is \(disk.rawValue), not UpToDate: it stays so until it connects to "
                + "its peer (promote with --force only when this node's data is known to be current)"))
        }
        if exitCode == 7 && fencing != .resourceAndStonith {
            directives.append(.log("fence-peer handler exited 7 (peer fenced) although fencing is \(fencing.rawValue)"))
        }
        return directives + endSuspension("suspended I/O resumes")
    }

    /// Ends a suspension for fencing, if there is one.
    private mutating func endSuspension(_ message: String) -> [ReplicaDirective] {
        guard ioSuspended else { return [] }
        ioSuspended = false
        return [.resumeIO, .log(message)]
    }

    /// `resume-io`: the administrator resumes I/O suspended for fencing (DRBD's `resume-io`),
    /// taking responsibility that the peer will not be promoted with older data.
    public mutating func resumeIO() -> [ReplicaDirective] {
        endSuspension("suspended I/O resumed by the administrator; the peer is not known to be outdated")
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
