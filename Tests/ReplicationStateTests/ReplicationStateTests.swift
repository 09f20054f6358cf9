import Testing
@testable import ReplicationState

func info(_ id: Int, _ role: Role = .secondary, _ disk: DiskState = .upToDate, current: UInt64, bitmap: UInt64 = 0,
          history: [UInt64] = [0, 0], changes: UInt64 = 0, crashed: Bool = false, since: UInt64 = 0) -> HandshakeInfo {
    HandshakeInfo(nodeID: id, nodeName: id == 0 ? "alpha" : "beta", role: role, disk: disk,
                  generations: GenerationIdentifiers(current: current, bitmap: bitmap, history: history),
                  outOfSyncBlocks: changes, crashedPrimary: crashed, becamePrimaryAt: since)
}

func mirror(_ d: SyncDecision) -> SyncDecision {
    switch d {
    case .becomeSyncSource(let f): .becomeSyncTarget(fullSync: f)
    case .becomeSyncTarget(let f): .becomeSyncSource(fullSync: f)
    case .splitBrain(let r?): .splitBrain(resolvedAs: r == .discardLocal ? .discardPeer : .discardLocal)
    default: d
    }
}

@Suite struct DecideSyncTests {
    static let cases: [(String, HandshakeInfo, HandshakeInfo, SplitBrainPolicies, SyncDecision)] = [
        ("both just created", info(0, .secondary, .inconsistent, current: 4), info(1, .secondary, .inconsistent, current: 4), .init(), .noSync),
        ("local just created", info(0, .secondary, .inconsistent, current: 4), info(1, .primary, current: 0xA0), .init(), .becomeSyncTarget(fullSync: true)),
        ("same generation", info(0, current: 0xA0), info(1, current: 0xA0), .init(), .noSync),
        ("crashed primary is the source", info(0, current: 0xA0, crashed: true), info(1, current: 0xA0), .init(), .becomeSyncSource(fullSync: false)),
        ("peer went on from our data", info(0, current: 0xA0), info(1, .primary, current: 0xB0, bitmap: 0xA0), .init(), .becomeSyncTarget(fullSync: false)),
        ("we went on from the peer's data", info(0, .primary, current: 0xB0, bitmap: 0xA0), info(1, current: 0xA0), .init(), .becomeSyncSource(fullSync: false)),
        ("our data is in the peer's history", info(0, current: 0xA0), info(1, current: 0xC0, history: [0xA0, 0]), .init(), .becomeSyncTarget(fullSync: true)),
        ("split brain, default policy", info(0, current: 0xB0, bitmap: 0xA0, changes: 5), info(1, current: 0xC0, bitmap: 0xA0, changes: 7), .init(), .splitBrain(resolvedAs: nil)),
        ("split brain via history", info(0, current: 0xB0, history: [0xA0, 0]), info(1, current: 0xC0, history: [0xA0, 0]), .init(), .splitBrain(resolvedAs: nil)),
        ("discard-zero-changes", info(0, current: 0xB0, bitmap: 0xA0, changes: 0), info(1, current: 0xC0, bitmap: 0xA0, changes: 7), .init(zeroPrimaries: .discardZeroChanges), .splitBrain(resolvedAs: .discardLocal)),
        ("discard-zero-changes, both changed", info(0, current: 0xB0, bitmap: 0xA0, changes: 3), info(1, current: 0xC0, bitmap: 0xA0, changes: 7), .init(zeroPrimaries: .discardZeroChanges), .splitBrain(resolvedAs: nil)),
        ("discard-least-changes", info(0, current: 0xB0, bitmap: 0xA0, changes: 3), info(1, current: 0xC0, bitmap: 0xA0, changes: 7), .init(zeroPrimaries: .discardLeastChanges), .splitBrain(resolvedAs: .discardLocal)),
        ("discard-younger-primary", info(0, current: 0xB0, bitmap: 0xA0, since: 200), info(1, current: 0xC0, bitmap: 0xA0, since: 100), .init(zeroPrimaries: .discardYoungerPrimary), .splitBrain(resolvedAs: .discardLocal)),
        ("discard-older-primary", info(0, current: 0xB0, bitmap: 0xA0, since: 200), info(1, current: 0xC0, bitmap: 0xA0, since: 100), .init(zeroPrimaries: .discardOlderPrimary), .splitBrain(resolvedAs: .discardPeer)),
        ("discard-node-beta", info(0, current: 0xB0, bitmap: 0xA0), info(1, current: 0xC0, bitmap: 0xA0), .init(zeroPrimaries: .discardNode("beta")), .splitBrain(resolvedAs: .discardPeer)),
        ("1pri discard-secondary", info(0, .primary, current: 0xB0, bitmap: 0xA0), info(1, current: 0xC0, bitmap: 0xA0), .init(onePrimary: .discardSecondary), .splitBrain(resolvedAs: .discardPeer)),
        ("1pri consensus refuses to discard the Primary", info(0, .primary, current: 0xB0, bitmap: 0xA0, changes: 1), info(1, current: 0xC0, bitmap: 0xA0, changes: 9), .init(zeroPrimaries: .discardLeastChanges, onePrimary: .consensus), .splitBrain(resolvedAs: nil)),
        ("1pri disconnect", info(0, .primary, current: 0xB0, bitmap: 0xA0), info(1, current: 0xC0, bitmap: 0xA0), .init(zeroPrimaries: .discardLeastChanges), .splitBrain(resolvedAs: nil)),
        ("both primary", info(0, .primary, current: 0xB0), info(1, .primary, current: 0xB0), .init(), .bothPrimary),
        ("unrelated", info(0, current: 0xB0, bitmap: 0x10), info(1, current: 0xC0, bitmap: 0x20), .init(), .unrelatedData),
    ]

    @Test(arguments: 0..<cases.count)
    func rule(index: Int) {
        let (name, local, peer, policies, expected) = Self.cases[index]
        #expect(decideSync(local: local, peer: peer, policies: policies) == expected, "\(name)")
        #expect(decideSync(local: peer, peer: local, policies: policies) == mirror(expected), "\(name), seen from the peer")
    }
}

@Suite struct VolumeReplicaTests {
    static let upToDate = PersistedState(generations: GenerationIdentifiers(current: 0xA0), consistent: true,
                                         wasUpToDate: true, primaryIndicator: false, crashedPrimary: false,
                                         peerOutdated: false, outdated: false)

    @Test func attachFollowsFlagsAndFencing() {
        #expect(VolumeReplica(metadata: .fresh, fencing: .dontCare, policies: .init()).disk == .inconsistent)
        #expect(VolumeReplica(metadata: Self.upToDate, fencing: .dontCare, policies: .init()).disk == .upToDate)
        #expect(VolumeReplica(metadata: Self.upToDate, fencing: .resourceOnly, policies: .init()).disk == .consistent)
        var outdated = Self.upToDate
        outdated.outdated = true
        #expect(VolumeReplica(metadata: outdated, fencing: .dontCare, policies: .init()).disk == .outdated)
    }

    @Test func promotionNeedsUpToDateDataUnlessForced() throws {
        var fresh = VolumeReplica(metadata: .fresh, fencing: .dontCare, policies: .init(), seed: 1)
        guard case .failure(let refusal) = fresh.promote(force: false, now: 1) else {
            Issue.record("an Inconsistent disk must not be promoted")
            return
        }
        #expect(refusal.message.contains("Need access to UpToDate data"))
        _ = try fresh.promote(force: true, now: 1).get()
        #expect(fresh.role == .primary && fresh.disk == .upToDate)
        #expect(fresh.generations.current != GenerationIdentifiers.justCreated && fresh.generations.bitmap == 0)
        #expect(fresh.persisted.primaryIndicator)
    }

    @Test func promotionAloneStartsANewGenerationTrackedByTheBitmap() throws {
        var node = VolumeReplica(metadata: Self.upToDate, fencing: .dontCare, policies: .init(), seed: 2)
        _ = try node.promote(force: false, now: 5).get()
        #expect(node.generations.bitmap == 0xA0 && node.generations.current != 0xA0)
    }

    /// Connected Primary loses its UpToDate peer: new generation; at reconnect the peer becomes
    /// SyncTarget from the bitmap; after the resync both have the same generation.
    @Test func disconnectWriteReconnectRotatesGenerations() throws {
        var a = VolumeReplica(metadata: Self.upToDate, fencing: .dontCare, policies: .init(), seed: 3)
        var b = VolumeReplica(metadata: Self.upToDate, fencing: .dontCare, policies: .init(), seed: 4)
        func connect() -> ([ReplicaDirective], [ReplicaDirective]) {
            let ia = a.handshakeInfo(nodeID: 0, nodeName: "alpha", outOfSyncBlocks: 0)
            let ib = b.handshakeInfo(nodeID: 1, nodeName: "beta", outOfSyncBlocks: 0)
            return (a.handshake(peer: ib), b.handshake(peer: ia))
        }
        _ = connect()
        #expect(a.replication == .established && b.replication == .established)
        _ = try a.promote(force: false, now: 10).get()
        _ = b.peerStateChanged(role: .primary, disk: .upToDate)
        #expect(a.generations.current == 0xA0, "a connected Primary with an UpToDate peer keeps its generation")
        _ = a.connectionLost()
        _ = b.connectionLost()
        #expect(a.generations.bitmap == 0xA0 && a.generations.current != 0xA0)
        let (da, db) = connect()
        #expect(da.contains(.startResync(asSource: true, fullSync: false)))
        #expect(db.contains(.startResync(asSource: false, fullSync: false)))
        #expect(b.disk == .inconsistent)
        _ = a.resyncFinished()
        _ = b.resyncFinished()
        #expect(a.generations.current == b.generations.current && b.disk == .upToDate)
        #expect(a.generations.bitmap == 0 && b.generations.bitmap == 0)
        _ = a.connectionLost()
        _ = b.connectionLost()
        _ = a.demote()
        let (again, _) = connect()
        #expect(a.replication == .syncSource || a.replication == .established)
        _ = again
    }

    @Test func aPrimaryNeverBecomesSyncTarget() throws {
        var a = VolumeReplica(metadata: Self.upToDate, fencing: .dontCare, policies: .init(), seed: 5)
        _ = try a.promote(force: false, now: 1).get()
        _ = a.handshakeInfo(nodeID: 0, nodeName: "alpha", outOfSyncBlocks: 0)
        let peer = info(1, current: 0xC0, history: [a.generations.current, 0])
        let directives = a.handshake(peer: peer)
        #expect(directives.contains { if case .disconnect = $0 { true } else { false } })
        #expect(a.role == .primary && a.disk == .upToDate && a.connection == .standAlone)
    }

    @Test func invalidateIsRefusedOnAPrimary() throws {
        var a = VolumeReplica(metadata: Self.upToDate, fencing: .dontCare, policies: .init(), seed: 6)
        _ = try a.promote(force: false, now: 1).get()
        #expect((try? a.invalidate().get()) == nil)
        _ = a.demote()
        _ = try a.invalidate().get()
        #expect(a.disk == .inconsistent)
    }
}

/// Fencing (`fencing` and the fence-peer handler's exit codes, as DRBD): event by event.
@Suite struct FencingTests {
    /// A connected Primary with an UpToDate peer (both sides past their handshake).
    static func connectedPrimary(_ fencing: FencingPolicy, seed: UInt64) throws -> (VolumeReplica, VolumeReplica) {
        var a = VolumeReplica(metadata: VolumeReplicaTests.upToDate, fencing: fencing, policies: .init(), seed: seed)
        var b = VolumeReplica(metadata: VolumeReplicaTests.upToDate, fencing: fencing, policies: .init(), seed: seed + 1)
        let ia = a.handshakeInfo(nodeID: 0, nodeName: "alpha", outOfSyncBlocks: 0)
        let ib = b.handshakeInfo(nodeID: 1, nodeName: "beta", outOfSyncBlocks: 0)
        _ = a.handshake(peer: ib)
        _ = b.handshake(peer: ia)
        _ = try a.promote(force: false, now: 10).get()
        _ = b.peerStateChanged(role: .primary, disk: .upToDate)
        #expect(a.disk == .upToDate && a.peerDisk == .upToDate)
        return (a, b)
    }

    static func logs(_ directives: [ReplicaDirective]) -> String {
        directives.compactMap { if case .log(let m) = $0 { m } else { nil } }.joined(separator: "\n")
    }

    @Test func resourceAndStonithSuspendsIOAndRunsTheHandler() throws {
        var (a, _) = try Self.connectedPrimary(.resourceAndStonith, seed: 20)
        let lost = a.connectionLost()
        #expect(a.ioSuspended)
        #expect(lost.contains { if case .runHandler(.fencePeer, _) = $0 { true } else { false } })
        #expect(!lost.contains(.resumeIO))
    }

    @Test func resourceOnlyRunsTheHandlerWithoutSuspending() throws {
        var (a, _) = try Self.connectedPrimary(.resourceOnly, seed: 22)
        let lost = a.connectionLost()
        #expect(!a.ioSuspended)
        #expect(lost.contains { if case .runHandler(.fencePeer, _) = $0 { true } else { false } })
    }

    /// An Inconsistent peer (here a SyncTarget after a forced promotion) has no data it could
    /// be promoted with: losing it neither suspends I/O nor runs the handler (as DRBD).
    @Test func anInconsistentPeerIsNotFenced() throws {
        var a = VolumeReplica(metadata: .fresh, fencing: .resourceAndStonith, policies: .init(), seed: 26)
        var b = VolumeReplica(metadata: .fresh, fencing: .resourceAndStonith, policies: .init(), seed: 27)
        _ = try a.promote(force: true, now: 1).get()
        let ia = a.handshakeInfo(nodeID: 0, nodeName: "alpha", outOfSyncBlocks: 0)
        let ib = b.handshakeInfo(nodeID: 1, nodeName: "beta", outOfSyncBlocks: 0)
        _ = a.handshake(peer: ib)
        _ = b.handshake(peer: ia)
        #expect(a.replication == .syncSource && a.peerDisk == .inconsistent)
        let lost = a.connectionLost()
        #expect(!a.ioSuspended)
        #expect(!lost.contains { if case .runHandler = $0 { true } else { false } })
    }

    @Test func dontCareRunsNoHandler() throws {
        var (a, _) = try Self.connectedPrimary(.dontCare, seed: 24)
        let lost = a.connectionLost()
        #expect(!a.ioSuspended)
        #expect(!lost.contains { if case .runHandler = $0 { true } else { false } })
    }

    /// DRBD's codes: 3, 4, 7 (and 5 with an UpToDate disk) outdate the peer and resume I/O;
    /// 6 (peer is Primary) and anything else keep I/O suspended.
    @Test(arguments: [(Int32(3), true), (4, true), (5, true), (7, true), (6, false), (0, false), (1, false),
                      (2, false), (-1, false), (127, false)])
    func handlerExitCodes(code: Int32, outdatesPeer: Bool) throws {
        var (a, _) = try Self.connectedPrimary(.resourceAndStonith, seed: 30)
        _ = a.connectionLost()
        let result = a.fencePeerResult(exitCode: code)
        #expect(a.ioSuspended == !outdatesPeer, "exit \(code)")
        #expect(a.peerOutdated == outdatesPeer, "exit \(code)")
        #expect(result.contains(.resumeIO) == outdatesPeer, "exit \(code)")
        #expect(a.persisted.peerOutdated == outdatesPeer)
        if !outdatesPeer {
            #expect(Self.logs(result).contains("resume-io"), "the log names the way out: \(Self.logs(result))")
        }
    }

    @Test func unreachableOrFencedPeerCountsOnlyWithAnUpToDateDisk() {
        // A Consistent Secondary (resource-only, after a restart) is not UpToDate: code 5 is not enough.
        var b = VolumeReplica(metadata: VolumeReplicaTests.upToDate, fencing: .resourceOnly, policies: .init(), seed: 40)
        #expect(b.disk == .consistent)
        _ = b.fencePeerResult(exitCode: 5)
        #expect(!b.peerOutdated && b.disk == .consistent)
        _ = b.fencePeerResult(exitCode: 7)
        #expect(!b.peerOutdated && b.disk == .consistent, "a fenced peer may still hold newer data than a Consistent disk")
        _ = b.fencePeerResult(exitCode: 4)
        #expect(b.peerOutdated && b.disk == .consistent,
                "an outdated peer does not make a Consistent disk UpToDate: the peer may have newer data")
        #expect((try? b.promote(force: false, now: 1).get()) == nil)
    }

    /// `outdate` (what a fence-peer handler asks of the peer): refused while connected and on a
    /// Primary; afterwards the node cannot be promoted without --force, also after a restart.
    @Test func outdateBlocksPromotion() throws {
        var (a, b) = try Self.connectedPrimary(.resourceAndStonith, seed: 44)
        #expect((try? b.outdate().get()) == nil, "refused while connected")
        _ = a.connectionLost()
        _ = b.connectionLost()
        #expect((try? a.outdate().get()) == nil, "refused on a Primary")
        _ = try b.outdate().get()
        #expect(b.disk == .outdated && b.persisted.outdated)
        #expect((try? b.promote(force: false, now: 20).get()) == nil)
        var restarted = VolumeReplica(metadata: b.persisted, fencing: .resourceAndStonith, policies: .init(), seed: 45)
        #expect(restarted.disk == .outdated)
        #expect((try? restarted.promote(force: false, now: 21).get()) == nil)
        #expect(a.fencePeerResult(exitCode: 4).contains(.resumeIO))
    }

    @Test func administratorResumesIO() throws {
        var (a, _) = try Self.connectedPrimary(.resourceAndStonith, seed: 50)
        #expect(a.resumeIO().isEmpty, "nothing to resume while connected")
        _ = a.connectionLost()
        _ = a.fencePeerResult(exitCode: 1)
        #expect(a.ioSuspended)
        let resumed = a.resumeIO()
        #expect(resumed.contains(.resumeIO) && !a.ioSuspended && !a.peerOutdated)
    }

    /// The peer reconnecting ends the suspension and the "peer outdated" mark (its state is known
    /// again; a stale mark would let a later restart take a Consistent disk for UpToDate); a
    /// handler answer arriving after that is ignored.
    @Test func reconnectResumesAndClearsThePeerOutdatedMark() throws {
        var (a, b) = try Self.connectedPrimary(.resourceAndStonith, seed: 60)
        _ = a.connectionLost()
        _ = b.connectionLost()
        _ = a.fencePeerResult(exitCode: 4)
        #expect(a.peerOutdated && !a.ioSuspended)
        _ = a.fencePeerResult(exitCode: 1)
        // Suspended again by a second loss, then the peer is back before the handler answers.
        let ia = a.handshakeInfo(nodeID: 0, nodeName: "alpha", outOfSyncBlocks: 1)
        let ib = b.handshakeInfo(nodeID: 1, nodeName: "beta", outOfSyncBlocks: 0)
        _ = b.handshake(peer: ia)
        _ = a.handshake(peer: ib)
        _ = a.resyncFinished()
        _ = b.resyncFinished()
        _ = a.connectionLost()
        #expect(a.ioSuspended)
        let ia2 = a.handshakeInfo(nodeID: 0, nodeName: "alpha", outOfSyncBlocks: 0)
        let ib2 = b.handshakeInfo(nodeID: 1, nodeName: "beta", outOfSyncBlocks: 0)
        _ = b.handshake(peer: ia2)
        let back = a.handshake(peer: ib2)
        #expect(back.contains(.resumeIO) && !a.ioSuspended)
        #expect(!a.peerOutdated && !a.persisted.peerOutdated)
        let late = a.fencePeerResult(exitCode: 7)
        #expect(!a.peerOutdated, "an answer after the reconnect is ignored")
        #expect(Self.logs(late).contains("ignored"))
    }
}

/// Which DRBD handlers the core asks for, and when (drbd.conf(5)'s meaning).
@Suite struct HandlerTests {
    static func handlers(_ directives: [ReplicaDirective]) -> [ReplicaHandler] {
        directives.compactMap { if case .runHandler(let h, _) = $0 { h } else { nil } }
    }

    /// Two nodes whose data diverged since generation 0xA0 (alpha changed 0 or 3 blocks, beta 7).
    static func splitBrain(alphaChanges: UInt64, policies: SplitBrainPolicies) -> [ReplicaDirective] {
        func state(_ current: UInt64) -> PersistedState {
            PersistedState(generations: GenerationIdentifiers(current: current, bitmap: 0xA0), consistent: true,
                           wasUpToDate: true, primaryIndicator: false, crashedPrimary: false, peerOutdated: false, outdated: false)
        }
        var a = VolumeReplica(metadata: state(0xB0), fencing: .dontCare, policies: policies, seed: 1)
        var b = VolumeReplica(metadata: state(0xC0), fencing: .dontCare, policies: policies, seed: 2)
        _ = a.handshakeInfo(nodeID: 0, nodeName: "alpha", outOfSyncBlocks: alphaChanges)
        let ib = b.handshakeInfo(nodeID: 1, nodeName: "beta", outOfSyncBlocks: 7)
        return a.handshake(peer: ib)
    }

    @Test func splitBrainRunsInitialSplitBrainAlwaysAndSplitBrainOnlyWhenUnresolved() {
        let unresolved = Self.handlers(Self.splitBrain(alphaChanges: 3, policies: .init(zeroPrimaries: .discardZeroChanges)))
        #expect(unresolved == [.initialSplitBrain, .splitBrain])
        let resolved = Self.splitBrain(alphaChanges: 0, policies: .init(zeroPrimaries: .discardZeroChanges))
        #expect(Self.handlers(resolved) == [.initialSplitBrain])
        #expect(resolved.contains(.startResync(asSource: false, fullSync: false)), "alpha had no changes: it is discarded")
    }

    /// unfence-peer runs on the SyncSource when its peer is UpToDate again, only with fencing.
    @Test func unfencePeerAfterTheResyncWithFencingOnly() throws {
        for fencing in [FencingPolicy.dontCare, .resourceOnly] {
            var (a, b) = try FencingTests.connectedPrimary(fencing, seed: 80)
            _ = a.connectionLost()
            _ = b.connectionLost()
            let ia = a.handshakeInfo(nodeID: 0, nodeName: "alpha", outOfSyncBlocks: 1)
            let ib = b.handshakeInfo(nodeID: 1, nodeName: "beta", outOfSyncBlocks: 0)
            _ = b.handshake(peer: ia)
            _ = a.handshake(peer: ib)
            #expect(a.replication == .syncSource)
            let done = a.resyncFinished()
            #expect(Self.handlers(done) == (fencing == .dontCare ? [] : [.unfencePeer]), "\(fencing)")
            #expect(Self.handlers(b.resyncFinished()) == [.afterResyncTarget])
        }
    }

    @Test func outOfSyncRunsOnlyWhenVerifyFoundDifferences() {
        var a = VolumeReplica(metadata: VolumeReplicaTests.upToDate, fencing: .dontCare, policies: .init(), seed: 3)
        #expect(Self.handlers(a.verifyFinished(outOfSyncBlocks: 0)) == [])
        #expect(Self.handlers(a.verifyFinished(outOfSyncBlocks: 64)) == [.outOfSync])
    }
}
