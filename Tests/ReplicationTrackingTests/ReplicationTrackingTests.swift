import Testing
@testable import ReplicationTracking

@Suite struct SyncBitmapTests {
    @Test func partialBlocksMarkOutwardAndClearInward() {
        var bitmap = SyncBitmap(dataSize: 1 << 20)  // 256 blocks
        bitmap.markOutOfSync(offset: 4095, length: 2)  // touches blocks 0 and 1
        #expect(bitmap.outOfSyncBlocks == 2)
        bitmap.markInSync(offset: 100, length: 8000)  // covers no block completely... block 1? 100..<8100: no whole block
        #expect(bitmap.outOfSyncBlocks == 2)
        bitmap.markInSync(offset: 0, length: 8192)
        #expect(bitmap.outOfSyncBlocks == 0)
    }

    @Test func wordAndPageBoundariesAndCounts() {
        var bitmap = SyncBitmap(dataSize: 200 << 20)  // 51200 blocks, 2 pages
        bitmap.markOutOfSync(offset: 63 * 4096, length: 2 * 4096)  // blocks 63, 64: across a word
        #expect(bitmap.isOutOfSync(block: 63) && bitmap.isOutOfSync(block: 64) && !bitmap.isOutOfSync(block: 65))
        bitmap.markOutOfSync(offset: UInt64(SyncBitmap.blocksPerPage) * 4096, length: 4096)
        #expect(bitmap.outOfSyncBlocks == 3)
        #expect(bitmap.takeDirtyPages() == [0, 1])
        #expect(bitmap.takeDirtyPages() == [])
        bitmap.markOutOfSync(offset: 0, length: 4096)
        #expect(bitmap.takeDirtyPages() == [0])
        #expect(bitmap.nextOutOfSync(from: 1) == 63)
        #expect(bitmap.nextOutOfSync(from: 65) == SyncBitmap.blocksPerPage)
        #expect(bitmap.nextOutOfSync(from: SyncBitmap.blocksPerPage + 1) == nil)
    }

    @Test func endOfVolumeNotMultipleOf64() throws {
        var bitmap = SyncBitmap(dataSize: 70 * 4096 + 100)  // 71 blocks, the last partial
        #expect(bitmap.blockCount == 71)
        bitmap.markAllOutOfSync()
        #expect(bitmap.outOfSyncBlocks == 71)
        bitmap.markOutOfSync(offset: 1 << 30, length: 4096)  // beyond the end: ignored
        #expect(bitmap.outOfSyncBlocks == 71)
        let reloaded = try SyncBitmap(dataSize: 70 * 4096 + 100, words: bitmap.words)
        #expect(reloaded == bitmap && reloaded.outOfSyncBlocks == 71)
        var bad = bitmap.words
        bad[1] |= 1 << 63
        #expect(throws: BitmapError.self) { try SyncBitmap(dataSize: 70 * 4096 + 100, words: bad) }
    }

    @Test func runsRespectTheBudget() {
        var bitmap = SyncBitmap(dataSize: 64 << 20)
        bitmap.markOutOfSync(offset: 0, length: 3 << 20)
        bitmap.markOutOfSync(offset: 10 << 20, length: 4096)
        let runs = bitmap.runs(from: 0, maxBytes: 1 << 20)
        #expect(runs == [0..<256])
        let rest = bitmap.runs(from: 256, maxBytes: 8 << 20)
        #expect(rest == [256..<768, 2560..<2561])
    }

    @Test func mergeIsUnion() {
        var a = SyncBitmap(dataSize: 1 << 20)
        var b = SyncBitmap(dataSize: 1 << 20)
        a.markOutOfSync(offset: 0, length: 8192)
        b.markOutOfSync(offset: 4096, length: 8192)
        a.merge(b)
        #expect(a.outOfSyncBlocks == 3)
    }
}

@Suite struct ActivityLogTests {
    let extent = ActivityLog.extentSize

    @Test func coldExtentNeedsATransactionHotOneDoesNot() {
        var log = ActivityLog(capacity: 2)
        guard case .transaction(let t) = log.beginWrite(offset: 0, length: 4096) else {
            Issue.record("first write must persist a transaction")
            return
        }
        #expect(t.number == 1 && t.added == [0] && t.evicted == [] && t.hotExtents == [0])
        #expect(log.beginWrite(offset: 4096, length: 4096) == .hot)
        log.endWrite(offset: 0, length: 4096)
        log.endWrite(offset: 4096, length: 4096)
    }

    @Test func evictsLeastRecentlyUsedIdleExtent() {
        var log = ActivityLog(capacity: 2)
        for e in [0, 1] {
            _ = log.beginWrite(offset: UInt64(e) * extent, length: 4096)
            log.endWrite(offset: UInt64(e) * extent, length: 4096)
        }
        _ = log.beginWrite(offset: 0, length: 4096)  // extent 0 most recent
        log.endWrite(offset: 0, length: 4096)
        guard case .transaction(let t) = log.beginWrite(offset: 2 * extent, length: 4096) else {
            Issue.record("a third extent needs a transaction")
            return
        }
        #expect(t.evicted == [1] && t.hotExtents == [2, 0])
    }

    @Test func busyExtentsAreNeverEvicted() {
        var log = ActivityLog(capacity: 1)
        _ = log.beginWrite(offset: 0, length: 4096)
        #expect(log.beginWrite(offset: extent, length: 4096) == .mustWait)
        log.endWrite(offset: 0, length: 4096)
        guard case .transaction(let t) = log.beginWrite(offset: extent, length: 4096) else {
            Issue.record("after endWrite the extent can be evicted")
            return
        }
        #expect(t.evicted == [0] && t.added == [1])
    }

    @Test func crashRecoveryCoversHotExtentsOnly() {
        let log = ActivityLog(capacity: 4, hotExtents: [3, 0], transactionNumber: 9)
        #expect(log.outOfSyncAfterCrash(dataSize: 14 << 20) == [0..<extent, (3 * extent)..<(14 << 20)])
        #expect(ActivityLog.extents(offset: extent - 1, length: 2) == 0...1)
    }
}

@Suite struct ResyncRateControllerTests {
    @Test func fixedRateWithoutPlanAhead() {
        var settings = ResyncRateController.Settings.drbdDefaults
        settings.planAhead = .zero
        settings.fixedRate = 10 << 20
        var c = ResyncRateController(settings: settings)
        _ = c.step(now: .zero, inFlightBytes: 0, bytesAnsweredSinceLastStep: 0, applicationIOBytesSinceLastStep: 0)
        let bytes = c.step(now: .milliseconds(100), inFlightBytes: 0, bytesAnsweredSinceLastStep: 0,
                           applicationIOBytesSinceLastStep: 0)
        #expect(bytes == 1 << 20)
    }

    /// A link that answers `bandwidth` bytes/s after one step of latency: the controller keeps
    /// about fill-target bytes in flight.
    @Test func convergesOnTheFillTarget() {
        var settings = ResyncRateController.Settings.drbdDefaults
        settings.fillTarget = 4 << 20
        settings.maxRate = 1 << 30
        var c = ResyncRateController(settings: settings)
        var inFlight: UInt64 = 0
        var answered: UInt64 = 0
        let perStep: UInt64 = 2 << 20  // 20 MiB/s link
        var now = Duration.zero
        for _ in 0..<200 {
            let ask = c.step(now: now, inFlightBytes: inFlight, bytesAnsweredSinceLastStep: answered,
                             applicationIOBytesSinceLastStep: 0)
            inFlight += ask
            answered = min(inFlight, perStep)
            inFlight -= answered
            now += .milliseconds(100)
        }
        #expect(inFlight > 2 << 20 && inFlight < 8 << 20, "in flight \(inFlight)")
    }

    @Test func maxRateCapsAndApplicationIODropsToMinRate() {
        var settings = ResyncRateController.Settings.drbdDefaults
        settings.fillTarget = 1 << 30
        settings.maxRate = 10 << 20
        settings.minRate = 1 << 20
        var c = ResyncRateController(settings: settings)
        _ = c.step(now: .zero, inFlightBytes: 0, bytesAnsweredSinceLastStep: 0, applicationIOBytesSinceLastStep: 0)
        let capped = c.step(now: .milliseconds(100), inFlightBytes: 0, bytesAnsweredSinceLastStep: 50 << 20,
                            applicationIOBytesSinceLastStep: 0)
        #expect(capped == (10 << 20) / 10)
        let throttled = c.step(now: .milliseconds(200), inFlightBytes: 0, bytesAnsweredSinceLastStep: 50 << 20,
                               applicationIOBytesSinceLastStep: 4096)
        #expect(throttled == (1 << 20) / 10)
        let idle = c.step(now: .milliseconds(300), inFlightBytes: 1 << 40, bytesAnsweredSinceLastStep: 0,
                          applicationIOBytesSinceLastStep: 0)
        #expect(idle == (1 << 20) / 10, "never below min-rate")
    }
}
