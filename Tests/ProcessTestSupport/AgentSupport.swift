import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// An OCF agent of `Agents/`, run the way Pacemaker runs it: `OCF_RESKEY_<name>` for every
/// parameter, the action as the only argument, the exit code and the combined output back.
public struct OCFAgent: Sendable {
    public let name: String
    public var path: String { Repository.root + "/Agents/" + name }
    public static let rng = Repository.root + "/Agents/schema/ra-api-1.1.rng"
    public static let dtd = "/usr/share/resource-agents/ra-api-1.dtd"

    public init(_ name: String) { self.name = name }

    /// Every agent in `Agents/` (executable files, not the schema folder).
    public static var all: [OCFAgent] {
        let dir = Repository.root + "/Agents"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.sorted().filter { FileManager.default.isExecutableFile(atPath: dir + "/" + $0) }
            .filter { name in
                var isDir: ObjCBool = false
                return FileManager.default.fileExists(atPath: dir + "/" + name, isDirectory: &isDir) && !isDir.boolValue
            }
            .map(OCFAgent.init)
    }

    /// Runs `action` under `shell` (dash by default, as the agents are POSIX shell) with the
    /// parameters as `OCF_RESKEY_*` and `env` added to this process's environment.
    public func run(_ action: String, _ parameters: [String: String] = [:], env extra: [String: String] = [:],
                    shell: String = "/bin/dash") throws -> (status: Int32, output: String)
    {
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in parameters { environment["OCF_RESKEY_" + k] = v }
        for (k, v) in extra { environment[k] = v }
        if environment["OCF_ROOT"] == nil { environment["OCF_ROOT"] = "/usr/lib/ocf" }
        return try runProgram(shell, [path, action], environment: environment)
    }

    /// The agent's meta-data, or an error with its output.
    public func metaData() throws -> String {
        let r = try run("meta-data")
        guard r.status == 0 else { throw HarnessError("\(name) meta-data exited \(r.status): \(r.output)") }
        return r.output
    }

    /// xmllint's verdicts on the meta-data: valid against the OCF 1.1 RelaxNG schema, valid
    /// against the OCF 1.0 DTD that the installed ocf-tester uses, and xmllint's messages.
    public func validateMetaData(in dir: String) throws -> (rng: Bool, dtd: Bool, output: String) {
        let file = dir + "/\(name)-meta-\(UInt32.random(in: 0...UInt32.max)).xml"
        try metaData().write(toFile: file, atomically: true, encoding: .utf8)
        defer { unlink(file) }
        let rng = try runProgram("/usr/bin/xmllint", ["--noout", "--relaxng", Self.rng, file])
        let dtd = try runProgram("/usr/bin/xmllint", ["--noout", "--dtdvalid", Self.dtd, file])
        return (rng.status == 0, dtd.status == 0, rng.output + dtd.output)
    }

    /// `ocf-tester -n NAME -o k=v ... AGENT`: (passed, output). ocf-tester runs the agent with
    /// `sh`; every action must succeed against the real service.
    public func ocfTester(_ parameters: [String: String], env extra: [String: String] = [:]) throws
        -> (passed: Bool, output: String)
    {
        var args = ["-n", "test-\(name)"]
        for (k, v) in parameters.sorted(by: { $0.key < $1.key }) { args += ["-o", "\(k)=\(v)"] }
        args.append(path)
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in extra { environment[k] = v }
        let r = try runProgram("/usr/sbin/ocf-tester", args, environment: environment)
        return (r.status == 0 && r.output.contains("passed all tests"), r.output)
    }
}

/// A fresh directory under the system's temporary directory; remove it with `remove()`.
public struct ScratchDirectory: Sendable {
    public let path: String
    public init(_ label: String) throws {
        path = NSTemporaryDirectory() + "meridian-\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    public func remove() { try? FileManager.default.removeItem(atPath: path) }
    public func file(_ name: String) -> String { path + "/" + name }
}

/// A 127.x address configured on `lo` for the life of a test: servers such as `named` listen
/// only on addresses an interface carries. Added with `ip addr add ADDR/32 dev lo` unless it is
/// already there; `remove()` deletes it only if this object added it.
public final class LoopbackAddress: @unchecked Sendable {
    public let address: String
    private var added = false

    public init(_ address: String) throws {
        self.address = address
        let show = try runProgram("/usr/sbin/ip", ["-o", "addr", "show", "dev", "lo"])
        if show.output.contains(" \(address)/") { return }
        let r = try runProgram("/usr/sbin/ip", ["addr", "add", "\(address)/32", "dev", "lo"])
        guard r.status == 0 else {
            throw HarnessError("could not add \(address) to lo (needs CAP_NET_ADMIN): \(r.output)")
        }
        added = true
    }

    public func remove() {
        if added { _ = try? runProgram("/usr/sbin/ip", ["addr", "del", "\(address)/32", "dev", "lo"]) }
        added = false
    }

    deinit { remove() }
}

/// Waits until a TCP connection to `host:port` succeeds; false after `timeout` seconds.
public func waitForTCP(_ host: String, _ port: UInt16, timeout: Double) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if canConnectTCP(host, port) { return true }
        usleep(100_000)
    }
    return false
}

/// One TCP connection attempt to an IPv4 `host:port`.
public func canConnectTCP(_ host: String, _ port: UInt16) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = port.bigEndian
    guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else { return false }
    return withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
}

/// Seconds taken by `body`, with its result.
public func timed<T>(_ body: () throws -> T) rethrows -> (seconds: Double, value: T) {
    let start = DispatchTime.now().uptimeNanoseconds
    let value = try body()
    return (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, value)
}
