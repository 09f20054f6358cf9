#if canImport(Glibc)
    import Glibc
#endif

/// O_DIRECT and fallocate(2) are GNU extensions the Glibc module does not export.
let openDirect: Int32 = 0o40000  // O_DIRECT on x86_64 and aarch64 Linux
@_silgen_name("fallocate")
func c_fallocate(_ fd: Int32, _ mode: Int32, _ offset: Int, _ length: Int) -> Int32

/// An operating or user error of the storage layer: names the path, what failed and the fix.
public struct StorageError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var fix: String?
    public var description: String { "\(path): \(message)" + (fix.map { "\n  fix: \($0)" } ?? "") }
    public init(path: String, _ message: String, fix: String? = nil) {
        self.path = path
        self.message = message
        self.fix = fix
    }
    static func errno(_ path: String, _ what: String) -> StorageError {
        StorageError(path: path, "\(what): \(String(cString: strerror(Glibc.errno)))")
    }
}

/// A volume's backing file or block device, opened with O_DIRECT: every write completes at
/// the device, as DRBD's writes complete at its lower device. Buffers must be 4096-aligned
/// with lengths that are multiples of 512.
public final class BackingDevice: @unchecked Sendable {
    public let path: String
    public let fd: Int32
    /// Size of the file or device in bytes.
    public let rawSize: UInt64

    public init(path: String) throws(StorageError) {
        self.path = path
        let fd = open(path, O_RDWR | openDirect | O_CLOEXEC)
        guard fd >= 0 else {
            if Glibc.errno == EINVAL {
                throw StorageError(path: path, "the file system refuses O_DIRECT",
                                   fix: "put the backing file on a file system with direct I/O (ext4, xfs, tmpfs) or use a block device")
            }
            throw StorageError.errno(path, "cannot open the backing device")
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            close(fd)
            throw StorageError.errno(path, "fstat")
        }
        var size = UInt64(st.st_size)
        if (st.st_mode & S_IFMT) == S_IFBLK {
            var bytes: UInt64 = 0
            // BLKGETSIZE64 = _IOR(0x12, 114, size_t)
            guard ioctl(fd, 0x8008_1272, &bytes) == 0 else {
                close(fd)
                throw StorageError.errno(path, "BLKGETSIZE64")
            }
            size = bytes
        }
        self.fd = fd
        self.rawSize = size
    }

    deinit { close(fd) }

    private func checkAlignment(_ pointer: UnsafeRawPointer?, _ count: Int, _ offset: UInt64) {
        precondition(Int(bitPattern: pointer) % 4096 == 0 && count % 512 == 0 && offset % 512 == 0,
                     "O_DIRECT I/O needs a 4096-aligned buffer and 512-multiple length/offset: "
                         + "buffer \(String(describing: pointer)), length \(count), offset \(offset)")
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(StorageError) {
        checkAlignment(buffer.baseAddress, buffer.count, offset)
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if Glibc.errno == EINTR { continue }
                throw StorageError.errno(path, "read of \(buffer.count) bytes at \(offset)")
            }
            if n == 0 {
                // Past the end of a sparse/short file: zeroes.
                (buffer.baseAddress! + done).initializeMemory(as: UInt8.self, repeating: 0, count: buffer.count - done)
                return
            }
            done += n
        }
    }

    public func write(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws(StorageError) {
        checkAlignment(buffer.baseAddress, buffer.count, offset)
        var done = 0
        while done < buffer.count {
            let n = pwrite(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if Glibc.errno == EINTR { continue }
                throw StorageError.errno(path, "write of \(buffer.count) bytes at \(offset)")
            }
            done += n
        }
    }

    public func flush() throws(StorageError) {
        guard fdatasync(fd) == 0 else { throw StorageError.errno(path, "fdatasync") }
    }

    /// TRIM: punches a hole (reads return zeroes), falling back to writing zeroes.
    public func discard(offset: UInt64, length: UInt64) throws(StorageError) {
        if c_fallocate(fd, 0x02 | 0x01, Int(offset), Int(length)) == 0 { return }  // PUNCH_HOLE | KEEP_SIZE
        try writeZeroesByHand(offset: offset, length: length)
    }

    public func writeZeroes(offset: UInt64, length: UInt64) throws(StorageError) {
        if c_fallocate(fd, 0x10 | 0x01, Int(offset), Int(length)) == 0 { return }  // ZERO_RANGE | KEEP_SIZE
        try writeZeroesByHand(offset: offset, length: length)
    }

    private func writeZeroesByHand(offset: UInt64, length: UInt64) throws(StorageError) {
        let chunk = 1 << 20
        let zeroes = AlignedBuffer(capacity: chunk)
        var position = offset
        while position < offset + length {
            let n = Int(min(UInt64(chunk), offset + length - position))
            try write(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(zeroes.bytes)[0..<n]), at: position)
            position += UInt64(n)
        }
    }
}

/// A zeroed, 4096-aligned buffer for O_DIRECT I/O.
public final class AlignedBuffer: @unchecked Sendable {
    public let bytes: UnsafeMutableRawBufferPointer
    public init(capacity: Int) {
        var raw: UnsafeMutableRawPointer?
        precondition(posix_memalign(&raw, 4096, max(capacity, 4096)) == 0, "posix_memalign(\(capacity))")
        bytes = UnsafeMutableRawBufferPointer(start: raw, count: capacity)
        bytes.initializeMemory(as: UInt8.self, repeating: 0)
    }
    deinit { free(bytes.baseAddress) }
}
