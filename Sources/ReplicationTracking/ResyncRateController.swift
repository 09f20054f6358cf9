/// DRBD's dynamic resync-rate controller (`c-plan-ahead`), run by the SyncTarget every step
/// (100 ms): how many bytes of resync requests to send now.
///
/// With `planAhead` > 0 it aims to keep `fillTarget` bytes in flight (or, with fillTarget 0, as
/// many as `delayTarget` of latency at the measured rate), correcting the difference over
/// `planAhead / step` steps, capped by `maxRate`. With `planAhead` 0 it requests at the fixed
/// `resync-rate`. It steps aside for application I/O: a step after application I/O drops to
/// `minRate` (DRBD's `c-min-rate` throttle), never lower.
public struct ResyncRateController: Sendable {
    /// Typed DRBD options (drbd.conf: c-plan-ahead and c-delay-target in 0.1 s, c-fill-target in
    /// 512-byte sectors, rates in KiB/s).
    public struct Settings: Sendable, Equatable {
        public var planAhead: Duration
        public var fillTarget: UInt64
        public var delayTarget: Duration
        public var maxRate: UInt64
        public var minRate: UInt64
        public var fixedRate: UInt64

        public init(planAhead: Duration, fillTarget: UInt64, delayTarget: Duration, maxRate: UInt64, minRate: UInt64,
                    fixedRate: UInt64) {
            self.planAhead = planAhead
            self.fillTarget = fillTarget
            self.delayTarget = delayTarget
            self.maxRate = maxRate
            self.minRate = minRate
            self.fixedRate = fixedRate
        }

        /// DRBD 9's defaults: c-plan-ahead 20 (2 s), c-fill-target 100 sectors, c-delay-target 10
        /// (1 s), c-max-rate 102400 KiB/s, c-min-rate 250 KiB/s, resync-rate 250 KiB/s.
        public static let drbdDefaults = Settings(
            planAhead: .seconds(2), fillTarget: 100 * 512, delayTarget: .seconds(1), maxRate: 102_400 * 1024,
            minRate: 250 * 1024, fixedRate: 250 * 1024)
    }

    public static let stepLength: Duration = .milliseconds(100)

    public let settings: Settings
    /// Corrections still planned for the coming steps (DRBD's `fifo_buffer`).
    private var plan: [Int64]
    private var lastStep: Duration?
    public private(set) var currentRate: UInt64 = 0

    public init(settings: Settings) {
        self.settings = settings
        let steps = max(1, Int(settings.planAhead / Self.stepLength))
        plan = [Int64](repeating: 0, count: steps)
    }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// Bytes of resync requests to send in the step that starts at `now`.
    public mutating func step(now: Duration, inFlightBytes: UInt64, bytesAnsweredSinceLastStep: UInt64,
                              applicationIOBytesSinceLastStep: UInt64) -> UInt64 {
        let elapsed = lastStep.map { now - $0 } ?? Self.stepLength
        lastStep = now
        let stepSeconds = max(Self.seconds(elapsed), 0.001)
        let maxPerStep = UInt64(Double(settings.maxRate) * stepSeconds)
        let minPerStep = UInt64(Double(settings.minRate) * stepSeconds)
        var request: UInt64
        if settings.planAhead == .zero {
            request = UInt64(Double(settings.fixedRate) * stepSeconds)
        } else {
            let steps = Int64(plan.count)
            // Target bytes in flight.
            let want: Int64
            if settings.fillTarget > 0 {
                want = Int64(settings.fillTarget)
            } else {
                let answeredRate = Double(bytesAnsweredSinceLastStep) / stepSeconds
                want = Int64(answeredRate * Self.seconds(settings.delayTarget))
            }
            let planned = plan.reduce(0, +)
            let correction = want - Int64(inFlightBytes) - planned
            let perStep = correction / steps
            for i in plan.indices { plan[i] += perStep }
            let current = plan.removeFirst()
            plan.append(0)
            let base = Int64(bytesAnsweredSinceLastStep) + current
            request = UInt64(max(0, base))
        }
        request = min(request, maxPerStep)
        if applicationIOBytesSinceLastStep > 0 { request = min(request, max(minPerStep, 1)) }
        request = max(request, minPerStep)
        currentRate = UInt64(Double(request) / stepSeconds)
        return request
    }
}
