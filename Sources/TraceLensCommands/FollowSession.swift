import TraceLensInput
import TraceLensPlugins
import TraceLensStore
import TraceLensFollow
import TraceLensDiagnose

/// `watch` and `daemon`: the store opened for writing, the follower, signals and the change
/// waiter, ready to run. Throws what opening the store throws (the caller words it).
public enum FollowSession {
    public static func start(plugins: PluginSet, storePath: String, options: FollowOptions, observer: FollowObserver, log: FollowLog,
                             poll: Bool, pollInterval: Double, reload: ((FollowRun) -> Void)? = nil) throws -> FollowLoop {
        let signals = SignalPipe.install([Platform.Signal.interrupt, Platform.Signal.terminate, Platform.Signal.hangUp])
        // Thousands of files want more than the usual soft limit of 1024; the hard one is ours to take.
        let limit = DescriptorLimit.raiseToHard()
        log(.info, "open-file-limit", ["soft": limit.after, "raised_from": limit.after > limit.before ? limit.before : nil])
        let follower = try FollowRun(plugins: plugins, store: try Store.openForWriting(storePath), options: options, observer: observer, log: log)
        let waiter = ChangeWaiter(poll: poll, pollInterval: pollInterval, signalFD: signals)
        if !poll && !waiter.usesInotify { log(.warn, "no-inotify", ["fallback": "polling every \(pollInterval)s"]) }
        log(.info, "started", ["db": storePath, "patterns": options.patterns.joined(separator: " "), "mode": waiter.usesInotify ? "inotify" : "poll"])
        let loop = FollowLoop(follower: follower, waiter: waiter)
        if let reload { loop.reload = { reload(follower) } }
        return loop
    }
}

/// `tracelens daemon`: follows what its configuration names, logs verdicts, and reads the
/// configuration again on SIGHUP (paths, retention, link interval, log level; the rest at the
/// next start).
public enum DaemonRun {
    public static func start(configPath: String, config: DaemonConfig) throws -> FollowLoop {
        let (set, problems) = CheckedPlugins.loadAll(userDirectories: PluginLoader.userDirectories(explicit: config.plugins))
        let log = FollowLog(level: config.logLevel)
        for p in problems { log(.warn, "plugin-problem", ["problem": "\(p)"]) }
        let observer = VerdictLogger(plugins: set, log: log)
        var current = config
        let loop = try FollowSession.start(plugins: set, storePath: config.db, options: config.followOptions, observer: observer, log: log,
                                       poll: config.poll, pollInterval: config.pollInterval) { follower in
            do {
                let fresh = try DaemonConfig.load(configPath)
                if fresh.db != current.db || fresh.plugins != current.plugins || fresh.poll != current.poll || fresh.layout != current.layout
                    || fresh.maxRecord != current.maxRecord || fresh.host != current.host || fresh.exports != current.exports {
                    log(.warn, "reload-partial", ["note": "db, plugins, poll, layout, max-record, host and export take effect at the next start"])
                }
                follower.update(patterns: fresh.paths, retentionDays: fresh.retentionDays, linkInterval: fresh.linkInterval)
                log.level = fresh.logLevel
                current = fresh
                log(.info, "reloaded", ["paths": fresh.paths.joined(separator: " "), "log_level": fresh.logLevel.name])
            } catch {
                log(.error, "reload-failed", ["error": "\(error)", "kept": "the previous configuration"])
            }
        }
        if !config.exports.isEmpty {
            // Started once the store is open (and brought up to date) for the follower.
            let exports = ExportThreads(specs: config.exports, storePath: config.db, plugins: set, host: config.host, log: log)
            loop.onStop = { exports.stopAndWait() }
        }
        return loop
    }
}
