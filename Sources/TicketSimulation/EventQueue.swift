/// A min-heap of events ordered by true time, then by insertion order (so that events at
/// the same instant run in the order they were scheduled: deterministic).
struct EventQueue<Event> {
    private struct Entry {
        var time: Int64
        var sequence: UInt64
        var event: Event
        func precedes(_ o: Entry) -> Bool { time != o.time ? time < o.time : sequence < o.sequence }
    }

    private var heap: [Entry] = []
    private var sequence: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }
    var nextTime: Int64? { heap.first?.time }

    mutating func push(_ event: Event, at time: Int64) {
        sequence += 1
        heap.append(Entry(time: time, sequence: sequence, event: event))
        var i = heap.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard heap[i].precedes(heap[p]) else { break }
            heap.swapAt(i, p)
            i = p
        }
    }

    mutating func pop() -> (time: Int64, event: Event)? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1
                let r = l + 1
                var m = i
                if l < heap.count, heap[l].precedes(heap[m]) { m = l }
                if r < heap.count, heap[r].precedes(heap[m]) { m = r }
                if m == i { break }
                heap.swapAt(i, m)
                i = m
            }
        }
        return (top.time, top.event)
    }
}
