import Foundation
import Testing
import TicketWire

#if canImport(Glibc)
    import Glibc
#endif

/// Interoperability with Debian's boothd (Booth 1.0) as a real peer: boothd and
/// meridian-ticketd in one booth cluster, booth's own numbers (`expire = 10`, `timeout = 1`,
/// `retries = 3`: whole seconds on the wire). Nested in the serialized suite.
///
/// boothd runs as `boothd daemon -D -S -c CONF -s ADDR -l LOCK` (see
/// /work/shared/peers/booth/README.md); sites get the stub `crm_ticket` first on PATH and their
/// own `BOOTH_STUB_DIR`. boothd answers list requests with its text, whatever the options.
extension TicketDaemonProcessTests {
    @Suite("interoperability with Debian's boothd")
    struct BoothdInterop {
        static let boothTimes = ["expire = 10", "timeout = 1", "retries = 3", "acquire-after = 0"]
        static let expire: Int64 = 10_000
        /// Allowance for the time from boothd setting its lease to the stub crm_ticket logging the
        /// call (system(), sh, bash, `date`): 3-15 ms on an idle machine, more under load. The
        /// check still catches a takeover that ignores boothd's lease (it would be ~1 s early).
        static let stubDelayMs: Int64 = 100

        /// The leader boothd lists for `ticket` (nil for NONE), from its text
        /// `ticket: T, leader: L[, expires: ...]`.
        static func boothdLeader(_ c: TestCluster, _ at: String) throws -> String? {
            let text = try c.client(at).listText(json: false)
            guard let line = text.split(separator: "\n").first(where: { $0.contains("ticket: \(c.ticket),") }) else {
                throw HarnessError("boothd at \(at) does not list \(c.ticket): \(text)")
            }
            guard let r = line.range(of: "leader: ") else { throw HarnessError("no leader in boothd's line: \(line)") }
            let leader = line[r.upperBound...].prefix { $0 != "," && $0 != " " && $0 != "\n" }
            return leader.uppercased() == "NONE" ? nil : String(leader)
        }

        /// Grants recorded by the stub crm_ticket of a boothd site (`-t TICKET -g ...`, not
        /// boothd's `-g -t any-ticket-name` probe): when the stub ran, in epoch ms, and the
        /// `expires` boothd passed (epoch seconds, rounded by boothd).
        static func stubGrants(_ c: TestCluster, _ site: String) -> [(atMs: Int64, expiresS: Int64)] {
            let log = (try? String(contentsOfFile: c.stubDir(site) + "/crm_ticket.log", encoding: .utf8)) ?? ""
            return log.split(separator: "\n").compactMap { line in
                let f = line.split(separator: " ").map(String.init)
                guard f.count > 3, f.contains("-g"), let t = f.firstIndex(of: "-t"), t + 1 < f.count,
                    f[t + 1] == c.ticket, let at = Double(f[0])
                else { return nil }
                let expires = f.firstIndex(of: "expires").flatMap { i in
                    i + 1 < f.count ? Int64(f[i + 1].dropFirst(2)) : nil
                }
                return (Int64(at * 1000), expires ?? 0)
            }
        }

        /// Every `crm_ticket` call the stub logged for this cluster's ticket, in order.
        static func stubCalls(_ c: TestCluster, _ site: String) -> [String] {
            let log = (try? String(contentsOfFile: c.stubDir(site) + "/crm_ticket.log", encoding: .utf8)) ?? ""
            return log.split(separator: "\n").map(String.init).filter { $0.contains("-t \(c.ticket) ") }
        }

        @Test(
            "boothd as arbitrator: a Meridian site's grant is listed by boothd; failover through boothd's vote",
            .timeLimit(.minutes(1)))
        func boothdArbitrator() async throws {
            try await KnownFailures.run("boothdArbitrator") {
                let (a, b, r) = ("127.0.58.1", "127.0.58.2", "127.0.58.3")
                let c = try TestCluster(
                    name: "boothd-arbitrator", port: 29958,
                    members: [.site(a), .site(b), .arbitrator(r, .boothd)],
                    ticketLines: Self.boothTimes)
                defer { c.shutdown() }
                for m in [r, a, b] { try c.start(m) }

                let grant = try c.client(a).grant(c.ticket)
                #expect(grant.last?.result == .success, "grant at \(a): \(grant)\n\(c.allLogTails())")
                try await c.waitUntil("boothd and \(b) list \(a) as the leader", timeout: .seconds(3)) {
                    try Self.boothdLeader(c, r) == a && c.listing(b).leader == a
                }
                let monitor = ClusterMonitor(cluster: c)
                monitor.start()
                defer { monitor.stop() }
                try await Task.sleep(for: .milliseconds(1500))

                c.stop(a, signal: SIGKILL)
                let killedAt = wallEpochMs()
                let deadline = try #require(c.backend(a)?.expiresEpochMs)
                let took = try await c.waitUntil(
                    "\(b) holds the ticket through boothd's vote",
                    timeout: .milliseconds(Self.expire + 5000)
                ) {
                    try c.listing(b).grantedHere == true
                }
                print(
                    "[boothd arbitrator] kill -9 of \(a) -> \(b) holds after \(took) (remaining lease \(deadline - killedAt) ms)"
                )
                #expect(wallEpochMs() - killedAt <= Self.expire + 3000)
                try await c.waitUntil("boothd lists \(b) as the leader", timeout: .seconds(3)) {
                    try Self.boothdLeader(c, r) == b
                }
                try await monitor.catchUp()
                let firstB = try #require(monitor.history(of: b).first { $0.granted })
                #expect(
                    firstB.updatedEpochMs >= deadline,
                    "\(b) granted at \(firstB.updatedEpochMs) before \(a)'s lease ended at \(deadline)")
                monitor.stop()
                #expect(monitor.allViolations.isEmpty, "\(monitor.allViolations)")
                #expect(c.isRunning(r), "boothd died\n\(c.logTail(r))")
            }
        }

        @Test(
            "boothd as a site: grant at boothd, Meridian follows, takes over, boothd follows it and takes it back",
            .timeLimit(.minutes(2)))
        func boothdSite() async throws {
            try await KnownFailures.run("boothdSite") {
                let (s, m, r) = ("127.0.59.1", "127.0.59.2", "127.0.59.3")
                let c = try TestCluster(
                    name: "boothd-site", port: 29959,
                    members: [.site(s, .boothd), .site(m), .arbitrator(r)],
                    ticketLines: Self.boothTimes)
                defer { c.shutdown() }
                for x in [s, m, r] { try c.start(x) }
                let monitor = ClusterMonitor(cluster: c)
                monitor.start()
                defer { monitor.stop() }

                // 1. Grant at boothd: Meridian's site and arbitrator follow it.
                let grant = try c.client(s).grant(c.ticket)
                print("[boothd site] grant at boothd: \(grant)")
                #expect(grant.last.map { [.success, .async].contains($0.result) } == true, "grant at boothd: \(grant)")
                try await c.waitUntil("boothd holds and Meridian's members follow it", timeout: .seconds(5)) {
                    try Self.boothdLeader(c, s) == s && c.listing(m).leader == s && c.listing(r).leader == s
                }
                let followed = try c.listing(m)
                print("[boothd site] Meridian follows boothd in term \(followed.term ?? 0)")
                #expect(followed.grantedHere == false && (followed.expiresEpochMs ?? 0) > wallEpochMs())

                // 2. kill -9 boothd: the Meridian site takes over after boothd's lease.
                try await Task.sleep(for: .milliseconds(1000))
                c.stop(s, signal: SIGKILL)
                let killedAt = wallEpochMs()
                // boothd's lease ends `expire` after it (re)granted; the stub runs a few ms after that.
                let lastGrant = try #require(
                    Self.stubGrants(c, s).last,
                    "the stub crm_ticket never recorded boothd's grant\n\(c.logTail(s))")
                let boothdLeaseEnd = lastGrant.atMs + Self.expire
                let took = try await c.waitUntil(
                    "\(m) holds after boothd was killed",
                    timeout: .milliseconds(Self.expire + 5000)
                ) {
                    try c.listing(m).grantedHere == true
                }
                print("[boothd site] kill -9 of boothd -> \(m) holds after \(took)")
                try await monitor.catchUp()
                let firstM = try #require(monitor.history(of: m).first { $0.granted })
                print(
                    "[boothd site] \(m) granted \(firstM.updatedEpochMs - boothdLeaseEnd) ms after boothd's lease end (stub time + expire)"
                )
                #expect(
                    firstM.updatedEpochMs >= boothdLeaseEnd - Self.stubDelayMs,
                    "\(m) granted at \(firstM.updatedEpochMs), before boothd's lease ended (\(boothdLeaseEnd))")
                #expect(firstM.updatedEpochMs > lastGrant.expiresS * 1000 - 1000, "before boothd's crm_ticket expiry")
                #expect(wallEpochMs() - killedAt <= Self.expire + 3000)

                // 3. Restart boothd: it follows the Meridian site and refuses a grant.
                try c.start(s)
                // boothd lists the leader as soon as a status answer names it, but it is a follower
                // only once the leader's UPDATE made it write the ticket (`crm_ticket -r`, owner =
                // the leader). A grant sent before that is queued behind an election that boothd
                // starts itself, and answered seconds later: wait for the CIB write.
                let mID = try #require(SiteID.compute(address: m))
                try await c.waitUntil(
                    "the restarted boothd follows \(m) (list, and crm_ticket owner)", timeout: .seconds(5)
                ) {
                    try Self.boothdLeader(c, s) == m && Self.stubCalls(c, s).last?.contains("-v\(mID)") == true
                }
                let over = try c.client(s, timeout: .seconds(10)).grant(c.ticket)
                #expect(over.last?.result == .overgrant, "grant at boothd while \(m) holds: \(over)")
                #expect(try c.listing(m).grantedHere == true, "\(m) still holds after boothd's refused grant")

                // 4. kill -9 the Meridian holder: boothd takes the ticket back.
                try await Task.sleep(for: .milliseconds(1000))
                let grantsBefore = Self.stubGrants(c, s).count
                c.stop(m, signal: SIGKILL)
                let mDeadline = try #require(c.backend(m)?.expiresEpochMs)
                let back = try await c.waitUntil(
                    "boothd holds the ticket again",
                    timeout: .milliseconds(Self.expire + 5000)
                ) {
                    try Self.boothdLeader(c, s) == s && c.listing(r).leader == s
                }
                print("[boothd site] kill -9 of \(m) -> boothd holds after \(back)")
                try await c.waitUntil("boothd grants the ticket in its CIB (stub crm_ticket -g)", timeout: .seconds(5))
                {
                    Self.stubGrants(c, s).count > grantsBefore
                }
                let firstBack = try #require(Self.stubGrants(c, s).dropFirst(grantsBefore).first)
                #expect(
                    firstBack.atMs >= mDeadline,
                    "boothd granted at \(firstBack.atMs), before \(m)'s lease ended at \(mDeadline)")
                monitor.stop()
                #expect(monitor.allViolations.isEmpty, "\(monitor.allViolations)")
            }
        }
    }
}
