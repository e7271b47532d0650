import Foundation

/// Dropping old records from a store that a daemon keeps filling. Connection rows (the
/// summaries: peer, outcome, error, times), their keys and links stay, so `connections` still
/// lists what happened; `show` then has no records left to print for them.
public enum Retention {
    /// Deletes records whose time is more than `days` before `now`, and time-less records of
    /// sources whose last time is; returns how many. Trace times are local wall-clock times, so
    /// the cut is exact to the hours between the trace's zone and UTC.
    public static func drop(store: Store, olderThanDays days: Double, now: Date = Date()) throws -> Int {
        let cutoff = Int64((now.timeIntervalSince1970 - days * 86400) * 1_000_000)
        let db = store.db
        var total = 0
        // In slices, so that one transaction does not hold the write lock for long.
        while true {
            var dropped = 0
            try db.transaction {
                try db.execute("""
                    CREATE TEMP TABLE IF NOT EXISTS doomed (id INTEGER PRIMARY KEY, source INTEGER);
                    DELETE FROM doomed;
                    """)
                let pick = try db.prepare("""
                    INSERT INTO doomed SELECT id, source FROM records r
                    WHERE (r.time >= 86400000000 AND r.time < ?1)
                       OR (r.time IS NULL AND r.source IN (SELECT id FROM sources WHERE last_time >= 86400000000 AND last_time < ?1))
                    LIMIT 50000
                    """)
                try pick.bind([.int(cutoff)])
                try pick.run()
                dropped = Int(try db.scalar("SELECT count(*) FROM doomed") ?? 0)
                guard dropped > 0 else { return }
                try db.execute("""
                    UPDATE sources SET records = records - d.n FROM (SELECT source, count(*) AS n FROM doomed GROUP BY source) AS d
                        WHERE sources.id = d.source;
                    DELETE FROM tls_values WHERE message IN (SELECT m.id FROM tls_messages m JOIN records r ON r.source = m.source AND r.line = m.line WHERE r.id IN (SELECT id FROM doomed));
                    DELETE FROM tls_messages WHERE id IN (SELECT m.id FROM tls_messages m JOIN records r ON r.source = m.source AND r.line = m.line WHERE r.id IN (SELECT id FROM doomed));
                    DELETE FROM records WHERE id IN (SELECT id FROM doomed);
                    """)
            }
            total += dropped
            if dropped < 50000 { break }
        }
        return total
    }
}
