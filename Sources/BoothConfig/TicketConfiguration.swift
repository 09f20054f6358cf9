/// One `ticket = "..."` section of `booth.conf`, with `__defaults__` and Booth's built-in
/// defaults applied.
///
/// Values from ``BoothConfiguration/parse(_:path:)`` satisfy: `name` is 1...63 bytes of
/// ASCII letters, digits, `-`, `_`, `/`, `.`; `expire > 0`, `timeout > 0`,
/// `renewalFrequency > 0`, `acquireAfter >= 0`, all whole milliseconds; `retries` is in
/// 3...100; `timeout * (retries + 1) < renewalFrequency`; for automatic tickets
/// `renewalFrequency < expire`; `weights` has one entry per member.
public struct TicketConfiguration: Sendable, Equatable {
    /// `mode`: automatic tickets follow Raft elections and expire; manual tickets are only
    /// granted and revoked by the administrator.
    public enum Mode: String, Sendable {
        case automatic = "auto"
        case manual
    }

    /// One `attr-prereq = <grant type> <name> <op> <value>` line: the ticket may only be
    /// granted (automatically, or manually) when the site attribute compares as stated.
    public struct AttrPrerequisite: Sendable, Equatable {
        public enum GrantType: String, Sendable { case auto, manual }
        public enum Op: String, Sendable { case eq, ne }
        public var grantType: GrantType
        public var name: String
        public var op: Op
        public var value: String

        public init(grantType: GrantType, name: String, op: Op, value: String) {
            self.grantType = grantType
            self.name = name
            self.op = op
            self.value = value
        }
    }

    /// Booth's default `expire`.
    public static let defaultExpire: Duration = .seconds(600)
    /// Booth's default `timeout`.
    public static let defaultTimeout: Duration = .seconds(5)
    /// Booth's default `retries`.
    public static let defaultRetries = 10
    /// Booth's accepted range for `retries`.
    public static let retriesRange = 3...100
    /// The longest ticket name that fits Booth's 64-byte, NUL-terminated wire field.
    public static let maximumNameLength = 63

    public var name: String
    /// `expire`: the lease time. Default 600 s.
    public var expire: Duration
    /// `timeout`: time before re-sending an unacknowledged packet. Default 5 s.
    public var timeout: Duration
    /// `retries`: re-sends before giving up. Default 10; 3...100.
    public var retries: Int
    /// `renewal-freq` if given (here or in `__defaults__`), else `expire / 2` truncated to
    /// whole milliseconds (Booth's rule).
    public var renewalFrequency: Duration
    /// `acquire-after`: extra wait after a lost ticket before acquiring it. Default 0.
    public var acquireAfter: Duration
    /// `before-acquire-handler` split on spaces and tabs: program path, then arguments.
    public var beforeAcquireHandler: [String]?
    /// `attr-prereq` lines in file order.
    public var attrPrerequisites: [AttrPrerequisite]
    /// `mode`; default `.automatic`.
    public var mode: Mode
    /// One weight per member (sites and arbitrators, file order); default all 0.
    /// Meridian prefers the site with the HIGHER weight when several may acquire the
    /// ticket, ties broken by configuration order (earlier preferred).
    public var weights: [Int]
    /// 1-based line of the `ticket` key.
    public var line: Int

    public init(
        name: String,
        expire: Duration = TicketConfiguration.defaultExpire,
        timeout: Duration = TicketConfiguration.defaultTimeout,
        retries: Int = TicketConfiguration.defaultRetries,
        renewalFrequency: Duration? = nil,
        acquireAfter: Duration = .zero,
        beforeAcquireHandler: [String]? = nil,
        attrPrerequisites: [AttrPrerequisite] = [],
        mode: Mode = .automatic,
        weights: [Int] = [],
        line: Int = 0
    ) {
        self.name = name
        self.expire = expire
        self.timeout = timeout
        self.retries = retries
        self.renewalFrequency = renewalFrequency ?? .milliseconds(expire.wholeMilliseconds / 2)
        self.acquireAfter = acquireAfter
        self.beforeAcquireHandler = beforeAcquireHandler
        self.attrPrerequisites = attrPrerequisites
        self.mode = mode
        self.weights = weights
        self.line = line
    }
}
