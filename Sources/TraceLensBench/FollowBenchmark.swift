import Foundation
import Synchronization
#if canImport(Glibc)
#endif
import TraceLensInput
import TraceLensRecords
import TraceLensPlugins
import TraceLensStore
import TraceLensRender
import TraceLensFollow
import TraceLensCommands

/// `tracelens bench --only follow`: what following costs, measured on generated gsktrace
/// appended to real files while the real loop (inotify, printer, store) runs on a thread.
///
/// - latency: write of one record line → the printer showing it, over `appends` appends at
///   random 5–50 ms gaps (a record is held back until its file is quiet for 0.1 s or the next
///   record starts: it may still get continuation lines);
/// - idle CPU: the loop with nothing changing, with inotify and with --poll;
/// - throughput: four files written as fast as possible at once, until all is stored;
/// - memory: resident size while a day of traffic (`dayMB`: `--size-mb`, 200 by default, about
///   120,000 connections) is appended to one followed file.
public enum FollowBenchmark {
    public static func run(plugins: PluginSet, appends: Int = 1000, busyMB: Int = 25, dayMB: Int = 170) throws -> String {
        let dir = NSTemporaryDirectory() + "tracelens-bench-follow-\(Platform.processID)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var out: [String] = []
        out.append(try latency(dir: dir + "/latency", plugins: plugins, appends: appends))
        out.append(try idle(dir: dir + "/idle", plugins: plugins, poll: false))
        out.append(try idle(dir: dir + "/idle-poll", plugins: plugins, poll: true))
        out.append(try busy(dir: dir + "/busy", plugins: plugins, files: 4, mb: busyMB))
        out.append(try day(dir: dir + "/day", plugins: plugins, mb: dayMB))
        return out.joined(separator: "\n")
    }

    /// A running loop on its own thread, stopped through the signal pipe it polls. The loop, its
    /// printer and its store are made here and then belong to that thread alone: they are
    /// handed over through `handoff`, and the caller sees only the pipe, the path and counts.
    package final class Running: Sendable {
        package let path: String
        private let pipeWrite: Int32
        private let handoff: Mutex<FollowLoop?>
        /// The loop's cycles, written by its thread when the loop ends (read by `stop`).
        private let cycles = Atomic<Int>(0)
        private let done = DispatchSemaphore(value: 0)

        /// `onPrint` is called on the loop's thread for every record printed.
        package init(dir: String, patterns: [String], plugins: PluginSet, poll: Bool = false,
                     onPrint: (@Sendable (Record) -> Void)? = nil) throws {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let fds = Platform.makePipe() ?? (read: -1, write: -1)
            pipeWrite = fds.write
            var o = LivePrinter.Options()
            o.holdFor = 0.1
            let printer = LivePrinter(plugins: plugins, options: o, output: Output(fd: Platform.openForWriting("/dev/null", truncate: false)))
            printer.onPrint = onPrint
            var options = FollowOptions()
            options.patterns = patterns.map { dir + "/" + $0 }
            options.linkInterval = 0
            path = dir + "/bench.db"
            let store = try Store.openForWriting(path)
            let follower = try FollowRun(plugins: plugins, store: store, options: options, observer: printer, log: FollowLog(level: .error))
            handoff = Mutex(FollowLoop(follower: follower, waiter: ChangeWaiter(poll: poll, pollInterval: 1, signalFD: fds.read)))
            let thread = Thread { [self] in
                guard let loop = handoff.withLock({ $0.take() }) else { return }
                loop.run()
                cycles.store(loop.cycles, ordering: .relaxed)
                done.signal()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }

        /// Asked on a connection of its own: the follower's belongs to its thread.
        package func scalar(_ sql: String) -> Int64 {
            guard let reader = try? Store.openForReading(path) else { return 0 }
            return (try? reader.db.scalar(sql)) ?? 0
        }

        /// Stops the loop and waits for it; returns how many cycles it ran.
        @discardableResult
        package func stop() -> Int {
            Platform.writeAll(pipeWrite, [UInt8(Platform.Signal.terminate)])
            done.wait()
            return cycles.load(ordering: .relaxed)
        }
    }

    package static func generated(_ path: String, mb: Int, seed: UInt64) throws -> [UInt8] {
        try SyntheticTrace(threads: 8, seed: seed).write(to: path, targetBytes: mb << 20)
        return Array(FileManager.default.contents(atPath: path) ?? Data())
    }

    package static func append(_ fd: Int32, _ bytes: ArraySlice<UInt8>) {
        Platform.writeAll(fd, Array(bytes))
    }

    package static func lineRanges(_ bytes: [UInt8]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var start = 0
        bytes.withUnsafeBufferPointer { b in
            while start < b.count, let nl = memchr(b.baseAddress! + start, 0x0A, b.count - start) {
                let end = b.baseAddress!.distance(to: nl.assumingMemoryBound(to: UInt8.self)) + 1
                out.append(start..<end)
                start = end
            }
        }
        return out
    }

    package static func latency(dir: String, plugins: PluginSet, appends: Int) throws -> String {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let source = try generated(dir + "/source.trc", mb: 2, seed: 7)
        let lines = lineRanges(source)
        let head = 300
        let file = dir + "/gskssl.1.trc"
        _ = FileManager.default.createFile(atPath: file, contents: Data(source[0..<lines[head].lowerBound]))
        let arrivals = LatencyLog()
        let running = try Running(dir: dir, patterns: ["gskssl.*.trc"], plugins: plugins, onPrint: { r in arrivals.arrived(line: r.line) })
        Platform.sleep(seconds: 0.3)
        let fd = Platform.openForWriting(file, truncate: false, append: true)
        var rng = SplitMix64(seed: 11)
        for i in 0..<appends {
            let number = head + i + 1
            arrivals.written(line: number)
            append(fd, source[lines[head + i]])
            Platform.sleep(seconds: Double(5_000 + Int(rng.next() % 45_000)) / 1e6)
        }
        Platform.close(fd)
        Platform.sleep(seconds: 0.5)
        running.stop()
        let gaps = arrivals.latencies().sorted()
        guard !gaps.isEmpty else { return "latency: no record arrived" }
        func pct(_ p: Double) -> Double { gaps[min(gaps.count - 1, Int(Double(gaps.count) * p))] * 1000 }
        return String(format: "latency write → print: median %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms over %d records (%d appends, 5–50 ms apart)",
                      pct(0.5), pct(0.9), pct(0.99), gaps.last! * 1000, gaps.count, appends)
    }

    package static func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
    }

    package static func idle(dir: String, plugins: PluginSet, poll: Bool) throws -> String {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for i in 0..<4 { try Data("first line\n".utf8).write(to: URL(fileURLWithPath: dir + "/app\(i).log")) }
        let running = try Running(dir: dir, patterns: ["app*.log"], plugins: plugins, poll: poll)
        Platform.sleep(seconds: 0.5)
        let cpu0 = cpuSeconds(), t0 = Platform.monotonicSeconds()
        sleep(10)
        let cpu = cpuSeconds() - cpu0, wall = Platform.monotonicSeconds() - t0
        // The loop's count belongs to its thread: read once it stops (so it includes the start).
        let cycles = running.stop()
        return String(format: "idle, 4 files, %@: %.3f s CPU in %.0f s (%.2f%% of one core), %d cycles in all",
                      poll ? "--poll every 1 s" : "inotify", cpu, wall, cpu / wall * 100, cycles)
    }

    package static func busy(dir: String, plugins: PluginSet, files: Int, mb: Int) throws -> String {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var sources: [[UInt8]] = []
        for i in 0..<files { sources.append(try generated(dir + "/source\(i)", mb: mb, seed: UInt64(100 + i))) }
        let total = sources.reduce(0) { $0 + $1.count }
        let running = try Running(dir: dir, patterns: ["gskssl.*.trc"], plugins: plugins)
        Platform.sleep(seconds: 0.2)
        let start = Platform.monotonicSeconds()
        let group = DispatchGroup()
        for (i, bytes) in sources.enumerated() {
            let path = dir + "/gskssl.\(i + 1).trc"
            DispatchQueue.global().async(group: group) {
                let fd = Platform.openForWriting(path, truncate: false, append: true, mode: 0o644)
                var off = 0
                while off < bytes.count {
                    let end = min(off + 64 * 1024, bytes.count)
                    append(fd, bytes[off..<end])
                    off = end
                }
                Platform.close(fd)
            }
        }
        group.wait()
        let written = Platform.monotonicSeconds() - start
        // Caught up when every file's bytes are committed.
        while true {
            if running.scalar("SELECT coalesce(sum(size), 0) FROM sources") >= Int64(total) { break }
            Platform.sleep(seconds: 0.02)
        }
        let caughtUp = Platform.monotonicSeconds() - start
        running.stop()
        let records = running.scalar("SELECT count(*) FROM records")
        let mbTotal = Double(total) / 1e6
        return String(format: "busy: %d files written at once, %.0f MB in all (writers done in %.2f s); all stored %.2f s after the start: %.1f MB/s, %.0f records/s (%d records, each printed)",
                      files, mbTotal, written, caughtUp, mbTotal / caughtUp, Double(records) / caughtUp, records)
    }

    package static func residentMB() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let parts = text.split(separator: " ")
        guard parts.count > 1, let pages = Double(parts[1]) else { return 0 }
        return pages * Double(Platform.pageSize) / 1_048_576
    }

    package static func day(dir: String, plugins: PluginSet, mb: Int) throws -> String {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // Generated to a file and copied from it a megabyte at a time: the benchmark itself
        // holds no more than that, so the resident size is the follower's.
        let sourcePath = dir + "/source"
        let connectionsWritten = try SyntheticTrace(threads: 8, seed: 1234).write(to: sourcePath, targetBytes: mb << 20).count
        let total = Int((try FileManager.default.attributesOfItem(atPath: sourcePath)[.size] as? NSNumber)?.int64Value ?? 0)
        let running = try Running(dir: dir, patterns: ["gskssl.*.trc"], plugins: plugins)
        let input = Platform.openForReading(sourcePath)
        let output = Platform.openForWriting(dir + "/gskssl.86400.trc", truncate: false, append: true, mode: 0o644)
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var samples: [String] = []
        let start = Platform.monotonicSeconds()
        let baseline = residentMB()
        var off = 0
        var tenth = 1
        while off < total {
            let n = chunk.withUnsafeMutableBytes { Platform.read(input, into: $0.baseAddress!, count: $0.count) }
            if n <= 0 { break }
            append(output, chunk[0..<n])
            off += n
            if off >= tenth * total / 10 || off == total {
                // Let the follower catch up before sampling, so the sample is of steady state.
                while running.scalar("SELECT coalesce(sum(size), 0) FROM sources") < Int64(off) { Platform.sleep(seconds: 0.01) }
                samples.append(String(format: "%d%% %.0f", min(tenth * 10, 100), residentMB()))
                tenth += 1
            }
        }
        Platform.close(input)
        Platform.close(output)
        let seconds = Platform.monotonicSeconds() - start
        running.stop()
        let connections = running.scalar("SELECT count(*) FROM connections")
        return String(format: "a day of traffic: %.0f MB, %d connections (%d generated), followed in %.1f s; resident MB before: %.0f, then at each tenth: %@",
                      Double(total) / 1e6, connections, connectionsWritten, seconds, baseline, samples.joined(separator: ", "))
    }
}

/// When each line was appended (the writing thread) and printed (the follower's thread).
package final class LatencyLog: Sendable {
    private struct Times { var writtenAt: [Int: Double] = [:], arrivedAt: [Int: Double] = [:] }
    private let times = Mutex(Times())
    package func written(line: Int) { let now = Platform.monotonicSeconds(); times.withLock { $0.writtenAt[line] = now } }
    package func arrived(line: Int) { let now = Platform.monotonicSeconds(); times.withLock { $0.arrivedAt[line] = now } }
    package func latencies() -> [Double] {
        times.withLock { t in t.arrivedAt.compactMap { line, at in t.writtenAt[line].map { at - $0 } } }
    }
}
