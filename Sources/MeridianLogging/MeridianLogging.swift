// Process-wide logging set-up for Meridian's daemons and tools.
import Logging

/// Sets up swift-log for a Meridian program so it logs like corosync and Pacemaker.
///
/// Call ``bootstrap(name:level:toSyslog:toStderr:logFile:backend:)`` once, first
/// thing in `main`; afterwards every `Logger(label:)` writes through libqb (or the
/// plain fallback).
public enum MeridianLogging {
    /// Where log lines are produced.
    public enum Backend: Sendable, Hashable {
        /// libqb's logging (stderr, syslog and file targets): the default.
        case libqb
        /// Plain lines in the same layout written straight to stderr, without libqb.
        case plainStderr
    }

    /// Bootstraps swift-log (once per process, as swift-log requires).
    ///
    /// - Parameters:
    ///   - name: the program name every line carries, for example `meridian-ticketd`.
    ///   - level: the lowest level logged.
    ///   - toSyslog: also send messages to syslog (facility `daemon`).
    ///   - toStderr: write lines to stderr.
    ///   - logFile: also append lines to this file.
    ///   - backend: libqb, or the plain stderr fallback.
    /// - Returns: the backend in use. If the log file cannot be opened, logging still
    ///   starts (stderr and syslog as asked) and the first line logged says why.
    @discardableResult
    public static func bootstrap(
        name: String, level: Logger.Level = .info, toSyslog: Bool = false, toStderr: Bool = true,
        logFile: String? = nil, backend: Backend = .libqb
    ) -> Backend {
        let problem = configure(
            name: name, toSyslog: toSyslog, toStderr: toStderr, logFile: logFile, backend: backend)
        LoggingSystem.bootstrap(
            { label, metadataProvider in
                makeHandler(
                    label: label, name: name, level: level, backend: backend, metadataProvider: metadataProvider)
            }, metadataProvider: nil)
        if let problem {
            Logger(label: "logging").error("\(problem.message); logging continues without it; hint: \(problem.hint)")
        }
        return backend
    }

    /// The libqb half of ``bootstrap(name:level:toSyslog:toStderr:logFile:backend:)``,
    /// without swift-log's once-per-process set-up: starts libqb as `name` and turns
    /// its targets on or off. Can run more than once (tests, reconfiguration).
    ///
    /// - Returns: `nil`, or what could not be set up (the rest is set up anyway).
    @discardableResult
    public static func configure(
        name: String, toSyslog: Bool = false, toStderr: Bool = true, logFile: String? = nil, backend: Backend = .libqb
    ) -> LoggingSetupError? {
        switch backend {
        case .libqb:
            QBLog.start(name: name)
            QBLog.setStderr(enabled: toStderr)
            QBLog.setSyslog(enabled: toSyslog)
            guard let logFile else { return nil }
            do {
                try QBLog.openFile(at: logFile)
                return nil
            } catch {
                return error
            }
        case .plainStderr:
            guard toSyslog || logFile != nil else { return nil }
            return LoggingSetupError(
                message: "the plain stderr backend writes neither to syslog nor to a log file",
                hint: "use the libqb backend for syslog and log files, or redirect stderr")
        }
    }

    /// A handler for `backend` without touching swift-log's global set-up (for tests
    /// and for programs that combine handlers with `MultiplexLogHandler`).
    public static func makeHandler(
        label: String, name: String, level: Logger.Level, backend: Backend,
        metadataProvider: Logger.MetadataProvider? = nil
    ) -> any LogHandler {
        switch backend {
        case .libqb:
            return QBLogHandler(label: label, logLevel: level, metadataProvider: metadataProvider)
        case .plainStderr:
            return PlainLogHandler(label: label, name: name, logLevel: level, metadataProvider: metadataProvider)
        }
    }
}
