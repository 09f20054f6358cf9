/// Compares the two sides at connect: who has newer data, whether a resync can use the bitmap
/// or must copy everything, and whether the sides diverged (split brain). DRBD's
/// `drbd_uuid_compare` rules, in the order they are tried (Docs/replication-state.md lists
/// them with DRBD's rule numbers and the differences):
///
/// 1. both Primary: refused;
/// 2. both just created: no sync; one just created: full sync from the other; one
///    Inconsistent (interrupted resync, invalidate) and the other not: it is the target;
/// 3. same current generation: no sync, unless a side crashed as Primary (it is the source
///    for its activity log), a side is Inconsistent, or bits are set (verify found
///    differences): then a bitmap resync;
/// 4. the peer's bitmap generation is our current: the peer went on from our data: we are
///    SyncTarget using the bitmap (and vice versa);
/// 5. our current is in the peer's history: full sync from the peer (and vice versa);
/// 6. both went on from a common generation (equal bitmap generations, or shared history):
///    split brain, resolved by the after-sb policies or not at all;
/// 7. otherwise the data is unrelated.
///
/// Symmetric: `decideSync(a, b)` and `decideSync(b, a)` are mirror images, so the two sides
/// always agree without a second round trip.
public func decideSync(local: HandshakeInfo, peer: HandshakeInfo, policies: SplitBrainPolicies) -> SyncDecision {
    if local.role == .primary && peer.role == .primary { return .bothPrimary }
    let base = GenerationIdentifiers.base
    let l = local.generations, p = peer.generations
    let justCreated = GenerationIdentifiers.justCreated
    let localFresh = l.current == justCreated, peerFresh = p.current == justCreated
    if localFresh && peerFresh { return .noSync }
    if localFresh { return peer.disk == .inconsistent ? .noSync : .becomeSyncTarget(fullSync: true) }
    if peerFresh { return local.disk == .inconsistent ? .noSync : .becomeSyncSource(fullSync: true) }

    // An Inconsistent side (interrupted resync, invalidate) has nothing to protect: it is the
    // target whenever the other side has data. Bitmap-based when the generations relate.
    let localGood = local.disk != .inconsistent, peerGood = peer.disk != .inconsistent
    if localGood != peerGood {
        let related = base(l.current) == base(p.current)
            || (localGood ? (l.bitmap != 0 && base(l.bitmap) == base(p.current)) : (p.bitmap != 0 && base(p.bitmap) == base(l.current)))
        return localGood ? .becomeSyncSource(fullSync: !related) : .becomeSyncTarget(fullSync: !related)
    }

    if base(l.current) == base(p.current) {
        if local.crashedPrimary != peer.crashedPrimary {
            return local.crashedPrimary ? .becomeSyncSource(fullSync: false) : .becomeSyncTarget(fullSync: false)
        }
        if local.crashedPrimary || local.outOfSyncBlocks > 0 || peer.outOfSyncBlocks > 0 {
            if local.role != peer.role { return local.role == .primary ? .becomeSyncSource(fullSync: false) : .becomeSyncTarget(fullSync: false) }
            return local.nodeID < peer.nodeID ? .becomeSyncSource(fullSync: false) : .becomeSyncTarget(fullSync: false)
        }
        return .noSync
    }
    if p.bitmap != 0 && base(p.bitmap) == base(l.current) { return .becomeSyncTarget(fullSync: false) }
    if l.bitmap != 0 && base(l.bitmap) == base(p.current) { return .becomeSyncSource(fullSync: false) }
    if p.history.contains(where: { $0 != 0 && base($0) == base(l.current) }) { return .becomeSyncTarget(fullSync: true) }
    if l.history.contains(where: { $0 != 0 && base($0) == base(p.current) }) { return .becomeSyncSource(fullSync: true) }

    let localAncestors = Set(([l.bitmap] + l.history).filter { $0 != 0 }.map(base))
    let peerAncestors = Set(([p.bitmap] + p.history).filter { $0 != 0 }.map(base))
    if !localAncestors.isDisjoint(with: peerAncestors) {
        return .splitBrain(resolvedAs: resolveSplitBrain(local: local, peer: peer, policies: policies))
    }
    return .unrelatedData
}

/// The after-sb policies; nil when the policy does not resolve this split brain.
func resolveSplitBrain(local: HandshakeInfo, peer: HandshakeInfo, policies: SplitBrainPolicies) -> SplitBrainResolution? {
    let primaries = (local.role == .primary ? 1 : 0) + (peer.role == .primary ? 1 : 0)
    switch primaries {
    case 0:
        return resolveZeroPrimaries(local: local, peer: peer, policy: policies.zeroPrimaries)
    case 1:
        let secondaryIsLocal = local.role != .primary
        switch policies.onePrimary {
        case .disconnect: return nil
        case .discardSecondary: return secondaryIsLocal ? .discardLocal : .discardPeer
        case .consensus:
            guard let verdict = resolveZeroPrimaries(local: local, peer: peer, policy: policies.zeroPrimaries) else {
                return nil
            }
            // Accepted only when it discards the Secondary's changes.
            return (verdict == .discardLocal) == secondaryIsLocal ? verdict : nil
        }
    default:
        return nil
    }
}

private func resolveZeroPrimaries(local: HandshakeInfo, peer: HandshakeInfo,
                                  policy: AfterSplitBrain0Primary) -> SplitBrainResolution? {
    /// Tie-break: the higher node id is discarded (both sides compute the same).
    func byNodeID() -> SplitBrainResolution { local.nodeID > peer.nodeID ? .discardLocal : .discardPeer }
    switch policy {
    case .disconnect:
        return nil
    case .discardYoungerPrimary, .discardOlderPrimary:
        guard local.becamePrimaryAt != peer.becamePrimaryAt else { return nil }
        let localYounger = local.becamePrimaryAt > peer.becamePrimaryAt
        let discardLocal = policy == .discardYoungerPrimary ? localYounger : !localYounger
        return discardLocal ? .discardLocal : .discardPeer
    case .discardZeroChanges:
        switch (local.outOfSyncBlocks == 0, peer.outOfSyncBlocks == 0) {
        case (true, false): return .discardLocal
        case (false, true): return .discardPeer
        case (true, true): return byNodeID()
        case (false, false): return nil
        }
    case .discardLeastChanges:
        if local.outOfSyncBlocks == peer.outOfSyncBlocks { return byNodeID() }
        return local.outOfSyncBlocks < peer.outOfSyncBlocks ? .discardLocal : .discardPeer
    case .discardNode(let name):
        if local.nodeName == name { return .discardLocal }
        if peer.nodeName == name { return .discardPeer }
        return nil
    }
}
