// swift-log handlers: through libqb, or plainly to a file descriptor.
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A swift-log handler that writes through libqb, so Meridian's lines look like corosync's
/// and Pacemaker's and go to the same targets (stderr, syslog, log files).
///
/// Each message becomes `[label] message key=value ...`; a message with several
/// lines, or longer than ``QBLog/maximumLineBytes``, becomes several log lines.
/// When libqb is not started (``QBLog/start(name:facility:)``) the handler writes
/// the same layout to stderr instead, so nothing is lost.
public struct QBLogHandler: LogHandler {
    /// The logger's label, shown in brackets before each message.
    public let label: String
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    /// Creates a handler for the logger `label`.
    public init(label: String, logLevel: Logger.Level = .info, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let lines = renderLines(
            label: label, event: event, handlerMetadata: metadata, provider: metadataProvider,
            maximumBytes: QBLog.maximumLineBytes)
        if !QBLog.write(level: event.level, lines: lines, function: event.function, file: event.file, line: event.line)
        {
            PlainLogHandler.emit(
                level: event.level, lines: lines, name: PlainLogHandler.processName, fileDescriptor: STDERR_FILENO)
        }
    }
}

/// A swift-log handler that writes lines in libqb's layout straight to a file
/// descriptor (stderr by default): the fallback when libqb is not wanted or not usable.
///
/// Each line is written with one `write(2)`, so lines of concurrent loggers do not mix.
public struct PlainLogHandler: LogHandler {
    /// The logger's label, shown in brackets before each message.
    public let label: String
    /// The program name shown in each line (libqb's `%N`).
    public let name: String
    /// Where lines go; the handler never closes it.
    public let fileDescriptor: Int32
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    /// Creates a handler for the logger `label` writing to `fileDescriptor`.
    public init(
        label: String, name: String = PlainLogHandler.processName, fileDescriptor: Int32 = STDERR_FILENO,
        logLevel: Logger.Level = .info, metadataProvider: Logger.MetadataProvider? = nil
    ) {
        self.label = label
        self.name = name
        self.fileDescriptor = fileDescriptor
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let lines = renderLines(
            label: label, event: event, handlerMetadata: metadata, provider: metadataProvider, maximumBytes: nil)
        Self.emit(level: event.level, lines: lines, name: name, fileDescriptor: fileDescriptor)
    }

    /// The program's name from argv[0], without directories.
    public static var processName: String {
        let path = CommandLine.arguments.first ?? "meridian"
        return path.split(separator: "/").last.map(String.init) ?? path
    }

    static func emit(level: Logger.Level, lines: [String], name: String, fileDescriptor: Int32) {
        let prefix = "\(timestamp()) [\(getpid())] \(hostName()) \(name) \(level.priorityName.padding(to: 7)) "
        for line in lines {
            var bytes = Array((prefix + line + "\n").utf8)
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeMutableBytes { raw in
                    write(fileDescriptor, raw.baseAddress! + offset, raw.count - offset)
                }
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { return }
                offset += written
            }
        }
    }

    /// `Nov 22 04:14:31.123`, local time, like libqb's `%T`.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        localtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let count = strftime(&buffer, buffer.count, "%b %d %H:%M:%S", &parts)
        let milliseconds = now.tv_nsec / 1_000_000
        let stamp = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return stamp + "." + String(milliseconds).padding(to: 3, with: "0", leading: true)
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Turns an event into log lines: `[label] message key=value ... error=...`, split at
/// newlines and, if `maximumBytes` is given, at that many bytes.
func renderLines(
    label: String, event: LogEvent, handlerMetadata: Logger.Metadata, provider: Logger.MetadataProvider?,
    maximumBytes: Int?
) -> [String] {
    var merged = handlerMetadata
    if let provided = provider?.get() { merged.merge(provided) { _, new in new } }
    if let eventMetadata = event.metadata { merged.merge(eventMetadata) { _, new in new } }
    var text = event.message.description
    if !merged.isEmpty {
        text += " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }
    if let error = event.error {
        text += " error=\(error)"
    }
    let prefix = "[\(label)] "
    var lines: [String] = []
    // Character-wise, "\r\n" is one newline character: split on any newline.
    for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
        guard let maximumBytes, line.utf8.count > maximumBytes else {
            lines.append(prefix + line)
            continue
        }
        var chunk = ""
        var chunkBytes = 0
        for character in line {
            let size = character.utf8.count
            if chunkBytes + size > maximumBytes && !chunk.isEmpty {
                lines.append(prefix + chunk)
                chunk = ""
                chunkBytes = 0
            }
            chunk.append(character)
            chunkBytes += size
        }
        if !chunk.isEmpty { lines.append(prefix + chunk) }
    }
    return lines
}

extension String {
    fileprivate func padding(to width: Int, with pad: Character = " ", leading: Bool = false) -> String {
        guard count < width else { return self }
        let fill = String(repeating: pad, count: width - count)
        return leading ? fill + self : self + fill
    }
}
