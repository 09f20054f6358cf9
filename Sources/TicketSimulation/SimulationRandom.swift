/// The simulation's only source of randomness: SplitMix64 seeded from the run's seed.
///
/// Invariant: the sequence of values depends on the seed alone (no global generator, no
/// clock, no hashing), so a run replays exactly from its seed.
public struct SimulationRandom: Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value in `range` (uniform up to a negligible modulo bias).
    public mutating func int(in range: ClosedRange<Int64>) -> Int64 {
        let span = UInt64(bitPattern: range.upperBound &- range.lowerBound) &+ 1
        if span == 0 { return Int64(bitPattern: next()) }
        return range.lowerBound &+ Int64(bitPattern: next() % span)
    }

    /// An index in `0..<count`.
    public mutating func index(_ count: Int) -> Int {
        precondition(count > 0, "Internal inconsistency: random index among \(count) elements")
        return Int(next() % UInt64(count))
    }

    /// A value uniformly in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { p > 0 && unit() < p }

    /// A duration uniformly in `range`.
    public mutating func duration(in range: ClosedRange<Duration>) -> Duration {
        .nanoseconds(int(in: range.lowerBound.nanoseconds...range.upperBound.nanoseconds))
    }

    /// An exponentially distributed duration with the given mean (for arrivals of faults).
    public mutating func exponential(mean: Duration) -> Duration {
        let u = max(unit(), 1e-12)
        return .nanoseconds(Int64((-Double(mean.nanoseconds) * naturalLogarithm(u)).rounded()))
    }

    /// A child generator for an independent purpose, derived from this one.
    public mutating func split() -> SimulationRandom { SimulationRandom(seed: next()) }
}

/// Natural logarithm without Foundation (the simulation avoids it to stay portable and fast).
func naturalLogarithm(_ x: Double) -> Double {
    // log(x) = 2·atanh((x−1)/(x+1)), after scaling x into [0.5, 1) by powers of two.
    var m = x
    var e = 0.0
    while m >= 1 { m /= 2; e += 1 }
    while m < 0.5 { m *= 2; e -= 1 }
    let y = (m - 1) / (m + 1)
    let y2 = y * y
    var term = y
    var sum = 0.0
    var k = 1.0
    while k < 60 {
        sum += term / k
        term *= y2
        k += 2
    }
    return 2 * sum + e * 0.693_147_180_559_945_3
}
