// The effective date of a simulation (crm_simulate's --set-datetime), in ISO 8601's forms.
import Foundation

/// The "now" a simulation schedules for: rules, failure timeouts and the recorded times of
/// injected results use it instead of the clock.
public enum SimulationDate {
    /// The accepted forms, for messages.
    public static let format =
        "YYYY-MM-DD, YYYY-MM-DD HH:MM[:SS] or YYYY-MM-DDTHH:MM[:SS], optionally followed by Z or an offset "
        + "such as +02:00"

    /// Reads an ISO 8601 date and time. Without `Z` or an offset the time is in `zone` (the
    /// local time zone, as crm_simulate reads it).
    public static func parse(
        _ text: String, option: String = "--set-datetime", zone: TimeZone = .current
    ) throws(SimulationError) -> Date {
        func failure(_ problem: String) -> SimulationError {
            SimulationError("\"\(text)\" \(problem)", option: option, hint: "write the date as \(format)")
        }
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        func number(_ digits: Int, _ what: String) throws(SimulationError) -> Int {
            let prefix = rest.prefix(digits)
            guard prefix.count == digits, prefix.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(prefix)
            else { throw failure("has no \(digits)-digit \(what) where one is expected") }
            rest = rest.dropFirst(digits)
            return value
        }
        func expect(_ character: Character, _ what: String) throws(SimulationError) {
            guard rest.first == character else { throw failure("lacks the \"\(character)\" \(what)") }
            rest = rest.dropFirst()
        }
        var components = DateComponents()
        components.year = try number(4, "year")
        try expect("-", "after the year")
        components.month = try number(2, "month")
        try expect("-", "after the month")
        components.day = try number(2, "day")
        components.hour = 0
        components.minute = 0
        components.second = 0
        if let separator = rest.first, separator == " " || separator == "T" {
            rest = rest.dropFirst()
            components.hour = try number(2, "hour")
            try expect(":", "between hours and minutes")
            components.minute = try number(2, "minute")
            if rest.first == ":" {
                rest = rest.dropFirst()
                components.second = try number(2, "second")
            }
        }
        var timeZone = zone
        if rest == "Z" {
            timeZone = TimeZone(identifier: "UTC")!
            rest = ""
        } else if let sign = rest.first, sign == "+" || sign == "-" {
            rest = rest.dropFirst()
            let hours = try number(2, "offset hour")
            if rest.first == ":" { rest = rest.dropFirst() }
            let minutes = rest.isEmpty ? 0 : try number(2, "offset minute")
            let seconds = (hours * 3600 + minutes * 60) * (sign == "-" ? -1 : 1)
            guard let offsetZone = TimeZone(secondsFromGMT: seconds) else { throw failure("has an invalid offset") }
            timeZone = offsetZone
        }
        guard rest.isEmpty else { throw failure("has \"\(rest)\" after the date and time") }
        guard (1...12).contains(components.month!), (1...31).contains(components.day!),
            (0...23).contains(components.hour!), (0...59).contains(components.minute!),
            (0...60).contains(components.second!)
        else { throw failure("is not a valid date and time") }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        guard let date = calendar.date(from: components),
            calendar.component(.day, from: date) == components.day
        else { throw failure("is not a valid date and time") }
        return date
    }
}
