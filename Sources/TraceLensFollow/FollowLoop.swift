#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TraceLensInput

/// Signals turned into bytes on a pipe, so the follow loop sees them in the same `poll` as file
/// changes and handles them between cycles (never in the middle of a commit).
public enum SignalPipe {
    nonisolated(unsafe) private static var writeEnd: Int32 = -1
    nonisolated(unsafe) private static var readEnd: Int32 = -1

    /// Installs handlers for `signals`; returns the pipe's read end.
    public static func install(_ signals: [Int32]) -> Int32 {
        if readEnd < 0 {
            var fds: [Int32] = [0, 0]
            guard pipe(&fds) == 0 else { return -1 }
            for fd in fds {
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            }
            readEnd = fds[0]
            writeEnd = fds[1]
        }
        for sig in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { sig in
                var byte = UInt8(truncatingIfNeeded: sig)
                _ = Glibc.write(SignalPipe.writeEnd, &byte, 1)
            }
            action.sa_flags = SA_RESTART
            sigemptyset(&action.sa_mask)
            sigaction(sig, &action, nil)
        }
        return readEnd
    }
}

/// Waits for something to happen to the followed files: inotify events on their folders and on
/// the files themselves, or (with `--poll`, for NFS and other file systems that send no events)
/// a fixed interval. Either way the follow loop also wakes at the follower's own deadlines.
public final class ChangeWaiter {
    public enum Wake: Equatable { case changed, timeout, signal(Int32) }

    public let polling: Bool
    public let pollInterval: Double
    private var inotify: Int32 = -1
    private var watches: [String: Int32] = [:]
    private let signalFD: Int32
    private var pendingSignals: [Int32] = []

    public init(poll: Bool, pollInterval: Double = 1, signalFD: Int32 = -1) {
        polling = poll
        self.pollInterval = pollInterval
        self.signalFD = signalFD
        if !poll {
            inotify = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        }
    }

    deinit { if inotify >= 0 { close(inotify) } }

    /// Whether inotify is in use (false when polling, or when the kernel refused it).
    public var usesInotify: Bool { inotify >= 0 }

    /// Watches these folders and files (new ones are added, missing ones retried later).
    public func watch(_ paths: [String]) {
        guard inotify >= 0 else { return }
        let mask = UInt32(IN_MODIFY | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB
                           | IN_DELETE_SELF | IN_MOVE_SELF)
        for p in paths where watches[p] == nil {
            let wd = inotify_add_watch(inotify, p, mask)
            if wd >= 0 { watches[p] = wd }
        }
    }

    /// Forgets watches whose files are gone (the kernel drops them; a new file under the name
    /// needs a new watch).
    public func forget(except keep: Set<String>) {
        for (p, wd) in watches where !keep.contains(p) {
            inotify_rm_watch(inotify, wd)
            watches[p] = nil
        }
    }

    /// Blocks until a change, a signal, or `deadline` (monotonic seconds).
    public func wait(until deadline: Double) -> Wake {
        if let s = pendingSignals.first { pendingSignals.removeFirst(); return .signal(s) }
        let now = monotonicSeconds()
        var timeout = max(deadline - now, 0)
        if polling || inotify < 0 { timeout = min(timeout, pollInterval) }
        var fds: [pollfd] = []
        if inotify >= 0 { fds.append(pollfd(fd: inotify, events: Int16(POLLIN), revents: 0)) }
        if signalFD >= 0 { fds.append(pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0)) }
        let n = poll(&fds, nfds_t(fds.count), Int32((timeout * 1000).rounded(.up)))
        guard n > 0 else { return polling && monotonicSeconds() < deadline ? .changed : .timeout }
        var changed = false
        for p in fds where p.revents != 0 {
            if p.fd == signalFD {
                var bytes = [UInt8](repeating: 0, count: 16)
                let got = read(signalFD, &bytes, 16)
                if got > 0 { pendingSignals += bytes[0..<got].map { Int32($0) } }
            } else {
                // Drain the events; which file changed does not matter, the follower looks at all.
                var buf = [UInt8](repeating: 0, count: 64 * 1024)
                while read(inotify, &buf, buf.count) > 0 {}
                changed = true
            }
        }
        if let s = pendingSignals.first { pendingSignals.removeFirst(); return .signal(s) }
        return changed ? .changed : .timeout
    }
}
