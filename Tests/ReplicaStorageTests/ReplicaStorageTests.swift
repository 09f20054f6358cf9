import Foundation
import Testing
@testable import ReplicaStorage

func scratchFile(_ size: UInt64) -> String {
    let path = NSTemporaryDirectory() + "replica-storage-\(UInt32.random(in: 0...UInt32.max)).img"
    _ = FileManager.default.createFile(atPath: path, contents: nil)
    _ = truncate(path, off_t(size))
    return path
}

@Suite struct MetadataLayoutTests {
    @Test(arguments: [UInt64(64 << 20), UInt64(1 << 30), UInt64((100 << 20) + 1234), UInt64(1 << 40)])
    func bitmapCoversTheData(size: UInt64) throws {
        let layout = try MetadataLayout(rawSize: size)
        #expect(layout.dataSize % 4096 == 0)
        #expect(layout.bitmapBytes * 8 * 4096 >= layout.dataSize)
        #expect(layout.dataSize == layout.bitmapOffset)
        #expect(layout.superblockOffset + 4096 <= size)
        #expect(layout.activityLogOffset == layout.bitmapOffset + layout.bitmapBytes)
    }

    @Test func tooSmallIsAClearError() {
        #expect(throws: StorageError.self) { try MetadataLayout(rawSize: 8192) }
    }
}

@Suite struct MetadataStoreTests {
    @Test func createLoadRoundTripAndRefusalToOverwrite() throws {
        let path = scratchFile(64 << 20)
        defer { unlink(path) }
        let store = try MetadataStore(device: try BackingDevice(path: path))
        #expect(throws: StorageError.self) { try store.load() }
        let record = try store.create(nodeID: 1, peerNodeID: 0, activityLogExtents: 61, force: false)
        #expect(record.current == 4 && record.nodeID == 1)
        let loaded = try store.load()
        #expect(loaded.record == record && loaded.bitmapWords.allSatisfy { $0 == 0 } && loaded.activityLogExtents.isEmpty)
        #expect(throws: StorageError.self) { _ = try store.create(nodeID: 1, peerNodeID: 0, activityLogExtents: 61, force: false) }
        _ = try store.create(nodeID: 1, peerNodeID: 0, activityLogExtents: 61, force: true)
    }

    @Test func corruptSuperblockFailsItsChecksum() throws {
        let path = scratchFile(64 << 20)
        defer { unlink(path) }
        let store = try MetadataStore(device: try BackingDevice(path: path))
        var record = try store.create(nodeID: 0, peerNodeID: 1, activityLogExtents: 61, force: false)
        record.current = 0xABCD00
        record.flags = [.consistent, .wasUpToDate]
        try store.writeSuperblock(record)
        #expect(try store.load().record == record)
        let fd = open(path, O_RDWR)
        var byte: UInt8 = 0xFF
        _ = pwrite(fd, &byte, 1, off_t(store.layout.superblockOffset + 50))
        close(fd)
        #expect(throws: StorageError.self) { try MetadataStore(device: try BackingDevice(path: path)).load() }
    }

    @Test func tornActivityLogSlotFallsBackAndTheRingWraps() throws {
        let path = scratchFile(64 << 20)
        defer { unlink(path) }
        let store = try MetadataStore(device: try BackingDevice(path: path))
        _ = try store.create(nodeID: 0, peerNodeID: 1, activityLogExtents: 61, force: false)
        for n in 1...10 { try store.appendActivityLogTransaction(hotExtents: [UInt32(n), 0], number: UInt64(n)) }
        var loaded = try store.load()
        #expect(loaded.activityLogTransaction == 10 && loaded.activityLogExtents == [10, 0])
        // Tear the newest slot (10 lands in slot 1 of 8).
        let fd = open(path, O_RDWR)
        var byte: UInt8 = 0x55
        _ = pwrite(fd, &byte, 1, off_t(store.layout.activityLogOffset + 4096 + 30))
        close(fd)
        loaded = try MetadataStore(device: try BackingDevice(path: path)).load()
        #expect(loaded.activityLogTransaction == 9 && loaded.activityLogExtents == [9, 0])
    }

    @Test func bitmapPagesAreWrittenSelectively() throws {
        let path = scratchFile(1 << 30)
        defer { unlink(path) }
        let store = try MetadataStore(device: try BackingDevice(path: path))
        _ = try store.create(nodeID: 0, peerNodeID: 1, activityLogExtents: 61, force: false)
        var words = try store.readBitmap()
        words[0] = 0xFF
        words[600] = 1  // page 1
        try store.writeBitmapPages(words: words, pages: [1])
        let back = try store.readBitmap()
        #expect(back[0] == 0 && back[600] == 1)
        try store.writeBitmap(words: words)
        #expect(try store.readBitmap()[0] == 0xFF)
    }

    @Test func discardAndWriteZeroesReadBackZeroes() throws {
        let path = scratchFile(16 << 20)
        defer { unlink(path) }
        let device = try BackingDevice(path: path)
        let buffer = AlignedBuffer(capacity: 8192)
        buffer.bytes.initializeMemory(as: UInt8.self, repeating: 0xAB)
        try device.write(UnsafeRawBufferPointer(buffer.bytes), at: 0)
        try device.write(UnsafeRawBufferPointer(buffer.bytes), at: 1 << 20)
        try device.discard(offset: 0, length: 8192)
        try device.writeZeroes(offset: 1 << 20, length: 4096)
        let back = AlignedBuffer(capacity: 8192)
        try device.read(into: back.bytes, at: 0)
        #expect(back.bytes.allSatisfy { $0 == 0 })
        try device.read(into: back.bytes, at: 1 << 20)
        #expect(back.bytes[0..<4096].allSatisfy { $0 == 0 } && back.bytes[4096..<8192].allSatisfy { $0 == 0xAB })
    }
}
