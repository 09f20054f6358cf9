// Corosync's quorum service (libquorum).
import CCorosync
import Synchronization

/// A connection to Corosync's quorum service: is this node's partition quorate?
///
/// Invariant: the handle is valid from `init` until `deinit`, which finalises it;
/// every call on it is made under the connection's lock, so one connection can be
/// shared between threads (`@unchecked Sendable`).
public final class QuorumConnection: @unchecked Sendable {
    private let handle: Mutex<quorum_handle_t>

    /// Whether a quorum provider (such as `corosync_votequorum`) is configured;
    /// without one, corosync reports every partition as quorate.
    public let hasQuorumProvider: Bool

    /// Connects to the local corosync.
    ///
    /// - Throws: ``CorosyncError`` `.notRunning` when corosync is not running here,
    ///   `.accessDenied` when this user may not connect.
    public init() throws(CorosyncError) {
        var handle: quorum_handle_t = 0
        var quorumType: UInt32 = 0
        try corosyncCall("quorum_initialize") { quorum_initialize(&handle, nil, &quorumType) }
        self.handle = Mutex(handle)
        hasQuorumProvider = quorumType == UInt32(QUORUM_SET)
    }

    deinit {
        handle.withLock { _ = quorum_finalize($0) }
    }

    /// Whether this node's partition has quorum now.
    public func isQuorate() throws(CorosyncError) -> Bool {
        try handle.withLock { handle throws(CorosyncError) in
            var quorate: Int32 = 0
            try corosyncCall("quorum_getquorate") { quorum_getquorate(handle, &quorate) }
            return quorate != 0
        }
    }
}
