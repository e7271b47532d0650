import Foundation
import TraceLensInput

/// Where a sink's cursor stands: what its engine has acknowledged.
package struct SinkCursor: Sendable, Equatable {
    /// Records up to this id are acknowledged.
    package var record: Int64 = 0
    /// Connection revisions up to this are acknowledged.
    package var revision: Int64 = 0
    /// The sink's own position after the last acknowledged batch (the ndjson file's length).
    package var position: Int64 = 0
    package init(record: Int64 = 0, revision: Int64 = 0, position: Int64 = 0) {
        self.record = record
        self.revision = revision
        self.position = position
    }
}

/// A place decoded rows go. `send` returns only once the engine has them for good (ClickHouse
/// answered 200; the file is written and synced), and the exporter moves the cursor only then.
package protocol ExportSink: AnyObject {
    /// The sink's name, the key of its cursor (`[[export]] name`).
    var name: String { get }
    /// clickhouse or ndjson.
    var kind: String { get }
    /// Where it sends, as shown by `status` (never with a password).
    var target: String { get }
    /// Whether its lines say their table (`"type":"record"`): lines of one file mix tables.
    var typedRows: Bool { get }
    /// Brings the engine to the acknowledged cursor: ClickHouse needs nothing (rows sent again
    /// replace themselves); the ndjson file is cut back to the last acknowledged batch.
    func resume(from cursor: SinkCursor) throws -> SinkCursor
    /// Sends one batch; returns the sink's position once acknowledged.
    func send(records: ExportRows, connections: ExportRows, cursor: SinkCursor) throws -> Int64
    /// After a batch's cursor is stored: the new position if the sink moved on (a rotated file
    /// starts at 0), nil if not. Done after, so a crash in between leaves nothing to send twice.
    func settle(_ cursor: SinkCursor) throws -> Int64?
}

/// Rows to ClickHouse over HTTP: records and connections each one `INSERT ... FORMAT
/// JSONEachRow`. A batch sent twice (a crash before the cursor moved, a timeout after the
/// server took it) replaces itself: the tables are ReplacingMergeTrees keyed by origin.
package final class ClickHouseSink: ExportSink {
    package let name: String
    package let client: ClickHouseClient
    package var kind: String { "clickhouse" }
    package var target: String { "http://\(client.server) database \(client.database)" }
    package var typedRows: Bool { false }

    package init(name: String, client: ClickHouseClient) {
        self.name = name
        self.client = client
    }

    package func resume(from cursor: SinkCursor) throws -> SinkCursor { cursor }
    package func settle(_ cursor: SinkCursor) throws -> Int64? { nil }

    package func send(records: ExportRows, connections: ExportRows, cursor: SinkCursor) throws -> Int64 {
        if !connections.isEmpty { try client.insert(table: "connections", jsonEachRow: connections.json) }
        if !records.isEmpty { try client.insert(table: "records", jsonEachRow: records.json) }
        return 0
    }
}

/// Rows to a newline-delimited JSON file for a log shipper (Fluent Bit, Vector, Filebeat):
/// one object per line with `"type"` naming its table. When the file passes `maxSize` it is
/// renamed `FILE.1` (older ones `FILE.2` ... up to `keep`) and a new file begun, as shippers
/// that follow rotated files expect.
///
/// Exactly once across a crash: a batch is written with one write, synced, and only then does
/// the cursor record the file's new length; at start a file longer than that (a batch written
/// but not acknowledged) is cut back to it, so the batch sent again is not there twice.
package final class NDJSONSink: ExportSink {
    package let name: String
    package let path: String
    package let maxSize: Int64
    package let keep: Int
    package var kind: String { "ndjson" }
    package var target: String { path }
    package var typedRows: Bool { true }

    package enum Problem: Error, CustomStringConvertible {
        case cannotWrite(path: String, reason: String)
        package var description: String {
            switch self {
            case let .cannotWrite(path, reason): return "cannot write \(path): \(reason)"
            }
        }
    }

    package init(name: String, path: String, maxSize: Int64 = 100 << 20, keep: Int = 5) {
        self.name = name
        self.path = path
        self.maxSize = max(1, maxSize)
        self.keep = max(1, keep)
    }

    package func resume(from cursor: SinkCursor) throws -> SinkCursor {
        var cursor = cursor
        guard let status = Platform.status(path: path) else {
            // Renamed away by a rotation the cursor had not recorded yet (or removed): a new file.
            cursor.position = 0
            return cursor
        }
        if status.size > cursor.position {
            let fd = Platform.openForWriting(path, truncate: false)
            guard fd >= 0 else { throw Problem.cannotWrite(path: path, reason: Platform.errorText(Platform.lastError)) }
            defer { Platform.close(fd) }
            Platform.truncate(fd, to: cursor.position)
            guard Platform.sync(fd) else { throw Problem.cannotWrite(path: path, reason: Platform.errorText(Platform.lastError)) }
        } else if status.size < cursor.position {
            // Cut by someone else (a copy-and-truncate rotation): go on from its end.
            cursor.position = status.size
        }
        return cursor
    }

    package func send(records: ExportRows, connections: ExportRows, cursor: SinkCursor) throws -> Int64 {
        let position = cursor.position
        let fd = Platform.openForWriting(path, truncate: false, append: true, mode: 0o640)
        guard fd >= 0 else { throw Problem.cannotWrite(path: path, reason: Platform.errorText(Platform.lastError)) }
        defer { Platform.close(fd) }
        // One write for the batch: a kill leaves all of it or none of it to cut back.
        let batch = connections.json + records.json
        guard Platform.writeAll(fd, batch), Platform.sync(fd) else {
            throw Problem.cannotWrite(path: path, reason: Platform.errorText(Platform.lastError))
        }
        return (Platform.status(descriptor: fd)?.size) ?? position + Int64(batch.count)
    }

    package func settle(_ cursor: SinkCursor) throws -> Int64? {
        guard cursor.position >= maxSize else { return nil }
        try rotate()
        return 0
    }

    /// FILE → FILE.1, FILE.1 → FILE.2, ..., the oldest beyond `keep` replaced.
    private func rotate() throws {
        for n in stride(from: keep - 1, through: 1, by: -1) where Platform.status(path: "\(path).\(n)") != nil {
            if let why = Platform.rename("\(path).\(n)", to: "\(path).\(n + 1)") { throw Problem.cannotWrite(path: "\(path).\(n + 1)", reason: why) }
        }
        if let why = Platform.rename(path, to: "\(path).1") { throw Problem.cannotWrite(path: "\(path).1", reason: why) }
    }
}
