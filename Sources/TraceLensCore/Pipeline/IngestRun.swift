import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the user asked `ingest` for.
public struct IngestOptions: Sendable {
    public var forcedFormat: String?
    /// Show a progress line on standard error (on a terminal, for files over a few MB).
    public var progress = false
    /// Records per transaction.
    public var batchRecords = 50_000
    /// Caps the store's size in pages, to test what a full disk does (SQLite then fails exactly
    /// as it does when the disk fills).
    public var maxPageCount: Int?
    /// When set and requested (Ctrl-C), the ingest commits what it has read and stops.
    public var stop: StopSignal?
    public init() {}
}

/// The ingest was asked to stop (SIGINT, SIGTERM) and did, after committing what it had read.
public struct IngestInterrupted: Error, CustomStringConvertible {
    public var path: String
    public var line: Int
    public var description: String {
        "\(path): stopped as asked; stored up to line \(line). Run the same ingest again to continue from there"
    }
}

/// What one file's ingest did.
public struct IngestResult: Sendable, Equatable {
    public enum Kind: String, Sendable { case new, resumed, unchanged, replaced, skipped }
    public var path: String
    public var kind: Kind
    public var source: Int64
    public var records: Int
    public var unparsed: Int
    public var connections: Int
    public var bytes: Int
    public var seconds: Double
}

/// `tracelens ingest`: reads files through the record stream, links records to connections and
/// writes them to the store in batches, each batch committed with the source's read offset.
public final class IngestRun {
    public let plugins: PluginSet
    public let store: Store
    public let options: IngestOptions
    let stream: RecordStream
    public private(set) var results: [IngestResult] = []
    public private(set) var failures: [String] = []

    public init(plugins: PluginSet, store: Store, options: IngestOptions) throws {
        self.plugins = plugins
        self.store = store
        self.options = options
        stream = RecordStream(plugins: plugins)
        try store.lockForIngest { Diagnostics.warn("\(store.path): another ingest is writing to this store; waiting for it to finish") }
        do {
            try store.db.transaction { try store.writeCatalogue(plugins) }
            if let pages = options.maxPageCount { try store.db.execute("PRAGMA max_page_count = \(pages)") }
        } catch { throw StoreError.wrap(error, path: store.path) }
    }

    /// Ingests every file; returns the exit status (0; 1 when some file failed; 2 when the store did).
    public func run(_ paths: [String]) -> Int32 {
        let forced: Format?
        switch plugins.forcedLayout(options.forcedFormat) {
        case let .success(f): forced = f
        case let .failure(e): Diagnostics.warn("\(e)"); return 2
        }
        for path in paths {
            var isDir: ObjCBool = false
            let inFolder = FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
            for file in FormatRun.expand([path]) {
                if options.stop?.requested == true { return 130 }
                ingestReporting(file, forced: forced, skipUnknown: inFolder)
                if stopped { return interrupted ? 130 : 2 }
            }
        }
        return failures.isEmpty ? 0 : 1
    }

    private var stopped = false
    private var interrupted = false

    private func ingestReporting(_ path: String, forced: Format?, skipUnknown: Bool) {
            do {
                let result = try ingest(path, forcedFormat: forced, skipUnknown: skipUnknown)
                results.append(result)
            } catch let e as IngestInterrupted {
                Diagnostics.warn("\(e)")
                stopped = true
                interrupted = true
            } catch let e as StoreError {
                Diagnostics.warn("\(e)")
                failures.append(path)
                if case .diskFull = e { stopped = true }
                if case .notAStore = e { stopped = true }
            } catch {
                Diagnostics.warn("\(error)")
                failures.append(path)
            }
    }

    /// Ingests one file: new, grown (only the new part) or unchanged (nothing).
    /// With `skipUnknown` (files found in a folder), a file no layout recognises is left out
    /// instead of being stored as unparsed lines.
    public func ingest(_ path: String, forcedFormat: Format? = nil, skipUnknown: Bool = false) throws -> IngestResult {
        let started = Date()
        let displayPath = path == "-" ? TextReader.standardInputName : Self.absolute(path)
        let identity = SourceIdentity.of(path)
        let db = store.db
        var kind = IngestResult.Kind.new
        var resume: ResumePoint?
        var layout: Format? = forcedFormat
        var sourceID: Int64 = 0
        var previous: ExistingSource?
        do {
            try db.transaction {
                if let identity, let known = try findSource(path: displayPath, identity: identity) {
                    previous = known
                    if known.sameFile && identity.size == known.size {
                        kind = .unchanged
                    } else if known.sameFile && identity.size > known.size {
                        kind = .resumed
                    } else {
                        kind = .replaced
                    }
                }
                if kind == .unchanged || kind == .resumed { sourceID = previous!.id; return }
                let insert = try db.prepare("INSERT INTO sources (path, device, inode, head_length, head_hash, size) VALUES (?1, ?2, ?3, ?4, ?5, 0)")
                try insert.bind([.text(displayPath), identity.map { .int($0.device) } ?? .null, identity.map { .int($0.inode) } ?? .null,
                                 .int(Int64(identity?.headLength ?? 0)), identity.map { .text($0.headHash) } ?? .null])
                try insert.run()
                sourceID = db.lastInsertRowID
            }
        } catch { throw StoreError.wrap(error, path: store.path) }

        if kind == .unchanged {
            return IngestResult(path: displayPath, kind: kind, source: sourceID, records: 0, unparsed: 0, connections: 0, bytes: 0,
                                seconds: Date().timeIntervalSince(started))
        }
        if kind == .resumed, let previous, let tailRecord = previous.tailRecord {
            do { try db.transaction { try dropTail(source: sourceID, firstRecord: tailRecord, afterLine: previous.line) } } catch {
                throw StoreError.wrap(error, path: store.path)
            }
        }
        if kind == .resumed, let previous {
            var point = ResumePoint(offset: previous.offset, line: previous.line)
            point.setState(previous.readerState)
            resume = point
            if layout == nil { layout = previous.layout.flatMap { plugins.format(named: $0) } }
            if layout == nil && previous.layout != nil {
                throw InputError.readFailed(path: displayPath, reason: "it was read with layout '\(previous.layout!)', which no loaded plugin defines now")
            }
        }

        let sink = try IngestSink(run: self, source: sourceID, path: displayPath, size: identity?.size ?? 0, resume: resume)
        sink.skipUnknown = skipUnknown && forcedFormat == nil
        sink.laneState = previous?.lanes
        let summary: SourceSummary
        do {
            summary = try stream.read(path, source: Int(sourceID), forcedFormat: layout, resume: resume, started: { s in
                sink.started(s)
            }, into: sink)
        } catch is IngestSink.Skip {
            try? db.transaction {
                try db.execute("DELETE FROM sources WHERE id = \(sourceID)")
            }
            Diagnostics.warn("\(displayPath): skipped, no known layout (name the file itself to store its lines as unparsed records)")
            return IngestResult(path: displayPath, kind: .skipped, source: 0, records: 0, unparsed: 0, connections: 0, bytes: 0, seconds: 0)
        } catch let e as IngestInterrupted {
            sink.endProgress()
            sink.abandon()
            throw e
        } catch {
            sink.endProgress()
            sink.abandon()
            // A file that failed before its first batch leaves no empty source behind.
            if sink.commits == 0 && kind != .resumed {
                try? db.transaction { try db.execute("DELETE FROM sources WHERE id = \(sourceID)") }
            }
            if error is InputError { throw error }
            throw StoreError.wrap(error, path: store.path)
        }
        sink.endProgress()
        if summary.format == nil && sink.unparsed > 0 {
            Diagnostics.warn("\(displayPath): no known layout; its \(sink.unparsed) lines are stored as unparsed records")
        }
        return IngestResult(path: displayPath, kind: kind, source: sourceID, records: sink.records, unparsed: sink.unparsed,
                            connections: sink.connectionsCreated, bytes: summary.bytes - (resume?.offset ?? 0),
                            seconds: Date().timeIntervalSince(started))
    }

    struct ExistingSource {
        var id: Int64
        var sameFile: Bool
        var size: Int64
        var offset: Int
        var line: Int
        var layout: String?
        var readerState: String?
        var lanes: String?
        var tailRecord: Int64?
    }

    /// Removes what the last ingest stored of the file's tail (its last record, which the file's
    /// growth may have completed), with its share of the counts, so it is read again whole.
    private func dropTail(source: Int64, firstRecord: Int64, afterLine line: Int) throws {
        let db = store.db
        let tail = "FROM records r WHERE r.source = ?1 AND r.id >= ?2"
        let args: [SQLValue] = [.int(source), .int(firstRecord), .int(Int64(line))]
        for sql in [
            """
            UPDATE sources SET records = records - (SELECT count(*) \(tail)),
                unparsed = unparsed - (SELECT count(*) \(tail) AND r.level IS NULL),
                unlinked = unlinked - (SELECT count(*) \(tail) AND r.conn IS NULL),
                codes = codes - (SELECT coalesce(sum(json_array_length(r.codes)), 0) \(tail)),
                failure_codes = failure_codes - (SELECT count(*) FROM records r, json_each(r.codes) j WHERE r.source = ?1 AND r.id >= ?2 AND j.value LIKE '!%'),
                tail_record = NULL
            WHERE id = ?1 AND ?3 >= 0
            """,
            """
            UPDATE code_counts SET count = count - (SELECT count(*) FROM records r, json_each(r.codes) j
                WHERE r.source = ?1 AND r.id >= ?2 AND ltrim(j.value, '!') = code_counts.catalogue || ':' || code_counts.code)
            WHERE source = ?1 AND ?3 >= 0
            """,
            "DELETE FROM code_counts WHERE source = ?1 AND count <= 0 AND ?2 > 0 AND ?3 >= 0",
            "DELETE FROM records WHERE source = ?1 AND id >= ?2 AND ?3 >= 0",
            "DELETE FROM conn_keys WHERE conn IN (SELECT id FROM connections WHERE source = ?1 AND first_line > ?3) AND ?2 > 0",
            "DELETE FROM connections WHERE source = ?1 AND first_line > ?3 AND ?2 > 0",
        ] {
            let s = try db.prepare(sql)
            try s.bind(args)
            try s.run()
        }
    }

    /// The source this file continues, if any: one with the same path or the same device and
    /// inode. It is the same file when the bytes it was identified by are still there.
    private func findSource(path: String, identity: SourceIdentity) throws -> ExistingSource? {
        let q = try store.db.prepare("""
            SELECT id, device, inode, head_length, head_hash, size, offset, line, layout, reader_state, lanes, tail_record FROM sources
            WHERE path = ?1 OR (device = ?2 AND inode = ?3) ORDER BY id DESC LIMIT 1
            """)
        try q.bind([.text(path), .int(identity.device), .int(identity.inode)])
        guard try q.step() else { return nil }
        let headLength = q.int(3)
        let sameInode = q.int64(1) == identity.device && q.int64(2) == identity.inode
        var sameHead = false
        if sameInode, let stored = q.string(4) {
            let head = headLength == identity.headLength ? identity : SourceIdentity.of(path, headLength: headLength)
            sameHead = head?.headHash == stored && head?.headLength == headLength
        }
        return ExistingSource(id: q.int64(0), sameFile: sameInode && sameHead, size: q.int64(5), offset: q.int(6), line: q.int(7),
                              layout: q.string(8), readerState: q.string(9), lanes: q.string(10),
                              tailRecord: q.isNull(11) ? nil : q.int64(11))
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: path).standardizedFileURL.path
    }
}

/// The store end of the record stream: links each record to its connection, gathers a batch,
/// and commits it with the source's offset when the batch is full and at the end.
final class IngestSink: RecordSink {
    let run: IngestRun
    let source: Int64
    let path: String
    let size: Int64
    var batch = RecordBatch()
    var writer: BackgroundWriter?
    var correlator: Correlator?
    var process: String?
    var records = 0, unparsed = 0, connectionsCreated = 0, commits = 0
    private var pending = SourceProgress(resume: ResumePoint(offset: 0, line: 0))
    private let batchLimit: Int
    private let resume: ResumePoint?
    private var progress: ProgressLine?

    /// The saved lanes of the source, when resuming.
    var laneState: String?

    init(run: IngestRun, source: Int64, path: String, size: Int64, resume: ResumePoint?) throws {
        self.run = run
        self.source = source
        self.path = path
        self.size = size
        self.resume = resume
        batchLimit = max(run.options.batchRecords, 1)
        if run.options.progress && size > 4 << 20 { progress = ProgressLine(path: path, total: Int(size)) }
    }

    struct Skip: Error {}
    var skipUnknown = false

    /// The layout is known: record it, prepare the writer, and pick up open connections.
    func started(_ summary: SourceSummary) {
        process = summary.process
        if skipUnknown && summary.format == nil { startError = Skip(); return }
        do {
            let db = run.store.db
            try db.transaction {
                let s = try db.prepare("UPDATE sources SET layout = ?2, encoding = ?3, process = ?4 WHERE id = ?1")
                try s.bind([.int(source), summary.format.map(SQLValue.text) ?? .null, .text(summary.detected.description),
                            summary.process.map(SQLValue.text) ?? .null])
                try s.run()
            }
            let w = BackgroundWriter(writer: try StoreWriter(store: run.store, plugins: run.plugins, source: source, process: summary.process))
            writer = w
            batch = try w.emptyBatch()
            if let name = summary.format, let rule = run.plugins.connectionRule(forFormat: name) {
                let firstID = (try db.scalar("SELECT coalesce(max(id), 0) + 1 FROM connections")) ?? 1
                let c = Correlator(rule: rule, plugins: run.plugins, source: source, firstID: firstID)
                if resume != nil { try restore(c) }
                correlator = c
            }
        } catch {
            startError = error
        }
    }
    private var startError: Error?

    /// Open connections of this source (and the last ended one per lane) from the store.
    private func restore(_ c: Correlator) throws {
        let db = run.store.db
        let columns = ConnectionRule.columns
        let q = try db.prepare("""
            SELECT id, rule, lane, stage, process, thread, start_time, end_time, first_line, last_line, outcome, ended, error, related, records,
                   \(columns.joined(separator: ", "))
            FROM connections WHERE source = ?1 AND (ended = 0 OR id IN (SELECT max(id) FROM connections WHERE source = ?1 GROUP BY lane)
                OR id IN (SELECT value FROM json_each(?2)))
            """)
        let held = Correlator.connectionIDs(inLaneState: laneState)
        try q.bind([.int(source), .text("[" + held.map(String.init).joined(separator: ",") + "]")])
        var live: [LiveConnection] = []
        while try q.step() {
            let conn = LiveConnection(id: q.int64(0), source: source, rule: q.string(1) ?? "", lane: q.string(2) ?? "", line: q.int(8), stage: q.int(3))
            conn.process = q.string(4)
            conn.thread = q.string(5)
            if !q.isNull(6) { conn.startTime = Timestamp(micros: q.int64(6)) }
            if !q.isNull(7) { conn.endTime = Timestamp(micros: q.int64(7)) }
            conn.lastLine = q.int(9)
            conn.outcome = LiveConnection.Outcome(rawValue: q.string(10) ?? "open") ?? .open
            conn.ended = q.int(11) != 0
            for ref in ([q.string(12)] + (q.string(13) ?? "").split(separator: " ").map(String.init)).compactMap({ $0 }) {
                guard let r = CodeRef(Substring(ref)), let resolved = run.plugins.catalogueIndex(r.catalogue),
                      let v = run.plugins.catalogues[resolved].value(fromCatalogueText: r.code) else { continue }
                conn.failures.append((resolved, v))
            }
            conn.records = q.int(14)
            for (i, name) in columns.enumerated() {
                if case let value = q.value(Int32(15 + i)), value != .null { conn.fields.append((name, TableWriter.display(value))) }
            }
            live.append(conn)
        }
        // Counts again from the records kept (a dropped tail took some away).
        let count = try db.prepare("SELECT count(*) FROM records WHERE conn = ?1")
        for conn in live {
            try count.bind([.int(conn.id)])
            if try count.step() { conn.records = count.int(0) }
        }
        var keys: [(conn: Int64, name: String, value: String)] = []
        let byID = Dictionary(live.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let k = try db.prepare("SELECT conn, name, value FROM conn_keys WHERE conn IN (SELECT value FROM json_each(?1))")
        try k.bind([.text("[" + live.map { String($0.id) }.joined(separator: ",") + "]")])
        while try k.step() {
            let id = k.int64(0), name = k.string(1) ?? "", value = k.string(2) ?? ""
            keys.append((id, name, value))
            byID[id]?.fields.append((name, value))
        }
        c.restore(live, keys: keys, laneState: laneState)
    }

    func consume(_ r: inout Record) throws {
        if let startError { throw startError }
        let conn = correlator?.assign(r)
        let start = batch.text.count
        r.bytes.withUnsafeBufferPointer { batch.text.append($0) }
        var failure = false
        let firstCode = batch.codes.count
        for c in r.codes {
            let f = run.plugins.catalogues[c.catalogue].isFailure(c.value)
            failure = failure || f
            batch.codes.append((c.catalogue, c.value, f))
        }
        let time = r.time.map { $0.hasDate ? $0.micros : $0.micros }
        batch.rows.append(.init(line: r.line, lines: max(r.lineCount, 1), time: time, level: r.level, rawLevel: r.rawLevel,
                                textStart: start, textEnd: batch.text.count, process: r.range(.process), thread: r.range(.thread),
                                function: r.range(.function), conn: conn, failure: failure, unparsed: r.isUnparsed,
                                firstCode: firstCode, codeCount: r.codes.count))
        records += 1
        pending.records += 1
        if r.isUnparsed { unparsed += 1; pending.unparsed += 1 }
        if conn == nil { pending.unlinked += 1 }
        pending.codes += r.codes.count
        if failure { pending.failureCodes += r.codes.filter { run.plugins.catalogues[$0.catalogue].isFailure($0.value) }.count }
        if let t = time {
            if pending.firstTime == nil { pending.firstTime = t }
            pending.lastTime = t
        }
    }

    /// Checked after every line: cheap (a count), except every 4096 records the stop flag.
    var wantsCheckpoint: Bool {
        if batch.count >= batchLimit { return true }
        if let stop = run.options.stop, batch.count & 4095 == 4095 || batch.count == 0 { return stop.requested && batch.count > 0 }
        return false
    }

    func checkpoint(_ point: ResumePoint) throws {
        pending.resume = point
        try commit()
        progress?.update(done: point.offset, records: records)
        if run.options.stop?.requested == true {
            try writer?.close()
            throw IngestInterrupted(path: path, line: point.line)
        }
    }

    private var inTail = false
    private var tailLanes: String?

    func beginTail(_ point: ResumePoint) throws {
        if let startError { throw startError }
        pending.resume = point
        try commit()
        inTail = true
        tailLanes = correlator?.laneState
    }

    func finish(_ point: ResumePoint) throws {
        if let startError { throw startError }
        pending.resume = point
        pending.tail = inTail
        pending.completedSize = size
        try commit()
        try writer?.close()
    }

    /// Hands the batch, the connections it changed and the new offset to the writer thread.
    private func commit() throws {
        guard let writer else { return }
        let changed = correlator?.takeChanges() ?? []
        // The tail is redone from its start, so the lanes saved are those before it.
        pending.lanes = inTail ? tailLanes : correlator?.laneState
        connectionsCreated = correlator?.created ?? 0
        let rows = changed.map { ConnectionRow($0, plugins: run.plugins, process: process) }
        try writer.submit(.init(batch: batch, connections: rows, progress: pending))
        commits += 1
        batch = try writer.emptyBatch()
        pending = SourceProgress(resume: pending.resume)
    }

    /// Waits for the writer after a failure elsewhere (its error, if any, is the one to report).
    func abandon() { try? writer?.close() }

    func endProgress() { progress?.finish() }
}

/// The one-line progress report on a terminal: bytes done, MB/s, records.
final class ProgressLine {
    let path: String
    let total: Int
    let started = Date()
    private var lastDraw = Date.distantPast

    init(path: String, total: Int) { self.path = path; self.total = total }

    func update(done: Int, records: Int) {
        let now = Date()
        guard now.timeIntervalSince(lastDraw) > 0.25 else { return }
        lastDraw = now
        let secs = max(now.timeIntervalSince(started), 0.001)
        let mb = Double(done) / 1_048_576
        let line = String(format: "\r%@: %.0f of %.0f MB (%.0f%%), %.0f MB/s, %d records", (path as NSString).lastPathComponent,
                          mb, Double(total) / 1_048_576, min(100, Double(done) * 100 / Double(max(total, 1))), mb / secs, records)
        let bytes = Array((line + "\u{1B}[K").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }

    func finish() {
        let bytes = Array("\r\u{1B}[K".utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}
