import Foundation

/// Dropping old records from a store that a daemon keeps filling. Connection rows (the
/// summaries: peer, outcome, error, times), their keys and links stay, so `connections` still
/// lists what happened; `show` then has no records left to print for them.
public enum Retention {
    /// Deletes the records whose time is more than `days` before `now`, a block at a time (a
    /// block goes when its newest record is that old; time-less records go with their source's
    /// last time); returns how many. Trace times are local wall-clock times, so the cut is exact
    /// to the hours between the trace's zone and UTC.
    public static func drop(store: Store, olderThanDays days: Double, now: Date = Date()) throws -> Int {
        let cutoff = Int64((now.timeIntervalSince1970 - days * 86400) * 1_000_000)
        let db = store.db
        var total = 0
        // In slices, so that one transaction does not hold the write lock for long.
        while true {
            var dropped = 0, blocks: Int64 = 0
            try db.transaction {
                try db.execute("""
                    CREATE TEMP TABLE IF NOT EXISTS doomed (id INTEGER PRIMARY KEY, source INTEGER, count INTEGER, min_line INTEGER, max_line INTEGER);
                    DELETE FROM doomed;
                    """)
                let pick = try db.prepare("""
                    INSERT INTO doomed SELECT id, source, count, min_line, max_line FROM record_blocks b
                    WHERE (b.max_time >= 86400000000 AND b.max_time < ?1)
                       OR (b.max_time IS NULL AND b.source IN (SELECT id FROM sources WHERE last_time >= 86400000000 AND last_time < ?1))
                    LIMIT 64
                    """)
                try pick.bind([.int(cutoff)])
                try pick.run()
                blocks = try db.scalar("SELECT count(*) FROM doomed") ?? 0
                guard blocks > 0 else { return }
                dropped = Int(try db.scalar("SELECT sum(count) FROM doomed") ?? 0)
                try db.execute("""
                    UPDATE sources SET records = records - d.n FROM (SELECT source, sum(count) AS n FROM doomed GROUP BY source) AS d
                        WHERE sources.id = d.source;
                    DELETE FROM tls_values WHERE message IN (SELECT m.id FROM tls_messages m JOIN doomed d ON d.source = m.source AND m.line BETWEEN d.min_line AND d.max_line);
                    DELETE FROM tls_messages WHERE id IN (SELECT m.id FROM tls_messages m JOIN doomed d ON d.source = m.source AND m.line BETWEEN d.min_line AND d.max_line);
                    DELETE FROM record_conns WHERE block IN (SELECT id FROM doomed);
                    DELETE FROM record_blocks WHERE id IN (SELECT id FROM doomed);
                    """)
            }
            total += dropped
            if blocks == 0 { break }
        }
        return total
    }
}
