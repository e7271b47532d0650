import Foundation

/// The ClickHouse tables the sinks write and the fleet queries read (`tracelens fleet init`
/// creates them; docs/fleet.md documents them). Written for ClickHouse 18.16 and later: no
/// DateTime64, so times are microseconds in Int64 beside a DateTime for partition-free filtering
/// and dashboards.
///
/// Every table is a ReplacingMergeTree keyed by where a row came from, so a batch sent again
/// after a crash or a timeout replaces itself instead of adding rows; readers use FINAL.
///
/// What the exporter sends (JSONEachRow, checked against a 18.16.1 server by ClickHouseTests):
/// - DateTime: a JSON integer of seconds since 1970 UTC (`"time":1700000000`). The strings
///   `"2023-11-14 22:13:20"` (UTC, since the columns are DateTime('UTC')) and `"1700000000"`
///   also work; ISO `"2023-11-14T22:13:20Z"` and fractions (`1700000000.5`) are refused, and
///   negative numbers wrap: send 0 for "no time" (18.16 shows it as 0000-00-00 00:00:00).
/// - NULL: JSON `null` (or the key left out) for a Nullable column; a non-Nullable column left
///   out gets its default ('' or 0). Arrays: `[]` and `["a","b"]`. UInt8 flags: 0 or 1.
/// - Duplicates: the same key (ORDER BY) sent twice counts once under FINAL, and the row with
///   the higher version column (record_id, revision) wins; without FINAL both show until a
///   background merge.
package enum FleetSchema {
    /// Bumped when a table changes; `fleet init` records it in `tracelens_schema`.
    package static let version = 1

    package static func create(database: String) -> [String] {
        let db = quoteIdentifier(database)
        return [
            "CREATE DATABASE IF NOT EXISTS \(db)",
            """
            CREATE TABLE IF NOT EXISTS \(db).records (
                host          String,
                source_id     UInt64,            -- the host's local sources.id
                source        String,            -- the file's path
                layout        Nullable(String),
                line          UInt64,
                lines         UInt32,
                record_id     UInt64,            -- the local records.id: a record read again has a higher one
                time_us       Nullable(Int64),   -- microseconds since 1970, trace local time; a time of day alone is below 86400000000
                time          DateTime('UTC'),   -- the same, in seconds (1970-01-01 when the trace gave none)
                level         Nullable(String),
                process       Nullable(String),
                thread        Nullable(String),
                function      Nullable(String),
                conn          Nullable(UInt64),  -- the host's local connections.id
                failure       UInt8,
                codes         Array(String),     -- catalogue:code
                code_names    Array(String),     -- the catalogue's name for each code, '' when it has none
                failure_codes Array(String),
                message       String,            -- the record's lines as read, secrets masked
                exported_at   DateTime('UTC')
            ) ENGINE = ReplacingMergeTree(record_id)
            ORDER BY (host, source_id, line)
            """,
            """
            CREATE TABLE IF NOT EXISTS \(db).connections (
                host          String,
                source_id     UInt64,
                source        String,
                layout        Nullable(String),
                first_line    UInt64,
                last_line     UInt64,
                conn          UInt64,            -- the host's local connections.id
                revision      UInt64,            -- rises each time the connection changes on its host
                rule          String,
                process       Nullable(String),
                thread        Nullable(String),
                start_us      Nullable(Int64),
                end_us        Nullable(Int64),
                start_time    DateTime('UTC'),
                peer_ip       Nullable(String),
                peer_port     Nullable(UInt16),
                local_ip      Nullable(String),
                local_port    Nullable(UInt16),
                server_host   Nullable(String),  -- a client's attempt: the server it went to
                server_ip     Nullable(String),
                server_port   Nullable(String),
                protocol      Nullable(String),
                cipher        Nullable(String),
                subject       Nullable(String),
                issuer        Nullable(String),
                outcome       String,            -- open, ok, failed
                ended         UInt8,
                error         Nullable(String),  -- catalogue:code
                error_name    Nullable(String),
                error_text    Nullable(String),
                related       Nullable(String),
                records       UInt64,
                story         Nullable(UInt64),  -- the local connection whose story this one is part of
                link_rule     Nullable(String),
                link_gap_us   Nullable(Int64),
                link_evidence Nullable(String),
                findings      Array(String),     -- the doctor's findings for a failed story
                exported_at   DateTime('UTC')
            ) ENGINE = ReplacingMergeTree(revision)
            ORDER BY (host, source_id, first_line)
            """,
            """
            CREATE TABLE IF NOT EXISTS \(db).tracelens_schema (
                version       UInt32,
                created       DateTime('UTC')
            ) ENGINE = ReplacingMergeTree
            ORDER BY version
            """,
            """
            CREATE VIEW IF NOT EXISTS \(db).links AS
                SELECT host, conn, story, link_rule AS rule, link_gap_us AS gap_us, link_evidence AS evidence, source, first_line
                FROM \(db).connections FINAL WHERE story IS NOT NULL
            """,
        ]
    }

    /// Creates the database and its tables where missing and records this schema version once;
    /// running it again changes nothing. Refuses a database a newer TraceLens has set up.
    package static func initialize(client: ClickHouseClient) throws {
        for statement in create(database: client.database) { try client.execute(statement) }
        let recorded = try recordedVersion(client: client)
        if let recorded, recorded > version {
            throw ClickHouseError(server: client.server, status: 200, code: nil,
                                  message: "the database \(client.database) has fleet schema version \(recorded), newer than this TraceLens (\(version)): upgrade TraceLens")
        }
        if recorded != version {
            try client.insert(table: "tracelens_schema", jsonEachRow: Array("{\"version\":\(version),\"created\":\(Int(Date().timeIntervalSince1970))}\n".utf8))
        }
    }

    /// The highest schema version recorded in the client's database, nil when none is.
    package static func recordedVersion(client: ClickHouseClient) throws -> Int? {
        let answer = try client.queryRows("SELECT max(version), count() FROM \(client.table("tracelens_schema"))")
        guard let row = answer.rows.first, row.count == 2, row[1] != "0", let text = row[0] else { return nil }
        return Int(text)
    }

    /// A database name as ClickHouse reads it in backquotes.
    package static func quoteIdentifier(_ name: String) -> String {
        "`" + name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "`", with: "\\`") + "`"
    }
}
