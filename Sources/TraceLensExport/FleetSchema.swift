import Foundation

/// The ClickHouse tables the sinks write and the fleet queries read (`tracelens fleet init`
/// creates them; docs/fleet.md documents them). Written for ClickHouse 18.16 and later: no
/// DateTime64, so times are microseconds in Int64 beside a DateTime for partition-free filtering
/// and dashboards.
///
/// Every table is a ReplacingMergeTree keyed by where a row came from, so a batch sent again
/// after a crash or a timeout replaces itself instead of adding rows; readers use FINAL.
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
            CREATE VIEW IF NOT EXISTS \(db).links AS
                SELECT host, conn, story, link_rule AS rule, link_gap_us AS gap_us, link_evidence AS evidence, source, first_line
                FROM \(db).connections FINAL WHERE story IS NOT NULL
            """,
        ]
    }

    /// A database name as ClickHouse reads it in backquotes.
    package static func quoteIdentifier(_ name: String) -> String {
        "`" + name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "`", with: "\\`") + "`"
    }
}
