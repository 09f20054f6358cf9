/// DRBD's activity log: the 4 MiB extents of a volume that may hold writes the peer does not
/// have yet. A write into a cold extent first persists a transaction that makes it hot; after
/// a crash as Primary, only the hot extents are resynced, not the whole volume.
///
/// Invariants: at most `capacity` extents are hot; an extent with writes in flight is never
/// evicted; `hotExtents` is in LRU order, most recently used first.
public struct ActivityLog: Sendable, Equatable {
    public static let extentSize: UInt64 = 4 << 20

    public let capacity: Int
    public private(set) var hotExtents: [UInt32]
    public private(set) var transactionNumber: UInt64
    private var inFlight: [UInt32: Int] = [:]

    public init(capacity: Int, hotExtents: [UInt32] = [], transactionNumber: UInt64 = 0) {
        precondition(capacity > 0, "activity log capacity \(capacity)")
        self.capacity = capacity
        self.hotExtents = Array(hotExtents.prefix(capacity))
        self.transactionNumber = transactionNumber
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
        let needed = Array(Self.extents(offset: offset, length: length))
        let cold = needed.filter { !hotExtents.contains($0) }
        if cold.isEmpty {
            touch(needed)
            for e in needed { inFlight[e, default: 0] += 1 }
            return .hot
        }
        var evicted: [UInt32] = []
        let room = capacity - hotExtents.count
        if cold.count > room {
            // Evict least recently used extents without writes in flight.
            var candidates = hotExtents.reversed().filter { inFlight[$0, default: 0] == 0 && !needed.contains($0) }
            while evicted.count < cold.count - room {
                guard !candidates.isEmpty else { return .mustWait }
                evicted.append(candidates.removeFirst())
            }
        }
        hotExtents.removeAll { evicted.contains($0) }
        hotExtents.insert(contentsOf: cold, at: 0)
        touch(needed)
        for e in needed { inFlight[e, default: 0] += 1 }
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

    private mutating func touch(_ extents: [UInt32]) {
        let moved = hotExtents.filter { extents.contains($0) }
        hotExtents.removeAll { extents.contains($0) }
        hotExtents.insert(contentsOf: moved, at: 0)
    }

    /// Byte ranges to mark out of sync when a crashed Primary re-attaches.
    public func outOfSyncAfterCrash(dataSize: UInt64) -> [Range<UInt64>] {
        hotExtents.sorted().compactMap { e in
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
