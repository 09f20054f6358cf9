import Foundation

/// A place in a resource file, for error messages.
public struct ConfigLocation: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var description: String { "\(file):\(line):\(column)" }
}

/// A configuration error: where, what, and how to fix it.
public struct ReplicaConfigError: Error, Sendable, CustomStringConvertible {
    public var location: ConfigLocation?
    public var message: String
    public var fix: String?
    public init(_ location: ConfigLocation?, _ message: String, fix: String? = nil) {
        self.location = location
        self.message = message
        self.fix = fix
    }
    public var description: String {
        (location.map { "\($0): " } ?? "") + "error: " + message + (fix.map { "\n  fix: \($0)" } ?? "")
    }
}

/// One statement of a DRBD-style file: `keyword args... ;` or `keyword args... { children }`.
struct ConfigStatement: Sendable {
    var keyword: String
    var arguments: [String]
    var children: [ConfigStatement]?
    var location: ConfigLocation
}

/// Tokenizes and parses the brace/semicolon syntax of drbd.conf, following `include`.
enum ConfigTreeParser {
    struct Token {
        enum Kind { case word, string, open, close, semicolon }
        var kind: Kind
        var text: String
        var location: ConfigLocation
    }

    static func tokenize(_ text: String, file: String) throws(ReplicaConfigError) -> [Token] {
        var tokens: [Token] = []
        let chars = Array(text.unicodeScalars)
        var i = 0, line = 1, column = 1
        func advance() {
            if chars[i] == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
            i += 1
        }
        while i < chars.count {
            let c = chars[i]
            let here = ConfigLocation(file: file, line: line, column: column)
            if c == "#" {
                while i < chars.count && chars[i] != "\n" { advance() }
            } else if c.properties.isWhitespace {
                advance()
            } else if c == "{" || c == "}" || c == ";" {
                tokens.append(Token(kind: c == "{" ? .open : c == "}" ? .close : .semicolon, text: String(c), location: here))
                advance()
            } else if c == "\"" {
                advance()
                var value = ""
                var closed = false
                while i < chars.count {
                    let d = chars[i]
                    if d == "\\" && i + 1 < chars.count {
                        advance()
                        let e = chars[i]
                        value.unicodeScalars.append(e == "n" ? "\n" : e == "t" ? "\t" : e)
                        advance()
                    } else if d == "\"" {
                        advance()
                        closed = true
                        break
                    } else if d == "\n" {
                        break
                    } else {
                        value.unicodeScalars.append(d)
                        advance()
                    }
                }
                guard closed else {
                    throw ReplicaConfigError(here, "unterminated string", fix: "close the string with \" on the same line")
                }
                tokens.append(Token(kind: .string, text: value, location: here))
            } else {
                var word = ""
                while i < chars.count, !chars[i].properties.isWhitespace, !"{};#\"".unicodeScalars.contains(chars[i]) {
                    word.unicodeScalars.append(chars[i])
                    advance()
                }
                tokens.append(Token(kind: .word, text: word, location: here))
            }
        }
        return tokens
    }

    static func parse(_ text: String, file: String, depth: Int = 0) throws(ReplicaConfigError) -> [ConfigStatement] {
        let tokens = try tokenize(text, file: file)
        var position = 0
        let statements = try parseBlock(tokens, &position, file: file, depth: depth, closing: nil)
        return statements
    }

    private static func parseBlock(_ tokens: [Token], _ position: inout Int, file: String, depth: Int,
                                   closing: Token?) throws(ReplicaConfigError) -> [ConfigStatement] {
        var statements: [ConfigStatement] = []
        while position < tokens.count {
            let first = tokens[position]
            if first.kind == .close {
                guard closing != nil else {
                    throw ReplicaConfigError(first.location, "unexpected '}'", fix: "remove it or add the matching '{'")
                }
                position += 1
                return statements
            }
            guard first.kind == .word else {
                throw ReplicaConfigError(first.location, "expected a keyword, found '\(first.text)'")
            }
            position += 1
            var arguments: [String] = []
            while position < tokens.count, tokens[position].kind == .word || tokens[position].kind == .string {
                arguments.append(tokens[position].text)
                position += 1
            }
            guard position < tokens.count else {
                throw ReplicaConfigError(first.location, "'\(first.text)' is not finished", fix: "end it with ';' or a { } block")
            }
            let next = tokens[position]
            switch next.kind {
            case .semicolon:
                position += 1
                if first.text == "include" {
                    statements += try include(arguments, from: first.location, depth: depth)
                } else {
                    statements.append(ConfigStatement(keyword: first.text, arguments: arguments, children: nil,
                                                      location: first.location))
                }
            case .open:
                position += 1
                let children = try parseBlock(tokens, &position, file: file, depth: depth, closing: next)
                statements.append(ConfigStatement(keyword: first.text, arguments: arguments, children: children,
                                                  location: first.location))
            default:
                throw ReplicaConfigError(next.location, "expected ';' or '{' after '\(first.text)'",
                                         fix: "end the statement with ';'")
            }
        }
        if let closing {
            throw ReplicaConfigError(closing.location, "'{' is never closed", fix: "add the matching '}'")
        }
        return statements
    }

    private static func include(_ arguments: [String], from location: ConfigLocation,
                                depth: Int) throws(ReplicaConfigError) -> [ConfigStatement] {
        guard arguments.count == 1 else {
            throw ReplicaConfigError(location, "include takes one file name or pattern", fix: "include \"/etc/meridian/*.res\";")
        }
        guard depth < 8 else { throw ReplicaConfigError(location, "includes nested deeper than 8 (a loop?)") }
        var pattern = arguments[0]
        if !pattern.hasPrefix("/") {
            pattern = (location.file as NSString).deletingLastPathComponent + "/" + pattern
        }
        var matches = glob_t()
        defer { globfree(&matches) }
        guard glob(pattern, 0, nil, &matches) == 0 else { return [] }
        var result: [ConfigStatement] = []
        for i in 0..<Int(matches.gl_pathc) {
            guard let raw = matches.gl_pathv[i] else { continue }
            let path = String(cString: raw)
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ReplicaConfigError(location, "cannot read included file \(path)")
            }
            result += try parse(text, file: path, depth: depth + 1)
        }
        return result
    }
}
