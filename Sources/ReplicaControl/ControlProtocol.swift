import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The local control protocol between `meridian volume` and meridian-replicad: one JSON object
/// per line each way (a request, then its response) on the Unix socket `<run-dir>/<node>.ctl`
/// (mode 0600). The field names are a contract: the OCF agent reads `status --json`.
public enum ControlCommand: String, Codable, Sendable, CaseIterable {
    case createMetadata = "create-md", up, down, primary, secondary, connect, disconnect, status, verify, invalidate
    case resumeIO = "resume-io", outdate, adjust
}

public struct ControlRequest: Codable, Sendable {
    public var command: ControlCommand
    /// nil = every resource (status only).
    public var resource: String?
    public var force: Bool
    public var wait: Bool
    public init(command: ControlCommand, resource: String?, force: Bool = false, wait: Bool = false) {
        self.command = command
        self.resource = resource
        self.force = force
        self.wait = wait
    }
}

public struct ControlError: Codable, Sendable, Error {
    /// "unknown-resource", "refused", "invalid", "internal".
    public var code: String
    public var message: String
    public var fix: String?
    public init(code: String, message: String, fix: String?) {
        self.code = code
        self.message = message
        self.fix = fix
    }
}

public struct ControlResponse: Codable, Sendable {
    public var ok: Bool
    public var message: String?
    public var error: ControlError?
    public var status: [ResourceStatus]?
    public init(ok: Bool, message: String?, error: ControlError?, status: [ResourceStatus]?) {
        self.ok = ok
        self.message = message
        self.error = error
        self.status = status
    }
}

public struct ResourceStatus: Codable, Sendable {
    public var name: String
    public var role: String
    public var suspended: Bool
    public var connection: ConnectionStatus?
    public var volumes: [VolumeStatus]
    public init(name: String, role: String, suspended: Bool, connection: ConnectionStatus?, volumes: [VolumeStatus]) {
        self.name = name
        self.role = role
        self.suspended = suspended
        self.connection = connection
        self.volumes = volumes
    }
}

public struct ConnectionStatus: Codable, Sendable {
    public var peerNode: String
    public var peerNodeID: Int
    /// StandAlone, Connecting, Connected.
    public var state: String
    public var peerRole: String
    public var `protocol`: String
    /// Bytes on the current connection, headers included (0 when not connected).
    public var linkSentBytes: UInt64
    public var linkReceivedBytes: UInt64
    public init(peerNode: String, peerNodeID: Int, state: String, peerRole: String, protocol: String,
                linkSentBytes: UInt64 = 0, linkReceivedBytes: UInt64 = 0) {
        self.peerNode = peerNode
        self.peerNodeID = peerNodeID
        self.state = state
        self.peerRole = peerRole
        self.protocol = `protocol`
        self.linkSentBytes = linkSentBytes
        self.linkReceivedBytes = linkReceivedBytes
    }
}

public struct GenerationStatus: Codable, Sendable {
    public var current: String
    public var bitmap: String
    public var history: [String]
    public init(current: String, bitmap: String, history: [String]) {
        self.current = current
        self.bitmap = bitmap
        self.history = history
    }
}

public struct ResyncStatus: Codable, Sendable {
    public var percentDone: Double
    public var rateBytesPerSecond: UInt64
    public var remainingBytes: UInt64
    public var etaSeconds: Double?
    public init(percentDone: Double, rateBytesPerSecond: UInt64, remainingBytes: UInt64, etaSeconds: Double?) {
        self.percentDone = percentDone
        self.rateBytesPerSecond = rateBytesPerSecond
        self.remainingBytes = remainingBytes
        self.etaSeconds = etaSeconds
    }
}

public struct VerifyStatus: Codable, Sendable {
    public var percentDone: Double
    public var outOfSyncFoundBytes: UInt64
    public var running: Bool
    public init(percentDone: Double, outOfSyncFoundBytes: UInt64, running: Bool) {
        self.percentDone = percentDone
        self.outOfSyncFoundBytes = outOfSyncFoundBytes
        self.running = running
    }
}

public struct VolumeStatus: Codable, Sendable {
    public var volume: Int
    public var sizeBytes: UInt64
    public var disk: String
    public var peerDisk: String
    public var replication: String
    public var outOfSyncBytes: UInt64
    public var resync: ResyncStatus?
    public var verify: VerifyStatus?
    public var nbdSocket: String?
    public var generations: GenerationStatus
    public var sentBytes: UInt64
    public var receivedBytes: UInt64
    public var resyncSentBytes: UInt64
    public var resyncReceivedBytes: UInt64
    public init(volume: Int, sizeBytes: UInt64, disk: String, peerDisk: String, replication: String,
                outOfSyncBytes: UInt64, resync: ResyncStatus?, verify: VerifyStatus?, nbdSocket: String?,
                generations: GenerationStatus, sentBytes: UInt64, receivedBytes: UInt64, resyncSentBytes: UInt64,
                resyncReceivedBytes: UInt64) {
        self.volume = volume
        self.sizeBytes = sizeBytes
        self.disk = disk
        self.peerDisk = peerDisk
        self.replication = replication
        self.outOfSyncBytes = outOfSyncBytes
        self.resync = resync
        self.verify = verify
        self.nbdSocket = nbdSocket
        self.generations = generations
        self.sentBytes = sentBytes
        self.receivedBytes = receivedBytes
        self.resyncSentBytes = resyncSentBytes
        self.resyncReceivedBytes = resyncReceivedBytes
    }
}

/// The daemon side: answers one request (may block, e.g. `verify --wait`).
public protocol ControlHandler: Sendable {
    func handle(_ request: ControlRequest) -> ControlResponse
}

/// Largest request line accepted.
let maxControlLine = 64 << 10

/// Connects a Unix stream socket to `path`; returns the fd or an errno.
func unixSocket(path: String, bindInstead: Bool) -> (fd: Int32, error: Int32) {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return (-1, errno) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
        close(fd)
        return (-1, ENAMETOOLONG)
    }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
    let rc = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bindInstead ? bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                : connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
        }
    }
    guard rc == 0 else {
        let e = errno
        close(fd)
        return (-1, e)
    }
    return (fd, 0)
}

/// Reads one newline-terminated line (without the newline); nil on EOF, timeout or overflow.
func readLine(_ fd: Int32, limit: Int) -> [UInt8]? {
    var line: [UInt8] = []
    var byte: UInt8 = 0
    while true {
        let n = recv(fd, &byte, 1, 0)
        if n < 0 && errno == EINTR { continue }
        guard n == 1 else { return nil }
        if byte == UInt8(ascii: "\n") { return line }
        line.append(byte)
        if line.count > limit { return nil }
    }
}

func writeLine(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    let data = bytes + [UInt8(ascii: "\n")]
    var done = 0
    while done < data.count {
        let n = data[done...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { return false }
        done += n
    }
    return true
}
