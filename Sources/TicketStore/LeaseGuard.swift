import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A small process that outlives a killed daemon and revokes its grants at their deadline.
///
/// The daemon starts it (`meridian-ticketd lease-guard ...`) with a pipe on its standard input
/// and writes every ``TicketRecord`` it hands to the backend, one JSON line each. When the pipe
/// closes (daemon exited or was killed), the guard waits until each still-granted ticket's
/// `expiresEpochMs` and then applies a revoked record through the same backend. A daemon that
/// starts later stops a previous guard first (pid file), then writes its own view.
public enum LeaseGuard {
    public static func pidFile(stateDirectory: String) -> String { stateDirectory + "/lease-guard.pid" }

    /// The guard's main loop. Returns when all grants have been revoked or were not granted.
    public static func run(backend: any TicketBackend, input: FileHandle, log: (String) -> Void) {
        var latest: [String: TicketRecord] = [:]
        var buffer = Data()
        while true {
            let chunk = input.availableData
            if chunk.isEmpty { break }
            buffer.append(chunk)
            while let nl = buffer.firstIndex(of: 0x0A) {
                let line = buffer[buffer.startIndex..<nl]
                buffer = Data(buffer[(nl + 1)...])
                if let r = try? JSONDecoder().decode(TicketRecord.self, from: line) { latest[r.ticket] = r }
            }
        }
        let pending = latest.values.filter(\.granted).sorted { ($0.expiresEpochMs ?? 0) < ($1.expiresEpochMs ?? 0) }
        for r in pending {
            guard let exp = r.expiresEpochMs else {
                log("lease guard: \(r.ticket) is a manual grant without expiry; left granted")
                continue
            }
            let waitMs = exp - wallClockNanoseconds() / 1_000_000
            if waitMs > 0 { usleep(UInt32(min(waitMs, 3_600_000)) * 1000) }
            var revoked = r
            revoked.granted = false
            revoked.updatedEpochMs = wallClockNanoseconds() / 1_000_000
            do {
                try backend.apply(revoked)
                log("lease guard: daemon gone, lease of \(r.ticket) ended: revoked in \(backend.name)")
            } catch {
                log("lease guard: revoking \(r.ticket) failed: \(error)")
            }
        }
    }

    /// Stops a guard left by a previous daemon, if any.
    public static func stopPrevious(stateDirectory: String) {
        let path = pidFile(stateDirectory: stateDirectory)
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1 else { return }
        // Only signal it if it is really a guard (its command line says so).
        let cmdline = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
        if String(decoding: cmdline, as: UTF8.self).contains("lease-guard") { kill(pid, SIGTERM) }
        unlink(path)
    }
}
