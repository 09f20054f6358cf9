import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What the site's ticket consumer is told about one ticket.
public struct TicketRecord: Codable, Sendable, Equatable {
    public var ticket: String
    /// Granted to this site. Consumers must also honour `expiresEpochMs`.
    public var granted: Bool
    public var leader: String?
    /// Booth site id of the leader (`owner` in crm_ticket), or -1 for no one.
    public var owner: Int64
    public var term: UInt32
    /// After this instant the grant is void even if nobody rewrote the record (nil: manual, no expiry).
    public var expiresEpochMs: Int64?
    public var updatedEpochMs: Int64

    public init(ticket: String, granted: Bool, leader: String?, owner: Int64, term: UInt32, expiresEpochMs: Int64?,
                updatedEpochMs: Int64) {
        self.ticket = ticket
        self.granted = granted
        self.leader = leader
        self.owner = owner
        self.term = term
        self.expiresEpochMs = expiresEpochMs
        self.updatedEpochMs = updatedEpochMs
    }

    /// True when granted and not past its expiry at `nowEpochMs`.
    public func isValid(atEpochMs nowEpochMs: Int64) -> Bool {
        granted && (expiresEpochMs.map { nowEpochMs < $0 } ?? true)
    }
}

/// Where a site's ticket state goes: the local cluster resource manager's view.
public protocol TicketBackend: Sendable {
    var name: String { get }
    /// Applies a record; throws ``StoreError`` with a fix when the consumer refused it.
    func apply(_ record: TicketRecord) throws
}

/// Meridian's native backend: one JSON file per ticket (`<dir>/<ticket>.ticket`), atomically
/// replaced. The consumer (meridiand, or any script) honours `expiresEpochMs`, so a daemon that
/// dies leaves a grant that ends by itself.
public struct StateFileBackend: TicketBackend {
    public let directory: String
    public var name: String { "statefile:\(directory)" }

    public init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    public func path(of ticket: String) -> String {
        directory + "/" + ticket.replacingOccurrences(of: "/", with: "%2F") + ".ticket"
    }

    public func apply(_ record: TicketRecord) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        // Atomic but not fsynced: the record carries its own expiry, so a record lost in an
        // OS crash cannot extend a grant, and the grant path does not wait for the disk.
        try writeAtomically(try enc.encode(record), to: path(of: record.ticket), durable: false)
    }

    public func read(ticket: String) -> TicketRecord? {
        FileManager.default.contents(atPath: path(of: ticket)).flatMap {
            try? JSONDecoder().decode(TicketRecord.self, from: $0)
        }
    }
}

/// Pacemaker's `crm_ticket`, called as Booth 1.0 does for atomic updates:
/// `crm_ticket -t T -g|-r --force -S owner -vID -S expires -vEPOCH -S term -vN`.
/// Pacemaker does not honour `expires`, so the daemon's lease guard revokes at the deadline
/// when the daemon itself cannot (see ``LeaseGuard``).
public struct CrmTicketBackend: TicketBackend {
    public let command: String
    public var name: String { "crm_ticket" }

    public init(command: String = "crm_ticket") { self.command = command }

    public func arguments(for r: TicketRecord) -> [String] {
        [command, "-t", r.ticket, r.granted ? "-g" : "-r", "--force",
         "-S", "owner", "-v\(r.owner)",
         "-S", "expires", "-v\((r.expiresEpochMs ?? 0) / 1000)",
         "-S", "term", "-v\(r.term)"]
    }

    public func apply(_ record: TicketRecord) throws {
        let argv = arguments(for: record)
        let (status, output) = try runCommand(argv)
        guard status == 0 else {
            throw StoreError(path: command, message: "`\(argv.joined(separator: " "))` exited \(status): \(output)",
                             fix: "check that Pacemaker runs on this node and the daemon may call crm_ticket")
        }
    }
}

/// Runs a program (found on PATH) and returns its exit status and combined output.
public func runCommand(_ argv: [String], environment: [String: String]? = nil) throws -> (Int32, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = argv
    if let environment { p.environment = environment }
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    p.standardInput = FileHandle.nullDevice
    do { try p.run() } catch {
        throw StoreError(path: argv.first ?? "", message: "cannot run: \(error)", fix: "install it or fix PATH")
    }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
}
