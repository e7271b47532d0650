#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TraceLensInput
import TraceLensRecords
import TraceLensDecode
import TraceLensPlugins
import TraceLensStore
import TraceLensRender

/// Filters for `tracelens connections`.
public struct ConnectionFilter: Sendable {
    /// One connection by id (`show`).
    public var id: Int64?
    public var failedOnly = false
    public var peer: String?
    public var since: TimeBound?
    public var until: TimeBound?
    public var limit: Int?
    /// List every source's connections on their own, not one row per story.
    public var eachSource = false
    public init() {}

    /// What text output says when nothing matches ("no failed connections"), so that an empty
    /// answer does not look like a table that failed to print.
    public var nothingFound: String {
        var text = failedOnly ? "no failed connections" : "no connections"
        if peer != nil { text += " with that peer" }
        if since != nil || until != nil { text += " in that time" }
        return text
    }
}

/// How stored values are shown: codes decoded with the loaded plugins, peers, linked lists,
/// captured fields, file names; cached, as a big answer repeats the same few. Used by the local
/// queries and by the fleet's, so both show a value the same way.
public final class ShownText {
    public let plugins: PluginSet
    private var decoded: [String: String] = [:]
    private var errorTexts: [String: String] = [:]
    private var shownFields: [String: String] = [:]
    private var fileNames: [String: String] = [:]

    public init(plugins: PluginSet) { self.plugins = plugins }

    /// `cms:03353041` → `CMS 03353041: Certificate is revoked.`
    public func decode(_ ref: String) -> String {
        if let d = decoded[ref] { return d }
        let d = decodeUncached(ref)
        decoded[ref] = d
        return d
    }

    /// A message id reads as the start of its message (`Catalogue.meaning`): its whole text is
    /// long, and the rows of a table are read for what they mean.
    private func decodeUncached(_ ref: String) -> String {
        if let r = CodeRef(Substring(ref)), let (catalogue, value, _) = plugins.resolve(r), catalogue.kind == .message { return catalogue.meaning(value) }
        return PrimaryError.text(ref, related: nil, plugins: plugins)
    }

    /// The primary error with the codes that came with it (`PrimaryError`), cached.
    package func errorText(_ error: String?, _ related: String?) -> String? {
        guard let error else { return nil }
        let key = error + "|" + (related ?? "")
        if let s = errorTexts[key] { return s }
        let s = PrimaryError.text(error, related: related, plugins: plugins)
        errorTexts[key] = s
        return s
    }

    package func fileName(_ path: String) -> String {
        if let f = fileNames[path] { return f }
        let f = StoreQueries.fileName(path)
        fileNames[path] = f
        return f
    }

    package func peer(_ ip: String?, _ port: Int?) -> String {
        guard let ip else { return "" }
        // An IPv6 address keeps its colons apart from the port's: [2001:db8::1]:636.
        return port.map { ip.utf8.contains(UInt8(ascii: ":")) ? "[\(ip)]:\($0)" : "\(ip):\($0)" } ?? ip
    }

    /// The connections of other sources in this story: `12 gldsrv.joblog, 14 client.txt`; or, for
    /// a connection that is part of another's story, `part of 7`.
    package func linkedText(_ list: String?, partOf story: Int64?) -> SQLValue {
        if let story { return .text("part of \(story)") }
        guard let list, !list.isEmpty else { return .null }
        return .text(list.split(separator: "|").map { item -> String in
            let parts = item.split(separator: " ", maxSplits: 1)
            return parts.count == 2 ? "\(parts[0]) \(fileName(String(parts[1])))" : String(item)
        }.joined(separator: ", "))
    }

    /// A captured connection field as shown: decoded when a connection rule's `decode` names it.
    package func shownField(_ name: String, _ value: String?) -> SQLValue {
        guard let value else { return .null }
        let key = name + "\u{0}" + value
        if let shown = shownFields[key] { return .text(shown) }
        let shown = plugins.shownConnectionField(name, value)
        shownFields[key] = shown
        return .text(shown)
    }
}

/// The query commands over a store: summary, connections, show, sql. Codes are decoded with
/// the loaded plugins, so a store ingested earlier reads with today's catalogues.
public final class StoreQueries {
    public let store: Store
    public let plugins: PluginSet
    public let shown: ShownText

    public init(store: Store, plugins: PluginSet) {
        self.store = store
        self.plugins = plugins
        shown = ShownText(plugins: plugins)
    }

    // MARK: decoding

    /// `cms:03353041` → `CMS 03353041: Certificate is revoked.`
    public func decode(_ ref: String) -> String { shown.decode(ref) }
    package func errorText(_ error: String?, _ related: String?) -> String? { shown.errorText(error, related) }

    package static func time(_ micros: Int64?) -> SQLValue {
        guard let micros else { return .null }
        // Fractions are shown when the trace had them (the store keeps microseconds).
        let digits = micros % 1_000_000 == 0 ? 0 : 6
        let t = Timestamp(micros: micros, fractionDigits: digits, hasDate: micros >= 86_400_000_000)
        return .text(t.string(iso: true))
    }

    package static func fileName(_ path: String) -> String { (path as NSString).lastPathComponent }
    package func fileName(_ path: String) -> String { shown.fileName(path) }

    // MARK: summary

    public func summary(limit: Int = 20) throws -> [(key: String, table: ResultTable)] {
        let db = store.db
        var sources = ResultTable(title: "Sources", columns: ["source", "file", "layout", "first", "last", "records", "unparsed", "unlinked",
                                                             "connections", "failed", "linked", "offset"],
                                  importance: ["file", "layout", "records", "connections", "failed", "unparsed", "first", "last", "source",
                                               "unlinked", "linked", "offset"])
        let s = try db.prepare("""
            SELECT s.id, s.path, s.layout, s.first_time, s.last_time, s.records, s.unparsed, s.unlinked,
                   (SELECT count(*) FROM connections c WHERE c.source = s.id),
                   (SELECT count(*) FROM connections c WHERE c.source = s.id AND c.outcome = 'failed'),
                   (SELECT count(*) FROM connections c WHERE c.source = s.id AND c.story IS NOT NULL),
                   s.clock_offset
            FROM sources s ORDER BY s.id
            """)
        var anyLinked = false, anyOffset = false
        while try s.step() {
            let linked = s.int64(10), offset = s.int64(11)
            anyLinked = anyLinked || linked > 0
            anyOffset = anyOffset || offset != 0
            sources.rows.append([.int(s.int64(0)), .text(Self.fileName(s.string(1) ?? "")), s.value(2), Self.time(s.isNull(3) ? nil : s.int64(3)),
                                 Self.time(s.isNull(4) ? nil : s.int64(4)), .int(s.int64(5)), .int(s.int64(6)), .int(s.int64(7)), .int(s.int64(8)),
                                 .int(s.int64(9)), .int(linked), offset == 0 ? .null : .text(Self.offsetText(offset))])
        }
        if !anyOffset { sources.drop(column: "offset") }
        let sourceCount = try db.scalar("SELECT count(*) FROM sources") ?? 0
        if anyLinked || sourceCount > 1 {
            sources.note = "unlinked: records in no connection; linked: connections joined to a connection of another source (tracelens sql \"SELECT * FROM links\")"
        } else {
            sources.drop(column: "linked")
        }

        // Codes, most frequent first; success values (Exit status 0) are left out.
        var codes = ResultTable(title: "Codes seen (most frequent first)", columns: ["code", "decoded", "count", "failure"],
                                importance: ["code", "count", "decoded", "failure"])
        let c = try db.prepare("SELECT catalogue, code, max(failure), sum(count) AS n FROM code_counts GROUP BY catalogue, code ORDER BY n DESC, catalogue, code")
        var hidden = 0
        while try c.step() {
            let ref = (c.string(0) ?? "") + ":" + (c.string(1) ?? "")
            let failure = c.int(2) != 0
            if !failure, let r = CodeRef(Substring(ref)), let cat = plugins.catalogue(r.catalogue), cat.failure == .nonzero { continue }
            if codes.rows.count >= limit { hidden += 1; continue }
            codes.rows.append([.text(ref), .text(decode(ref)), .int(c.int64(3)), .text(failure ? "yes" : "")])
        }
        if hidden > 0 { codes.note = "and \(hidden) more codes (tracelens sql \"SELECT * FROM code_counts\")" }

        var failed = ResultTable(title: "Failed connections", columns: ["conn", "start", "peer", "thread", "file", "error", "linked"],
                                 importance: ["conn", "peer", "error", "start", "thread", "linked", "file"])
        let failedCount = try db.scalar("SELECT count(*) FROM connections WHERE outcome = 'failed' AND story IS NULL") ?? 0
        let f = try db.prepare("""
            SELECT c.id, c.start_time, c.peer_ip, c.peer_port, c.thread, s.path, c.error, c.related,
                   (SELECT group_concat(l.id || ' ' || ls.path, '|') FROM connections l JOIN sources ls ON ls.id = l.source WHERE l.story = c.id)
            FROM connections c JOIN sources s ON s.id = c.source
            WHERE c.outcome = 'failed' AND c.story IS NULL ORDER BY c.start_time, c.id LIMIT ?1
            """)
        try f.bind([.int(Int64(limit))])
        while try f.step() {
            failed.rows.append([.int(f.int64(0)), Self.time(f.isNull(1) ? nil : f.int64(1)), .text(peer(f.string(2), f.isNull(3) ? nil : f.int(3))),
                                f.value(4), .text(Self.fileName(f.string(5) ?? "")), errorText(f.string(6), f.string(7)).map(SQLValue.text) ?? .null,
                                linkedText(f.string(8), partOf: nil)])
        }
        if !failed.rows.contains(where: { $0.last != .null }) { failed.drop(column: "linked") }
        if failedCount > Int64(limit) { failed.note = "and \(failedCount - Int64(limit)) more (tracelens connections --failed)" }

        var peers = ResultTable(title: "Peers with the most failures", columns: ["peer", "failed", "connections", "most frequent error"],
                                importance: ["peer", "failed", "most frequent error", "connections"])
        // Stories, not each source's view of them: a failure that three sources report is one.
        let p = try db.prepare("""
            SELECT peer_ip, sum(outcome = 'failed') AS failed, count(*),
                   (SELECT error FROM connections e WHERE e.peer_ip = c.peer_ip AND e.outcome = 'failed' AND e.story IS NULL
                    GROUP BY error ORDER BY count(*) DESC LIMIT 1)
            FROM connections c WHERE peer_ip IS NOT NULL AND story IS NULL
            GROUP BY peer_ip HAVING failed > 0 ORDER BY failed DESC, peer_ip LIMIT ?1
            """)
        try p.bind([.int(Int64(limit))])
        while try p.step() {
            peers.rows.append([p.value(0), .int(p.int64(1)), .int(p.int64(2)), p.string(3).map { .text(decode($0)) } ?? .null])
        }
        return [("sources", sources), ("codes", codes), ("failed_connections", failed), ("peers", peers)]
    }

    package static func offsetText(_ micros: Int64) -> String {
        let sign = micros < 0 ? "-" : "+"
        let m = abs(micros)
        return m % 1_000_000 == 0 ? "\(sign)\(m / 1_000_000)s" : "\(sign)\(Double(m) / 1_000_000)s"
    }

    package func peer(_ ip: String?, _ port: Int?) -> String { shown.peer(ip, port) }

    // MARK: connections

    /// The columns of `connections`, in the order shown: what happened first, the long DNs last.
    public static let connectionColumns = ["conn", "start", "end", "peer", "process", "thread", "outcome", "error",
                                           "protocol", "cipher", "subject", "issuer", "file", "records", "linked"]

    /// What a narrow terminal keeps of them, most important first: which connection, how it ended,
    /// with whom and why; the long DNs and the cipher name last.
    public static let connectionImportance = ["conn", "outcome", "peer", "error", "start", "thread", "linked", "end", "protocol",
                                              "process", "records", "file", "cipher", "subject", "issuer"]

    public func connections(_ filter: ConnectionFilter) throws -> ResultTable {
        var conditions: [String] = []
        var values: [SQLValue] = []
        if let id = filter.id {
            values.append(.int(id))
            conditions.append("c.id = ?\(values.count)")
        }
        if filter.failedOnly { conditions.append("c.outcome = 'failed'") }
        // One row per story: connections linked into another's story are shown with it.
        if filter.id == nil && !filter.eachSource { conditions.append("c.story IS NULL") }
        if let peer = filter.peer {
            // `10.1.0.2`, `10.1.0.2:42514`, `2001:db8::1`, `[2001:db8::1]:636`
            let address = try PeerAddress.parse(peer)
            var placeholders: [String] = []
            for spelling in address.spellings {
                values.append(.text(spelling))
                placeholders.append("?\(values.count)")
            }
            // A client's attempt names the server it went to (server_ip or server_host, and
            // server_port, in conn_keys): that is its peer.
            let list = placeholders.joined(separator: ", ")
            let server = "EXISTS (SELECT 1 FROM conn_keys k WHERE k.conn = c.id AND k.name IN ('server_ip', 'server_host') AND k.value IN (\(list)) COLLATE NOCASE)"
            if let port = address.port {
                values.append(.int(port))
                values.append(.text(String(port)))
                conditions.append("((c.peer_ip IN (\(list)) AND c.peer_port = ?\(values.count - 1)) OR (\(server) AND EXISTS (SELECT 1 FROM conn_keys p WHERE p.conn = c.id AND p.name = 'server_port' AND p.value = ?\(values.count))))")
            } else {
                conditions.append("(c.peer_ip IN (\(list)) OR \(server))")
            }
        }
        for (bound, op) in [(filter.since, ">="), (filter.until, "<=")] {
            guard let bound else { continue }
            switch bound {
            case let .instant(t):
                values.append(.int(t.micros))
                conditions.append(op == ">=" ? "coalesce(c.end_time, c.start_time) >= ?\(values.count)" : "c.start_time <= ?\(values.count)")
            case let .timeOfDay(m):
                // A time of day alone compares with the start's time of day, on any day.
                values.append(.int(m))
                conditions.append("(c.start_time % 86400000000) \(op) ?\(values.count)")
            }
        }
        var sql = """
            SELECT c.id, c.start_time, c.end_time, c.peer_ip, c.peer_port, c.process, c.thread, c.protocol, c.cipher,
                   c.subject, c.issuer, c.outcome, c.error, c.related, s.path, c.records,
                   (SELECT group_concat(l.id || ' ' || ls.path, '|') FROM connections l JOIN sources ls ON ls.id = l.source WHERE l.story = c.id),
                   c.story,
                   (SELECT value FROM conn_keys k WHERE k.conn = c.id AND k.name = 'server_host' LIMIT 1),
                   (SELECT value FROM conn_keys k WHERE k.conn = c.id AND k.name = 'server_ip' LIMIT 1),
                   (SELECT value FROM conn_keys k WHERE k.conn = c.id AND k.name = 'server_port' LIMIT 1)
            FROM connections c JOIN sources s ON s.id = c.source
            """
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        sql += " ORDER BY c.start_time, c.id"
        if let limit = filter.limit { sql += " LIMIT \(limit)" }
        let q = try store.db.prepare(sql)
        try q.bind(values)
        var table = ResultTable(columns: Self.connectionColumns, importance: Self.connectionImportance)
        while try q.step() {
            table.rows.append([
                .int(q.int64(0)), Self.time(q.isNull(1) ? nil : q.int64(1)), Self.time(q.isNull(2) ? nil : q.int64(2)),
                .text(q.isNull(3) ? peer(q.string(18) ?? q.string(19), q.string(20).flatMap { Int($0) }) : peer(q.string(3), q.isNull(4) ? nil : q.int(4))),
                q.value(5), q.value(6), q.value(11),
                errorText(q.string(12), q.string(13)).map(SQLValue.text) ?? .null,
                shownField("protocol", q.string(7)), shownField("cipher", q.string(8)), shownField("subject", q.string(9)), shownField("issuer", q.string(10)),
                .text(fileName(q.string(14) ?? "")), .int(q.int64(15)),
                linkedText(q.string(16), partOf: q.isNull(17) ? nil : q.int64(17)),
            ])
        }
        return table
    }

    package func linkedText(_ list: String?, partOf story: Int64?) -> SQLValue { shown.linkedText(list, partOf: story) }
    package func shownField(_ name: String, _ value: String?) -> SQLValue { shown.shownField(name, value) }

    // MARK: status

    /// `tracelens status`: each file a `watch` or `daemon` follows (or followed), how far it is
    /// read, how far behind, how fast, and its last error; whether that process still runs.
    public func status() throws -> ResultTable {
        let exists = try store.db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'follows'") ?? 0
        guard exists > 0 else {
            return ResultTable(title: "followed files", columns: ["path"], note: "no `watch` or `daemon` has written to this store yet")
        }
        let q = try store.db.prepare("""
            SELECT path, state, source, offset, size, max(size - offset, 0), round(rate, 1), records, last_error, error_at, updated_at, pid
            FROM follows ORDER BY path
            """)
        var table = ResultTable(title: "followed files",
                                columns: ["path", "state", "source", "offset", "size", "lag", "records/s", "records", "last error", "error at", "updated", "process"],
                                // Which file, whether it is read and keeping up, what went wrong, who reads it.
                                importance: ["path", "state", "lag", "last error", "process", "records/s", "records", "offset", "size", "updated",
                                             "error at", "source"],
                                cutAtStart: ["path"])
        for var row in try q.rows() {
            if case let .int(pid) = row[11] {
                // A process that is gone left its last word: say so instead of a live-looking state.
                let alive = Platform.processExists(Int32(pid))
                row[11] = .text("\(pid) (\(alive ? "running" : "stopped"))")
            }
            table.rows.append(row)
        }
        if table.rows.isEmpty { table.note = "no files followed yet" }
        return table
    }

    /// `tracelens status`, second table: each export sink, how far its engine has acknowledged,
    /// what is still to send, and its last error while it is failing; nil when none was ever run.
    public func exportStatus() throws -> ResultTable? {
        let exists = try store.db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'export_sinks'") ?? 0
        guard exists > 0, (try store.db.scalar("SELECT count(*) FROM export_sinks") ?? 0) > 0 else { return nil }
        let q = try store.db.prepare("""
            SELECT sink, kind, target, state,
                   (SELECT coalesce(sum(b.last_id - max(b.id, e.record + 1) + 1), 0) FROM record_blocks b WHERE b.last_id > e.record),
                   (SELECT count(*) FROM connections c WHERE c.revision > e.revision),
                   records, connections, acked_at, last_error, error_at, pid
            FROM export_sinks e ORDER BY sink
            """)
        var table = ResultTable(title: "exports",
                                columns: ["sink", "kind", "target", "state", "records behind", "connections behind", "records sent", "connections sent",
                                          "acknowledged", "last error", "error at", "process"],
                                importance: ["sink", "state", "records behind", "last error", "target", "connections behind", "acknowledged", "process",
                                             "kind", "records sent", "connections sent", "error at"],
                                cutAtStart: ["target"])
        for var row in try q.rows() {
            if case let .int(pid) = row[11] {
                let alive = Platform.processExists(Int32(pid))
                row[11] = .text("\(pid) (\(alive ? "running" : "stopped"))")
            }
            table.rows.append(row)
        }
        return table
    }

    // MARK: sql

    /// The sqlite3 shell's `.tables` and `.schema [NAME]`, for `sql` text starting with a dot: one
    /// column (`name` or `sql`), a row per line the shell would print; nil for SQL.
    public func shellCommand(_ text: String) throws -> ResultTable? {
        let words = text.split(whereSeparator: \.isWhitespace).map(String.init)
        guard let command = words.first, command.hasPrefix(".") else { return nil }
        switch (command, words.count) {
        case (".tables", 1):
            return ResultTable(columns: ["name"], rows: try tableNames().map { [.text($0)] })
        case (".schema", 1...2):
            let name = words.count == 2 ? words[1] : nil
            let statements = try schema(of: name)
            if let name, statements.isEmpty { throw SQLTextProblem.unknownTable(name) }
            return ResultTable(columns: ["sql"], rows: statements.map { [.text($0)] })
        default:
            throw SQLTextProblem.unknownShellCommand(text.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    /// `sql .tables`: the store's tables and views by name, as the sqlite3 shell lists them
    /// (SQLite's own `sqlite_*` tables left out).
    public func tableNames() throws -> [String] {
        let q = try store.db.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")
        var names: [String] = []
        while try q.step() { names.append(q.string(0) ?? "") }
        return names
    }

    /// `sql .schema [NAME]`: the CREATE statements of the store (or of one table or view and its
    /// indexes), in the order they were made, as the sqlite3 shell prints them.
    public func schema(of name: String? = nil) throws -> [String] {
        let q = try store.db.prepare("""
            SELECT sql FROM sqlite_master
            WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND (?1 IS NULL OR tbl_name = ?1 COLLATE NOCASE)
            ORDER BY rowid
            """)
        try q.bind([name.map(SQLValue.text) ?? .null])
        var statements: [String] = []
        while try q.step() { statements.append((q.string(0) ?? "") + ";") }
        // A virtual table's statement names only its module: its columns follow as a comment.
        for (i, statement) in statements.enumerated() where statement.hasPrefix("CREATE VIRTUAL TABLE ") {
            let table = statement.dropFirst("CREATE VIRTUAL TABLE ".count).prefix { $0 != " " }
            let quoted = "\"" + table.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            let columns = try store.db.prepare("PRAGMA table_xinfo(\(quoted))")
            var names: [String] = []
            while try columns.step() { names.append((columns.string(1) ?? "") + " " + (columns.string(2) ?? "")) }
            statements[i] += "\n-- columns: " + names.joined(separator: ", ")
        }
        return statements
    }

    public func sql(_ text: String) throws -> ResultTable {
        func explain(_ e: SQLiteError) -> StoreError {
            if e.isDenied || e.isReadOnly || e.message.hasSuffix("may not be modified") {
                return .other(path: store.path, detail: "only reading is allowed here (SELECT with SQLite's own scalar, aggregate, date, math and JSON functions; PRAGMA table_info and the like): \(e.message)")
            }
            return .other(path: store.path, detail: e.message)
        }
        do {
            guard let q = try store.db.prepareSingle(text) else { throw SQLTextProblem.noStatement }
            var table = ResultTable(columns: (0..<q.columnCount).map { q.columnName($0) })
            table.rows = try q.rows()
            return table
        } catch let e as SQLiteError {
            throw explain(e)
        }
    }
}
