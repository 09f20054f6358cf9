import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Finds the executables the process tests run: the build products directory of the test
/// bundle that is running now, so `swift test` (which builds every product first) always runs
/// the binaries it just built, whatever the scratch path (`.build`, `.build-rp`, ...).
///
/// Order: `MERIDIAN_PRODUCTS_DIR` (explicit override), the directory of this process's
/// executable (`/proc/self/exe`: `<scratch>/<triple>/debug/MeridianPackageTests.xctest`), the
/// directory of `Bundle.main`, then `<repo>/.build/debug` derived from `#filePath` (CI's default
/// scratch path). Never another engineer's `.build-*` directory: it may hold stale binaries.
public enum Products {
    public static let candidates: [String] = {
        var dirs: [String] = []
        if let d = ProcessInfo.processInfo.environment["MERIDIAN_PRODUCTS_DIR"], !d.isEmpty { dirs.append(d) }
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            dirs.append(containingDirectory(of: exe))
        }
        if let exe = Bundle.main.executablePath { dirs.append(containingDirectory(of: exe)) }
        dirs.append(Repository.root + "/.build/debug")
        var seen = Set<String>()
        return dirs.filter { seen.insert($0).inserted }
    }()

    /// The directory that holds the test bundle, walking out of an `.xctest` bundle directory
    /// (macOS layout) if needed.
    public static func containingDirectory(of path: String) -> String {
        var url = URL(fileURLWithPath: path).deletingLastPathComponent()
        while url.path.contains(".xctest") { url.deleteLastPathComponent() }
        return url.path
    }

    /// The path of an executable product, or an error that says how to build it.
    public static func path(_ name: String) throws -> String {
        for dir in candidates {
            let p = dir + "/" + name
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        throw HarnessError(
            "\(name) was not found in \(candidates.joined(separator: ", ")); "
                + "build it first: `swift build --product \(name)` (with the same --scratch-path as `swift test`), "
                + "or set MERIDIAN_PRODUCTS_DIR to the directory that holds it")
    }

    /// The path of an optional product (e.g. the `meridian` CLI), or nil.
    public static func optionalPath(_ name: String) -> String? { try? path(name) }
}

/// Paths of the repository this test file belongs to.
public enum Repository {
    /// `<repo>` from `<repo>/Tests/ProcessTestSupport/Products.swift`.
    public static let root: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// The shared folder with the booth peer's stub `crm_ticket`: `MERIDIAN_SHARED/peers/booth`,
    /// else `<repo>/../shared/peers/booth`.
    public static var boothPeerDirectory: String {
        let shared =
            ProcessInfo.processInfo.environment["MERIDIAN_SHARED"].flatMap { $0.isEmpty ? nil : $0 }
            ?? URL(fileURLWithPath: root).deletingLastPathComponent().appendingPathComponent("shared").path
        return shared + "/peers/booth"
    }
}

/// A failure of the test harness itself (a binary missing, a daemon that does not start, ...).
public struct HarnessError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Runs a program to completion; its exit status and combined standard output and error.
/// `environment` replaces this process's environment when given.
///
/// posix_spawn and waitpid rather than Foundation's `Process`: its `waitUntilExit` was seen to
/// hang on a child that had exited (left a zombie) when the child had started a daemon in a
/// new session (the mariadb agent's start).
public func runProgram(_ path: String, _ arguments: [String], environment: [String: String]? = nil) throws
    -> (status: Int32, output: String)
{
    var fds: [Int32] = [0, 0]
    guard pipe(&fds) == 0 else { throw HarnessError("pipe(): \(String(cString: strerror(errno)))") }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
    posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
    posix_spawn_file_actions_addclose(&actions, fds[0])
    posix_spawn_file_actions_addclose(&actions, fds[1])
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    let env = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        for a in argv { free(a) }
        for e in env { free(e) }
    }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, path, &actions, nil, argv, env)
    close(fds[1])
    guard rc == 0 else {
        close(fds[0])
        throw HarnessError("cannot run \(path): \(String(cString: strerror(rc)))")
    }
    var output: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
        if n > 0 { output += buffer[0..<n]; continue }
        if n < 0 && errno == EINTR { continue }
        break
    }
    close(fds[0])
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    // WIFEXITED / WEXITSTATUS, WTERMSIG as 128+n (as a shell reports a signal).
    let code: Int32 = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    return (code, String(decoding: output, as: UTF8.self))
}
