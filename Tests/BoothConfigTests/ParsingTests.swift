import Testing

@testable import BoothConfig

func parse(_ text: String, path: String = "booth.conf") throws(BoothConfigError) -> BoothConfiguration {
    try BoothConfiguration.parse(text, path: path)
}

let everyKey = """
    # Meridian test cluster: every key booth.conf knows
    transport = UDP
    port = 9930
    name = "geo1"
    authfile = /etc/booth/authkey
    maxtimeskew = 120
    debug = 1
    site-user = hacluster
    site-group = haclient
    arbitrator-user = nobody
    arbitrator-group = nogroup

    site = "192.168.201.100"
    arbitrator = 192.168.203.100
    site = '192.168.202.100'

    ticket = "__defaults__"
        expire = 300
        timeout = 3
    ticket = "ticket-db8"
        expire        = 600
        acquire-after = 60
        timeout       = 10
        retries       = 5
        renewal-freq  = 100
        before-acquire-handler = /usr/share/booth/service-runnable db8
        attr-prereq = auto repl_state eq ACTIVE
        attr-prereq = manual site_role ne standby
        mode = manual
        weights = 10, 0, 5
    ticket = "web_app"
    """

@Suite("Valid files")
struct ParsingTests {
    @Test("a file with every key")
    func everyKeyFile() throws {
        let c = try parse(everyKey)
        #expect(c.path == "booth.conf")
        #expect(c.transport == .udp)
        #expect(c.port == 9930)
        #expect(c.name == "geo1")
        #expect(c.effectiveName == "geo1")
        #expect(c.authFile == "/etc/booth/authkey")
        #expect(c.maxTimeSkew == .seconds(120))
        #expect(c.debug == 1)
        #expect(c.siteUser == "hacluster")
        #expect(c.siteGroup == "haclient")
        #expect(c.arbitratorUser == "nobody")
        #expect(c.arbitratorGroup == "nogroup")
        #expect(
            c.members == [
                .init(kind: .site, address: "192.168.201.100", index: 0, line: 13),
                .init(kind: .arbitrator, address: "192.168.203.100", index: 1, line: 14),
                .init(kind: .site, address: "192.168.202.100", index: 2, line: 15),
            ])
        #expect(c.sites.map(\.address) == ["192.168.201.100", "192.168.202.100"])
        #expect(c.sites.map(\.index) == [0, 2])
        #expect(c.arbitrators.map(\.address) == ["192.168.203.100"])
        #expect(c.tickets.map(\.name) == ["ticket-db8", "web_app"])
        #expect(c.millisecondWireTimes == false)
        #expect(c.warnings.isEmpty)

        let db = try #require(c.ticket(named: "ticket-db8"))
        #expect(db.line == 20)
        #expect(db.expire == .seconds(600))
        #expect(db.acquireAfter == .seconds(60))
        #expect(db.timeout == .seconds(10))
        #expect(db.retries == 5)
        #expect(db.renewalFrequency == .seconds(100))
        #expect(db.beforeAcquireHandler == ["/usr/share/booth/service-runnable", "db8"])
        #expect(
            db.attrPrerequisites == [
                .init(grantType: .auto, name: "repl_state", op: .eq, value: "ACTIVE"),
                .init(grantType: .manual, name: "site_role", op: .ne, value: "standby"),
            ])
        #expect(db.mode == .manual)
        #expect(db.weights == [10, 0, 5])

        let web = try #require(c.ticket(named: "web_app"))
        #expect(web.line == 31)
        #expect(web.expire == .seconds(300))
        #expect(web.timeout == .seconds(3))
        #expect(web.renewalFrequency == .seconds(150))
        #expect(web.retries == 10)
        #expect(web.mode == .automatic)
        #expect(web.weights == [0, 0, 0])
        #expect(c.ticket(named: "__defaults__") == nil)
        #expect(c.ticket(named: "missing") == nil)
    }

    @Test("Booth's defaults")
    func defaults() throws {
        let c = try parse(
            """
            site = 10.0.0.1
            site = 10.0.0.2
            arbitrator = 10.0.0.3
            ticket = t
            """, path: "/etc/booth/geo.conf")
        #expect(c.transport == .udp)
        #expect(c.port == 9929)
        #expect(c.name == nil)
        #expect(c.effectiveName == "geo")
        #expect(c.authFile == nil)
        #expect(c.maxTimeSkew == .seconds(600))
        #expect(c.debug == 0)
        #expect(c.siteUser == "hacluster")
        #expect(c.siteGroup == "haclient")
        #expect(c.arbitratorUser == "nobody")
        #expect(c.arbitratorGroup == "nobody")
        #expect(c.millisecondWireTimes == false)
        #expect(c.wireTimeUnit == .seconds(1))
        let t = try #require(c.tickets.first)
        #expect(t.expire == .seconds(600))
        #expect(t.timeout == .seconds(5))
        #expect(t.retries == 10)
        #expect(t.renewalFrequency == .seconds(300))
        #expect(t.acquireAfter == .zero)
        #expect(t.beforeAcquireHandler == nil)
        #expect(t.attrPrerequisites.isEmpty)
        #expect(t.mode == .automatic)
        #expect(t.weights == [0, 0, 0])
        #expect(t.line == 4)
    }

    @Test("a file without tickets is valid")
    func noTickets() throws {
        let c = try parse("site = 10.0.0.1\n")
        #expect(c.tickets.isEmpty)
        #expect(c.effectiveName == "booth")
    }

    @Test("__defaults__ is inherited by every ticket, and a ticket's own value wins")
    func defaultsInheritance() throws {
        let c = try parse(
            """
            site = 10.0.0.1
            site = 10.0.0.2
            arbitrator = 10.0.0.3
            ticket = "__defaults__"
              expire = 120
              timeout = 2
              retries = 4
              renewal-freq = 40
              acquire-after = 30
              before-acquire-handler = /usr/lib/check all
              attr-prereq = auto role eq primary
              mode = MANUAL
              weights = 1,2,3
            ticket = a
            ticket = b
              expire = 60
              retries = 5
              renewal-freq = 20
              acquire-after = 0
              before-acquire-handler = /usr/lib/check b
              attr-prereq = manual role ne none
              mode = auto
              weights = 3,2,1
            """)
        let a = try #require(c.ticket(named: "a"))
        #expect(a.expire == .seconds(120))
        #expect(a.timeout == .seconds(2))
        #expect(a.retries == 4)
        #expect(a.renewalFrequency == .seconds(40))
        #expect(a.acquireAfter == .seconds(30))
        #expect(a.beforeAcquireHandler == ["/usr/lib/check", "all"])
        #expect(a.attrPrerequisites == [.init(grantType: .auto, name: "role", op: .eq, value: "primary")])
        #expect(a.mode == .manual)
        #expect(a.weights == [1, 2, 3])

        let b = try #require(c.ticket(named: "b"))
        #expect(b.expire == .seconds(60))
        #expect(b.timeout == .seconds(2))
        #expect(b.retries == 5)
        #expect(b.renewalFrequency == .seconds(20))
        #expect(b.acquireAfter == .zero)
        #expect(b.beforeAcquireHandler == ["/usr/lib/check", "b"])
        #expect(b.attrPrerequisites == [.init(grantType: .manual, name: "role", op: .ne, value: "none")])
        #expect(b.mode == .automatic)
        #expect(b.weights == [3, 2, 1])

        // Booth 1.0 does not copy these four from __defaults__: one warning each, on their lines.
        #expect(c.warnings.map(\.line) == [8, 9, 10, 11])
        #expect(c.warnings.allSatisfy { $0.message.contains("Booth 1.0 ignores") && !$0.advice.isEmpty })
    }

    @Test("renewal-freq defaults to expire/2 of the ticket, truncated to milliseconds")
    func renewalIsHalfOfExpire() throws {
        let c = try parse(
            """
            site = 10.0.0.1
            ticket = "__defaults__"
              expire = 200
            ticket = a
            ticket = b
              expire = 1001ms
              timeout = 50ms
              retries = 3
            """)
        #expect(c.ticket(named: "a")?.renewalFrequency == .seconds(100))
        #expect(c.ticket(named: "b")?.renewalFrequency == .milliseconds(500))
    }

    @Test("500ms keeps sub-second precision and switches wire times to milliseconds")
    func milliseconds() throws {
        let c = try parse(
            """
            site = 10.0.0.1
            ticket = fast
              expire = 10
              timeout = 500ms
              retries = 3
              acquire-after = 1500ms
            """)
        let t = try #require(c.tickets.first)
        #expect(t.timeout == .milliseconds(500))
        #expect(t.acquireAfter == .milliseconds(1500))
        #expect(t.renewalFrequency == .seconds(5))
        #expect(c.millisecondWireTimes)
        #expect(c.wireTimeUnit == .milliseconds(1))
    }

    @Test(
        "millisecondWireTimes is true exactly when some time is not whole seconds",
        arguments: [
            ("expire = 600", false),
            ("expire = 120000ms", false),
            ("expire = 0600", nil),  // not a time at all: error
            ("expire = 120500ms", true),
            ("renewal-freq = 100001ms", true),
            ("acquire-after = 0ms", false),
            ("acquire-after = 1ms", true),
        ] as [(String, Bool?)])
    func wireTimeRule(line: String, expected: Bool?) throws {
        let text = "site = 10.0.0.1\nticket = t\n  \(line)\n"
        if let expected {
            #expect(try parse(text).millisecondWireTimes == expected)
        } else {
            #expect(throws: BoothConfigError.self) { try parse(text) }
        }
    }

    @Test("a sub-second time in __defaults__ also switches the wire unit, as in Booth")
    func millisecondsInDefaults() throws {
        let c = try parse(
            """
            site = 10.0.0.1
            ticket = "__defaults__"
              timeout = 4500ms
            ticket = t
              timeout = 4
            """)
        #expect(c.tickets[0].timeout == .seconds(4))
        #expect(c.millisecondWireTimes)
    }

    @Test("long handler command lines are kept whole (Booth 1.0 stops at 64 characters)")
    func longHandler() throws {
        let args = (1...40).map { "--resource=database-replica-\($0)" }
        let command = (["/usr/share/booth/service-runnable"] + args).joined(separator: " \t ")
        #expect(command.count > 1024)
        let c = try parse("site = 10.0.0.1\nticket = t\n  before-acquire-handler = \(command)\n")
        #expect(c.tickets[0].beforeAcquireHandler == ["/usr/share/booth/service-runnable"] + args)
        let quoted = try parse("site = 10.0.0.1\nticket = t\n  before-acquire-handler = \"\(command)\"\n")
        #expect(quoted.tickets[0].beforeAcquireHandler?.count == 41)
    }

    @Test(
        "ticket names may contain letters, digits, '-', '_', '/', '.'",
        arguments: ["db_primary", "__db__", "ticket-db8", "geo/site.a", "A9", "x"])
    func ticketNames(name: String) throws {
        let c = try parse("site = 10.0.0.1\nticket = \(name)\n")
        #expect(c.tickets.map(\.name) == [name])
    }

    @Test("a 63-character ticket name fits booth's wire field")
    func longestTicketName() throws {
        let name = String(repeating: "n", count: 63)
        #expect(try parse("site = 10.0.0.1\nticket = \(name)\n").tickets[0].name == name)
    }

    @Test("quotes, comments and blanks")
    func quotesAndComments() throws {
        let c = try parse(
            "# leading comment\n"
                + "   # indented comment\n"
                + "\n"
                + "\t \n"
                + "name='with # hash'   # and a comment\n"
                + "authfile = \"/etc/booth/auth key\"# right after the quote\n"
                + "site=10.0.0.1 # trailing comment\n"
                + "site\t=\t10.0.0.2\t\r\n"
                + "arbitrator =10.0.0.3\n"
                + "site-user = ha#cluster # '#' starts a comment only after a blank\n"
                + "ticket = \"t\" \n"
                + "  before-acquire-handler = /bin/check arg#1 # comment\n"
                + "  mode = 'manual'\n")
        #expect(c.name == "with # hash")
        #expect(c.authFile == "/etc/booth/auth key")
        #expect(c.members.map(\.address) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"])
        #expect(c.siteUser == "ha#cluster")
        #expect(c.tickets[0].beforeAcquireHandler == ["/bin/check", "arg#1"])
        #expect(c.tickets[0].mode == .manual)
    }

    @Test("a file ending without a newline, and CRLF line ends")
    func lineEnds() throws {
        let c = try parse("site = 10.0.0.1\r\nsite = 10.0.0.2\r\narbitrator = 10.0.0.3\r\nticket = t\r\n  expire = 120")
        #expect(c.members.count == 3)
        #expect(c.tickets[0].expire == .seconds(120))
    }

    @Test("IPv6 members, compared by address, not by spelling")
    func ipv6() throws {
        let c = try parse(
            """
            site = "2001:db8::1"
            site = ::ffff:192.168.202.100
            arbitrator = "fd00:0:0:0:0:0:0:3"
            ticket = t
            """)
        #expect(c.members.map(\.address) == ["2001:db8::1", "::ffff:192.168.202.100", "fd00:0:0:0:0:0:0:3"])
        #expect(c.member(address: "2001:db8::1")?.index == 0)
        #expect(c.member(address: "2001:0db8:0:0::1")?.index == 0)
        #expect(c.member(address: "fd00::3")?.kind == .arbitrator)
        #expect(c.member(address: "2001:db8::2") == nil)
        #expect(c.member(address: "not an address") == nil)
        #expect(c.members[0].addressBytes?.count == 16)
        #expect(c.tickets[0].weights == [0, 0, 0])
    }

    @Test("IPv4 member lookup and binary address")
    func ipv4Lookup() throws {
        let c = try parse("site = 192.168.201.100\narbitrator = 127.0.0.1\n")
        #expect(c.member(address: "192.168.201.100")?.kind == .site)
        #expect(c.member(address: "127.0.0.1")?.index == 1)
        #expect(c.members[0].addressBytes == [192, 168, 201, 100])
        // Booth's site id, as boothd computes it (zlib CRC-32 with the top bit cleared).
        #expect(IPAddress.boothSiteID([192, 168, 201, 100]) == 1_350_956_164)
    }

    @Test("weights: one signed integer per member, comma separated")
    func weights() throws {
        let c = try parse(
            """
            site = 10.0.0.1
            arbitrator = 10.0.0.9
            site = 10.0.0.2
            ticket = a
              weights = 100,-5 ,  0
            ticket = b
              weights=7,7,7
            """)
        #expect(c.ticket(named: "a")?.weights == [100, -5, 0])
        #expect(c.ticket(named: "b")?.weights == [7, 7, 7])
    }

    @Test("transport is case-insensitive; mode accepts MANUAL and AUTO")
    func caseInsensitiveValues() throws {
        for spelling in ["udp", "UDP", "Udp"] {
            #expect(try parse("transport = \(spelling)\nsite = 10.0.0.1\n").transport == .udp)
        }
        for (spelling, mode) in [
            ("manual", TicketConfiguration.Mode.manual), ("MANUAL", .manual), ("AUTO", .automatic),
        ] {
            #expect(try parse("site = 10.0.0.1\nticket = t\n mode = \(spelling)\n").tickets[0].mode == mode)
        }
    }

    @Test("global keys may follow tickets, as in Booth; a late port is a warning")
    func globalKeysAnywhere() throws {
        let c = try parse("ticket = t\nsite = 10.0.0.1\nport = 9931\n")
        #expect(c.port == 9931)
        #expect(c.sites.count == 1)
        #expect(c.warnings.map(\.line) == [3])
        #expect(c.warnings[0].advice.contains("above the first member (line 2)"))
        #expect(try parse("port = 9931\nsite = 10.0.0.1\n").warnings.isEmpty)
    }

    @Test("an even number of members is a warning, not an error")
    func evenMembersWarning() throws {
        let c = try parse("site = 10.0.0.1\nsite = 10.0.0.2\n")
        #expect(c.warnings.count == 1)
        #expect(c.warnings[0].line == nil)
        #expect(c.warnings[0].description.hasPrefix("booth.conf: warning: 2 members"))
    }

    @Test("__defaults__ may be repeated before the first ticket")
    func repeatedDefaults() throws {
        let c = try parse(
            "site = 10.0.0.1\nticket = __defaults__\n expire = 100\nticket = __defaults__\n timeout = 2\nticket = t\n")
        #expect(c.tickets[0].expire == .seconds(100))
        #expect(c.tickets[0].timeout == .seconds(2))
    }

    @Test("the public initializers give Booth's defaults")
    func initializers() {
        let t = TicketConfiguration(name: "t", expire: .milliseconds(1001))
        #expect(t.renewalFrequency == .milliseconds(500))
        #expect(t.retries == 10)
        let c = BoothConfiguration(
            members: [.init(kind: .site, address: "10.0.0.1", index: 0)], tickets: [t])
        #expect(c.port == 9929)
        #expect(c.effectiveName == "booth")
        #expect(c.ticket(named: "t") == t)
    }
}
