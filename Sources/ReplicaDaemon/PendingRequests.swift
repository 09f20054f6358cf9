import NBD

/// One application request on a Primary that waits for its local and its peer half: a write
/// (data, TRIM, WRITE_ZEROES) or a flush. The NBD reply is sent by whichever thread completes
/// the second half, so a protocol C write costs no extra thread hand-off.
///
/// Invariant: `localDone` and `peerDone` only go from false to true, under the volume lock;
/// the request is answered exactly once, after both are true.
final class PendingRequest: @unchecked Sendable {
    let reply: NBDReply
    let offset: UInt64
    let length: UInt64
    let isFlush: Bool
    /// Keeps the payload alive until the send and the local write are done.
    let payload: NBDBuffer?
    var localDone = false
    var peerDone = false
    var localError: NBDError?
    /// Set when the peer answered with a write error or the link dropped before the answer.
    var peerFailed = false
    /// The link dropped before the peer's answer while I/O is suspended for fencing: the
    /// request is answered only when I/O resumes (never on the local half alone before that).
    var heldForFencing = false
    var answered = false

    init(reply: NBDReply, offset: UInt64, length: UInt64, isFlush: Bool, payload: NBDBuffer?) {
        self.reply = reply
        self.offset = offset
        self.length = length
        self.isFlush = isFlush
        self.payload = payload
    }

    var isComplete: Bool { localDone && peerDone }

    /// Sends the NBD reply; call outside the volume lock.
    func answer() {
        if let localError {
            reply.fail(localError)
        } else {
            reply.succeed()
        }
    }
}

/// Byte ranges that must not be touched by two parties at once on a SyncSource: a resync read
/// and an application write of the same blocks must reach the peer in the order they happened
/// locally, or an old resync block could overwrite a newer mirrored write.
struct ActiveRanges {
    private var ranges: [UInt64: Range<UInt64>] = [:]
    private var nextID: UInt64 = 0

    mutating func insert(_ range: Range<UInt64>) -> UInt64 {
        nextID += 1
        ranges[nextID] = range
        return nextID
    }

    mutating func remove(_ id: UInt64) { ranges[id] = nil }

    func overlaps(_ range: Range<UInt64>) -> Bool {
        ranges.values.contains { $0.overlaps(range) }
    }

    var isEmpty: Bool { ranges.isEmpty }
}
