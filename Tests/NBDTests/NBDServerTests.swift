import Foundation
import NBD
import ProcessTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A plain file export for the tests (the daemon's export is the replicated volume).
final class FileExport: NBDExport, @unchecked Sendable {
    let fd: Int32
    let size: UInt64
    let isReadOnly: Bool
    let refusal: NBDError?
    var name: String { "test" }
    var exportDescription: String { "a test file" }
    var allowsMultipleConnections: Bool { true }

    init(path: String, size: UInt64, readOnly: Bool = false, refusal: NBDError? = nil) {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        _ = truncate(path, off_t(size))
        fd = open(path, O_RDWR)
        self.size = size
        isReadOnly = readOnly
        self.refusal = refusal
    }
    deinit { close(fd) }

    func submit(_ request: NBDRequest, reply: NBDReply) {
        switch request.kind {
        case .read:
            let buffer = reply.allocateReadBuffer()
            _ = pread(fd, buffer.bytes.baseAddress, buffer.count, off_t(request.offset))
            reply.succeed(data: buffer)
        case .write:
            let payload = request.payload!
            _ = pwrite(fd, payload.bytes.baseAddress, payload.count, off_t(request.offset))
            // Answer from another thread, as the replicated volume does for protocol C.
            Thread.detachNewThread { reply.succeed() }
        case .flush:
            fsync(fd)
            reply.succeed()
        case .trim, .writeZeroes:
            let zeroes = [UInt8](repeating: 0, count: Int(request.length))
            _ = zeroes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(request.offset)) }
            reply.succeed()
        case .cache, .disconnect:
            reply.succeed()
        }
    }
    func clientOpened() -> NBDError? { refusal }
    func clientClosed() {}
}

@Suite(.serialized) struct NBDServerTests {
    let dir = NSTemporaryDirectory() + "nbd-test-\(UInt32.random(in: 0...UInt32.max))"

    func serve(size: UInt64 = 64 << 20, readOnly: Bool = false, refusal: NBDError? = nil) throws -> (NBDServer, String) {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let export = FileExport(path: dir + "/backing.img", size: size, readOnly: readOnly, refusal: refusal)
        let server = NBDServer(socketPath: dir + "/s.nbd", export: export, log: { _ in })
        try server.start()
        return (server, "nbd+unix:///?socket=\(dir)/s.nbd")
    }

    @Test func nbdinfoSeesSizeFlagsAndBlockSizes() throws {
        let (server, uri) = try serve()
        defer { server.stop(); try? FileManager.default.removeItem(atPath: dir) }
        let info = try runProgram("/usr/bin/nbdinfo", ["--json", uri])
        #expect(info.status == 0, "\(info.output)")
        #expect(info.output.contains("\"export-size\": 67108864"))
        #expect(info.output.contains("\"block_size_preferred\": 4096"))
        #expect(info.output.contains("\"can_multi_conn\": true"))
        #expect(info.output.contains("\"is_read_only\": false"))
        let list = try runProgram("/usr/bin/nbdinfo", ["--list", uri])
        #expect(list.status == 0 && list.output.contains("export=\"test\""), "\(list.output)")
    }

    @Test func nbdcopyRoundTripWithManyRequestsInFlight() throws {
        let (server, uri) = try serve()
        defer { server.stop(); try? FileManager.default.removeItem(atPath: dir) }
        let source = dir + "/source.bin", back = dir + "/back.bin"
        _ = try runProgram("/bin/sh", ["-c", "head -c 67108864 /dev/urandom > \(source)"])
        let copy = try runProgram("/usr/bin/nbdcopy", ["--connections=4", "--requests=64", source, uri])
        #expect(copy.status == 0, "\(copy.output)")
        let out = try runProgram("/usr/bin/nbdcopy", [uri, back])
        #expect(out.status == 0, "\(out.output)")
        let sums = try runProgram("/bin/sh", ["-c", "sha256sum < \(source); sha256sum < \(back)"])
        let lines = sums.output.split(separator: "\n")
        #expect(lines.count == 2 && lines[0] == lines[1])
    }

    @Test func readOnlyRefusesWritesAndRefusedClientsGetTheReason() throws {
        let (server, uri) = try serve(readOnly: true)
        let write = try runProgram("/bin/sh", ["-c", "head -c 4096 /dev/zero | nbdcopy - '\(uri)'"])
        #expect(write.status != 0)
        server.stop()
        let (refusing, uri2) = try serve(refusal: .permissionDenied("r0/0 is Secondary: only a Primary serves I/O"))
        defer { refusing.stop(); try? FileManager.default.removeItem(atPath: dir) }
        let info = try runProgram("/usr/bin/nbdinfo", [uri2])
        // libnbd reports the refusal of OPT_GO (the server's text goes to the daemon's log).
        #expect(info.status != 0 && info.output.contains("opt_go"), "\(info.output)")
    }

    @Test func fioVerifiesRandomWrites() throws {
        let (server, uri) = try serve()
        defer { server.stop(); try? FileManager.default.removeItem(atPath: dir) }
        let fio = try runProgram("/usr/bin/fio", ["--name=v", "--ioengine=nbd", "--uri=\(uri)", "--rw=randwrite", "--bs=4k",
                                                  "--size=16M", "--iodepth=16", "--verify=crc32c", "--do_verify=1",
                                                  "--verify_state_save=0"])
        #expect(fio.status == 0, "\(fio.output)")
    }

    /// A raw client that breaks the protocol: the server answers per spec and keeps serving.
    @Test func malformedClientsDoNotHurtTheServer() throws {
        let (server, uri) = try serve()
        defer { server.stop(); try? FileManager.default.removeItem(atPath: dir) }
        let script = """
            import socket, struct
            def recvall(s, n):
                data = b""
                while len(data) < n:
                    chunk = s.recv(n - len(data))
                    if not chunk: return data
                    data += chunk
                return data
            def reply(s):
                magic, opt, typ, ln = struct.unpack(">QIII", recvall(s, 20))
                recvall(s, ln)
                return typ
            s = socket.socket(socket.AF_UNIX); s.connect("\(dir)/s.nbd")
            assert recvall(s, 18)[:8] == b"NBDMAGIC"
            s.sendall(struct.pack(">I", 3))
            s.sendall(b"IHAVEOPT" + struct.pack(">II", 99, 0))
            typ = reply(s); assert typ == 0x80000001, hex(typ)
            s.sendall(b"IHAVEOPT" + struct.pack(">II", 7, 8) + struct.pack(">I", 4) + b"nope")
            typ = reply(s); assert typ == 0x80000003, hex(typ)
            s.sendall(b"IHAVEOPT" + struct.pack(">II", 7, 10) + struct.pack(">I", 4) + b"nope" + struct.pack(">H", 0))
            typ = reply(s); assert typ == 0x80000006, hex(typ)
            s.sendall(b"IHAVEOPT" + struct.pack(">II", 7, 10) + struct.pack(">I", 4) + b"test" + struct.pack(">H", 0))
            while True:
                typ = reply(s)
                if typ == 1: break
            # Transmission: an unaligned read and an out-of-range write are answered with EINVAL.
            s.sendall(struct.pack(">IHHQQI", 0x25609513, 0, 0, 7, 1, 512))
            magic, err, cookie = struct.unpack(">IIQ", recvall(s, 16)); assert (err, cookie) == (22, 7), (err, cookie)
            s.sendall(struct.pack(">IHHQQI", 0x25609513, 0, 1, 8, 1 << 40, 512) + b"x" * 512)
            magic, err, cookie = struct.unpack(">IIQ", recvall(s, 16)); assert (err, cookie) == (22, 8), (err, cookie)
            s.sendall(struct.pack(">IHHQQI", 0x25609513, 0, 0, 9, 0, 512))
            magic, err, cookie = struct.unpack(">IIQ", recvall(s, 16)); assert (err, cookie) == (0, 9); recvall(s, 512)
            s.sendall(b"X" * 28)  # bad request magic: the server closes
            assert s.recv(1) == b""
            print("ok")
            """
        let raw = try runProgram("/usr/bin/python3", ["-c", script])
        #expect(raw.status == 0 && raw.output.contains("ok"), "\(raw.output)")
        let info = try runProgram("/usr/bin/nbdinfo", ["--size", uri])
        #expect(info.status == 0 && info.output.contains("67108864"))
    }
}
