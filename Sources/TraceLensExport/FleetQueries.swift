import Foundation
import TraceLensInput
import TraceLensDecode
import TraceLensPlugins
import TraceLensStore
import TraceLensRender
import TraceLensQuery

/// `tracelens fleet summary|connections|show`: the local commands' questions asked of the
/// ClickHouse tables every host's sinks fill, answered in the same tables (text, JSON, CSV)
/// with a host column. Codes and fields are decoded here with today's plugins, as locally.
/// Rows are read with FINAL, so a batch a sink sent twice counts once.
public final class FleetQueries {
    package let client: ClickHouseClient
    /// Values shown as the local commands show them.
    private let decoder: ShownText
    public let plugins: PluginSet
    /// Only these hosts (`--host`); empty: every host.
    public var hosts: [String] = []

    package init(client: ClickHouseClient, plugins: PluginSet) {
        self.client = client
        self.plugins = plugins
        decoder = ShownText(plugins: plugins)
    }

    private func rows(_ sql: String) throws -> [[String?]] { try client.queryRows(sql).rows }

    /// A string as a ClickHouse literal.
    package static func literal(_ s: String) -> String {
        "'" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }

    private func hostCondition(_ column: String = "host") -> String? {
        hosts.isEmpty ? nil : "\(column) IN (\(hosts.map(Self.literal).joined(separator: ", ")))"
    }

    private func whereClause(_ conditions: [String?]) -> String {
        let c = conditions.compactMap { $0 }
        return c.isEmpty ? "" : " WHERE " + c.joined(separator: " AND ")
    }

    private static func int(_ s: String?) -> Int64? { s.flatMap { Int64($0) } }
    private static func value(_ s: String?) -> SQLValue { s.map(SQLValue.text) ?? .null }
    private static func intValue(_ s: String?) -> SQLValue { int(s).map(SQLValue.int) ?? .null }

    // MARK: summary

    /// The local summary's four tables across the fleet: sources (one row per host and source),
    /// codes (counted over every host), failed connections (with their host), peers.
    public func summary(limit: Int = 20) throws -> [(key: String, table: ResultTable)] {
        let hostFilter = hostCondition()
        var sources = ResultTable(title: "Sources", columns: ["host", "source", "file", "layout", "first", "last", "records", "unparsed", "unlinked",
                                                             "connections", "failed", "linked"],
                                  importance: ["host", "file", "layout", "records", "connections", "failed", "unparsed", "first", "last", "source",
                                               "unlinked", "linked"])
        var perConnectionSource: [String: [String?]] = [:]
        for row in try rows("""
            SELECT host, source_id, count(), countIf(outcome = 'failed'), countIf(story IS NOT NULL)
            FROM \(client.table("connections")) FINAL\(whereClause([hostFilter])) GROUP BY host, source_id
            """) {
            perConnectionSource[(row[0] ?? "") + "\u{0}" + (row[1] ?? "")] = row
        }
        var anyLinked = false
        for row in try rows("""
            SELECT host, source_id, any(source), any(layout), min(time_us), max(time_us), count(), countIf(level IS NULL), countIf(conn IS NULL)
            FROM \(client.table("records")) FINAL\(whereClause([hostFilter])) GROUP BY host, source_id ORDER BY host, source_id
            """) {
            let c = perConnectionSource[(row[0] ?? "") + "\u{0}" + (row[1] ?? "")]
            let linked = Self.int(c?[4] ?? nil) ?? 0
            anyLinked = anyLinked || linked > 0
            sources.rows.append([Self.value(row[0]), Self.intValue(row[1]), .text(StoreQueries.fileName(row[2] ?? "")), Self.value(row[3]),
                                 StoreQueries.time(Self.int(row[4])), StoreQueries.time(Self.int(row[5])), Self.intValue(row[6]),
                                 Self.intValue(row[7]), Self.intValue(row[8]), .int(Self.int(c?[2] ?? nil) ?? 0), .int(Self.int(c?[3] ?? nil) ?? 0),
                                 .int(linked)])
        }
        if anyLinked || sources.rows.count > 1 {
            sources.note = "unlinked: records in no connection; linked: connections joined to a connection of another source on their host"
        } else {
            sources.drop(column: "linked")
        }

        var codes = ResultTable(title: "Codes seen (most frequent first)", columns: ["code", "decoded", "count", "failure"],
                                importance: ["code", "count", "decoded", "failure"])
        var counted: [(ref: String, catalogue: String, code: String, failure: Bool, count: Int64)] = []
        for row in try rows("""
            SELECT code, max(has(failure_codes, code)), count()
            FROM \(client.table("records")) FINAL ARRAY JOIN codes AS code\(whereClause([hostFilter])) GROUP BY code
            """) {
            let ref = row[0] ?? ""
            let parts = ref.split(separator: ":", maxSplits: 1).map(String.init)
            counted.append((ref, parts.first ?? "", parts.count > 1 ? parts[1] : "", row[1] == "1", Self.int(row[2]) ?? 0))
        }
        // As the local summary orders them: count, then catalogue, then code.
        counted.sort { ($0.count, $1.catalogue, $1.code) > ($1.count, $0.catalogue, $0.code) }
        var hidden = 0
        for c in counted {
            if !c.failure, let r = CodeRef(Substring(c.ref)), let cat = plugins.catalogue(r.catalogue), cat.failure == .nonzero { continue }
            if codes.rows.count >= limit { hidden += 1; continue }
            codes.rows.append([.text(c.ref), .text(decoder.decode(c.ref)), .int(c.count), .text(c.failure ? "yes" : "")])
        }
        if hidden > 0 { codes.note = "and \(hidden) more codes" }

        var failed = ResultTable(title: "Failed connections", columns: ["host", "conn", "start", "peer", "thread", "file", "error", "linked"],
                                 importance: ["host", "conn", "peer", "error", "start", "thread", "linked", "file"])
        let failedWhere = whereClause(["outcome = 'failed'", "story IS NULL", hostFilter])
        let failedCount = Self.int(try rows("SELECT count() FROM \(client.table("connections")) FINAL\(failedWhere)").first?[0] ?? nil) ?? 0
        let failedRows = try rows("""
            SELECT host, conn, start_us, peer_ip, peer_port, thread, source, error, related
            FROM \(client.table("connections")) FINAL\(failedWhere) ORDER BY start_us, host, conn LIMIT \(limit)
            """)
        let linked = try linkedLists(failedRows.map { ($0[0] ?? "", Self.int($0[1]) ?? 0) })
        for f in failedRows {
            let key = (f[0] ?? "") + "\u{0}" + (f[1] ?? "")
            failed.rows.append([Self.value(f[0]), Self.intValue(f[1]), StoreQueries.time(Self.int(f[2])),
                                .text(decoder.peer(f[3], Self.int(f[4]).map(Int.init))), Self.value(f[5]), .text(StoreQueries.fileName(f[6] ?? "")),
                                decoder.errorText(f[7], f[8]).map(SQLValue.text) ?? .null, decoder.linkedText(linked[key], partOf: nil)])
        }
        if !failed.rows.contains(where: { $0.last != .null }) { failed.drop(column: "linked") }
        if failedCount > Int64(limit) { failed.note = "and \(failedCount - Int64(limit)) more (tracelens fleet connections --failed)" }

        var peers = ResultTable(title: "Peers with the most failures", columns: ["peer", "failed", "connections", "most frequent error"],
                                importance: ["peer", "failed", "most frequent error", "connections"])
        for p in try rows("""
            SELECT peer_ip, countIf(outcome = 'failed') AS failed, count(),
                   arrayElement(topK(1)(if(outcome = 'failed', error, NULL)), 1)
            FROM \(client.table("connections")) FINAL\(whereClause(["peer_ip IS NOT NULL", "story IS NULL", hostFilter]))
            GROUP BY peer_ip HAVING failed > 0 ORDER BY failed DESC, peer_ip LIMIT \(limit)
            """) {
            let error = p[3].flatMap { $0.isEmpty ? nil : $0 }
            peers.rows.append([Self.value(p[0]), Self.intValue(p[1]), Self.intValue(p[2]), error.map { .text(decoder.decode($0)) } ?? .null])
        }
        return [("sources", sources), ("codes", codes), ("failed_connections", failed), ("peers", peers)]
    }

    /// For each (host, conn): the connections of its host linked into its story, `id path|id path`.
    private func linkedLists(_ heads: [(host: String, conn: Int64)]) throws -> [String: String] {
        guard !heads.isEmpty else { return [:] }
        let pairs = heads.map { "(\(Self.literal($0.host)), \($0.conn))" }.joined(separator: ", ")
        var out: [String: String] = [:]
        for row in try rows("""
            SELECT host, story, arrayStringConcat(groupArray(concat(toString(conn), ' ', source)), '|')
            FROM (SELECT host, story, conn, source FROM \(client.table("connections")) FINAL WHERE (host, story) IN (\(pairs)) ORDER BY conn)
            GROUP BY host, story
            """) {
            out[(row[0] ?? "") + "\u{0}" + (row[1] ?? "")] = row[2]
        }
        return out
    }

    // MARK: connections

    /// The local `connections` table with a host column: one row per story, or per source's
    /// view with `eachSource`; filters as locally, and `hosts`.
    public func connections(_ filter: ConnectionFilter) throws -> ResultTable {
        var conditions: [String?] = [hostCondition()]
        if filter.failedOnly { conditions.append("outcome = 'failed'") }
        if !filter.eachSource { conditions.append("story IS NULL") }
        if let peer = filter.peer {
            let address = try PeerAddress.parse(peer)
            let list = address.spellings.map(Self.literal).joined(separator: ", ")
            let server = "(lower(server_host) IN (\(list.lowercased())) OR server_ip IN (\(list)))"
            if let port = address.port {
                conditions.append("((peer_ip IN (\(list)) AND peer_port = \(port)) OR (\(server) AND server_port = \(Self.literal(String(port)))))")
            } else {
                conditions.append("(peer_ip IN (\(list)) OR \(server))")
            }
        }
        for (bound, op) in [(filter.since, ">="), (filter.until, "<=")] {
            guard let bound else { continue }
            switch bound {
            case let .instant(t):
                conditions.append(op == ">=" ? "coalesce(end_us, start_us) >= \(t.micros)" : "start_us <= \(t.micros)")
            case let .timeOfDay(m):
                conditions.append("(start_us % 86400000000) \(op) \(m)")
            }
        }
        var sql = """
            SELECT host, conn, start_us, end_us, peer_ip, peer_port, process, thread, protocol, cipher, subject, issuer,
                   outcome, error, related, source, records, story, server_host, server_ip, server_port
            FROM \(client.table("connections")) FINAL\(whereClause(conditions)) ORDER BY start_us, host, conn
            """
        if let limit = filter.limit { sql += " LIMIT \(limit)" }
        let rows = try rows(sql)
        let linked = try linkedLists(rows.filter { $0[17] == nil }.map { ($0[0] ?? "", Self.int($0[1]) ?? 0) })
        var table = ResultTable(columns: ["host"] + StoreQueries.connectionColumns, importance: ["host"] + StoreQueries.connectionImportance)
        for q in rows {
            let key = (q[0] ?? "") + "\u{0}" + (q[1] ?? "")
            let peer = q[4] == nil ? decoder.peer(q[18] ?? q[19], q[20].flatMap { Int($0) }) : decoder.peer(q[4], Self.int(q[5]).map(Int.init))
            table.rows.append([
                Self.value(q[0]), Self.intValue(q[1]), StoreQueries.time(Self.int(q[2])), StoreQueries.time(Self.int(q[3])), .text(peer),
                Self.value(q[6]), Self.value(q[7]), Self.value(q[12]), decoder.errorText(q[13], q[14]).map(SQLValue.text) ?? .null,
                decoder.shownField("protocol", q[8]), decoder.shownField("cipher", q[9]), decoder.shownField("subject", q[10]),
                decoder.shownField("issuer", q[11]), .text(StoreQueries.fileName(q[15] ?? "")), Self.intValue(q[16]),
                decoder.linkedText(linked[key], partOf: Self.int(q[17])),
            ])
        }
        return table
    }

    // MARK: show

    package enum Problem: Error, CustomStringConvertible {
        case noSuchConnection(String)
        case ambiguous(String, hosts: [String])
        package var description: String {
            switch self {
            case let .noSuchConnection(c): return "no connection \(c) in the fleet's tables"
            case let .ambiguous(c, hosts): return "connection \(c) is on several hosts (\(hosts.joined(separator: ", "))): name one, HOST:\(c) or --host"
            }
        }
    }

    /// A connection's story from the fleet's tables: the connections (it and those linked to it
    /// on its host) as `connections` shows them, then their records in order, each with its
    /// codes decoded. `connection` is `HOST:CONN`, or `CONN` when one host has it (or `hosts`
    /// names one).
    public func show(_ connection: String) throws -> (connections: ResultTable, records: ResultTable) {
        var host: String?
        var idText = connection
        if let colon = connection.lastIndex(of: ":") {
            host = String(connection[..<colon])
            idText = String(connection[connection.index(after: colon)...])
        }
        guard let id = Int64(idText), id > 0 else { throw Problem.noSuchConnection(connection) }
        let candidates = try rows("""
            SELECT DISTINCT host FROM \(client.table("connections")) FINAL\(whereClause(["conn = \(id)", host.map { "host = \(Self.literal($0))" }, hostCondition()])) ORDER BY host
            """).compactMap { $0[0] }
        guard let chosen = candidates.first else { throw Problem.noSuchConnection(connection) }
        guard candidates.count == 1 else { throw Problem.ambiguous(idText, hosts: candidates) }
        let story = Self.int(try rows("SELECT story FROM \(client.table("connections")) FINAL WHERE host = \(Self.literal(chosen)) AND conn = \(id)").first?[0] ?? nil) ?? id
        let members = try rows("""
            SELECT conn FROM \(client.table("connections")) FINAL WHERE host = \(Self.literal(chosen)) AND (conn = \(story) OR story = \(story))
            """).compactMap { Self.int($0[0]) }
        var filter = ConnectionFilter()
        filter.eachSource = true
        let saved = hosts
        hosts = [chosen]
        defer { hosts = saved }
        var connections = try self.connections(filter)
        let ids = Set(members)
        connections.rows = connections.rows.filter { if case let .int(c) = $0[1] { return ids.contains(c) } else { return false } }
        var records = ResultTable(columns: ["time", "file", "line", "level", "thread", "message", "codes"],
                                  importance: ["message", "time", "codes", "file", "line", "level", "thread"])
        for r in try rows("""
            SELECT time_us, source, line, level, thread, message, arrayStringConcat(codes, ' ')
            FROM \(client.table("records")) FINAL WHERE host = \(Self.literal(chosen)) AND conn IN (\(members.map(String.init).joined(separator: ", ")))
            ORDER BY time_us, source, line
            """) {
            let codes = (r[6] ?? "").split(separator: " ").map { decoder.decode(String($0)) }.joined(separator: "; ")
            records.rows.append([StoreQueries.time(Self.int(r[0])), .text(StoreQueries.fileName(r[1] ?? "")), Self.intValue(r[2]), Self.value(r[3]),
                                 Self.value(r[4]), .text(r[5] ?? ""), codes.isEmpty ? .null : .text(codes)])
        }
        return (connections, records)
    }
}
