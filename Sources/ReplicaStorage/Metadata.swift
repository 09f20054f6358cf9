/// DRBD-style internal metadata at the end of a backing device:
///
/// ```
/// | data (dataSize, 4 KiB multiple) | bitmap (1 bit per 4 KiB, 4 KiB pages) | activity log (8 slots x 4 KiB) | superblock (4 KiB) |
/// ```
///
/// The superblock is last, like DRBD's internal v09 metadata, so a device can grow by moving it.
public struct MetadataLayout: Sendable, Equatable {
    public static let page: UInt64 = 4096
    public static let activityLogSlots = 8

    public let rawSize: UInt64
    public let dataSize: UInt64
    public let bitmapOffset: UInt64
    public let bitmapBytes: UInt64
    public let activityLogOffset: UInt64
    public let superblockOffset: UInt64

    public init(rawSize: UInt64) throws(StorageError) {
        let page = Self.page
        let fixed = page + UInt64(Self.activityLogSlots) * page
        let minimum = fixed + 2 * page
        guard rawSize >= minimum else {
            throw StorageError(path: "", "device of \(rawSize) bytes is too small: at least \(minimum) bytes needed")
        }
        self.rawSize = rawSize
        let usable = (rawSize / page) * page
        superblockOffset = usable - page
        activityLogOffset = superblockOffset - UInt64(Self.activityLogSlots) * page
        // Bitmap pages needed for the data that remains: each page covers 128 MiB.
        let perPage = page * 8 * page
        var bitmapPages = (activityLogOffset + perPage - 1) / perPage
        while true {
            let data = activityLogOffset - bitmapPages * page
            let needed = max(1, (data + perPage - 1) / perPage)
            if needed <= bitmapPages { break }
            bitmapPages = needed
        }
        bitmapBytes = bitmapPages * page
        bitmapOffset = activityLogOffset - bitmapBytes
        dataSize = bitmapOffset
    }
}

/// Metadata flags (persisted bitset).
public struct MetadataFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let consistent = MetadataFlags(rawValue: 1 << 0)
    public static let wasUpToDate = MetadataFlags(rawValue: 1 << 1)
    public static let primaryIndicator = MetadataFlags(rawValue: 1 << 2)
    public static let crashedPrimary = MetadataFlags(rawValue: 1 << 3)
    public static let peerOutdated = MetadataFlags(rawValue: 1 << 4)
    public static let connectedIndicator = MetadataFlags(rawValue: 1 << 5)
    public static let fullSyncRequired = MetadataFlags(rawValue: 1 << 6)
    public static let outdated = MetadataFlags(rawValue: 1 << 7)
}

/// The superblock's contents.
public struct MetadataRecord: Sendable, Equatable {
    public static let magic: UInt64 = 0x4D45_5249_4449_414E  // "MERIDIAN"
    public static let version: UInt32 = 1

    public var dataSize: UInt64
    public var nodeID: UInt32
    public var peerNodeID: UInt32
    public var current: UInt64
    public var bitmapGeneration: UInt64
    public var history: [UInt64]
    public var flags: MetadataFlags
    public var activityLogExtents: UInt32
    public var becamePrimaryAt: UInt64
    public var deviceUUID: UInt64

    public init(dataSize: UInt64, nodeID: UInt32, peerNodeID: UInt32, current: UInt64, bitmapGeneration: UInt64 = 0,
                history: [UInt64] = [0, 0], flags: MetadataFlags = [], activityLogExtents: UInt32,
                becamePrimaryAt: UInt64 = 0, deviceUUID: UInt64) {
        self.dataSize = dataSize
        self.nodeID = nodeID
        self.peerNodeID = peerNodeID
        self.current = current
        self.bitmapGeneration = bitmapGeneration
        self.history = history
        self.flags = flags
        self.activityLogExtents = activityLogExtents
        self.becamePrimaryAt = becamePrimaryAt
        self.deviceUUID = deviceUUID
    }

    /// Big-endian encoding into a 4 KiB page, with a CRC-32C over the first 4092 bytes at the end.
    func encode(into page: UnsafeMutableRawBufferPointer) {
        page.initializeMemory(as: UInt8.self, repeating: 0)
        var writer = PageWriter(page: page)
        writer.put(Self.magic)
        writer.put(UInt64(Self.version))
        writer.put(dataSize)
        writer.put(UInt64(nodeID))
        writer.put(UInt64(peerNodeID))
        writer.put(current)
        writer.put(bitmapGeneration)
        writer.put(history.count > 0 ? history[0] : 0)
        writer.put(history.count > 1 ? history[1] : 0)
        writer.put(UInt64(flags.rawValue))
        writer.put(UInt64(activityLogExtents))
        writer.put(becamePrimaryAt)
        writer.put(deviceUUID)
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: page[0..<4092]))
        page.storeBytes(of: crc.bigEndian, toByteOffset: 4092, as: UInt32.self)
    }

    static func decode(_ page: UnsafeRawBufferPointer, path: String, offset: UInt64) throws(StorageError) -> MetadataRecord {
        var reader = PageReader(page: page)
        guard reader.get() == magic else {
            throw StorageError(path: path, "no Meridian metadata at offset \(offset)",
                               fix: "create it: meridian volume create-md RES --config F --node N")
        }
        let version = reader.get()
        guard version == UInt64(Self.version) else {
            throw StorageError(path: path, "metadata version \(version) at offset \(offset) is not supported (expected \(Self.version))")
        }
        let stored = UInt32(bigEndian: page.loadUnaligned(fromByteOffset: 4092, as: UInt32.self))
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: page[0..<4092])) == stored else {
            throw StorageError(path: path, "metadata superblock at offset \(offset) fails its checksum (corrupt)",
                               fix: "if the peer has good data: meridian volume create-md --force, then connect for a full sync")
        }
        return MetadataRecord(
            dataSize: reader.get(), nodeID: UInt32(truncatingIfNeeded: reader.get()),
            peerNodeID: UInt32(truncatingIfNeeded: reader.get()), current: reader.get(), bitmapGeneration: reader.get(),
            history: [reader.get(), reader.get()], flags: MetadataFlags(rawValue: UInt32(truncatingIfNeeded: reader.get())),
            activityLogExtents: UInt32(truncatingIfNeeded: reader.get()), becamePrimaryAt: reader.get(),
            deviceUUID: reader.get())
    }
}

struct PageWriter {
    let page: UnsafeMutableRawBufferPointer
    var position = 0
    mutating func put(_ value: UInt64) {
        page.storeBytes(of: value.bigEndian, toByteOffset: position, as: UInt64.self)
        position += 8
    }
    mutating func put32(_ value: UInt32) {
        page.storeBytes(of: value.bigEndian, toByteOffset: position, as: UInt32.self)
        position += 4
    }
}

struct PageReader {
    let page: UnsafeRawBufferPointer
    var position = 0
    mutating func get() -> UInt64 {
        defer { position += 8 }
        return UInt64(bigEndian: page.loadUnaligned(fromByteOffset: position, as: UInt64.self))
    }
    mutating func get32() -> UInt32 {
        defer { position += 4 }
        return UInt32(bigEndian: page.loadUnaligned(fromByteOffset: position, as: UInt32.self))
    }
}

/// CRC-32C (Castagnoli), table-driven.
enum CRC32C {
    static let table: [UInt32] = (0..<256).map { i in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }
    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = ~0
        for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        return ~crc
    }
}

/// What `load` returns.
public struct LoadedMetadata: Sendable {
    public var record: MetadataRecord
    public var bitmapWords: [UInt64]
    public var activityLogExtents: [UInt32]
    public var activityLogTransaction: UInt64
}

/// Reads and writes the metadata of one backing device. Every write is followed by fdatasync.
public final class MetadataStore: @unchecked Sendable {
    public let device: BackingDevice
    public let layout: MetadataLayout
    private let page = AlignedBuffer(capacity: 4096)
    private var nextSlot = 0
    /// Most activity-log extents one 4 KiB slot holds (header 24 bytes, CRC 4 bytes).
    public static let activityLogSlotCapacity = (4096 - 28) / 4

    public init(device: BackingDevice) throws(StorageError) {
        self.device = device
        do { layout = try MetadataLayout(rawSize: device.rawSize) } catch {
            throw StorageError(path: device.path, error.message, fix: "use a larger backing device")
        }
    }

    /// `create-md`: fresh superblock (current generation "just created"), zero bitmap and
    /// activity log. Refuses to overwrite valid metadata unless `force`.
    public func create(nodeID: Int, peerNodeID: Int, activityLogExtents: Int, force: Bool) throws(StorageError) -> MetadataRecord {
        if !force, let existing = try? load() {
            throw StorageError(path: device.path,
                               "valid metadata exists (node-id \(existing.record.nodeID), generation \(String(existing.record.current, radix: 16)))",
                               fix: "to destroy it and start over: create-md --force")
        }
        let zeroes = AlignedBuffer(capacity: Int(min(layout.bitmapBytes, 1 << 20)))
        var offset = layout.bitmapOffset
        while offset < layout.superblockOffset {
            let n = Int(min(UInt64(zeroes.bytes.count), layout.superblockOffset - offset))
            try device.write(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(zeroes.bytes)[0..<n]), at: offset)
            offset += UInt64(n)
        }
        let record = MetadataRecord(
            dataSize: layout.dataSize, nodeID: UInt32(nodeID), peerNodeID: UInt32(peerNodeID), current: 4,
            activityLogExtents: UInt32(min(activityLogExtents, Self.activityLogSlotCapacity)),
            deviceUUID: UInt64.random(in: 1...UInt64.max))
        try writeSuperblock(record)
        return record
    }

    public func load() throws(StorageError) -> LoadedMetadata {
        try device.read(into: page.bytes, at: layout.superblockOffset)
        let record = try MetadataRecord.decode(UnsafeRawBufferPointer(page.bytes), path: device.path,
                                               offset: layout.superblockOffset)
        guard record.dataSize == layout.dataSize else {
            throw StorageError(path: device.path,
                               "metadata describes \(record.dataSize) bytes of data but the device leaves \(layout.dataSize)",
                               fix: "the backing device changed size; restore its size or create-md --force")
        }
        let words = try readBitmap()
        var best: (number: UInt64, extents: [UInt32], slot: Int)?
        for slot in 0..<MetadataLayout.activityLogSlots {
            try device.read(into: page.bytes, at: layout.activityLogOffset + UInt64(slot) * MetadataLayout.page)
            let raw = UnsafeRawBufferPointer(page.bytes)
            var reader = PageReader(page: raw)
            guard reader.get() == Self.alMagic else { continue }
            let number = reader.get()
            let count = Int(reader.get32())
            reader.position = 24
            guard count <= Self.activityLogSlotCapacity else { continue }
            let stored = UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: 4092, as: UInt32.self))
            guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<4092])) == stored else { continue }
            if best == nil || number > best!.number {
                best = (number, (0..<count).map { _ in reader.get32() }, slot)
            }
        }
        nextSlot = ((best?.slot ?? -1) + 1) % MetadataLayout.activityLogSlots
        return LoadedMetadata(record: record, bitmapWords: words, activityLogExtents: best?.extents ?? [],
                              activityLogTransaction: best?.number ?? 0)
    }

    static let alMagic: UInt64 = 0x4D52_414C_4F47_0001  // "MRALOG" + version

    public func writeSuperblock(_ record: MetadataRecord) throws(StorageError) {
        record.encode(into: page.bytes)
        try device.write(UnsafeRawBufferPointer(page.bytes), at: layout.superblockOffset)
        try device.flush()
    }

    /// Writes the next activity-log slot (a full snapshot of the hot extents), then flushes.
    public func appendActivityLogTransaction(hotExtents: [UInt32], number: UInt64) throws(StorageError) {
        page.bytes.initializeMemory(as: UInt8.self, repeating: 0)
        var writer = PageWriter(page: page.bytes)
        writer.put(Self.alMagic)
        writer.put(number)
        let extents = hotExtents.prefix(Self.activityLogSlotCapacity)
        writer.put32(UInt32(extents.count))
        writer.position = 24
        for e in extents { writer.put32(e) }
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: page.bytes[0..<4092]))
        page.bytes.storeBytes(of: crc.bigEndian, toByteOffset: 4092, as: UInt32.self)
        try device.write(UnsafeRawBufferPointer(page.bytes),
                         at: layout.activityLogOffset + UInt64(nextSlot) * MetadataLayout.page)
        try device.flush()
        nextSlot = (nextSlot + 1) % MetadataLayout.activityLogSlots
    }

    public func readBitmap() throws(StorageError) -> [UInt64] {
        let buffer = AlignedBuffer(capacity: Int(layout.bitmapBytes))
        try device.read(into: buffer.bytes, at: layout.bitmapOffset)
        return buffer.bytes.bindMemory(to: UInt64.self).map { UInt64(littleEndian: $0) }
    }

    public func writeBitmap(words: [UInt64]) throws(StorageError) {
        try writeBitmapPages(words: words, pages: 0..<Int(layout.bitmapBytes / MetadataLayout.page))
    }

    /// Writes only the given 4 KiB pages of the bitmap (512 words each), then flushes.
    public func writeBitmapPages(words: [UInt64], pages: some Sequence<Int>) throws(StorageError) {
        var wrote = false
        for pageIndex in pages {
            page.bytes.initializeMemory(as: UInt8.self, repeating: 0)
            let first = pageIndex * 512
            guard first < words.count else { continue }
            let typed = page.bytes.bindMemory(to: UInt64.self)
            for i in 0..<min(512, words.count - first) { typed[i] = words[first + i].littleEndian }
            try device.write(UnsafeRawBufferPointer(page.bytes), at: layout.bitmapOffset + UInt64(pageIndex) * MetadataLayout.page)
            wrote = true
        }
        if wrote { try device.flush() }
    }
}
