import BoothConfig
import Foundation
import Testing
import TicketClient
import TicketWire

#if canImport(Glibc)
    import Glibc
#endif

// Interoperability: the `meridian` CLI against REAL Debian boothd (Booth 1.0) daemons on
// loopback addresses, and the client's pure parts (boothd's text, the grant/revoke
// conversation, reply framing).

/// Where Debian's boothd is, if installed.
private let boothdPath: String? = ["/usr/sbin/boothd", "/usr/bin/boothd"].first {
    FileManager.default.isExecutableFile(atPath: $0)
}

@Suite("meridian CLI against Debian boothd")
struct ClientAgainstBoothdTests {
    @Test(
        "list, grant with --wait, overgrant, revoke via redirect, list",
        .timeLimit(.minutes(2)))
    func grantRevokeFlow() async throws {
        let cluster = try BoothdCluster(
            name: "flow", addresses: ["127.0.21.11", "127.0.21.12", "127.0.21.13"], port: 9961)
        defer { cluster.stop() }
        try await cluster.start()
        let (site1, site2, arbitrator) = (cluster.addresses[0], cluster.addresses[1], cluster.addresses[2])

        // Nobody holds the ticket: boothd's text parses to leader NONE.
        var run = try cluster.meridian("ticket", "list", "--site", site1)
        #expect(run.status == 0, "\(run)")
        #expect(run.stdout.contains("ticket: ticketA, leader: NONE"), "\(run)")
        run = try cluster.meridian("ticket", "list", "--site", site1, "--json")
        let listed = try JSONDecoder().decode([TicketListing].self, from: Data(run.stdout.utf8))
        #expect(listed.map(\.ticket) == ["ticketA"] && listed[0].leader == nil, "\(run)")

        run = try cluster.meridian("ticket", "grant", "--site", site1, "--wait")
        #expect(run.status == 0, "\(run)\n\(cluster.logTail())")
        #expect(run.stdout.contains("grant succeeded!"), "\(run)")

        // Every member learns the leader within a few seconds.
        for member in [arbitrator, site2, site1] {
            let seen = try await cluster.waitForLeader(site1, at: member, within: .seconds(5))
            #expect(seen, "\(member) does not show \(site1) as leader\n\(cluster.logTail())")
        }
        run = try cluster.meridian("ticket", "status", "--site", site2)
        #expect(run.status == 0 && run.stdout.contains("leader:       \(site1)"), "\(run)")

        // Granting a granted ticket elsewhere is refused: exit 1, as booth's client.
        run = try cluster.meridian("ticket", "grant", "--site", site2, "--wait")
        #expect(run.status == 1, "\(run)")
        #expect(run.stderr.contains("You're granting a granted ticket"), "\(run)")

        // Revoke at site 2: boothd redirects to the holder, the client follows.
        run = try cluster.meridian("ticket", "revoke", "--site", site2, "--wait")
        #expect(run.status == 0, "\(run)\n\(cluster.logTail())")
        #expect(run.stdout.contains("granted at \(site1)") && run.stdout.contains("revoke succeeded!"), "\(run)")

        run = try cluster.meridian("ticket", "list", "--site", site1)
        #expect(run.status == 0 && run.stdout.contains("ticket: ticketA, leader: NONE"), "\(run)")
    }

    @Test(
        "failures map to the exit-code table",
        .timeLimit(.minutes(2)))
    func failuresExitNonZero() async throws {
        // One running site of three is enough: every request here is answered locally.
        let cluster = try BoothdCluster(
            name: "errors", addresses: ["127.0.22.11", "127.0.22.12", "127.0.22.13"], port: 9962)
        defer { cluster.stop() }
        try await cluster.start(only: [0])
        let (site1, site2, arbitrator) = (cluster.addresses[0], cluster.addresses[1], cluster.addresses[2])

        // Revoke of a free ticket: booth's client says "ticket is not owned" and exits 0.
        var run = try cluster.meridian("ticket", "revoke", "--site", site1)
        #expect(run.status == 7 && run.stderr.contains("ticket is not owned"), "\(run)")

        // A ticket the daemon does not know (the client's configuration has one more).
        let extra = try cluster.writeConfig(named: "extra.conf", tickets: ["ticketA", "ticketB"])
        run = try cluster.meridian("ticket", "grant", "ticketB", "--site", site1, config: extra)
        #expect(run.status == 5 && run.stderr.contains("does not exist at \(site1)"), "\(run)")

        // A ticket in neither configuration: refused before connecting, configured ones named.
        run = try cluster.meridian("ticket", "grant", "nosuch", "--site", site1)
        #expect(run.status == 5 && run.stderr.contains("configured tickets: ticketA"), "\(run)")

        // Another key: boothd refuses the request.
        let otherKey = try cluster.writeKey(named: "otherkey")
        let wrongKey = try cluster.writeConfig(named: "wrongkey.conf", authFile: otherKey)
        run = try cluster.meridian("ticket", "list", "--site", site1, config: wrongKey)
        #expect(run.status == 4 && run.stderr.contains("authentication failed"), "\(run)")
        run = try cluster.meridian("ticket", "grant", "--site", site1, config: wrongKey)
        #expect(run.status == 4, "\(run)")

        // A member without a daemon: exit 3, with the address, port and how to start one.
        run = try cluster.meridian("ticket", "list", "--site", site2)
        #expect(run.status == 3, "\(run)")
        #expect(run.stderr.contains("\(site2) port 9962") && run.stderr.contains("meridian-ticketd --config"), "\(run)")

        // Arbitrators cannot grant; not a member; no --site and no local member: usage (2).
        run = try cluster.meridian("ticket", "grant", "--site", arbitrator)
        #expect(run.status == 2 && run.stderr.contains("arbitrator"), "\(run)")
        run = try cluster.meridian("ticket", "list", "--site", "127.0.22.99")
        #expect(run.status == 2 && run.stderr.contains("not a member"), "\(run)")
        run = try cluster.meridian("ticket", "list")
        #expect(run.status == 2 && run.stderr.contains("--site"), "\(run)")
        run = try cluster.meridian("ticket", "list", "--bogus")
        #expect(run.status == 2, "\(run)")

        // A configuration error names file and line.
        let broken = cluster.directory + "/broken.conf"
        try "site = 127.0.22.11\nticket = \"a\"\n  expire = soon\n".write(toFile: broken, atomically: true, encoding: .utf8)
        run = try cluster.meridian("ticket", "list", "--site", site1, config: broken)
        #expect(run.status == 2 && run.stderr.contains("broken.conf:3"), "\(run)")

        // Peers parses boothd's text.
        run = try cluster.meridian("ticket", "peers", "--site", site1, "--json")
        #expect(run.status == 0, "\(run)")
        let peers = try JSONDecoder().decode(PeerListReply.self, from: Data(run.stdout.utf8))
        #expect(peers.peers.map(\.address) == [site2, arbitrator], "\(run)")
        #expect(peers.peers.map(\.kind) == ["site", "arbitrator"], "\(run)")

        // The exit-code table is in the help.
        run = try cluster.meridian("ticket", "--help")
        #expect(run.status == 0 && run.stdout.contains("EXIT STATUS"), "\(run)")
        for code in 0...7 { #expect(run.stdout.contains("\n  \(code)  "), "\(run)") }
    }
}

@Suite("TicketClient pure parts")
struct TicketClientPureTests {
    @Test func parsesBoothdList() {
        let text = """
            ticket: A, leader: NONE
            ticket: B, leader: 10.0.0.1, expires: 2026-11-22 04:30:00
            ticket: C, leader: 10.0.0.2, expires: 2026-11-22 04:30:00 (commit pending until 2026-11-22 04:31:00)
            ticket: D, leader: 10.0.0.1, expires: INF [manual mode]
            ticket: E, leader: none [manual mode]

            WARNING: The ticket D is granted to multiple sites: 10.0.0.1, 10.0.0.2. Revoke the ticket from the faulty sites.

            """
        let parsed = BoothdText.parseList(text, member: "10.0.0.1")
        #expect(parsed.tickets.map(\.ticket) == ["A", "B", "C", "D", "E"])
        #expect(parsed.tickets.map(\.leader) == [nil, "10.0.0.1", "10.0.0.2", "10.0.0.1", nil])
        #expect(parsed.tickets[1].expiresEpochMs == BoothTime.parse("2026-11-22 04:30:00"))
        #expect(parsed.tickets[1].expiresEpochMs != nil && parsed.tickets[1].grantedHere == true)
        #expect(parsed.tickets[2].commitPendingUntilEpochMs == BoothTime.parse("2026-11-22 04:31:00"))
        #expect(parsed.tickets[3].expiresEpochMs == nil && parsed.tickets[3].mode == "manual")
        #expect(parsed.tickets[4].mode == "manual" && parsed.tickets[0].mode == "auto")
        #expect(parsed.tickets.allSatisfy { $0.term == nil && $0.state == nil })
        #expect(parsed.warnings.count == 1 && parsed.unparsed.isEmpty)
    }

    @Test func boothTimeRoundTrips() {
        let ms = BoothTime.parse("2026-11-22 04:30:00")
        #expect(ms.map(BoothTime.format(epochMilliseconds:)) == "2026-11-22 04:30:00")
        #expect(BoothTime.parse("INF") == nil)
    }

    @Test func parsesBoothdPeers() {
        let never = BoothTime.format(epochMilliseconds: 0)
        let text = """
            site         127.0.1.12, last recv: 2026-11-22 04:23:50
            \tSent pkts:2 error:1 resends:3
            \tRecv pkts:4 error:5 authfail:6 invalid:7

            arbitrator   127.0.1.13, last recv: \(never)
            \tSent pkts:0 error:0 resends:0
            \tRecv pkts:0 error:0 authfail:0 invalid:0


            """
        let reply = BoothdText.parsePeers(text, member: "127.0.1.11")
        #expect(reply.member == "127.0.1.11")
        #expect(reply.peers.map(\.address) == ["127.0.1.12", "127.0.1.13"])
        let p = reply.peers[0]
        let counters: [Int] = [p.sent, p.sendErrors, p.resends, p.received, p.receiveErrors, p.authFailures, p.invalid]
        #expect(counters == [2, 1, 3, 4, 5, 6, 7])
        #expect(p.lastReceivedEpochMs == BoothTime.parse("2026-11-22 04:23:50"))
        #expect(reply.peers[1].lastReceivedEpochMs == nil && reply.peers[1].kind == "arbitrator")
    }

    @Test func givesUpAtTheThirdInterimReplyWithoutWait() {
        var c = CommandConversation(command: .grant, options: [], addressesBySiteID: [:])
        #expect(c.onReply(result: .more, ticket: nil) == .readNextReply(notice: .requestSent))
        #expect(c.onReply(result: .more, ticket: nil) == .readNextReply(notice: nil))
        #expect(c.onReply(result: .more, ticket: nil) == .finish(.gaveUpWaiting))

        var w = CommandConversation(command: .grant, options: [.wait], addressesBySiteID: [:])
        for _ in 0..<5 { _ = w.onReply(result: .more, ticket: nil) }
        #expect(w.onReply(result: .success, ticket: nil) == .finish(.succeeded(commitPending: false)))
    }

    @Test func commitPendingIsFinalUnlessWaitingForTheCommit() {
        var c = CommandConversation(command: .grant, options: [.wait], addressesBySiteID: [:])
        #expect(c.onReply(result: .cibPending, ticket: nil) == .finish(.succeeded(commitPending: true)))
        var w = CommandConversation(command: .grant, options: [.wait, .waitCommit], addressesBySiteID: [:])
        #expect(w.onReply(result: .more, ticket: nil) == .readNextReply(notice: .requestSent))
        #expect(w.onReply(result: .cibPending, ticket: nil) == .readNextReply(notice: .waitingForCommit))
        #expect(w.onReply(result: .cibPending, ticket: nil) == .readNextReply(notice: nil))
        #expect(w.onReply(result: .syncSuccess, ticket: nil) == .finish(.succeeded(commitPending: false)))
    }

    @Test func followsRedirectsToKnownSitesOnly() throws {
        let id = try #require(SiteID.compute(address: "10.0.0.2"))
        var c = CommandConversation(command: .revoke, options: [], addressesBySiteID: [id: "10.0.0.2"])
        let leader = BoothTicketPayload(ticket: "A", leader: id, term: 1, termValidFor: 9)
        #expect(c.onReply(result: .redirect, ticket: leader) == .redirect(to: "10.0.0.2", siteID: id))
        var u = CommandConversation(command: .revoke, options: [], addressesBySiteID: [:])
        #expect(u.onReply(result: .redirect, ticket: leader) == .finish(.redirectToUnknownSite(id)))
        for _ in 1..<CommandConversation.maximumRedirects { _ = c.onReply(result: .redirect, ticket: leader) }
        #expect(c.onReply(result: .redirect, ticket: leader) == .finish(.tooManyRedirects))
    }

    @Test func listReplyHMACCoversTheHeaderOnly() throws {
        let key = AuthKey(bytes: Array("0123456789abcdef".utf8))
        var header = BoothHeader()
        header.cmd = .clientList
        let packet = BoothPacket(header: header, text: "ticket: A, leader: NONE\n")
        let bytes = BoothPeerDecoder.encode(packet, key: key, timestamp: BoothTimestamp(secs: 1, usecs: 2))
        let reply = try ClientMessages.reply(bytes, key: key)
        #expect(reply.authenticated && reply.text == "ticket: A, leader: NONE\n")
        var tampered = bytes
        tampered[40] ^= 1
        #expect(throws: ClientMessages.ReplyError.badAuthentication) { try ClientMessages.reply(tampered, key: key) }
        let other = AuthKey(bytes: Array("fedcba9876543210".utf8))
        #expect(throws: ClientMessages.ReplyError.badAuthentication) { try ClientMessages.reply(bytes, key: other) }
        let unsigned = BoothPeerDecoder.encode(packet, key: nil, timestamp: BoothTimestamp(secs: 0, usecs: 0))
        #expect(throws: ClientMessages.ReplyError.unsignedReply) { try ClientMessages.reply(unsigned, key: key) }
        #expect(try ClientMessages.reply(unsigned, key: nil).text == "ticket: A, leader: NONE\n")
    }

    @Test func requestsCarryTheTicketAndATrailerWithAnAuthfile() throws {
        let key = AuthKey(bytes: Array("0123456789abcdef".utf8))
        let ts = BoothTimestamp(secs: 1_795_000_000, usecs: 5)
        let signed = ClientMessages.request(.grant, ticket: "ticketA", options: 2, from: 7, key: key, timestamp: ts)
        #expect(signed.count == 48 + 76 + 28)
        let h = try ClientMessages.replyHeader(signed)
        #expect(h.length == 152 && h.cmd == .grant && h.options == 2 && h.opts & BoothWire.optAuth != 0)
        #expect(h.secs == ts.secs && h.usecs == ts.usecs)
        #expect(BoothAuth.verify(signed, end: signed.count, key: key))
        #expect(try BoothCodec.decodeTicket(signed, at: 48).ticket == "ticketA")
        let plain = ClientMessages.request(.list, ticket: "", options: 0, from: 0, key: nil, timestamp: ts)
        #expect(plain.count == 48 + 76)
        #expect(try ClientMessages.replyHeader(plain).secs == 0)
    }
}

// MARK: - Real processes

/// The result of one `meridian` run.
struct CommandRun: CustomStringConvertible {
    var arguments: [String]
    var status: Int32
    var stdout: String
    var stderr: String
    var description: String {
        "$ meridian \(arguments.joined(separator: " "))\nexit \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)"
    }
}

/// Debian boothd instances (sites and an arbitrator) on loopback addresses, each with its own
/// stub crm_ticket state, in a temporary directory; and a way to run the built `meridian`
/// against them. `stop()` kills every daemon and removes the directory.
final class BoothdCluster: @unchecked Sendable {
    let addresses: [String]
    let port: Int
    let directory: String
    let config: String
    let authFile: String
    private let shared: String
    private let meridianPath: String
    private var daemons: [Process] = []

    init(name: String, addresses: [String], port: Int) throws {
        self.addresses = addresses
        self.port = port
        shared = try Self.sharedDirectory()
        meridianPath = try Self.meridianBinary()
        let base = FileManager.default.temporaryDirectory.path
        directory = base + "/meridian-boothd-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chmod(directory, 0o755)
        authFile = directory + "/authkey"
        config = directory + "/booth.conf"
        _ = try writeKey(named: "authkey")
        _ = try writeConfig(named: "booth.conf")
    }

    /// Writes a fresh random key, mode 0600, owned by hacluster when that user exists.
    func writeKey(named name: String) throws -> String {
        let path = directory + "/" + name
        let key = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        try key.write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, 0o600)
        Self.giveToHacluster(path)
        return path
    }

    /// Writes a booth.conf for this cluster: sites, then the arbitrator (the last address).
    func writeConfig(named name: String, tickets: [String] = ["ticketA"], authFile: String? = nil) throws -> String {
        var text = "transport = UDP\nport = \(port)\nauthfile = \(authFile ?? self.authFile)\n"
        for a in addresses.dropLast() { text += "site = \(a)\n" }
        text += "arbitrator = \(addresses.last!)\n"
        for t in tickets {
            text += "ticket = \"\(t)\"\n    expire = 10\n    timeout = 1\n    retries = 3\n    acquire-after = 0\n"
        }
        let path = directory + "/" + name
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, 0o644)
        return path
    }

    /// Starts the daemons (all, or those at the given indices) and waits until each answers.
    func start(only indices: [Int]? = nil) async throws {
        let boothd = try #require(boothdPath, "Debian's boothd is not installed: run scripts/bootstrap (apt-get install booth)")
        let client = TicketClient(
            configuration: try BoothConfiguration.load(path: config),
            authKey: try AuthKey.load(path: authFile),
            options: .init(connectTimeout: .seconds(1), replyTimeout: .seconds(2)))
        for i in indices ?? Array(addresses.indices) {
            let address = addresses[i]
            let stub = directory + "/stub-\(address)"
            let run = directory + "/run-\(address)"
            for d in [stub, run] {
                try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
                chmod(d, 0o777)
                Self.giveToHacluster(d)
            }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: boothd)
            p.arguments = ["daemon", "-D", "-S", "-c", config, "-s", address, "-l", run + "/boothd.lock"]
            var env = ProcessInfo.processInfo.environment
            env["PATH"] = shared + "/peers/booth:" + (env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin")
            env["BOOTH_STUB_DIR"] = stub
            p.environment = env
            let log = directory + "/boothd-\(address).log"
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            p.standardOutput = handle
            p.standardError = handle
            p.standardInput = FileHandle.nullDevice
            try p.run()
            daemons.append(p)
        }
        for i in indices ?? Array(addresses.indices) {
            var ready = false
            let deadline = ContinuousClock.now + .seconds(10)
            while !ready && ContinuousClock.now < deadline {
                ready = (try? client.list(at: addresses[i])) != nil
                if !ready { try await Task.sleep(for: .milliseconds(100)) }
            }
            try #require(ready, "boothd at \(addresses[i]) did not answer within 10 s\n\(logTail())")
        }
    }

    /// Polls `meridian ticket list` at `member` until it names `leader`.
    func waitForLeader(_ leader: String, at member: String, within limit: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            let run = try meridian("ticket", "list", "--site", member)
            if run.status == 0, run.stdout.contains("ticket: ticketA, leader: \(leader),") { return true }
            try await Task.sleep(for: .milliseconds(200))
        }
        return false
    }

    /// Runs the built `meridian` with `--config` (this cluster's unless given) appended for
    /// ticket subcommands.
    func meridian(_ arguments: String..., config: String? = nil) throws -> CommandRun {
        var args = arguments
        if args.first == "ticket", !args.contains("--help") { args += ["--config", config ?? self.config] }
        // Output goes to files, so that no pipe can fill up and block the child.
        let outPath = directory + "/meridian-\(UInt32.random(in: 0...UInt32.max))"
        _ = FileManager.default.createFile(atPath: outPath + ".out", contents: nil)
        _ = FileManager.default.createFile(atPath: outPath + ".err", contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: outPath + ".out")
            try? FileManager.default.removeItem(atPath: outPath + ".err")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: meridianPath)
        p.arguments = args
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath + ".out"))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath + ".err"))
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return CommandRun(
            arguments: args, status: p.terminationStatus,
            stdout: (try? String(contentsOfFile: outPath + ".out", encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: outPath + ".err", encoding: .utf8)) ?? "")
    }

    /// The last lines of every daemon's log, for failure messages.
    func logTail(lines: Int = 15) -> String {
        addresses.map { a in
            let text = (try? String(contentsOfFile: directory + "/boothd-\(a).log", encoding: .utf8)) ?? ""
            return "--- boothd \(a)\n" + text.split(separator: "\n").suffix(lines).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// Kills every daemon (SIGTERM, then SIGKILL after 2 s) and removes the directory.
    func stop() {
        for p in daemons where p.isRunning { p.terminate() }
        let deadline = ContinuousClock.now + .seconds(2)
        while daemons.contains(where: \.isRunning) && ContinuousClock.now < deadline { usleep(20_000) }
        for p in daemons where p.isRunning { kill(p.processIdentifier, SIGKILL) }
        for p in daemons { p.waitUntilExit() }
        daemons.removeAll()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// `../shared` next to the package root, else `$MERIDIAN_SHARED`.
    static func sharedDirectory() throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let candidates = [root.deletingLastPathComponent().appendingPathComponent("shared").path]
            + [ProcessInfo.processInfo.environment["MERIDIAN_SHARED"]].compactMap { $0 }
        let found = candidates.first { FileManager.default.isExecutableFile(atPath: $0 + "/peers/booth/crm_ticket") }
        let comment: Comment = "no shared/peers/booth/crm_ticket in \(candidates); set MERIDIAN_SHARED to the shared directory"
        return try #require(found, comment)
    }

    /// The `meridian` executable of the current build: in the products directory that holds
    /// this test bundle.
    static func meridianBinary() throws -> String {
        if let explicit = ProcessInfo.processInfo.environment["MERIDIAN_BIN"] { return explicit }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            dir = URL(fileURLWithPath: exe)
        }
        var candidates: [String] = []
        for _ in 0..<4 {
            dir.deleteLastPathComponent()
            candidates.append(dir.appendingPathComponent("meridian").path)
        }
        let found = candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
        let comment: Comment = "the meridian executable is not in \(candidates); build it first (`swift build --product meridian` with the same --scratch-path), or set MERIDIAN_BIN"
        return try #require(found, comment)
    }

    /// boothd drops to hacluster:haclient; give it what it must read or write.
    static func giveToHacluster(_ path: String) {
        guard geteuid() == 0, let user = getpwnam("hacluster") else { return }
        let group = getgrnam("haclient")?.pointee.gr_gid ?? user.pointee.pw_gid
        _ = chown(path, user.pointee.pw_uid, group)
    }
}
