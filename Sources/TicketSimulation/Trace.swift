import TicketLease

/// What happened to a member in one step of the simulation.
enum TraceEvent {
    case start(restored: Bool)
    case receive(from: Int, PeerMessage)
    case tick
    case grant(client: Int, force: Bool)
    case revoke(client: Int)
    case handler(success: Bool)
    case crash(inside: Bool)
}

/// One step: the event, the directives the core returned, and how many of them the shell
/// executed before a crash (all of them unless the member crashed inside the transaction).
struct TraceEntry {
    var time: Int64
    var member: Int
    /// Index of the ticket, or -1 for member-wide events.
    var ticket: Int
    var event: TraceEvent
    var directives: [TicketDirective]
    var executed: Int
}

/// Keeps the last entries (formatted only when asked), every entry when requested, and a
/// hash of everything that is stable across processes (FNV-style over integers; Swift's
/// `Hasher` is seeded per process and would not do).
struct TraceRecorder {
    private var ring: [(entry: TraceEntry?, note: String?, time: Int64)] = []
    private var head = 0
    let capacity: Int
    let keepAll: Bool
    private(set) var all: [String] = []
    private(set) var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    private var names: [String] = []

    init(capacity: Int, keepAll: Bool) {
        self.capacity = max(1, capacity)
        self.keepAll = keepAll
    }

    private mutating func mix(_ v: UInt64) {
        hash = (hash ^ v) &* 0x0000_0100_0000_01B3
        hash ^= hash >> 29
    }

    private mutating func mix(_ v: Int64) { mix(UInt64(bitPattern: v)) }
    private mutating func mix(_ v: Int) { mix(UInt64(bitPattern: Int64(v))) }
    private mutating func mix(_ v: Int?) { mix(v.map { $0 + 1 } ?? 0) }
    private mutating func mix(_ v: Bool) { mix(v ? 1 : 2) }
    private mutating func mix(_ v: LeaseInstant?) { mix(v.map { UInt64(bitPattern: $0.nanoseconds) ^ 1 } ?? 0) }

    private mutating func push(_ item: (entry: TraceEntry?, note: String?, time: Int64)) {
        if ring.count < capacity {
            ring.append(item)
        } else {
            ring[head] = item
            head = (head + 1) % capacity
        }
    }

    mutating func note(_ time: Int64, _ text: String) {
        mix(time)
        mix(UInt64(text.utf8.count))
        push((nil, text, time))
        if keepAll { all.append(Self.format(time: time, note: text)) }
    }

    mutating func record(_ e: TraceEntry, names: [String]) {
        if self.names.isEmpty { self.names = names }
        mix(e.time)
        mix(e.member)
        mix(e.ticket)
        switch e.event {
        case .start(let restored): mix(1); mix(restored)
        case .receive(let from, let m): mix(2); mix(from); mix(m)
        case .tick: mix(3)
        case .grant(let client, let force): mix(4); mix(client); mix(force)
        case .revoke(let client): mix(5); mix(client)
        case .handler(let success): mix(6); mix(success)
        case .crash(let inside): mix(7); mix(inside)
        }
        mix(e.directives.count)
        mix(e.executed)
        for d in e.directives { mix(d) }
        push((e, nil, e.time))
        if keepAll { all.append(format(e)) }
    }

    private mutating func mix(_ m: PeerMessage) {
        mix(commandCode(m.command))
        mix(m.request.map(commandCode) ?? 0)
        mix(resultCode(m.result))
        mix(reasonCode(m.reason))
        mix(m.leader)
        mix(UInt64(m.term))
        mix(m.validFor.nanoseconds)
        mix(m.fromMeridian)
        mix(m.round.map { Int($0) })
    }

    private mutating func mix(_ d: TicketDirective) {
        switch d {
        case .persist(let p):
            mix(11)
            mix(UInt64(p.term))
            mix(UInt64(p.voteTerm))
            mix(p.votedFor)
            mix(p.leader)
            mix(p.promisedUntil)
            mix(p.holderUntil)
            mix(p.revoked)
            mix(p.manualGrantedHere)
        case .backend(let b):
            mix(12)
            mix(b.granted)
            mix(b.grantedUntil)
            mix(b.leader)
            mix(UInt64(b.term))
        case .send(let to, let m):
            mix(13)
            mix(to)
            mix(m)
        case .broadcast(let m):
            mix(14)
            mix(m)
        case .reply(let c, let outcome, let leader, let final):
            mix(15)
            mix(c)
            mix(UInt64(outcome.rawValue.utf8.count))
            mix(leader)
            mix(final)
        case .runHandler:
            mix(16)
        case .log(let level, let text):
            mix(17)
            mix(UInt64(level.rawValue.utf8.count))
            mix(UInt64(text.utf8.count))
        }
    }

    /// The retained entries, oldest first, formatted.
    func recent() -> [String] {
        let ordered = ring.count < capacity ? ring : Array(ring[head...] + ring[..<head])
        return ordered.map { item in
            if let e = item.entry { return format(e) }
            return Self.format(time: item.time, note: item.note ?? "")
        }
    }

    static func stamp(_ time: Int64) -> String {
        let s = formatSeconds(.nanoseconds(time))
        return "[" + String(repeating: " ", count: max(0, 11 - s.count)) + s + "]"
    }

    static func format(time: Int64, note: String) -> String { "\(stamp(time)) -- \(note)" }

    func format(_ e: TraceEntry) -> String {
        let ticket = e.ticket >= 0 && e.ticket < names.count ? " \(names[e.ticket])" : ""
        var s = "\(Self.stamp(e.time)) m\(e.member)\(ticket): "
        switch e.event {
        case .start(let restored): s += restored ? "restart from persisted state" : "start (nothing persisted)"
        case .receive(let from, let m): s += "from m\(from) \(m)"
        case .tick: s += "tick"
        case .grant(let client, let force): s += "grant\(force ? " --force" : "") (client \(client))"
        case .revoke(let client): s += "revoke (client \(client))"
        case .handler(let success): s += "handler \(success ? "succeeded" : "failed")"
        case .crash(let inside): s += inside ? "CRASH inside the transaction above" : "CRASH"
        }
        for (i, d) in e.directives.enumerated() {
            s += "\n" + String(repeating: " ", count: 16) + (i < e.executed ? "=> " : "=X ") + Self.format(d)
        }
        if e.executed < e.directives.count {
            s += "\n" + String(repeating: " ", count: 16) + "(=X: not executed, crashed)"
        }
        return s
    }

    static func format(_ d: TicketDirective) -> String {
        func t(_ x: LeaseInstant?) -> String { x.map { formatSeconds(.nanoseconds($0.nanoseconds)) } ?? "-" }
        func n(_ x: Int?) -> String { x.map(String.init) ?? "-" }
        switch d {
        case .persist(let p):
            return "persist term \(p.term) vote \(p.voteTerm)->\(n(p.votedFor)) leader \(n(p.leader)) "
                + "promised \(t(p.promisedUntil)) holder \(t(p.holderUntil)) revoked \(p.revoked)"
        case .backend(let b):
            return "backend granted \(b.granted) until \(t(b.grantedUntil)) leader \(n(b.leader)) term \(b.term)"
        case .send(let to, let m): return "send to m\(to): \(m)"
        case .broadcast(let m): return "broadcast: \(m)"
        case .reply(let c, let outcome, let leader, let final):
            return "reply client \(c): \(outcome) leader \(n(leader))\(final ? "" : " (more to come)")"
        case .runHandler: return "run before-acquire-handler"
        case .log(let level, let text): return "log \(level.rawValue): \(text)"
        }
    }
}

func commandCode(_ c: PeerCommand) -> UInt64 {
    switch c {
    case .status: 1
    case .myIndex: 2
    case .requestVote: 3
    case .voteFor: 4
    case .heartbeat: 5
    case .ack: 6
    case .update: 7
    case .revoke: 8
    case .rejected: 9
    }
}

func resultCode(_ r: PeerResult) -> UInt64 {
    switch r {
    case .success: 1
    case .termOutdated: 2
    case .termStillValid: 3
    case .youOutdated: 4
    }
}

func reasonCode(_ r: PeerReason) -> UInt64 {
    switch r {
    case .none: 1
    case .again: 2
    case .ticketLost: 3
    case .reacquire: 4
    case .admin: 5
    case .localFail: 6
    case .stepDown: 7
    }
}
