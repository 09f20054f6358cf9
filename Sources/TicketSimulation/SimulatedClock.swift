import TicketLease

/// One member's clock: `local = offset + true·(1 + drift)`, drift in parts per million.
///
/// It models the clock a shell would use for persisted instants (a wall clock, or
/// CLOCK_BOOTTIME converted through the wall clock): it keeps running while the member is
/// down, so an instant persisted before a crash means the same moment after the restart.
/// Invariant: `local(at:)` is strictly increasing in true time (|drift| < 10⁶ ppm).
public struct SimulatedClock: Sendable, Hashable, CustomStringConvertible {
    /// Local reading at true time zero, in nanoseconds.
    public var offset: Int64
    /// Rate error against true time, in parts per million (positive: runs fast).
    public var driftPPM: Int64

    public init(offset: Int64, driftPPM: Int64) {
        precondition(abs(driftPPM) < 500_000, "Internal inconsistency: clock drift \(driftPPM) ppm")
        self.offset = offset
        self.driftPPM = driftPPM
    }

    /// The local reading at true time `t` (nanoseconds since the start of the run).
    public func local(at t: Int64) -> LeaseInstant {
        LeaseInstant(nanoseconds: offset + t + (t * driftPPM) / 1_000_000)
    }

    /// The earliest true time at which the local clock reads at least `instant`.
    public func trueTime(reaching instant: LeaseInstant) -> Int64 {
        let delta = instant.nanoseconds - offset
        var t = (delta * 1_000_000) / (1_000_000 + driftPPM)
        while local(at: t).nanoseconds < instant.nanoseconds { t += 1 }
        while local(at: t - 1).nanoseconds >= instant.nanoseconds { t -= 1 }
        return t
    }

    public var description: String { "offset \(Double(offset) / 1e9)s drift \(driftPPM)ppm" }
}
