// Process-wide control of libqb's logging targets.
import CQB
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A syslog facility for messages sent to the system log.
public enum SyslogFacility: Sendable, Hashable {
    case daemon
    case user
    case local(Int)

    var value: Int32 {
        switch self {
        case .daemon: return LOG_DAEMON
        case .user: return LOG_USER
        case .local(let index):
            precondition(
                (0...7).contains(index), "syslog facility local\(index) does not exist; use local(0) ... local(7)")
            return LOG_LOCAL0 + Int32(index) << 3
        }
    }
}

/// A log file that libqb writes to, as returned by ``QBLog/openFile(at:)``.
public struct QBLogFile: Sendable, Hashable {
    /// libqb's target number.
    public let target: Int32
    /// The file's path.
    public let path: String
}

/// Why logging could not be set up as asked: what failed, and how to fix it.
public struct LoggingSetupError: Error, Sendable, CustomStringConvertible {
    /// What failed, naming the file or target.
    public var message: String
    /// How to fix it.
    public var hint: String

    /// Creates an error.
    public init(message: String, hint: String) {
        self.message = message
        self.hint = hint
    }

    public var description: String { "\(message); hint: \(hint)" }
}

/// libqb's logging, configured once per process, as corosync and Pacemaker use it.
///
/// libqb keeps its configuration in process globals and drops messages that two
/// threads write at the same moment, so every call here (set-up and writing) is
/// serialised by one lock. Targets are never threaded, so writes are synchronous.
///
/// Lines on stderr and in files look like corosync's:
/// `Nov 22 04:14:31.123 [6862] node1 meridian-ticketd notice  [ticket] granted ticket-A`
/// (``lineFormat``); syslog gets `notice: [ticket] granted ticket-A` (``syslogFormat``).
public enum QBLog {
    /// libqb's format for stderr and file targets: time with milliseconds, pid, host,
    /// program name, priority padded to 7, message. (In libqb a positive width pads on
    /// the right, as corosync's `%7p` shows.)
    public static let lineFormat = "%T [%P] %H %N %7p %b"
    /// libqb's format for the syslog target (syslog adds time, host, program and pid).
    public static let syslogFormat = "%p: %b"
    /// The longest message body libqb is given in one line; longer lines are split.
    public static let maximumLineBytes = 380

    private struct State {
        var started = false
        var name = ""
        var files: [String: Int32] = [:]
    }

    private static let state = Mutex(State())

    /// Whether ``start(name:facility:)`` has run (and ``stop()`` has not).
    public static var isStarted: Bool { state.withLock { $0.started } }

    /// The program name given to ``start(name:facility:)``.
    public static var name: String { state.withLock { $0.name } }

    /// Initialises libqb logging as `name` (the `%N` in every line), with every target
    /// off. Calling it again while started changes nothing.
    public static func start(name: String, facility: SyslogFacility = .daemon) {
        state.withLock { state in
            guard !state.started else { return }
            qb_log_init(name, facility.value, UInt8(LOG_INFO))
            // qb_log_init enables syslog; Meridian enables what bootstrap asks for.
            _ = qb_log_ctl(Int32(QB_LOG_SYSLOG.rawValue), QB_LOG_CONF_ENABLED, 0)
            for target in [QB_LOG_SYSLOG, QB_LOG_STDERR] {
                let slot = Int32(target.rawValue)
                _ = qb_log_filter_ctl(slot, QB_LOG_FILTER_CLEAR_ALL, QB_LOG_FILTER_FILE, "*", 0)
                _ = qb_log_filter_ctl(slot, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", MERIDIAN_QB_LOG_TRACE)
                qb_log_format_set(slot, target == QB_LOG_SYSLOG ? syslogFormat : lineFormat)
            }
            state.started = true
            state.name = name
        }
    }

    /// Turns the stderr target on or off.
    public static func setStderr(enabled: Bool) {
        setTarget(Int32(QB_LOG_STDERR.rawValue), enabled: enabled)
    }

    /// Turns the syslog target on or off.
    public static func setSyslog(enabled: Bool) {
        setTarget(Int32(QB_LOG_SYSLOG.rawValue), enabled: enabled)
    }

    private static func setTarget(_ target: Int32, enabled: Bool) {
        state.withLock { state in
            precondition(state.started, "QBLog.start(name:) must run before targets are changed")
            _ = qb_log_ctl(target, QB_LOG_CONF_ENABLED, enabled ? 1 : 0)
        }
    }

    /// Appends every message to the file at `path` (created if missing). Opening the
    /// same path twice returns the same target.
    ///
    /// - Throws: ``LoggingSetupError`` with the operating system's reason when the
    ///   file cannot be opened, or when libqb has no free target.
    @discardableResult
    public static func openFile(at path: String) throws(LoggingSetupError) -> QBLogFile {
        let result: Result<QBLogFile, LoggingSetupError> = state.withLock { state in
            precondition(state.started, "QBLog.start(name:) must run before a log file is opened")
            if let target = state.files[path] { return .success(QBLogFile(target: target, path: path)) }
            let target = qb_log_file_open(path)
            guard target >= 0 else {
                let reason = String(cString: strerror(-target))
                return .failure(
                    LoggingSetupError(
                        message: "cannot open log file \(path): \(reason)",
                        hint: "create its directory and make it writable by this user, or choose another path"))
            }
            _ = qb_log_filter_ctl(target, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", MERIDIAN_QB_LOG_TRACE)
            qb_log_format_set(target, lineFormat)
            _ = qb_log_ctl(target, QB_LOG_CONF_ENABLED, 1)
            state.files[path] = target
            return .success(QBLogFile(target: target, path: path))
        }
        return try result.get()
    }

    /// Stops writing to `file` and closes it (everything written is flushed).
    public static func close(_ file: QBLogFile) {
        state.withLock { state in
            guard state.started, state.files[file.path] == file.target else { return }
            qb_log_file_close(file.target)
            state.files[file.path] = nil
        }
    }

    /// Closes every target and shuts libqb logging down; ``start(name:facility:)`` may run again.
    public static func stop() {
        state.withLock { state in
            guard state.started else { return }
            for (_, target) in state.files { qb_log_file_close(target) }
            qb_log_fini()
            state = State()
        }
    }

    /// Writes lines at `level`; returns `false` (writing nothing) when libqb is not started.
    static func write(level: Logger.Level, lines: [String], function: String, file: String, line: UInt) -> Bool {
        let priority = level.syslogPriority
        return state.withLock { state in
            guard state.started else { return false }
            function.withCString { function in
                file.withCString { file in
                    for text in lines {
                        _ = text.withCString {
                            meridian_qb_log(function, file, UInt32(truncatingIfNeeded: line), priority, $0)
                        }
                    }
                }
            }
            return true
        }
    }
}

extension Logger.Level {
    /// The syslog priority libqb files the message under (`trace` is libqb's LOG_TRACE).
    var syslogPriority: UInt8 {
        switch self {
        case .trace: return MERIDIAN_QB_LOG_TRACE
        case .debug: return UInt8(LOG_DEBUG)
        case .info: return UInt8(LOG_INFO)
        case .notice: return UInt8(LOG_NOTICE)
        case .warning: return UInt8(LOG_WARNING)
        case .error: return UInt8(LOG_ERR)
        case .critical: return UInt8(LOG_CRIT)
        }
    }

    /// The priority word libqb and syslog use (`%p`).
    var priorityName: String {
        switch self {
        case .trace: return "trace"
        case .debug: return "debug"
        case .info: return "info"
        case .notice: return "notice"
        case .warning: return "warning"
        case .error: return "error"
        case .critical: return "crit"
        }
    }
}
