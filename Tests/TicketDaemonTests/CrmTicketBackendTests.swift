import Foundation
import Testing
import TicketWire

#if canImport(Glibc)
import Glibc
#endif

/// The `crm_ticket` backend, against the stub `crm_ticket` of ../shared/peers/booth (it keeps
/// Pacemaker's ticket state in files): a grant sets granted/owner/expires/term as Booth 1.0
/// does, and after `kill -9` of the daemon its lease guard revokes the ticket at the deadline.
@Suite("crm_ticket backend", .serialized)
struct CrmTicketBackendTests {
    @Test("grant writes the ticket through crm_ticket; the lease guard revokes it after kill -9", .timeLimit(.minutes(1)))
    func crmTicketBackend() async throws {
        let (a, b, r) = ("127.0.62.1", "127.0.62.2", "127.0.62.3")
        let c = try TestCluster(name: "crm-ticket", port: 29962, members: [.site(a), .site(b), .arbitrator(r)])
        defer { c.shutdown() }
        // A wrapper gives the stub a state directory of its own (it reads BOOTH_STUB_DIR).
        let stubDir = c.memberDir(a) + "/pacemaker"
        try FileManager.default.createDirectory(atPath: stubDir, withIntermediateDirectories: true)
        let wrapper = c.memberDir(a) + "/crm_ticket"
        try "#!/bin/sh\nBOOTH_STUB_DIR='\(stubDir)' exec '\(Repository.boothPeerDirectory)/crm_ticket' \"$@\"\n"
            .write(toFile: wrapper, atomically: true, encoding: .utf8)
        chmod(wrapper, 0o755)

        try c.start(a, extraArguments: ["--backend", "crm_ticket", "--crm-ticket", wrapper])
        try c.start(b)
        try c.start(r)
        try c.grantSucceeding(at: a)

        let state = stubDir + "/\(c.ticket).state"
        func pacemaker() -> [String: String] {
            let text = (try? String(contentsOfFile: state, encoding: .utf8)) ?? ""
            var d: [String: String] = [:]
            for line in text.split(separator: "\n") {
                let kv = line.split(separator: "=", maxSplits: 1).map(String.init)
                if kv.count == 2 { d[kv[0]] = kv[1] }
            }
            return d
        }
        try await c.waitUntil("crm_ticket says granted at \(a)", timeout: .seconds(2)) {
            pacemaker()["granted"] == "true"
        }
        let granted = pacemaker()
        #expect(granted["owner"] == String(SiteID.compute(address: a)!), "owner is \(a)'s booth site id: \(granted)")
        let expires = try #require(Int64(granted["expires"] ?? ""), "expires set: \(granted)")
        let now = Int64(Date().timeIntervalSince1970)
        #expect(expires > now && expires <= now + 4, "expires within one lease: \(expires) vs now \(now)")
        let log = (try? String(contentsOfFile: stubDir + "/crm_ticket.log", encoding: .utf8)) ?? ""
        #expect(log.contains("-t \(c.ticket) -g --force -S owner -v"), "atomic grant as Booth 1.0 calls it:\n\(log)")

        // kill -9: nobody is left to renew; the guard must revoke at the (renewed) deadline.
        c.stop(a, signal: SIGKILL)
        let killedAt = Date().timeIntervalSince1970
        try await c.waitUntil("the lease guard revokes the ticket in Pacemaker", timeout: .seconds(8)) {
            pacemaker()["granted"] == "false"
        }
        let revokedAt = Date().timeIntervalSince1970
        let last = Int64(pacemaker()["expires"] ?? "") ?? 0
        #expect(revokedAt >= Double(last) - 1, "revoked at \(revokedAt), not long before the deadline \(last)")
        #expect(revokedAt - killedAt < 6, "revoked \(revokedAt - killedAt) s after the kill")
        let finalLog = (try? String(contentsOfFile: stubDir + "/crm_ticket.log", encoding: .utf8)) ?? ""
        #expect(finalLog.contains("-t \(c.ticket) -r --force"), "revoked with crm_ticket -r:\n\(finalLog)")
        // The other site takes over through the usual election.
        try await c.waitUntil("\(b) holds the ticket", timeout: .seconds(8)) { try c.listing(b).grantedHere == true }
    }
}
