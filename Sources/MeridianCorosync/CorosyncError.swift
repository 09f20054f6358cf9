// Errors of the Corosync client wrappers.
import CCorosync

#if canImport(Glibc)
    import Glibc
#endif

/// A Corosync client call that failed: which call, Corosync's code and message, and what to do.
///
/// The most common case is ``Kind-swift.enum/notRunning``: the client libraries
/// reach the daemon over libqb IPC and fail with `CS_ERR_LIBRARY` when no corosync
/// is running on this node.
public struct CorosyncError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, grouped for callers that react differently.
    public enum Kind: String, Sendable, Hashable {
        /// The daemon is not running here (or its IPC is unreachable).
        case notRunning
        /// This user may not talk to corosync.
        case accessDenied
        /// A cmap key does not exist.
        case keyNotFound
        /// A value had another type than asked for, or a name was too long.
        case invalidArgument
        /// Corosync is busy; the call may be retried.
        case tryAgain
        /// Anything else Corosync reported.
        case failed
    }

    /// What went wrong.
    public var kind: Kind
    /// The library call, for example `quorum_initialize` or `cmap_get_string(totem.cluster_name)`.
    public var operation: String
    /// Corosync's `cs_error_t` (0 when the error comes from the wrapper itself).
    public var code: Int
    /// Corosync's message for the code (`cs_strerror`), or the wrapper's.
    public var message: String
    /// How to fix it.
    public var hint: String

    /// Creates an error.
    public init(kind: Kind, operation: String, code: Int, message: String, hint: String) {
        self.kind = kind
        self.operation = operation
        self.code = code
        self.message = message
        self.hint = hint
    }

    /// `operation failed: message (cs_error_t N); hint: ...`.
    public var description: String {
        "\(operation) failed: \(message) (cs_error_t \(code)); hint: \(hint)"
    }

    /// The hint for a daemon that is not there.
    public static let notRunningHint =
        "corosync is not running: start corosync (corosync -f, or systemctl start corosync) "
        + "or check /etc/corosync/corosync.conf and corosync's log"

    init(_ code: cs_error_t, operation: String, key: String? = nil) {
        let message = String(cString: cs_strerror(code))
        switch code {
        case CS_ERR_LIBRARY, CS_ERR_BAD_HANDLE:
            self.init(
                kind: .notRunning, operation: operation, code: Int(code.rawValue), message: message,
                hint: Self.notRunningHint)
        case CS_ERR_ACCESS, CS_ERR_SECURITY:
            self.init(
                kind: .accessDenied, operation: operation, code: Int(code.rawValue), message: message,
                hint: "run as root, or allow this user or group in /etc/corosync/uidgid.d/ and reload corosync")
        case CS_ERR_NOT_EXIST, CS_ERR_NAME_NOT_FOUND:
            self.init(
                kind: .keyNotFound, operation: operation, code: Int(code.rawValue), message: message,
                hint: "the key \(key ?? "") is not set; list the keys with corosync-cmapctl, "
                    + "and set it in corosync.conf if it should exist")
        case CS_ERR_INVALID_PARAM, CS_ERR_NAME_TOO_LONG:
            self.init(
                kind: .invalidArgument, operation: operation, code: Int(code.rawValue), message: message,
                hint: "check the key's type with corosync-cmapctl, and that names are short enough")
        case CS_ERR_TRY_AGAIN:
            self.init(
                kind: .tryAgain, operation: operation, code: Int(code.rawValue), message: message,
                hint: "corosync is busy (for example forming a membership); retry shortly")
        default:
            self.init(
                kind: .failed, operation: operation, code: Int(code.rawValue), message: message,
                hint: "see corosync's log for details")
        }
    }
}

/// Runs a Corosync call, retrying `CS_ERR_TRY_AGAIN` a few times as Pacemaker does.
func corosyncCall(
    _ operation: @autoclosure () -> String, key: String? = nil, attempts: Int = 10, _ call: () -> cs_error_t
) throws(CorosyncError) {
    var result = call()
    var attempt = 1
    while result == CS_ERR_TRY_AGAIN && attempt < attempts {
        usleep(UInt32(100_000 * attempt))
        attempt += 1
        result = call()
    }
    guard result == CS_OK else { throw CorosyncError(result, operation: operation(), key: key) }
}
