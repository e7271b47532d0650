import TraceLensInput

/// The open-file limit (`ulimit -n`) of this process.
public enum DescriptorLimit {
    /// The soft and hard limits now.
    public static func current() -> (soft: Int, hard: Int) { Platform.descriptorLimits() ?? (1024, 1024) }

    /// Raises the soft limit to the hard one (what any process may do): following thousands of
    /// files needs more than the usual 1024. Returns the limits before and after.
    @discardableResult
    public static func raiseToHard() -> (before: Int, after: Int) {
        let before = current().soft
        return Platform.raiseDescriptorLimitToHard() ? (before, current().soft) : (before, before)
    }
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
