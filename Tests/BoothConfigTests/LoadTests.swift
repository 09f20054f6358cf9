import Foundation
import Testing

@testable import BoothConfig

/// Loads a file that must fail, returning the error (or recording an issue).
func loadFailure(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) -> BoothConfigError? {
    do {
        let c = try BoothConfiguration.load(path: path)
        Issue.record("expected an error, got \(c)", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

@Suite("Loading files")
struct LoadTests {
    /// A fresh directory for one test, removed afterwards.
    static func withDirectory(_ body: (URL) throws -> Void) throws {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("booth-conf-tests-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try body(dir)
    }

    @Test("load reads and parses the file, and uses its path in messages")
    func loadsFile() throws {
        try Self.withDirectory { dir in
            let file = dir.appendingPathComponent("geo.conf")
            try Data(everyKey.utf8).write(to: file)
            let c = try BoothConfiguration.load(path: file.path)
            #expect(c == (try BoothConfiguration.parse(everyKey, path: file.path)))
            #expect(c.path == file.path)
            #expect(c.effectiveName == "geo1")

            try Data("site = 10.0.0.1\nticket = a b\n".utf8).write(to: file)
            let error = try #require(loadFailure(file.path))
            #expect(error.description.hasPrefix("\(file.path):2:11: error: "))
        }
    }

    @Test("a missing file names the path and how to fix it")
    func missingFile() throws {
        try Self.withDirectory { dir in
            let path = dir.appendingPathComponent("booth.conf").path
            let error = try #require(loadFailure(path))
            #expect(error.path == path)
            #expect(error.line == nil)
            #expect(error.message == "cannot read \(path): No such file or directory")
            #expect(error.fix.contains("give the right path"))
            #expect(error.description.hasPrefix("\(path): error: cannot read"))
        }
    }

    @Test("a directory is not a configuration file")
    func directory() throws {
        try Self.withDirectory { dir in
            let error = try #require(loadFailure(dir.path))
            #expect(error.line == nil)
            #expect(error.message.contains("cannot read \(dir.path)"))
            #expect(error.fix.contains("\(dir.path)/booth.conf"))
        }
    }

    @Test("bytes that are not UTF-8 are reported with their line")
    func notUTF8() throws {
        try Self.withDirectory { dir in
            let file = dir.appendingPathComponent("booth.conf")
            try Data(Array("site = 10.0.0.1\n# caf".utf8) + [0xE9] + Array("\nticket = t\n".utf8)).write(to: file)
            let error = try #require(loadFailure(file.path))
            #expect(error.line == 2)
            #expect(error.message == "the file is not valid UTF-8 text")
            #expect(error.fix.contains("line 2"))
        }
    }

    @Test("an empty file is read, then rejected for having no site")
    func emptyFile() throws {
        try Self.withDirectory { dir in
            let file = dir.appendingPathComponent("booth.conf")
            try Data().write(to: file)
            let error = try #require(loadFailure(file.path))
            #expect(error.line == 1)
            #expect(error.message.contains("no site"))
        }
    }
}
