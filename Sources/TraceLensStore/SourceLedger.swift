import TraceLensRecords
import TraceLensDecode
import TraceLensPlugins
import TraceLensCorrelate
import TraceLensInput

/// What the store remembers of each source, and the bookkeeping `ingest` does with it: finding
/// the source a file continues, adding one, dropping a tail to read again, and the connections a
/// resumed read carries on with.

/// A source as the store remembers it, and whether the file at hand is still that file.
package struct StoredSource {
    package var id: Int64
    package var path = ""

    package var sameFile: Bool
    package var size: Int64
    package var offset: Int
    package var line: Int
    package var layout: String?
    package var readerState: String?
    package var lanes: String?
    package var tailRecord: Int64?
}

extension Store {
    /// The next connection id (one ingest writes at a time: see `lockForIngest`).
    package func nextConnectionID() throws -> Int64 {
        (try db.scalar("SELECT coalesce(max(id), 0) + 1 FROM connections")) ?? 1
    }

    package func addSource(path: String, identity: SourceIdentity?) throws -> Int64 {
        let insert = try db.prepare("INSERT INTO sources (path, device, inode, head_length, head_hash, size) VALUES (?1, ?2, ?3, ?4, ?5, 0)")
        try insert.bind([.text(path), identity.map { .int($0.device) } ?? .null, identity.map { .int($0.inode) } ?? .null,
                         .int(Int64(identity?.headLength ?? 0)), identity.map { .text($0.headHash) } ?? .null])
        try insert.run()
        return db.lastInsertRowID
    }

    /// Removes a source that failed before anything of it was committed.
    package func removeSource(_ id: Int64) throws {
        try db.transaction { try db.execute("DELETE FROM sources WHERE id = \(id)") }
    }

    /// Records what detection found: the layout (`client-transcript+gsktrace` for a mixed
    /// file), the encoding, the process from the file name.
    package func recordLayout(source: Int64, layout: String?, encoding: String, process: String?) throws {
        try db.transaction {
            let s = try db.prepare("UPDATE sources SET layout = ?2, encoding = ?3, process = ?4 WHERE id = ?1")
            try s.bind([.int(source), layout.map(SQLValue.text) ?? .null, .text(encoding), process.map(SQLValue.text) ?? .null])
            try s.run()
        }
    }

    /// Removes what the last ingest stored of the file's tail (its last record, which the file's
    /// growth may have completed), with its share of the counts, so it is read again whole.
    package func dropTail(source: Int64, firstRecord: Int64, afterLine line: Int) throws {
        let tail = "FROM records r WHERE r.source = ?1 AND r.id >= ?2"
        let args: [SQLValue] = [.int(source), .int(firstRecord), .int(Int64(line))]
        for sql in [
            """
            UPDATE sources SET records = records - (SELECT count(*) \(tail)),
                unparsed = unparsed - (SELECT count(*) \(tail) AND r.level IS NULL),
                unlinked = unlinked - (SELECT count(*) \(tail) AND r.conn IS NULL),
                codes = codes - (SELECT coalesce(sum(json_array_length(r.codes)), 0) \(tail)),
                failure_codes = failure_codes - (SELECT count(*) FROM records r, json_each(r.codes) j WHERE r.source = ?1 AND r.id >= ?2 AND j.value LIKE '!%'),
                tail_record = NULL
            WHERE id = ?1 AND ?3 >= 0
            """,
            """
            UPDATE code_counts SET count = count - (SELECT count(*) FROM records r, json_each(r.codes) j
                WHERE r.source = ?1 AND r.id >= ?2 AND ltrim(j.value, '!') = code_counts.catalogue || ':' || code_counts.code)
            WHERE source = ?1 AND ?3 >= 0
            """,
            "DELETE FROM code_counts WHERE source = ?1 AND count <= 0 AND ?2 > 0 AND ?3 >= 0",
            // The TLS messages of the records redone go with them (they are read again).
            "DELETE FROM tls_values WHERE message IN (SELECT id FROM tls_messages WHERE source = ?1 AND line >= (SELECT min(line) FROM records WHERE source = ?1 AND id >= ?2)) AND ?3 >= 0",
            "DELETE FROM tls_messages WHERE source = ?1 AND line >= (SELECT min(line) FROM records WHERE source = ?1 AND id >= ?2) AND ?3 >= 0",
            // The tail's records are whole blocks of their own (`StoreWriter.commit`).
            "DELETE FROM record_conns WHERE block IN (SELECT id FROM record_blocks WHERE source = ?1 AND id >= ?2) AND ?3 >= 0",
            "DELETE FROM record_blocks WHERE source = ?1 AND id >= ?2 AND ?3 >= 0",
            "DELETE FROM conn_keys WHERE conn IN (SELECT id FROM connections WHERE source = ?1 AND first_line > ?3) AND ?2 > 0",
            "DELETE FROM connections WHERE source = ?1 AND first_line > ?3 AND ?2 > 0",
        ] {
            let s = try db.prepare(sql)
            try s.bind(args)
            try s.run()
        }
    }

    /// The source this file continues, if any: one with the same device and inode (a renamed
    /// file), else one with the same path. It is the same file when the bytes it was identified
    /// by are still there. `headOf` reads the file's first bytes again when more were hashed then.
    package func findSource(path: String, identity: SourceIdentity, headOf: ((Int) -> SourceIdentity?)? = nil) throws -> StoredSource? {
        let q = try db.prepare("""
            SELECT \(Self.storedSourceColumns) FROM sources
            WHERE path = ?1 OR (device = ?2 AND inode = ?3) ORDER BY (device IS ?2 AND inode IS ?3) DESC, id DESC LIMIT 1
            """)
        try q.bind([.text(path), .int(identity.device), .int(identity.inode)])
        guard try q.step() else { return nil }
        var found = Self.storedSource(q)
        let headLength = q.int(3)
        let sameInode = q.int64(1) == identity.device && q.int64(2) == identity.inode
        var sameHead = false
        if sameInode, let stored = q.string(4) {
            let head = headLength == identity.headLength ? identity : (headOf ?? { SourceIdentity.of(path, headLength: $0) })(headLength)
            sameHead = head?.headHash == stored && head?.headLength == headLength
        }
        found.sameFile = sameInode && sameHead
        return found
    }

    package static let storedSourceColumns = "id, device, inode, head_length, head_hash, size, offset, line, layout, reader_state, lanes, tail_record, path"

    package static func storedSource(_ q: Statement) -> StoredSource {
        StoredSource(id: q.int64(0), path: q.string(12) ?? "", sameFile: true, size: q.int64(5), offset: q.int(6), line: q.int(7),
                     layout: q.string(8), readerState: q.string(9), lanes: q.string(10),
                     tailRecord: q.isNull(11) ? nil : q.int64(11))
    }

    /// A source by id (the one a rotated copy continues).
    package func storedSource(id: Int64) throws -> StoredSource? {
        let q = try db.prepare("SELECT \(Self.storedSourceColumns) FROM sources WHERE id = ?1")
        try q.bind([.int(id)])
        return try q.step() ? Self.storedSource(q) : nil
    }

    /// A followed file now goes by another name (rotation renamed it, or a copy continues it).
    package func renameSource(_ id: Int64, to path: String) throws {
        let s = try db.prepare("UPDATE sources SET path = ?2 WHERE id = ?1 AND path <> ?2")
        try s.bind([.int(id), .text(path)])
        try s.run()
    }

    /// The connections a resumed ingest carries on with: open ones of this source, the last
    /// ended one of each lane, and those the saved lanes hold; with their keys.
    /// `held` are the ids the saved lane state names (the correlator reads its own format).
    package func savedConnections(source: Int64, held: [Int64], plugins: PluginSet) throws
        -> (connections: [LiveConnection], keys: [(conn: Int64, name: String, value: String)]) {
        let columns = ConnectionRule.columns
        let q = try db.prepare("""
            SELECT id, rule, lane, stage, process, thread, start_time, end_time, first_line, last_line, outcome, ended, error, related, records,
                   \(columns.joined(separator: ", "))
            FROM connections WHERE source = ?1 AND (ended = 0 OR id IN (SELECT max(id) FROM connections WHERE source = ?1 GROUP BY lane)
                OR id IN (SELECT value FROM json_each(?2)))
            """)
        try q.bind([.int(source), .text("[" + held.map(String.init).joined(separator: ",") + "]")])
        var live: [LiveConnection] = []
        while try q.step() {
            let conn = LiveConnection(id: q.int64(0), source: source, rule: q.string(1) ?? "", lane: q.string(2) ?? "", line: q.int(8), stage: q.int(3))
            conn.process = q.string(4)
            conn.thread = q.string(5)
            if !q.isNull(6) { conn.startTime = Timestamp(micros: q.int64(6)) }
            if !q.isNull(7) { conn.endTime = Timestamp(micros: q.int64(7)) }
            conn.lastLine = q.int(9)
            conn.outcome = LiveConnection.Outcome(rawValue: q.string(10) ?? "open") ?? .open
            conn.ended = q.int(11) != 0
            for ref in ([q.string(12)] + (q.string(13) ?? "").split(separator: " ").map(String.init)).compactMap({ $0 }) {
                guard let r = CodeRef(Substring(ref)), let resolved = plugins.catalogueIndex(r.catalogue),
                      let v = plugins.catalogues[resolved].value(fromCatalogueText: r.code) else { continue }
                conn.failures.append((resolved, v))
            }
            conn.records = q.int(14)
            for (i, name) in columns.enumerated() {
                if case let value = q.value(Int32(15 + i)), value != .null { conn.fields.append((name, value.displayText)) }
            }
            live.append(conn)
        }
        // Counts again from the records kept (a dropped tail took some away).
        let count = try db.prepare("SELECT count(*) FROM records WHERE conn = ?1")
        for conn in live {
            try count.bind([.int(conn.id)])
            if try count.step() { conn.records = count.int(0) }
        }
        var keys: [(conn: Int64, name: String, value: String)] = []
        let byID = Dictionary(live.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let k = try db.prepare("SELECT conn, name, value FROM conn_keys WHERE conn IN (SELECT value FROM json_each(?1))")
        try k.bind([.text("[" + live.map { String($0.id) }.joined(separator: ",") + "]")])
        while try k.step() {
            let id = k.int64(0), name = k.string(1) ?? "", value = k.string(2) ?? ""
            keys.append((id, name, value))
            byID[id]?.fields.append((name, value))
        }
        return (live, keys)
    }
}

/// The bytes a source is known by, and where its file was: enough to tell whether the file it
/// was read from is still there and still starts the same way.
package struct StoredHead {
    package var length: Int
    package var hash: String?
    package var device: Int64
    package var inode: Int64
    package var path: String?
}

extension Store {
    /// For a file met for the first time that is not a source already: the source whose first
    /// bytes it starts with (a copy left by copytruncate, a rotated segment compressed to .gz).
    /// `descriptor` is the file's, open; a .gz is compared by its inflated start.
    package func continuedSource(path: String, descriptor: Int32, gzip: Bool) throws -> Int64? {
        if let identity = SourceIdentity.of(descriptor: descriptor),
           let known = try findSource(path: path, identity: identity, headOf: { SourceIdentity.of(descriptor: descriptor, headLength: $0) }),
           known.sameFile, !gzip {
            return nil
        }
        let head: [UInt8]
        if gzip {
            head = SourceIdentity.inflatedHead(descriptor: descriptor, length: SourceIdentity.headLimit) ?? []
        } else {
            var h = [UInt8](repeating: 0, count: SourceIdentity.headLimit)
            let n = h.withUnsafeMutableBytes { Platform.read(descriptor, at: 0, into: $0.baseAddress!, count: SourceIdentity.headLimit) }
            head = Array(h[0..<max(n, 0)])
        }
        guard !head.isEmpty else { return nil }
        let q = try db.prepare("""
            SELECT id, head_length, head_hash FROM sources
            WHERE head_length > 0 AND head_length <= ?1 AND head_hash IS NOT NULL
            ORDER BY id DESC
            """)
        // Any source, including one of the same inode: inodes are reused (a .gz written after
        // its original was deleted may get the original's inode).
        try q.bind([.int(Int64(head.count))])
        var hashes: [Int: String] = [:]
        while try q.step() {
            let length = q.int(1)
            let hash = hashes[length] ?? SourceIdentity.hash(head[0..<length])
            hashes[length] = hash
            if hash == q.string(2) { return q.int64(0) }
        }
        return nil
    }

    /// The head a source is known by and the file it was read from; nil for no such source.
    package func storedHead(source: Int64) throws -> StoredHead? {
        let q = try db.prepare("SELECT head_length, head_hash, device, inode, path FROM sources WHERE id = ?1")
        try q.bind([.int(source)])
        guard try q.step() else { return nil }
        return StoredHead(length: q.int(0), hash: q.string(1), device: q.int64(2), inode: q.int64(3), path: q.string(4))
    }

    /// Identifies a source by more of its first bytes (its file has grown since it was first seen).
    package func replaceHead(source: Int64, with identity: SourceIdentity) throws {
        try db.transaction {
            let u = try db.prepare("UPDATE sources SET head_length = ?2, head_hash = ?3 WHERE id = ?1")
            try u.bind([.int(source), .int(Int64(identity.headLength)), .text(identity.headHash)])
            try u.run()
        }
    }

    /// How many records the store holds of a source (a redone tail is counted once).
    package func storedRecordCount(source: Int64) throws -> Int {
        let q = try db.prepare("SELECT records FROM sources WHERE id = ?1")
        try q.bind([.int(source)])
        return try q.step() ? q.int(0) : 0
    }

    /// `renameSource` on its own, committed at once (a followed file renamed between reads).
    package func renameSourceNow(_ id: Int64, to path: String) throws {
        try db.transaction { try renameSource(id, to: path) }
    }
}
