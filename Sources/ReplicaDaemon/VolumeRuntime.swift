#if canImport(Glibc)
    import Glibc
#endif
import NBD
import ReplicaStorage
import ReplicaWire
import ReplicationState
import ReplicationTracking

/// One attached volume of a resource on this node: its backing device and metadata, the pure
/// state core (``VolumeReplica``), the out-of-sync bitmap and activity log, the requests in
/// flight, and the NBD export served while the node is Primary.
///
/// Threads: NBD client threads call ``submit(_:reply:)``; the resource's receiver thread calls
/// the `peer…` methods; the resync and verify threads run their loops. All shared state is
/// under `state` (a lock with a condition); disk I/O and sends happen outside it.
final class VolumeRuntime: NBDExport, @unchecked Sendable {
    let number: Int
    let resourceName: String
    let nodeName: String
    let device: BackingDevice
    let store: MetadataStore
    let dataSize: UInt64
    let socketPath: String
    unowned let resource: ResourceRuntime

    let state = Condition()
    // Everything below is guarded by `state`.
    var core: VolumeReplica
    var record: MetadataRecord
    var bitmap: SyncBitmap
    var activityLog: ActivityLog
    var pending: [UInt64: PendingRequest] = [:]
    var nextSequence: UInt64 = 1
    var resyncReads = ActiveRanges()
    var applicationWrites = ActiveRanges()
    var nbdServer: NBDServer?
    var clients = 0
    var counters = Counters()
    var resync: ResyncRun?
    var verify: VerifyRun?
    /// Writes of at least this size run on `writers` (see ``WorkerPool``).
    let largeWrite: UInt32 = 128 << 10
    let writers = WorkerPool(name: "rpl-writer", threads: 4)

    struct Counters {
        var sent: UInt64 = 0
        var received: UInt64 = 0
        var resyncSent: UInt64 = 0
        var resyncReceived: UInt64 = 0
        var applicationBytesSinceStep: UInt64 = 0
    }

    init(resource: ResourceRuntime, number: Int, diskPath: String, socketPath: String) throws(DaemonError) {
        self.resource = resource
        self.number = number
        self.resourceName = resource.name
        self.nodeName = resource.nodeName
        self.socketPath = socketPath
        do {
            device = try BackingDevice(path: diskPath)
            store = try MetadataStore(device: device)
            let loaded = try store.load()
            record = loaded.record
            dataSize = loaded.record.dataSize
            bitmap = try SyncBitmap(dataSize: loaded.record.dataSize, words: loaded.bitmapWords)
            activityLog = ActivityLog(capacity: Int(loaded.record.activityLogExtents),
                                      hotExtents: loaded.activityLogExtents,
                                      transactionNumber: loaded.activityLogTransaction)
        } catch let error as DaemonError {
            throw error
        } catch {
            throw DaemonError("\(resource.name)/\(number): \(error)")
        }
        core = VolumeReplica(metadata: Self.persistedState(from: record), fencing: resource.fencing,
                             policies: resource.splitBrainPolicies)
        if record.flags.contains(.primaryIndicator) {
            // Crashed while Primary: the activity log's extents may differ from the peer.
            for range in activityLog.outOfSyncAfterCrash(dataSize: dataSize) {
                bitmap.markOutOfSync(offset: range.lowerBound, length: range.upperBound - range.lowerBound)
            }
            // The marks must be on disk before the superblock stops saying "crashed Primary":
            // a second crash would otherwise lose them.
            flushBitmapLocked()
            apply(core.crashRecovery())
            resource.log("\(resourceName)/\(number): attached after a crash as Primary: "
                + "\(bitmap.outOfSyncBytes) bytes of the activity log marked out of sync")
        }
        persistLocked()
    }

    // MARK: - Metadata

    static func persistedState(from record: MetadataRecord) -> PersistedState {
        PersistedState(
            generations: GenerationIdentifiers(current: record.current, bitmap: record.bitmapGeneration,
                                               history: record.history),
            consistent: record.flags.contains(.consistent),
            wasUpToDate: record.flags.contains(.wasUpToDate),
            primaryIndicator: record.flags.contains(.primaryIndicator),
            crashedPrimary: record.flags.contains(.crashedPrimary),
            peerOutdated: record.flags.contains(.peerOutdated),
            outdated: record.flags.contains(.outdated), becamePrimaryAt: record.becamePrimaryAt)
    }

    /// Writes the superblock from the core's persisted state (under the lock).
    func persistLocked() {
        let p = core.persisted
        var r = record
        r.current = p.generations.current
        r.bitmapGeneration = p.generations.bitmap
        r.history = p.generations.history
        r.becamePrimaryAt = p.becamePrimaryAt
        var flags: MetadataFlags = []
        if p.consistent { flags.insert(.consistent) }
        if p.wasUpToDate { flags.insert(.wasUpToDate) }
        if p.primaryIndicator { flags.insert(.primaryIndicator) }
        if p.crashedPrimary { flags.insert(.crashedPrimary) }
        if p.peerOutdated { flags.insert(.peerOutdated) }
        if p.outdated { flags.insert(.outdated) }
        if resource.isConnected { flags.insert(.connectedIndicator) }
        r.flags = flags
        guard r != record else { return }
        do {
            try store.writeSuperblock(r)
            record = r
        } catch {
            resource.log("\(resourceName)/\(number): cannot write metadata: \(error)")
        }
    }

    /// Writes the bitmap pages changed since the last call (under the lock).
    func flushBitmapLocked() {
        let pages = bitmap.takeDirtyPages()
        guard !pages.isEmpty else { return }
        do { try store.writeBitmapPages(words: bitmap.words, pages: pages) } catch {
            resource.log("\(resourceName)/\(number): cannot write the bitmap: \(error)")
        }
    }

    /// Carries out the core's directives (under the lock).
    func apply(_ directives: [ReplicaDirective]) {
        for directive in directives {
            switch directive {
            case .persist:
                persistLocked()
            case .startResync(let asSource, let fullSync):
                if fullSync { bitmap.markAllOutOfSync() }
                resource.startResync(volume: self, asSource: asSource)
            case .disconnect(let reason):
                resource.requestDisconnect(reason: "\(resourceName)/\(number): \(reason)")
            case .runHandler(let handler, let reason):
                resource.runHandler(handler, reason: reason)
            case .log(let message):
                resource.log("\(resourceName)/\(number): \(message)")
            case .resumeIO:
                resumeHeldRequestsLocked()
            default:
                break
            }
        }
    }

    // MARK: - NBD export

    var name: String { "\(resourceName)/\(number)" }
    var exportDescription: String { "meridian-replicad volume \(number) of \(resourceName) on \(nodeName)" }
    var size: UInt64 { dataSize }
    var isReadOnly: Bool { false }
    var allowsMultipleConnections: Bool { true }

    func clientOpened() -> NBDError? {
        state.lock()
        defer { state.unlock() }
        guard core.role == .primary else { return .permissionDenied("\(name) is Secondary: only a Primary serves I/O") }
        clients += 1
        return nil
    }

    func clientClosed() {
        state.lock()
        clients -= 1
        state.unlock()
    }

    func submit(_ request: NBDRequest, reply: NBDReply) {
        switch request.kind {
        case .read:
            let buffer = reply.allocateReadBuffer()
            do {
                try device.read(into: buffer.bytes, at: request.offset)
                reply.succeed(data: buffer)
            } catch {
                resource.log("\(name): read of \(request.length) bytes at \(request.offset) failed: \(error)")
                reply.fail(.io)
            }
        case .write where request.length >= largeWrite:
            writers.submit { [self] in write(request, reply: reply) }
        case .write, .trim, .writeZeroes:
            write(request, reply: reply)
        case .flush:
            flush(reply: reply)
        case .cache, .disconnect:
            reply.succeed()
        }
    }

    /// The Primary's write path: activity log, mirror to the peer, local write; answered when
    /// both halves are done (protocol C) or when the local write is done and the data is sent
    /// (protocol A).
    private func write(_ request: NBDRequest, reply: NBDReply) {
        let offset = request.offset
        let length = UInt64(request.length)
        let range = offset..<(offset + length)
        let item = PendingRequest(reply: reply, offset: offset, length: length, isFlush: false,
                                  payload: request.payload)
        var sequence: UInt64 = 0
        var link: PeerLink?
        var writeID: UInt64 = 0

        state.lock()
        waitWhileSuspendedLocked()
        guard core.role == .primary else {
            state.unlock()
            reply.fail(.permissionDenied("not Primary"))
            return
        }
        // Overlapping writes in flight (from several NBD connections or the writer pool) go one
        // after the other, so both nodes apply them in the same order.
        while resyncReads.overlaps(range) || applicationWrites.overlaps(range) { state.wait() }
        beginActivityLogLocked(offset: offset, length: length)
        writeID = applicationWrites.insert(range)
        counters.applicationBytesSinceStep += length
        if let mirror = resource.mirrorLink(for: self) {
            link = mirror
            sequence = nextSequence
            nextSequence += 1
            pending[sequence] = item
        } else {
            bitmap.markOutOfSync(offset: offset, length: length)
            item.peerDone = true
        }
        state.unlock()

        if let link {
            let type: ReplicaPacketType =
                switch request.kind {
                case .trim: .trim
                case .writeZeroes: .writeZeroes
                default: .data
                }
            var flags: ReplicaPacketFlags = request.fua ? [.fua] : []
            if resource.protocolA { flags.insert(.noAck) }
            var prefix = ReplicaRange(offset: offset, length: request.length).encoded
            let sent: Bool
            if type == .data, let payload = request.payload {
                let header = ReplicaHeader(type: type, volume: UInt16(number),
                                           bodyLength: UInt32(ReplicaWire.dataPrefixSize) + request.length,
                                           sequence: sequence, flags: flags)
                sent = prefix.withUnsafeMutableBytes { p in
                    (try? link.socket.send(header, UnsafeRawBufferPointer(p),
                                           UnsafeRawBufferPointer(payload.bytes))) != nil
                }
            } else {
                let header = ReplicaHeader(type: type, volume: UInt16(number), sequence: sequence, flags: flags)
                sent = (try? link.socket.send(header, body: prefix)) != nil
            }
            if !sent {
                link.fail("send failed")
            } else if resource.protocolA {
                peerHalfDone(sequence: sequence, failed: false)
            }
        }

        // The local half.
        var failure: NBDError?
        do {
            switch request.kind {
            case .trim: try device.discard(offset: offset, length: length)
            case .writeZeroes: try device.writeZeroes(offset: offset, length: length)
            default:
                if let payload = request.payload { try device.write(UnsafeRawBufferPointer(payload.bytes), at: offset) }
            }
            if request.fua { try device.flush() }
        } catch {
            resource.log("\(name): local write of \(length) bytes at \(offset) failed: \(error)")
            failure = .io
        }

        state.lock()
        item.localDone = true
        item.localError = failure
        applicationWrites.remove(writeID)
        let complete = finishIfCompleteLocked(item, sequence: link == nil ? nil : sequence)
        state.broadcast()
        state.unlock()
        if complete { item.answer() }
    }

    /// Takes the activity-log references for a write, persisting a transaction first when the
    /// write touches a cold extent (under the lock; may wait for busy extents).
    private func beginActivityLogLocked(offset: UInt64, length: UInt64) {
        while true {
            switch activityLog.beginWrite(offset: offset, length: length) {
            case .hot:
                return
            case .transaction(let transaction):
                // Bits of evicted extents must be on disk before the extent leaves the log.
                if !transaction.evicted.isEmpty { flushBitmapLocked() }
                do {
                    try store.appendActivityLogTransaction(hotExtents: transaction.hotExtents,
                                                           number: transaction.number)
                } catch {
                    resource.log("\(name): cannot write the activity log: \(error)")
                }
                return
            case .mustWait:
                state.wait()
            }
        }
    }

    /// Removes a completed request and releases its activity-log references. Returns whether
    /// the caller must answer it (outside the lock).
    private func finishIfCompleteLocked(_ item: PendingRequest, sequence: UInt64?) -> Bool {
        guard item.isComplete, !item.answered else { return false }
        item.answered = true
        if let sequence { pending[sequence] = nil }
        if !item.isFlush {
            activityLog.endWrite(offset: item.offset, length: item.length)
            // Either side failed: the two disks may differ there (DRBD marks these too).
            if item.peerFailed || item.localError != nil {
                bitmap.markOutOfSync(offset: item.offset, length: item.length)
            }
        }
        state.broadcast()
        return true
    }

    /// The peer's half of a request is done (its ack arrived, or protocol A sent it).
    func peerHalfDone(sequence: UInt64, failed: Bool) {
        state.lock()
        guard let item = pending[sequence], !item.peerDone else {
            state.unlock()
            return
        }
        item.peerDone = true
        item.peerFailed = failed
        if !failed, !item.isFlush, !resource.protocolA, replicationIsResync {
            // A mirrored write the peer confirmed covers those blocks on both sides.
            bitmap.markInSync(offset: item.offset, length: item.length)
        }
        let complete = finishIfCompleteLocked(item, sequence: sequence)
        state.unlock()
        if complete { item.answer() }
    }

    private var replicationIsResync: Bool { core.replication == .syncSource || core.replication == .syncTarget }

    /// FLUSH: everything completed before must be on stable storage on both nodes.
    private func flush(reply: NBDReply) {
        let item = PendingRequest(reply: reply, offset: 0, length: 0, isFlush: true, payload: nil)
        var link: PeerLink?
        var sequence: UInt64 = 0
        state.lock()
        waitWhileSuspendedLocked()
        if let mirror = resource.mirrorLink(for: self) {
            link = mirror
            sequence = nextSequence
            nextSequence += 1
            pending[sequence] = item
        } else {
            item.peerDone = true
        }
        state.unlock()
        if let link {
            let header = ReplicaHeader(type: .barrier, volume: UInt16(number), sequence: sequence)
            if (try? link.socket.send(header)) == nil { link.fail("send failed") }
        }
        var failure: NBDError?
        do { try device.flush() } catch {
            resource.log("\(name): flush failed: \(error)")
            failure = .io
        }
        state.lock()
        item.localDone = true
        item.localError = failure
        let complete = finishIfCompleteLocked(item, sequence: link == nil ? nil : sequence)
        state.unlock()
        if complete { item.answer() }
    }

    /// The link is gone: every request still waiting for the peer completes on the local half
    /// alone, and its blocks are marked out of sync (DRBD does the same). With `fencing
    /// resource-and-stonith` on a Primary, I/O is suspended instead: those requests are held,
    /// unanswered, until fencing resolves (``resumeHeldRequestsLocked()``).
    func linkLost() {
        var answers: [PendingRequest] = []
        state.lock()
        resync = nil
        verify = nil
        apply(core.connectionLost())
        for (sequence, item) in pending where !item.peerDone {
            if core.ioSuspended {
                item.heldForFencing = true
                // Marked now: a reconnect's handshake must already see these blocks as changed.
                if !item.isFlush { bitmap.markOutOfSync(offset: item.offset, length: item.length) }
                continue
            }
            item.peerDone = true
            item.peerFailed = !item.isFlush
            if finishIfCompleteLocked(item, sequence: sequence) { answers.append(item) }
        }
        flushBitmapLocked()
        persistLocked()
        state.broadcast()
        state.unlock()
        for item in answers { item.answer() }
    }

    /// I/O suspended for fencing: an application request waits here, before it touches anything.
    private func waitWhileSuspendedLocked() {
        while core.ioSuspended && core.role == .primary { state.wait() }
    }

    /// I/O resumes after a suspension for fencing: the held requests complete as if the link
    /// had dropped without fencing (local half only, blocks out of sync), and waiting writes go
    /// on. Called under the lock; the replies go out from another thread.
    private func resumeHeldRequestsLocked() {
        var answers: [PendingRequest] = []
        for (sequence, item) in pending where item.heldForFencing && !item.peerDone {
            item.heldForFencing = false
            item.peerDone = true
            item.peerFailed = !item.isFlush
            if finishIfCompleteLocked(item, sequence: sequence) { answers.append(item) }
        }
        flushBitmapLocked()
        state.broadcast()
        if !answers.isEmpty {
            let held = answers
            startThread(name: "rpl-resume") { for item in held { item.answer() } }
        }
    }

    /// The fence-peer handler exited (or could not run: `exitCode` nil).
    func fencePeerFinished(exitCode: Int32?) {
        state.lock()
        apply(core.fencePeerResult(exitCode: exitCode ?? -1))
        state.unlock()
    }

    /// `resume-io`.
    func resumeIO() {
        state.lock()
        apply(core.resumeIO())
        state.unlock()
    }

    // MARK: - Receiving side (Secondary)

    /// Applies a mirrored write from the Primary and acknowledges it (protocol C).
    func peerWrite(header: ReplicaHeader, range: ReplicaRange, payload: NBDBuffer?, link: PeerLink) {
        var failed = false
        do {
            switch header.type {
            case .trim: try device.discard(offset: range.offset, length: UInt64(range.length))
            case .writeZeroes: try device.writeZeroes(offset: range.offset, length: UInt64(range.length))
            default:
                if let payload { try device.write(UnsafeRawBufferPointer(payload.bytes), at: range.offset) }
            }
            if header.flags.contains(.fua) { try device.flush() }
        } catch {
            resource.log("\(name): mirrored write of \(range.length) bytes at \(range.offset) failed: \(error)")
            failed = true
        }
        state.lock()
        counters.received += UInt64(range.length)
        // The Primary's application writes reach this disk too: a SyncTarget's controller steps
        // aside for them (DRBD's c-min-rate looks at all non-resync I/O on the backing device).
        counters.applicationBytesSinceStep += UInt64(range.length)
        if !failed, replicationIsResync {
            bitmap.markInSync(offset: range.offset, length: UInt64(range.length))
        } else if failed {
            bitmap.markOutOfSync(offset: range.offset, length: UInt64(range.length))
        }
        state.unlock()
        guard !header.flags.contains(.noAck) else { return }
        let ack = ReplicaHeader(type: failed ? .writeError : .writeAck, volume: UInt16(number),
                                sequence: header.sequence)
        if (try? link.socket.send(ack)) == nil { link.fail("send failed") }
    }

    /// A barrier from the Primary: flush, then acknowledge.
    func peerBarrier(header: ReplicaHeader, link: PeerLink) {
        let failed = (try? device.flush()) == nil
        let ack = ReplicaHeader(type: failed ? .writeError : .barrierAck, volume: UInt16(number),
                                sequence: header.sequence)
        if (try? link.socket.send(ack)) == nil { link.fail("send failed") }
    }

    // MARK: - Status

    func status() -> VolumeSnapshot {
        state.lock()
        defer { state.unlock() }
        return VolumeSnapshot(
            volume: number, sizeBytes: dataSize, role: core.role, disk: core.disk, peerDisk: core.peerDisk,
            replication: core.replication, outOfSyncBytes: bitmap.outOfSyncBytes,
            resync: resync?.progress(outOfSyncBytes: bitmap.outOfSyncBytes),
            verify: verify?.snapshot(dataSize: dataSize), nbdSocket: nbdServer == nil ? nil : socketPath,
            generations: core.generations, counters: counters, clients: clients, suspended: core.ioSuspended)
    }
}

/// What `status` reports of a volume, taken under its lock.
struct VolumeSnapshot: Sendable {
    var volume: Int
    var sizeBytes: UInt64
    var role: Role
    var disk: DiskState
    var peerDisk: DiskState
    var replication: ReplicationMode
    var outOfSyncBytes: UInt64
    var resync: ResyncSnapshot?
    var verify: VerifySnapshot?
    var nbdSocket: String?
    var generations: GenerationIdentifiers
    var counters: VolumeRuntime.Counters
    var clients: Int
    var suspended: Bool
}
