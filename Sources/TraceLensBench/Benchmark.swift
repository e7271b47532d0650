import Foundation
import TraceLensInput
import TraceLensPlugins
import TraceLensStore
import TraceLensRender
import TraceLensQuery
import TraceLensCommands
import TraceLensCorrelate

/// The `bench` command: format throughput against `grep -c ERROR` on the same generated file.
public enum Benchmark {
    public static func runFormat(sizeMB: Int, path: String?, plugins: PluginSet) throws -> String {
        let dir = NSTemporaryDirectory() + "tracelens-bench-\(Platform.processID)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let small = dir + "/small.trc"
        let full = path ?? dir + "/gskssl.33554467.trc"
        var lines: [String] = []

        let genStart = Date()
        try SyntheticTrace().write(to: small, targetBytes: max(sizeMB / 10, 1) << 20)
        let connections = try SyntheticTrace().write(to: full, targetBytes: sizeMB << 20)
        let bytes = (try FileManager.default.attributesOfItem(atPath: full)[.size] as? Int) ?? 0
        lines.append(String(format: "generated %@: %.1f MB, %d connections, 8 threads (%.1f s)", full, Double(bytes) / 1e6, connections.count, Date().timeIntervalSince(genStart)))

        let smallSeconds = try formatSeconds(small, plugins)
        let rssSmall = peakRSSMB()
        let fullSeconds = min(try formatSeconds(full, plugins), try formatSeconds(full, plugins))
        let rssFull = peakRSSMB()
        let grepSeconds = timeGrep(full)
        let mb = Double(bytes) / 1e6
        lines.append(String(format: "format  → /dev/null: %.2f s  %.0f MB/s (best of two)", fullSeconds, mb / fullSeconds))
        if let g = grepSeconds {
            lines.append(String(format: "grep -c ERROR      : %.2f s  %.0f MB/s (best of three; format takes %.1fx grep's time, target ≤ 3x)", g, mb / g, fullSeconds / g))
        } else {
            lines.append("grep -c ERROR      : grep not found")
        }
        lines.append(String(format: "peak RSS: %.0f MB after a %.1f MB file (%.2f s), %.0f MB after the %.1f MB file", rssSmall, mb / 10, smallSeconds, rssFull, mb))
        if path == nil { lines.append("(generated files removed; keep one with --file PATH)") }
        return lines.joined(separator: "\n")
    }

    package static func formatSeconds(_ path: String, _ plugins: PluginSet) throws -> Double {
        let fd = Platform.openForWriting("/dev/null", truncate: false)
        defer { Platform.close(fd) }
        let output = Output(fd: fd)
        let start = Date()
        let status = FormatRun(plugins: plugins, options: FormatOptions(), output: output).run([path])
        if status != 0 { throw InputError.readFailed(path: path, reason: "format failed") }
        return Date().timeIntervalSince(start)
    }

    /// Times `grep -c ERROR` (best of three). Its output goes to a pipe, not /dev/null: GNU grep
    /// notices /dev/null and stops at the first match, which would make it look ten times faster.
    package static func timeGrep(_ path: String) -> Double? {
        guard let grep = ["/usr/bin/grep", "/bin/grep"].first(where: FileManager.default.isExecutableFile(atPath:)) else { return nil }
        var best: Double?
        for _ in 0..<3 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: grep)
            p.arguments = ["-c", "ERROR", path]
            let pipe = Pipe()
            p.standardOutput = pipe
            let start = Date()
            do { try p.run() } catch { return nil }
            _ = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            let t = Date().timeIntervalSince(start)
            best = min(best ?? t, t)
        }
        return best
    }

    public static func peakRSSMB() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }

    /// Ingest throughput, query times and correlation accuracy on a generated trace whose
    /// connections are known.
    public static func runIngest(sizeMB: Int, dbPath: String?, batch: Int = 50_000, plugins: PluginSet) throws -> String {
        let dir = NSTemporaryDirectory() + "tracelens-bench-ingest-\(Platform.processID)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let trace = dir + "/gskssl.33554467.trc"
        let db = dbPath ?? dir + "/bench.db"
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: db + suffix) }
        var lines: [String] = []
        let genStart = Date()
        let truth = try SyntheticTrace().writeWithTruth(to: trace, targetBytes: sizeMB << 20)
        let bytes = (try FileManager.default.attributesOfItem(atPath: trace)[.size] as? Int) ?? 0
        let failedTruth = truth.connections.filter { $0.returnCode != 0 }.count
        lines.append(String(format: "generated %.1f MB: %d record lines, %d connections (%d failed), 8 threads (%.1f s)",
                            Double(bytes) / 1e6, truth.owners.filter { $0 != -2 }.count, truth.connections.count, failedTruth,
                            Date().timeIntervalSince(genStart)))

        var options = IngestOptions()
        options.batchRecords = batch
        let store = try Store.openForWriting(db)
        let run = try IngestRun(plugins: plugins, store: store, options: options)
        let start = Date()
        let result = try run.ingest(trace)
        let seconds = Date().timeIntervalSince(start)
        let dbSize = (try FileManager.default.attributesOfItem(atPath: db)[.size] as? Int) ?? 0
        lines.append(String(format: "ingest: %.2f s, %.0f MB/s, %.0f records/s (%d records, %d connections); store %.0f MB; peak RSS so far %.0f MB (this process also holds the generator's per-line truth; `tracelens ingest` alone: see bench --vs-lnav)",
                            seconds, Double(bytes) / 1e6 / seconds, Double(result.records) / seconds, result.records, result.connections,
                            Double(dbSize) / 1e6, peakRSSMB()))

        let again = Date()
        let second = try run.ingest(trace)
        lines.append(String(format: "ingest again: %@ in %.3f s", second.kind.rawValue, Date().timeIntervalSince(again)))

        let reader = try Store.openForReading(db)
        let queries = StoreQueries(store: reader, plugins: plugins)
        func timed(_ body: () throws -> Void) rethrows -> Double {
            var best = Double.infinity
            for _ in 0..<3 { let t = Date(); try body(); best = min(best, Date().timeIntervalSince(t)) }
            return best
        }
        var failedRows = 0
        let summaryTime = try timed { _ = try queries.summary() }
        let failedTime = try timed { var f = ConnectionFilter(); f.failedOnly = true; failedRows = try queries.connections(f).rows.count }
        lines.append(String(format: "summary: %.3f s; connections --failed: %.3f s (%d rows) (best of three)", summaryTime, failedTime, failedRows))

        let score = try accuracy(truth: truth, store: reader, source: result.source)
        lines.append(String(format: "correlation: %d of %d records in the right connection (%.4f%%); %d of %d connections found exactly; %d of %d failures found",
                            score.correctRecords, score.records, Double(score.correctRecords) * 100 / Double(max(score.records, 1)),
                            score.exactConnections, truth.connections.count, score.failedFound, failedTruth))
        if dbPath == nil { lines.append("(generated files removed; keep the store with --db PATH)") }
        return lines.joined(separator: "\n")
    }

    /// Linking across sources on generated scenarios: a GSK trace, the job log, AT-TLS syslog
    /// and a client transcript written from its truth, with clock offsets and shared client IPs.
    /// Reports precision and recall of the links per source, and each layout's ingest speed.
    public static func runLinks(sizeMB: Int, dbPath: String?, plugins: PluginSet) throws -> String {
        let dir = NSTemporaryDirectory() + "tracelens-bench-links-\(Platform.processID)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = dbPath ?? dir + "/bench.db"
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: db + suffix) }
        let truth = try SyntheticTrace().writeWithTruth(to: dir + "/gskssl.33554467.trc", targetBytes: sizeMB << 20)
        let sources = SyntheticSources()
        let expected = try sources.write(for: truth, in: dir)
        var lines: [String] = []
        lines.append("generated: \(truth.connections.count) GSK connections (\(truth.connections.filter { $0.returnCode != 0 }.count) failed) from 6 client IPs; "
                     + "job log clock +\(sources.jobLogOffset)s, syslog \(sources.syslogOffset)s, client +\(sources.clientOffset)s")

        var options = IngestOptions()
        // The user tells the job log's clock; the other offsets are left for the window.
        options.link.offsets = [("gldsrv.joblog", -sources.jobLogOffset * 1_000_000)]
        let store = try Store.openForWriting(db)
        let run = try IngestRun(plugins: plugins, store: store, options: options)
        let status = run.run([dir + "/gskssl.33554467.trc", dir + "/gldsrv.joblog", dir + "/syslogd.log", dir + "/client.txt"])
        guard status == 0 else { throw StoreError.other(path: db, detail: "ingest failed with status \(status)") }
        for r in run.results {
            lines.append(String(format: "ingest %@: %.1f MB, %d records, %.2f s, %.0f MB/s, %.0f records/s", StoreQueries.fileName(r.path),
                                Double(r.bytes) / 1e6, r.records, r.seconds, Double(r.bytes) / 1e6 / max(r.seconds, 1e-9), Double(r.records) / max(r.seconds, 1e-9)))
        }
        let linkStart = Date()
        let report = try Linker(store: store, plugins: plugins).run(options.link)
        lines.append(String(format: "linking alone: %.2f s for %d links", Date().timeIntervalSince(linkStart), report.linked))
        let gsk = run.results.first { $0.path.hasSuffix(".trc") }!.source
        let pair = try accuracy(truth: truth, store: store, source: gsk).pair
        let score = try LinkScore.score(expected, store: store, pair: pair)
        for p in score.parts {
            lines.append(String(format: "links from %@: precision %.2f%% (%d of %d links right), recall %.2f%% (%d of %d found), %d of the deliberate non-matches linked",
                                p.file, p.precision * 100, p.correct, p.linked, p.recall * 100, p.correct, p.shouldLink, p.wronglyLinked))
        }
        for r in report.rules where r.ambiguous > 0 {
            lines.append("\(r.rule): \(r.ambiguous) left unlinked because several connections matched equally well")
        }
        return lines.joined(separator: "\n")
    }

    public struct CorrelationScore: Sendable {
        public var pair: [Int: Int64] = [:]
        public var records = 0
        public var correctRecords = 0
        public var exactConnections = 0
        public var failedFound = 0
    }

    /// Scores the store against the generator's truth: each true connection is paired with the
    /// stored connection holding most of its records; a record is right when its stored
    /// connection is its true one's pair (or both say "none"), and each stored connection may be
    /// paired once.
    public static func accuracy(truth: SyntheticTrace.Truth, store: Store, source: Int64) throws -> CorrelationScore {
        let q = try store.db.prepare("SELECT line, conn FROM records WHERE source = ?1")
        try q.bind([.int(source)])
        var stored: [(line: Int, conn: Int64?)] = []
        while try q.step() { stored.append((q.int(0), q.isNull(1) ? nil : q.int64(1))) }
        var votes: [Int: [Int64: Int]] = [:]
        for r in stored {
            guard let t = truth.owner(ofLine: r.line), let c = r.conn else { continue }
            votes[t, default: [:]][c, default: 0] += 1
        }
        var pair: [Int: Int64] = [:]
        var taken = Set<Int64>()
        for (t, v) in votes {
            guard let best = v.max(by: { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) })?.key, !taken.contains(best) else { continue }
            pair[t] = best
            taken.insert(best)
        }
        var score = CorrelationScore()
        score.pair = pair
        var wrongIn = Set<Int>()
        var recordsOf = [Int](repeating: 0, count: truth.connections.count)
        for r in stored {
            score.records += 1
            let t = truth.owner(ofLine: r.line)
            let right: Bool
            if let t { right = r.conn != nil && pair[t] == r.conn; recordsOf[t] += 1 } else { right = r.conn == nil }
            if right { score.correctRecords += 1 } else if let t { wrongIn.insert(t) } else if let c = r.conn, let t = pair.first(where: { $0.value == c })?.key { wrongIn.insert(t) }
        }
        // Connections whose every record landed in their pair, and no stray record joined them.
        var storedCounts: [Int64: Int] = [:]
        for r in stored { if let c = r.conn { storedCounts[c, default: 0] += 1 } }
        for (t, c) in pair where !wrongIn.contains(t) && storedCounts[c] == recordsOf[t] { score.exactConnections += 1 }
        let failed = try store.db.prepare("SELECT id FROM connections WHERE source = ?1 AND outcome = 'failed'")
        try failed.bind([.int(source)])
        var failedIDs = Set<Int64>()
        while try failed.step() { failedIDs.insert(failed.int64(0)) }
        for (t, c) in pair where truth.connections[t].returnCode != 0 && failedIDs.contains(c) { score.failedFound += 1 }
        return score
    }
}
