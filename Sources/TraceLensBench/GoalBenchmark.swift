import Foundation
import TraceLensInput
import TraceLensPlugins
import TraceLensStore
import TraceLensRender
import TraceLensQuery

/// `bench --vs-lnav` and `bench --only queries`: the speed goals (issue 19) measured in one run on
/// one generated trace, each printed next to its target. `ingest` and the queries run as children
/// of the `tracelens` binary, so their time and peak memory are the command's own, not this
/// process's (which holds the generator's and the in-process format run's memory).
public enum GoalBenchmark {
    /// One goal: what was measured, its target, and whether it was met (nil: not measured).
    public struct Goal: Sendable {
        public var name: String
        public var measured: String
        public var target: String
        public var met: Bool?
        /// False for a figure the issue sets no target for: its verdict is "measured".
        public var hasTarget = true
    }

    /// A step of the benchmark that could not run, with what it said.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The `tracelens` binary to run, and the arguments every command gets (`--plugins DIR`).
    public struct Tool: Sendable {
        public var path: String
        public var pluginArguments: [String]

        public init(path: String, pluginArguments: [String] = []) {
            self.path = path
            self.pluginArguments = pluginArguments
        }

        /// Runs `tracelens command arguments…` with its standard output written to `output`
        /// (nil: /dev/null). Throws, with what it wrote to standard error, when it fails.
        func run(_ command: [String], output: String? = nil, in dir: String) throws -> Platform.ChildUsage {
            let errors = dir + "/child-stderr.txt"
            let arguments = Array(command.prefix(1)) + pluginArguments + command.dropFirst()
            guard let usage = Platform.runChild(path, arguments, output: output, errors: errors) else {
                throw Failure(description: "cannot start \(path): \(Platform.errorText(Platform.lastError))")
            }
            guard usage.status == 0 else {
                let said = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
                throw Failure(description: "tracelens \(command.joined(separator: " ")) ended with status \(usage.status): \(said)")
            }
            return usage
        }

        /// The best wall time of `times` runs.
        func best(of times: Int, _ command: [String], in dir: String) throws -> Double {
            var best = Double.infinity
            for _ in 0..<times { best = min(best, try run(command, output: dir + "/child-output.txt", in: dir).seconds) }
            return best
        }
    }

    /// Bytes the generator writes per record line, on average (for `--records`).
    public static let bytesPerRecord = 88

    /// Everything `bench --vs-lnav` measures, and the table of goals. The 10M-record queries only
    /// when `records` is given (they take minutes).
    public static func runVersusLnav(sizeMB: Int, path: String?, dbPath: String?, records: Int?, tool: Tool, plugins: PluginSet) throws -> String {
        let dir = NSTemporaryDirectory() + "tracelens-bench-goals-\(Platform.processID)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let trace = path ?? dir + "/gskssl.33554467.trc"
        var lines: [String] = []
        var goals: [Goal] = []

        let genStart = Platform.monotonicSeconds()
        let connections = try SyntheticTrace().write(to: trace, targetBytes: sizeMB << 20)
        let mb = Double(fileSize(trace)) / 1e6
        let errorLines = SyntheticTrace.errorLines(connections)
        lines.append(String(format: "generated %.1f MB: %d connections, %d lines at level ERROR, 8 threads (%.1f s)",
                            mb, connections.count, errorLines, Platform.monotonicSeconds() - genStart))

        // grep and format: the first goal of the issue's list that needs no store.
        let grep = Benchmark.timeGrep(trace)
        let format = min(try Benchmark.formatSeconds(trace, plugins), try Benchmark.formatSeconds(trace, plugins))
        lines.append(String(format: "format → /dev/null: %.2f s, %.0f MB/s (best of two, in this process)", format, mb / format))
        if let grep {
            lines.append(String(format: "grep -c ERROR: %.2f s, %.0f MB/s (best of three)", grep, mb / grep))
        } else {
            lines.append("grep -c ERROR: grep not found")
        }

        // lnav's first answer.
        let lnav = lnavPath().map { measureLnav($0, file: trace, expected: errorLines, in: dir) }
        if let lnav { lines += lnav.lines } else { lines.append("lnav: not installed (looked on PATH, /usr/bin, /usr/local/bin)") }

        // ingest, then the first summary, each as the command itself.
        let db = dbPath ?? dir + "/bench.db"
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: db + suffix) }
        let ingest = try tool.run(["ingest", "--db", db, trace], output: dir + "/ingest.txt", in: dir)
        let storeMB = Double(fileSize(db) + fileSize(db + "-wal")) / 1e6
        let summary = try tool.run(["summary", "--db", db], output: dir + "/summary.txt", in: dir)
        let peakMB = Double(ingest.peakResidentKiB) / 1024
        lines.append(String(format: "tracelens ingest: %.2f s, %.0f MB/s, peak RSS %.0f MB (%@); store %.1f MB (with its WAL)",
                            ingest.seconds, mb / ingest.seconds, peakMB, addedText(dir + "/ingest.txt"), storeMB))
        lines.append(String(format: "tracelens summary (first, on the new store): %.2f s", summary.seconds))

        let firstAnswer = ingest.seconds + summary.seconds
        let lnavGoal = "ingest + summary vs lnav first answer"
        switch lnav?.countSeconds {
        case let seconds?:
            let ratio = firstAnswer / seconds
            goals.append(Goal(name: lnavGoal, measured: String(format: "%.2fx (%.1f s / %.2f s)", ratio, firstAnswer, seconds), target: "≤ 1.0", met: ratio <= 1.0))
        case nil:
            goals.append(Goal(name: lnavGoal, measured: lnav == nil ? "lnav not installed" : "lnav gave no answer", target: "≤ 1.0", met: nil))
        }
        goals.append(Goal(name: "ingest throughput", measured: String(format: "%.0f MB/s", mb / ingest.seconds), target: "≥ 100 MB/s", met: mb / ingest.seconds >= 100))
        goals.append(Goal(name: "ingest peak memory", measured: String(format: "%.0f MB", peakMB), target: "≤ 150 MB", met: peakMB <= 150))
        goals.append(Goal(name: "store size / trace size", measured: String(format: "%.2fx (%.0f MB / %.0f MB)", storeMB / mb, storeMB, mb),
                          target: "≤ 0.5", met: storeMB / mb <= 0.5))
        if let grep {
            goals.append(Goal(name: "format / grep -c", measured: String(format: "%.1fx (%.2f s / %.2f s)", format / grep, format, grep),
                              target: "≤ 8", met: format / grep <= 8))
        } else {
            goals.append(Goal(name: "format / grep -c", measured: "grep not found", target: "≤ 8", met: nil))
        }

        if let records {
            let queries = try measureQueries(records: records, tool: tool, plugins: plugins, in: dir)
            lines += queries.lines
            goals += queries.goals
        } else {
            lines.append("queries on a 10M-record store: not measured here (slow); add --records 10000000, or run `bench --only queries`")
        }
        lines.append("")
        lines.append(table(goals))
        if path == nil { lines.append("(generated files removed; keep the trace with --file PATH, the store with --db PATH)") }
        return lines.joined(separator: "\n")
    }

    /// `bench --only queries`: a store of about `records` records, and the query goals on it.
    public static func runQueries(records: Int, tool: Tool, plugins: PluginSet) throws -> String {
        let dir = NSTemporaryDirectory() + "tracelens-bench-queries-\(Platform.processID)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let queries = try measureQueries(records: records, tool: tool, plugins: plugins, in: dir)
        return (queries.lines + ["", table(queries.goals)]).joined(separator: "\n")
    }

    /// Generates about `records` records, ingests them, then times `summary`, `connections
    /// --failed` and `show` of one failed connection, each the best of three runs of the command.
    static func measureQueries(records: Int, tool: Tool, plugins: PluginSet, in dir: String) throws -> (lines: [String], goals: [Goal]) {
        let trace = dir + "/queries.gskssl.trc"
        let db = dir + "/queries.db"
        var lines: [String] = []
        let genStart = Platform.monotonicSeconds()
        try SyntheticTrace().write(to: trace, targetBytes: records * bytesPerRecord)
        let mb = Double(fileSize(trace)) / 1e6
        lines.append(String(format: "queries: generated %.1f MB for about %d records (%.1f s)", mb, records, Platform.monotonicSeconds() - genStart))
        let ingest = try tool.run(["ingest", "--db", db, trace], output: dir + "/queries-ingest.txt", in: dir)
        // The store is what is measured from here on: give the disk back.
        try? FileManager.default.removeItem(atPath: trace)
        let stored = addedRecords(dir + "/queries-ingest.txt")
        lines.append(String(format: "queries: ingest %.1f s (%@); store %.0f MB", ingest.seconds, addedText(dir + "/queries-ingest.txt"),
                            Double(fileSize(db) + fileSize(db + "-wal")) / 1e6))

        // One failed connection to show, as `connections --failed` lists it.
        let conn: Int64 = try {
            var filter = ConnectionFilter()
            filter.failedOnly = true
            filter.limit = 1
            let failed = try StoreQueries(store: try Store.openForReading(db), plugins: plugins).connections(filter)
            guard let column = failed.columns.firstIndex(of: "conn"), let row = failed.rows.first, case let .int(id) = row[column] else {
                throw Failure(description: "the store of \(records) records holds no failed connection to show")
            }
            return id
        }()

        let size = stored.map { $0 >= 1_000_000 ? String(format: "%.1fM records", Double($0) / 1e6) : "\($0) records" } ?? "\(records) records"
        var goals: [Goal] = []
        for (name, command) in [("summary", ["summary", "--db", db]),
                                ("connections --failed", ["connections", "--failed", "--db", db]),
                                ("show \(conn) (failed)", ["show", "--db", db, String(conn)])] {
            let seconds = try tool.best(of: 3, command, in: dir)
            goals.append(Goal(name: "\(name), \(size)", measured: String(format: "%.2f s", seconds), target: "< 1 s", met: seconds < 1))
        }
        return (lines, goals)
    }

    /// The goals as a text table: goal, measured, target, verdict.
    public static func table(_ goals: [Goal]) -> String {
        let rows: [[SQLValue]] = goals.map {
            [.text($0.name), .text($0.measured), .text($0.target), .text($0.met.map { $0 ? "met" : "not met" } ?? ($0.hasTarget ? "not measured" : "measured"))]
        }
        let out = ByteBuffer()
        TableWriter.text(ResultTable(columns: ["goal", "measured", "target", "verdict"], rows: rows), into: out)
        var text = out.string
        if text.hasSuffix("\n") { text.removeLast() }
        return text
    }

    // MARK: lnav

    /// What lnav answered: the time of its first answer (counting the ERROR lines, best of two;
    /// nil when it gave none) and what it said, for the report.
    struct LnavAnswer {
        var countSeconds: Double?
        var lines: [String]
    }

    /// lnav's format file for the gsktrace layout: lnav knows no z/OS layout by itself.
    static let lnavFormat = #"""
        {
          "$schema": "https://lnav.org/schemas/format-v1.schema.json",
          "gsk_trace": {
            "title": "System SSL trace (gsktrace)",
            "description": "Formatted System SSL trace",
            "regex": { "std": { "pattern": "^(?<timestamp>\\d{2}/\\d{2}/\\d{4}-\\d{2}:\\d{2}:\\d{2}) (?<thread>\\S+) (?<level>[A-Z]+) (?<function>[^ (]+)\\(\\): (?<body>.*)$" } },
            "timestamp-format": ["%m/%d/%Y-%H:%M:%S"],
            "level-field": "level",
            "level": { "error": "ERROR", "warning": "WARNING", "info": "INFO", "debug": "ENTRY|EXIT|DUMP" },
            "value": { "thread": { "kind": "string", "identifier": true }, "function": { "kind": "string", "identifier": true } },
            "sample": [ { "line": "04/12/2022-14:00:00 Thd-6 INFO gsk_list_free(): Freeing certificate list" } ]
          }
        }
        """#

    static func lnavPath() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let dirs = path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"]
        return dirs.map { $0 + "/lnav" }.first(where: FileManager.default.isExecutableFile(atPath:))
    }

    /// Runs lnav headless (`-n -c ';SQL'`) on `file`: the ERROR lines counted twice, then a GROUP
    /// BY over every line once. Its format file goes in a temporary HOME, removed afterwards, never
    /// the user's ~/.lnav.
    static func measureLnav(_ lnav: String, file: String, expected: Int, in dir: String) -> LnavAnswer {
        let home = dir + "/lnav-home"
        defer { try? FileManager.default.removeItem(atPath: home) }
        do {
            try FileManager.default.createDirectory(atPath: home + "/.lnav/formats/installed", withIntermediateDirectories: true)
            try lnavFormat.write(toFile: home + "/.lnav/formats/installed/gsktrace.json", atomically: true, encoding: .utf8)
        } catch {
            return LnavAnswer(countSeconds: nil, lines: ["lnav: cannot write its format file: \(error)"])
        }
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = home
        environment["XDG_CONFIG_HOME"] = nil
        let output = dir + "/lnav.txt"
        func ask(_ sql: String) -> (seconds: Double, said: String)? {
            guard let usage = Platform.runChild(lnav, ["-n", "-c", ";" + sql, file], environment: environment, output: output, errors: dir + "/lnav-stderr.txt"),
                  usage.status == 0 else { return nil }
            return (usage.seconds, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
        }
        let countSQL = #"SELECT count(*) FROM gsk_trace WHERE log_level = "error""#
        guard let first = ask(countSQL), let second = ask(countSQL) else {
            let said = (try? String(contentsOfFile: dir + "/lnav-stderr.txt", encoding: .utf8)) ?? ""
            return LnavAnswer(countSeconds: nil, lines: ["lnav: failed: \(said.prefix(500))"])
        }
        let count = first.said.split(separator: "\n").last { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            .flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } ?? 0
        let best = min(first.seconds, second.seconds)
        var lines = [String(format: "lnav count of ERROR lines: %.2f s (best of two); lnav counted %d, the trace holds %d%@", best, count, expected,
                            count == expected ? "" : " (they differ: the comparison is not like for like)")]
        guard count > 0 else {
            lines.append("lnav: counted no ERROR lines, so it did not read the file with the gsktrace format; no ratio")
            return LnavAnswer(countSeconds: nil, lines: lines)
        }
        if let group = ask("SELECT function, count(*) FROM gsk_trace GROUP BY 1 ORDER BY 2 DESC") {
            lines.append(String(format: "lnav GROUP BY function over every line: %.2f s (one run)", group.seconds))
        }
        return LnavAnswer(countSeconds: best, lines: lines)
    }

    // MARK: Files

    static func fileSize(_ path: String) -> Int64 { Platform.status(path: path)?.size ?? 0 }

    /// The records an `ingest` said it added (its "added N records" line).
    static func addedRecords(_ ingestOutput: String) -> Int? {
        guard let text = try? String(contentsOfFile: ingestOutput, encoding: .utf8),
              let range = text.range(of: #"added \d+ records"#, options: .regularExpression) else { return nil }
        return Int(text[range].split(separator: " ")[1])
    }

    static func addedText(_ ingestOutput: String) -> String {
        addedRecords(ingestOutput).map { "\($0) records" } ?? "records not reported"
    }
}
