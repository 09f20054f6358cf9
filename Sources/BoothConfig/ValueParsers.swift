extension Duration {
    /// The duration in whole milliseconds, truncated toward zero.
    var wholeMilliseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}

/// `5s`, `1500ms`: how Meridian prints times in messages (a form booth.conf accepts,
/// minus the `s`).
func formatMilliseconds(_ ms: Int) -> String {
    ms % 1000 == 0 ? "\(ms / 1000)s" : "\(ms)ms"
}

/// Interpreters of single values. Each throws a `BoothConfigError` located at the value.
struct ValueParsers {
    let path: String

    /// Booth keeps times as milliseconds in a C `int`.
    static let maximumMilliseconds = Int(Int32.max)

    func error(_ entry: ConfigEntry, offset: Int = 0, _ message: String, fix: String) -> BoothConfigError {
        BoothConfigError(
            path: path, line: entry.line, column: entry.valueColumn + offset, message: message, fix: fix)
    }

    /// A plain decimal integer: optional `-` (if allowed), digits, no leading zeros.
    /// Returns `nil` for anything else (including overflow).
    static func decimal(_ text: Substring, allowNegative: Bool) -> Int? {
        var digits = text
        var negative = false
        if allowNegative, digits.first == "-" {
            negative = true
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        if digits.count > 1, digits.first == "0" { return nil }
        guard let magnitude = Int(digits) else { return nil }
        return negative ? -magnitude : magnitude
    }

    /// Explains why an integer-looking text was refused (leading zero, hex, ...).
    static func integerHint(_ text: Substring) -> String? {
        let body = text.first == "-" || text.first == "+" ? text.dropFirst() : text
        if body.lowercased().hasPrefix("0x") {
            return "write the number in decimal (Booth reads 0x.. as hexadecimal)"
        }
        if body.count > 1, body.first == "0", body.allSatisfy({ $0.isASCII && $0.isNumber }) {
            return "drop the leading zeros (Booth reads a leading 0 as octal: 010 is 8)"
        }
        if text.first == "+" { return "drop the '+'" }
        return nil
    }

    /// An integer setting within `range`.
    func integer(_ entry: ConfigEntry, range: ClosedRange<Int>, what: String, example: Int) throws(BoothConfigError)
        -> Int
    {
        let text = Substring(entry.value)
        guard let value = Self.decimal(text, allowNegative: true) else {
            throw error(
                entry, "'\(entry.value)' is not an integer for '\(entry.key)'",
                fix: Self.integerHint(text).map { "\($0): e.g. `\(entry.key) = \(example)`" }
                    ?? "write \(what) as a decimal integer, e.g. `\(entry.key) = \(example)`")
        }
        guard range.contains(value) else {
            throw error(
                entry, "\(entry.key) = \(value) is out of range: \(what) must be \(describe(range))",
                fix: "use a value \(describe(range)), e.g. `\(entry.key) = \(example)`")
        }
        return value
    }

    private func describe(_ range: ClosedRange<Int>) -> String {
        if range.upperBound == Int.max { return "at least \(range.lowerBound)" }
        return "from \(range.lowerBound) to \(range.upperBound)"
    }

    /// Booth's `read_time`: whole seconds, or milliseconds with an `ms` suffix.
    /// Returns milliseconds.
    func time(_ entry: ConfigEntry, allowZero: Bool) throws(BoothConfigError) -> Int {
        let key = entry.key
        let text = Substring(entry.value)
        let isMilliseconds = text.hasSuffix("ms")
        let number = isMilliseconds ? text.dropLast(2) : text
        guard let value = Self.decimal(number, allowNegative: false) else {
            throw error(entry, "'\(entry.value)' is not a time for '\(key)'", fix: timeFix(key: key, text: text))
        }
        let ms = isMilliseconds ? value : value.multipliedReportingOverflow(by: 1000).partialValue
        if value > Self.maximumMilliseconds || ms > Self.maximumMilliseconds || ms < 0 {
            throw error(
                entry,
                "\(key) = \(entry.value) is too long: booth keeps times as milliseconds in a 32-bit integer",
                fix: "use at most \(Self.maximumMilliseconds / 1000) seconds (about 24 days)")
        }
        if ms == 0, !allowZero {
            throw error(
                entry, "\(key) must be greater than 0",
                fix: "give a positive time, e.g. `\(key) = \(key == "timeout" ? 5 : 600)`")
        }
        return ms
    }

    private func timeFix(key: String, text: Substring) -> String {
        let general = "times are whole seconds (`\(key) = 600`) or milliseconds with 'ms' (`\(key) = 1500ms`)"
        if text.first == "-" {
            return "times cannot be negative; " + general
        }
        if let hint = Self.integerHint(text.hasSuffix("ms") ? text.dropLast(2) : text) {
            return hint
        }
        // 1.5 or 1.5s -> 1500ms
        let unitless = text.hasSuffix("s") && !text.hasSuffix("ms") ? text.dropLast() : text
        let parts = unitless.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 2, let whole = Self.decimal(parts[0], allowNegative: false),
            parts[1].count <= 3, !parts[1].isEmpty, parts[1].allSatisfy({ $0.isASCII && $0.isNumber })
        {
            let fraction = (Int(parts[1]) ?? 0) * [100, 10, 1][parts[1].count - 1]
            return "write `\(key) = \(whole * 1000 + fraction)ms`; " + general
        }
        if text.hasSuffix("s"), let seconds = Self.decimal(text.dropLast(), allowNegative: false) {
            return "drop the 's': write `\(key) = \(seconds)`; " + general
        }
        let trimmedMs = text.hasSuffix("ms") ? text.dropLast(2) : text
        if trimmedMs.last == " " || trimmedMs.last == "\t" {
            return "remove the blank before 'ms'; " + general
        }
        if text.hasSuffix("m") || text.hasSuffix("min") || text.hasSuffix("h") {
            return "convert to seconds; " + general
        }
        return general
    }

    /// Booth-compatible ticket names, with `_` and `.` also allowed and no limit beyond the
    /// wire's 63 bytes.
    func ticketName(_ entry: ConfigEntry) throws(BoothConfigError) -> String {
        let name = entry.value
        for (offset, c) in name.unicodeScalars.enumerated() {
            let ok =
                c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || "-_/.".unicodeScalars.contains(c))
            if !ok {
                let shown = c == " " ? "a space" : c == "\t" ? "a tab" : "'\(String(c))'"
                throw error(
                    entry, offset: offset, "ticket name '\(name)' contains \(shown)",
                    fix: "use only letters, digits, '-', '_', '/' and '.' in ticket names")
            }
        }
        if name.utf8.count > TicketConfiguration.maximumNameLength {
            throw error(
                entry,
                "ticket name '\(name)' is \(name.utf8.count) characters long; booth's wire format carries "
                    + "at most \(TicketConfiguration.maximumNameLength)",
                fix: "shorten the ticket name to \(TicketConfiguration.maximumNameLength) characters or fewer")
        }
        return name
    }

    /// Blank-separated words of the value, with their offsets (in scalars) from its start.
    static func words(_ text: String) -> [(word: String, offset: Int)] {
        var result: [(String, Int)] = []
        var current = String.UnicodeScalarView()
        var start = 0
        for (offset, c) in text.unicodeScalars.enumerated() {
            if c == " " || c == "\t" {
                if !current.isEmpty { result.append((String(current), start)) }
                current = String.UnicodeScalarView()
            } else {
                if current.isEmpty { start = offset }
                current.append(c)
            }
        }
        if !current.isEmpty { result.append((String(current), start)) }
        return result
    }

    func handler(_ entry: ConfigEntry) throws(BoothConfigError) -> [String] {
        let argv = Self.words(entry.value).map(\.word)
        guard !argv.isEmpty else {
            throw error(
                entry, "before-acquire-handler has no program",
                fix: "write the program path and its arguments, e.g. "
                    + "`before-acquire-handler = /usr/share/booth/service-runnable db8`")
        }
        return argv
    }

    func attrPrerequisite(_ entry: ConfigEntry) throws(BoothConfigError) -> TicketConfiguration.AttrPrerequisite {
        let words = Self.words(entry.value)
        let usage =
            "write `attr-prereq = <auto|manual> <attribute> <eq|ne> <value>`, e.g. "
            + "`attr-prereq = auto repl_state eq ACTIVE`"
        guard words.count >= 4 else {
            throw error(
                entry, "attr-prereq needs 4 words (grant type, attribute, operator, value); found \(words.count)",
                fix: usage)
        }
        guard words.count == 4 else {
            throw error(
                entry, offset: words[4].offset,
                "attr-prereq has \(words.count) words; the value cannot contain blanks "
                    + "(Booth 1.0 silently ignores the extra words)",
                fix: usage)
        }
        guard let grant = TicketConfiguration.AttrPrerequisite.GrantType(rawValue: words[0].word) else {
            throw error(
                entry, offset: words[0].offset, "'\(words[0].word)' is not a grant type", fix: "use auto or manual")
        }
        guard let op = TicketConfiguration.AttrPrerequisite.Op(rawValue: words[2].word) else {
            throw error(
                entry, offset: words[2].offset, "'\(words[2].word)' is not an attribute operator",
                fix: "use eq (equal) or ne (not equal)")
        }
        return .init(grantType: grant, name: words[1].word, op: op, value: words[3].word)
    }

    func mode(_ entry: ConfigEntry) throws(BoothConfigError) -> TicketConfiguration.Mode {
        switch entry.value.lowercased() {
        case "auto": return .automatic
        case "manual": return .manual
        default:
            throw error(
                entry,
                "'\(entry.value)' is not a ticket mode (Booth 1.0 silently treats it as auto)",
                fix: "write `mode = auto` or `mode = manual`")
        }
    }

    /// `weights = 1, 0, -2`: comma-separated decimal integers.
    func weights(_ entry: ConfigEntry) throws(BoothConfigError) -> [Int] {
        var result: [Int] = []
        var offset = 0
        let scalars = Array(entry.value.unicodeScalars)
        let items = entry.value.unicodeScalars.split(separator: ",", omittingEmptySubsequences: false)
        for (n, item) in items.enumerated() {
            let itemScalars = Array(item)
            var lead = 0
            while lead < itemScalars.count, ConfigLexer.isBlank(itemScalars[lead]) { lead += 1 }
            var trail = itemScalars.count
            while trail > lead, ConfigLexer.isBlank(itemScalars[trail - 1]) { trail -= 1 }
            var view = String.UnicodeScalarView()
            view.append(contentsOf: itemScalars[lead..<trail])
            let text = Substring(String(view))
            let column = offset + lead
            if text.isEmpty {
                throw error(
                    entry, offset: min(column, max(scalars.count - 1, 0)), "weight \(n + 1) of \(items.count) is empty",
                    fix: "write one integer per member, separated by commas, e.g. `weights = 10,0,5`")
            }
            guard let value = Self.decimal(text, allowNegative: true) else {
                let separator = text.contains(where: { " \t;:".contains($0) })
                throw error(
                    entry, offset: column, "weight \(n + 1) ('\(text)') is not an integer",
                    fix: separator
                        ? "separate weights with commas only, e.g. `weights = 10,0,5`"
                        : Self.integerHint(text) ?? "write one decimal integer per member, e.g. `weights = 10,0,5`")
            }
            result.append(value)
            offset += itemScalars.count + 1
        }
        return result
    }
}

/// "Did you mean" for unknown keys.
enum KeySuggestion {
    static func closest(to key: String, among candidates: [String]) -> String? {
        let lowered = key.lowercased().replacingUnderscores()
        if let same = candidates.first(where: { $0 == lowered }) { return same }
        var best: (String, Int)?
        for candidate in candidates {
            let distance = editDistance(Array(lowered.utf8), Array(candidate.utf8))
            if best == nil || distance < best!.1 { best = (candidate, distance) }
        }
        guard let (candidate, distance) = best else { return nil }
        let limit = max(2, min(key.count, candidate.count) / 3)
        if distance <= limit { return candidate }
        if lowered.count >= 4, candidate.hasPrefix(lowered) || lowered.hasPrefix(candidate) { return candidate }
        return nil
    }

    static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

extension String {
    fileprivate func replacingUnderscores() -> String {
        String(map { $0 == "_" ? "-" : $0 })
    }
}
