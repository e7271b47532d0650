import TraceLensInput
import TraceLensRecords
import TraceLensPlugins
import TraceLensCorrelate

/// Records of one batch, as flat arrays: filled by the ingest sink, written in one transaction.
/// One thread holds it at a time: the sink fills it, hands it to the writer thread, and gets it
/// back empty (`BackgroundWriter`).
package final class RecordBatch: @unchecked Sendable {  // owns `text`, a raw byte buffer the block encoder reads through its pointers
    package var text = ByteBuffer(capacity: 4 << 20)
    package struct Row {
        package var line: Int
        package var lines: Int
        package var time: Int64?
        package var level: Level
        package var rawLevel: Range<Int>?
        package var textStart: Int
        package var textEnd: Int
        package var process: Range<Int>?
        package var thread: Range<Int>?
        package var function: Range<Int>?
        package var conn: Int64?
        package var failure: Bool
        package var unparsed: Bool
        package var firstCode: Int
        package var codeCount: Int
        package init(line: Int, lines: Int, time: Int64? = nil, level: Level, rawLevel: Range<Int>? = nil, textStart: Int, textEnd: Int, process: Range<Int>? = nil, thread: Range<Int>? = nil, function: Range<Int>? = nil, conn: Int64? = nil, failure: Bool, unparsed: Bool, firstCode: Int, codeCount: Int) {
            self.line = line
            self.lines = lines
            self.time = time
            self.level = level
            self.rawLevel = rawLevel
            self.textStart = textStart
            self.textEnd = textEnd
            self.process = process
            self.thread = thread
            self.function = function
            self.conn = conn
            self.failure = failure
            self.unparsed = unparsed
            self.firstCode = firstCode
            self.codeCount = codeCount
        }
    }
    package var rows: [Row] = []
    package var codes: [(catalogue: Int, value: CodeValue, failure: Bool)] = []
    /// What later stages read from the records (TLS messages): written to `tls_messages`.
    package var annotations: [(line: Int, conn: Int64?, annotation: Annotation)] = []

    package init() { rows.reserveCapacity(1 << 14) }

    package var count: Int { rows.count }

    package func removeAll() {
        text.removeAll()
        rows.removeAll(keepingCapacity: true)
        codes.removeAll(keepingCapacity: true)
        annotations.removeAll(keepingCapacity: true)
    }
}

/// How far a source has been read, written with each batch.
package struct SourceProgress: Sendable {
    package var resume: ResumePoint
    /// The file's size, written only when the whole file has been read: an interrupted ingest
    /// leaves the old size, so the next one sees the file as grown and resumes.
    package var completedSize: Int64?
    package var lanes: String?
    /// The batch holds the file's last record(s), after `resume`: a later ingest redoes them.
    package var tail = false
    package var records = 0, unparsed = 0, unlinked = 0, codes = 0, failureCodes = 0, secretsMasked = 0
    package var firstTime: Int64?, lastTime: Int64?
    package init(resume: ResumePoint) { self.resume = resume }
}

/// Writes batches to the store: records, their codes, the connections they changed and the
/// source's read offset, all in one transaction, so that a crash leaves either all of a batch
/// or none of it (and the offset says which). Lives on the writer thread, on that thread's own
/// connection (see `BackgroundWriter`).
package final class StoreWriter {
    package let db: Database
    package let plugins: PluginSet
    package let source: Int64
    package let process: String?
    private let insertMessage: Statement
    private let insertValue: Statement
    private let blocks: RecordBlockWriter
    private let countCode: Statement
    private let writeConnection: Statement
    private let insertKey: Statement
    private let updateSource: Statement
    private var codeText: [CodeKey: String] = [:]
    /// `"ssl:431"` as JSON-ready bytes, with the failure mark, made once per code.
    private var codeJSON: [CodeKey: [UInt8]] = [:]
    private var codesScratch: [UInt8] = []
    private let levelNames: [[UInt8]] = Level.allCases.map { Array($0.name.utf8) }

    package struct CodeKey: Hashable { var catalogue: Int; var value: CodeValue }

    package init(db: Database, plugins: PluginSet, source: Int64, process: String?) throws {
        self.db = db
        self.plugins = plugins
        self.source = source
        self.process = process
        insertMessage = try db.prepare("INSERT INTO tls_messages (source, line, conn, direction, message, version, text) VALUES (?, ?, ?, ?, ?, ?, ?)")
        insertValue = try db.prepare("INSERT INTO tls_values (message, field, value, catalogue) VALUES (?, ?, ?, ?)")
        blocks = try RecordBlockWriter(db: db)
        countCode = try db.prepare("""
            INSERT INTO code_counts (source, catalogue, code, failure, count) VALUES (?1, ?2, ?3, ?4, ?5)
            ON CONFLICT (source, catalogue, code) DO UPDATE SET count = count + excluded.count
            """)
        writeConnection = try db.prepare("""
            INSERT OR REPLACE INTO connections (id, source, rule, lane, stage, process, thread, start_time, end_time, first_line, last_line,
                peer_ip, peer_port, local_ip, local_port, protocol, cipher, subject, issuer, outcome, ended, error, related, records)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)
            """)
        insertKey = try db.prepare("INSERT OR IGNORE INTO conn_keys (conn, name, value) VALUES (?1, ?2, ?3)")
        updateSource = try db.prepare("""
            UPDATE sources SET offset = ?2, line = ?3, reader_state = ?4, size = coalesce(?5, size), records = records + ?6, unparsed = unparsed + ?7,
                codes = codes + ?8, failure_codes = failure_codes + ?9, secrets_masked = secrets_masked + ?10,
                first_time = coalesce(first_time, ?11), last_time = coalesce(?12, last_time), lanes = ?13, tail_record = ?14, unlinked = unlinked + ?15, updated_at = datetime('now')
            WHERE id = ?1
            """)
    }

    package func code(_ catalogue: Int, _ value: CodeValue) -> String {
        let key = CodeKey(catalogue: catalogue, value: value)
        if let s = codeText[key] { return s }
        let s = plugins.catalogues[catalogue].display(value)
        codeText[key] = s
        return s
    }

    package func json(_ key: CodeKey, failure: Bool) -> [UInt8] {
        if let b = codeJSON[key] { return b }
        let b = Array(JSON.quote((failure ? "!" : "") + reference(key.catalogue, key.value)).utf8)
        codeJSON[key] = b
        return b
    }

    package func reference(_ catalogue: Int, _ value: CodeValue) -> String { plugins.catalogues[catalogue].id + ":" + code(catalogue, value) }

    /// Writes one batch and the source's progress in one transaction.
    package func commit(_ batch: RecordBatch, connections: [ConnectionRow], progress: SourceProgress) throws {
        try db.transaction {
            try blocks.begin()
            // The tail's records start a block of their own, so a later ingest drops whole blocks.
            let tailRecord: SQLValue = progress.tail ? .int(blocks.nextID) : .null
            try writeRecords(batch)
            try writeAnnotations(batch)
            for c in connections { try write(c) }
            try updateSource.bind([.int(source), .int(Int64(progress.resume.offset)), .int(Int64(progress.resume.line)),
                                   .text(progress.resume.stateText), progress.completedSize.map(SQLValue.int) ?? .null, .int(Int64(progress.records)),
                                   .int(Int64(progress.unparsed)), .int(Int64(progress.codes)), .int(Int64(progress.failureCodes)),
                                   .int(Int64(progress.secretsMasked)), progress.firstTime.map(SQLValue.int) ?? .null,
                                   progress.lastTime.map(SQLValue.int) ?? .null, progress.lanes.map(SQLValue.text) ?? .null, tailRecord,
                                   .int(Int64(progress.unlinked))])
            try updateSource.run()
        }
    }

    /// Packs the batch's records into blocks (see `RecordBlock`) and counts their codes.
    private func writeRecords(_ batch: RecordBatch) throws {
        var counts: [CodeKey: (failure: Bool, count: Int)] = [:]
        let base = UnsafeRawPointer(batch.text.base)
        for row in batch.rows {
            func field(_ r: Range<Int>?) -> UnsafeRawBufferPointer? {
                r.map { UnsafeRawBufferPointer(start: base + row.textStart + $0.lowerBound, count: $0.count) }
            }
            var codes = false
            if row.codeCount > 0 {
                codes = true
                codesScratch.removeAll(keepingCapacity: true)
                codesScratch.append(0x5B)
                for i in row.firstCode..<(row.firstCode + row.codeCount) {
                    let c = batch.codes[i]
                    let key = CodeKey(catalogue: c.catalogue, value: c.value)
                    if i > row.firstCode { codesScratch.append(0x2C) }
                    codesScratch.append(contentsOf: json(key, failure: c.failure))
                    counts[key, default: (c.failure, 0)].count += 1
                }
                codesScratch.append(0x5D)
            }
            let text = UnsafeRawBufferPointer(start: base + row.textStart, count: row.textEnd - row.textStart)
            // A level as written (`.other`) is kept as written; no level at all for an unparsed line.
            let asWritten = row.level == .other && row.rawLevel != nil
            let level: [UInt8]? = row.unparsed || asWritten ? nil : levelNames[Int(row.level.rawValue)]
            let rawLevel = row.unparsed || !asWritten ? nil : field(row.rawLevel)
            func append(_ level: UnsafeRawBufferPointer?, _ codes: UnsafeRawBufferPointer?) {
                blocks.encoder.append(line: row.line, lines: row.lines, time: row.time, level: level, process: field(row.process),
                                      thread: field(row.thread), function: row.function.map { ($0.lowerBound, $0.count) }, conn: row.conn,
                                      failure: row.failure, codes: codes, text: text)
            }
            func withCodes(_ level: UnsafeRawBufferPointer?) {
                if codes { codesScratch.withUnsafeBytes { append(level, $0) } } else { append(level, nil) }
            }
            if let level { level.withUnsafeBytes { withCodes($0) } } else { withCodes(rawLevel) }
            if blocks.encoder.isFull { try blocks.flush(source: source) }
        }
        try blocks.flush(source: source)
        for (key, v) in counts {
            try countCode.bind([.int(source), .text(plugins.catalogues[key.catalogue].id), .text(code(key.catalogue, key.value)),
                                .int(v.failure ? 1 : 0), .int(Int64(v.count))])
            try countCode.run()
        }
    }

    /// One `tls_messages` row per message, its values in `tls_values`.
    private func writeAnnotations(_ batch: RecordBatch) throws {
        for (line, conn, a) in batch.annotations where a.kind == "tls" {
            try insertMessage.bind([.int(source), .int(Int64(line)), conn.map(SQLValue.int) ?? .null,
                                    .text(a.values("direction").first ?? ""), .text(a.values("message").first ?? ""),
                                    a.values("version").first.map(SQLValue.text) ?? .null, .text(a.text)])
            try insertMessage.run()
            let id = db.lastInsertRowID
            for f in a.fields where !["message", "direction", "version"].contains(f.name) {
                for v in f.values {
                    try insertValue.bind([.int(id), .text(f.name), .text(v), f.catalogue.map(SQLValue.text) ?? .null])
                    try insertValue.run()
                }
            }
        }
    }

    private func write(_ c: ConnectionRow) throws {
        try writeConnection.bind(c.values)
        try writeConnection.run()
        for k in c.keys {
            try insertKey.bind([.int(c.id), .text(k.name), .text(k.value)])
            try insertKey.run()
        }
    }
}

/// A connection's row as it stands at a checkpoint: a copy, so the writer thread never reads a
/// connection that correlation is still changing.
package struct ConnectionRow: Sendable {
    package var id: Int64
    package var values: [SQLValue]
    package var keys: [(name: String, value: String)]

    package init(_ c: LiveConnection, plugins: PluginSet, process: String?) {
        func text(_ name: String) -> SQLValue { c.field(name).map(SQLValue.text) ?? .null }
        func number(_ name: String) -> SQLValue { c.field(name).flatMap { Int64($0) }.map(SQLValue.int) ?? .null }
        func reference(_ f: (catalogue: Int, value: CodeValue)) -> String {
            let cat = plugins.catalogues[f.catalogue]
            return cat.id + ":" + cat.display(f.value)
        }
        let error = c.failures.first.map(reference)
        let related = c.failures.dropFirst().map(reference).joined(separator: " ")
        id = c.id
        values = [
            .int(c.id), .int(c.source), .text(c.rule), .text(c.lane), .int(Int64(c.stage)),
            c.process.map(SQLValue.text) ?? (process.map(SQLValue.text) ?? .null), c.thread.map(SQLValue.text) ?? .null,
            c.startTime.map { .int($0.micros) } ?? .null, c.endTime.map { .int($0.micros) } ?? .null,
            .int(Int64(c.firstLine)), .int(Int64(c.lastLine)),
            text("peer_ip"), number("peer_port"), text("local_ip"), number("local_port"),
            text("protocol"), text("cipher"), text("subject"), text("issuer"),
            .text(c.outcome.rawValue), .int(c.ended ? 1 : 0),
            error.map(SQLValue.text) ?? .null, related.isEmpty ? .null : .text(related), .int(Int64(c.records)),
        ]
        keys = c.newKeys
        c.newKeys.removeAll()
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
