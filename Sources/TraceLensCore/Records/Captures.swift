/// Where each captured field lies in the line. Reuse one value across lines: its storage only
/// grows, and writes go through pointers, so the hot path neither allocates nor checks uniqueness.
/// Copies share storage: it is scratch space, not a value to keep.
public struct Captures {
    final class Storage {
        var capacity = 0
        var starts: UnsafeMutablePointer<Int> = .allocate(capacity: 1)
        var ends: UnsafeMutablePointer<Int> = .allocate(capacity: 1)
        var times: UnsafeMutablePointer<TimeParts> = .allocate(capacity: 1)

        func grow(_ n: Int) {
            starts.deallocate(); ends.deallocate(); times.deallocate()
            starts = .allocate(capacity: n); ends = .allocate(capacity: n)
            times = .allocate(capacity: n); times.initialize(repeating: TimeParts(), count: n)
            capacity = n
        }

        deinit { starts.deallocate(); ends.deallocate(); times.deallocate() }
    }

    let storage = Storage()
    var count = 0
    /// True when the last match stopped because its work budget ran out (a pathological template),
    /// not because the line does not match.
    public internal(set) var gaveUp = false

    public init() {}

    var starts: UnsafeMutablePointer<Int> { storage.starts }
    var ends: UnsafeMutablePointer<Int> { storage.ends }
    var times: UnsafeMutablePointer<TimeParts> { storage.times }

    mutating func reset(count: Int) {
        if storage.capacity < count { storage.grow(max(count, 8)) }
        self.count = count
        for i in 0..<count { storage.starts[i] = -1 }
    }

    public func range(_ slot: Int) -> Range<Int>? {
        guard slot >= 0, slot < count, storage.starts[slot] >= 0 else { return nil }
        return storage.starts[slot]..<storage.ends[slot]
    }
}
