// Pacemaker scores: integers bounded by ±INFINITY (1,000,000), with saturating arithmetic.

/// A Pacemaker score: an integer in -1,000,000...1,000,000 where the bounds mean
/// `-INFINITY` and `INFINITY`.
///
/// Invariant: `value` is always within the bounds. Addition saturates the way
/// Pacemaker's `pcmk__add_scores` does: `-INFINITY` wins over everything (even
/// `+INFINITY`), then `+INFINITY`, and finite sums are clamped.
public struct Score: Sendable, Hashable, Comparable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    /// The integer that stands for `INFINITY`.
    public static let infinityValue = 1_000_000

    /// `INFINITY`.
    public static let infinity = Score(infinityValue)
    /// `-INFINITY`.
    public static let minusInfinity = Score(-infinityValue)
    /// `0`.
    public static let zero = Score(0)

    /// The bounded integer.
    public let value: Int

    /// A score; values beyond ±1,000,000 are clamped to ±INFINITY.
    public init(_ value: Int) {
        self.value = min(Score.infinityValue, max(-Score.infinityValue, value))
    }

    public init(integerLiteral value: Int) {
        self.init(value)
    }

    /// Parses a score the way Pacemaker's `char2score` does: `INFINITY`, `+INFINITY`,
    /// `-INFINITY` (any case), the node-health colours (`red` is `-INFINITY`,
    /// `yellow` and `green` are 0), or a leading decimal integer. Anything else is 0.
    public init(pacemaker text: String?) {
        guard let text else {
            self = .zero
            return
        }
        if let strict = Score(strict: text) {
            self = strict
            return
        }
        switch text.lowercased() {
        case "red": self = .minusInfinity
        case "yellow", "green": self = .zero
        default: self = Score(clampingLeadingInteger(text) ?? 0)
        }
    }

    /// Parses a score that must be well formed: `INFINITY`, `+INFINITY`, `-INFINITY`
    /// (any case) or an optionally signed decimal integer; `nil` otherwise.
    public init?(strict text: String) {
        let trimmed = text.trimmingSpaces
        switch trimmed.uppercased() {
        case "INFINITY", "+INFINITY": self = .infinity
        case "-INFINITY": self = .minusInfinity
        default:
            guard !trimmed.isEmpty, let number = clampingLeadingInteger(trimmed, wholeString: true) else {
                return nil
            }
            self = Score(number)
        }
    }

    /// True for `INFINITY`.
    public var isInfinity: Bool { value >= Score.infinityValue }
    /// True for `-INFINITY`.
    public var isMinusInfinity: Bool { value <= -Score.infinityValue }

    /// `INFINITY`, `-INFINITY` or the integer, as Pacemaker prints scores.
    public var description: String {
        if isInfinity { return "INFINITY" }
        if isMinusInfinity { return "-INFINITY" }
        return String(value)
    }

    public static func < (lhs: Score, rhs: Score) -> Bool { lhs.value < rhs.value }

    /// Pacemaker's saturating sum: `-INFINITY` dominates, then `INFINITY`.
    public static func + (lhs: Score, rhs: Score) -> Score {
        if lhs.isMinusInfinity || rhs.isMinusInfinity { return .minusInfinity }
        if lhs.isInfinity || rhs.isInfinity { return .infinity }
        return Score(lhs.value + rhs.value)
    }
}

/// The leading optionally-signed decimal integer of `text` (after spaces), clamped to
/// the range of `Int`; with `wholeString`, only when nothing but spaces follows it.
func clampingLeadingInteger(_ text: String, wholeString: Bool = false) -> Int? {
    var scalars = Substring(text).unicodeScalars.drop { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
    var negative = false
    if let first = scalars.first, first == "-" || first == "+" {
        negative = first == "-"
        scalars = scalars.dropFirst()
    }
    var magnitude = 0
    var digits = 0
    while let scalar = scalars.first, let digit = Int(exactly: scalar.value), (48...57).contains(digit) {
        if magnitude < Int.max / 20 { magnitude = magnitude * 10 + (digit - 48) }
        digits += 1
        scalars = scalars.dropFirst()
    }
    guard digits > 0 else { return nil }
    if wholeString, scalars.contains(where: { $0 != " " && $0 != "\t" && $0 != "\n" && $0 != "\r" }) {
        return nil
    }
    return negative ? -magnitude : magnitude
}

extension String {
    /// The string without leading and trailing spaces, tabs and line breaks.
    var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[start...end])
    }
}
