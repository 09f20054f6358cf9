/// One `key = value` line, split but not yet interpreted.
struct ConfigEntry: Sendable, Equatable {
    var line: Int
    var key: String
    var keyColumn: Int
    /// The value without quotes and without a trailing comment; never empty.
    var value: String
    /// Column of the value's first character (inside the quotes when quoted).
    var valueColumn: Int
    var quoted: Bool
}

/// Splits `booth.conf` text into `key = value` entries.
///
/// The grammar (Booth 1.0's, with the differences noted in `Docs/decisions/booth-conf.md`):
/// leading and trailing whitespace is ignored; a line whose first non-blank character is
/// `#` is a comment; a key is one or more ASCII letters, digits, `-` and `_`, followed by
/// optional blanks, `=`, optional blanks and a value. A value is either quoted with `"` or
/// `'` (no escapes; after the closing quote only blanks and a comment may follow), or the
/// rest of the line up to a `#` that starts the value or follows a blank.
enum ConfigLexer {
    static func entries(in text: String, path: String) throws(BoothConfigError) -> (
        entries: [ConfigEntry], lineCount: Int
    ) {
        var entries: [ConfigEntry] = []
        var lineNumber = 0
        var current: [Unicode.Scalar] = []
        var sawAnything = false
        for scalar in text.unicodeScalars {
            sawAnything = true
            if scalar == "\n" {
                lineNumber += 1
                if let entry = try lex(current, line: lineNumber, path: path) { entries.append(entry) }
                current.removeAll(keepingCapacity: true)
            } else {
                current.append(scalar)
            }
        }
        if !current.isEmpty {
            lineNumber += 1
            if let entry = try lex(current, line: lineNumber, path: path) { entries.append(entry) }
        }
        return (entries, sawAnything ? max(lineNumber, 1) : 0)
    }

    static func isBlank(_ c: Unicode.Scalar) -> Bool {
        c == " " || c == "\t" || c == "\r" || c == "\u{0B}" || c == "\u{0C}"
    }

    static func isKeyCharacter(_ c: Unicode.Scalar) -> Bool {
        c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "-" || c == "_")
    }

    private static func lex(_ s: [Unicode.Scalar], line: Int, path: String) throws(BoothConfigError) -> ConfigEntry? {
        if let nul = s.firstIndex(of: "\u{0}") {
            throw BoothConfigError(
                path: path, line: line, column: nul + 1, message: "NUL character in the file",
                fix: "remove the NUL byte; booth.conf is a text file")
        }
        var i = 0
        while i < s.count, isBlank(s[i]) { i += 1 }
        if i == s.count || s[i] == "#" { return nil }

        let keyStart = i
        while i < s.count, isKeyCharacter(s[i]) { i += 1 }
        if i == keyStart {
            throw BoothConfigError(
                path: path, line: line, column: keyStart + 1,
                message: "expected a key, found '\(String(s[keyStart]))'",
                fix: "write settings as `key = value` (keys are letters, digits, '-' and '_'); "
                    + "start comments with '#'")
        }
        let key = string(s[keyStart..<i])
        while i < s.count, isBlank(s[i]) { i += 1 }
        guard i < s.count, s[i] == "=" else {
            let found = i < s.count ? "'\(String(s[i]))'" : "the end of the line"
            throw BoothConfigError(
                path: path, line: line, column: i + 1,
                message: "expected '=' after the key '\(key)', found \(found)",
                fix: "write `\(key) = <value>`")
        }
        i += 1
        while i < s.count, isBlank(s[i]) { i += 1 }

        let noValue = BoothConfigError(
            path: path, line: line, column: i + 1, message: "the key '\(key)' has no value",
            fix: "write `\(key) = <value>` or remove the line; quote a value that starts with '#'")
        guard i < s.count else { throw noValue }

        if s[i] == "\"" || s[i] == "'" {
            let quote = s[i]
            let valueStart = i + 1
            var end = valueStart
            while end < s.count, s[end] != quote { end += 1 }
            guard end < s.count else {
                throw BoothConfigError(
                    path: path, line: line, column: i + 1,
                    message: "unterminated quoted value for '\(key)'",
                    fix: "add the closing \(String(quote)) on the same line (values cannot span lines)")
            }
            var after = end + 1
            while after < s.count, isBlank(s[after]) { after += 1 }
            if after < s.count, s[after] != "#" {
                throw BoothConfigError(
                    path: path, line: line, column: after + 1,
                    message: "unexpected text after the quoted value of '\(key)'",
                    fix: "put the whole value inside the quotes, or start a comment with '#'")
            }
            let value = string(s[valueStart..<end])
            if value.isEmpty {
                throw BoothConfigError(
                    path: path, line: line, column: i + 1, message: "the key '\(key)' has an empty value",
                    fix: "give a value between the quotes, or remove the line to use the default")
            }
            return ConfigEntry(
                line: line, key: key, keyColumn: keyStart + 1, value: value, valueColumn: valueStart + 1,
                quoted: true)
        }

        if s[i] == "#" { throw noValue }
        let valueStart = i
        var end = i
        while end < s.count, !(s[end] == "#" && isBlank(s[end - 1])) { end += 1 }
        while end > valueStart, isBlank(s[end - 1]) { end -= 1 }
        return ConfigEntry(
            line: line, key: key, keyColumn: keyStart + 1, value: string(s[valueStart..<end]),
            valueColumn: valueStart + 1, quoted: false)
    }

    private static func string(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }
}
