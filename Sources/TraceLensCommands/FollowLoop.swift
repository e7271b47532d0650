import TraceLensFollow
import TraceLensInput

/// The loop `watch` and `daemon` run: a cycle, then wait for a change, a deadline or a signal.
/// SIGINT and SIGTERM end it after a last cycle that commits everything; SIGHUP calls `reload`.
public final class FollowLoop {
    public let follower: FollowRun
    public let waiter: ChangeWaiter
    /// Cycles closer together than this are merged (a busy file sends a stream of events).
    public var minimumInterval: Double = 0.05
    public var reload: (() -> Void)?
    /// Run after the follower's last commit (the daemon's exporters stop here).
    public var onStop: (() -> Void)?
    public private(set) var cycles = 0
    private var stopRequested = false

    public init(follower: FollowRun, waiter: ChangeWaiter) {
        self.follower = follower
        self.waiter = waiter
    }

    /// Asks the loop to stop after its current cycle (for tests; signals do the same).
    public func stop() { stopRequested = true }

    /// Runs until SIGINT/SIGTERM (or `stop()`), then shuts the follower down.
    public func run() {
        var lastCycle = -Double.infinity
        while !stopRequested {
            refreshWatches()
            follower.cycle()
            cycles += 1
            if cycles == 1 && follower.followedPaths.isEmpty {
                follower.log(.warn, "waiting", ["note": "no file matches yet; files that appear are picked up",
                                                "patterns": follower.options.patterns.joined(separator: " ")])
            }
            lastCycle = Platform.monotonicSeconds()
            var woken = false
            while !woken && !stopRequested {
                switch waiter.wait(until: follower.nextDeadline()) {
                case .changed, .timeout:
                    woken = true
                case .signalled(Platform.Signal.hangUp):
                    follower.log(.info, "reload", ["signal": "HUP"])
                    reload?()
                    woken = true
                case let .signalled(s):
                    follower.log(.info, "stopping", ["signal": Platform.Signal.name(s)])
                    stopRequested = true
                }
            }
            let since = Platform.monotonicSeconds() - lastCycle
            if !stopRequested && since < minimumInterval { Platform.sleep(seconds: minimumInterval - since) }
        }
        follower.shutdown()
        onStop?()
        follower.log(.info, "stopped", ["cycles": cycles])
    }

    private func refreshWatches() {
        guard waiter.usesInotify else { return }
        let paths = follower.directories + follower.followedPaths
        waiter.forget(except: Set(paths))
        waiter.watch(paths)
    }
}
