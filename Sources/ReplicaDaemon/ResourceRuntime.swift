#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import NBD
import ReplicaStorage
import ReplicaWire
import ReplicationState
import ReplicationTracking

/// What the daemon needs of one resource from the configuration, resolved for this node.
struct ResourceSettings: Sendable {
    var name: String
    var nodeName: String
    var nodeID: Int
    var address: PeerAddress
    var peerName: String
    var peerNodeID: Int
    var peerAddress: PeerAddress
    var protocolA: Bool
    var hmac: ReplicaAuth.Algorithm?
    var secret: String
    var connectInterval: Duration
    var pingInterval: Duration
    var timeout: Duration
    var fencing: FencingPolicy
    var verifyAlgorithm: VerifyAlgorithm
    var policies: SplitBrainPolicies
    var controller: ResyncRateController.Settings
    var handlers: [String: String]
    var volumes: [(number: Int, disk: String)]
    var activityLogExtents: Int
}

/// A user-facing failure of a daemon operation (refused state change, bad request).
struct DaemonError: Error, CustomStringConvertible {
    var description: String
    var fix: String?
    var code = "refused"
    init(_ description: String, fix: String? = nil, code: String = "refused") {
        self.description = description
        self.fix = fix
        self.code = code
    }
}

/// One resource on this node: its volumes (when up), the link to the peer, and the threads
/// that connect, receive, resync and ping.
final class ResourceRuntime: @unchecked Sendable {
    let settings: ResourceSettings
    let runDirectory: String
    let logger: @Sendable (String) -> Void
    /// Guards `volumes`, `link`, `wantConnection`, `roleRequest`; never held during I/O.
    let lock = Condition()
    private(set) var volumes: [VolumeRuntime] = []
    private var link: PeerLink?
    private var wantConnection = false
    private var listener: Int32 = -1
    private var generation = 0
    private var peerRoleRequestPending = false
    private var roleAnswer: (granted: Bool, reason: String)?
    private var awaitingRoleAnswer = false
    /// True while the per-volume handshake runs: a resync decided then starts with the link;
    /// one decided later (forced promotion, invalidate) renegotiates the connection.
    private var handshaking = false
    /// What `adjust` may change while the resource runs (DRBD's disk options and handlers),
    /// under `adjustLock` (a leaf lock: nothing else is taken while it is held).
    private let adjustLock = NSLock()
    private var adjustableController: ResyncRateController.Settings
    private var adjustableHandlers: [String: String]
    var controllerSettings: ResyncRateController.Settings { adjustLock.withLock { adjustableController } }
    func handlerCommand(_ handler: ReplicaHandler) -> String? { adjustLock.withLock { adjustableHandlers[handler.rawValue] } }

    var name: String { settings.name }
    var nodeName: String { settings.nodeName }
    var fencing: FencingPolicy { settings.fencing }
    var splitBrainPolicies: SplitBrainPolicies { settings.policies }
    var protocolA: Bool { settings.protocolA }

    init(settings: ResourceSettings, runDirectory: String, logger: @escaping @Sendable (String) -> Void) {
        self.settings = settings
        adjustableController = settings.controller
        adjustableHandlers = settings.handlers
        self.runDirectory = runDirectory
        self.logger = logger
    }

    func log(_ message: String) { logger(message) }

    var isUp: Bool { lock.lock(); defer { lock.unlock() }; return !volumes.isEmpty }
    /// The attached volumes now, for work done off the lock.
    private var currentVolumes: [VolumeRuntime] { lock.lock(); defer { lock.unlock() }; return volumes }
    var isConnected: Bool { lock.lock(); defer { lock.unlock() }; return link != nil }

    func socketPath(volume: Int) -> String { "\(runDirectory)/\(settings.name).\(volume).\(settings.nodeName).nbd" }

    // MARK: - Administrative operations (called by the control handler)

    /// `create-md`: writes fresh metadata on every volume's backing device.
    func createMetadata(force: Bool) throws(DaemonError) -> String {
        guard !isUp else {
            throw DaemonError("\(name) is up: its metadata is in use", fix: "run `meridian volume down \(name)` first")
        }
        var lines: [String] = []
        for volume in settings.volumes {
            do {
                let device = try BackingDevice(path: volume.disk)
                let store = try MetadataStore(device: device)
                let record = try store.create(nodeID: settings.nodeID, peerNodeID: settings.peerNodeID,
                                              activityLogExtents: settings.activityLogExtents, force: force)
                lines.append("\(name)/\(volume.number): metadata created on \(volume.disk): "
                    + "\(record.dataSize) bytes of data")
            } catch {
                throw DaemonError("\(name)/\(volume.number): \(error)",
                                  fix: force ? nil : "to overwrite existing metadata: create-md --force")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// `up`: attach every volume (Secondary) and start connecting.
    func up() throws(DaemonError) {
        guard !isUp else { return }
        var attached: [VolumeRuntime] = []
        for volume in settings.volumes {
            do {
                attached.append(try VolumeRuntime(resource: self, number: volume.number, diskPath: volume.disk,
                                                  socketPath: socketPath(volume: volume.number)))
            } catch {
                throw DaemonError(error.description,
                                  fix: "check the disk path in the configuration; fresh disks need "
                                      + "`meridian volume create-md \(name)`")
            }
        }
        let fd: Int32
        do { fd = try PeerSocket.listen(on: settings.address) } catch {
            throw DaemonError("\(name): \(error)",
                              fix: "the `address` of `on \(nodeName)` must be an address of this host and its port free")
        }
        lock.lock()
        volumes = attached
        listener = fd
        wantConnection = true
        generation += 1
        let current = generation
        lock.unlock()
        log("\(name): up (\(attached.count) volume(s)), listening on \(settings.address)")
        startThread(name: "rpl-accept") { [self] in acceptLoop(fd: fd, generation: current) }
        if settings.nodeID < settings.peerNodeID {
            startThread(name: "rpl-connect") { [self] in connectLoop(generation: current) }
        }
        startThread(name: "rpl-ping") { [self] in pingLoop(generation: current) }
    }

    /// `down`: demote (refused while clients use the device), disconnect, detach.
    func down() throws(DaemonError) {
        guard isUp else { return }
        try secondary()
        disconnect()
        lock.lock()
        let detached = volumes
        volumes = []
        generation += 1
        if listener >= 0 {
            Glibc.shutdown(listener, Int32(SHUT_RDWR))
            Glibc.close(listener)
            listener = -1
        }
        lock.unlock()
        for volume in detached {
            volume.state.lock()
            volume.flushBitmapLocked()
            volume.persistLocked()
            volume.state.unlock()
        }
        log("\(name): down")
    }

    /// `connect`: (re)start connecting after `disconnect`.
    func connect() throws(DaemonError) {
        guard isUp else { throw DaemonError("\(name) is down", fix: "run `meridian volume up \(name)`") }
        lock.lock()
        let start = !wantConnection
        wantConnection = true
        let current = generation
        lock.unlock()
        for volume in volumes {
            volume.state.lock()
            volume.apply(volume.core.connecting())
            volume.state.unlock()
        }
        if start, settings.nodeID < settings.peerNodeID {
            startThread(name: "rpl-connect") { [self] in connectLoop(generation: current) }
        }
    }

    /// `disconnect`: drop the link and stay StandAlone.
    func disconnect() {
        lock.lock()
        wantConnection = false
        let current = link
        lock.unlock()
        current?.fail("disconnected by the administrator")
    }

    /// `primary [--force]`. While connected, the peer is asked first so two nodes never become
    /// Primary at once (it refuses when it is Primary or promoting with a lower node id).
    func primary(force: Bool) throws(DaemonError) {
        guard isUp else { throw DaemonError("\(name) is down", fix: "run `meridian volume up \(name)`") }
        if let link = currentLink() {
            try askPeerForPromotion(link: link)
        }
        /// Promotes every volume or none: the promoted volumes, or the first refusal.
        func attempt() -> Result<[VolumeRuntime], VolumeRefusal> {
            var promoted: [VolumeRuntime] = []
            for volume in volumes {
                volume.state.lock()
                let result = volume.core.promote(force: force, now: UInt64(Date().timeIntervalSince1970 * 1000))
                switch result {
                case .success(let directives):
                    volume.apply(directives)
                    volume.persistLocked()
                    volume.state.unlock()
                    promoted.append(volume)
                case .failure(let refusal):
                    volume.state.unlock()
                    for done in promoted {
                        done.state.lock()
                        _ = done.core.demote()
                        done.persistLocked()
                        done.state.unlock()
                    }
                    return .failure(VolumeRefusal(volume: volume.number, refusal: refusal))
                }
            }
            return .success(promoted)
        }
        var outcome = attempt()
        if case .failure(let first) = outcome, first.refusal.needsPeerFenced {
            // As DRBD: the peer must be outdated before this node may become Primary alone.
            reportFencePeer(exitCode: runHandlerAndWait(.fencePeer, reason: "promotion while the peer is not reachable"))
            outcome = attempt()
        }
        let promoted: [VolumeRuntime]
        switch outcome {
        case .success(let volumes):
            promoted = volumes
        case .failure(let failed):
            sendState()
            let fix = failed.refusal.needsPeerFenced
                ? "the fence-peer handler did not report the peer outdated (see the log); when the peer is down or "
                    + "cannot promote: `meridian volume outdate \(name)` on the peer, or `primary --force` here"
                : force ? nil : "promote only a node with UpToDate data; for the first promotion "
                    + "of fresh volumes: `meridian volume primary --force \(name)`"
            throw DaemonError("\(name)/\(failed.volume): \(failed.refusal.message)", fix: fix)
        }
        for volume in promoted {
            let server = NBDServer(socketPath: volume.socketPath, export: volume, log: logger)
            do { try server.start() } catch {
                log("\(volume.name): cannot serve NBD on \(volume.socketPath): \(error)")
                continue
            }
            volume.state.lock()
            volume.nbdServer = server
            volume.state.unlock()
        }
        sendState()
        log("\(name): Primary\(force ? " (forced)" : "")")
        if force { renegotiate("a forced promotion changed the data generation") }
    }

    /// Reconnects so the handshake compares the new generation identifiers and starts the
    /// resync on both sides (after `primary --force` or `invalidate` while connected).
    func renegotiate(_ reason: String) {
        guard let current = currentLink() else { return }
        log("\(name): renegotiating the connection: \(reason)")
        current.fail("renegotiating: \(reason)")
    }

    /// `secondary`: refused while an NBD client has the device open (as DRBD refuses while the
    /// device is held open).
    func secondary() throws(DaemonError) {
        for volume in volumes {
            volume.state.lock()
            let clients = volume.clients
            volume.state.unlock()
            guard clients == 0 else {
                throw DaemonError("\(volume.name): device is held open by \(clients) NBD client(s)",
                                  fix: "unmount / disconnect the consumers of \(volume.socketPath) first")
            }
        }
        for volume in volumes {
            volume.state.lock()
            let server = volume.nbdServer
            volume.nbdServer = nil
            volume.state.unlock()
            server?.stop()
            volume.state.lock()
            while !volume.pending.isEmpty { volume.state.wait() }
            if volume.core.role == .primary {
                if case .success(let directives) = volume.core.demote() { volume.apply(directives) }
                volume.flushBitmapLocked()
                volume.persistLocked()
            }
            volume.state.unlock()
        }
        sendState()
    }

    func invalidate() throws(DaemonError) {
        guard isUp else { throw DaemonError("\(name) is down", fix: "run `meridian volume up \(name)`") }
        for volume in volumes {
            volume.state.lock()
            switch volume.core.invalidate() {
            case .success(let directives):
                volume.bitmap.markAllOutOfSync()
                volume.apply(directives)
                volume.flushBitmapLocked()
                volume.persistLocked()
                volume.state.unlock()
            case .failure(let refusal):
                volume.state.unlock()
                throw DaemonError("\(volume.name): \(refusal.message)")
            }
        }
        renegotiate("invalidated: a full sync from the peer is needed")
    }

    /// `verify`: this node hashes, the peer compares.
    func verify(wait: Bool) throws(DaemonError) {
        guard let link = currentLink() else {
            throw DaemonError("\(name) is not connected: online verify needs the peer",
                              fix: "run `meridian volume connect \(name)` on both nodes")
        }
        for volume in volumes {
            volume.state.lock()
            guard volume.core.replication == .established else {
                let mode = volume.core.replication
                volume.state.unlock()
                throw DaemonError("\(volume.name) is \(mode.rawValue): verify needs an established connection")
            }
            volume.verify = VerifyRun(asSource: true)
            volume.state.unlock()
            if wait {
                volume.runVerifySource(link: link)
            } else {
                startThread(name: "rpl-verify") { volume.runVerifySource(link: link) }
            }
        }
    }

    // MARK: - Connection management

    private func currentLink() -> PeerLink? {
        lock.lock()
        defer { lock.unlock() }
        return link
    }

    /// The link a Primary mirrors a write over, or nil when the peer cannot take it.
    func mirrorLink(for volume: VolumeRuntime) -> PeerLink? {
        guard volume.core.replication != .off, volume.core.peerDisk != .diskless else { return nil }
        lock.lock()
        defer { lock.unlock() }
        return link
    }

    private func stillWanted(_ current: Int) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return generation == current && wantConnection
    }

    private func connectLoop(generation current: Int) {
        while true {
            lock.lock()
            let alive = generation == current
            let wanted = wantConnection
            let connected = link != nil
            lock.unlock()
            guard alive, wanted else { return }
            var retryAtOnce = false
            if !connected {
                if let socket = try? PeerSocket.connect(to: settings.peerAddress, timeout: settings.connectInterval) {
                    // A link that was up and ended (renegotiation, peer restart) is retried at
                    // once; failed attempts wait connect-int, as DRBD's.
                    retryAtOnce = establish(socket: socket, generation: current)
                }
            }
            if !retryAtOnce { sleep(for: settings.connectInterval) }
        }
    }

    private func acceptLoop(fd: Int32, generation current: Int) {
        while true {
            let client = accept(fd, nil, nil)
            lock.lock()
            let alive = generation == current
            lock.unlock()
            guard alive else {
                if client >= 0 { Glibc.close(client) }
                return
            }
            guard client >= 0 else {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            let socket = PeerSocket(fd: client, remote: "peer connection on \(settings.address)")
            startThread(name: "rpl-handshake") { [self] in
                guard stillWanted(current) else {
                    refuse(socket, "\(nodeName) is StandAlone for \(name) (run `meridian volume connect \(name)` there)")
                    return
                }
                establish(socket: socket, generation: current)
            }
        }
    }

    private func refuse(_ socket: PeerSocket, _ reason: String) {
        try? socket.send(ReplicaHeader(type: .refuse), body: Array(reason.utf8))
        socket.shutdownBoth()
    }

    /// Hello, authentication, per-volume handshake and bitmap exchange; then the receiver loop
    /// runs on this thread until the link fails.
    /// Returns whether the link was established (and has ended since).
    @discardableResult
    private func establish(socket: PeerSocket, generation current: Int) -> Bool {
        socket.setReceiveTimeout(settings.timeout)
        let newLink: PeerLink
        do {
            newLink = try authenticate(socket)
        } catch {
            log("\(name): connection from/to \(socket.remote) refused: \(error)")
            socket.shutdownBoth()
            return false
        }
        lock.lock()
        guard generation == current, wantConnection else {
            lock.unlock()
            refuse(socket, "\(nodeName) is not connecting \(name)")
            return false
        }
        if let old = link {
            // A new authenticated connection from the peer means the old one is dead.
            lock.unlock()
            old.fail("replaced by a new connection")
            lock.lock()
            while link != nil { lock.wait() }
        }
        link = newLink
        lock.unlock()

        do {
            try exchangeHandshakes(newLink)
        } catch {
            log("\(name): handshake with \(settings.peerName) failed: \(error)")
            newLink.fail("handshake failed")
        }
        let reachedReplication = newLink.isAlive
        if reachedReplication {
            log("\(name): connected to \(settings.peerName) (\(socket.remote))")
            socket.setReceiveTimeout(settings.pingInterval + settings.timeout)
            receiveLoop(newLink)
        }
        log("\(name): connection to \(settings.peerName) lost: \(newLink.reason)")
        for volume in volumes { volume.linkLost() }
        lock.lock()
        if link === newLink { link = nil }
        lock.broadcast()
        lock.unlock()
        return reachedReplication
    }

    private func authenticate(_ socket: PeerSocket) throws(LinkError) -> PeerLink {
        let challenge = settings.hmac == nil ? "" : ReplicaAuth.makeChallenge()
        let hello = Hello(resource: name, nodeName: nodeName, nodeID: settings.nodeID, challenge: challenge,
                          hmacAlgorithm: settings.hmac?.rawValue ?? "", volumes: settings.volumes.map(\.number))
        try socket.send(ReplicaHeader(type: .hello), body: Array(try json(hello)))
        let peerHello: Hello = try readJSON(socket, expecting: .hello)
        guard peerHello.protocolVersion == ReplicaWire.protocolVersion else {
            refuse(socket, "protocol version \(peerHello.protocolVersion) not supported")
            throw LinkError("peer speaks protocol version \(peerHello.protocolVersion), this node \(ReplicaWire.protocolVersion)")
        }
        guard peerHello.resource == name, peerHello.nodeName == settings.peerName,
              peerHello.nodeID == settings.peerNodeID
        else {
            let reason = "expected node \(settings.peerName) (node-id \(settings.peerNodeID)) for resource \(name), "
                + "got \(peerHello.nodeName) (node-id \(peerHello.nodeID)) for \(peerHello.resource)"
            refuse(socket, reason)
            throw LinkError(reason)
        }
        guard peerHello.hmacAlgorithm == (settings.hmac?.rawValue ?? "") else {
            let reason = "cram-hmac-alg differs: here '\(settings.hmac?.rawValue ?? "none")', "
                + "peer '\(peerHello.hmacAlgorithm.isEmpty ? "none" : peerHello.hmacAlgorithm)'"
            refuse(socket, reason)
            throw LinkError(reason)
        }
        guard peerHello.volumes == settings.volumes.map(\.number) else {
            let reason = "volumes differ: here \(settings.volumes.map(\.number)), peer \(peerHello.volumes)"
            refuse(socket, reason)
            throw LinkError(reason)
        }
        if let algorithm = settings.hmac {
            let answer = ReplicaAuth.response(algorithm: algorithm, secret: settings.secret,
                                              challenge: peerHello.challenge, responder: nodeName, resource: name)
            try socket.send(ReplicaHeader(type: .authResponse), body: answer)
            let header = try socket.readHeader()
            if header.type == .refuse {
                let reason = String(decoding: try socket.readBytes(Int(header.bodyLength)), as: UTF8.self)
                throw LinkError("\(settings.peerName) refused: \(reason)")
            }
            guard header.type == .authResponse, header.bodyLength <= 128 else {
                throw LinkError("expected an authentication answer, got \(header.type)")
            }
            let peerAnswer = try socket.readBytes(Int(header.bodyLength))
            guard ReplicaAuth.verify(peerAnswer, algorithm: algorithm, secret: settings.secret, challenge: challenge,
                                     responder: settings.peerName, resource: name)
            else {
                refuse(socket, "authentication failed: the shared-secret of \(name) differs")
                log("\(name): AUTHENTICATION FAILED for the peer at \(socket.remote) claiming to be "
                    + "\(settings.peerName): wrong shared-secret; connection refused")
                throw LinkError("peer failed authentication (shared-secret differs)")
            }
        }
        return PeerLink(socket: socket, peerName: settings.peerName)
    }

    private func exchangeHandshakes(_ link: PeerLink) throws(LinkError) {
        lock.lock()
        handshaking = true
        lock.unlock()
        defer {
            lock.lock()
            handshaking = false
            lock.unlock()
        }
        for volume in volumes {
            volume.state.lock()
            let info = volume.core.handshakeInfo(nodeID: settings.nodeID, nodeName: nodeName,
                                                 outOfSyncBlocks: UInt64(volume.bitmap.outOfSyncBlocks))
            volume.state.unlock()
            try link.socket.send(ReplicaHeader(type: .handshake, volume: UInt16(volume.number)), body: try json(info))
        }
        var peerInfos: [Int: HandshakeInfo] = [:]
        for volume in volumes {
            let info: HandshakeInfo = try readJSON(link.socket, expecting: .handshake)
            peerInfos[volume.number] = info
        }
        // Bitmaps in both directions, so both sides resync the union.
        for volume in volumes {
            volume.state.lock()
            let words = volume.bitmap.words
            volume.state.unlock()
            let body = words.withUnsafeBytes { Array($0) }
            try link.socket.send(ReplicaHeader(type: .bitmap, volume: UInt16(volume.number)), body: body)
        }
        var peerBitmaps: [Int: [UInt64]] = [:]
        for volume in volumes {
            let header = try link.socket.readHeader()
            guard header.type == .bitmap else { throw LinkError("expected a bitmap, got \(header.type)") }
            let bytes = try link.socket.readBytes(Int(header.bodyLength))
            guard bytes.count == volume.bitmap.words.count * 8 else {
                throw LinkError("the peer's volume \(volume.number) has a different size "
                    + "(\(bytes.count / 8) bitmap words, here \(volume.bitmap.words.count))")
            }
            peerBitmaps[Int(header.volume)] = bytes.withUnsafeBytes { Array($0.bindMemory(to: UInt64.self)) }
        }
        for volume in volumes {
            guard let peerInfo = peerInfos[volume.number], let words = peerBitmaps[volume.number] else { continue }
            volume.state.lock()
            if let peerBitmap = try? SyncBitmap(dataSize: volume.dataSize, words: words) {
                volume.bitmap.merge(peerBitmap)
            }
            let directives = volume.core.handshake(peer: peerInfo)
            volume.apply(directives)
            // The merged bitmap is on disk before the resync starts: a crash of either side
            // during the resync loses no out-of-sync block (DRBD writes its bitmap here too).
            volume.flushBitmapLocked()
            log("\(volume.name): handshake with \(settings.peerName): \(volume.core.replication.rawValue), "
                + "disk \(volume.core.disk.rawValue)/\(volume.core.peerDisk.rawValue), "
                + "\(volume.bitmap.outOfSyncBytes) bytes out of sync")
            volume.persistLocked()
            volume.state.unlock()
        }
        for volume in volumes {
            volume.state.lock()
            let resyncing = volume.resync
            volume.state.unlock()
            if let run = resyncing, !run.asSource {
                startThread(name: "rpl-resync") { volume.runResyncTarget(link: link) }
            }
        }
    }

    /// Called by a volume's directive: remember the run; the SyncTarget thread starts after
    /// the handshake (or at once when already connected, e.g. after `invalidate`).
    func startResync(volume: VolumeRuntime, asSource: Bool) {
        lock.lock()
        let duringHandshake = handshaking
        let current = link
        lock.unlock()
        if !duringHandshake {
            // The peer must take part: reconnect, and the handshake decides both sides' roles.
            if let current {
                log("\(volume.name): renegotiating the connection to start a resync")
                current.fail("renegotiating to start a resync")
            }
            return
        }
        volume.resync = ResyncRun(asSource: asSource, controller: ResyncRateController(settings: controllerSettings),
                                  started: .now, totalBytes: volume.bitmap.outOfSyncBytes)
        volume.counters.applicationBytesSinceStep = 0  // only I/O during the resync counts
        log("\(volume.name): resync starts as \(asSource ? "SyncSource" : "SyncTarget"): "
            + "\(volume.bitmap.outOfSyncBytes) bytes out of sync")
    }

    /// `adjust` (drbdadm adjust, for what can change while running): the resync controller's
    /// options (a running resync as SyncTarget switches at its next step) and the handlers.
    /// Anything else that differs is refused by name, and nothing changes.
    func adjust(to new: ResourceSettings) throws(DaemonError) -> String {
        let old = settings
        let fixed: [(String, Any, Any)] = [
            ("node-id", old.nodeID, new.nodeID), ("address", old.address, new.address),
            ("the peer (name, node-id, address)", "\(old.peerName) \(old.peerNodeID) \(old.peerAddress)",
             "\(new.peerName) \(new.peerNodeID) \(new.peerAddress)"),
            ("protocol", old.protocolA, new.protocolA), ("cram-hmac-alg", String(describing: old.hmac), String(describing: new.hmac)),
            ("shared-secret", old.secret, new.secret), ("connect-int", old.connectInterval, new.connectInterval),
            ("ping-int", old.pingInterval, new.pingInterval), ("timeout", old.timeout, new.timeout),
            ("fencing", old.fencing, new.fencing), ("verify-alg", old.verifyAlgorithm, new.verifyAlgorithm),
            ("after-sb policies", old.policies, new.policies), ("volumes and disks", old.volumes, new.volumes),
            ("al-extents", old.activityLogExtents, new.activityLogExtents),
        ]
        let changed = fixed.filter { String(describing: $0.1) != String(describing: $0.2) }.map(\.0)
        guard changed.isEmpty else {
            throw DaemonError("adjust applies the resync controller options and the handlers while \(name) runs; "
                + "also changed: \(changed.joined(separator: ", ")). Nothing was changed",
                fix: "to apply those, take \(name) down and up (`meridian volume down \(name)`, then `up`; "
                    + "on a Primary, demote it first), or undo them in the file")
        }
        let (before, handlersBefore) = adjustLock.withLock {
            let old = (adjustableController, adjustableHandlers)
            adjustableController = new.controller
            adjustableHandlers = new.handlers
            return old
        }
        for volume in currentVolumes { volume.adjustResync(new.controller) }
        var what: [String] = []
        if before != new.controller { what.append("resync controller") }
        if handlersBefore != new.handlers { what.append("handlers") }
        let message = what.isEmpty ? "\(name): nothing to adjust" : "\(name): adjusted \(what.joined(separator: " and "))"
        log(message)
        return message
    }

    func requestDisconnect(reason: String) {
        lock.lock()
        wantConnection = false
        let current = link
        lock.unlock()
        log("\(name): disconnecting: \(reason) — StandAlone until `meridian volume connect \(name)`")
        current?.fail(reason)
    }

    /// Runs a configured handler (fence-peer, split-brain, ...) with DRBD's environment. The
    /// fence-peer handler's exit code goes back to every volume (``VolumeRuntime/fencePeerFinished(exitCode:)``);
    /// the other handlers' codes are only logged.
    func runHandler(_ handler: ReplicaHandler, reason: String) {
        guard let process = startHandler(handler, reason: reason) else {
            if handler == .fencePeer { reportFencePeer(exitCode: nil) }
            return
        }
        startThread(name: "rpl-handler") { [self] in
            let code = waitForHandler(handler, process)
            if handler == .fencePeer { reportFencePeer(exitCode: code) }
        }
    }

    /// Runs a handler and waits for it; its exit code, or nil when it is not configured, could
    /// not run or was killed.
    func runHandlerAndWait(_ handler: ReplicaHandler, reason: String) -> Int32? {
        guard let process = startHandler(handler, reason: reason) else { return nil }
        return waitForHandler(handler, process)
    }

    private func waitForHandler(_ handler: ReplicaHandler, _ process: Process) -> Int32? {
        process.waitUntilExit()
        let code: Int32? = process.terminationReason == .exit ? process.terminationStatus : nil
        log("\(name): \(handler.rawValue) handler " + (code.map { "exited \($0)" }
            ?? "was killed by signal \(process.terminationStatus)"))
        return code
    }

    private func startHandler(_ handler: ReplicaHandler, reason: String) -> Process? {
        guard let command = handlerCommand(handler) else {
            log("\(name): \(handler.rawValue): \(reason) (no handler configured)")
            return nil
        }
        log("\(name): running \(handler.rawValue) handler `\(command)`: \(reason)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        var environment = ProcessInfo.processInfo.environment
        environment["DRBD_RESOURCE"] = name
        environment["DRBD_PEER"] = settings.peerName
        environment["DRBD_PEER_NODE_ID"] = String(settings.peerNodeID)
        environment["MERIDIAN_RESOURCE"] = name
        environment["MERIDIAN_NODE"] = nodeName
        environment["MERIDIAN_REASON"] = reason
        process.environment = environment
        do { try process.run() } catch {
            log("\(name): cannot run \(handler.rawValue) handler: \(error)")
            return nil
        }
        return process
    }

    /// The fence-peer handler's answer goes to the volumes (called off every lock; the handler
    /// runs per resource, as DRBD's per connection).
    private func reportFencePeer(exitCode: Int32?) {
        for volume in currentVolumes { volume.fencePeerFinished(exitCode: exitCode) }
    }

    /// `outdate`: marks every volume's data Outdated (what a fence-peer handler asks of the peer).
    func outdate() throws(DaemonError) {
        guard isUp else { throw DaemonError("\(name) is down", fix: "run `meridian volume up \(name)`") }
        for volume in volumes {
            volume.state.lock()
            switch volume.core.outdate() {
            case .success(let directives):
                volume.apply(directives)
                volume.state.unlock()
            case .failure(let refusal):
                volume.state.unlock()
                throw DaemonError("\(volume.name): \(refusal.message)",
                                  fix: "outdate the node that is not Primary, while it is disconnected")
            }
        }
    }

    /// `resume-io`: I/O suspended for fencing resumes without the peer known to be outdated.
    func resumeIO() throws(DaemonError) {
        guard isUp else { throw DaemonError("\(name) is down", fix: "run `meridian volume up \(name)`") }
        let suspended = volumes.contains { v in v.state.lock(); defer { v.state.unlock() }; return v.core.ioSuspended }
        guard suspended else {
            throw DaemonError("\(name): I/O is not suspended", fix: "nothing to resume; see `meridian volume status \(name)`")
        }
        log("\(name): resume-io by the administrator")
        for volume in volumes { volume.resumeIO() }
    }

    // MARK: - Receiving

    private func receiveLoop(_ link: PeerLink) {
        var scratch = NBDBuffer(capacity: 1 << 20)
        let byNumber = Dictionary(uniqueKeysWithValues: volumes.map { ($0.number, $0) })
        while link.isAlive {
            let header: ReplicaHeader
            do { header = try link.socket.readHeader() } catch {
                link.fail(error.description)
                return
            }
            guard let volume = byNumber[Int(header.volume)] else {
                link.fail("packet for unknown volume \(header.volume)")
                return
            }
            do {
                try dispatch(header, volume: volume, link: link, scratch: &scratch)
            } catch {
                link.fail(error.description)
                return
            }
        }
    }

    private func readRange(_ link: PeerLink) throws(LinkError) -> ReplicaRange {
        let bytes = try link.socket.readBytes(ReplicaWire.dataPrefixSize)
        return bytes.withUnsafeBytes { ReplicaRange.decode($0) }
    }

    private func readPayload(_ link: PeerLink, length: UInt32, into buffer: inout NBDBuffer) throws(LinkError) {
        if buffer.capacity < Int(length) { buffer = NBDBuffer(capacity: Int(length)) }
        buffer.count = Int(length)
        try link.socket.readExactly(buffer.bytes)
    }

    private func dispatch(_ header: ReplicaHeader, volume: VolumeRuntime, link: PeerLink,
                          scratch: inout NBDBuffer) throws(LinkError) {
        switch header.type {
        case .data:
            let range = try readRange(link)
            guard Int(header.bodyLength) == ReplicaWire.dataPrefixSize + Int(range.length),
                  range.offset + UInt64(range.length) <= volume.dataSize
            else { throw LinkError("data packet for \(range.length) bytes at \(range.offset) is out of bounds") }
            try readPayload(link, length: range.length, into: &scratch)
            volume.peerWrite(header: header, range: range, payload: scratch, link: link)
        case .trim, .writeZeroes:
            let range = try readRange(link)
            guard range.offset + UInt64(range.length) <= volume.dataSize else {
                throw LinkError("\(header.type) for \(range.length) bytes at \(range.offset) is out of bounds")
            }
            volume.peerWrite(header: header, range: range, payload: nil, link: link)
        case .writeAck, .barrierAck:
            volume.peerHalfDone(sequence: header.sequence, failed: false)
        case .writeError:
            log("\(volume.name): the peer failed to write sequence \(header.sequence)")
            volume.peerHalfDone(sequence: header.sequence, failed: true)
        case .barrier:
            volume.peerBarrier(header: header, link: link)
        case .resyncRequest:
            let range = try readRange(link)
            guard range.offset + UInt64(range.length) <= volume.dataSize, UInt64(range.length) <= resyncChunk else {
                throw LinkError("resync request for \(range.length) bytes at \(range.offset) is out of bounds")
            }
            let worker = link.takeResyncWorker()
            let buffer = worker.buffer
            worker.submit { volume.answerResyncRequest(range: range, link: link, buffer: buffer) }
        case .resyncData:
            let range = try readRange(link)
            guard Int(header.bodyLength) == ReplicaWire.dataPrefixSize + Int(range.length),
                  range.offset + UInt64(range.length) <= volume.dataSize
            else { throw LinkError("resync data for \(range.length) bytes at \(range.offset) is out of bounds") }
            try readPayload(link, length: range.length, into: &scratch)
            volume.resyncDataArrived(range: range, payload: scratch, link: link)
        case .resyncWritten:
            volume.resyncWritten(range: try readRange(link))
        case .resyncFinished:
            volume.resyncFinishedByPeer()
        case .verifyRequest:
            let range = try readRange(link)
            let hash = try link.socket.readBytes(Int(header.bodyLength) - ReplicaWire.dataPrefixSize)
            guard range.offset + UInt64(range.length) <= volume.dataSize, UInt64(range.length) <= verifyChunk else {
                throw LinkError("verify request out of bounds")
            }
            // The VerifyS's verify-alg decides; its digest length names it.
            guard let algorithm = VerifyAlgorithm(digestLength: hash.count) else {
                throw LinkError("verify request with a \(hash.count)-byte hash (sha1, sha256 or sha512 expected)")
            }
            let buffer = link.worker.buffer
            link.worker.submit {
                volume.answerVerifyRequest(range: range, peerHash: hash, algorithm: algorithm, link: link, buffer: buffer)
            }
        case .verifyResult:
            let range = try readRange(link)
            let rest = try link.socket.readBytes(Int(header.bodyLength) - ReplicaWire.dataPrefixSize)
            volume.verifyResultArrived(range: range, equal: rest.first == 1)
        case .verifyFinished:
            volume.verifyFinishedByPeer()
        case .state:
            let body = try link.socket.readBytes(Int(header.bodyLength))
            guard let change = try? JSONDecoder().decode(PeerStateChange.self, from: Data(body)) else {
                throw LinkError("malformed state packet")
            }
            peerStateChanged(change)
        case .roleRequest:
            _ = try link.socket.readBytes(Int(header.bodyLength))
            answerRoleRequest(link: link)
        case .roleReply:
            let body = try link.socket.readBytes(Int(header.bodyLength))
            lock.lock()
            roleAnswer = (body.first == 1, String(decoding: body.dropFirst(), as: UTF8.self))
            lock.broadcast()
            lock.unlock()
        case .ping:
            try link.socket.send(ReplicaHeader(type: .pingAck))
        case .pingAck:
            break
        case .refuse:
            let body = try link.socket.readBytes(Int(header.bodyLength))
            throw LinkError("\(settings.peerName) closed the connection: \(String(decoding: body, as: UTF8.self))")
        case .hello, .authResponse, .handshake, .bitmap, .syncDecision:
            throw LinkError("unexpected \(header.type) packet after the handshake")
        }
    }

    // MARK: - Peer state and roles

    struct PeerStateChange: Codable {
        var role: Role
        var disks: [Int: DiskState]
    }

    /// Tells the peer our role and disk states.
    func sendState() {
        guard let link = currentLink() else { return }
        var disks: [Int: DiskState] = [:]
        var role = Role.secondary
        for volume in volumes {
            volume.state.lock()
            disks[volume.number] = volume.core.disk
            if volume.core.role == .primary { role = .primary }
            volume.state.unlock()
        }
        guard let body = try? json(PeerStateChange(role: role, disks: disks)) else { return }
        if (try? link.socket.send(ReplicaHeader(type: .state), body: body)) == nil { link.fail("send failed") }
    }

    private func peerStateChanged(_ change: PeerStateChange) {
        for volume in volumes {
            volume.state.lock()
            let directives = volume.core.peerStateChanged(role: change.role,
                                                          disk: change.disks[volume.number] ?? .unknown)
            volume.apply(directives)
            volume.state.unlock()
        }
        lock.lock()
        peerRoleRequestPending = false
        lock.unlock()
    }

    /// Asks the connected peer whether this node may become Primary.
    private func askPeerForPromotion(link: PeerLink) throws(DaemonError) {
        lock.lock()
        awaitingRoleAnswer = true
        roleAnswer = nil
        lock.unlock()
        if (try? link.socket.send(ReplicaHeader(type: .roleRequest), body: [])) == nil {
            link.fail("send failed")
        }
        lock.lock()
        let deadline = ContinuousClock.now + settings.timeout
        while roleAnswer == nil, link.isAlive, ContinuousClock.now < deadline {
            _ = lock.wait(timeout: .milliseconds(50))
        }
        let answer = roleAnswer
        awaitingRoleAnswer = false
        lock.unlock()
        guard let answer else {
            if !link.isAlive { return }  // disconnected meanwhile: the usual rules apply
            throw DaemonError("\(settings.peerName) did not answer the promotion request in time",
                              fix: "check the link; or `meridian volume disconnect \(name)` and promote alone")
        }
        guard answer.granted else {
            throw DaemonError("State change failed: \(answer.reason)",
                              fix: "demote \(settings.peerName) first (`meridian volume secondary \(name)` there)")
        }
    }

    private func answerRoleRequest(link: PeerLink) {
        var primaryHere = false
        for volume in volumes {
            volume.state.lock()
            if volume.core.role == .primary { primaryHere = true }
            volume.state.unlock()
        }
        lock.lock()
        let racing = awaitingRoleAnswer && settings.nodeID < settings.peerNodeID
        if !primaryHere && !racing { peerRoleRequestPending = true }
        lock.unlock()
        let granted = !primaryHere && !racing
        let reason = primaryHere ? "\(nodeName) is Primary (two primaries are not allowed)"
            : racing ? "\(nodeName) is promoting at the same time and has the lower node-id" : ""
        if granted {
            // Until the peer's state packet arrives, treat it as Primary.
            for volume in volumes {
                volume.state.lock()
                volume.apply(volume.core.peerStateChanged(role: .primary, disk: volume.core.peerDisk))
                volume.state.unlock()
            }
        }
        if (try? link.socket.send(ReplicaHeader(type: .roleReply), body: [granted ? 1 : 0] + Array(reason.utf8))) == nil {
            link.fail("send failed")
        }
    }

    // MARK: - Keepalive

    private func pingLoop(generation current: Int) {
        while true {
            sleep(for: settings.pingInterval)
            lock.lock()
            let alive = generation == current
            let link = self.link
            lock.unlock()
            guard alive else { return }
            if let link, (try? link.socket.send(ReplicaHeader(type: .ping))) == nil { link.fail("ping failed") }
        }
    }

    private func sleep(for duration: Duration) {
        var request = timespec(tv_sec: Int(duration.components.seconds),
                               tv_nsec: Int(duration.components.attoseconds / 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }

    // MARK: - Status

    func status() -> ResourceSnapshot {
        lock.lock()
        let connected = link != nil
        let wanted = wantConnection
        lock.unlock()
        let volumeStates = volumes.map { $0.status() }
        let role: Role = volumeStates.isEmpty ? .unknown : volumeStates.contains { $0.role == .primary } ? .primary : .secondary
        let peerRole: Role = connected ? (volumes.first.map { v in v.state.lock(); defer { v.state.unlock() }; return v.core.peerRole } ?? .unknown) : .unknown
        let connection = volumeStates.isEmpty ? "StandAlone" : connected ? "Connected" : wanted ? "Connecting" : "StandAlone"
        let socket = currentLink()?.socket
        return ResourceSnapshot(
            linkSentBytes: socket?.sentBytes.load(ordering: .relaxed) ?? 0,
            linkReceivedBytes: socket?.receivedBytes.load(ordering: .relaxed) ?? 0,name: name, role: role, connection: connection, peerName: settings.peerName,
                                peerNodeID: settings.peerNodeID, peerRole: peerRole,
                                protocolName: settings.protocolA ? "A" : "C", volumes: volumeStates,
                                configuredVolumes: settings.volumes.map(\.number))
    }
}

/// A volume's refused promotion.
struct VolumeRefusal: Error {
    var volume: Int
    var refusal: ReplicaRefusal
}

/// What `status` reports of a resource.
struct ResourceSnapshot: Sendable {
    var linkSentBytes: UInt64
    var linkReceivedBytes: UInt64
    var name: String
    var role: Role
    var connection: String
    var peerName: String
    var peerNodeID: Int
    var peerRole: Role
    var protocolName: String
    var volumes: [VolumeSnapshot]
    var configuredVolumes: [Int]
    var suspended: Bool { volumes.contains { $0.suspended } }
}

func json<T: Encodable>(_ value: T) throws(LinkError) -> [UInt8] {
    do { return Array(try JSONEncoder().encode(value)) } catch { throw LinkError("cannot encode \(T.self): \(error)") }
}

func readJSON<T: Decodable>(_ socket: PeerSocket, expecting type: ReplicaPacketType) throws(LinkError) -> T {
    let header = try socket.readHeader()
    if header.type == .refuse {
        let reason = String(decoding: try socket.readBytes(Int(header.bodyLength)), as: UTF8.self)
        throw LinkError("the peer refused: \(reason)")
    }
    guard header.type == type else { throw LinkError("expected \(type), got \(header.type)") }
    let body = try socket.readBytes(Int(header.bodyLength))
    do { return try JSONDecoder().decode(T.self, from: Data(body)) } catch {
        throw LinkError("malformed \(type) packet: \(error)")
    }
}
