import BoothConfig
import Foundation
import TicketWire
#if canImport(Glibc)
import Glibc
#endif

/// Minimal Booth client for the benchmark: JSON list (Meridian), text list (boothd), grant, revoke.
struct BenchClient {
    let port: UInt16
    let key: AuthKey?

    enum Failure: Error { case connect(String), io(String) }

    func exchange(_ address: String, _ packet: BoothPacket, until final: (BoothPacket) -> Bool) throws -> [BoothPacket] {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure.connect("socket") }
        defer { close(fd) }
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, address, &local.sin_addr)
        var remote = local
        remote.sin_port = port.bigEndian
        _ = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        let rc = withUnsafePointer(to: &remote) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { throw Failure.connect(address) }
        let bytes = BoothPeerDecoder.encode(packet, key: key, timestamp: Self.timestamp())
        guard write(fd, bytes, bytes.count) == bytes.count else { throw Failure.io("write") }
        var replies: [BoothPacket] = []
        while true {
            let head = try readExactly(fd, BoothWire.headerSize)
            let h = try BoothCodec.decodeHeader(head)
            let rest = try readExactly(fd, Int(h.length) - BoothWire.headerSize)
            let all = head + rest
            var p = BoothPacket(header: h)
            if h.cmd == .clientList {
                let skip = BoothWire.headerSize + (key != nil ? BoothWire.hmacTrailerSize : 0)
                p.text = String(decoding: all[min(skip, all.count)...], as: UTF8.self)
            } else if all.count >= BoothWire.headerSize + BoothWire.ticketPayloadSize {
                p.ticket = try? BoothCodec.decodeTicket(all, at: BoothWire.headerSize)
            }
            replies.append(p)
            if final(p) { return replies }
        }
    }

    func readExactly(_ fd: Int32, _ n: Int) throws -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: n)
        var off = 0
        while off < n {
            let r = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress! + off, n - off) }
            if r <= 0 { throw Failure.io("read") }
            off += r
        }
        return buf
    }

    static func timestamp() -> BoothTimestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return BoothTimestamp(secs: UInt32(ts.tv_sec), usecs: UInt32(ts.tv_nsec / 1000))
    }

    func request(_ cmd: BoothCommand, ticket: String, options: UInt32 = 0) -> BoothPacket {
        var h = BoothHeader()
        h.cmd = cmd
        h.options = options
        return BoothPacket(header: h, ticket: BoothTicketPayload(ticket: ticket, leader: 0, term: 0, termValidFor: 0))
    }

    /// Meridian's JSON listing (nil when the daemon is not Meridian).
    func listJSON(_ address: String) throws -> TicketListReply? {
        let r = try exchange(address, request(.list, ticket: "", options: ClientExtension.jsonRequestOptions)) { _ in true }
        guard let p = r.first, ClientExtension.isMeridianReply(p.header), let t = p.text else { return nil }
        return try JSONDecoder().decode(TicketListReply.self, from: Data(t.utf8))
    }

    /// The leader address from a list reply (Meridian or boothd text).
    func leader(_ address: String, ticket: String) throws -> String? {
        let r = try exchange(address, request(.list, ticket: "", options: ClientExtension.jsonRequestOptions)) { _ in true }
        guard let p = r.first, let text = p.text else { return nil }
        if ClientExtension.isMeridianReply(p.header) {
            let l = try JSONDecoder().decode(TicketListReply.self, from: Data(text.utf8))
            return l.tickets.first { $0.ticket == ticket }?.leader
        }
        for line in text.split(separator: "\n") where line.hasPrefix("ticket: \(ticket),") {
            let parts = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            if let lp = parts.first(where: { $0.hasPrefix("leader: ") }) {
                let v = String(lp.dropFirst("leader: ".count))
                return v == "NONE" ? nil : v
            }
        }
        return nil
    }

    func grant(_ address: String, ticket: String) throws -> BoothResult {
        let r = try exchange(address, request(.grant, ticket: ticket, options: BoothClientOptions.wait.rawValue)) {
            $0.header.result != .more && $0.header.result != .cibPending
        }
        return r.last?.header.result ?? .syncFail
    }

    func revoke(_ address: String, ticket: String) throws -> BoothResult {
        let r = try exchange(address, request(.revoke, ticket: ticket)) { $0.header.result != .more }
        return r.last?.header.result ?? .syncFail
    }
}

/// Two sites and an arbitrator on loopback, run by meridian-ticketd or Debian's boothd.
final class BenchCluster {
    enum Implementation: String { case meridian, boothd }
    let impl: Implementation
    let dir: String
    let addresses: [String]
    let port: UInt16
    let ticketd: String
    let sharedBooth: String
    var pids: [Int32?] = [nil, nil, nil]
    let client: BenchClient
    static let ticket = "ticketA"

    init(impl: Implementation, base: String, port: UInt16, ticketd: String, sharedBooth: String) throws {
        self.impl = impl
        self.port = port
        self.ticketd = ticketd
        self.sharedBooth = sharedBooth
        addresses = ["\(base).11", "\(base).12", "\(base).13"]
        dir = NSTemporaryDirectory() + "meridian-bench-\(impl.rawValue)-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var key = [UInt8](repeating: 0, count: 32)
        let f = fopen("/dev/urandom", "rb")
        fread(&key, 1, 32, f)
        fclose(f)
        let keyText = key.map { String(format: "%02x", $0) }.joined()
        try keyText.write(toFile: dir + "/authkey", atomically: true, encoding: .utf8)
        chmod(dir + "/authkey", 0o600)
        let conf = """
            transport = UDP
            port = \(port)
            authfile = \(dir)/authkey
            site = \(addresses[0])
            site = \(addresses[1])
            arbitrator = \(addresses[2])
            ticket = "\(Self.ticket)"
                expire = 10
                timeout = 1
                retries = 3
                acquire-after = 0

            """
        try conf.write(toFile: dir + "/booth.conf", atomically: true, encoding: .utf8)
        if impl == .boothd {
            for s in ["stub-0", "stub-1"] { try FileManager.default.createDirectory(atPath: dir + "/" + s, withIntermediateDirectories: true) }
        }
        client = BenchClient(port: port, key: try AuthKey.load(path: dir + "/authkey"))
        if impl == .boothd { shell("chown -R hacluster:haclient \(dir)") }
    }

    @discardableResult
    func shell(_ cmd: String) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", cmd]
        try? p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }

    func start(_ i: Int) throws {
        let kind = i == 2 ? "arbitrator" : "site"
        let log = "\(dir)/member-\(i).log"
        let p = Process()
        switch impl {
        case .meridian:
            p.executableURL = URL(fileURLWithPath: ticketd)
            p.arguments = ["--config", dir + "/booth.conf", "--\(kind)", addresses[i], "--state-dir", "\(dir)/state-\(i)",
                           "--backend-dir", "\(dir)/tickets-\(i)", "--log-level", "notice"]
        case .boothd:
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["PATH=\(sharedBooth):/usr/sbin:/usr/bin:/sbin:/bin", "BOOTH_STUB_DIR=\(dir)/stub-\(i)",
                           "boothd", "daemon", "-D", "-S", "-c", dir + "/booth.conf", "-s", addresses[i],
                           "-l", "\(dir)/lock-\(i)"]
        }
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let h = FileHandle(forWritingAtPath: log)
        p.standardOutput = h
        p.standardError = h
        try p.run()
        pids[i] = p.processIdentifier
        // Wait until it answers.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if (try? client.exchange(addresses[i], client.request(.list, ticket: "")) { _ in true }) != nil { return }
            usleep(20_000)
        }
        throw BenchClient.Failure.connect("\(impl.rawValue) member \(addresses[i]) did not start; see \(log)")
    }

    /// boothd re-execs as hacluster: find the daemon's real pid by its rewritten command line.
    func daemonPID(_ i: Int) -> Int32? {
        if impl == .meridian { return pids[i] }
        let p = Process()
        let pipe = Pipe()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/pgrep")
        p.arguments = ["-f", "boothd \(dir)/booth.conf .* for \\[\(addresses[i])\\]"]
        p.standardOutput = pipe
        try? p.run()
        p.waitUntilExit()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return out.split(separator: "\n").first.flatMap { Int32($0) } ?? pids[i]
    }

    func kill9(_ i: Int) {
        if let pid = daemonPID(i) { kill(pid, SIGKILL) }
        if let pid = pids[i] { kill(pid, SIGKILL); var st: Int32 = 0; waitpid(pid, &st, 0) }
        pids[i] = nil
    }

    func stopAll() {
        for i in 0..<3 { kill9(i) }
        usleep(100_000)
    }

    func startAll() throws {
        try? FileManager.default.removeItem(atPath: "\(dir)/state-0")
        try? FileManager.default.removeItem(atPath: "\(dir)/state-1")
        try? FileManager.default.removeItem(atPath: "\(dir)/state-2")
        if impl == .boothd {
            for s in ["stub-0", "stub-1"] { _ = shell("rm -f \(dir)/\(s)/*") }
        }
        for i in 0..<3 { try start(i) }
    }
}

func nowMs() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Double(ts.tv_sec) * 1000 + Double(ts.tv_nsec) / 1e6
}

func summary(_ xs: [Double]) -> (min: Double, median: Double, max: Double) {
    let s = xs.sorted()
    guard !s.isEmpty else { return (.nan, .nan, .nan) }
    let m = s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    return (s.first!, m, s.last!)
}
