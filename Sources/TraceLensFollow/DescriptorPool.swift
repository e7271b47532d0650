#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The open-file limit (`ulimit -n`) of this process.
public enum DescriptorLimit {
    /// The soft and hard limits now.
    public static func current() -> (soft: Int, hard: Int) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return (1024, 1024) }
        return (clamp(limit.rlim_cur), clamp(limit.rlim_max))
    }

    /// Raises the soft limit to the hard one (what any process may do): following thousands of
    /// files needs more than the usual 1024. Returns the limits before and after.
    @discardableResult
    public static func raiseToHard() -> (before: Int, after: Int) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return (1024, 1024) }
        let before = clamp(limit.rlim_cur)
        guard limit.rlim_cur < limit.rlim_max else { return (before, before) }
        var raised = limit
        raised.rlim_cur = limit.rlim_max
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) != 0 {
            // An unlimited hard limit is refused by some kernels: take the most they allow.
            raised.rlim_cur = rlim_t(1 << 20)
            guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 else { return (before, before) }
        }
        return (before, current().soft)
    }

    private static func clamp(_ value: rlim_t) -> Int { value >= rlim_t(Int32.max) ? Int(Int32.max) : Int(value) }
}

/// How many followed files may hold a descriptor at once, and how many do. The rest of the
/// limit is left for the store (database, journal, temporary files), inotify, the signal pipe
/// and standard streams.
package final class DescriptorPool {
    /// Descriptors the process needs besides the followed files.
    package static let reserve = 32

    package let capacity: Int
    package private(set) var openCount = 0

    /// `capacity` nil: the soft open-file limit less the reserve (half of it when the limit is low).
    package init(capacity: Int? = nil) {
        if let capacity {
            self.capacity = max(capacity, 1)
        } else {
            let soft = DescriptorLimit.current().soft
            self.capacity = max(soft - min(Self.reserve, soft / 2), 1)
        }
    }

    package var isFull: Bool { openCount >= capacity }

    package func opened() { openCount += 1 }
    package func closed() { openCount -= 1 }
}
