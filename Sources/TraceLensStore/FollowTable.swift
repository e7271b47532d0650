/// The `follows` table: what each file a `watch` or `daemon` process follows is doing, for
/// `status` to show.

/// One followed file's row.
package struct FollowRow {
    package var path: String
    package var source: Int64?
    package var device: Int64
    package var inode: Int64
    package var size: Int64
    /// Where reading stopped (bytes of a partial last line not counted).
    package var offset: Int64
    package var state: String
    package var records: Int
    package var rate: Double
    /// nil keeps the last error shown, with its time.
    package var lastError: String?
    package var pid: Int64
    package init(path: String, source: Int64? = nil, device: Int64, inode: Int64, size: Int64, offset: Int64, state: String, records: Int, rate: Double, lastError: String? = nil, pid: Int64) {
        self.path = path
        self.source = source
        self.device = device
        self.inode = inode
        self.size = size
        self.offset = offset
        self.state = state
        self.records = records
        self.rate = rate
        self.lastError = lastError
        self.pid = pid
    }
}

extension Store {
    /// Forgets the rows of follower processes other than `pid` (they have stopped).
    package func forgetFollows(notOf pid: Int64) throws {
        try db.transaction { try db.execute("DELETE FROM follows WHERE pid IS NOT \(pid)") }
    }

    /// Writes these rows, replacing those of the same paths, in one transaction.
    package func saveFollows(_ rows: [FollowRow]) throws {
        try db.transaction {
            let upsert = try db.prepare("""
                INSERT INTO follows (path, source, device, inode, size, offset, state, records, rate, last_error, error_at, pid, updated_at)
                VALUES (?1, ?2, ?3, ?4, ?5, ?11, ?6, ?7, ?8, ?9,
                        CASE WHEN ?9 IS NULL THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%fZ', 'now') END, ?10, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                ON CONFLICT (path) DO UPDATE SET source = excluded.source, device = excluded.device, inode = excluded.inode,
                    size = excluded.size, offset = excluded.offset, state = excluded.state, records = excluded.records, rate = excluded.rate,
                    last_error = coalesce(excluded.last_error, follows.last_error),
                    error_at = coalesce(excluded.error_at, follows.error_at), pid = excluded.pid, updated_at = excluded.updated_at
                """)
            for r in rows {
                try upsert.bind([.text(r.path), r.source.map { SQLValue.int($0) } ?? .null, .int(r.device), .int(r.inode), .int(r.size),
                                 .text(r.state), .int(Int64(r.records)), .double(r.rate), r.lastError.map { SQLValue.text($0) } ?? .null,
                                 .int(r.pid), .int(r.offset)])
                try upsert.run()
            }
        }
    }
}
