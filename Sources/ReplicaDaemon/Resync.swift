#if canImport(Glibc)
    import Glibc
#endif
import Crypto
import NBD
import ReplicaWire
import ReplicationTracking

/// Largest range one resync request or one verify request covers.
let resyncChunk: UInt64 = 1 << 20
let verifyChunk: UInt64 = 256 << 10

/// A resync in progress on one volume (either side). The SyncTarget drives it: it asks for
/// out-of-sync ranges at the pace of the rate controller; the SyncSource answers.
struct ResyncRun {
    var asSource: Bool
    var controller: ResyncRateController
    var started: ContinuousClock.Instant
    var totalBytes: UInt64
    var cursor = 0
    var inFlightBytes: UInt64 = 0
    var answeredSinceStep: UInt64 = 0
    var doneBytes: UInt64 = 0
    /// Bytes written in the last few seconds, for the rate shown in status.
    var window: [(ContinuousClock.Instant, UInt64)] = []

    func progress(outOfSyncBytes: UInt64) -> ResyncSnapshot {
        let total = max(totalBytes, 1)
        let remaining = outOfSyncBytes
        let done = total > remaining ? Double(total - remaining) / Double(total) * 100 : 0
        var rate: UInt64 = 0
        if let first = window.first, let last = window.last, last.0 > first.0 {
            let seconds = Double((last.0 - first.0).components.attoseconds) / 1e18
                + Double((last.0 - first.0).components.seconds)
            let bytes = window.dropFirst().reduce(UInt64(0)) { $0 + $1.1 }
            rate = seconds > 0 ? UInt64(Double(bytes) / seconds) : 0
        }
        let eta: Double? = rate > 0 ? Double(remaining) / Double(rate) : nil
        return ResyncSnapshot(asSource: asSource, percentDone: done, rateBytesPerSecond: rate,
                              remainingBytes: remaining, etaSeconds: eta)
    }

    mutating func record(_ bytes: UInt64, at now: ContinuousClock.Instant) {
        doneBytes += bytes
        answeredSinceStep += bytes
        window.append((now, bytes))
        while let first = window.first, now - first.0 > .seconds(3) { window.removeFirst() }
    }
}

struct ResyncSnapshot: Sendable {
    var asSource: Bool
    var percentDone: Double
    var rateBytesPerSecond: UInt64
    var remainingBytes: UInt64
    var etaSeconds: Double?
}

/// An online verify in progress (VerifyS side drives it).
struct VerifyRun {
    var asSource: Bool
    var cursor: UInt64 = 0
    var outOfSyncFound: UInt64 = 0
    var inFlight = 0
    var finished = false
    /// The hash the chunks are compared with (on the VerifyT: the one the requests carry).
    var algorithm: VerifyAlgorithm?
    /// Progress by the position of the last chunk hashed (VerifyS) or compared (VerifyT).
    func snapshot(dataSize: UInt64) -> VerifySnapshot {
        let done = finished ? 100 : dataSize == 0 ? 0 : min(100, Double(cursor) / Double(dataSize) * 100)
        return VerifySnapshot(percentDone: done, outOfSyncFoundBytes: outOfSyncFound, running: !finished)
    }
}

/// `verify-alg`: the hash online verify compares chunks with (default sha256). The VerifyT
/// hashes with the algorithm of the request, known from the digest length, so two nodes with
/// different settings still compare like with like.
enum VerifyAlgorithm: String, Sendable, CaseIterable {
    case sha1, sha256, sha512

    var digestLength: Int {
        switch self {
        case .sha1: 20
        case .sha256: 32
        case .sha512: 64
        }
    }

    init?(digestLength: Int) {
        guard let match = Self.allCases.first(where: { $0.digestLength == digestLength }) else { return nil }
        self = match
    }
}

struct VerifySnapshot: Sendable {
    var percentDone: Double
    var outOfSyncFoundBytes: UInt64
    var running: Bool
}

extension VolumeRuntime {
    // MARK: - SyncTarget

    /// `adjust`: a running resync as SyncTarget continues under the new controller options.
    func adjustResync(_ settings: ResyncRateController.Settings) {
        state.lock()
        if var run = resync, !run.asSource, run.controller.settings != settings {
            run.controller = ResyncRateController(settings: settings)
            resync = run
        }
        state.unlock()
    }

    /// The SyncTarget's loop: every 100 ms ask the controller how much to request, then send
    /// requests for the next out-of-sync runs. Ends when no block is out of sync and nothing
    /// is in flight, or when the link or the run goes away.
    ///
    /// Arriving data wakes the loop early, so the end is noticed at once; the controller still
    /// runs once per step only (a step per wake-up would request at least a block each time and
    /// overrun the configured rate, and would shorten c-plan-ahead's horizon).
    func runResyncTarget(link: PeerLink) {
        let step = ResyncRateController.stepLength
        var nextStep = ContinuousClock.now
        while true {
            state.lock()
            guard var run = resync, !run.asSource, link.isAlive else {
                state.unlock()
                return
            }
            if bitmap.outOfSyncBlocks == 0 && run.inFlightBytes == 0 {
                resync = nil
                apply(core.resyncFinished())
                flushBitmapLocked()
                persistLocked()
                state.unlock()
                resource.log("\(name): resync finished (\(run.doneBytes) bytes received)")
                if (try? link.socket.send(ReplicaHeader(type: .resyncFinished, volume: UInt16(number)))) == nil {
                    link.fail("send failed")
                }
                return
            }
            let now = ContinuousClock.now
            guard now >= nextStep else {
                _ = state.wait(timeout: nextStep - now)
                state.unlock()
                continue
            }
            nextStep = now + step
            let elapsed = now - run.started
            let appIO = counters.applicationBytesSinceStep
            counters.applicationBytesSinceStep = 0
            var budget = run.controller.step(now: elapsed, inFlightBytes: run.inFlightBytes,
                                             bytesAnsweredSinceLastStep: run.answeredSinceStep,
                                             applicationIOBytesSinceLastStep: appIO)
            run.answeredSinceStep = 0
            var requests: [ReplicaRange] = []
            while budget > 0 {
                if run.cursor >= bitmap.blockCount {
                    // Wrapped: start over only when nothing is in flight (those blocks may
                    // still be waiting for their data).
                    guard run.inFlightBytes == 0, requests.isEmpty else { break }
                    run.cursor = 0
                }
                let runs = bitmap.runs(from: run.cursor, maxBytes: min(budget, resyncChunk))
                guard let first = runs.first else {
                    run.cursor = bitmap.blockCount
                    break
                }
                let offset = UInt64(first.lowerBound) * SyncBitmap.blockSize
                var length = UInt64(first.count) * SyncBitmap.blockSize
                length = min(length, dataSize - offset)
                requests.append(ReplicaRange(offset: offset, length: UInt32(length)))
                run.cursor = first.upperBound
                run.inFlightBytes += length
                budget = budget > length ? budget - length : 0
            }
            resync = run
            state.unlock()
            for request in requests {
                let header = ReplicaHeader(type: .resyncRequest, volume: UInt16(number))
                if (try? link.socket.send(header, body: request.encoded)) == nil {
                    link.fail("send failed")
                    return
                }
            }
            state.lock()
            _ = state.wait(timeout: max(.zero, nextStep - ContinuousClock.now))
            state.unlock()
        }
    }

    /// Resync data arrived on the SyncTarget: write it, mark it in sync, tell the source.
    func resyncDataArrived(range: ReplicaRange, payload: NBDBuffer, link: PeerLink) {
        var failed = false
        do { try device.write(UnsafeRawBufferPointer(payload.bytes), at: range.offset) } catch {
            resource.log("\(name): resync write at \(range.offset) failed: \(error)")
            failed = true
        }
        state.lock()
        if !failed { bitmap.markInSync(offset: range.offset, length: UInt64(range.length)) }
        counters.resyncReceived += UInt64(range.length)
        if var run = resync {
            run.inFlightBytes -= min(run.inFlightBytes, UInt64(range.length))
            run.record(UInt64(range.length), at: .now)
            resync = run
        }
        state.broadcast()
        state.unlock()
        guard !failed else { return }
        let header = ReplicaHeader(type: .resyncWritten, volume: UInt16(number))
        if (try? link.socket.send(header, body: range.encoded)) == nil { link.fail("send failed") }
    }

    // MARK: - SyncSource

    /// Answers one resync request: reads the range (after overlapping application writes
    /// finished locally, and holding off new ones until the data is sent) and sends it.
    func answerResyncRequest(range: ReplicaRange, link: PeerLink, buffer: NBDBuffer) {
        let bytes = range.offset..<(range.offset + UInt64(range.length))
        state.lock()
        while applicationWrites.overlaps(bytes) { state.wait() }
        let id = resyncReads.insert(bytes)
        state.unlock()
        defer {
            state.lock()
            resyncReads.remove(id)
            state.broadcast()
            state.unlock()
        }
        buffer.count = Int(range.length)
        do { try device.read(into: buffer.bytes, at: range.offset) } catch {
            resource.log("\(name): resync read at \(range.offset) failed: \(error)")
            link.fail("local read error during resync")
            return
        }
        var prefix = range.encoded
        let header = ReplicaHeader(type: .resyncData, volume: UInt16(number),
                                   bodyLength: UInt32(ReplicaWire.dataPrefixSize) + range.length)
        let sent = prefix.withUnsafeMutableBytes { p in
            (try? link.socket.send(header, UnsafeRawBufferPointer(p), UnsafeRawBufferPointer(buffer.bytes))) != nil
        }
        if !sent { link.fail("send failed") }
        state.lock()
        counters.resyncSent += UInt64(range.length)
        state.unlock()
    }

    /// The SyncTarget wrote a range.
    func resyncWritten(range: ReplicaRange) {
        state.lock()
        bitmap.markInSync(offset: range.offset, length: UInt64(range.length))
        if var run = resync {
            run.record(UInt64(range.length), at: .now)
            resync = run
        }
        state.unlock()
    }

    /// The SyncTarget reports it is done.
    func resyncFinishedByPeer() {
        state.lock()
        let had = resync != nil
        resync = nil
        if had {
            bitmap.clearAll()
            apply(core.resyncFinished())
            flushBitmapLocked()
            persistLocked()
        }
        state.unlock()
        if had { resource.log("\(name): resync finished as SyncSource") }
    }

    // MARK: - Online verify

    static func hash(_ bytes: UnsafeMutableRawBufferPointer, _ algorithm: VerifyAlgorithm) -> [UInt8] {
        let data = UnsafeRawBufferPointer(bytes)
        switch algorithm {
        case .sha1: return Array(Insecure.SHA1.hash(data: data))
        case .sha256: return Array(SHA256.hash(data: data))
        case .sha512: return Array(SHA512.hash(data: data))
        }
    }

    /// VerifyS: hash every chunk and ask the peer to compare. The peer marks mismatches; so do
    /// we when the answers come back.
    func runVerifySource(link: PeerLink) {
        let buffer = NBDBuffer(capacity: Int(verifyChunk))
        resource.log("\(name): online verify starts (verify-alg \(resource.settings.verifyAlgorithm.rawValue), "
            + "\(verifyChunk >> 10) KiB chunks)")
        var offset: UInt64 = 0
        while offset < dataSize, link.isAlive {
            let length = min(verifyChunk, dataSize - offset)
            buffer.count = Int(length)
            guard (try? device.read(into: buffer.bytes, at: offset)) != nil else {
                resource.log("\(name): verify read at \(offset) failed")
                break
            }
            let body = ReplicaRange(offset: offset, length: UInt32(length)).encoded
                + Self.hash(buffer.bytes, resource.settings.verifyAlgorithm)
            if (try? link.socket.send(ReplicaHeader(type: .verifyRequest, volume: UInt16(number)), body: body)) == nil {
                link.fail("send failed")
                return
            }
            state.lock()
            verify?.cursor = offset + length
            verify?.inFlight += 1
            while let run = verify, run.inFlight > 8, link.isAlive { _ = state.wait(timeout: .milliseconds(100)) }
            state.unlock()
            offset += length
        }
        state.lock()
        while let run = verify, run.inFlight > 0, link.isAlive { _ = state.wait(timeout: .milliseconds(100)) }
        verify?.finished = true
        let found = verify?.outOfSyncFound ?? 0
        apply(core.verifyFinished(outOfSyncBlocks: Int(found / SyncBitmap.blockSize)))
        flushBitmapLocked()
        state.unlock()
        _ = try? link.socket.send(ReplicaHeader(type: .verifyFinished, volume: UInt16(number)))
        resource.log("\(name): online verify done: \(found) bytes out of sync"
            + (found > 0 ? " (marked; disconnect and connect to resync them)" : ""))
    }

    /// VerifyT: compare the peer's hash with ours and answer.
    func answerVerifyRequest(range: ReplicaRange, peerHash: [UInt8], algorithm: VerifyAlgorithm, link: PeerLink,
                             buffer: NBDBuffer) {
        buffer.count = Int(range.length)
        let equal: Bool
        if (try? device.read(into: buffer.bytes, at: range.offset)) != nil {
            equal = Self.hash(buffer.bytes, algorithm) == peerHash
        } else {
            equal = false
        }
        state.lock()
        if verify == nil { verify = VerifyRun(asSource: false) }
        verify?.algorithm = algorithm
        verify?.cursor = range.offset + UInt64(range.length)
        if !equal {
            bitmap.markOutOfSync(offset: range.offset, length: UInt64(range.length))
            verify?.outOfSyncFound += UInt64(range.length)
        }
        state.unlock()
        let body = range.encoded + [equal ? 1 : 0]
        if (try? link.socket.send(ReplicaHeader(type: .verifyResult, volume: UInt16(number)), body: body)) == nil {
            link.fail("send failed")
        }
    }

    func verifyResultArrived(range: ReplicaRange, equal: Bool) {
        state.lock()
        if !equal {
            bitmap.markOutOfSync(offset: range.offset, length: UInt64(range.length))
            verify?.outOfSyncFound += UInt64(range.length)
        }
        verify?.inFlight -= 1
        state.broadcast()
        state.unlock()
    }

    func verifyFinishedByPeer() {
        state.lock()
        verify?.finished = true
        let found = verify?.outOfSyncFound ?? 0
        let algorithm = verify?.algorithm?.rawValue ?? "no chunks"
        apply(core.verifyFinished(outOfSyncBlocks: Int(found / SyncBitmap.blockSize)))
        flushBitmapLocked()
        state.unlock()
        resource.log("\(name): online verify (as VerifyT, \(algorithm)) done: "
            + "\(found) bytes out of sync")
    }
}
