/// Where each captured field lies in the line. Reuse one value across lines: its storage only
/// grows, and writes go through pointers, so the hot path neither allocates nor checks uniqueness.
/// Copies share storage: it is scratch space, not a value to keep.
public struct Captures {
    package final class Storage {
        package var capacity = 0
        package var starts: UnsafeMutablePointer<Int> = .allocate(capacity: 1)
        package var ends: UnsafeMutablePointer<Int> = .allocate(capacity: 1)
        package var times: UnsafeMutablePointer<TimeParts> = .allocate(capacity: 1)

        package func grow(_ n: Int) {
            starts.deallocate(); ends.deallocate(); times.deallocate()
            starts = .allocate(capacity: n); ends = .allocate(capacity: n)
            times = .allocate(capacity: n); times.initialize(repeating: TimeParts(), count: n)
            capacity = n
        }

        deinit { starts.deallocate(); ends.deallocate(); times.deallocate(); memo.deallocate(); stamps.deallocate(); allowances.deallocate(); applies.deallocate() }

        // A code finder's scratch for one line (see `CodeFinder.decodeMessage`): per pattern, the
        // line it was last tried on, the work it has left there, and its template's memo.
        package var memo: UnsafeMutablePointer<Int> = .allocate(capacity: 1)
        package var memoCapacity = 0
        package var stamps: UnsafeMutablePointer<Int> = .allocate(capacity: 1)
        package var allowances: UnsafeMutablePointer<Int> = .allocate(capacity: 1)
        /// Per pattern: whether it applies to the last layout seen (with `lineMask`).
        package var applies: UnsafeMutablePointer<Bool> = .allocate(capacity: 1)
        package var patternCapacity = 0
        /// Counts lines, so a stamp from an earlier line never matches.
        package var line = 0
        /// Work the finder spent (tries and bytes scanned by templates), for tests and benchmarks.
        package var finderWork = 0
        /// The whole-line patterns that apply to the last layout seen (`CodeFinder`).
        package var lineMask: UInt64 = 0
        package var lineMaskLayout: ObjectIdentifier?
        package var lineMaskFinder: ObjectIdentifier?
        /// Times a pattern ran out of work on a line.
        package var finderGaveUp = 0

        package func prepareFinder(patterns: Int, memo size: Int) {
            if memoCapacity < size { memo.deallocate(); memo = .allocate(capacity: size); memoCapacity = size }
            if patternCapacity < patterns {
                stamps.deallocate(); allowances.deallocate(); applies.deallocate()
                stamps = .allocate(capacity: patterns); stamps.initialize(repeating: 0, count: patterns)
                allowances = .allocate(capacity: patterns); allowances.initialize(repeating: 0, count: patterns)
                applies = .allocate(capacity: patterns); applies.initialize(repeating: false, count: patterns)
                // What `applies` said was for the old pointer.
                lineMaskFinder = nil
                patternCapacity = patterns
            }
        }
    }

    package let storage = Storage()
    package var count = 0
    /// True when the last match stopped because its work budget ran out (a pathological template),
    /// not because the line does not match.
    public internal(set) var gaveUp = false

    public init() {}

    package var starts: UnsafeMutablePointer<Int> { storage.starts }
    package var ends: UnsafeMutablePointer<Int> { storage.ends }
    package var times: UnsafeMutablePointer<TimeParts> { storage.times }

    package mutating func reset(count: Int) {
        if storage.capacity < count { storage.grow(max(count, 8)) }
        self.count = count
        for i in 0..<count { storage.starts[i] = -1 }
    }

    public func range(_ slot: Int) -> Range<Int>? {
        guard slot >= 0, slot < count, storage.starts[slot] >= 0 else { return nil }
        return storage.starts[slot]..<storage.ends[slot]
    }
}
