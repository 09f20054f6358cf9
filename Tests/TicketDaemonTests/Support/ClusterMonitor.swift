import Foundation
import TicketWire

#if canImport(Glibc)
    import Glibc
#endif

/// Watches a cluster from a thread of its own:
///
/// * every `interval` (20 ms by default) lists every Meridian member (JSON) and counts the
///   members that report `grantedHere`;
/// * every 5 ms reads every Meridian site's backend file, counts the records a consumer would
///   honour (granted and not past `expiresEpochMs`) at the moment of reading, and keeps the
///   history of every distinct record with the time it was first seen (a daemon rewrites its
///   record at most every few milliseconds, at a grant, so none is missed in practice).
///
/// A sample with more than one holder by either measure is a violation. Members that do not
/// answer (killed, restarting) are left out of that sample.
final class ClusterMonitor: @unchecked Sendable {
    struct Sample: Sendable {
        var epochMs: Int64
        var listedHolders: [String]
        var validBackends: [String]
    }

    struct BackendChange: Sendable {
        var site: String
        var seenEpochMs: Int64
        var record: BackendRecord
    }

    private let lock = NSLock()
    private var stopped = false
    private var samples: [Sample] = []
    private var violations: [String] = []
    private var history: [BackendChange] = []
    private var rounds = 0
    private var thread: Thread?
    private let done = DispatchSemaphore(value: 0)

    let listed: [String]
    let backends: [(site: String, path: String)]
    let port: UInt16
    let key: AuthKey
    let ticket: String
    let interval: Duration

    init(cluster: TestCluster, interval: Duration = .milliseconds(20)) {
        listed = cluster.members.filter { $0.implementation == .meridian }.map(\.address)
        backends = cluster.members.filter { $0.implementation == .meridian && $0.kind == .site }
            .map { ($0.address, cluster.backendPath($0.address)) }
        port = cluster.port
        key = cluster.key
        ticket = cluster.ticket
        self.interval = interval
    }

    func start() {
        let t = Thread { [self] in
            var last: [String: BackendRecord] = [:]
            var nextList = wallEpochMs()
            while !isStopped {
                let listNow = wallEpochMs() >= nextList
                if listNow { nextList = wallEpochMs() + interval.millisecondCount }
                sampleOnce(&last, listing: listNow)
                usleep(5_000)
            }
            done.signal()
        }
        t.name = "ClusterMonitor"
        thread = t
        t.start()
    }

    /// Stops the thread and waits for it.
    func stop() {
        lock.withLock { stopped = true }
        if thread != nil { done.wait() }
        thread = nil
    }

    private var isStopped: Bool { lock.withLock { stopped } }

    private func sampleOnce(_ last: inout [String: BackendRecord], listing: Bool) {
        var holders: [String] = []
        for a in listed where listing {
            let c = TestClient(address: a, port: port, key: key, timeout: .milliseconds(500))
            if let l = try? c.list(), let t = l.tickets.first(where: { $0.ticket == ticket }), t.grantedHere == true {
                holders.append(a)
            }
        }
        var valid: [String] = []
        var changes: [BackendChange] = []
        for (site, path) in backends {
            guard let d = FileManager.default.contents(atPath: path),
                let r = try? JSONDecoder().decode(BackendRecord.self, from: d)
            else { continue }
            let now = wallEpochMs()
            if r.isValid(atEpochMs: now) { valid.append(site) }
            if last[site] != r {
                last[site] = r
                changes.append(BackendChange(site: site, seenEpochMs: now, record: r))
            }
        }
        let s = Sample(epochMs: wallEpochMs(), listedHolders: holders, validBackends: valid)
        lock.withLock {
            if listing { samples.append(s) }
            history += changes
            rounds += 1
            if holders.count > 1 { violations.append("at \(s.epochMs): \(holders) all report grantedHere") }
            if valid.count > 1 { violations.append("at \(s.epochMs): backend files of \(valid) are all valid") }
        }
    }

    /// Waits until the thread has completed a full round (files and lists) that started after
    /// this call, so the history includes what the caller has just observed.
    func catchUp() async throws {
        let start = lock.withLock { rounds }
        let deadline = wallEpochMs() + 2000
        while lock.withLock({ rounds }) < start + 2 + Int(interval.millisecondCount / 5) && wallEpochMs() < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    var allSamples: [Sample] { lock.withLock { samples } }
    var allViolations: [String] { lock.withLock { violations } }
    var backendHistory: [BackendChange] { lock.withLock { history } }

    func history(of site: String) -> [BackendRecord] { backendHistory.filter { $0.site == site }.map(\.record) }
}
