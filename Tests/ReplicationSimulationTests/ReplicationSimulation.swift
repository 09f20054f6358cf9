import Foundation
import ReplicationState
import ReplicationTracking

/// Two nodes running the real pure cores (``VolumeReplica``, ``SyncBitmap``, ``ActivityLog``)
/// over a model of the daemon's data path, under faults chosen by a seed: writes, crashes of
/// either node (also in the middle of a write or a resync), link cuts, promotions (forced ones
/// during a cut provoke split brain), restarts and reconnects.
///
/// Invariants checked at every step (safety):
/// 1. once a Secondary that was connected, Established and UpToDate when its Primary crashed
///    is promoted, it holds every write acknowledged under protocol C;
/// 2. a resync never copies from a side whose data is older than the target's acknowledged
///    writes (an older generation never overwrites a newer one), unless a configured
///    split-brain policy chose to discard the target's changes;
/// 3. if both sides acknowledged writes as Primary since they were last in sync, the
///    handshake reports split brain (or refuses), never "no sync" or a plain resync;
/// then, after the faults heal (liveness): 4. both disks end identical.
///
/// With `fencing resource-and-stonith` (a second set of runs), the fence-peer handler is
/// modelled: it outdates a reachable peer (exit 4), reports an unreachable one (5) or a killed
/// one (7), finds the peer Primary (6) or fails (1; I/O then stays suspended until a
/// reconnect). Those runs promote only without --force after the first promotion, and check:
/// 5. a node promoted holds every write the other node acknowledged (no promotion can lose
///    an acknowledged write: fencing closes the window that invariant 1 leaves open);
/// 6. the two sides never both acknowledge writes while parted (split brain may still be
///    reported when a handler failed: the suspended side then has a new generation but no
///    acknowledged changes, which `discard-zero-changes` resolves without loss).
struct ReplicationSimulation {
    struct Node {
        var name: String
        var id: Int
        var core: VolumeReplica
        var disk: [UInt64]
        var bitmap: SyncBitmap
        var persistedBitmap: SyncBitmap
        var log: ActivityLog
        var persistedLog: [UInt32] = []
        var persisted: PersistedState
        var up = true
        /// Highest version per block this node acknowledged as Primary, without the peer, since
        /// it was last in sync.
        var ackedSinceSync: [Int: UInt64] = [:]
        /// Highest version per block this node acknowledged as Primary (mirrored or not), since
        /// its data was last replaced by a resync.
        var ackedAll: [Int: UInt64] = [:]
    }

    static let blocks = 4096  // 16 MiB: four 4 MiB extents
    static let dataSize = UInt64(blocks) * SyncBitmap.blockSize

    var random: SplitMix64
    var nodes: [Node]
    var connected = false
    var linkCut = false
    var version: UInt64 = 0
    var policies: SplitBrainPolicies
    var violations: [String] = []
    var trace: [String] = []
    var splitBrainsDetected = 0
    var resyncs = 0
    var failovers = 0
    let fencing: FencingPolicy
    var fences = 0
    var heldWrites = 0
    var promotionsChecked = 0

    init(seed: UInt64, fencing: FencingPolicy = .dontCare) {
        self.fencing = fencing
        random = SplitMix64(seed: seed)
        let policyChoice = seed % 3
        policies = policyChoice == 0 ? SplitBrainPolicies()
            : policyChoice == 1 ? SplitBrainPolicies(zeroPrimaries: .discardZeroChanges, onePrimary: .discardSecondary)
            : SplitBrainPolicies(zeroPrimaries: .discardLeastChanges, onePrimary: .consensus)
        nodes = (0..<2).map { id in
            Node(name: id == 0 ? "alpha" : "beta", id: id,
                 core: VolumeReplica(metadata: .fresh, fencing: .dontCare, policies: SplitBrainPolicies(), seed: seed &+ UInt64(id)),
                 disk: [UInt64](repeating: 0, count: Self.blocks), bitmap: SyncBitmap(dataSize: Self.dataSize),
                 persistedBitmap: SyncBitmap(dataSize: Self.dataSize), log: ActivityLog(capacity: 2), persisted: .fresh)
        }
        for i in 0..<2 { nodes[i].core = VolumeReplica(metadata: .fresh, fencing: fencing, policies: policies, seed: seed &+ UInt64(i)) }
    }

    mutating func note(_ s: String) { trace.append(s) }

    mutating func persist(_ i: Int, _ directives: [ReplicaDirective]) {
        if directives.contains(.persist) { nodes[i].persisted = nodes[i].core.persisted }
        if directives.contains(where: { if case .runHandler(.fencePeer, _) = $0 { true } else { false } }) {
            fencePeer(from: i)
        }
    }

    /// The fence-peer handler of node `i`, run to completion (its effect on the peer first).
    mutating func fencePeer(from i: Int) {
        fences += 1
        let j = 1 - i
        let code: Int32
        if Int.random(in: 0..<10, using: &random) == 0 {
            code = 1
        } else if !nodes[j].up {
            code = Int.random(in: 0..<2, using: &random) == 0 ? 5 : 7
        } else {
            switch nodes[j].core.outdate() {
            case .success(let d):
                if d.contains(.persist) { nodes[j].persisted = nodes[j].core.persisted }
                code = 4
            case .failure:
                code = 6
            }
        }
        note("fence-peer on \(nodes[i].name) exits \(code)")
        let d = nodes[i].core.fencePeerResult(exitCode: code)
        if d.contains(.persist) { nodes[i].persisted = nodes[i].core.persisted }
    }

    var primary: Int? { (0..<2).first { nodes[$0].up && nodes[$0].core.role == .primary } }

    // MARK: - Events

    mutating func write(crashMidway: Int?) {
        guard let p = primary else { return }
        if nodes[p].core.ioSuspended {  // held: the application waits, nothing is acknowledged
            heldWrites += 1
            return
        }
        let s = 1 - p
        let block = Int.random(in: 0..<Self.blocks, using: &random)
        let offset = UInt64(block) * SyncBitmap.blockSize
        switch nodes[p].log.beginWrite(offset: offset, length: 4096) {
        case .mustWait: return
        case .transaction(let t):
            if !t.evicted.isEmpty { nodes[p].persistedBitmap = nodes[p].bitmap }
            nodes[p].persistedLog = t.hotExtents
        case .hot: break
        }
        version += 1
        let mirrored = connected && nodes[s].up
        if crashMidway == 1, mirrored {  // reached the peer, not the local disk
            nodes[s].disk[block] = version
            crash(p, "after the peer's half of write v\(version)")
            return
        }
        nodes[p].disk[block] = version
        if crashMidway == 0 {  // local disk only
            crash(p, "after the local half of write v\(version)")
            return
        }
        if mirrored {
            nodes[s].disk[block] = version
        } else {
            nodes[p].bitmap.markOutOfSync(offset: offset, length: 4096)
        }
        nodes[p].log.endWrite(offset: offset, length: 4096)
        // Only a write the peer did not get makes the two sides diverge.
        if !mirrored { nodes[p].ackedSinceSync[block] = version }
        nodes[p].ackedAll[block] = version
    }

    mutating func crash(_ i: Int, _ why: String) {
        guard nodes[i].up else { return }
        note("crash \(nodes[i].name) (\(why))")
        nodes[i].up = false
        survivorWasInSync[i] = false
        if connected {
            let s = 1 - i
            survivorWasInSync[s] = nodes[s].core.replication == .established && nodes[s].core.disk == .upToDate
                && nodes[i].core.role == .primary
            expectedOnSurvivor[s] = nodes[i].ackedAll
            connected = false
            let d = nodes[1 - i].core.connectionLost()
            persist(1 - i, d)
            nodes[1 - i].persistedBitmap = nodes[1 - i].bitmap
        }
    }

    mutating func cutLink() {
        survivorWasInSync = [false, false]
        guard connected else { linkCut = true; return }
        note("cut the link")
        linkCut = true
        connected = false
        // Both notice the loss before either handler runs (a real handler waits for that).
        let lost = (0..<2).map { nodes[$0].core.connectionLost() }
        for i in 0..<2 {
            persist(i, lost[i])
            nodes[i].persistedBitmap = nodes[i].bitmap
        }
    }

    mutating func restart(_ i: Int) {
        guard !nodes[i].up else { return }
        note("restart \(nodes[i].name)")
        var node = nodes[i]
        node.core = VolumeReplica(metadata: node.persisted, fencing: fencing, policies: policies,
                                  seed: random.next())
        node.bitmap = node.persistedBitmap
        node.log = ActivityLog(capacity: 2, hotExtents: node.persistedLog)
        if node.persisted.primaryIndicator {
            for range in node.log.outOfSyncAfterCrash(dataSize: Self.dataSize) {
                node.bitmap.markOutOfSync(offset: range.lowerBound, length: range.upperBound - range.lowerBound)
            }
            // As the daemon: the marked bits reach the disk before the superblock forgets the crash.
            node.persistedBitmap = node.bitmap
            let d = node.core.crashRecovery()
            if d.contains(.persist) { node.persisted = node.core.persisted }
        }
        node.up = true
        nodes[i] = node
    }

    mutating func promote(_ i: Int, force: Bool) {
        guard nodes[i].up, nodes[i].core.role != .primary else { return }
        let other = nodes[1 - i]
        if connected && other.core.role == .primary { return }
        // Invariant 1 applies to a Secondary that was in sync with the Primary when it crashed.
        let inSyncSurvivor = !other.up && nodes[i].core.disk == .upToDate && survivorWasInSync[i]
        var result = nodes[i].core.promote(force: force, now: version)
        if case .failure(let refusal) = result, refusal.needsPeerFenced {
            // As the daemon: run the fence-peer handler, then try once more.
            fencePeer(from: i)
            result = nodes[i].core.promote(force: force, now: version)
        }
        if case .success(let d) = result {
            persist(i, d)
            note("promote \(nodes[i].name)\(force ? " --force" : "")")
            if fencing == .resourceAndStonith && !force {
                promotionsChecked += 1
                for (b, v) in other.ackedAll where nodes[i].disk[b] < v {
                    violations.append("invariant 5: promoting \(nodes[i].name) loses block \(b) v\(v) acknowledged by \(other.name) (has v\(nodes[i].disk[b]))")
                }
            }
            if inSyncSurvivor {
                failovers += 1
                for (b, v) in expectedOnSurvivor[i] where nodes[i].disk[b] < v {
                    violations.append("invariant 1: block \(b) lost acknowledged write v\(v) after promoting \(nodes[i].name) (has v\(nodes[i].disk[b]))")
                }
            }
            if connected { _ = nodes[1 - i].core.peerStateChanged(role: .primary, disk: nodes[i].core.disk) }
        }
    }

    /// Per node: it was connected, Established and UpToDate when its Primary crashed (invariant 1).
    var survivorWasInSync = [false, false]
    /// The crashed Primary's acknowledged writes the survivor must hold.
    var expectedOnSurvivor: [[Int: UInt64]] = [[:], [:]]


    mutating func demote(_ i: Int) {
        guard nodes[i].up, nodes[i].core.role == .primary else { return }
        persist(i, (try? nodes[i].core.demote().get()) ?? [])
        nodes[i].persistedBitmap = nodes[i].bitmap  // the daemon writes the bitmap at `secondary`
        note("demote \(nodes[i].name)")
    }

    /// Handshake and (maybe interrupted) resync.
    mutating func connect(interruptResync: Bool) {
        guard !connected, !linkCut, nodes[0].up, nodes[1].up else { return }
        survivorWasInSync = [false, false]
        let bothDiverged = !nodes[0].ackedSinceSync.isEmpty && !nodes[1].ackedSinceSync.isEmpty
        let infos = (0..<2).map { i in
            nodes[i].core.handshakeInfo(nodeID: i, nodeName: nodes[i].name, outOfSyncBlocks: UInt64(nodes[i].bitmap.outOfSyncBlocks))
        }
        let decisions = (0..<2).map { i in decideSync(local: infos[i], peer: infos[1 - i], policies: policies) }
        let directives = (0..<2).map { i in nodes[i].core.handshake(peer: infos[1 - i]) }
        for i in 0..<2 { persist(i, directives[i]) }
        note("connect: \(decisions[0]) / \(decisions[1])")
        if case .splitBrain = decisions[0] { splitBrainsDetected += 1 }
        if bothDiverged && fencing == .resourceAndStonith {
            violations.append("invariant 6: with fencing, both sides acknowledged writes while parted")
        }
        if bothDiverged {
            switch decisions[0] {
            case .splitBrain, .bothPrimary, .unrelatedData: break
            default: violations.append("invariant 3: both sides wrote since they parted, but the handshake decided \(decisions[0])")
            }
        }
        let disconnect = directives.contains { $0.contains { if case .disconnect = $0 { true } else { false } } }
        guard !disconnect else { return }
        connected = true
        // Bitmap exchange: both resync the union.
        let union = { () -> SyncBitmap in var u = nodes[0].bitmap; u.merge(nodes[1].bitmap); return u }()
        nodes[0].bitmap = union
        nodes[1].bitmap = union
        var source: Int?
        var full = false
        var byPolicy = false
        for i in 0..<2 {
            for d in directives[i] {
                if case .startResync(let asSource, let f) = d, asSource {
                    source = i
                    full = f
                }
            }
        }
        if case .splitBrain(let r?) = decisions[0] { byPolicy = r == .discardLocal || r == .discardPeer }
        guard let src = source else {
            if nodes[0].disk == nodes[1].disk {
                for i in 0..<2 { nodes[i].ackedSinceSync = [:] }
            }
            return
        }
        let dst = 1 - src
        if full { for i in 0..<2 { nodes[i].bitmap.markAllOutOfSync() } }
        // As the daemon (and DRBD): the merged bitmap is written before the resync starts.
        for i in 0..<2 { nodes[i].persistedBitmap = nodes[i].bitmap }
        if byPolicy {
            // The policy chose to discard the target's changes: they are no longer expected,
            // also not after a crash that interrupts this resync (a false "lost write" before).
            for block in nodes[dst].ackedSinceSync.keys { nodes[dst].ackedAll[block] = nil }
            nodes[dst].ackedSinceSync = [:]
        } else {
            for (b, v) in nodes[dst].ackedSinceSync where nodes[src].disk[b] < v {
                violations.append("invariant 2: resync \(nodes[src].name)->\(nodes[dst].name) overwrites block \(b) v\(v) with older v\(nodes[src].disk[b])")
            }
        }
        resyncs += 1
        var block = nodes[dst].bitmap.nextOutOfSync(from: 0)
        let stopAfter = interruptResync ? Int.random(in: 0..<64, using: &random) : Int.max
        var copied = 0
        while let b = block {
            if copied == stopAfter {
                crash(Int.random(in: 0..<2, using: &random), "during the resync")
                return
            }
            nodes[dst].disk[b] = nodes[src].disk[b]
            for i in 0..<2 { nodes[i].bitmap.markInSync(offset: UInt64(b) * 4096, length: 4096) }
            copied += 1
            block = nodes[dst].bitmap.nextOutOfSync(from: b + 1)
        }
        for i in [dst, src] { persist(i, nodes[i].core.resyncFinished()) }
        nodes[dst].ackedAll = [:]
        for i in 0..<2 { nodes[i].persistedBitmap = nodes[i].bitmap }
        if nodes[0].disk != nodes[1].disk {
            let diff = (0..<Self.blocks).first { nodes[0].disk[$0] != nodes[1].disk[$0] }!
            violations.append("invariant 4: after a complete resync block \(diff) differs: v\(nodes[0].disk[diff]) / v\(nodes[1].disk[diff])")
        }
        for i in 0..<2 { nodes[i].ackedSinceSync = [:] }
    }

    // MARK: - Runs

    /// Safety phase with faults, then the liveness phase. Returns the violations.
    mutating func run(steps: Int) -> [String] {
        // First promotion of fresh volumes and the initial sync.
        connect(interruptResync: false)
        promote(0, force: true)
        connected = false
        for i in 0..<2 { persist(i, nodes[i].core.connectionLost()) }
        connect(interruptResync: false)
        for _ in 0..<steps {
            let roll = Int.random(in: 0..<100, using: &random)
            switch roll {
            case 0..<55: write(crashMidway: Int.random(in: 0..<60, using: &random) < 2 ? Int.random(in: 0..<2, using: &random) : nil)
            case 55..<60: crash(Int.random(in: 0..<2, using: &random), "at random")
            case 60..<65: cutLink()
            case 65..<72: linkCut = false; connect(interruptResync: Int.random(in: 0..<4, using: &random) == 0)
            case 72..<80: restart(Int.random(in: 0..<2, using: &random))
            case 80..<88: promote(Int.random(in: 0..<2, using: &random), force: false)
            case 88..<91: if !connected && fencing != .resourceAndStonith { promote(Int.random(in: 0..<2, using: &random), force: true) }
            case 91..<96: demote(Int.random(in: 0..<2, using: &random))
            default: if connected { cutLink() } else { linkCut = false }
            }
            if !violations.isEmpty { return violations }
        }
        // Liveness: heal everything; resolve an unresolved split brain by hand as an
        // administrator would (demote and invalidate beta), then resync to the end.
        for i in 0..<2 { restart(i) }
        linkCut = false
        for attempt in 0..<6 {
            if connected, nodes[0].core.replication == .established, nodes[1].core.replication == .established { break }
            if connected {
                connected = false
                for i in 0..<2 { persist(i, nodes[i].core.connectionLost()) }
            }
            if nodes[0].core.role == .primary && nodes[1].core.role == .primary { demote(1) }
            if attempt >= 1 {
                demote(1)
                if case .success(let d) = nodes[1].core.invalidate() {
                    persist(1, d)
                    nodes[1].bitmap.markAllOutOfSync()
                    nodes[1].ackedSinceSync = [:]
                }
            }
            connect(interruptResync: false)
        }
        if nodes[0].disk != nodes[1].disk {
            violations.append("invariant 4: after healing, the disks still differ (\(nodes[0].core.replication)/\(nodes[1].core.replication))")
        }
        return violations
    }
}
