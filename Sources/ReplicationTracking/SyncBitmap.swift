/// Which 4 KiB blocks of a volume differ from the peer (DRBD's bitmap, one bit per block).
///
/// Invariants: `outOfSyncBlocks` always equals the number of set bits; bits beyond
/// `blockCount` are never set. Marking and clearing a 4 KiB range is O(1) and allocates
/// nothing: it runs on every write while disconnected.
public struct SyncBitmap: Sendable, Equatable {
    public static let blockSize: UInt64 = 4096
    /// Bits per 4 KiB page of the on-disk bitmap.
    public static let blocksPerPage = 4096 * 8

    public private(set) var words: [UInt64]
    public let blockCount: Int
    public private(set) var outOfSyncBlocks: Int
    private var dirtyPages: Set<Int> = []

    /// All blocks in sync.
    public init(dataSize: UInt64) {
        blockCount = Int((dataSize + Self.blockSize - 1) / Self.blockSize)
        words = [UInt64](repeating: 0, count: (blockCount + 63) / 64)
        outOfSyncBlocks = 0
    }

    /// A bitmap read from disk.
    public init(dataSize: UInt64, words: [UInt64]) throws(BitmapError) {
        self.init(dataSize: dataSize)
        guard words.count >= self.words.count else {
            throw BitmapError("bitmap has \(words.count) words, \(self.words.count) needed for \(dataSize) bytes")
        }
        var count = 0
        for index in 0..<self.words.count {
            var word = words[index]
            if index == self.words.count - 1, blockCount % 64 != 0 {
                let mask = (UInt64(1) << UInt64(blockCount % 64)) - 1
                guard word & ~mask == 0 else {
                    throw BitmapError("bitmap has bits set beyond the end of the volume (word \(index))")
                }
                word &= mask
            }
            self.words[index] = word
            count += word.nonzeroBitCount
        }
        guard words[self.words.count...].allSatisfy({ $0 == 0 }) else {
            throw BitmapError("bitmap has bits set beyond the end of the volume")
        }
        outOfSyncBlocks = count
    }

    public var outOfSyncBytes: UInt64 { UInt64(outOfSyncBlocks) * Self.blockSize }

    private func blockRange(offset: UInt64, length: UInt64, whole: Bool) -> Range<Int> {
        guard length > 0 else { return 0..<0 }
        let end = offset + length
        let first: UInt64 = whole ? (offset + Self.blockSize - 1) / Self.blockSize : offset / Self.blockSize
        let last: UInt64 = whole ? end / Self.blockSize : (end + Self.blockSize - 1) / Self.blockSize
        let lower = Int(min(first, UInt64(blockCount)))
        let upper = Int(min(last, UInt64(blockCount)))
        return lower < upper ? lower..<upper : 0..<0
    }

    /// Marks every block the byte range touches.
    public mutating func markOutOfSync(offset: UInt64, length: UInt64) {
        setBits(blockRange(offset: offset, length: length, whole: false), to: true)
    }

    /// Clears the blocks the byte range covers completely.
    public mutating func markInSync(offset: UInt64, length: UInt64) {
        setBits(blockRange(offset: offset, length: length, whole: true), to: false)
    }

    public mutating func markAllOutOfSync() { setBits(0..<blockCount, to: true) }
    public mutating func clearAll() { setBits(0..<blockCount, to: false) }

    private mutating func setBits(_ blocks: Range<Int>, to value: Bool) {
        var block = blocks.lowerBound
        while block < blocks.upperBound {
            let index = block / 64
            let bit = block % 64
            let span = min(64 - bit, blocks.upperBound - block)
            let mask: UInt64 = span == 64 ? ~0 : ((UInt64(1) << UInt64(span)) - 1) << UInt64(bit)
            let old = words[index]
            let new = value ? old | mask : old & ~mask
            if new != old {
                outOfSyncBlocks += new.nonzeroBitCount - old.nonzeroBitCount
                words[index] = new
                dirtyPages.insert(block / Self.blocksPerPage)
            }
            block += span
        }
    }

    /// ORs another bitmap of the same size into this one.
    public mutating func merge(_ other: SyncBitmap) {
        precondition(other.blockCount == blockCount, "merging bitmaps of \(other.blockCount) and \(blockCount) blocks")
        for index in words.indices where other.words[index] & ~words[index] != 0 {
            let new = words[index] | other.words[index]
            outOfSyncBlocks += new.nonzeroBitCount - words[index].nonzeroBitCount
            words[index] = new
            dirtyPages.insert(index * 64 / Self.blocksPerPage)
        }
    }

    public func isOutOfSync(block: Int) -> Bool {
        guard block >= 0, block < blockCount else { return false }
        return words[block / 64] & (UInt64(1) << UInt64(block % 64)) != 0
    }

    /// The first out-of-sync block at or after `block`, skipping zero words.
    public func nextOutOfSync(from block: Int) -> Int? {
        var b = max(block, 0)
        while b < blockCount {
            let index = b / 64
            let word = words[index] >> UInt64(b % 64)
            if word != 0 { return b + word.trailingZeroBitCount }
            b = (index + 1) * 64
        }
        return nil
    }

    /// Runs of consecutive out-of-sync blocks from `block` on, totalling at most `maxBytes`.
    public func runs(from block: Int, maxBytes: UInt64) -> [Range<Int>] {
        var result: [Range<Int>] = []
        var budget = Int(maxBytes / Self.blockSize)
        var b = block
        while budget > 0, let start = nextOutOfSync(from: b) {
            var end = start
            while end < blockCount, end - start < budget, isOutOfSync(block: end) { end += 1 }
            result.append(start..<end)
            budget -= end - start
            b = end
        }
        return result
    }

    /// The 4 KiB pages of `words` changed since the last call (to write only those).
    public mutating func takeDirtyPages() -> [Int] {
        let pages = dirtyPages.sorted()
        dirtyPages.removeAll(keepingCapacity: true)
        return pages
    }

    public static func == (a: SyncBitmap, b: SyncBitmap) -> Bool { a.words == b.words && a.blockCount == b.blockCount }
}

/// A bitmap read from disk that does not fit the volume.
public struct BitmapError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
