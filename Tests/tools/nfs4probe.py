#!/usr/bin/env python3
"""A small NFSv4.0 client probe (RFC 7530, ONC RPC over TCP, AUTH_SYS), stdlib only.

Written for Meridian's nfs-server/nfs-export agent tests: there is no kernel NFS client on
the build machine. It speaks just enough NFSv4.0 to list a directory, read a file, open a
file with a client ID (to see the grace period) and reclaim an open after a server restart.

usage: nfs4probe.py HOST PORT null
       nfs4probe.py HOST PORT ls PATH
       nfs4probe.py HOST PORT cat PATH
       nfs4probe.py HOST PORT open PATH CLIENT-ID       (CLAIM_NULL: exit 3 on NFS4ERR_GRACE)
       nfs4probe.py HOST PORT reclaim PATH CLIENT-ID    (CLAIM_PREVIOUS after a restart)

Exit codes: 0 success, 1 an NFS error (its name on stderr), 2 usage, 3 NFS4ERR_GRACE,
4 no answer / not an NFS server.
"""
import os
import socket
import struct
import sys

NFS_PROGRAM, NFS_V4 = 100003, 4
OP = {"ACCESS": 3, "CLOSE": 4, "GETATTR": 9, "GETFH": 10, "LOOKUP": 15, "OPEN": 18, "OPEN_CONFIRM": 20,
      "PUTFH": 22, "PUTROOTFH": 24, "READ": 25, "READDIR": 26, "RENEW": 30, "SETCLIENTID": 35,
      "SETCLIENTID_CONFIRM": 36}
ERRORS = {0: "NFS4_OK", 1: "NFS4ERR_PERM", 2: "NFS4ERR_NOENT", 13: "NFS4ERR_ACCESS", 20: "NFS4ERR_NOTDIR",
          10001: "NFS4ERR_BADHANDLE", 10008: "NFS4ERR_DELAY", 10011: "NFS4ERR_EXPIRED", 10013: "NFS4ERR_GRACE",
          10014: "NFS4ERR_FHEXPIRED", 10016: "NFS4ERR_WRONGSEC", 10017: "NFS4ERR_CLID_INUSE",
          10020: "NFS4ERR_NOFILEHANDLE", 10022: "NFS4ERR_STALE_CLIENTID", 10023: "NFS4ERR_STALE_STATEID",
          10025: "NFS4ERR_BAD_STATEID", 10026: "NFS4ERR_BAD_SEQID", 10033: "NFS4ERR_NO_GRACE",
          10034: "NFS4ERR_RECLAIM_BAD", 10035: "NFS4ERR_RECLAIM_CONFLICT", 10038: "NFS4ERR_OLD_STATEID"}
NFS4ERR_GRACE = 10013


class ProbeError(Exception):
    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


class NFSError(ProbeError):
    def __init__(self, op, status):
        super().__init__(f"{op}: {ERRORS.get(status, f'error {status}')}", 3 if status == NFS4ERR_GRACE else 1)
        self.status = status


class Packer:
    def __init__(self):
        self.parts = []

    def u32(self, v):
        self.parts.append(struct.pack(">I", v))
        return self

    def u64(self, v):
        self.parts.append(struct.pack(">Q", v))
        return self

    def fixed(self, data):
        self.parts.append(data + b"\0" * (-len(data) % 4))
        return self

    def opaque(self, data):
        self.u32(len(data))
        return self.fixed(data)

    def string(self, text):
        return self.opaque(text.encode())

    def bytes(self):
        return b"".join(self.parts)


class Unpacker:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ProbeError(f"reply ends at byte {len(self.data)}, {n} more were expected at {self.pos}", 4)
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def u32(self):
        return struct.unpack(">I", self.take(4))[0]

    def u64(self):
        return struct.unpack(">Q", self.take(8))[0]

    def fixed(self, n):
        data = self.take(n)
        self.take(-n % 4)
        return data

    def opaque(self):
        return self.fixed(self.u32())

    def bitmap(self):
        return [self.u32() for _ in range(self.u32())]


class Client:
    def __init__(self, host, port, timeout=5.0):
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as e:
            raise ProbeError(f"cannot connect to {host}:{port}: {e}", 4)
        self.xid = int.from_bytes(os.urandom(4), "big")
        self.host = host

    def call(self, proc, body=b""):
        self.xid = (self.xid + 1) & 0xFFFFFFFF
        cred = Packer().u32(0).string("meridian-probe").u32(0).u32(0).u32(0).bytes()
        header = Packer().u32(self.xid).u32(0).u32(2).u32(NFS_PROGRAM).u32(NFS_V4).u32(proc)
        header.u32(1).opaque(cred).u32(0).opaque(b"")
        message = header.bytes() + body
        self.sock.sendall(struct.pack(">I", 0x80000000 | len(message)) + message)
        reply = b""
        while True:
            mark = struct.unpack(">I", self.recv(4))[0]
            reply += self.recv(mark & 0x7FFFFFFF)
            if mark & 0x80000000:
                break
        u = Unpacker(reply)
        if u.u32() != self.xid or u.u32() != 1:
            raise ProbeError("the reply does not match the call (not an RPC server?)", 4)
        if u.u32() != 0:
            raise ProbeError("RPC call denied (authentication or version mismatch)", 4)
        u.u32(); u.opaque()  # verifier
        accept = u.u32()
        if accept != 0:
            raise ProbeError(f"RPC call not accepted: accept_stat {accept} (2 = program unavailable: no NFSv4 here)", 4)
        return u

    def recv(self, n):
        data = b""
        while len(data) < n:
            try:
                chunk = self.sock.recv(n - len(data))
            except socket.timeout:
                raise ProbeError("no answer in time", 4)
            if not chunk:
                raise ProbeError("the server closed the connection", 4)
            data += chunk
        return data

    def compound(self, ops):
        """ops: list of (name, argument bytes). Returns an Unpacker positioned after the
        header with the per-op results; raises NFSError at the first failing op."""
        p = Packer().string("probe").u32(0).u32(len(ops))
        for name, arg in ops:
            p.u32(OP[name]).fixed(arg) if arg else p.u32(OP[name])
        u = self.call(1, p.bytes())
        status = u.u32()
        u.opaque()  # tag
        count = u.u32()
        return status, count, u

    @staticmethod
    def result(u, name):
        op, status = u.u32(), u.u32()
        if op != OP[name]:
            raise ProbeError(f"expected the result of {name}, got op {op}", 4)
        if status != 0:
            raise NFSError(name, status)


def path_ops(path):
    ops = [("PUTROOTFH", b"")]
    for part in [p for p in path.split("/") if p]:
        ops.append(("LOOKUP", Packer().string(part).bytes()))
    return ops


def skip_path_results(u, path):
    Client.result(u, "PUTROOTFH")
    for _ in [p for p in path.split("/") if p]:
        Client.result(u, "LOOKUP")


def cmd_ls(c, path):
    # READDIR: cookie 0, verifier 0, dircount, maxcount, attr request: none.
    readdir = Packer().u64(0).fixed(b"\0" * 8).u32(8192).u32(32768).u32(0).bytes()
    _, _, u = c.compound(path_ops(path) + [("READDIR", readdir)])
    skip_path_results(u, path)
    Client.result(u, "READDIR")
    u.fixed(8)
    names = []
    while u.u32():
        u.u64()
        names.append(u.opaque().decode())
        u.bitmap(); u.opaque()
    for name in sorted(names):
        print(name)


def cmd_cat(c, path):
    offset, out = 0, b""
    while True:
        # The anonymous stateid (all zeros) reads without an OPEN (RFC 7530 §9.1.4.3).
        read = Packer().u32(0).fixed(b"\0" * 12).u64(offset).u32(65536).bytes()
        _, _, u = c.compound(path_ops(path) + [("READ", read)])
        skip_path_results(u, path)
        Client.result(u, "READ")
        eof = u.u32()
        data = u.opaque()
        out += data
        offset += len(data)
        if eof or not data:
            break
    sys.stdout.buffer.write(out)


def establish_client(c, client_id):
    verifier = os.urandom(8)
    callback = Packer().u32(0x40000000).string("tcp").string("127.0.0.1.0.0").u32(1).bytes()
    arg = Packer().fixed(verifier).string(client_id).bytes() + callback
    _, _, u = c.compound([("SETCLIENTID", arg)])
    Client.result(u, "SETCLIENTID")
    clientid = u.u64()
    confirm = u.fixed(8)
    _, _, u = c.compound([("SETCLIENTID_CONFIRM", Packer().u64(clientid).fixed(confirm).bytes())])
    Client.result(u, "SETCLIENTID_CONFIRM")
    return clientid


def open_args(clientid, owner, claim):
    # seqid 0, share READ, deny NONE, owner (clientid, owner), OPEN4_NOCREATE, claim.
    return Packer().u32(0).u32(1).u32(0).u64(clientid).opaque(owner).u32(0).bytes() + claim


def finish_open(c, u):
    stateid = u.fixed(16)
    u.u32(); u.u64(); u.u64()  # change_info
    rflags = u.u32()
    u.bitmap()
    if u.u32() != 0:
        pass  # a delegation: not used
    Client.result(u, "GETFH")
    fh = u.opaque()
    if rflags & 2:  # OPEN4_RESULT_CONFIRM
        arg = Packer().fixed(stateid).u32(1).bytes()
        _, _, u = c.compound([("PUTFH", Packer().opaque(fh).bytes()), ("OPEN_CONFIRM", arg)])
        Client.result(u, "PUTFH")
        Client.result(u, "OPEN_CONFIRM")
    return fh


def cmd_open(c, path, client_id):
    directory, _, name = path.rstrip("/").rpartition("/")
    clientid = establish_client(c, client_id)
    claim = Packer().u32(0).string(name).bytes()  # CLAIM_NULL
    _, _, u = c.compound(path_ops(directory) + [("OPEN", open_args(clientid, b"probe-owner", claim)), ("GETFH", b"")])
    skip_path_results(u, directory)
    Client.result(u, "OPEN")
    finish_open(c, u)
    print(f"opened {path} as client {client_id}")


def cmd_reclaim(c, path, client_id):
    clientid = establish_client(c, client_id)
    # The file handle (a LOOKUP is allowed during grace), then OPEN CLAIM_PREVIOUS on it.
    _, _, u = c.compound(path_ops(path) + [("GETFH", b"")])
    skip_path_results(u, path)
    Client.result(u, "GETFH")
    fh = u.opaque()
    claim = Packer().u32(1).u32(0).bytes()  # CLAIM_PREVIOUS, delegate type NONE
    _, _, u = c.compound([("PUTFH", Packer().opaque(fh).bytes()),
                          ("OPEN", open_args(clientid, b"probe-owner", claim)), ("GETFH", b"")])
    Client.result(u, "PUTFH")
    Client.result(u, "OPEN")
    finish_open(c, u)
    print(f"reclaimed {path} as client {client_id}")


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    host, port, command, args = argv[1], int(argv[2]), argv[3], argv[4:]
    try:
        c = Client(host, port)
        if command == "null":
            c.call(0)
            print("NULL answered")
        elif command == "ls" and len(args) == 1:
            cmd_ls(c, args[0])
        elif command == "cat" and len(args) == 1:
            cmd_cat(c, args[0])
        elif command == "open" and len(args) == 2:
            cmd_open(c, args[0], args[1])
        elif command == "reclaim" and len(args) == 2:
            cmd_reclaim(c, args[0], args[1])
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except ProbeError as e:
        print(f"nfs4probe: {host}:{port}: {e}", file=sys.stderr)
        return e.code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
