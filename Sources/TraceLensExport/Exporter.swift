import Foundation
import TraceLensInput
import TraceLensPlugins
import TraceLensStore

/// How much an export batch holds and how the daemon's exporter waits.
package struct ExportOptions: Sendable, Equatable {
    package var batchRecords = 5_000
    package var batchConnections = 1_000
    /// A batch stops growing near this much JSON, whatever the record count (long dump records).
    package var batchBytes = 4 << 20
    /// How often a caught-up exporter looks for new rows.
    package var interval = 1.0
    /// The longest wait between tries while the engine is down (the first is 1 s, then doubled).
    package var maxBackoff = 60.0
    package init() {}
}

/// What an exporter reports, for the daemon's log.
package enum ExportEvent: Sendable {
    case started(sink: String, target: String, cursor: SinkCursor, restarted: Bool)
    case sent(sink: String, records: Int, connections: Int)
    case caughtUp(sink: String, records: Int64, connections: Int64)
    case failed(sink: String, error: String, retryIn: Double)
    case recovered(sink: String, after: Int)
    case stopped(sink: String)
}

/// What a run of `export` sent.
package struct ExportTotals: Sendable, Equatable {
    package var records = 0
    package var connections = 0
    package var batches = 0
}

/// One sink's exporter: reads rows after its cursor, sends them, and moves the cursor only
/// when the engine acknowledged them (in `export_sinks`, one row per sink). A crash between
/// the two sends the batch again, which the engine absorbs (see `ExportSink`). Uses its own
/// connections to the store, so it runs beside the writer (the daemon runs it on its own thread).
package final class Exporter {
    package let sink: ExportSink
    package let options: ExportOptions
    private let cursorStore: Store
    private let reader: ExportReader
    package private(set) var cursor: SinkCursor
    /// The cursor was reset because the sink's target changed.
    package private(set) var restarted = false

    package init(storePath: String, plugins: PluginSet, host: String, sink: ExportSink, options: ExportOptions = ExportOptions()) throws {
        self.sink = sink
        self.options = options
        // Opening for writing brings an older store up to the version with revisions and cursors.
        cursorStore = try Store.openForWriting(storePath)
        reader = ExportReader(store: try Store.openForReading(storePath), plugins: plugins, host: host)
        let db = cursorStore.db
        var loaded = SinkCursor()
        var previousTarget: String?
        var reset = false
        try db.transaction {
            let q = try db.prepare("SELECT record, revision, position, target, kind FROM export_sinks WHERE sink = ?1")
            try q.bind([.text(sink.name)])
            if try q.step() {
                loaded = SinkCursor(record: q.int64(0), revision: q.int64(1), position: q.int64(2))
                previousTarget = (q.string(4) ?? "") + " " + (q.string(3) ?? "")
            }
            // A sink pointed somewhere else starts from the beginning there.
            if let previousTarget, previousTarget != sink.kind + " " + sink.target {
                loaded = SinkCursor()
                reset = true
            }
            let upsert = try db.prepare("""
                INSERT INTO export_sinks (sink, kind, target, record, revision, position, state, pid)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'starting', ?7)
                ON CONFLICT (sink) DO UPDATE SET kind = ?2, target = ?3, record = ?4, revision = ?5, position = ?6,
                    records = CASE WHEN ?8 THEN 0 ELSE records END, connections = CASE WHEN ?8 THEN 0 ELSE connections END,
                    state = 'starting', pid = ?7, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                """)
            try upsert.bind([.text(sink.name), .text(sink.kind), .text(sink.target), .int(loaded.record), .int(loaded.revision),
                             .int(loaded.position), .int(Int64(Platform.processID)), .int(reset ? 1 : 0)])
            try upsert.run()
        }
        cursor = loaded
        restarted = reset
        let resumed = try sink.resume(from: loaded)
        if resumed != loaded {
            cursor = resumed
            try saveCursor(records: 0, connections: 0, state: "starting")
        }
    }

    /// Sends one batch and moves the cursor. Returns what was sent (nothing: caught up).
    package func step() throws -> (records: Int, connections: Int) {
        let now = Platform.wallClockMicros() / 1_000_000
        let type = sink.typedRows
        let connections = try reader.connections(after: cursor.revision, limit: options.batchConnections,
                                                 type: type ? "connection" : nil, exportedAt: now)
        let records = try reader.records(after: cursor.record, limit: options.batchRecords, maxBytes: options.batchBytes,
                                         type: type ? "record" : nil, exportedAt: now)
        guard !records.isEmpty || !connections.isEmpty else { return (0, 0) }
        let position = try sink.send(records: records, connections: connections, cursor: cursor)
        if !records.isEmpty { cursor.record = records.last }
        if !connections.isEmpty { cursor.revision = connections.last }
        cursor.position = position
        try saveCursor(records: records.count, connections: connections.count, state: "sending")
        if let moved = try sink.settle(cursor) {
            cursor.position = moved
            try saveCursor(records: 0, connections: 0, state: "sending")
        }
        return (records.count, connections.count)
    }

    /// Sends everything stored so far (`tracelens export --to`), batch after batch.
    package func exportAll(stop: StopSignal? = nil, progress: (ExportTotals) -> Void = { _ in }) throws -> ExportTotals {
        var totals = ExportTotals()
        do {
            while stop?.requested != true {
                let sent = try step()
                if sent.records == 0 && sent.connections == 0 { break }
                totals.records += sent.records
                totals.connections += sent.connections
                totals.batches += 1
                progress(totals)
            }
            try setState(stop?.requested == true ? "stopped" : "caught up")
        } catch {
            try? setState("failed", error: "\(error)")
            throw error
        }
        return totals
    }

    /// The daemon's loop: sends rows as they are stored; while the engine is down, says so (in
    /// `export_sinks` for `status`, and through `report`), waits 1 s, 2 s, 4 s ... up to
    /// `maxBackoff`, and tries again from the cursor, so nothing is lost and nothing is held in
    /// memory but one batch. Ends when `stop` is requested.
    package func run(stop: StopSignal, report: (ExportEvent) -> Void) {
        report(.started(sink: sink.name, target: sink.target, cursor: cursor, restarted: restarted))
        var failures = 0
        var caughtUp = false
        while !stop.requested {
            do {
                let sent = try step()
                if failures > 0 {
                    report(.recovered(sink: sink.name, after: failures))
                    failures = 0
                }
                if sent.records == 0 && sent.connections == 0 {
                    if !caughtUp {
                        caughtUp = true
                        try setState("caught up")
                        report(.caughtUp(sink: sink.name, records: cursor.record, connections: cursor.revision))
                    }
                    wait(options.interval, stop)
                } else {
                    caughtUp = false
                    report(.sent(sink: sink.name, records: sent.records, connections: sent.connections))
                }
            } catch {
                failures += 1
                caughtUp = false
                let delay = min(options.maxBackoff, pow(2, Double(min(failures - 1, 30))))
                try? setState("retrying", error: "\(error)")
                // A batch half written (a full disk) is cut back before it is tried again.
                if let resumed = try? sink.resume(from: cursor) { cursor = resumed }
                report(.failed(sink: sink.name, error: "\(error)", retryIn: delay))
                wait(delay, stop)
            }
        }
        try? setState("stopped")
        report(.stopped(sink: sink.name))
    }

    private func wait(_ seconds: Double, _ stop: StopSignal) {
        let end = Platform.monotonicSeconds() + seconds
        while !stop.requested {
            let left = end - Platform.monotonicSeconds()
            if left <= 0 { return }
            Platform.sleep(seconds: min(left, 0.1))
        }
    }

    private func saveCursor(records: Int, connections: Int, state: String) throws {
        let db = cursorStore.db
        try db.transaction {
            let s = try db.prepare("""
                UPDATE export_sinks SET record = ?2, revision = ?3, position = ?4, records = records + ?5, connections = connections + ?6,
                    state = ?7, last_error = NULL, acked_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
                    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                WHERE sink = ?1
                """)
            try s.bind([.text(sink.name), .int(cursor.record), .int(cursor.revision), .int(cursor.position),
                        .int(Int64(records)), .int(Int64(connections)), .text(state)])
            try s.run()
        }
    }

    private func setState(_ state: String, error: String? = nil) throws {
        let db = cursorStore.db
        try db.transaction {
            let s = try db.prepare("""
                UPDATE export_sinks SET state = ?2, last_error = coalesce(?3, last_error),
                    error_at = CASE WHEN ?3 IS NULL THEN error_at ELSE strftime('%Y-%m-%dT%H:%M:%fZ', 'now') END,
                    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                WHERE sink = ?1
                """)
            try s.bind([.text(sink.name), .text(state), error.map(SQLValue.text) ?? .null])
            try s.run()
        }
    }
}
