/// A user error in a `booth.conf` file: where it is, what is wrong, and how to fix it.
///
/// Invariants: `message` and `fix` are never empty; `column` is only set together with
/// `line`. Lines and columns are 1-based; columns count Unicode scalars.
///
/// `description` has the compiler-style form
/// `booth.conf:12:5: error: <message>` followed by `  fix: <fix>` on a second line.
public struct BoothConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file name used in messages (as given to `parse` or `load`).
    public var path: String
    /// 1-based line, or `nil` when the error concerns the whole file (e.g. it cannot be read).
    public var line: Int?
    /// 1-based column within `line`, or `nil` when no single position is to blame.
    public var column: Int?
    /// What is wrong.
    public var message: String
    /// How to fix it.
    public var fix: String

    public init(path: String, line: Int?, column: Int? = nil, message: String, fix: String) {
        self.path = path
        self.line = line
        self.column = line == nil ? nil : column
        self.message = message
        self.fix = fix
    }

    public var description: String {
        "\(location(path: path, line: line, column: column)): error: \(message)\n  fix: \(fix)"
    }
}

/// Something in a `booth.conf` file that is accepted but deserves attention, such as an
/// even number of members, or a `__defaults__` key that Booth 1.0 would ignore.
///
/// Warnings never change how the file is read; the daemon and the CLI log them.
public struct BoothConfigWarning: Sendable, Equatable, CustomStringConvertible {
    public var path: String
    /// 1-based line, or `nil` when the warning concerns the whole file.
    public var line: Int?
    public var message: String
    /// What the administrator may want to do about it.
    public var advice: String

    public init(path: String, line: Int?, message: String, advice: String) {
        self.path = path
        self.line = line
        self.message = message
        self.advice = advice
    }

    public var description: String {
        "\(location(path: path, line: line, column: nil)): warning: \(message)\n  advice: \(advice)"
    }
}

private func location(path: String, line: Int?, column: Int?) -> String {
    guard let line else { return path }
    guard let column else { return "\(path):\(line)" }
    return "\(path):\(line):\(column)"
}
