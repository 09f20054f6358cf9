// How Pacemaker reads the small values in a CIB: booleans, intervals, roles, sort orders.

/// Pacemaker's booleans (`crm_str_to_boolean`): `true`, `on`, `yes`, `y`, `1` and
/// `false`, `off`, `no`, `n`, `0`, in any case; `nil` for anything else.
public func pacemakerBoolean(_ text: String?) -> Bool? {
    guard let text else { return nil }
    switch text.lowercased() {
    case "true", "on", "yes", "y", "1": return true
    case "false", "off", "no", "n", "0": return false
    default: return nil
    }
}

/// `crm_is_true`: true only for Pacemaker's spellings of true.
func isTrue(_ text: String?) -> Bool { pacemakerBoolean(text) == true }

/// Milliseconds of a Pacemaker time value (`crm_get_msec`): a number with an optional
/// unit (`ms`, `msec`, `us`, `usec`, `s`, `sec`, `m`, `min`, `h`, `hr`; seconds by
/// default), spaces allowed around the number; `nil` when it does not parse.
public func pacemakerMilliseconds(_ text: String?) -> Int? {
    guard let text else { return nil }
    let bytes = Array(text.utf8)
    let isSpace: (UInt8) -> Bool = { $0 == 32 || $0 == 9 || $0 == 10 || $0 == 13 || $0 == 12 }
    var index = 0
    while index < bytes.count, isSpace(bytes[index]) { index += 1 }
    let numberStart = index
    while index < bytes.count, (bytes[index] >= 48 && bytes[index] <= 57) || bytes[index] == 46 { index += 1 }
    guard index > numberStart else { return nil }
    // Like strtoll: the integer part only ("1.5s" is 1 s).
    var number = 0
    var overflow = false
    for byte in bytes[numberStart..<index] {
        if byte == 46 { break }
        if number > Int.max / 10 - 10 { overflow = true } else { number = number * 10 + Int(byte - 48) }
    }
    while index < bytes.count, isSpace(bytes[index]) { index += 1 }
    let unit = bytes[index...].prefix(2).map { $0 | 0x20 }
    var multiplier = 1000
    var divisor = 1
    if unit == [109, 115] {  // ms, msec
        multiplier = 1
    } else if unit == [117, 115] {  // us, usec
        multiplier = 1
        divisor = 1000
    } else if unit.first == 115 {  // s, sec
        multiplier = 1000
    } else if unit.first == 109 {  // m, min
        multiplier = 60_000
    } else if unit.first == 104 {  // h, hr
        multiplier = 3_600_000
    } else if let first = bytes[index...].first, first != 10, first != 13 {
        return nil
    }
    if overflow || number > Int.max / multiplier { return Int.max }
    return number * multiplier / divisor
}

/// Milliseconds of a Pacemaker interval specification (`crm_parse_interval_spec`): a
/// time value as in ``pacemakerMilliseconds(_:)`` or an ISO 8601 duration
/// (`P1DT2H`, `PT30S`, `P2W`; years count 365 days, months 30). `nil` when invalid;
/// an absent value is 0 in Pacemaker, callers decide.
public func pacemakerIntervalMilliseconds(_ text: String?) -> Int? {
    guard let text else { return nil }
    if text.hasPrefix("P") {
        return iso8601DurationSeconds(text).map { $0 * 1000 }
    }
    return pacemakerMilliseconds(text)
}

/// Seconds of an ISO 8601 duration as Pacemaker reads it; `nil` when invalid.
func iso8601DurationSeconds(_ text: String) -> Int? {
    var scalars = Array(text.unicodeScalars).dropFirst()
    guard let first = scalars.first, first != " " else { return nil }
    var isTime = false
    var seconds = 0
    var sawAmount = false
    while let current = scalars.first, current != "/", current != " " {
        if current == "T" {
            isTime = true
            scalars = scalars.dropFirst()
            continue
        }
        var number = 0
        var digits = 0
        while let digit = scalars.first, ("0"..."9").contains(digit) {
            number = number * 10 + Int(digit.value - 48)
            digits += 1
            scalars = scalars.dropFirst()
        }
        guard digits > 0, let unit = scalars.first else { return nil }
        scalars = scalars.dropFirst()
        sawAmount = true
        switch unit {
        case "Y": seconds += number * 365 * 86_400
        case "M": seconds += isTime ? number * 60 : number * 30 * 86_400
        case "W": seconds += number * 7 * 86_400
        case "D": seconds += number * 86_400
        case "H": seconds += number * 3600
        case "S": seconds += number
        default: return nil
        }
    }
    return sawAmount ? seconds : nil
}

/// Pacemaker's node-name order (`pcmk__numeric_strcasecmp`): runs of digits compare
/// as numbers (a longer run of equal value sorts later: `7 < 007`), everything else
/// compares case-insensitively. Returns -1, 0 or 1.
public func pacemakerNameCompare(_ lhs: String, _ rhs: String) -> Int {
    let a = Array(lhs.utf8)
    let b = Array(rhs.utf8)
    var i = 0
    var j = 0
    let isDigit: (UInt8) -> Bool = { $0 >= 48 && $0 <= 57 }
    while i < a.count && j < b.count {
        if isDigit(a[i]) && isDigit(b[j]) {
            var endA = i
            var endB = j
            var numberA = 0
            var numberB = 0
            while endA < a.count, isDigit(a[endA]) {
                numberA = numberA &* 10 &+ Int(a[endA] - 48)
                endA += 1
            }
            while endB < b.count, isDigit(b[endB]) {
                numberB = numberB &* 10 &+ Int(b[endB] - 48)
                endB += 1
            }
            if numberA != numberB { return numberA < numberB ? -1 : 1 }
            if endA - i != endB - j { return (endA - i) < (endB - j) ? -1 : 1 }
            i = endA
            j = endB
        } else {
            let lowerA = lowercaseASCII(a[i])
            let lowerB = lowercaseASCII(b[j])
            if lowerA != lowerB { return lowerA < lowerB ? -1 : 1 }
            i += 1
            j += 1
        }
    }
    if i >= a.count && j < b.count { return -1 }
    if i < a.count && j >= b.count { return 1 }
    return 0
}

private func lowercaseASCII(_ byte: UInt8) -> UInt8 {
    (byte >= 65 && byte <= 90) ? byte + 32 : byte
}

/// Case-insensitive ASCII equality, as Pacemaker's `pcmk__str_casei`.
func equalsIgnoringCase(_ lhs: String?, _ rhs: String?) -> Bool {
    guard let lhs, let rhs else { return lhs == nil && rhs == nil }
    return lhs.lowercased() == rhs.lowercased()
}

/// `strcasecmp` on UTF-8 bytes, for Pacemaker's string comparisons in rules.
func caseInsensitiveCompare(_ lhs: String, _ rhs: String) -> Int {
    let a = Array(lhs.utf8)
    let b = Array(rhs.utf8)
    for index in 0..<min(a.count, b.count) {
        let x = lowercaseASCII(a[index])
        let y = lowercaseASCII(b[index])
        if x != y { return x < y ? -1 : 1 }
    }
    return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
}

/// Sorts exactly as GLib's `g_list_sort` does (a top-down merge sort that splits
/// `n` elements into `n/2` and the rest and keeps the left element on ties).
///
/// Pacemaker sorts operation histories with a comparison that is not always a
/// strict weak order; reproducing GLib's algorithm, not just its stability, keeps
/// such histories in the order Pacemaker sees them.
public func glibSorted<T>(_ items: [T], by compare: (T, T) -> Int) -> [T] {
    guard items.count > 1 else { return items }
    let leftCount = items.count / 2
    let left = glibSorted(Array(items[..<leftCount]), by: compare)
    let right = glibSorted(Array(items[leftCount...]), by: compare)
    var merged: [T] = []
    merged.reserveCapacity(items.count)
    var i = 0
    var j = 0
    while i < left.count && j < right.count {
        if compare(left[i], right[j]) <= 0 {
            merged.append(left[i])
            i += 1
        } else {
            merged.append(right[j])
            j += 1
        }
    }
    merged.append(contentsOf: left[i...])
    merged.append(contentsOf: right[j...])
    return merged
}

/// Inserts `item` before the first element that does not sort before it, as
/// GLib's `g_list_insert_sorted` does.
func glibInsertSorted<T>(_ item: T, into items: inout [T], by compare: (T, T) -> Int) {
    let position = items.firstIndex { compare(item, $0) <= 0 } ?? items.endIndex
    items.insert(item, at: position)
}
