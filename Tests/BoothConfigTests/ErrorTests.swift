import Testing

@testable import BoothConfig

/// Parses text that must fail, returning the error (or recording an issue).
func failure(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> BoothConfigError? {
    do {
        let c = try parse(text)
        Issue.record("expected an error, got \(c)", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

struct ErrorCase: Sendable, CustomTestStringConvertible {
    var name: String
    var text: String
    var line: Int
    /// `nil`: the error must have no column.
    var column: Int?
    var message: String
    var fix: String
    var testDescription: String { name }

    init(_ name: String, _ text: String, line: Int, column: Int?, _ message: String, fix: String) {
        self.name = name
        self.text = text
        self.line = line
        self.column = column
        self.message = message
        self.fix = fix
    }
}

let site = "site = 10.0.0.1\n"
let threeMembers = "site = 10.0.0.1\nsite = 10.0.0.2\narbitrator = 10.0.0.3\n"

let errorCases: [ErrorCase] = [
    // Syntax
    .init(
        "unknown key, with a suggestion", site + "transprot = udp\n", line: 2, column: 1,
        "unknown key 'transprot'", fix: "did you mean 'transport'?"),
    .init("keys are case-sensitive", "Site = 10.0.0.1\n", line: 1, column: 1, "unknown key 'Site'", fix: "'site'"),
    .init(
        "'_' where booth has '-'", site + "ticket = t\n  renewal_freq = 10\n", line: 3, column: 3,
        "unknown key 'renewal_freq'", fix: "did you mean 'renewal-freq'?"),
    .init(
        "unknown key, nothing close", site + "frobnicate = 1\n", line: 2, column: 1, "unknown key 'frobnicate'",
        fix: "known keys are transport, port"),
    .init(
        "missing '='", "site 10.0.0.1\n", line: 1, column: 6, "expected '=' after the key 'site', found '1'",
        fix: "`site = <value>`"),
    .init(
        "key alone", site + "port\n", line: 2, column: 5,
        "expected '=' after the key 'port', found the end of the line",
        fix: "`port = <value>`"),
    .init("no key", site + "  = 9929\n", line: 2, column: 3, "expected a key, found '='", fix: "`key = value`"),
    .init("no value", site + "port =   \n", line: 2, column: 10, "the key 'port' has no value", fix: "remove the line"),
    .init(
        "only a comment as value", "port = # 9929\n" + site, line: 1, column: 8, "has no value", fix: "quote a value"),
    .init(
        "unterminated quote", site + "name = \"geo\n", line: 2, column: 8, "unterminated quoted value for 'name'",
        fix: "closing \""),
    .init(
        "text after a quoted value", site + "name = \"geo\" extra\n", line: 2, column: 14,
        "unexpected text after the quoted value", fix: "start a comment with '#'"),
    .init(
        "empty quoted value", "name = ''\n" + site, line: 1, column: 8, "has an empty value", fix: "between the quotes"),
    .init("NUL character", site + "name = a\u{0}b\n", line: 2, column: 9, "NUL character", fix: "remove the NUL"),

    // Global keys
    .init(
        "SCTP transport", "transport = SCTP\n" + site, line: 1, column: 13, "transport SCTP is not supported",
        fix: "`transport = UDP`"),
    .init(
        "TCP transport", site + "transport = tcp\n", line: 2, column: 13, "transport tcp is not supported",
        fix: "`transport = UDP`"),
    .init(
        "unknown transport", "transport = quic\n" + site, line: 1, column: 13, "unknown transport 'quic'", fix: "UDP"),
    .init(
        "transport twice", "transport = udp\ntransport = UDP\n" + site, line: 2, column: 1,
        "'transport' is set twice (first on line 1)", fix: "keep only one `transport` line"),
    .init(
        "port twice", "port = 9929\n" + site + "port = 9930\n", line: 3, column: 1,
        "'port' is set twice (first on line 1)",
        fix: "keep only one"),
    .init("port 0", "port = 0\n" + site, line: 1, column: 8, "port = 0 is out of range", fix: "from 1 to 65535"),
    .init(
        "port too big", site + "port = 65536\n", line: 2, column: 8, "port = 65536 is out of range",
        fix: "from 1 to 65535"),
    .init(
        "port not a number", site + "port = booth\n", line: 2, column: 8, "'booth' is not an integer",
        fix: "`port = 9929`"),
    .init(
        "port with leading zero", site + "port = 09929\n", line: 2, column: 8, "is not an integer", fix: "leading zeros"
    ),
    .init("hexadecimal port", site + "port = 0x26C9\n", line: 2, column: 8, "is not an integer", fix: "in decimal"),
    .init(
        "maxtimeskew with a unit", site + "maxtimeskew = 600ms\n", line: 2, column: 15,
        "maxtimeskew is a number of seconds",
        fix: "`maxtimeskew = 600`"),
    .init("maxtimeskew 0", site + "maxtimeskew = 0\n", line: 2, column: 15, "out of range", fix: "from 1 to"),
    .init("negative debug", site + "debug = -1\n", line: 2, column: 9, "debug = -1 is out of range", fix: "from 0 to"),
    .init("name with '/'", site + "name = geo/a\n", line: 2, column: 11, "contains '/'", fix: "without '/'"),

    // Members
    .init(
        "bad IPv4", "site = 10.0.0.256\n", line: 1, column: 8, "not a valid IPv4 or IPv6 address",
        fix: "literal address"),
    .init(
        "host name", "site = booth1.example.com\n", line: 1, column: 8, "does not look up host names",
        fix: "IPv4 or IPv6 address"),
    .init(
        "bracketed IPv6", "site = \"[2001:db8::1]\"\n", line: 1, column: 9, "brackets",
        fix: "`site = \"2001:db8::1\"`"),
    .init("address with port", "site = 10.0.0.1:9929\n", line: 1, column: 8, "carries a port", fix: "`port = ...`"),
    .init("IPv6 zone", "site = fe80::1%eth0\n", line: 1, column: 8, "zone index", fix: "without '%'"),
    .init(
        "two addresses on one line", "arbitrator = 10.0.0.1 10.0.0.2\n", line: 1, column: 14, "contains a blank",
        fix: "one address per `arbitrator` line"),
    .init(
        "duplicate member", site + "arbitrator = 10.0.0.1\n", line: 2, column: 14,
        "address 10.0.0.1 is already used by the site on line 1", fix: "its own address"),
    .init(
        "duplicate IPv6 member, spelled differently",
        "site = 2001:db8::1\narbitrator = 10.0.0.3\nsite = 2001:db8:0::1\n",
        line: 3, column: 8, "already used by the site on line 1 (written '2001:db8::1')", fix: "its own address"),
    .init(
        "more than 16 members", (1...17).map { "site = 10.0.1.\($0)\n" }.joined(), line: 17, column: 1,
        "too many members", fix: "at most 16"),
    .init(
        "no site, only an arbitrator", "arbitrator = 10.0.0.3\nticket = t\n", line: 2, column: nil,
        "the file defines no site", fix: "`site = \"<IP address>\"`"),
    .init("empty file", "", line: 1, column: nil, "the file defines no site", fix: "add a `site"),
    .init("only comments", "# nothing here\n\n", line: 2, column: nil, "the file defines no site", fix: "add a `site"),

    // Tickets
    .init(
        "ticket key before any ticket", site + "expire = 60\nticket = t\n", line: 2, column: 1,
        "'expire' is a ticket setting, but no ticket has been started yet", fix: "`ticket = \"__defaults__\"`"),
    .init(
        "__defaults__ after a ticket", site + "ticket = a\nticket = \"__defaults__\"\n", line: 3, column: 11,
        "comes after ticket 'a' on line 2", fix: "above line 2"),
    .init(
        "duplicate ticket", site + "ticket = a\nticket = b\nticket = a\n", line: 4, column: 10,
        "ticket 'a' is defined twice (first on line 2)", fix: "rename one"),
    .init(
        "space in a ticket name", site + "ticket = \"db ticket\"\n", line: 2, column: 13,
        "ticket name 'db ticket' contains a space", fix: "letters, digits, '-', '_', '/' and '.'"),
    .init(
        "other character in a ticket name", site + "ticket = db@x\n", line: 2, column: 12, "contains '@'",
        fix: "letters, digits"),
    .init(
        "ticket name over 63 characters", site + "ticket = \(String(repeating: "t", count: 64))\n", line: 2,
        column: 10, "is 64 characters long", fix: "63 characters or fewer"),
    .init(
        "ticket setting twice", site + "ticket = t\n  expire = 60\n  expire = 70\n", line: 4, column: 3,
        "'expire' is set twice in ticket 't' (first on line 3)", fix: "keep only one `expire`"),
    .init(
        "handler twice in __defaults__",
        site + "ticket = __defaults__\n  before-acquire-handler = /a\n  before-acquire-handler = /b\n", line: 4,
        column: 3,
        "set twice in __defaults__ (first on line 3)", fix: "keep only one"),

    // Times
    .init(
        "seconds with an 's'", site + "ticket = t\n  expire = 10s\n", line: 3, column: 12,
        "'10s' is not a time for 'expire'",
        fix: "drop the 's': write `expire = 10`"),
    .init(
        "fractional seconds", site + "ticket = t\n  timeout = 1.5\n", line: 3, column: 13, "'1.5' is not a time",
        fix: "`timeout = 1500ms`"),
    .init(
        "blank before ms", site + "ticket = t\n  timeout = 5 ms\n", line: 3, column: 13, "'5 ms' is not a time",
        fix: "remove the blank before 'ms'"),
    .init(
        "minutes", site + "ticket = t\n  renewal-freq = 10m\n", line: 3, column: 18, "not a time",
        fix: "convert to seconds"),
    .init(
        "garbage time", site + "ticket = t\n  expire = soon\n", line: 3, column: 12, "not a time",
        fix: "`expire = 1500ms`"),
    .init(
        "zero expire", site + "ticket = t\n  expire = 0\n", line: 3, column: 12, "expire must be greater than 0",
        fix: "positive"),
    .init(
        "zero timeout in ms", site + "ticket = t\n  timeout = 0ms\n", line: 3, column: 13,
        "timeout must be greater than 0", fix: "positive"),
    .init(
        "negative acquire-after", site + "ticket = t\n  acquire-after = -1\n", line: 3, column: 19, "not a time",
        fix: "cannot be negative"),
    .init(
        "time beyond 32-bit milliseconds", site + "ticket = t\n  expire = 3000000\n", line: 3, column: 12,
        "is too long",
        fix: "at most 2147483 seconds"),

    // retries
    .init(
        "retries below 3", site + "ticket = t\n  retries = 2\n", line: 3, column: 13, "retries = 2 is out of range",
        fix: "from 3 to 100"),
    .init(
        "retries above 100", site + "ticket = t\n  retries = 101\n", line: 3, column: 13, "out of range",
        fix: "from 3 to 100"),
    .init(
        "retries not a number", site + "ticket = t\n  retries = ten\n", line: 3, column: 13, "not an integer",
        fix: "`retries = 10`"),

    // timeout * (retries + 1) < renewal
    .init(
        "retrying outlasts expire/2", site + "ticket = db\n  expire = 60\n", line: 2, column: nil,
        "ticket 'db': timeout * (retries + 1) = 5s * (10 + 1) = 55s is not shorter than the renewal interval 30s "
            + "(expire 60s / 2",
        fix: "`retries = 4` or `timeout = 2` or `renewal-freq = 56`"),
    .init(
        "retrying outlasts renewal-freq", site + "ticket = db\n  timeout = 10\n  retries = 5\n  renewal-freq = 60\n",
        line: 2, column: nil, "= 10s * (5 + 1) = 60s is not shorter than the renewal-freq 60s",
        fix: "`retries = 4` or `timeout = 9` or `renewal-freq = 61`"),
    .init(
        "retrying outlasts the renewal in __defaults__",
        site + "ticket = \"__defaults__\"\n  expire = 20\nticket = a\n  expire = 600\n", line: 2, column: nil,
        "__defaults__: timeout * (retries + 1) = 5s * (10 + 1) = 55s", fix: "`expire = 112`"),
    .init(
        "retrying in milliseconds", site + "ticket = t\n  expire = 2\n  timeout = 300ms\n  retries = 3\n", line: 2,
        column: nil, "= 300ms * (3 + 1) = 1200ms is not shorter than the renewal interval 1s",
        fix: "`timeout = 249ms`"),
    .init(
        "renewal-freq not shorter than expire", site + "ticket = t\n  expire = 60\n  renewal-freq = 60\n", line: 4,
        column: nil, "ticket 't': renewal-freq 60s is not shorter than expire 60s", fix: "`renewal-freq = 30`"),

    // weights
    .init(
        "too few weights", threeMembers + "ticket = t\n  weights = 1,2\n", line: 5, column: nil,
        "ticket 't' has 2 weights but the file defines 3 members",
        fix: "site 10.0.0.1 (line 1), site 10.0.0.2 (line 2), arbitrator 10.0.0.3 (line 3)"),
    .init(
        "too many weights in __defaults__", threeMembers + "ticket = __defaults__\n  weights = 1,2,3,4\nticket = t\n",
        line: 5, column: nil, "__defaults__ has 4 weights but the file defines 3 members",
        fix: "exactly one weight per member"),
    .init(
        "weights counted against members declared later", "ticket = t\n  weights = 1\n" + threeMembers, line: 2,
        column: nil,
        "has 1 weight but the file defines 3 members", fix: "one weight per member"),
    .init(
        "weight not an integer", threeMembers + "ticket = t\n  weights = 1,x,3\n", line: 5, column: 15,
        "weight 2 ('x') is not an integer", fix: "`weights = 10,0,5`"),
    .init(
        "weights separated by ';'", threeMembers + "ticket = t\n  weights = 1;2;3\n", line: 5, column: 13,
        "weight 1 ('1;2;3') is not an integer", fix: "separate weights with commas only"),
    .init(
        "trailing comma in weights", threeMembers + "ticket = t\n  weights = 1,2,\n", line: 5, column: 16,
        "weight 3 of 3 is empty", fix: "separated by commas"),
    .init(
        "octal-looking weight", threeMembers + "ticket = t\n  weights = 1, 010, 3\n", line: 5, column: 16,
        "weight 2 ('010') is not an integer", fix: "octal"),

    // attr-prereq, mode, handler
    .init(
        "attr-prereq too short", site + "ticket = t\n  attr-prereq = auto repl_state eq\n", line: 3, column: 17,
        "attr-prereq needs 4 words", fix: "`attr-prereq = auto repl_state eq ACTIVE`"),
    .init(
        "attr-prereq grant type", site + "ticket = t\n  attr-prereq = always repl_state eq ACTIVE\n", line: 3,
        column: 17, "'always' is not a grant type", fix: "auto or manual"),
    .init(
        "attr-prereq operator", site + "ticket = t\n  attr-prereq = auto repl_state == ACTIVE\n", line: 3,
        column: 33, "'==' is not an attribute operator", fix: "eq (equal) or ne (not equal)"),
    .init(
        "attr-prereq value with blanks", site + "ticket = t\n  attr-prereq = auto state eq fully synced\n", line: 3,
        column: 37, "attr-prereq has 5 words", fix: "<auto|manual>"),
    .init(
        "mode typo", site + "ticket = t\n  mode = manaul\n", line: 3, column: 10, "'manaul' is not a ticket mode",
        fix: "`mode = auto` or `mode = manual`"),
    .init(
        "handler of blanks", site + "ticket = t\n  before-acquire-handler = \" \t \"\n", line: 3, column: 29,
        "before-acquire-handler has no program", fix: "service-runnable"),
]

@Suite("Errors")
struct ErrorTests {
    @Test("every error names the line, the column where meaningful, and a fix", arguments: errorCases)
    func reportsLineAndFix(_ c: ErrorCase) throws {
        let e = try #require(failure(c.text))
        #expect(e.path == "booth.conf")
        #expect(e.line == c.line, "\(e)")
        #expect(e.column == c.column, "\(e)")
        #expect(e.message.contains(c.message), "\(e)")
        #expect(e.fix.contains(c.fix), "\(e)")
        let location = c.column.map { "booth.conf:\(c.line):\($0): error: " } ?? "booth.conf:\(c.line): error: "
        #expect(e.description.hasPrefix(location), "\(e)")
        #expect(e.description.contains("\n  fix: \(e.fix)"))
    }

    @Test("the description has the compiler form")
    func descriptionFormat() throws {
        let e = try #require(failure("site = 10.0.0.1\n\n\n\n\n\n\n\n\n\n\n    transprot = udp\n"))
        #expect(
            e.description == """
                booth.conf:12:5: error: unknown key 'transprot'
                  fix: did you mean 'transport'? (keys are case-sensitive)
                """)
        let whole = BoothConfigError(path: "/etc/booth/booth.conf", line: nil, column: 3, message: "m", fix: "f")
        #expect(whole.column == nil)
        #expect(whole.description == "/etc/booth/booth.conf: error: m\n  fix: f")
        #expect(BoothConfigError(path: "b", line: 4, message: "m", fix: "f").description == "b:4: error: m\n  fix: f")
    }

    @Test("the first error in the file wins, whatever its kind")
    func earliestError() throws {
        // The retry check (line 2) and the weight count (line 5) are both whole-file checks:
        // the earlier line wins.
        let e = try #require(
            failure(site + "ticket = a\n  expire = 60\nticket = b\n  weights = 1,2\n"))
        #expect(e.line == 2)
        // A syntax error stops reading at its line.
        let s = try #require(failure(site + "ticket = a\n  expire = 60\nport\n"))
        #expect(s.line == 4)
    }

    @Test("garbage never crashes the parser")
    func fuzz() {
        var generator = SplitMix64(seed: 0x5EED)
        let alphabet = Array("site=ticket expire 10.0.0.1 :#\"'\t\n_-/.,ms0123456789__defaults__ weights\r\u{0}é")
        for _ in 0..<2000 {
            let length = Int(generator.next() % 200)
            let text = String((0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] })
            do {
                _ = try parse(text)
            } catch {
                #expect(!error.message.isEmpty && !error.fix.isEmpty && error.line != nil)
            }
        }
    }
}

/// A tiny deterministic generator for the fuzz test.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
