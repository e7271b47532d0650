import Foundation
import TraceLensInput
import TraceLensDecode
import TraceLensPlugins
import TraceLensStore
import TraceLensDiagnose

/// Rows ready to send: one JSON object per line (ClickHouse's JSONEachRow, and the ndjson
/// sink's lines), with the cursor position of the last one.
package struct ExportRows: Sendable {
    package var json: [UInt8] = []
    package var count = 0
    /// The record id or connection revision of the last row: the cursor once acknowledged.
    package var last: Int64 = 0
    package var isEmpty: Bool { count == 0 }
}

/// What the sinks send: the stored records after a record id and the connections revised after
/// a revision, as rows of the fleet tables (`FleetSchema`). Every row carries the host name;
/// texts are the stored ones, so secrets are masked as everywhere; codes carry their names from
/// today's catalogues, and failed stories the doctor's findings.
package final class ExportReader {
    package let store: Store
    package let plugins: PluginSet
    package let host: String
    private let doctor: Doctor
    private let preambles = PreambleCache()
    private var sources: [Int64: (path: String, layout: String?)] = [:]
    private var codeNames: [String: String] = [:]

    /// `typeField`: the ndjson sink's lines say which table they belong to (`"type":"record"`).
    package init(store: Store, plugins: PluginSet, host: String) {
        self.store = store
        self.plugins = plugins
        self.host = host
        doctor = Doctor(plugins: plugins)
    }

    private func source(_ id: Int64) throws -> (path: String, layout: String?) {
        if let s = sources[id] { return s }
        let q = try store.db.prepare("SELECT path, layout FROM sources WHERE id = ?1")
        try q.bind([.int(id)])
        let s = try q.step() ? (q.string(0) ?? "", q.string(1)) : ("", nil)
        // A source's layout is known once detected; keep asking until it is.
        if s.1 != nil { sources[id] = s }
        return s
    }

    /// The catalogue's name for a code (`ssl:431` → `GSK_ERR_...`), '' when it has none.
    private func name(_ ref: String) -> String {
        if let n = codeNames[ref] { return n }
        let n = CodeRef(Substring(ref)).flatMap { plugins.resolve($0)?.entry?.name } ?? ""
        codeNames[ref] = n
        return n
    }

    /// Up to `limit` records with ids above `after`, stopping near `maxBytes` of JSON.
    package func records(after: Int64, limit: Int, maxBytes: Int = 8 << 20, type: String? = nil, exportedAt: Int64) throws -> ExportRows {
        let q = try store.db.prepare("""
            SELECT id, source, line, lines, time, level, process, thread, function, conn, failure, codes, text
            FROM records WHERE id > ?1 ORDER BY id LIMIT ?2
            """)
        try q.bind([.int(after), .int(Int64(limit))])
        let out = ByteBuffer(capacity: 1 << 20)
        var rows = ExportRows()
        let exported = Self.dateTime(exportedAt)
        while try q.step() {
            let id = q.int64(0)
            let (path, layout) = try source(q.int64(1))
            var codes: [String] = [], failures: [String] = []
            if let list = q.string(11) {
                for item in list.dropFirst().dropLast().split(separator: ",") {
                    var code = item.trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
                    if code.hasPrefix("!") { code.removeFirst(); failures.append(code) }
                    codes.append(code)
                }
            }
            let time: Int64? = q.isNull(4) ? nil : q.int64(4)
            openRow(type: type, source: q.int64(1), path: path, layout: layout, out)
            field("line", out); out.append(String(q.int64(2)))
            field("lines", out); out.append(String(q.int64(3)))
            field("record_id", out); out.append(String(id))
            field("time_us", out); out.append(time.map(String.init) ?? "null")
            field("time", out); JSON.string(Self.dateTime(time.map { $0 / 1_000_000 } ?? 0), out)
            field("level", out); optional(q.string(5), out)
            field("process", out); optional(q.string(6), out)
            field("thread", out); optional(q.string(7), out)
            field("function", out); optional(q.string(8), out)
            field("conn", out); out.append(q.isNull(9) ? "null" : String(q.int64(9)))
            field("failure", out); out.append(q.int64(10) != 0 ? "1" : "0")
            field("codes", out); array(codes, out)
            field("code_names", out); array(codes.map(name), out)
            field("failure_codes", out); array(failures, out)
            field("message", out)
            if let text = q.textBytes(12) {
                JSON.bytes(ArraySlice(text.bindMemory(to: UInt8.self)), out)
            } else {
                out.append("\"\"")
            }
            field("exported_at", out); JSON.string(exported, out)
            out.append("}\n")
            rows.count += 1
            rows.last = id
            if out.count >= maxBytes { break }
        }
        rows.json = out.bytes
        return rows
    }

    /// Up to `limit` connections revised after `after`, in revision order.
    package func connections(after: Int64, limit: Int, type: String? = nil, exportedAt: Int64) throws -> ExportRows {
        let q = try store.db.prepare("""
            SELECT c.id, c.source, c.first_line, c.last_line, c.revision, c.rule, c.process, c.thread, c.start_time, c.end_time,
                   c.peer_ip, c.peer_port, c.local_ip, c.local_port,
                   (SELECT value FROM conn_keys k WHERE k.conn = c.id AND k.name = 'server_host' LIMIT 1),
                   (SELECT value FROM conn_keys k WHERE k.conn = c.id AND k.name = 'server_ip' LIMIT 1),
                   (SELECT value FROM conn_keys k WHERE k.conn = c.id AND k.name = 'server_port' LIMIT 1),
                   c.protocol, c.cipher, c.subject, c.issuer, c.outcome, c.ended, c.error, c.related, c.records, c.story,
                   l.rule, l.gap, l.evidence
            FROM connections c LEFT JOIN links l ON l.conn = c.id
            WHERE c.revision > ?1 ORDER BY c.revision LIMIT ?2
            """)
        try q.bind([.int(after), .int(Int64(limit))])
        let out = ByteBuffer(capacity: 1 << 18)
        var rows = ExportRows()
        let exported = Self.dateTime(exportedAt)
        while try q.step() {
            let id = q.int64(0)
            let (path, layout) = try source(q.int64(1))
            let error = q.string(23)
            let entry = error.flatMap { CodeRef(Substring($0)) }.flatMap { plugins.resolve($0)?.entry }
            // The doctor reads a failed story whole; a connection that is part of another's story has none of its own.
            var findings: [String] = []
            if q.string(21) == "failed" && q.isNull(26) {
                findings = try doctor.diagnose(store, connections: [id], preambles: preambles).first?.findings.map(\.rule) ?? []
            }
            let start: Int64? = q.isNull(8) ? nil : q.int64(8)
            openRow(type: type, source: q.int64(1), path: path, layout: layout, out)
            field("first_line", out); out.append(String(q.int64(2)))
            field("last_line", out); out.append(String(q.int64(3)))
            field("conn", out); out.append(String(id))
            field("revision", out); out.append(String(q.int64(4)))
            field("rule", out); JSON.string(q.string(5) ?? "", out)
            field("process", out); optional(q.string(6), out)
            field("thread", out); optional(q.string(7), out)
            field("start_us", out); out.append(start.map(String.init) ?? "null")
            field("end_us", out); out.append(q.isNull(9) ? "null" : String(q.int64(9)))
            field("start_time", out); JSON.string(Self.dateTime(start.map { $0 / 1_000_000 } ?? 0), out)
            field("peer_ip", out); optional(q.string(10), out)
            field("peer_port", out); out.append(q.isNull(11) ? "null" : String(q.int64(11)))
            field("local_ip", out); optional(q.string(12), out)
            field("local_port", out); out.append(q.isNull(13) ? "null" : String(q.int64(13)))
            field("server_host", out); optional(q.string(14), out)
            field("server_ip", out); optional(q.string(15), out)
            field("server_port", out); optional(q.string(16), out)
            field("protocol", out); optional(q.string(17), out)
            field("cipher", out); optional(q.string(18), out)
            field("subject", out); optional(q.string(19), out)
            field("issuer", out); optional(q.string(20), out)
            field("outcome", out); JSON.string(q.string(21) ?? "", out)
            field("ended", out); out.append(q.int64(22) != 0 ? "1" : "0")
            field("error", out); optional(error, out)
            field("error_name", out); optional(entry?.name, out)
            field("error_text", out); optional(entry?.text, out)
            field("related", out); optional(q.string(24), out)
            field("records", out); out.append(String(q.int64(25)))
            field("story", out); out.append(q.isNull(26) ? "null" : String(q.int64(26)))
            field("link_rule", out); optional(q.string(27), out)
            field("link_gap_us", out); out.append(q.isNull(28) ? "null" : String(q.int64(28)))
            field("link_evidence", out); optional(q.string(29), out)
            field("findings", out); array(findings, out)
            field("exported_at", out); JSON.string(exported, out)
            out.append("}\n")
            rows.count += 1
            rows.last = q.int64(4)
        }
        rows.json = out.bytes
        return rows
    }

    /// `{` and where the row came from: its table (ndjson), host, source and layout.
    private func openRow(type: String?, source: Int64, path: String, layout: String?, _ out: ByteBuffer) {
        out.append(0x7B)
        if let type { field("type", out, first: true); JSON.string(type, out) }
        field("host", out, first: type == nil); JSON.string(host, out)
        field("source_id", out); out.append(String(source))
        field("source", out); JSON.string(path, out)
        field("layout", out); optional(layout, out)
    }

    private func field(_ key: String, _ out: ByteBuffer, first: Bool = false) {
        if !first { out.append(0x2C) }
        out.append(0x22)
        out.append(key)
        out.append("\":")
    }

    private func optional(_ s: String?, _ out: ByteBuffer) {
        if let s { JSON.string(s, out) } else { out.append("null") }
    }

    private func array(_ items: [String], _ out: ByteBuffer) {
        out.append(0x5B)
        for (i, item) in items.enumerated() {
            if i > 0 { out.append(0x2C) }
            JSON.string(item, out)
        }
        out.append(0x5D)
    }

    /// Seconds since 1970 as ClickHouse's DateTime text (`2026-12-05 01:31:54`, read as UTC by a
    /// `DateTime('UTC')` column); clamped to the range a DateTime holds.
    package static func dateTime(_ seconds: Int64) -> String {
        let s = min(max(seconds, 0), 4_294_967_295)
        let days = s / 86_400, rest = s % 86_400
        // Days to a civil date (proleptic Gregorian), after Howard Hinnant's public algorithm.
        let z = days + 719_468
        let era = z / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(year)-\(two(month))-\(two(day)) \(two(rest / 3600)):\(two(rest % 3600 / 60)):\(two(rest % 60))"
    }
}
