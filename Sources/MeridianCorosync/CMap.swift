// Corosync's configuration and runtime map (libcmap).
import CCorosync
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A value stored in cmap, with its cmap type.
public enum CMapValue: Sendable, Hashable, CustomStringConvertible {
    case int8(Int8), uint8(UInt8), int16(Int16), uint16(UInt16)
    case int32(Int32), uint32(UInt32), int64(Int64), uint64(UInt64)
    case float(Float), double(Double)
    case string(String)
    case binary([UInt8])

    /// The value as corosync-cmapctl prints it.
    public var description: String {
        switch self {
        case .int8(let value): return String(value)
        case .uint8(let value): return String(value)
        case .int16(let value): return String(value)
        case .uint16(let value): return String(value)
        case .int32(let value): return String(value)
        case .uint32(let value): return String(value)
        case .int64(let value): return String(value)
        case .uint64(let value): return String(value)
        case .float(let value): return String(value)
        case .double(let value): return String(value)
        case .string(let value): return value
        case .binary(let bytes): return bytes.map { String($0, radix: 16) }.joined(separator: " ")
        }
    }

    /// The value as an unsigned integer, if it is an integer that fits.
    public var unsignedValue: UInt64? {
        switch self {
        case .int8(let value): return UInt64(exactly: value)
        case .uint8(let value): return UInt64(value)
        case .int16(let value): return UInt64(exactly: value)
        case .uint16(let value): return UInt64(value)
        case .int32(let value): return UInt64(exactly: value)
        case .uint32(let value): return UInt64(value)
        case .int64(let value): return UInt64(exactly: value)
        case .uint64(let value): return value
        default: return nil
        }
    }
}

/// A connection to Corosync's cmap: the running configuration (`totem.cluster_name`,
/// `nodelist.node.0.ring0_addr`, ...) and runtime state (`runtime.votequorum.*`).
///
/// Invariant: the handle is valid from `init` until `deinit`, which finalises it;
/// every call on it is made under the connection's lock (`@unchecked Sendable`).
public final class CMapConnection: @unchecked Sendable {
    private let handle: Mutex<cmap_handle_t>

    /// Connects to the local corosync's cmap.
    ///
    /// - Throws: ``CorosyncError`` `.notRunning` when corosync is not running here.
    public init() throws(CorosyncError) {
        var handle: cmap_handle_t = 0
        try corosyncCall("cmap_initialize") { cmap_initialize(&handle) }
        self.handle = Mutex(handle)
    }

    deinit {
        handle.withLock { _ = cmap_finalize($0) }
    }

    /// The string value of `key`.
    ///
    /// - Throws: ``CorosyncError`` `.keyNotFound` when the key is not set,
    ///   `.invalidArgument` when it is not a string.
    public func string(_ key: String) throws(CorosyncError) -> String {
        let value = try self.value(key)
        guard case .string(let string) = value else {
            throw wrongType(key, expected: "string", actual: value)
        }
        return string
    }

    /// The unsigned integer value of `key` (any cmap integer type that fits in 32 bits).
    public func uint32(_ key: String) throws(CorosyncError) -> UInt32 {
        let value = try self.value(key)
        guard let unsigned = value.unsignedValue, let result = UInt32(exactly: unsigned) else {
            throw wrongType(key, expected: "unsigned 32-bit integer", actual: value)
        }
        return result
    }

    /// The unsigned integer value of `key` (any non-negative cmap integer).
    public func uint64(_ key: String) throws(CorosyncError) -> UInt64 {
        let value = try self.value(key)
        guard let unsigned = value.unsignedValue else {
            throw wrongType(key, expected: "unsigned integer", actual: value)
        }
        return unsigned
    }

    /// The value of `key` with its cmap type.
    public func value(_ key: String) throws(CorosyncError) -> CMapValue {
        try checkKey(key)
        return try handle.withLock { handle throws(CorosyncError) in
            var length = 0
            var type = cmap_value_types_t(rawValue: 0)
            try corosyncCall("cmap_get(\(key))", key: key) { cmap_get(handle, key, nil, &length, &type) }
            var buffer = [UInt8](repeating: 0, count: max(length, 1) + 1)
            var filled = length
            try corosyncCall("cmap_get(\(key))", key: key) {
                buffer.withUnsafeMutableBytes { cmap_get(handle, key, $0.baseAddress, &filled, &type) }
            }
            return decode(Array(buffer.prefix(filled)), type: type)
        }
    }

    /// Every key that starts with `prefix` (all keys for an empty prefix), in cmap's order.
    public func keys(prefix: String = "") throws(CorosyncError) -> [String] {
        try handle.withLock { handle throws(CorosyncError) in
            var iterator: cmap_iter_handle_t = 0
            try corosyncCall("cmap_iter_init(\(prefix))") {
                cmap_iter_init(handle, prefix.isEmpty ? nil : prefix, &iterator)
            }
            defer { _ = cmap_iter_finalize(handle, iterator) }
            var keys: [String] = []
            var name = [CChar](repeating: 0, count: Int(CMAP_KEYNAME_MAXLEN) + 1)
            while true {
                var length = 0
                var type = cmap_value_types_t(rawValue: 0)
                let result = cmap_iter_next(handle, iterator, &name, &length, &type)
                if result == CS_ERR_NO_SECTIONS { break }
                guard result == CS_OK else { throw CorosyncError(result, operation: "cmap_iter_next(\(prefix))") }
                keys.append(String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
            return keys
        }
    }

    private func checkKey(_ key: String) throws(CorosyncError) {
        guard !key.isEmpty, key.utf8.count <= Int(CMAP_KEYNAME_MAXLEN), !key.utf8.contains(0) else {
            throw CorosyncError(
                kind: .invalidArgument, operation: "cmap_get(\(key))", code: 0,
                message: "\"\(key)\" is not a cmap key name",
                hint: "use a dotted key of at most \(CMAP_KEYNAME_MAXLEN) characters, for example totem.cluster_name")
        }
    }

    private func wrongType(_ key: String, expected: String, actual: CMapValue) -> CorosyncError {
        CorosyncError(
            kind: .invalidArgument, operation: "cmap_get(\(key))", code: 0,
            message: "the value \(actual) of \(key) is not a \(expected)",
            hint: "read it with value(_:) and check its type (corosync-cmapctl \(key))")
    }
}

private func decode(_ bytes: [UInt8], type: cmap_value_types_t) -> CMapValue {
    func load<T: FixedWidthInteger>(_: T.Type) -> T {
        var value: T = 0
        withUnsafeMutableBytes(of: &value) { raw in
            raw.copyBytes(from: bytes.prefix(MemoryLayout<T>.size))
        }
        return value
    }
    switch type {
    case CMAP_VALUETYPE_INT8: return .int8(load(Int8.self))
    case CMAP_VALUETYPE_UINT8: return .uint8(load(UInt8.self))
    case CMAP_VALUETYPE_INT16: return .int16(load(Int16.self))
    case CMAP_VALUETYPE_UINT16: return .uint16(load(UInt16.self))
    case CMAP_VALUETYPE_INT32: return .int32(load(Int32.self))
    case CMAP_VALUETYPE_UINT32: return .uint32(load(UInt32.self))
    case CMAP_VALUETYPE_INT64: return .int64(load(Int64.self))
    case CMAP_VALUETYPE_UINT64: return .uint64(load(UInt64.self))
    case CMAP_VALUETYPE_FLOAT: return .float(Float(bitPattern: load(UInt32.self)))
    case CMAP_VALUETYPE_DOUBLE: return .double(Double(bitPattern: load(UInt64.self)))
    case CMAP_VALUETYPE_STRING:
        return .string(String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self))
    default:
        return .binary(bytes)
    }
}
