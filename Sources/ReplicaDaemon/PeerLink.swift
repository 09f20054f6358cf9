import NBD
import ReplicaWire

/// An established, authenticated connection to the peer of one resource. It ends exactly
/// once (``fail(_:)``), after which the receiver thread returns and the resource treats every
/// volume as disconnected.
final class PeerLink: @unchecked Sendable {
    let socket: PeerSocket
    let peerName: String
    private let lock = PosixLock()
    private var alive = true
    private(set) var reason = ""
    /// Verify hashes run here, off the receiver thread, in arrival order.
    let worker = SerialWorker(name: "replica-worker")
    /// Resync answers rotate over four workers, so reads of the next ranges are on the disk
    /// while another range is sent (the ranges never overlap: the SyncTarget asks for each
    /// once). Measured A/B on a 2-vCPU VM, 1 GiB full resync: 1 worker 1.82-2.03 s, 2 workers
    /// 1.34-1.46 s, 4 workers 1.03-1.38 s (each run paired with a 2-worker run: 4 won every pair).
    let resyncWorkers = (0..<4).map { SerialWorker(name: "rpl-resync-\($0)") }
    /// Used by the receiver thread only.
    private var nextResyncWorker = 0

    /// The worker for the next resync request (receiver thread only).
    func takeResyncWorker() -> SerialWorker {
        defer { nextResyncWorker = (nextResyncWorker + 1) % resyncWorkers.count }
        return resyncWorkers[nextResyncWorker]
    }

    init(socket: PeerSocket, peerName: String) {
        self.socket = socket
        self.peerName = peerName
    }

    var isAlive: Bool { lock.withLock { alive } }

    /// Ends the link (idempotent): the socket is shut down so the receiver wakes up.
    func fail(_ why: String) {
        let first = lock.withLock { () -> Bool in
            guard alive else { return false }
            alive = false
            reason = why
            return true
        }
        if first { socket.shutdownBoth() }
        worker.stop()
        for w in resyncWorkers { w.stop() }
    }
}

/// A thread that runs submitted jobs one after another.
final class SerialWorker: @unchecked Sendable {
    private let condition = Condition()
    private var jobs: [@Sendable () -> Void] = []
    private var stopped = false
    private var started = false
    let name: String
    /// One aligned buffer for the jobs, which run one at a time (resync reads, verify hashes).
    let buffer = NBDBuffer(capacity: 1 << 20)

    init(name: String) { self.name = name }

    func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        defer { condition.unlock() }
        guard !stopped else { return }
        jobs.append(job)
        if !started {
            started = true
            startThread(name: name) { [self] in run() }
        }
        condition.broadcast()
    }

    func stop() {
        condition.lock()
        stopped = true
        jobs.removeAll()
        condition.broadcast()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopped { condition.wait() }
            if stopped {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }
}

/// A few threads taking jobs from one queue: large application writes run here, several at
/// once, so a deep queue keeps the local disk and the link busy in parallel (small writes stay
/// on the NBD thread: a hand-off costs more than they do).
final class WorkerPool: @unchecked Sendable {
    private let condition = Condition()
    private var jobs: [@Sendable () -> Void] = []
    private var started = false
    let threads: Int
    let name: String

    init(name: String, threads: Int) {
        self.name = name
        self.threads = threads
    }

    func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        if !started {
            started = true
            for _ in 0..<threads { startThread(name: name) { [self] in run() } }
        }
        condition.broadcast()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }
}
