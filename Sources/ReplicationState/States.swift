/// A node's role for a resource (DRBD's roles).
public enum Role: String, Sendable, Codable {
    case primary = "Primary", secondary = "Secondary", unknown = "Unknown"
}

/// The state of a volume's data on one node, ordered from worst to best as DRBD orders them.
public enum DiskState: String, Sendable, Codable, CaseIterable {
    case diskless = "Diskless", attaching = "Attaching", failed = "Failed", negotiating = "Negotiating"
    case inconsistent = "Inconsistent", outdated = "Outdated", unknown = "DUnknown", consistent = "Consistent"
    case upToDate = "UpToDate"
}

/// The connection to the peer.
public enum ConnectionState: String, Sendable, Codable {
    case standAlone = "StandAlone", connecting = "Connecting", connected = "Connected"
    case disconnecting = "Disconnecting"
}

/// What replication does for a volume while connected.
public enum ReplicationMode: String, Sendable, Codable {
    case off = "Off", established = "Established", syncSource = "SyncSource", syncTarget = "SyncTarget"
    case verifySource = "VerifyS", verifyTarget = "VerifyT"
}

/// DRBD's generation identifiers: `current` names the data generation; `bitmap` the generation
/// the bitmap tracks changes against (0 when none); `history` the two generations before.
public struct GenerationIdentifiers: Sendable, Equatable, Codable {
    public var current: UInt64
    public var bitmap: UInt64
    public var history: [UInt64]

    /// DRBD's UUID_JUST_CREATED: fresh metadata, no data yet.
    public static let justCreated: UInt64 = 4

    public init(current: UInt64, bitmap: UInt64 = 0, history: [UInt64] = [0, 0]) {
        self.current = current
        self.bitmap = bitmap
        self.history = Array((history + [0, 0]).prefix(2))
    }

    /// Low bit of a generation: DRBD keeps the "was Primary" flag there; Meridian compares
    /// generations without it.
    static func base(_ value: UInt64) -> UInt64 { value & ~1 }

    /// Starts a new data generation: the bitmap keeps the old current (if it tracks nothing
    /// yet), as DRBD's `drbd_uuid_new_current`.
    public mutating func startNewGeneration(_ fresh: UInt64) {
        if bitmap == 0 {
            bitmap = current
        } else {
            pushHistory(current)
        }
        current = fresh
    }

    mutating func pushHistory(_ value: UInt64) {
        guard value != 0 else { return }
        history = [value, history[0]]
    }
}

/// `fencing` of the resource.
public enum FencingPolicy: String, Sendable, Equatable {
    case dontCare = "dont-care", resourceOnly = "resource-only", resourceAndStonith = "resource-and-stonith"
}

/// `after-sb-0pri`: split brain with no Primary.
public enum AfterSplitBrain0Primary: Sendable, Equatable {
    case disconnect, discardYoungerPrimary, discardOlderPrimary, discardZeroChanges, discardLeastChanges
    case discardNode(String)
}

/// `after-sb-1pri`: split brain with one Primary.
public enum AfterSplitBrain1Primary: Sendable, Equatable {
    case disconnect, consensus, discardSecondary
}

/// `after-sb-2pri`: split brain with two Primaries (always disconnect).
public enum AfterSplitBrain2Primary: Sendable, Equatable {
    case disconnect
}

public struct SplitBrainPolicies: Sendable, Equatable {
    public var zeroPrimaries: AfterSplitBrain0Primary
    public var onePrimary: AfterSplitBrain1Primary
    public var twoPrimaries: AfterSplitBrain2Primary

    public init(zeroPrimaries: AfterSplitBrain0Primary = .disconnect, onePrimary: AfterSplitBrain1Primary = .disconnect,
                twoPrimaries: AfterSplitBrain2Primary = .disconnect) {
        self.zeroPrimaries = zeroPrimaries
        self.onePrimary = onePrimary
        self.twoPrimaries = twoPrimaries
    }
}

/// What each side tells the other at connect, per volume.
public struct HandshakeInfo: Sendable, Equatable, Codable {
    public var nodeID: Int
    public var nodeName: String
    public var role: Role
    public var disk: DiskState
    public var generations: GenerationIdentifiers
    public var outOfSyncBlocks: UInt64
    public var crashedPrimary: Bool
    /// When this side last became Primary (a counter persisted with the metadata; compared by
    /// discard-younger-primary / discard-older-primary).
    public var becamePrimaryAt: UInt64

    public init(nodeID: Int, nodeName: String, role: Role, disk: DiskState, generations: GenerationIdentifiers,
                outOfSyncBlocks: UInt64, crashedPrimary: Bool, becamePrimaryAt: UInt64) {
        self.nodeID = nodeID
        self.nodeName = nodeName
        self.role = role
        self.disk = disk
        self.generations = generations
        self.outOfSyncBlocks = outOfSyncBlocks
        self.crashedPrimary = crashedPrimary
        self.becamePrimaryAt = becamePrimaryAt
    }
}

/// How a detected split brain was resolved by a policy.
public enum SplitBrainResolution: Sendable, Equatable {
    /// This side's changes are discarded: it becomes SyncTarget.
    case discardLocal
    /// The peer's changes are discarded: this side becomes SyncSource.
    case discardPeer
}

/// The outcome of comparing the two sides at connect.
public enum SyncDecision: Sendable, Equatable {
    case noSync
    case becomeSyncSource(fullSync: Bool)
    case becomeSyncTarget(fullSync: Bool)
    /// nil: not resolved by any policy; the connection is dropped.
    case splitBrain(resolvedAs: SplitBrainResolution?)
    /// Neither side's generations relate: never synced automatically.
    case unrelatedData
    /// Both sides are Primary: refused.
    case bothPrimary
}

/// Handlers the core asks the shell to run.
/// DRBD's meaning: `initial-split-brain` on every split brain detected, `split-brain` only
/// when no policy resolved it (someone must recover by hand), `unfence-peer` when a peer this
/// node may have fenced is UpToDate again, `out-of-sync` when online verify found differences.
public enum ReplicaHandler: String, Sendable, Equatable {
    case fencePeer = "fence-peer", unfencePeer = "unfence-peer", splitBrain = "split-brain"
    case initialSplitBrain = "initial-split-brain"
    case afterResyncTarget = "after-resync-target"
    case outOfSync = "out-of-sync"
}

/// What the shell must do after an event.
public enum ReplicaDirective: Sendable, Equatable {
    /// Write the metadata (generations and flags) durably.
    case persist
    case startResync(asSource: Bool, fullSync: Bool)
    case disconnect(reason: String)
    case runHandler(ReplicaHandler, reason: String)
    case sendState
    /// Answer the writes held while I/O was suspended for fencing, and admit new ones.
    case resumeIO
    case log(String)
}

/// A refused state change: drbdadm-style message and what to do.
public struct ReplicaRefusal: Error, Equatable, Sendable {
    public let message: String
    /// The promotion needs the peer known to be outdated first: run the fence-peer handler,
    /// feed its answer (``VolumeReplica/fencePeerResult(exitCode:)``) and try again.
    public let needsPeerFenced: Bool
    public init(_ message: String, needsPeerFenced: Bool = false) {
        self.message = message
        self.needsPeerFenced = needsPeerFenced
    }
}

/// What must be on disk for a volume: generations and flags.
public struct PersistedState: Sendable, Equatable {
    public var generations: GenerationIdentifiers
    public var consistent: Bool
    public var wasUpToDate: Bool
    public var primaryIndicator: Bool
    public var crashedPrimary: Bool
    public var peerOutdated: Bool
    public var outdated: Bool
    public var becamePrimaryAt: UInt64

    public init(generations: GenerationIdentifiers, consistent: Bool, wasUpToDate: Bool, primaryIndicator: Bool,
                crashedPrimary: Bool, peerOutdated: Bool, outdated: Bool, becamePrimaryAt: UInt64 = 0) {
        self.generations = generations
        self.consistent = consistent
        self.wasUpToDate = wasUpToDate
        self.primaryIndicator = primaryIndicator
        self.crashedPrimary = crashedPrimary
        self.peerOutdated = peerOutdated
        self.outdated = outdated
        self.becamePrimaryAt = becamePrimaryAt
    }

    /// Fresh metadata (`create-md`).
    public static let fresh = PersistedState(
        generations: GenerationIdentifiers(current: GenerationIdentifiers.justCreated), consistent: false,
        wasUpToDate: false, primaryIndicator: false, crashedPrimary: false, peerOutdated: false, outdated: false)
}
