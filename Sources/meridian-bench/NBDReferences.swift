import ArgumentParser
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Reference servers measured in the same run as the replicas, so a missed target can be told
/// apart from a slow machine: what the NBD transport costs with no storage behind it (nbdkit's
/// memory plugin), and what the least possible mirroring NBD server costs (a C probe).
typealias Measured = (latency: Double, bandwidth: Double)

/// Runs `measure` against `nbdkit memory` on a Unix socket in `directory`, after one untimed
/// pass that makes the plugin allocate its pages. Returns nil, and says so, when nbdkit is not
/// installed: the reference row is then left out.
func nbdkitReference(directory: String, sizeBytes: UInt64, pinCpu: Int?,
                     _ measure: (String) throws -> Measured) throws -> Measured? {
    guard let nbdkit = ["/usr/sbin/nbdkit", "/usr/bin/nbdkit"].first(where: { FileManager.default.isExecutableFile(atPath: $0) })
    else {
        print("nbdkit not installed (scripts/bootstrap installs it): the NBD transport reference is left out")
        return nil
    }
    let socket = directory + "/nbdkit-reference.sock"
    let server = try ReferenceProcess([nbdkit, "--foreground", "--exit-with-parent", "--unix", socket, "memory", "size=\(sizeBytes)"],
                                      pinCpu: pinCpu)
    defer { server.stop(); try? FileManager.default.removeItem(atPath: socket) }
    try server.waitFor(path: socket)
    let uri = "nbd+unix:///?socket=\(socket)"
    _ = try runFio(["--ioengine=nbd", "--uri=\(uri)", "--iodepth=8", "--rw=write", "--bs=1M", "--size=\(sizeBytes)"])
    return try measure(uri)
}

/// Runs `measure(uri without peer, uri mirroring)` against the C probe below: `primaryFile` in
/// the Primary's directory, a peer file of the same size in `peerDirectory`. Returns nil, and
/// says so, when no C compiler is installed.
func mirrorProbeReference(directory: String, peerDirectory: String, primaryFile: String, sizeBytes: UInt64,
                          pinCpu: Int?, _ measure: (String) throws -> Double) throws -> (alone: Double, mirrored: Double)? {
    guard let cc = ["/usr/bin/cc", "/usr/bin/gcc"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        print("no C compiler (cc): the mirroring probe reference is left out")
        return nil
    }
    let source = directory + "/mirror-probe.c", binary = directory + "/mirror-probe"
    try mirrorProbeSource.write(toFile: source, atomically: true, encoding: .utf8)
    let compile = try ReferenceProcess([cc, "-O2", "-o", binary, source], pinCpu: nil)
    compile.process.waitUntilExit()
    guard compile.process.terminationStatus == 0 else { throw ValidationError("\(cc) could not compile \(source)") }
    let peerFile = peerDirectory + "/mirror-probe-peer.img"
    try writeZeros(path: peerFile, bytes: sizeBytes)
    defer { for path in [source, binary, peerFile] { try? FileManager.default.removeItem(atPath: path) } }

    let socket = directory + "/mirror-probe.sock"
    let uri = "nbd+unix:///?socket=\(socket)"
    let alone: Double
    do {
        let server = try ReferenceProcess([binary, "serve", primaryFile, socket], pinCpu: pinCpu)
        defer { server.stop() }
        try server.waitFor(path: socket)
        alone = try measure(uri)
    }
    try? FileManager.default.removeItem(atPath: socket)
    let peer = try ReferenceProcess([binary, "peer", peerFile, "7791"], pinCpu: pinCpu)
    defer { peer.stop() }
    usleep(200_000)
    let server = try ReferenceProcess([binary, "serve", primaryFile, socket, "7791"], pinCpu: pinCpu)
    defer { server.stop(); try? FileManager.default.removeItem(atPath: socket) }
    try server.waitFor(path: socket)
    return (alone, try measure(uri))
}

/// A reference server's process, pinned with taskset like the fio runs when asked.
final class ReferenceProcess {
    let process = Process()

    init(_ command: [String], pinCpu: Int?) throws {
        if let pinCpu {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/taskset")
            process.arguments = ["--cpu-list", String(pinCpu)] + command
        } else {
            process.executableURL = URL(fileURLWithPath: command[0])
            process.arguments = Array(command.dropFirst())
        }
        try process.run()
    }

    func waitFor(path: String) throws {
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: path) {
            guard process.isRunning, Date() < deadline else {
                throw ValidationError("\(process.arguments?.joined(separator: " ") ?? "") did not create \(path) within 10 s")
            }
            usleep(20_000)
        }
    }

    /// Stops the server and the per-client processes it forked (same process group).
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
    }
}

/// The C probe (written to the bench directory and compiled with `cc -O2` at run time, so the
/// reference is built on the machine it measures).
let mirrorProbeSource = #"""
/* meridian-bench's reference for the 4 KiB QD1 write latency: the least an NBD server that
 * mirrors to a peer can do. One thread, blocking I/O, no locks, no metadata, no checks:
 *   probe serve FILE SOCKET [PORT]   NBD on SOCKET (fixed newstyle, OPT_GO/OPT_INFO, simple
 *                                    replies), O_DIRECT writes to FILE; with PORT each write is
 *                                    sent to the peer first and answered after the peer's ack
 *   probe peer FILE PORT             the peer on 127.0.91.2:PORT: write, then ack
 * It is a yardstick, not a replica: no ordering, recovery or failure handling. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

static void die(const char *what) { perror(what); exit(1); }

/* Reads exactly n bytes; the connection's end ends this process (one process per client). */
static void get(int fd, void *buffer, size_t n) {
    char *p = buffer;
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r <= 0) exit(0);
        p += r; n -= (size_t)r;
    }
}

static void put(int fd, const void *buffer, size_t n) {
    const char *p = buffer;
    while (n > 0) {
        ssize_t r = write(fd, p, n);
        if (r <= 0) die("write");
        p += r; n -= (size_t)r;
    }
}

static void option_reply(int c, uint32_t option, uint32_t type, const void *data, uint32_t length) {
    struct __attribute__((packed)) { uint64_t magic; uint32_t option, type, length; } h = {
        htobe64(0x3e889045565a9ULL), htobe32(option), htobe32(type), htobe32(length) };
    put(c, &h, sizeof h);
    if (length) put(c, data, length);
}

static struct sockaddr_in peer_address(const char *port) {
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };
    inet_pton(AF_INET, "127.0.91.2", &a.sin_addr);
    return a;
}

static int open_direct(const char *path) {
    int fd = open(path, O_RDWR | O_DIRECT);
    if (fd < 0) die(path);
    return fd;
}

static void *aligned_buffer(void) {
    void *buffer;
    if (posix_memalign(&buffer, 4096, 32 << 20)) die("posix_memalign");
    return buffer;
}

static int peer(const char *path, const char *port) {
    int fd = open_direct(path), one = 1;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = peer_address(port);
    if (bind(listener, (void *)&a, sizeof a) || listen(listener, 4)) die("peer bind");
    char *buffer = aligned_buffer();
    for (;;) {
        int c = accept(listener, NULL, NULL);
        if (c < 0) continue;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (fork() == 0) {
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            for (;;) {
                uint64_t h[2];
                get(c, h, sizeof h);
                if (h[1] > (32 << 20)) exit(1);
                get(c, buffer, h[1]);
                if (pwrite(fd, buffer, h[1], (off_t)h[0]) != (ssize_t)h[1]) die("peer pwrite");
                put(c, &h[0], 8);
            }
        }
        close(c);
    }
}

static int serve(const char *path, const char *socket_path, const char *port) {
    int fd = open_direct(path);
    uint64_t size = (uint64_t)lseek(fd, 0, SEEK_END);
    int listener = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un u = { .sun_family = AF_UNIX };
    strncpy(u.sun_path, socket_path, sizeof u.sun_path - 1);
    unlink(socket_path);
    if (bind(listener, (void *)&u, sizeof u) || listen(listener, 4)) die("bind");
    signal(SIGCHLD, SIG_IGN);
    int c;
    for (;;) {
        c = accept(listener, NULL, NULL);
        if (c >= 0 && fork() == 0) { prctl(PR_SET_PDEATHSIG, SIGTERM); break; }
        close(c);
    }
    int link = -1, one = 1;
    if (port) {
        struct sockaddr_in a = peer_address(port);
        link = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(link, (void *)&a, sizeof a)) die("connect to the peer");
        setsockopt(link, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    char *buffer = aligned_buffer();
    /* Handshake: fixed newstyle; every option but GO and INFO is unsupported. */
    put(c, "NBDMAGICIHAVEOPT", 16);
    uint16_t server_flags = htobe16(1 | 2);
    put(c, &server_flags, 2);
    uint32_t client_flags;
    get(c, &client_flags, 4);
    for (int go = 0; !go;) {
        struct __attribute__((packed)) { uint64_t magic; uint32_t option, length; } o;
        get(c, &o, sizeof o);
        uint32_t option = be32toh(o.option), length = be32toh(o.length);
        if (length > 4096) exit(1);
        get(c, buffer, length);
        if (option == 6 || option == 7) {
            struct __attribute__((packed)) { uint16_t type; uint64_t size; uint16_t flags; } info = {
                0, htobe64(size), htobe16(1 | 4 | 8) };
            option_reply(c, option, 3, &info, sizeof info);
            option_reply(c, option, 1, NULL, 0);
            go = option == 7;
        } else {
            option_reply(c, option, 0x80000001u, NULL, 0);
        }
    }
    /* Transmission: READ, WRITE, FLUSH, DISC. */
    for (;;) {
        struct __attribute__((packed)) { uint32_t magic; uint16_t flags, type; uint64_t cookie, offset; uint32_t length; } r;
        get(c, &r, sizeof r);
        uint16_t type = be16toh(r.type);
        uint64_t offset = be64toh(r.offset), length = be32toh(r.length);
        if (type == 2) exit(0);
        if (length > (32 << 20)) exit(1);
        if (type == 1) {
            get(c, buffer, length);
            if (link >= 0) {
                uint64_t h[2] = { offset, length };
                struct iovec v[2] = { { h, sizeof h }, { buffer, length } };
                if (writev(link, v, 2) != (ssize_t)(sizeof h + length)) die("send to the peer");
            }
            if (pwrite(fd, buffer, length, (off_t)offset) != (ssize_t)length) die("pwrite");
            if (link >= 0) { uint64_t ack; get(link, &ack, 8); }
        } else if (type == 3) {
            fdatasync(fd);
        } else if (type == 0) {
            if (pread(fd, buffer, length, (off_t)offset) != (ssize_t)length) die("pread");
        }
        struct __attribute__((packed)) { uint32_t magic, error; uint64_t cookie; } reply = {
            htobe32(0x67446698), 0, r.cookie };
        put(c, &reply, sizeof reply);
        if (type == 0) put(c, buffer, length);
    }
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "peer")) return peer(argv[2], argv[3]);
    if ((argc == 4 || argc == 5) && !strcmp(argv[1], "serve")) return serve(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
    fprintf(stderr, "usage: %s serve FILE SOCKET [PORT] | peer FILE PORT\n", argv[0]);
    return 2;
}
"""#
