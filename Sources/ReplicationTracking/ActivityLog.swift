/// DRBD's activity log: the 4 MiB extents of a volume that may hold writes the peer does not
/// have yet. A write into a cold extent first persists a transaction that makes it hot; after
/// a crash as Primary, only the hot extents are resynced, not the whole volume.
///
/// Invariants: at most `capacity` extents are hot; an extent with writes in flight is never
/// evicted; `hotExtents` is in LRU order, most recently used first.
///
/// Cost: a write into hot extents is O(1) (a use stamp per extent; no list is reordered); only a
/// write that makes an extent hot, which also writes a transaction to disk, sorts the log.
public struct ActivityLog: Sendable, Equatable {
    public static let extentSize: UInt64 = 4 << 20

    public let capacity: Int
    public private(set) var transactionNumber: UInt64
    /// Hot extents and when each was last used (a counter: larger is more recent).
    private var lastUse: [UInt32: UInt64] = [:]
    private var clock: UInt64 = 0
    private var inFlight: [UInt32: Int] = [:]

    /// The hot extents, most recently used first.
    public var hotExtents: [UInt32] {
        lastUse.sorted { $0.value > $1.value }.map(\.key)
    }

    public init(capacity: Int, hotExtents: [UInt32] = [], transactionNumber: UInt64 = 0) {
        precondition(capacity > 0, "activity log capacity \(capacity)")
        self.capacity = capacity
        self.transactionNumber = transactionNumber
        for e in hotExtents.prefix(capacity).reversed() where lastUse[e] == nil { use(e) }
    }

    private mutating func use(_ extent: UInt32) {
        clock += 1
        lastUse[extent] = clock
    }

    /// What a write must do before it may start.
    public enum Begin: Equatable, Sendable {
        /// Every extent was hot; references taken.
        case hot
        /// Persist this transaction, then write (references taken).
        case transaction(ActivityLogTransaction)
        /// Every extent that could be evicted has writes in flight: wait for an `endWrite`.
        case mustWait
    }

    public static func extents(offset: UInt64, length: UInt64) -> ClosedRange<UInt32> {
        let first = UInt32(offset / extentSize)
        let last = UInt32((offset + max(length, 1) - 1) / extentSize)
        return first...last
    }

    public mutating func beginWrite(offset: UInt64, length: UInt64) -> Begin {
        let needed = Self.extents(offset: offset, length: length)
        let cold = needed.filter { lastUse[$0] == nil }
        if cold.isEmpty {
            for e in needed {
                use(e)
                inFlight[e, default: 0] += 1
            }
            return .hot
        }
        var evicted: [UInt32] = []
        let room = capacity - lastUse.count
        if cold.count > room {
            // Evict least recently used extents without writes in flight.
            let candidates = lastUse.filter { inFlight[$0.key, default: 0] == 0 && !needed.contains($0.key) }
                .sorted { $0.value < $1.value }.map(\.key)
            guard candidates.count >= cold.count - room else { return .mustWait }
            evicted = Array(candidates.prefix(cold.count - room))
        }
        for e in evicted { lastUse[e] = nil }
        for e in needed {
            use(e)
            inFlight[e, default: 0] += 1
        }
        transactionNumber += 1
        return .transaction(ActivityLogTransaction(number: transactionNumber, added: cold, evicted: evicted,
                                                   hotExtents: hotExtents))
    }

    public mutating func endWrite(offset: UInt64, length: UInt64) {
        for e in Self.extents(offset: offset, length: length) {
            let count = inFlight[e, default: 0]
            precondition(count > 0, "Internal inconsistency: endWrite of extent \(e) without a write in flight")
            inFlight[e] = count == 1 ? nil : count - 1
        }
    }

    /// Byte ranges to mark out of sync when a crashed Primary re-attaches.
    public func outOfSyncAfterCrash(dataSize: UInt64) -> [Range<UInt64>] {
        lastUse.keys.sorted().compactMap { e in
            let start = UInt64(e) * Self.extentSize
            guard start < dataSize else { return nil }
            return start..<min(start + Self.extentSize, dataSize)
        }
    }

    public static func == (a: ActivityLog, b: ActivityLog) -> Bool {
        a.capacity == b.capacity && a.hotExtents == b.hotExtents && a.transactionNumber == b.transactionNumber
    }
}

/// One activity-log update to persist before the write that caused it.
public struct ActivityLogTransaction: Sendable, Equatable {
    public let number: UInt64
    public let added: [UInt32]
    public let evicted: [UInt32]
    /// The complete hot set after the transaction (what the on-disk slot stores).
    public let hotExtents: [UInt32]
}
