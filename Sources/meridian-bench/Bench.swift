import ArgumentParser
import Foundation
import TicketWire
#if canImport(Glibc)
import Glibc
#endif

@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meridian-bench",
        abstract: "Benchmarks that print numbers; each measures Meridian and its baseline in the same run.",
        subcommands: [TicketFailover.self, TicketGrant.self, SchedulerScale.self, SchedulerRun.self, VolumeBench.self])
}

struct Common: ParsableArguments {
    @Option(help: "Number of runs.") var runs: Int = 10
    @Option(help: "meridian-ticketd binary (default: next to this program).") var ticketd: String?
    @Option(help: "Directory with the stub crm_ticket for boothd (default: ../shared/peers/booth or $MERIDIAN_SHARED/peers/booth).")
    var boothStub: String?
    @Flag(help: "Skip the Debian boothd baseline.") var noBaseline = false
    @Option(help: "First three octets of the loopback addresses to use.") var net: String = "127.0.77"
    @Option(help: "UDP/TCP port.") var port: UInt16 = 9977

    var ticketdPath: String {
        if let ticketd { return ticketd }
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return (me as NSString).deletingLastPathComponent + "/meridian-ticketd"
    }

    var stubPath: String {
        if let boothStub { return boothStub }
        if let s = ProcessInfo.processInfo.environment["MERIDIAN_SHARED"] { return s + "/peers/booth" }
        return FileManager.default.currentDirectoryPath + "/../shared/peers/booth"
    }

    func implementations() -> [BenchCluster.Implementation] { noBaseline ? [.meridian] : [.meridian, .boothd] }

    func cluster(_ impl: BenchCluster.Implementation) throws -> BenchCluster {
        let base = impl == .meridian ? net : net.split(separator: ".").dropLast().joined(separator: ".") + ".\((Int(net.split(separator: ".").last!) ?? 77) + 1)"
        return try BenchCluster(impl: impl, base: base, port: port, ticketd: ticketdPath, sharedBooth: stubPath)
    }
}

func fmt(_ ms: Double) -> String { String(format: "%9.1f ms", ms) }
func line(_ label: String, _ xs: [Double]) {
    let s = summary(xs)
    print("  \(label.padding(toLength: 46, withPad: " ", startingAt: 0)) min \(fmt(s.min))  median \(fmt(s.median))  max \(fmt(s.max))")
}

struct TicketFailover: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ticket-failover",
        abstract: "kill -9 the holding site's daemon; time until the other site holds the ticket.",
        discussion: "Two sites and an arbitrator on loopback, expire=10 timeout=1 retries=3, auth on.")

    @OptionGroup var common: Common

    func run() throws {
        var medians: [BenchCluster.Implementation: Double] = [:]
        for impl in common.implementations() {
            let c = try common.cluster(impl)
            defer { c.stopAll() }
            var failover: [Double] = []
            var beyondLease: [Double] = []
            print("\(impl.rawValue): \(common.runs) runs")
            for r in 0..<common.runs {
                try c.startAll()
                let g = try c.client.grant(c.addresses[0], ticket: BenchCluster.ticket)
                guard g == .success else { print("  grant failed: \(g)"); c.stopAll(); continue }
                // Kill at varying points of the renewal cycle.
                usleep(UInt32(200_000 + (r * 530_000) % 4_800_000))
                var remainingAtB: Double?
                if impl == .meridian, let l = try c.client.listJSON(c.addresses[1]),
                   let e = l.tickets.first?.expiresEpochMs {
                    remainingAtB = Double(e)
                }
                let t0 = nowMs()
                c.kill9(0)
                var t1: Double?
                while nowMs() - t0 < 30_000 {
                    if impl == .meridian {
                        if let l = try? c.client.listJSON(c.addresses[1]), l.tickets.first?.grantedHere == true { t1 = nowMs(); break }
                    } else if (try? c.client.leader(c.addresses[1], ticket: BenchCluster.ticket)) == c.addresses[1] {
                        t1 = nowMs()
                        break
                    }
                    usleep(1000)
                }
                guard let t1 else { print("  run \(r): no takeover within 30 s"); c.stopAll(); continue }
                failover.append(t1 - t0)
                var extra = ""
                if let e = remainingAtB {
                    beyondLease.append(t1 - e)
                    extra = String(format: ", lease remaining at kill %.1f ms, beyond lease %.1f ms", e - t0, t1 - e)
                }
                print(String(format: "  run %2d: takeover after %.1f ms%@", r + 1, t1 - t0, extra))
                c.stopAll()
            }
            line("\(impl.rawValue) failover", failover)
            if !beyondLease.isEmpty { line("\(impl.rawValue) failover minus remaining lease", beyondLease) }
            medians[impl] = summary(failover).median
        }
        if let m = medians[.meridian], let b = medians[.boothd] {
            print(String(format: "ratio median failover meridian/boothd: %.3f", m / b))
        }
    }
}

struct TicketGrant: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ticket-grant",
        abstract: "Grant latency: from the client's request until every member reports the new leader.")

    @OptionGroup var common: Common

    func run() throws {
        var medians: [BenchCluster.Implementation: Double] = [:]
        for impl in common.implementations() {
            let c = try common.cluster(impl)
            defer { c.stopAll() }
            try c.startAll()
            usleep(1_200_000)  // let startup status exchanges settle
            var lat: [Double] = []
            print("\(impl.rawValue): \(common.runs) runs")
            for r in 0..<common.runs {
                let t0 = nowMs()
                _ = try c.client.exchange(c.addresses[0], c.client.request(.grant, ticket: BenchCluster.ticket,
                                                                           options: 0)) { _ in true }
                var t1: Double?
                while nowMs() - t0 < 10_000 {
                    var all = true
                    for a in c.addresses where (try? c.client.leader(a, ticket: BenchCluster.ticket)) != c.addresses[0] {
                        all = false
                        break
                    }
                    if all { t1 = nowMs(); break }
                }
                guard let t1 else { print("  run \(r + 1): not all members report the leader within 10 s"); continue }
                lat.append(t1 - t0)
                _ = try? c.client.revoke(c.addresses[0], ticket: BenchCluster.ticket)
                let t2 = nowMs()
                while nowMs() - t2 < 5_000 {
                    if c.addresses.allSatisfy({ (try? c.client.leader($0, ticket: BenchCluster.ticket)) == Optional<String>.none }) { break }
                    usleep(2000)
                }
                usleep(300_000)
            }
            line("\(impl.rawValue) grant until all report leader", lat)
            medians[impl] = summary(lat).median
        }
        if let m = medians[.meridian], let b = medians[.boothd] {
            print(String(format: "ratio median grant latency meridian/boothd: %.3f", m / b))
        }
    }
}
