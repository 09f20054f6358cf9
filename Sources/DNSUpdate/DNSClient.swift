import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Talks to one DNS server: queries (non-recursive, for the authoritative answer) and
/// TSIG-signed dynamic updates. Blocking I/O; the caller is a short-lived CLI process.
///
/// The server is an address, not a name: resolving the DNS server through DNS while failing
/// over DNS would be a loop.
public struct DNSClient: Sendable {
    public var server: IPAddress
    public var port: UInt16
    /// Seconds to wait for each answer.
    public var timeout: Double
    /// UDP attempts (the timeout doubles after each); TCP is used once when an answer is
    /// truncated, or always when `useTCP` is set.
    public var attempts: Int
    public var useTCP: Bool

    public init(server: IPAddress, port: UInt16 = 53, timeout: Double = 2, attempts: Int = 3, useTCP: Bool = false) {
        self.server = server
        self.port = port
        self.timeout = timeout
        self.attempts = attempts
        self.useTCP = useTCP
    }

    /// `server` as shown in messages: `127.0.0.1#53` as BIND writes it.
    public var serverLabel: String { "\(server)#\(port)" }

    // MARK: Queries

    /// Asks the server for `name`/`type` without recursion; the whole answer.
    public func query(_ name: DNSName, _ type: DNSType) throws(DNSError) -> DNSMessage {
        var message = DNSMessage(id: UInt16.random(in: 0...UInt16.max))
        message.questions = [DNSQuestion(name: name, type: type)]
        let (_, answer) = try exchange(message.encode(), id: message.id)
        return answer
    }

    /// The A and AAAA records the server itself answers for `name` (the authoritative
    /// answer), sorted. Throws if the server is not authoritative or answers an error other
    /// than NXDOMAIN (no records).
    public func addresses(of name: DNSName) throws(DNSError) -> [IPAddress] {
        var found: [IPAddress] = []
        for type in [DNSType.a, .aaaa] {
            let answer = try query(name, type)
            guard answer.rcode == .noError || answer.rcode == .nxDomain else {
                throw .rejected(server: serverLabel, rcode: answer.rcode, "the query \(name) \(type)")
            }
            guard answer.authoritative else {
                throw .rejected(server: serverLabel, rcode: answer.rcode,
                                "the query \(name) \(type) without the AA bit (it is not authoritative for the name)")
            }
            found += answer.answers.filter { $0.name == name }.compactMap(IPAddress.init(record:))
        }
        return found.sorted()
    }

    /// The zone that contains `name` on this server: the owner of the SOA record in the
    /// answer or authority section of an SOA query (as nsupdate finds it).
    public func zone(of name: DNSName) throws(DNSError) -> DNSName {
        let answer = try query(name, .soa)
        let soa = (answer.answers + answer.authority).first { $0.type == .soa && name.isSubdomain(of: $0.name) }
        guard let soa, answer.authoritative || !answer.answers.isEmpty else {
            throw .noZone(name: name.description, server: serverLabel)
        }
        return soa.name
    }

    // MARK: Updates

    /// Replaces every A and AAAA record of `name` with `addresses` in one atomic UPDATE:
    /// both RRsets are deleted and the new records added, so a name that pointed at another
    /// site over IPv6 does not keep doing so when this site has only IPv4.
    public func replaceAddresses(of name: DNSName, in zone: DNSName, with addresses: [IPAddress], ttl: UInt32,
                                 key: TSIGKey?) throws(DNSError)
    {
        var updates = [DNSType.a, .aaaa].map { DNSRecord(name: name, type: $0, dnsClass: .any, ttl: 0) }
        updates += addresses.map { DNSRecord(name: name, type: $0.type, dnsClass: .inet, ttl: ttl, data: $0.bytes) }
        try update(zone: zone, name: name, records: updates, key: key)
    }

    /// Deletes the A and AAAA records of `name`; only those in `addresses` when given.
    public func removeAddresses(of name: DNSName, in zone: DNSName, only addresses: [IPAddress]?, key: TSIGKey?)
        throws(DNSError)
    {
        let updates: [DNSRecord]
        if let addresses {
            // Class NONE deletes one record (RFC 2136 §2.5.4).
            updates = addresses.map { DNSRecord(name: name, type: $0.type, dnsClass: .none, ttl: 0, data: $0.bytes) }
        } else {
            updates = [DNSType.a, .aaaa].map { DNSRecord(name: name, type: $0, dnsClass: .any, ttl: 0) }
        }
        try update(zone: zone, name: name, records: updates, key: key)
    }

    /// Sends one UPDATE for `zone` and checks the answer: its signature, the server's verdict
    /// on ours, and the RCODE.
    public func update(zone: DNSName, name: DNSName, records: [DNSRecord], key: TSIGKey?, time: UInt64? = nil)
        throws(DNSError)
    {
        guard name.isSubdomain(of: zone) else {
            throw .rejected(server: serverLabel, rcode: .notZone, "an update of \(name), which is outside zone \(zone)")
        }
        var message = DNSMessage(id: UInt16.random(in: 0...UInt16.max))
        message.opcode = .update
        message.questions = [DNSQuestion(name: zone, type: .soa)]
        message.authority = records
        let what = "the update of \(name) in zone \(zone)"
        guard let key else {
            let (_, answer) = try exchange(message.encode(), id: message.id)
            guard answer.rcode == .noError else { throw .rejected(server: serverLabel, rcode: answer.rcode, what) }
            return
        }
        let now = time ?? UInt64(Date().timeIntervalSince1970)
        let (wire, mac) = TSIG.sign(message, key: key, time: now)
        let (answerWire, answer) = try exchange(wire, id: message.id)
        let tsig: TSIGRecord
        do {
            tsig = try TSIG.verify(response: answerWire, message: answer, requestMAC: mac, key: key, server: serverLabel)
        } catch {
            // An unsigned NOTAUTH/REFUSED says more than "not authentic".
            if answer.rcode != .noError, (try? TSIG.record(of: answer)) == nil {
                throw .rejected(server: serverLabel, rcode: answer.rcode, what + " (its answer carries no TSIG)")
            }
            throw error
        }
        guard tsig.error == .noError else { throw .tsigRejected(server: serverLabel, key: key.name.description, error: tsig.error) }
        guard answer.rcode == .noError else { throw .rejected(server: serverLabel, rcode: answer.rcode, what) }
    }

    // MARK: Transport

    /// Sends `wire` and returns the matching answer (same ID, a response), over UDP with
    /// retries, or TCP when asked or when the UDP answer is truncated.
    public func exchange(_ wire: [UInt8], id: UInt16) throws(DNSError) -> ([UInt8], DNSMessage) {
        if !useTCP {
            let answer = try exchangeUDP(wire, id: id)
            if !answer.1.truncated { return answer }
        }
        return try exchangeTCP(wire, id: id)
    }

    private func socketAddress() -> (storage: sockaddr_storage, length: socklen_t) {
        var storage = sockaddr_storage()
        var length: socklen_t = 0
        withUnsafeMutableBytes(of: &storage) { raw in
            switch server {
            case .v4(let b):
                var a = sockaddr_in()
                a.sin_family = sa_family_t(AF_INET)
                a.sin_port = port.bigEndian
                withUnsafeMutableBytes(of: &a.sin_addr) { $0.copyBytes(from: b) }
                withUnsafeBytes(of: a) { raw.copyMemory(from: $0) }
                length = socklen_t(MemoryLayout<sockaddr_in>.size)
            case .v6(let b):
                var a = sockaddr_in6()
                a.sin6_family = sa_family_t(AF_INET6)
                a.sin6_port = port.bigEndian
                withUnsafeMutableBytes(of: &a.sin6_addr) { $0.copyBytes(from: b) }
                withUnsafeBytes(of: a) { raw.copyMemory(from: $0) }
                length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            }
        }
        return (storage, length)
    }

    private func openSocket(_ type: Int32) throws(DNSError) -> Int32 {
        let family = (server.type == .a) ? AF_INET : AF_INET6
        let fd = socket(family, type, 0)
        guard fd >= 0 else { throw .unreachable(server: serverLabel, "socket(): \(String(cString: strerror(errno)))") }
        var address = socketAddress()
        let rc = withUnsafePointer(to: &address.storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, address.length) }
        }
        guard rc == 0 else {
            let why = String(cString: strerror(errno))
            close(fd)
            throw .unreachable(server: serverLabel, "connect(): \(why)")
        }
        return fd
    }

    /// Waits until `fd` is readable; false on timeout.
    private func waitReadable(_ fd: Int32, until deadline: Double) -> Bool {
        while true {
            let left = deadline - Date().timeIntervalSince1970
            if left <= 0 { return false }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let n = poll(&p, 1, Int32(min(left * 1000, 60_000)) + 1)
            if n > 0 { return true }
            if n < 0 && errno != EINTR { return false }
        }
    }

    private func exchangeUDP(_ wire: [UInt8], id: UInt16) throws(DNSError) -> ([UInt8], DNSMessage) {
        let fd = try openSocket(Int32(SOCK_DGRAM.rawValue))
        defer { close(fd) }
        var wait = timeout
        var lastProblem = "no answer within \(timeout) s"
        for _ in 0..<max(1, attempts) {
            let sent = wire.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent < 0 { lastProblem = "send(): \(String(cString: strerror(errno)))" }
            let deadline = Date().timeIntervalSince1970 + wait
            while waitReadable(fd, until: deadline) {
                var buffer = [UInt8](repeating: 0, count: 65535)
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n < 0 {
                    // ECONNREFUSED: nothing listens on the port (an ICMP error on a connected socket).
                    lastProblem = "recv(): \(String(cString: strerror(errno)))"
                    if errno == ECONNREFUSED { throw .unreachable(server: serverLabel, lastProblem + " (nothing listens there)") }
                    break
                }
                let bytes = Array(buffer[0..<n])
                // Answers to other IDs, or that do not parse, are ignored (spoofing, stale retries).
                guard let message = try? DNSMessage.decode(bytes), message.id == id, message.isResponse else { continue }
                return (bytes, message)
            }
            wait *= 2
            lastProblem = "no answer within \(Int(timeout * Double((1 << max(1, attempts)) - 1))) s over \(attempts) UDP attempts"
        }
        throw .unreachable(server: serverLabel, lastProblem)
    }

    private func exchangeTCP(_ wire: [UInt8], id: UInt16) throws(DNSError) -> ([UInt8], DNSMessage) {
        let fd = try openSocket(Int32(SOCK_STREAM.rawValue))
        defer { close(fd) }
        var framed: [UInt8] = []
        framed.appendBigEndian(UInt16(wire.count))
        framed += wire
        var offset = 0
        while offset < framed.count {
            let n = framed[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw .unreachable(server: serverLabel, "TCP send(): \(String(cString: strerror(errno)))") }
            offset += n
        }
        let deadline = Date().timeIntervalSince1970 + timeout * 2
        func read(_ count: Int) throws(DNSError) -> [UInt8] {
            var out: [UInt8] = []
            while out.count < count {
                guard waitReadable(fd, until: deadline) else {
                    throw .unreachable(server: serverLabel, "no TCP answer within \(timeout * 2) s")
                }
                var buffer = [UInt8](repeating: 0, count: count - out.count)
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard n > 0 else { throw .unreachable(server: serverLabel, "the TCP connection closed before the answer") }
                out += buffer[0..<n]
            }
            return out
        }
        let header = try read(2)
        let bytes = try read(Int(header[0]) << 8 | Int(header[1]))
        let message = try DNSMessage.decode(bytes)
        guard message.id == id, message.isResponse else {
            throw .malformed("the TCP answer has ID \(message.id), the request \(id)")
        }
        return (bytes, message)
    }
}
