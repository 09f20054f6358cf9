import Foundation

/// The resources of a DRBD 9 resource file, the subset Meridian supports (two nodes per
/// resource, protocols A and C, internal metadata). Docs/decisions/replica-config.md lists what
/// is accepted, what is refused and why.
public struct ReplicaConfiguration: Sendable {
    public var resources: [ReplicaResource]

    public static func load(path: String) throws(ReplicaConfigError) -> ReplicaConfiguration {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ReplicaConfigError(nil, "cannot read \(path)", fix: "check the path and that the file is readable")
        }
        return try parse(text: text, file: path)
    }

    public static func parse(text: String, file: String) throws(ReplicaConfigError) -> ReplicaConfiguration {
        let statements = try ConfigTreeParser.parse(text, file: file)
        var common = Sections()
        var resources: [ReplicaResource] = []
        for statement in statements {
            switch statement.keyword {
            case "global":
                _ = try requireBlock(statement)  // contents ignored, as drbdadm's usage-count etc.
            case "common":
                common = try Sections.read(try requireBlock(statement), into: common, allowVolumes: false)
            case "resource":
                let name = try singleArgument(statement, what: "a resource name")
                guard !resources.contains(where: { $0.name == name }) else {
                    throw ReplicaConfigError(statement.location, "resource \(name) is defined twice")
                }
                resources.append(try ReplicaResource.read(statement, name: name, common: common))
            default:
                throw unknown(statement, expected: ["global", "common", "resource", "include"])
            }
        }
        return ReplicaConfiguration(resources: resources)
    }

    public func resource(named name: String) -> ReplicaResource? { resources.first { $0.name == name } }
}

/// Replication protocol.
public enum ReplicationProtocol: String, Sendable, Equatable { case a = "A", c = "C" }

/// `net { }` options (typed; DRBD's units converted).
public struct NetOptions: Sendable, Equatable {
    public var protocolName: ReplicationProtocol = .c
    public var cramHMACAlgorithm: String?
    public var sharedSecret: String?
    public var afterSB0Primary = "disconnect"
    public var afterSB1Primary = "disconnect"
    public var afterSB2Primary = "disconnect"
    public var fencing = "dont-care"
    public var verifyAlgorithm: String?
    /// `ping-int`, seconds (default 10).
    public var pingInterval: Duration = .seconds(10)
    /// `ping-timeout`, 0.1 s (default 5 = 500 ms).
    public var pingTimeout: Duration = .milliseconds(500)
    /// `connect-int`, seconds (default 10).
    public var connectInterval: Duration = .seconds(10)
    /// `timeout`, 0.1 s (default 60 = 6 s).
    public var timeout: Duration = .seconds(6)
}

/// `disk { }` options.
public struct DiskOptions: Sendable, Equatable {
    /// `c-plan-ahead`, 0.1 s (default 20 = 2 s).
    public var planAhead: Duration = .seconds(2)
    /// `c-fill-target`, bytes (file: 512-byte sectors, default 100).
    public var fillTarget: UInt64 = 100 * 512
    /// `c-delay-target`, 0.1 s (default 10 = 1 s).
    public var delayTarget: Duration = .seconds(1)
    /// `c-max-rate`, bytes/s (file: KiB/s, default 102400).
    public var maxRate: UInt64 = 102_400 * 1024
    /// `c-min-rate`, bytes/s (file: KiB/s, default 250).
    public var minRate: UInt64 = 250 * 1024
    /// `resync-rate`, bytes/s (file: KiB/s, default 250).
    public var resyncRate: UInt64 = 250 * 1024
    public var activityLogExtents = 1237
    public var onIOError = "pass_on"
}

/// A node of a resource.
public struct ReplicaNode: Sendable, Equatable {
    public var name: String
    public var nodeID: Int
    public var host: String
    public var port: UInt16
    /// Per-node volume overrides: number → disk path.
    public var volumeDisks: [Int: String]
    public var location: ConfigLocation
}

/// A volume of a resource on one node.
public struct ReplicaVolume: Sendable, Equatable {
    public var number: Int
    public var disk: String
    public var deviceMinor: Int?
}

public struct ReplicaResource: Sendable, Equatable {
    public var name: String
    public var net: NetOptions
    public var disk: DiskOptions
    public var handlers: [String: String]
    public var nodes: [ReplicaNode]
    /// Volume numbers with their resource-level disk ("" when only the nodes give disks).
    public var volumeDisks: [Int: String]
    public var deviceMinors: [Int: Int]
    /// `options { cpu-mask }`: CPUs the daemon's threads run on (nil: all).
    public var cpuMask: UInt64?
    public var volumes: [Int] { Array(Set(volumeDisks.keys).union(nodes.flatMap { $0.volumeDisks.keys })).sorted() }

    public var protocolName: ReplicationProtocol { net.protocolName }

    /// The volume as seen on `node` (per-node disk overrides the resource-level one).
    public func volume(_ number: Int, on node: String) -> ReplicaVolume? {
        guard let n = nodes.first(where: { $0.name == node }),
              let disk = n.volumeDisks[number] ?? volumeDisks[number], !disk.isEmpty
        else { return nil }
        return ReplicaVolume(number: number, disk: disk, deviceMinor: deviceMinors[number])
    }

    static func read(_ statement: ConfigStatement, name: String, common: Sections) throws(ReplicaConfigError) -> ReplicaResource {
        let body = try requireBlock(statement)
        var sections = common
        var nodes: [ReplicaNode] = []
        var volumeDisks: [Int: String] = [:]
        var minors: [Int: Int] = [:]
        for child in body {
            switch child.keyword {
            case "net", "handlers", "options":
                sections = try Sections.read([child], into: sections, allowVolumes: false)
            case "disk" where child.children != nil:
                sections = try Sections.read([child], into: sections, allowVolumes: false)
            case "volume":
                let (number, disk, minor) = try readVolume(child)
                // "" records a volume declared here whose disks are given per node.
                volumeDisks[number] = disk ?? ""
                if let minor { minors[number] = minor }
            case "on":
                nodes.append(try readNode(child))
            case "connection-mesh", "connection", "floating", "stacked-on-top-of", "skip":
                throw ReplicaConfigError(child.location, "'\(child.keyword)' is not supported",
                                         fix: "Meridian replicates between the two nodes of the `on` sections; remove it")
            case "device", "disk", "meta-disk":
                throw ReplicaConfigError(child.location, "'\(child.keyword)' belongs in a `volume N { }` section",
                                         fix: "write `volume 0 { \(child.keyword) ...; }`")
            default:
                throw unknown(child, expected: ["net", "disk", "handlers", "options", "volume", "on"])
            }
        }
        guard nodes.count == 2 else {
            throw ReplicaConfigError(statement.location,
                                     "resource \(name) has \(nodes.count) `on` section(s); Meridian replicates between two nodes",
                                     fix: "give exactly two `on NODE { node-id N; address IP:PORT; }` sections")
        }
        guard nodes[0].nodeID != nodes[1].nodeID else {
            throw ReplicaConfigError(nodes[1].location, "node-id \(nodes[1].nodeID) is used by both nodes of \(name)",
                                     fix: "give each node its own node-id (0 and 1)")
        }
        guard nodes[0].name != nodes[1].name else {
            throw ReplicaConfigError(nodes[1].location, "node \(nodes[1].name) appears twice in \(name)")
        }
        guard !(nodes[0].host == nodes[1].host && nodes[0].port == nodes[1].port) else {
            throw ReplicaConfigError(nodes[1].location, "both nodes of \(name) use \(nodes[1].host):\(nodes[1].port)",
                                     fix: "give each node its own address or port")
        }
        let resource = ReplicaResource(name: name, net: sections.net, disk: sections.disk, handlers: sections.handlers,
                                       nodes: nodes, volumeDisks: volumeDisks, deviceMinors: minors,
                                       cpuMask: sections.cpuMask)
        let all = Set(volumeDisks.keys).union(nodes.flatMap { $0.volumeDisks.keys })
        guard !all.isEmpty else {
            throw ReplicaConfigError(statement.location, "resource \(name) has no volume",
                                     fix: "add `volume 0 { disk /path; meta-disk internal; }`")
        }
        for number in all.sorted() {
            for node in nodes where resource.volume(number, on: node.name) == nil {
                throw ReplicaConfigError(node.location, "volume \(number) of \(name) has no disk on \(node.name)",
                                         fix: "add `volume \(number) { disk /path; meta-disk internal; }` to `on \(node.name)` or to the resource")
            }
        }
        if resource.net.fencing == "resource-and-stonith" && resource.handlers["fence-peer"] == nil {
            throw ReplicaConfigError(statement.location,
                                     "resource \(name) sets fencing resource-and-stonith but no fence-peer handler: "
                                         + "every lost connection would suspend its writes until `meridian volume resume-io`",
                                     fix: "add `handlers { fence-peer \"COMMAND\"; }` with a command that outdates or "
                                         + "fences the peer (exit 4 or 7), or use `fencing resource-only;`")
        }
        if resource.net.cramHMACAlgorithm != nil && (resource.net.sharedSecret ?? "").isEmpty {
            throw ReplicaConfigError(statement.location, "resource \(name) sets cram-hmac-alg but no shared-secret",
                                     fix: "add `shared-secret \"...\";` to its net section")
        }
        return resource
    }

    static func readVolume(_ statement: ConfigStatement) throws(ReplicaConfigError) -> (Int, String?, Int?) {
        let numberText = try singleArgument(statement, what: "a volume number")
        guard let number = Int(numberText), (0...65535).contains(number) else {
            throw ReplicaConfigError(statement.location, "volume number '\(numberText)' is not a number from 0 to 65535")
        }
        var disk: String?
        var minor: Int?
        for child in try requireBlock(statement) {
            switch child.keyword {
            case "disk":
                disk = try singleArgument(child, what: "a backing device path")
            case "meta-disk":
                let value = try singleArgument(child, what: "internal")
                guard value == "internal" else {
                    throw ReplicaConfigError(child.location, "meta-disk \(value): only internal metadata is supported",
                                             fix: "write `meta-disk internal;`")
                }
            case "device":
                if child.arguments.first == "minor", child.arguments.count == 2, let m = Int(child.arguments[1]) {
                    minor = m
                } else if let last = child.arguments.last, let m = Int(last.drop { !$0.isNumber }) {
                    minor = m
                }
            default:
                throw unknown(child, expected: ["disk", "meta-disk", "device"])
            }
        }
        return (number, disk, minor)
    }

    static func readNode(_ statement: ConfigStatement) throws(ReplicaConfigError) -> ReplicaNode {
        let name = try singleArgument(statement, what: "a node name")
        var nodeID: Int?
        var address: (String, UInt16)?
        var disks: [Int: String] = [:]
        for child in try requireBlock(statement) {
            switch child.keyword {
            case "node-id":
                let text = try singleArgument(child, what: "a node id")
                guard let id = Int(text), (0...31).contains(id) else {
                    throw ReplicaConfigError(child.location, "node-id '\(text)' is not a number from 0 to 31")
                }
                nodeID = id
            case "address":
                address = try readAddress(child)
            case "volume":
                let (number, disk, _) = try readVolume(child)
                if let disk { disks[number] = disk }
            case "disk", "meta-disk", "device":
                // DRBD 8.4 style: an implicit volume 0 directly in the `on` section.
                if child.keyword == "disk" { disks[0] = try singleArgument(child, what: "a backing device path") }
            default:
                throw unknown(child, expected: ["node-id", "address", "volume"])
            }
        }
        guard let nodeID else {
            throw ReplicaConfigError(statement.location, "node \(name) has no node-id", fix: "add `node-id 0;` (0 or 1)")
        }
        guard let address else {
            throw ReplicaConfigError(statement.location, "node \(name) has no address", fix: "add `address 127.0.0.1:7789;`")
        }
        return ReplicaNode(name: name, nodeID: nodeID, host: address.0, port: address.1, volumeDisks: disks,
                           location: statement.location)
    }

    static func readAddress(_ statement: ConfigStatement) throws(ReplicaConfigError) -> (String, UInt16) {
        var args = statement.arguments
        if let first = args.first, ["ipv4", "ipv6"].contains(first) { args.removeFirst() }
        guard args.count == 1, let colon = args[0].lastIndex(of: ":") else {
            throw ReplicaConfigError(statement.location, "address needs IP:PORT", fix: "address 192.0.2.10:7789;")
        }
        var host = String(args[0][..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard let port = UInt16(args[0][args[0].index(after: colon)...]), port > 0 else {
            throw ReplicaConfigError(statement.location, "'\(args[0])' has no valid port", fix: "address 192.0.2.10:7789;")
        }
        var v4 = in_addr(), v6 = in6_addr()
        guard inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1 else {
            throw ReplicaConfigError(statement.location, "'\(host)' is not a numeric IPv4 or IPv6 address",
                                     fix: "replica links name addresses, not host names")
        }
        return (host, port)
    }
}

/// The option sections, inherited from `common` and overridden per resource.
struct Sections {
    var net = NetOptions()
    var disk = DiskOptions()
    var handlers: [String: String] = [:]
    var cpuMask: UInt64?

    /// The handlers meridian-replicad runs (DRBD's meaning; see Docs/decisions/replicad.md).
    static let handlerNames = ["fence-peer", "unfence-peer", "split-brain", "initial-split-brain", "after-resync-target",
                               "out-of-sync"]
    /// DRBD handlers Meridian never runs: refused, so nobody relies on one silently.
    static let refusedHandlers: [String: (reason: String, fix: String)] = [
        "before-resync-target": ("before-resync-target is not supported: a SyncTarget does not wait for a handler before its disk becomes Inconsistent",
                                 "remove it; take a snapshot of the backing device before `meridian volume connect` instead"),
        "pri-lost-after-sb": ("pri-lost-after-sb is not supported: it belongs to the call-pri-lost-after-sb policies, which Meridian does not offer",
                              "remove it; a split brain that no after-sb policy resolves runs the split-brain handler"),
        "local-io-error": ("local-io-error is not supported: it belongs to on-io-error call-local-io-error, which Meridian does not offer",
                           "remove it; I/O errors are reported to the NBD client and logged (on-io-error pass_on)"),
        "pri-lost": ("pri-lost is not supported: Meridian never demotes a Primary on its own",
                     "remove it"),
        "pri-on-incon-degr": ("pri-on-incon-degr is not supported: Meridian never runs a Primary without UpToDate data",
                              "remove it"),
    ]
    /// Accepted for compatibility; they change nothing in Meridian (documented).
    static let ignoredNet = ["max-buffers", "max-epoch-size", "sndbuf-size", "rcvbuf-size", "ko-count", "csums-alg",
                             "data-integrity-alg", "tcp-cork", "rr-conflict", "use-rle", "congestion-fill",
                             "congestion-extents", "on-congestion", "transport"]

    static func read(_ statements: [ConfigStatement], into base: Sections, allowVolumes: Bool) throws(ReplicaConfigError) -> Sections {
        var s = base
        for section in statements {
            let body = try requireBlock(section)
            switch section.keyword {
            case "net": for o in body { try s.readNet(o) }
            case "disk": for o in body { try s.readDisk(o) }
            case "handlers":
                for o in body {
                    if let refused = refusedHandlers[o.keyword] {
                        throw ReplicaConfigError(o.location, refused.reason, fix: refused.fix)
                    }
                    guard handlerNames.contains(o.keyword) else { throw unknown(o, expected: handlerNames) }
                    s.handlers[o.keyword] = try singleArgument(o, what: "a command")
                }
            case "options":
                for o in body {
                    switch o.keyword {
                    case "auto-promote":
                        guard o.arguments == ["no"] else {
                            throw ReplicaConfigError(o.location, "auto-promote is not supported",
                                                     fix: "write `auto-promote no;`: the cluster promotes through the OCF agent")
                        }
                    case "quorum", "on-no-quorum":
                        throw ReplicaConfigError(o.location, "'\(o.keyword)' is not supported with two nodes",
                                                 fix: "remove it; use fencing resource-only with the cluster's quorum")
                    case "cpu-mask":
                        let text = try singleArgument(o, what: "a hexadecimal CPU mask")
                        guard let mask = UInt64(text.hasPrefix("0x") ? String(text.dropFirst(2)) : text, radix: 16), mask != 0 else {
                            throw ReplicaConfigError(o.location, "cpu-mask '\(text)' is not a non-zero hexadecimal mask",
                                                     fix: "e.g. `cpu-mask 1;` for CPU 0, `cpu-mask 3;` for CPUs 0 and 1")
                        }
                        s.cpuMask = mask
                    case "on-no-data-accessible":
                        break
                    default:
                        throw unknown(o, expected: ["auto-promote", "cpu-mask"])
                    }
                }
            default:
                throw unknown(section, expected: ["net", "disk", "handlers", "options"])
            }
        }
        return s
    }

    mutating func readNet(_ o: ConfigStatement) throws(ReplicaConfigError) {
        switch o.keyword {
        case "protocol":
            let value = try singleArgument(o, what: "A or C")
            guard let p = ReplicationProtocol(rawValue: value.uppercased()) else {
                throw ReplicaConfigError(o.location, "protocol \(value) is not supported",
                                         fix: "use protocol C (synchronous) or A (asynchronous)")
            }
            net.protocolName = p
        case "cram-hmac-alg":
            let value = try singleArgument(o, what: "sha1, sha256 or sha512").lowercased()
            guard ["sha1", "sha256", "sha512"].contains(value) else {
                throw ReplicaConfigError(o.location, "cram-hmac-alg \(value) is not supported", fix: "use sha256")
            }
            net.cramHMACAlgorithm = value
        case "shared-secret": net.sharedSecret = try singleArgument(o, what: "a secret")
        case "after-sb-0pri":
            let v = try singleArgument(o, what: "a policy")
            guard ["disconnect", "discard-younger-primary", "discard-older-primary", "discard-zero-changes",
                   "discard-least-changes"].contains(v) || v.hasPrefix("discard-node-")
            else {
                throw ReplicaConfigError(o.location, "after-sb-0pri \(v) is not a policy",
                                         fix: "one of disconnect, discard-younger-primary, discard-older-primary, discard-zero-changes, discard-least-changes, discard-node-NAME")
            }
            net.afterSB0Primary = v
        case "after-sb-1pri":
            net.afterSB1Primary = try oneOf(o, ["disconnect", "consensus", "discard-secondary"], what: "a policy",
                                            fix: "one of disconnect, consensus, discard-secondary")
        case "after-sb-2pri":
            let v = try singleArgument(o, what: "a policy")
            guard v == "disconnect" else {
                throw ReplicaConfigError(o.location, "after-sb-2pri \(v) is not supported",
                                         fix: "after-sb-2pri disconnect; (two Primaries are never resolved automatically)")
            }
            net.afterSB2Primary = v
        case "fencing": net.fencing = try fencing(o)
        case "verify-alg":
            net.verifyAlgorithm = try oneOf(o, ["sha1", "sha256", "sha512"], what: "a hash name",
                                            fix: "use sha1, sha256 or sha512 (online verify hashes 256 KiB chunks with it)")
        case "ping-int": net.pingInterval = .seconds(try number(o, range: 1...120))
        case "ping-timeout": net.pingTimeout = .milliseconds(100 * (try number(o, range: 1...300)))
        case "connect-int": net.connectInterval = .seconds(try number(o, range: 1...120))
        case "timeout": net.timeout = .milliseconds(100 * (try number(o, range: 1...600)))
        case "allow-two-primaries":
            guard o.arguments == ["no"] else {
                throw ReplicaConfigError(o.location, "allow-two-primaries is not supported",
                                         fix: "remove it: a volume has one Primary at a time")
            }
        default:
            if Self.ignoredNet.contains(o.keyword) { return }
            throw unknown(o, expected: ["protocol", "cram-hmac-alg", "shared-secret", "after-sb-0pri", "after-sb-1pri",
                                        "after-sb-2pri", "fencing", "verify-alg", "ping-int", "ping-timeout",
                                        "connect-int", "timeout"] + Self.ignoredNet)
        }
    }

    mutating func readDisk(_ o: ConfigStatement) throws(ReplicaConfigError) {
        switch o.keyword {
        case "c-plan-ahead": disk.planAhead = .milliseconds(100 * (try number(o, range: 0...300)))
        case "c-delay-target": disk.delayTarget = .milliseconds(100 * (try number(o, range: 1...100)))
        case "c-fill-target": disk.fillTarget = try size(o, unit: 512)
        case "c-max-rate": disk.maxRate = try size(o, unit: 1024)
        case "c-min-rate": disk.minRate = try size(o, unit: 1024)
        case "resync-rate": disk.resyncRate = try size(o, unit: 1024)
        case "al-extents": disk.activityLogExtents = try number(o, range: 7...65534)
        case "on-io-error":
            let v = try singleArgument(o, what: "pass_on")
            switch v {
            case "pass_on":
                disk.onIOError = v
            case "detach", "call-local-io-error":
                throw ReplicaConfigError(o.location, "on-io-error \(v) is not supported: Meridian does not detach a failing disk; "
                    + "a failed local read or write is reported to the NBD client (EIO), logged, and its blocks are marked out of sync",
                                         fix: "on-io-error pass_on; (what Meridian does), or remove the line")
            default:
                throw ReplicaConfigError(o.location, "on-io-error \(v) is not a policy", fix: "on-io-error pass_on;")
            }
        case "fencing": net.fencing = try fencing(o)
        case "disk-barrier", "disk-flushes", "md-flushes", "disk-drain":
            guard o.arguments == ["yes"] || o.keyword == "disk-barrier" || o.keyword == "disk-drain" else {
                throw ReplicaConfigError(o.location, "\(o.keyword) no is not supported: Meridian always flushes",
                                         fix: "remove it")
            }
        case "resync-after", "al-updates", "discard-zeroes-if-aligned", "rs-discard-granularity", "disk-timeout",
             "read-balancing":
            break
        default:
            throw unknown(o, expected: ["c-plan-ahead", "c-delay-target", "c-fill-target", "c-max-rate", "c-min-rate",
                                        "resync-rate", "al-extents", "on-io-error", "fencing"])
        }
    }

    /// The single argument of `o`, which must be one of `allowed`.
    func oneOf(_ o: ConfigStatement, _ allowed: [String], what: String, fix: String) throws(ReplicaConfigError) -> String {
        let v = try singleArgument(o, what: what)
        guard allowed.contains(v) else {
            throw ReplicaConfigError(o.location, "\(o.keyword) \(v) is not supported", fix: fix)
        }
        return v
    }

    func fencing(_ o: ConfigStatement) throws(ReplicaConfigError) -> String {
        let v = try singleArgument(o, what: "dont-care, resource-only or resource-and-stonith")
        guard ["dont-care", "resource-only", "resource-and-stonith"].contains(v) else {
            throw ReplicaConfigError(o.location, "fencing \(v) is not a policy",
                                     fix: "one of dont-care, resource-only, resource-and-stonith")
        }
        return v
    }
}

func requireBlock(_ statement: ConfigStatement) throws(ReplicaConfigError) -> [ConfigStatement] {
    guard let children = statement.children else {
        throw ReplicaConfigError(statement.location, "'\(statement.keyword)' needs a { } block")
    }
    return children
}

func singleArgument(_ statement: ConfigStatement, what: String) throws(ReplicaConfigError) -> String {
    guard statement.arguments.count == 1 else {
        throw ReplicaConfigError(statement.location,
                                 "'\(statement.keyword)' takes \(what), found \(statement.arguments.count) value(s)")
    }
    return statement.arguments[0]
}

func number(_ statement: ConfigStatement, range: ClosedRange<Int>) throws(ReplicaConfigError) -> Int {
    let text = try singleArgument(statement, what: "a number")
    guard let value = Int(text), range.contains(value) else {
        throw ReplicaConfigError(statement.location, "\(statement.keyword) '\(text)' is not a number from \(range.lowerBound) to \(range.upperBound)")
    }
    return value
}

/// A DRBD size: a plain number in `unit` bytes, or with a k/K, m/M, g/G suffix in bytes.
func size(_ statement: ConfigStatement, unit: UInt64) throws(ReplicaConfigError) -> UInt64 {
    let text = try singleArgument(statement, what: "a size")
    let multipliers: [Character: UInt64] = ["k": 1 << 10, "K": 1 << 10, "m": 1 << 20, "M": 1 << 20, "g": 1 << 30,
                                            "G": 1 << 30, "s": 512]
    var digits = Substring(text)
    var multiplier = unit
    if let last = text.last, let m = multipliers[last] {
        digits = text.dropLast()
        multiplier = m
    }
    guard let value = UInt64(digits) else {
        throw ReplicaConfigError(statement.location, "\(statement.keyword) '\(text)' is not a size",
                                 fix: "a number, optionally with k, M or G (e.g. 100M)")
    }
    return value * multiplier
}

func unknown(_ statement: ConfigStatement, expected: [String]) -> ReplicaConfigError {
    let close = expected.min { distance($0, statement.keyword) < distance($1, statement.keyword) }
    let hint = close.flatMap { distance($0, statement.keyword) <= 3 ? "did you mean '\($0)'?" : nil }
    return ReplicaConfigError(statement.location, "unknown or unsupported keyword '\(statement.keyword)' here",
                              fix: hint ?? "expected one of: \(expected.joined(separator: ", "))")
}

/// Levenshtein distance, for "did you mean".
func distance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    var row = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
        var previous = row[0]
        row[0] = i
        for j in 1...max(b.count, 1) where !b.isEmpty {
            let current = row[j]
            row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
            previous = current
        }
    }
    return row[b.count]
}
