import Foundation
import TraceLensInput
import TraceLensStore
import TraceLensExport

/// `bench --only export` (issue 20): what shipping a store costs, each step run as the
/// `tracelens` command itself on a generated gsktrace.
///
/// - `export --ndjson` of the whole store: records/s and MB/s of JSON written;
/// - with `clickhouse-server` installed, a server of its own on free loopback ports: `fleet
///   init`, `export --clickhouse` of the whole store (records/s), ClickHouse's size on disk next
///   to the trace's and the store's, `fleet summary` and `fleet connections --failed` (best of
///   three), then the lag of a running `daemon`: a line appended to a followed file until
///   ClickHouse returns it.
///
/// The issue sets no targets for these: they are figures for the docs, printed as measured.
public enum ExportBenchmark {
    /// The database the benchmark's rows go to (the server is the benchmark's own).
    static let database = "tracelens_bench"

    public static func run(sizeMB: Int, tool: GoalBenchmark.Tool, lagSamples: Int = 20) throws -> String {
        let dir = NSTemporaryDirectory() + "tracelens-bench-export-\(Platform.processID)"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var lines: [String] = []
        var goals: [GoalBenchmark.Goal] = []

        let trace = dir + "/gskssl.33554467.trc"
        let genStart = Platform.monotonicSeconds()
        let connections = try SyntheticTrace().write(to: trace, targetBytes: sizeMB << 20)
        let traceBytes = GoalBenchmark.fileSize(trace)
        lines.append(String(format: "export: generated %.1f MB, %d connections (%.1f s)", Double(traceBytes) / 1e6, connections.count,
                            Platform.monotonicSeconds() - genStart))
        let db = dir + "/export.db"
        let ingest = try tool.run(["ingest", "--db", db, trace], output: dir + "/ingest.txt", in: dir)
        let storeBytes = GoalBenchmark.fileSize(db) + GoalBenchmark.fileSize(db + "-wal")
        let records = Int(try Store.openForReading(db).db.scalar("SELECT count(*) FROM records") ?? 0)
        lines.append(String(format: "export: ingest %.1f s, %d records; store %.1f MB (with its WAL)", ingest.seconds, records, Double(storeBytes) / 1e6))

        // ndjson: the whole store to one file (a new sink: its cursor starts at the beginning).
        let ndjson = dir + "/export.ndjson"
        let ndjsonRun = try tool.run(["export", "--db", db, "--ndjson", ndjson], output: dir + "/ndjson.txt", in: dir)
        // The sink renames a full file to .1, .2 ... (max-size): count them all.
        let written = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix("export.ndjson") }
        let ndjsonBytes = written.reduce(Int64(0)) { $0 + GoalBenchmark.fileSize(dir + "/" + $1) }
        let ndjsonRate = Double(records) / ndjsonRun.seconds
        lines.append(String(format: "export --ndjson: %.2f s, %.0f records/s, %.0f MB/s of JSON; files %.1f MB (%.2fx the trace)", ndjsonRun.seconds,
                            ndjsonRate, Double(ndjsonBytes) / 1e6 / ndjsonRun.seconds, Double(ndjsonBytes) / 1e6, Double(ndjsonBytes) / Double(traceBytes)))
        goals.append(figure("export --ndjson throughput", String(format: "%.0f records/s (%.0f MB/s of JSON)", ndjsonRate,
                                                                 Double(ndjsonBytes) / 1e6 / ndjsonRun.seconds)))
        for name in written { try? FileManager.default.removeItem(atPath: dir + "/" + name) }

        guard ClickHouseServer.command != nil else {
            lines.append("clickhouse-server not installed: skipped")
            for name in ["export --clickhouse throughput", "export lag, median", "export lag, 90th percentile"] {
                goals.append(GoalBenchmark.Goal(name: name, measured: "clickhouse-server not installed", target: "none set", met: nil))
            }
            return (lines + ["", GoalBenchmark.table(goals)]).joined(separator: "\n")
        }
        let server = try ClickHouseServer(directory: dir + "/clickhouse")
        defer { server.stop() }
        let clickhouse = ["--clickhouse", server.url, "--database", database]
        _ = try tool.run(["fleet", "init"] + clickhouse, output: dir + "/fleet-init.txt", in: dir)
        let client = try ClickHouseClient(url: server.url, database: database, timeout: 30)

        // ClickHouse: the whole store, then what it holds and its size on disk.
        let chRun = try tool.run(["export", "--db", db] + clickhouse, output: dir + "/clickhouse.txt", in: dir)
        let chRate = Double(records) / chRun.seconds
        let shipped = try scalar(client, "SELECT count() FROM \(database).records FINAL")
        lines.append(String(format: "export --clickhouse: %.2f s, %.0f records/s; ClickHouse holds %d records", chRun.seconds, chRate, shipped))
        if shipped != records { lines.append("export --clickhouse: the store holds \(records) records but ClickHouse \(shipped)") }
        goals.append(figure("export --clickhouse throughput", String(format: "%.0f records/s", chRate)))

        let sizeSQL = "SELECT sum(bytes) FROM system.parts WHERE database = '\(database)' AND active"
        let chBytes = try scalar(client, sizeSQL)
        for table in ["records", "connections"] {
            try client.execute("OPTIMIZE TABLE \(database).\(table) FINAL")
        }
        let mergedBytes = try scalar(client, sizeSQL)
        lines.append(String(format: "ClickHouse on disk: %.1f MB as exported, %.1f MB merged (OPTIMIZE FINAL): %.2fx the trace (%.1f MB), %.2fx the store (%.1f MB)",
                            Double(chBytes) / 1e6, Double(mergedBytes) / 1e6, Double(mergedBytes) / Double(traceBytes), Double(traceBytes) / 1e6,
                            Double(mergedBytes) / Double(storeBytes), Double(storeBytes) / 1e6))
        goals.append(figure("ClickHouse size / trace size", String(format: "%.2fx (%.1f MB / %.1f MB)", Double(mergedBytes) / Double(traceBytes),
                                                                   Double(mergedBytes) / 1e6, Double(traceBytes) / 1e6)))
        goals.append(figure("ClickHouse size / store size", String(format: "%.2fx (%.1f MB / %.1f MB)", Double(mergedBytes) / Double(storeBytes),
                                                                   Double(mergedBytes) / 1e6, Double(storeBytes) / 1e6)))

        for (name, command) in [("fleet summary", ["fleet", "summary"]), ("fleet connections --failed", ["fleet", "connections", "--failed"])] {
            let seconds = try tool.best(of: 3, command + clickhouse, in: dir)
            goals.append(figure("\(name), \(records) records", String(format: "%.2f s", seconds)))
        }

        let lag = try measureLag(server: server, client: client, trace: trace, samples: lagSamples, tool: tool, in: dir + "/lag")
        lines += lag.lines
        goals += lag.goals
        lines.append("")
        lines.append(GoalBenchmark.table(goals))
        return lines.joined(separator: "\n")
    }

    /// A figure the issue sets no target for.
    static func figure(_ name: String, _ measured: String) -> GoalBenchmark.Goal {
        GoalBenchmark.Goal(name: name, measured: measured, target: "none set", met: nil, hasTarget: false)
    }

    static func scalar(_ client: ClickHouseClient, _ sql: String) throws -> Int {
        let answer = try client.queryRows(sql)
        guard let text = answer.rows.first?.first ?? nil, let value = Int(text) else {
            throw GoalBenchmark.Failure(description: "ClickHouse answered no number to \(sql)")
        }
        return value
    }

    /// A `daemon` follows a file and exports to the server every 200 ms; `samples` lines, each
    /// with a marker of its own, are appended half a second apart, and each is timed from its
    /// append until ClickHouse returns it (polled every 20 ms).
    static func measureLag(server: ClickHouseServer, client: ClickHouseClient, trace: String, samples: Int, tool: GoalBenchmark.Tool,
                           in dir: String) throws -> (lines: [String], goals: [GoalBenchmark.Goal]) {
        try FileManager.default.createDirectory(atPath: dir + "/traces", withIntermediateDirectories: true)
        let host = "bench-lag"
        // The first lines of the generated trace start the followed file: the daemon has
        // something to ship before the first marker, and the markers copy a line's form.
        let head = try readHead(trace, lines: 200)
        guard let stamp = head.last(where: { $0.first?.isNumber == true })?.split(separator: " ").first else {
            throw GoalBenchmark.Failure(description: "the generated trace starts with no timestamped line")
        }
        let followed = dir + "/traces/gskssl.16777300.trc"
        try (head.joined(separator: "\n") + "\n").write(toFile: followed, atomically: true, encoding: .utf8)
        let quiet = "500ms"
        let config = dir + "/tracelens.toml"
        try """
            db = "\(dir)/tracelens.db"
            paths = ["\(dir)/traces/*.trc"]
            host = "\(host)"
            quiet = "\(quiet)"
            log-level = "warning"
            [[export]]
            type = "clickhouse"
            url = "\(server.url)"
            database = "\(database)"
            interval = "200ms"
            max-backoff = "1s"
            """.write(toFile: config, atomically: true, encoding: .utf8)

        // Started with posix_spawn, not Foundation's Process: the server is a Process already,
        // and Foundation's monitor would wait on it instead of reporting the daemon's end.
        guard let daemon = Platform.startChild(tool.path, ["daemon"] + tool.pluginArguments + ["--config", config], errors: dir + "/daemon.log") else {
            throw GoalBenchmark.Failure(description: "cannot start \(tool.path) daemon: \(Platform.errorText(Platform.lastError))")
        }
        var daemonEnded = false
        defer {
            if !daemonEnded {
                _ = Platform.send(Platform.Signal.terminate, to: daemon)
                _ = Platform.waitForChild(daemon)
            }
        }
        func daemonLog() -> String { String(((try? String(contentsOfFile: dir + "/daemon.log", encoding: .utf8)) ?? "").suffix(2000)) }

        // Ready once the head is in ClickHouse.
        let ready = Platform.monotonicSeconds() + 60
        while (try? scalar(client, "SELECT count() FROM \(database).records WHERE host = '\(host)'")) ?? 0 == 0 {
            guard Platform.monotonicSeconds() < ready else {
                throw GoalBenchmark.Failure(description: "the daemon did not export the followed file within 60 s: \(daemonLog())")
            }
            Platform.sleep(seconds: 0.05)
        }

        var lags: [Double] = []
        var missed = 0
        let fd = Platform.openForWriting(followed, truncate: false, append: true)
        guard fd >= 0 else { throw GoalBenchmark.Failure(description: "cannot append to \(followed): \(Platform.errorText(Platform.lastError))") }
        defer { Platform.close(fd) }
        for n in 1...samples {
            let marker = "LAGMARK-\(n)-END"
            let appended = Platform.monotonicSeconds()
            Platform.writeAll(fd, Array("\(stamp) Thd-1 INFO gsk_bench_marker(): export lag sample \(marker)\n".utf8))
            let sql = "SELECT count() FROM \(database).records WHERE host = '\(host)' AND position(message, '\(marker)') > 0"
            var arrived: Double?
            while arrived == nil && Platform.monotonicSeconds() - appended < 15 {
                if (try? scalar(client, sql)) ?? 0 > 0 { arrived = Platform.monotonicSeconds() - appended } else { Platform.sleep(seconds: 0.02) }
            }
            if let arrived { lags.append(arrived) } else { missed += 1 }
            Platform.sleep(seconds: appended + 0.5 - Platform.monotonicSeconds())
        }
        _ = Platform.send(Platform.Signal.terminate, to: daemon)
        let daemonStatus = Platform.waitForChild(daemon)
        daemonEnded = true

        var lines: [String] = []
        var goals: [GoalBenchmark.Goal] = []
        let setting = "daemon: export interval 200 ms, quiet \(quiet); ClickHouse polled every 20 ms"
        if let daemonStatus, daemonStatus != 0 { lines.append("export lag: the daemon ended with status \(daemonStatus) on SIGTERM: \(daemonLog())") }
        if lags.isEmpty {
            lines.append("export lag: no line of \(samples) reached ClickHouse within 15 s (\(setting)): \(daemonLog())")
            goals.append(GoalBenchmark.Goal(name: "export lag, median", measured: "none arrived", target: "none set", met: nil))
            goals.append(GoalBenchmark.Goal(name: "export lag, 90th percentile", measured: "none arrived", target: "none set", met: nil))
            return (lines, goals)
        }
        let sorted = lags.sorted()
        let median = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        let p90 = sorted[max(0, Int((0.9 * Double(sorted.count)).rounded(.up)) - 1)]
        lines.append(String(format: "export lag (append → ClickHouse returns it), %d lines 0.5 s apart: median %.0f ms, 90th percentile %.0f ms, max %.0f ms%@ (%@)",
                            samples, median * 1000, p90 * 1000, sorted.last! * 1000, missed > 0 ? ", \(missed) not there after 15 s" : "", setting))
        goals.append(figure("export lag, median", String(format: "%.0f ms", median * 1000)))
        goals.append(figure("export lag, 90th percentile", String(format: "%.0f ms", p90 * 1000)))
        return (lines, goals)
    }

    /// The first `count` lines of a file, read no further than needed.
    static func readHead(_ path: String, lines count: Int) throws -> [String] {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw GoalBenchmark.Failure(description: "cannot read \(path)") }
        defer { try? handle.close() }
        let bytes = handle.readData(ofLength: 1 << 20)
        return Array(String(decoding: bytes, as: UTF8.self).split(separator: "\n").prefix(count).map(String.init))
    }
}
