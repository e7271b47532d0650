import Synchronization
import TraceLensInput

/// Signals turned into bytes on a pipe, so the follow loop sees them in the same wait as file
/// changes and handles them between cycles (never in the middle of a commit).
public enum SignalPipe {
    /// The one pipe of the process, made on the first install.
    private static let ends = Mutex<(read: Int32, write: Int32)?>(nil)

    /// Installs handlers for `signals`; returns the pipe's read end.
    public static func install(_ signals: [Int32]) -> Int32 {
        let pipe = ends.withLock { ends in
            if ends == nil { ends = Platform.makePipe() }
            return ends
        }
        guard let pipe else { return -1 }
        Platform.deliverSignals(signals, asBytesTo: pipe.write)
        return pipe.read
    }
}

/// Waits for something to happen to the followed files: inotify events on their folders and on
/// the files themselves, or (with `--poll`, for NFS and other file systems that send no events)
/// a fixed interval. Either way the follow loop also wakes at the follower's own deadlines.
public final class ChangeWaiter {
    public enum Wake: Equatable { case changed, timeout, signalled(Int32) }

    public let polling: Bool
    public let pollInterval: Double
    private let events: Platform.FileEvents?
    private var watches: [String: Int32] = [:]
    private let signalFD: Int32
    private var pendingSignals: [Int32] = []

    public init(poll: Bool, pollInterval: Double = 1, signalFD: Int32 = -1) {
        polling = poll
        self.pollInterval = pollInterval
        self.signalFD = signalFD
        events = poll ? nil : Platform.FileEvents()
    }

    /// Whether inotify is in use (false when polling, or when the kernel refused it).
    public var usesInotify: Bool { events != nil }

    /// Watches these folders and files (new ones are added, missing ones retried later).
    public func watch(_ paths: [String]) {
        guard let events else { return }
        for p in paths where watches[p] == nil {
            if let wd = events.watch(p) { watches[p] = wd }
        }
    }

    /// Forgets watches whose files are gone (the kernel drops them; a new file under the name
    /// needs a new watch).
    public func forget(except keep: Set<String>) {
        for (p, wd) in watches where !keep.contains(p) {
            events?.forget(wd)
            watches[p] = nil
        }
    }

    /// Blocks until a change, a signal, or `deadline` (monotonic seconds).
    public func wait(until deadline: Double) -> Wake {
        if let s = pendingSignals.first { pendingSignals.removeFirst(); return .signalled(s) }
        let now = Platform.monotonicSeconds()
        var timeout = max(deadline - now, 0)
        if polling || events == nil { timeout = min(timeout, pollInterval) }
        let watched = [events?.descriptor, signalFD >= 0 ? signalFD : nil].compactMap { $0 }
        let ready = Platform.waitReadable(watched, timeout: timeout) ?? []
        guard ready.contains(true) else { return polling && Platform.monotonicSeconds() < deadline ? .changed : .timeout }
        var changed = false
        for (fd, isReady) in zip(watched, ready) where isReady {
            if fd == signalFD {
                var bytes = [UInt8](repeating: 0, count: 16)
                let got = bytes.withUnsafeMutableBytes { Platform.read(signalFD, into: $0.baseAddress!, count: 16) }
                if got > 0 { pendingSignals += bytes[0..<got].map { Int32($0) } }
            } else {
                // Drain the events; which file changed does not matter, the follower looks at all.
                events?.drain()
                changed = true
            }
        }
        if let s = pendingSignals.first { pendingSignals.removeFirst(); return .signalled(s) }
        return changed ? .changed : .timeout
    }
}
