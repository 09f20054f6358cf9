// Corosync's closed process groups (libcpg): membership and totally ordered messages.
import CCorosync
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One process in a closed process group: the node it runs on and its pid.
public struct CPGMember: Sendable, Hashable, CustomStringConvertible {
    /// Corosync's node id.
    public var nodeID: UInt32
    /// The process id on that node.
    public var pid: UInt32

    /// Creates a member.
    public init(nodeID: UInt32, pid: UInt32) {
        self.nodeID = nodeID
        self.pid = pid
    }

    /// `node 1 pid 4242`.
    public var description: String { "node \(nodeID) pid \(pid)" }
}

/// Why a process left a group.
public enum CPGLeaveReason: Sendable, Hashable {
    /// It called `leave()`.
    case left
    /// Its node left the membership.
    case nodeDown
    /// The process exited or its connection to corosync closed.
    case processDown
    /// Corosync gave another reason (its raw `cpg_reason_t`).
    case other(UInt32)

    init(_ raw: UInt32) {
        switch raw {
        case CPG_REASON_LEAVE.rawValue: self = .left
        case CPG_REASON_NODEDOWN.rawValue: self = .nodeDown
        case CPG_REASON_PROCDOWN.rawValue: self = .processDown
        default: self = .other(raw)
        }
    }
}

/// A membership change of the group as Corosync delivered it (a configuration change).
public struct CPGMembership: Sendable, Hashable {
    /// Every member after the change, in Corosync's order.
    public var members: [CPGMember]
    /// The members that joined with this change.
    public var joined: [CPGMember]
    /// The members that left with this change, and why.
    public var left: [Departure]

    /// Creates a membership change.
    public init(members: [CPGMember], joined: [CPGMember], left: [Departure]) {
        self.members = members
        self.joined = joined
        self.left = left
    }

    /// A member that left, and why.
    public struct Departure: Sendable, Hashable {
        /// The member that left.
        public var member: CPGMember
        /// Why it left.
        public var reason: CPGLeaveReason

        /// Creates a departure.
        public init(member: CPGMember, reason: CPGLeaveReason) {
            self.member = member
            self.reason = reason
        }
    }
}

/// Something that happened in a group: a membership change or a delivered message.
/// Events arrive in the same total order on every member.
public enum CPGEvent: Sendable, Hashable {
    /// The membership changed.
    case membership(CPGMembership)
    /// A member sent `payload` to the group (members receive their own messages too).
    case message(from: CPGMember, payload: [UInt8])
}

/// A connection to Corosync's CPG service for one named group.
///
/// Events (membership changes, messages) are queued by Corosync and handed out by
/// ``waitForEvents(timeout:)`` or ``dispatchPending()``; a shell can also poll
/// ``fileDescriptor()`` itself.
///
/// Invariant: the handle is valid from `init` until `deinit`, which finalises it
/// (leaving the group). Every call on the handle, including the dispatch that runs
/// the callbacks filling the inbox, is made under one lock, so the connection can
/// be shared between threads (`@unchecked Sendable`).
public final class CPGConnection: @unchecked Sendable {
    /// The group's name.
    public let groupName: String
    private let handle: Mutex<cpg_handle_t>
    private let inbox = CPGInbox()

    /// The longest group name Corosync accepts, in bytes.
    public static let maximumGroupNameLength = Int(CPG_MAX_NAME_LENGTH) - 1

    /// Connects to the local corosync's CPG service for `groupName` (without joining).
    ///
    /// - Throws: ``CorosyncError`` `.invalidArgument` for an empty or too long name,
    ///   `.notRunning` when corosync is not running here.
    public init(groupName: String) throws(CorosyncError) {
        guard !groupName.isEmpty, groupName.utf8.count <= Self.maximumGroupNameLength else {
            throw CorosyncError(
                kind: .invalidArgument, operation: "cpg_initialize", code: 0,
                message: "the group name \"\(groupName)\" is empty or longer than \(Self.maximumGroupNameLength) bytes",
                hint: "use a short name such as meridian-membership")
        }
        self.groupName = groupName
        var callbacks = cpg_callbacks_t(cpg_deliver_fn: cpgDeliver, cpg_confchg_fn: cpgConfigurationChange)
        var handle: cpg_handle_t = 0
        try corosyncCall("cpg_initialize") { cpg_initialize(&handle, &callbacks) }
        let context = Unmanaged.passUnretained(inbox).toOpaque()
        let contextResult = cpg_context_set(handle, context)
        guard contextResult == CS_OK else {
            _ = cpg_finalize(handle)
            throw CorosyncError(contextResult, operation: "cpg_context_set")
        }
        self.handle = Mutex(handle)
    }

    deinit {
        handle.withLock { _ = cpg_finalize($0) }
    }

    /// This node's Corosync node id.
    public func localNodeID() throws(CorosyncError) -> UInt32 {
        try handle.withLock { handle throws(CorosyncError) in
            var nodeID: UInt32 = 0
            try corosyncCall("cpg_local_get") { cpg_local_get(handle, &nodeID) }
            return nodeID
        }
    }

    /// The descriptor that becomes readable when events are pending.
    public func fileDescriptor() throws(CorosyncError) -> Int32 {
        try handle.withLock { handle throws(CorosyncError) in
            var descriptor: Int32 = -1
            try corosyncCall("cpg_fd_get") { cpg_fd_get(handle, &descriptor) }
            return descriptor
        }
    }

    /// Joins the group; a membership event follows.
    public func join() throws(CorosyncError) {
        try withGroupName { handle, name throws(CorosyncError) in
            try corosyncCall("cpg_join(\(groupName))") { cpg_join(handle, &name) }
        }
    }

    /// Leaves the group; a membership event follows.
    public func leave() throws(CorosyncError) {
        try withGroupName { handle, name throws(CorosyncError) in
            try corosyncCall("cpg_leave(\(groupName))") { cpg_leave(handle, &name) }
        }
    }

    /// The group's current members, as Corosync knows them now.
    public func members() throws(CorosyncError) -> [CPGMember] {
        try withGroupName { handle, name throws(CorosyncError) in
            var addresses = [cpg_address](repeating: cpg_address(), count: Int(CPG_MEMBERS_MAX))
            var count = Int32(addresses.count)
            try corosyncCall("cpg_membership_get(\(groupName))") {
                cpg_membership_get(handle, &name, &addresses, &count)
            }
            return addresses.prefix(Int(count)).map { CPGMember(nodeID: $0.nodeid, pid: $0.pid) }
        }
    }

    /// Sends `payload` to every member, in agreed (total) order. The group must be joined.
    public func send(_ payload: [UInt8]) throws(CorosyncError) {
        try handle.withLock { handle throws(CorosyncError) in
            var bytes = payload
            try corosyncCall("cpg_mcast_joined(\(groupName))") {
                bytes.withUnsafeMutableBytes { raw in
                    var vector = iovec(iov_base: raw.baseAddress, iov_len: raw.count)
                    return cpg_mcast_joined(handle, CPG_TYPE_AGREED, &vector, 1)
                }
            }
        }
    }

    /// The events already pending, without waiting.
    public func dispatchPending() throws(CorosyncError) -> [CPGEvent] {
        try handle.withLock { handle throws(CorosyncError) in
            try corosyncCall("cpg_dispatch(\(groupName))") { cpg_dispatch(handle, CS_DISPATCH_ALL) }
            return inbox.take()
        }
    }

    /// Waits up to `timeout` for events and returns those pending (maybe none).
    public func waitForEvents(timeout: Duration) throws(CorosyncError) -> [CPGEvent] {
        let descriptor = try fileDescriptor()
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let (seconds, attoseconds) = timeout.components
        let milliseconds = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000)
        let ready = poll(&poller, 1, max(0, milliseconds))
        if ready < 0 && errno != EINTR {
            throw CorosyncError(
                kind: .failed, operation: "poll(cpg fd)", code: 0, message: String(cString: strerror(errno)),
                hint: "the connection to corosync is broken; reconnect")
        }
        if poller.revents & Int16(POLLHUP | POLLERR) != 0 {
            throw CorosyncError(
                kind: .notRunning, operation: "poll(cpg fd)", code: 0, message: "corosync closed the connection",
                hint: CorosyncError.notRunningHint)
        }
        return try dispatchPending()
    }

    private func withGroupName<T>(
        _ body: (cpg_handle_t, inout cpg_name) throws(CorosyncError) -> T
    ) throws(CorosyncError) -> T {
        var name = cpg_name()
        let bytes = Array(groupName.utf8)
        name.length = UInt32(bytes.count)
        withUnsafeMutableBytes(of: &name.value) { raw in raw.copyBytes(from: bytes) }
        return try handle.withLock { handle throws(CorosyncError) in try body(handle, &name) }
    }
}

/// Collects the events libcpg's callbacks deliver during one dispatch.
/// Touched only under the owning connection's lock.
final class CPGInbox {
    private var events: [CPGEvent] = []

    func append(_ event: CPGEvent) { events.append(event) }

    func take() -> [CPGEvent] {
        defer { events.removeAll() }
        return events
    }
}

private func inbox(of handle: cpg_handle_t) -> CPGInbox? {
    var context: UnsafeMutableRawPointer?
    guard cpg_context_get(handle, &context) == CS_OK, let context else { return nil }
    return Unmanaged<CPGInbox>.fromOpaque(context).takeUnretainedValue()
}

private let cpgDeliver: cpg_deliver_fn_t = { handle, _, nodeID, pid, message, length in
    let payload: [UInt8]
    if let message, length > 0 {
        payload = Array(UnsafeRawBufferPointer(start: message, count: length))
    } else {
        payload = []
    }
    inbox(of: handle)?.append(.message(from: CPGMember(nodeID: nodeID, pid: pid), payload: payload))
}

private let cpgConfigurationChange: cpg_confchg_fn_t = {
    handle, _, members, memberCount, left, leftCount, joined, joinedCount in
    func list(_ addresses: UnsafePointer<cpg_address>?, _ count: Int) -> [cpg_address] {
        guard let addresses, count > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: addresses, count: count))
    }
    let membership = CPGMembership(
        members: list(members, memberCount).map { CPGMember(nodeID: $0.nodeid, pid: $0.pid) },
        joined: list(joined, joinedCount).map { CPGMember(nodeID: $0.nodeid, pid: $0.pid) },
        left: list(left, leftCount).map {
            CPGMembership.Departure(
                member: CPGMember(nodeID: $0.nodeid, pid: $0.pid), reason: CPGLeaveReason($0.reason))
        })
    inbox(of: handle)?.append(.membership(membership))
}
