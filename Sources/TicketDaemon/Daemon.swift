import BoothConfig
import Foundation
import Logging
import NIOCore
import NIOPosix
import TicketLease
import TicketStore
import TicketWire
#if canImport(Glibc)
import Glibc
#endif

/// How a `meridian-ticketd` instance runs: which member it is and where its state goes.
public struct DaemonOptions: Sendable {
    public enum Backend: Sendable { case none, stateFile(String), crmTicket(String) }
    public var configPath: String
    public var address: String
    public var kind: BoothConfiguration.MemberKind
    public var stateDirectory: String
    public var backend: Backend
    public var driftBoundPPM: Int64 = LeaseSettings.defaultDriftBoundPPM
    public var safetyMargin: Duration = LeaseSettings.defaultSafetyMargin
    /// Path of the executable to start as lease guard (nil: no guard).
    public var leaseGuardExecutable: String?
    /// Test hook: a file listing addresses (one per line) whose packets are dropped both ways.
    public var dropFile: String?

    public init(configPath: String, address: String, kind: BoothConfiguration.MemberKind, stateDirectory: String,
                backend: Backend) {
        self.configPath = configPath
        self.address = address
        self.kind = kind
        self.stateDirectory = stateDirectory
        self.backend = backend
    }
}

/// A startup error: what is wrong and how to fix it.
public struct DaemonError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var fix: String
    public init(_ message: String, fix: String) { self.message = message; self.fix = fix }
    public var description: String { "error: \(message)\n  fix: \(fix)" }
}

/// Per-peer counters shown by `meridian ticket peers`.
struct PeerStats {
    var lastReceivedWallMs: Int64?
    var sent = 0, sendErrors = 0, resends = 0, received = 0, receiveErrors = 0
    var authFailures = 0, invalid = 0, replays = 0
    var meridian = false
    var lastTimestamp: BoothTimestamp?
    var lastDigest: [UInt8] = []
}

/// meridian-ticketd: the shell around one ``TicketLease`` per ticket. All state lives on one
/// event loop; directives are executed in order (persist, backend, then messages).
public final class TicketDaemon: @unchecked Sendable {
    public let config: BoothConfiguration
    let options: DaemonOptions
    let me: Int
    let key: AuthKey?
    let mapping: PeerMapping
    let store: StateDirectory
    let backend: (any TicketBackend)?
    var logger: Logger
    let group: MultiThreadedEventLoopGroup
    var loop: EventLoop { group.next() }

    var leases: [TicketLease] = []
    /// Per ticket: the last state written with fdatasync.
    var durable: [PersistentTicketState?] = []
    /// Per ticket: the last state written (synced or not).
    var lastState: [PersistentTicketState?] = []
    var peers: [PeerStats]
    var unknownSenders = 0
    var lastSentTimestamp = BoothTimestamp(secs: 0, usecs: 0)
    var timer: Scheduled<Void>?
    var udp: Channel?
    var tcp: Channel?
    var clients: [ClientID: (channel: Channel, ticket: Int, command: BoothCommand)] = [:]
    var nextClientID = 1
    var guardInput: FileHandle?
    var lastGranted: [String: Bool] = [:]
    var stopping = false
    var attributeTimes: [String: Int64] = [:]
    var sendSocket: Int32 = -1
    var dropped: Set<String> = []
    var dropFileCheckedAt: Int64 = 0

    public init(options: DaemonOptions, logger: Logger) throws {
        let cfg: BoothConfiguration
        do { cfg = try BoothConfiguration.load(path: options.configPath) } catch {
            throw DaemonError("\(error)", fix: "correct the configuration file")
        }
        guard let member = cfg.member(address: options.address) else {
            let list = cfg.members.map { "\($0.kind.rawValue) \($0.address)" }.joined(separator: ", ")
            throw DaemonError("\(options.address) is not a member of \(options.configPath) (members: \(list))",
                              fix: "pass one of the configured addresses with --site or --arbitrator")
        }
        guard member.kind == options.kind else {
            throw DaemonError("\(options.address) is configured as \(member.kind.rawValue), not \(options.kind.rawValue)",
                              fix: "use --\(member.kind.rawValue) \(options.address)")
        }
        config = cfg
        self.options = options
        me = member.index
        self.logger = logger
        if let path = cfg.authFile {
            do { key = try AuthKey.load(path: path) } catch { throw DaemonError("\(error)", fix: error.fix) }
        } else {
            key = nil
        }
        mapping = PeerMapping(config: cfg)
        store = try StateDirectory(path: options.stateDirectory, members: cfg.members.map(\.address))
        switch options.backend {
        case .none: backend = nil
        case let .stateFile(dir): backend = try StateFileBackend(directory: dir)
        case let .crmTicket(cmd): backend = CrmTicketBackend(command: cmd)
        }
        peers = Array(repeating: PeerStats(), count: cfg.members.count)
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        for (i, t) in cfg.tickets.enumerated() {
            let m = LeaseMembership(kinds: cfg.members.map { $0.kind == .site ? .site : .arbitrator },
                                    weights: t.weights, me: me)
            var settings = LeaseSettings(ticket: t, millisecondWireTimes: cfg.millisecondWireTimes,
                                         driftBoundPPM: options.driftBoundPPM, safetyMargin: options.safetyMargin)
            settings.ticket = t.name
            let seed = UInt64(truncatingIfNeeded: monotonicNanoseconds()) &+ UInt64(i) &* 7919 &+ UInt64(me)
            leases.append(TicketLease(settings: settings, membership: m, seed: seed))
            durable.append(nil)
            lastState.append(nil)
        }
    }

    var myAddress: String { config.members[me].address }

    // MARK: - Running

    /// Binds UDP and TCP on the member's own address and runs until ``shutdown()``.
    public func run() throws {
        if options.leaseGuardExecutable != nil, backend != nil { try startLeaseGuard() }
        let port = Int(config.port)
        let udpBootstrap = DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { [self] ch in
                ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(PeerHandler(daemon: self)) }
            }
        let tcpBootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(ByteToMessageHandler(BoothFrameDecoder()))
                    try ch.pipeline.syncOperations.addHandler(ClientHandler(daemon: self))
                }
            }
        let bindFix = "check that the address is configured on an interface (`ip addr add \(myAddress)/32 dev lo`) and no other daemon uses the port"
        do {
            udp = try udpBootstrap.bind(host: myAddress, port: port).wait()
            tcp = try tcpBootstrap.bind(host: myAddress, port: port).wait()
        } catch {
            throw DaemonError("cannot bind \(myAddress):\(port): \(error)", fix: bindFix)
        }
        for w in config.warnings { logger.warning("\(w)") }
        logger.info("\(config.members[me].kind.rawValue) \(myAddress):\(port) up; \(leases.count) ticket(s); backend \(backend?.name ?? "none"); auth \(key == nil ? "off" : "on")")
        try loop.submit { [self] in startTickets() }.wait()
        // NIO closes a datagram channel on some send errors (EPERM from a firewall rule, for
        // one): rebind and carry on, unless we are shutting down.
        while true {
            try? udp?.closeFuture.wait()
            if try loop.submit({ [self] in stopping }).wait() { break }
            logger.warning("UDP socket closed unexpectedly; binding \(myAddress):\(port) again")
            usleep(100_000)
            do {
                let ch = try udpBootstrap.bind(host: myAddress, port: port).wait()
                try loop.submit { [self] in udp = ch }.wait()
            } catch {
                logger.error("cannot bind UDP \(myAddress):\(port) again: \(error); retrying")
            }
        }
        try? tcp?.close().wait()
        try? group.syncShutdownGracefully()
    }

    /// Stops the daemon (SIGTERM). Leases are not revoked: the lease guard or expiry ends them.
    public func shutdown() {
        loop.execute { [self] in
            stopping = true
            logger.info("shutting down")
            timer?.cancel()
            tcp?.close(promise: nil)
            udp?.close(promise: nil)
        }
    }

    func startTickets() {
        let clocks = ClockPair.now()
        let now = LeaseInstant(nanoseconds: clocks.monotonic)
        for i in leases.indices {
            var restored: PersistentTicketState?
            do { restored = try store.load(ticket: leases[i].settings.ticket, clocks: clocks) } catch {
                logger.error("\(error)")
            }
            durable[i] = restored
            if let r = restored {
                logger.info("\(leases[i].settings.ticket): restored term \(r.term), leader \(r.leader.map { config.members[$0].address } ?? "none")")
            }
            execute(leases[i].start(now: now, restored: restored), ticket: i)
            // Start with ceilings ahead, so that the first grant does not wait for the disk.
            var st = lastState[i] ?? durable[i] ?? leases[i].persistentState
            st.promiseCeiling = durable[i]?.promiseCeiling ?? st.promiseCeiling
            raiseCeilings(&st, ticket: i, now: now)
            persist(st, ticket: i, sync: true)
        }
        reschedule()
    }

    func now() -> LeaseInstant { LeaseInstant(nanoseconds: monotonicNanoseconds()) }

    func reschedule() {
        timer?.cancel()
        guard let next = (leases.compactMap(\.nextWakeup) + [ceilingRefreshTime()].compactMap { $0 }).min()
        else { return }
        let delay = max(0, next.nanoseconds - monotonicNanoseconds())
        timer = loop.scheduleTask(in: .nanoseconds(delay)) { [self] in
            let t = now()
            refreshCeilings(now: t)
            for i in leases.indices where (leases[i].nextWakeup.map { $0 <= t } ?? false) {
                execute(leases[i].tick(now: t), ticket: i)
            }
            reschedule()
        }
    }

    // MARK: - Directives

    func execute(_ directives: [TicketDirective], ticket i: Int) {
        let name = leases[i].settings.ticket
        var deferred: PersistentTicketState?
        defer {
            if let state = deferred { persist(state, ticket: i, sync: false) }
        }
        for d in directives {
            switch d {
            case let .persist(state):
                // Votes and promises must be durable before any message that depends on them.
                // Votes are written exactly (fdatasync). Promises are durable ahead of need:
                // the file holds a ceiling no promise reaches past (a restarted member refuses
                // candidates until then), so a promise waits for the disk only when it would
                // cross the ceiling. Revocations and manual grants are synced too. The rest may
                // lag: a stale term, leader or holder deadline only makes a restart cautious.
                var st = state
                st.promiseCeiling = durable[i]?.promiseCeiling
                let last = durable[i]
                // A candidate's vote for itself is written without waiting: it counts only in
                // its own election, which a crash ends; if it won, the record of that win (one
                // write, later) carries the vote term too. Votes for others are synced.
                let selfVote = state.votedFor == me && state.voteTerm > (last?.voteTerm ?? 0)
                let crossesVote = last == nil
                    || ((state.voteTerm != last!.voteTerm || state.votedFor != last!.votedFor) && !selfVote)
                let crossesPromise = state.promisedUntil.map { p in st.promiseCeiling.map { p > $0 } ?? true } ?? false
                if last == nil || crossesVote || crossesPromise || (state.revoked && !last!.revoked)
                    || state.manualGrantedHere != last!.manualGrantedHere {
                    raiseCeilings(&st, ticket: i, now: now())
                    persist(st, ticket: i, sync: true)
                    deferred = nil
                } else {
                    deferred = st
                }
            case let .backend(view):
                applyBackend(view, ticket: name)
            case let .send(to, m):
                sendPeer(m, to: to)
            case let .broadcast(m):
                for p in config.members.indices where p != me { sendPeer(m, to: p) }
            case let .reply(client, outcome, leader, final):
                replyClient(client, outcome: outcome, leader: leader, final: final, ticket: i)
            case .runHandler:
                runHandler(ticket: i)
            case let .log(level, text):
                switch level {
                case .debug: logger.debug("\(text)")
                case .info: logger.info("\(text)")
                case .warning: logger.warning("\(text)")
                case .error: logger.error("\(text)")
                case .critical: logger.critical("\(text)")
                }
            }
        }
    }

    /// Raises the durable promise ceiling well above the current promise.
    func raiseCeilings(_ st: inout PersistentTicketState, ticket i: Int, now: LeaseInstant) {
        let s = leases[i].settings
        let ahead = max(now + s.expire * 2, (st.promisedUntil ?? now) + s.expire)
        st.promiseCeiling = max(st.promiseCeiling ?? ahead, ahead)
    }

    /// When the promise ceiling runs low, raise it now, off any message's path.
    func refreshCeilings(now: LeaseInstant) {
        for i in leases.indices {
            guard var st = durable[i], let c = st.promiseCeiling else { continue }
            let s = leases[i].settings
            if c - now < s.expire + s.timeout {
                st = lastState[i] ?? st
                st.promiseCeiling = c
                raiseCeilings(&st, ticket: i, now: now)
                persist(st, ticket: i, sync: true)
            }
        }
    }

    func ceilingRefreshTime() -> LeaseInstant? {
        leases.indices.compactMap { i -> LeaseInstant? in
            guard let c = durable[i]?.promiseCeiling else { return nil }
            return c - (leases[i].settings.expire + leases[i].settings.timeout)
        }.min()
    }

    func persist(_ state: PersistentTicketState, ticket i: Int, sync: Bool) {
        do {
            try store.save(ticket: leases[i].settings.ticket, state, clocks: .now(), sync: sync)
            if sync { durable[i] = state }
            lastState[i] = state
        } catch {
            // Without stable storage this member must not promise anything: stop.
            logger.critical("\(error)")
            fatalError("cannot persist ticket state: \(error)")
        }
    }

    func record(for view: BackendView, ticket: String) -> TicketRecord {
        let clocks = ClockPair.now()
        return TicketRecord(
            ticket: ticket, granted: view.granted, leader: view.leader.map { config.members[$0].address },
            owner: view.leader.map { Int64(mapping.siteIDs[$0]) } ?? -1, term: view.term,
            expiresEpochMs: view.grantedUntil.map { clocks.wall(of: $0) / 1_000_000 },
            updatedEpochMs: clocks.wall / 1_000_000)
    }

    func applyBackend(_ view: BackendView, ticket: String) {
        guard let backend else { return }
        let r = record(for: view, ticket: ticket)
        do {
            try backend.apply(r)
            if view.granted != lastGranted[ticket] { lastGranted[ticket] = view.granted; logger.notice("\(ticket): \(view.granted ? "GRANTED here until \(formatEpochMs(r.expiresEpochMs))" : "not granted here") (term \(view.term))") }
        } catch {
            logger.error("\(ticket): backend \(backend.name): \(error)")
        }
        if let g = guardInput, let line = try? JSONEncoder().encode(r) {
            try? g.write(contentsOf: line + Data([0x0A]))
        }
    }

    // MARK: - Peers

    func timestamp() -> BoothTimestamp {
        let w = wallClockNanoseconds()
        var t = BoothTimestamp(secs: UInt32(truncatingIfNeeded: w / 1_000_000_000),
                               usecs: UInt32((w % 1_000_000_000) / 1000))
        if !(lastSentTimestamp < t) {
            t = lastSentTimestamp
            t.usecs += 1
            if t.usecs >= 1_000_000 { t.secs += 1; t.usecs = 0 }
        }
        lastSentTimestamp = t
        return t
    }

    func isDropped(_ address: String) -> Bool {
        guard let path = options.dropFile else { return false }
        let n = monotonicNanoseconds()
        if n - dropFileCheckedAt > 50_000_000 {
            dropFileCheckedAt = n
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            dropped = Set(text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) })
        }
        return dropped.contains(address)
    }

    /// Sends through a plain non-blocking UDP socket bound to this member's address (any
    /// port; peers identify a member by address and site id). A failed send (EPERM from a
    /// firewall rule, say) is counted and does not affect other sends, whereas NIO would close
    /// its channel.
    func sendPeer(_ m: PeerMessage, to p: Int) {
        let address = config.members[p].address
        if isDropped(address) { return }
        let bytes = BoothPeerDecoder.encode(mapping.packet(m, from: me), key: key, timestamp: timestamp())
        guard let remote = try? SocketAddress(ipAddress: address, port: Int(config.port)) else { return }
        peers[p].sent += 1
        if m.command == .heartbeat || m.command == .update, m.validFor < leases.first(where: { $0.settings.ticket == m.ticket })?.settings.expire ?? .zero {
            peers[p].resends += 1
        }
        if sendSocket < 0 { sendSocket = openSendSocket() }
        let n = remote.withSockAddr { sa, len in
            bytes.withUnsafeBytes { sendto(sendSocket, $0.baseAddress, $0.count, 0, sa, socklen_t(len)) }
        }
        if n != bytes.count { peers[p].sendErrors += 1 }
    }

    func openSendSocket() -> Int32 {
        guard let local = try? SocketAddress(ipAddress: myAddress, port: 0) else { return -1 }
        let family = local.protocol == .inet6 ? AF_INET6 : AF_INET
        let fd = socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return -1 }
        let rc = local.withSockAddr { sa, len in bind(fd, sa, socklen_t(len)) }
        if rc != 0 {
            logger.error("cannot bind a UDP send socket to \(myAddress): \(String(cString: strerror(errno)))")
            close(fd)
            return -1
        }
        return fd
    }

    func receivePeer(_ bytes: [UInt8], from remote: SocketAddress) {
        let source = remote.ipAddress ?? "?"
        guard let p = config.members.firstIndex(where: { $0.address == source || IPAddressBytes.parse($0.address) == IPAddressBytes.parse(source) }) else {
            unknownSenders += 1
            return
        }
        if isDropped(config.members[p].address) { return }
        peers[p].received += 1
        peers[p].lastReceivedWallMs = wallClockNanoseconds() / 1_000_000
        let decoded: BoothPeerDecoder.Decoded
        do {
            let last = peers[p].lastTimestamp
            let lastDigest = peers[p].lastDigest
            decoded = try BoothPeerDecoder.decode(
                bytes, key: key, lastSeen: { _ in last },
                wallNowSeconds: wallClockNanoseconds() / 1_000_000_000, maxTimeSkew: config.maxTimeSkew,
                allowEqualUnless: lastDigest)
        } catch {
            switch error {
            case .missingAuthentication, .badAuthentication, .unexpectedAuthentication, .stale:
                peers[p].authFailures += 1
            case .replayed: peers[p].replays += 1
            default: peers[p].receiveErrors += 1
            }
            logger.warning("dropped packet from \(source): \(error)")
            return
        }
        if let ts = decoded.timestamp {
            peers[p].lastTimestamp = ts
            peers[p].lastDigest = Array(bytes.suffix(20))
        }
        guard mapping.index(ofSiteID: decoded.packet.header.from) == p else {
            peers[p].invalid += 1
            logger.warning("dropped packet from \(source): it claims site id \(decoded.packet.header.from)")
            return
        }
        if decoded.packet.header.opts & BoothWire.optAttr != 0 {
            peers[p].invalid += 1
            return
        }
        let m: PeerMessage
        do { m = try mapping.message(decoded.packet) } catch {
            peers[p].invalid += 1
            logger.warning("dropped packet from \(source): \(error)")
            return
        }
        peers[p].meridian = m.fromMeridian
        guard let t = leases.firstIndex(where: { $0.settings.ticket == m.ticket }) else {
            peers[p].invalid += 1
            logger.warning("packet from \(source) for unknown ticket \"\(m.ticket)\"")
            return
        }
        execute(leases[t].receive(m, from: p, now: now()), ticket: t)
        reschedule()
    }

    // MARK: - Before-acquire-handler

    func runHandler(ticket i: Int) {
        let t = config.tickets[i]
        guard let argv = t.beforeAcquireHandler else {
            execute(leases[i].handlerFinished(success: true, now: now()), ticket: i)
            return
        }
        var env = ProcessInfo.processInfo.environment
        env["BOOTH_TICKET"] = t.name
        env["BOOTH_LOCAL"] = myAddress
        env["BOOTH_CONF_PATH"] = options.configPath
        env["BOOTH_CONF_NAME"] = config.effectiveName
        let log = logger
        let loop = self.loop
        let environment = env
        Thread.detachNewThread { [self] in
            let ok: Bool
            do {
                let (status, output) = try runCommand(argv, environment: environment)
                ok = status == 0
                if !ok { log.warning("\(t.name): before-acquire-handler exited \(status): \(output)") }
            } catch {
                log.error("\(t.name): before-acquire-handler: \(error)")
                ok = false
            }
            loop.execute { [self] in
                execute(leases[i].handlerFinished(success: ok, now: now()), ticket: i)
                reschedule()
            }
        }
    }

    // MARK: - Lease guard

    func startLeaseGuard() throws {
        guard let exe = options.leaseGuardExecutable else { return }
        LeaseGuard.stopPrevious(stateDirectory: options.stateDirectory)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        var args = ["lease-guard"]
        switch options.backend {
        case .none: return
        case let .stateFile(dir): args += ["--backend", "statefile", "--backend-dir", dir]
        case let .crmTicket(cmd): args += ["--backend", "crm_ticket", "--crm-ticket", cmd]
        }
        p.arguments = args
        let pipe = Pipe()
        p.standardInput = pipe
        try p.run()
        try? "\(p.processIdentifier)\n".write(toFile: LeaseGuard.pidFile(stateDirectory: options.stateDirectory),
                                              atomically: true, encoding: .utf8)
        guardInput = pipe.fileHandleForWriting
    }
}

func formatEpochMs(_ ms: Int64?) -> String {
    guard let ms else { return "forever (manual)" }
    var t = time_t(ms / 1000)
    var tmv = tm()
    localtime_r(&t, &tmv)
    var buf = [CChar](repeating: 0, count: 32)
    strftime(&buf, 32, "%F %T", &tmv)
    return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + String(format: ".%03d", Int(ms % 1000))
}
