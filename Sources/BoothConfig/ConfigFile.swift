#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads a configuration file as UTF-8 text; the only I/O in this module.
enum ConfigFile {
    static func text(atPath path: String) throws(BoothConfigError) -> String {
        let fd = open(path, O_RDONLY)
        if fd < 0 { throw failure(path: path, errno: errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                let code = errno
                if code == EINTR { continue }
                throw failure(path: path, errno: code)
            }
            if count == 0 { break }
            bytes.append(contentsOf: buffer[0..<count])
        }
        return try decode(bytes, path: path)
    }

    /// Strict UTF-8 decoding that names the line of the first bad byte.
    static func decode(_ bytes: [UInt8], path: String) throws(BoothConfigError) -> String {
        var scalars = String.UnicodeScalarView()
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        var line = 1
        decoding: while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                if scalar == "\n" { line += 1 }
                scalars.append(scalar)
            case .emptyInput:
                break decoding
            case .error:
                throw BoothConfigError(
                    path: path, line: line, message: "the file is not valid UTF-8 text",
                    fix: "save the file as UTF-8 (or plain ASCII); check line \(line) for stray bytes")
            }
        }
        return String(scalars)
    }

    private static func failure(path: String, errno code: Int32) -> BoothConfigError {
        let reason = String(cString: strerror(code))
        let fix: String
        switch code {
        case ENOENT:
            fix = "create the file, or give the right path (booth's default is /etc/booth/booth.conf)"
        case EACCES, EPERM:
            fix = "make the file readable by the user running Meridian (e.g. `chmod 644 \(path)`), or run as that user"
        case EISDIR:
            fix = "give the path of the configuration file inside that directory, e.g. \(path)/booth.conf"
        default:
            fix = "check that \(path) exists and is a readable regular file"
        }
        return BoothConfigError(path: path, line: nil, message: "cannot read \(path): \(reason)", fix: fix)
    }
}
