import Foundation
import TicketLease
#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock time in nanoseconds since the epoch (CLOCK_REALTIME).
public func wallClockNanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

/// Monotonic time in nanoseconds (CLOCK_MONOTONIC), the daemon's lease clock.
public func monotonicNanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

/// Converts between the monotonic lease clock and wall-clock time, from one reading of each.
public struct ClockPair: Sendable {
    public var monotonic: Int64
    public var wall: Int64
    public init(monotonic: Int64, wall: Int64) { self.monotonic = monotonic; self.wall = wall }
    public static func now() -> ClockPair { ClockPair(monotonic: monotonicNanoseconds(), wall: wallClockNanoseconds()) }
    public func wall(of i: LeaseInstant) -> Int64 { wall + (i.nanoseconds - monotonic) }
    public func instant(ofWall w: Int64) -> LeaseInstant { LeaseInstant(nanoseconds: monotonic + (w - wall)) }
}

/// The persisted form of ``PersistentTicketState``: instants as wall-clock epoch nanoseconds,
/// so they survive a restart (the monotonic clock does not).
public struct StoredTicketState: Codable, Sendable, Equatable {
    public var ticket: String
    public var term: UInt32
    public var voteTerm: UInt32
    public var votedFor: String?
    public var leader: String?
    public var promisedUntilEpochNs: Int64?
    public var holderUntilEpochNs: Int64?
    public var revoked: Bool
    public var manualGrantedHere: Bool
    public var promiseCeilingEpochNs: Int64?
}

/// Stores each ticket's protocol state in `<directory>/<ticket>.state`: two 1 KiB slots written
/// in place, alternately, each with a sequence number and a CRC, so one `fdatasync` makes a write
/// durable and a torn write leaves the other slot intact. Loading takes the valid slot with the
/// highest sequence.
public final class StateDirectory: @unchecked Sendable {
    public let path: String
    public let members: [String]
    static let slotSize = 1024
    var files: [String: (fd: Int32, seq: UInt64)] = [:]

    public init(path: String, members: [String]) throws {
        self.path = path
        self.members = members
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { for f in files.values { close(f.fd) } }

    func file(_ ticket: String) -> String {
        path + "/" + ticket.replacingOccurrences(of: "/", with: "%2F") + ".state"
    }

    /// Writes the state; `sync` makes it durable before returning (fdatasync).
    public func save(ticket: String, _ s: PersistentTicketState, clocks: ClockPair, sync: Bool) throws {
        let stored = StoredTicketState(
            ticket: ticket, term: s.term, voteTerm: s.voteTerm, votedFor: s.votedFor.map { members[$0] },
            leader: s.leader.map { members[$0] }, promisedUntilEpochNs: s.promisedUntil.map { clocks.wall(of: $0) },
            holderUntilEpochNs: s.holderUntil.map { clocks.wall(of: $0) }, revoked: s.revoked,
            manualGrantedHere: s.manualGrantedHere,
            promiseCeilingEpochNs: s.promiseCeiling.map { clocks.wall(of: $0) })
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        let json = Array(try enc.encode(stored))
        guard json.count <= Self.slotSize - 16 else {
            throw StoreError(path: file(ticket), message: "state record too large (\(json.count) bytes)",
                             fix: "use shorter ticket names or addresses")
        }
        var entry = files[ticket]
        if entry == nil {
            let fd = open(file(ticket), O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                throw StoreError(path: file(ticket), message: "cannot open: \(String(cString: strerror(errno)))",
                                 fix: "check that the state directory exists and is writable by the daemon")
            }
            let seq = (try? readSlots(fd).map(\.seq).max()) ?? 0
            entry = (fd, seq)
        }
        var e = entry!
        e.seq += 1
        var slot = [UInt8](repeating: 0, count: Self.slotSize)
        withUnsafeBytes(of: e.seq.bigEndian) { slot.replaceSubrange(0..<8, with: $0) }
        withUnsafeBytes(of: UInt32(json.count).bigEndian) { slot.replaceSubrange(8..<12, with: $0) }
        slot.replaceSubrange(16..<(16 + json.count), with: json)
        let crc = crc32c(Array(slot[0..<12]) + json)
        withUnsafeBytes(of: crc.bigEndian) { slot.replaceSubrange(12..<16, with: $0) }
        let offset = off_t(Int(e.seq % 2) * Self.slotSize)
        let n = slot.withUnsafeBytes { pwrite(e.fd, $0.baseAddress, $0.count, offset) }
        guard n == Self.slotSize, !sync || fdatasync(e.fd) == 0 else {
            throw StoreError(path: file(ticket), message: "cannot write: \(String(cString: strerror(errno)))",
                             fix: "check free space and the disk holding the state directory")
        }
        files[ticket] = e
    }

    struct Slot { var seq: UInt64; var json: [UInt8] }

    func readSlots(_ fd: Int32) throws -> [Slot] {
        var out: [Slot] = []
        for i in 0..<2 {
            var buf = [UInt8](repeating: 0, count: Self.slotSize)
            let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(i * Self.slotSize)) }
            guard n == Self.slotSize else { continue }
            let seq = buf[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let len = Int(buf[8..<12].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
            let crc = buf[12..<16].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            guard seq > 0, len <= Self.slotSize - 16 else { continue }
            let json = Array(buf[16..<(16 + len)])
            if crc32c(Array(buf[0..<12]) + json) == crc { out.append(Slot(seq: seq, json: json)) }
        }
        return out
    }

    /// Loads a ticket's state; members that are no longer configured are dropped.
    public func load(ticket: String, clocks: ClockPair) throws -> PersistentTicketState? {
        let fd = open(file(ticket), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let slots = try readSlots(fd)
        guard let best = slots.max(by: { $0.seq < $1.seq }) else {
            var st = stat()
            if fstat(fd, &st) == 0, st.st_size == 0 { return nil }
            throw StoreError(path: file(ticket), message: "no valid record in the state file (both slots damaged)",
                             fix: "move it away; the daemon then starts without remembered votes or leases")
        }
        let s: StoredTicketState
        do {
            s = try JSONDecoder().decode(StoredTicketState.self, from: Data(best.json))
        } catch {
            throw StoreError(path: file(ticket), message: "state record is not valid: \(error)",
                             fix: "move it away; the daemon then starts without remembered votes or leases")
        }
        func idx(_ a: String?) -> Int? { a.flatMap { members.firstIndex(of: $0) } }
        return PersistentTicketState(
            term: s.term, voteTerm: s.voteTerm, votedFor: idx(s.votedFor), leader: idx(s.leader),
            promisedUntil: s.promisedUntilEpochNs.map { clocks.instant(ofWall: $0) },
            holderUntil: s.holderUntilEpochNs.map { clocks.instant(ofWall: $0) }, revoked: s.revoked,
            manualGrantedHere: s.manualGrantedHere,
            promiseCeiling: s.promiseCeilingEpochNs.map { clocks.instant(ofWall: $0) })
    }
}

/// CRC-32C (Castagnoli), bitwise; records are small.
func crc32c(_ bytes: [UInt8]) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        c ^= UInt32(b)
        for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
    }
    return ~c
}

/// An error of the store or a backend: what went wrong, where, and what to do.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var message: String
    public var fix: String
    public init(path: String, message: String, fix: String) {
        self.path = path
        self.message = message
        self.fix = fix
    }
    public var description: String { "\(path): \(message)\n  fix: \(fix)" }
}

/// Writes `data` to `path` via a temporary file and rename, so readers see the old or the new
/// contents, never a mix. With `durable`, the file and its directory are fsynced too.
public func writeAtomically(_ data: Data, to path: String, durable: Bool = true) throws {
    let tmp = path + ".tmp"
    let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else {
        throw StoreError(path: tmp, message: "cannot create: \(String(cString: strerror(errno)))",
                         fix: "check that the directory exists and is writable by the daemon")
    }
    var ok = data.withUnsafeBytes { buf -> Bool in
        var off = 0
        while off < buf.count {
            let n = write(fd, buf.baseAddress! + off, buf.count - off)
            if n < 0 { if errno == EINTR { continue }; return false }
            off += n
        }
        return true
    }
    ok = ok && (!durable || fsync(fd) == 0)
    close(fd)
    guard ok, rename(tmp, path) == 0 else {
        throw StoreError(path: path, message: "cannot write: \(String(cString: strerror(errno)))",
                         fix: "check free space and permissions of the state directory")
    }
    guard durable else { return }
    let dir = (path as NSString).deletingLastPathComponent
    let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if dfd >= 0 { fsync(dfd); close(dfd) }
}
