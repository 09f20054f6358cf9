/// A value from the file with where it was written.
struct Setting<Value: Sendable>: Sendable {
    var value: Value
    var line: Int
}

/// A `ticket` (or `__defaults__`) section as written, before defaults are applied.
struct TicketDraft: Sendable {
    var name: String
    var line: Int
    var isDefaults: Bool
    /// Key -> line of its first occurrence in this section.
    var seen: [String: Int] = [:]
    var expire: Setting<Int>?
    var timeout: Setting<Int>?
    var retries: Setting<Int>?
    var renewalFrequency: Setting<Int>?
    var acquireAfter: Setting<Int>?
    var handler: Setting<[String]>?
    var attrPrerequisites: Setting<[TicketConfiguration.AttrPrerequisite]>?
    var mode: Setting<TicketConfiguration.Mode>?
    var weights: Setting<[Int]>?

    var label: String { isDefaults ? "__defaults__" : "ticket '\(name)'" }
}

/// A per-ticket value, interpreted but not yet stored.
enum TicketValue: Sendable {
    case expire(Int)
    case timeout(Int)
    case retries(Int)
    case renewalFrequency(Int)
    case acquireAfter(Int)
    case handler([String])
    case attrPrerequisite(TicketConfiguration.AttrPrerequisite)
    case mode(TicketConfiguration.Mode)
    case weights([Int])
}

/// Reads entries in file order, then checks what needs the whole file.
struct ConfigParser {
    enum Section {
        case none, defaults
        case ticket(Int)
    }

    static let globalKeys = [
        "transport", "port", "name", "site", "arbitrator", "authfile", "maxtimeskew", "debug",
        "site-user", "site-group", "arbitrator-user", "arbitrator-group", "ticket",
    ]
    static let ticketKeys = [
        "expire", "timeout", "retries", "renewal-freq", "acquire-after", "before-acquire-handler",
        "attr-prereq", "mode", "weights",
    ]
    /// Keys that Booth 1.0's `add_ticket` does not copy from `__defaults__`.
    static let keysBoothDoesNotInherit: Set<String> = [
        "renewal-freq", "acquire-after", "before-acquire-handler", "attr-prereq",
    ]

    let path: String
    let values: ValueParsers
    var lineCount = 0

    var seenGlobal: [String: Int] = [:]
    var transport: BoothConfiguration.Transport = .udp
    var port = BoothConfiguration.defaultPort
    var name: String?
    var authFile: String?
    var maxTimeSkewSeconds = 600
    var debug = 0
    var siteUser = "hacluster"
    var siteGroup = "haclient"
    var arbitratorUser = "nobody"
    var arbitratorGroup = "nobody"
    var members: [BoothConfiguration.Member] = []
    var memberBytes: [[UInt8]] = []

    var defaults: TicketDraft?
    var tickets: [TicketDraft] = []
    var section: Section = .none
    var millisecondWireTimes = false
    var warnings: [BoothConfigWarning] = []

    init(path: String) {
        self.path = path
        self.values = ValueParsers(path: path)
    }

    private func error(_ entry: ConfigEntry, atKey: Bool = false, _ message: String, fix: String) -> BoothConfigError {
        BoothConfigError(
            path: path, line: entry.line, column: atKey ? entry.keyColumn : entry.valueColumn, message: message,
            fix: fix)
    }

    // MARK: - Entries

    mutating func apply(_ entry: ConfigEntry) throws(BoothConfigError) {
        switch entry.key {
        case "transport":
            try once(entry)
            switch entry.value.lowercased() {
            case "udp": transport = .udp
            case "sctp", "tcp":
                throw error(
                    entry, "transport \(entry.value) is not supported: booth's ticket protocol runs over UDP",
                    fix: "write `transport = UDP` or remove the line (UDP is the default)")
            default:
                throw error(
                    entry, "unknown transport '\(entry.value)'",
                    fix: "write `transport = UDP` or remove the line (UDP is the default)")
            }
        case "port":
            try once(entry)
            port = UInt16(try values.integer(entry, range: 1...65535, what: "a UDP/TCP port", example: 9929))
            if let first = members.first {
                warnings.append(
                    BoothConfigWarning(
                        path: path, line: entry.line,
                        message: "Booth 1.0 gives each member the port in effect when its line is read, so it "
                            + "would use \(BoothConfiguration.defaultPort) for the members above this line; "
                            + "Meridian uses \(port) for all",
                        advice: "move `port` above the first member (line \(first.line)) so that boothd agrees"))
            }
        case "name":
            try once(entry)
            if let slash = entry.value.unicodeScalars.firstIndex(of: "/") {
                let offset = entry.value.unicodeScalars.distance(from: entry.value.unicodeScalars.startIndex, to: slash)
                throw BoothConfigError(
                    path: path, line: entry.line, column: entry.valueColumn + offset,
                    message:
                        "name '\(entry.value)' contains '/'; booth uses the name in file names (pid and lock files)",
                    fix: "use a name without '/', e.g. `name = \"booth\"`")
            }
            name = entry.value
        case "authfile":
            try once(entry)
            authFile = entry.value
        case "maxtimeskew":
            try once(entry)
            if entry.value.hasSuffix("ms") || entry.value.hasSuffix("s") {
                throw error(
                    entry, "maxtimeskew is a number of seconds without unit; '\(entry.value)' is not",
                    fix: "write whole seconds, e.g. `maxtimeskew = 600` (Booth 1.0 would read '600ms' as 600 seconds)")
            }
            maxTimeSkewSeconds = try values.integer(
                entry, range: 1...Int(Int32.max), what: "the allowed clock skew in seconds", example: 600)
        case "debug":
            try once(entry)
            debug = try values.integer(entry, range: 0...Int(Int32.max), what: "the debug level", example: 1)
        case "site":
            try addMember(entry, kind: .site)
        case "arbitrator":
            try addMember(entry, kind: .arbitrator)
        case "site-user":
            try once(entry)
            siteUser = entry.value
        case "site-group":
            try once(entry)
            siteGroup = entry.value
        case "arbitrator-user":
            try once(entry)
            arbitratorUser = entry.value
        case "arbitrator-group":
            try once(entry)
            arbitratorGroup = entry.value
        case "ticket":
            try startTicket(entry)
        case let key where Self.ticketKeys.contains(key):
            try applyTicketKey(entry)
        default:
            let all = Self.globalKeys + Self.ticketKeys
            let fix: String
            if let suggestion = KeySuggestion.closest(to: entry.key, among: all) {
                fix = "did you mean '\(suggestion)'? (keys are case-sensitive)"
            } else {
                fix = "remove the line; known keys are " + all.joined(separator: ", ")
            }
            throw error(entry, atKey: true, "unknown key '\(entry.key)'", fix: fix)
        }
    }

    /// Global settings may be given once (Booth 1.0 silently keeps the last one, except for
    /// `transport`, which it also rejects twice).
    private mutating func once(_ entry: ConfigEntry) throws(BoothConfigError) {
        if let first = seenGlobal[entry.key] {
            throw error(
                entry, atKey: true, "'\(entry.key)' is set twice (first on line \(first))",
                fix: "keep only one `\(entry.key)` line")
        }
        seenGlobal[entry.key] = entry.line
    }

    private mutating func addMember(_ entry: ConfigEntry, kind: BoothConfiguration.MemberKind) throws(BoothConfigError)
    {
        guard members.count < BoothConfiguration.maximumMemberCount else {
            throw error(
                entry, atKey: true,
                "too many members: booth supports at most \(BoothConfiguration.maximumMemberCount) sites and "
                    + "arbitrators together",
                fix: "remove members until at most \(BoothConfiguration.maximumMemberCount) remain")
        }
        guard let bytes = IPAddress.bytes(of: entry.value) else {
            let (message, fix) = IPAddress.explainInvalid(entry.value, key: entry.key)
            throw error(entry, message, fix: fix)
        }
        if let twin = memberBytes.firstIndex(of: bytes) {
            let other = members[twin]
            let same = other.address == entry.value ? "" : " (written '\(other.address)')"
            throw error(
                entry,
                "address \(entry.value) is already used by the \(other.kind.rawValue) on line \(other.line)\(same)",
                fix: "give every site and arbitrator its own address; remove or correct one of the two lines")
        }
        let id = IPAddress.boothSiteID(bytes)
        if let twin = memberBytes.firstIndex(where: { IPAddress.boothSiteID($0) == id }) {
            throw error(
                entry,
                "address \(entry.value) gets the same booth site id (\(id)) as \(members[twin].address) on line "
                    + "\(members[twin].line); booth identifies members by a CRC-32 of their address",
                fix: "use a different address for one of the two members")
        }
        members.append(.init(kind: kind, address: entry.value, index: members.count, line: entry.line))
        memberBytes.append(bytes)
    }

    private mutating func startTicket(_ entry: ConfigEntry) throws(BoothConfigError) {
        if entry.value == "__defaults__" {
            if let first = tickets.first {
                throw error(
                    entry,
                    "`ticket = \"__defaults__\"` comes after \(first.label) on line \(first.line); the defaults "
                        + "must precede all other tickets",
                    fix: "move the __defaults__ section above line \(first.line)")
            }
            if defaults == nil {
                defaults = TicketDraft(name: "__defaults__", line: entry.line, isDefaults: true)
            }
            section = .defaults
            return
        }
        let name = try values.ticketName(entry)
        if let first = tickets.first(where: { $0.name == name }) {
            throw error(
                entry, "ticket '\(name)' is defined twice (first on line \(first.line))",
                fix: "rename one of the two tickets, or merge the two sections into one")
        }
        tickets.append(TicketDraft(name: name, line: entry.line, isDefaults: false))
        section = .ticket(tickets.count - 1)
    }

    private mutating func applyTicketKey(_ entry: ConfigEntry) throws(BoothConfigError) {
        if case .none = section {
            throw error(
                entry, atKey: true,
                "'\(entry.key)' is a ticket setting, but no ticket has been started yet",
                fix: "move it below a `ticket = \"<name>\"` line, or put it in a `ticket = \"__defaults__\"` "
                    + "section to set it for every ticket (Booth 1.0 rejects this line too)")
        }
        let value = try interpret(entry)
        switch section {
        case .none:
            preconditionFailure("Internal inconsistency: ticket key \(entry.key) with no section")
        case .defaults:
            try Self.store(value, entry, path: path, into: &defaults!)
            if Self.keysBoothDoesNotInherit.contains(entry.key) {
                warnings.append(
                    BoothConfigWarning(
                        path: path, line: entry.line,
                        message: "Booth 1.0 ignores '\(entry.key)' in __defaults__; Meridian applies it to "
                            + "every ticket that does not set it",
                        advice: "if boothd also reads this file, repeat `\(entry.key)` in each ticket"))
            }
        case .ticket(let index):
            try Self.store(value, entry, path: path, into: &tickets[index])
        }
    }

    private mutating func interpret(_ entry: ConfigEntry) throws(BoothConfigError) -> TicketValue {
        func time(allowZero: Bool) throws(BoothConfigError) -> Int {
            let ms = try values.time(entry, allowZero: allowZero)
            if ms % 1000 != 0 { millisecondWireTimes = true }
            return ms
        }
        switch entry.key {
        case "expire": return .expire(try time(allowZero: false))
        case "timeout": return .timeout(try time(allowZero: false))
        case "renewal-freq": return .renewalFrequency(try time(allowZero: false))
        case "acquire-after": return .acquireAfter(try time(allowZero: true))
        case "retries":
            return .retries(
                try values.integer(
                    entry, range: TicketConfiguration.retriesRange, what: "the number of retries", example: 10))
        case "before-acquire-handler": return .handler(try values.handler(entry))
        case "attr-prereq": return .attrPrerequisite(try values.attrPrerequisite(entry))
        case "mode": return .mode(try values.mode(entry))
        case "weights": return .weights(try values.weights(entry))
        default: preconditionFailure("Internal inconsistency: \(entry.key) is not a ticket key")
        }
    }

    private static func store(
        _ value: TicketValue, _ entry: ConfigEntry, path: String, into draft: inout TicketDraft
    ) throws(BoothConfigError) {
        if case .attrPrerequisite(let prerequisite) = value {
            var list = draft.attrPrerequisites ?? Setting(value: [], line: entry.line)
            list.value.append(prerequisite)
            draft.attrPrerequisites = list
            return
        }
        if let first = draft.seen[entry.key] {
            throw BoothConfigError(
                path: path, line: entry.line, column: entry.keyColumn,
                message: "'\(entry.key)' is set twice in \(draft.label) (first on line \(first))",
                fix: "keep only one `\(entry.key)` line in this section")
        }
        draft.seen[entry.key] = entry.line
        let line = entry.line
        switch value {
        case .expire(let v): draft.expire = Setting(value: v, line: line)
        case .timeout(let v): draft.timeout = Setting(value: v, line: line)
        case .retries(let v): draft.retries = Setting(value: v, line: line)
        case .renewalFrequency(let v): draft.renewalFrequency = Setting(value: v, line: line)
        case .acquireAfter(let v): draft.acquireAfter = Setting(value: v, line: line)
        case .handler(let v): draft.handler = Setting(value: v, line: line)
        case .mode(let v): draft.mode = Setting(value: v, line: line)
        case .weights(let v): draft.weights = Setting(value: v, line: line)
        case .attrPrerequisite: preconditionFailure("Internal inconsistency: attr-prereq handled above")
        }
    }

    // MARK: - Whole-file checks

    /// The effective values of one section: its own, else `__defaults__`, else Booth's.
    struct Effective {
        var expire: Int
        var timeout: Int
        var retries: Int
        var renewal: Int
        var renewalSetting: Setting<Int>?
        var acquireAfter: Int
        var mode: TicketConfiguration.Mode
        var weights: [Int]
    }

    private func effective(_ draft: TicketDraft, inheriting base: TicketDraft?) -> Effective {
        let expire = draft.expire?.value ?? base?.expire?.value ?? TicketConfiguration.defaultExpire.wholeMilliseconds
        let renewalSetting = draft.renewalFrequency ?? base?.renewalFrequency
        return Effective(
            expire: expire,
            timeout: draft.timeout?.value ?? base?.timeout?.value
                ?? TicketConfiguration.defaultTimeout.wholeMilliseconds,
            retries: draft.retries?.value ?? base?.retries?.value ?? TicketConfiguration.defaultRetries,
            renewal: renewalSetting?.value ?? expire / 2,
            renewalSetting: renewalSetting,
            acquireAfter: draft.acquireAfter?.value ?? base?.acquireAfter?.value ?? 0,
            mode: draft.mode?.value ?? base?.mode?.value ?? .automatic,
            weights: draft.weights?.value ?? base?.weights?.value ?? Array(repeating: 0, count: members.count))
    }

    private func check(_ draft: TicketDraft, _ e: Effective) -> [BoothConfigError] {
        var problems: [BoothConfigError] = []
        if let weights = draft.weights, weights.value.count != members.count {
            let order = members.map { "\($0.kind.rawValue) \($0.address) (line \($0.line))" }
            problems.append(
                BoothConfigError(
                    path: path, line: weights.line,
                    message: "\(draft.label) has \(weights.value.count) weight\(weights.value.count == 1 ? "" : "s") "
                        + "but the file defines \(members.count) member\(members.count == 1 ? "" : "s") "
                        + "(sites and arbitrators)",
                    fix: members.isEmpty
                        ? "define the sites and arbitrators, then give one weight per member"
                        : "give exactly one weight per member, in this order: " + order.joined(separator: ", ")))
        }

        let retrying = e.timeout * (e.retries + 1)
        if retrying >= e.renewal {
            let renewalText =
                e.renewalSetting != nil
                ? "renewal-freq \(formatMilliseconds(e.renewal))"
                : "renewal interval \(formatMilliseconds(e.renewal)) (expire \(formatMilliseconds(e.expire)) / 2, "
                    + "as renewal-freq is not set)"
            problems.append(
                BoothConfigError(
                    path: path, line: draft.line,
                    message: "\(draft.label): timeout * (retries + 1) = \(formatMilliseconds(e.timeout)) * "
                        + "(\(e.retries) + 1) = \(formatMilliseconds(retrying)) is not shorter than the "
                        + renewalText + "; booth must finish retrying before the next renewal",
                    fix: renewalFix(e, retrying: retrying)))
        }

        if e.mode == .automatic, e.renewal >= e.expire {
            let line = draft.renewalFrequency?.line ?? draft.expire?.line ?? draft.line
            problems.append(
                BoothConfigError(
                    path: path, line: line,
                    message: "\(draft.label): renewal-freq \(formatMilliseconds(e.renewal)) is not shorter than "
                        + "expire \(formatMilliseconds(e.expire)); the lease would lapse before the leader renews it",
                    fix: "set renewal-freq below expire (Booth's default is half of it: "
                        + "`renewal-freq = \(formatMilliseconds(e.expire / 2).replacingSecondsSuffix())`), "
                        + "or remove renewal-freq"))
        }
        return problems
    }

    private func renewalFix(_ e: Effective, retrying: Int) -> String {
        var options: [String] = []
        let maxRetries = (e.renewal - 1) / e.timeout - 1
        if maxRetries >= TicketConfiguration.retriesRange.lowerBound {
            options.append("`retries = \(min(maxRetries, TicketConfiguration.retriesRange.upperBound))`")
        }
        var maxTimeout = (e.renewal - 1) / (e.retries + 1)
        if maxTimeout >= 1000 { maxTimeout = maxTimeout / 1000 * 1000 }
        if maxTimeout >= 1 {
            options.append("`timeout = \(formatMilliseconds(maxTimeout).replacingSecondsSuffix())`")
        }
        let neededRenewal = (retrying / 1000 + 1) * 1000
        let seconds = neededRenewal / 1000
        if e.mode == .manual || neededRenewal < e.expire {
            options.append("`renewal-freq = \(seconds)`")
        } else if e.renewalSetting == nil {
            options.append("`expire = \(2 * seconds)` (the renewal interval is half of it)")
        } else {
            options.append("`renewal-freq = \(seconds)` with an expire above it")
        }
        return "lower timeout or retries, or lengthen the renewal interval, until timeout * (retries + 1) "
            + "< renewal; for example " + options.joined(separator: " or ")
    }

    func finish() throws(BoothConfigError) -> BoothConfiguration {
        var problems: [BoothConfigError] = []
        let endLine = max(lineCount, 1)
        if !members.contains(where: { $0.kind == .site }) {
            problems.append(
                BoothConfigError(
                    path: path, line: endLine,
                    message: "the file defines no site (reached the end of the file at line \(endLine)); "
                        + "booth needs at least one site that can hold tickets",
                    fix: "add a `site = \"<IP address>\"` line for every site, e.g. `site = \"192.168.201.100\"`"))
        }

        if let defaults {
            problems += check(defaults, effective(defaults, inheriting: nil))
        }
        var resolved: [TicketConfiguration] = []
        for draft in tickets {
            let e = effective(draft, inheriting: defaults)
            problems += check(draft, e)
            resolved.append(
                TicketConfiguration(
                    name: draft.name,
                    expire: .milliseconds(e.expire),
                    timeout: .milliseconds(e.timeout),
                    retries: e.retries,
                    renewalFrequency: .milliseconds(e.renewal),
                    acquireAfter: .milliseconds(e.acquireAfter),
                    beforeAcquireHandler: draft.handler?.value ?? defaults?.handler?.value,
                    attrPrerequisites: draft.attrPrerequisites?.value ?? defaults?.attrPrerequisites?.value ?? [],
                    mode: e.mode,
                    weights: e.weights,
                    line: draft.line))
        }
        if let first = problems.min(by: { ($0.line ?? 0, $0.column ?? 0) < ($1.line ?? 0, $1.column ?? 0) }) {
            throw first
        }

        var warnings = self.warnings
        if members.count % 2 == 0 {
            warnings.append(
                BoothConfigWarning(
                    path: path, line: nil,
                    message: "\(members.count) members (sites and arbitrators): an odd number is strongly recommended",
                    advice: "add an arbitrator, so that a majority remains when any one member is lost"))
        }
        return BoothConfiguration(
            path: path,
            transport: transport,
            port: port,
            name: name,
            members: members,
            authFile: authFile,
            maxTimeSkew: .seconds(maxTimeSkewSeconds),
            debug: debug,
            siteUser: siteUser,
            siteGroup: siteGroup,
            arbitratorUser: arbitratorUser,
            arbitratorGroup: arbitratorGroup,
            tickets: resolved,
            millisecondWireTimes: millisecondWireTimes,
            warnings: warnings)
    }
}

extension String {
    /// `30s` -> `30` (booth.conf's form for seconds); `1500ms` stays.
    fileprivate func replacingSecondsSuffix() -> String {
        hasSuffix("ms") ? self : String(dropLast())
    }
}
