import Foundation

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
public func runProgram(_ path: String, _ arguments: [String], environment: [String: String]? = nil) throws
    -> (status: Int32, output: String)
{
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = arguments
    if let environment { p.environment = environment }
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    p.standardInput = FileHandle.nullDevice
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}
