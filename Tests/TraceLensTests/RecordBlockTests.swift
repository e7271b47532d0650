import XCTest
@testable import TraceLensInput
@testable import TraceLensRecords
@testable import TraceLensStore
@testable import TraceLensCommands
@testable import TraceLensBench

extension Fixtures {
    /// Turns a store into what version 4 wrote: `records` a table with a row per record and its
    /// text (the layout below is version 4's, kept here to make such stores); `then` makes it
    /// older still, in the same connection (a later open for writing would upgrade it).
    static func downgradeToVersion4(_ db: String, then older: String = "") throws {
        let store = try Store.openForWriting(db)
        try store.db.execute("""
            \(withoutVersion6)
            CREATE TABLE records_v4 (
                id INTEGER PRIMARY KEY, source INTEGER NOT NULL, line INTEGER NOT NULL, lines INTEGER NOT NULL, time INTEGER,
                level TEXT, process TEXT, thread TEXT, fn_at INTEGER, fn_len INTEGER,
                function TEXT GENERATED ALWAYS AS (CAST(substr(CAST(text AS BLOB), fn_at + 1, fn_len) AS TEXT)) VIRTUAL,
                conn INTEGER, failure INTEGER NOT NULL, codes TEXT, text TEXT NOT NULL);
            INSERT INTO records_v4 (id, source, line, lines, time, level, process, thread, fn_at, fn_len, conn, failure, codes, text)
                SELECT id, source, line, lines, time, level, process, thread, fn_at, fn_len, conn, failure, codes, text FROM records;
            DROP VIEW decoded_codes; DROP VIEW codes; DROP TABLE records; DROP TABLE record_conns; DROP TABLE record_blocks;
            ALTER TABLE records_v4 RENAME TO records;
            CREATE INDEX records_conn ON records(conn) WHERE conn IS NOT NULL;
            \(Schema.codeViews)
            PRAGMA user_version = 4;
            \(older)
            """)
    }

    /// Turns a store into what version 5 wrote: no revisions, sequences or export cursors.
    static func downgradeToVersion5(_ db: String) throws {
        try Store.openForWriting(db).db.execute(withoutVersion6 + "\nPRAGMA user_version = 5;")
    }

    /// What version 6 added, dropped (in the same connection: a new open for writing would add it again).
    static let withoutVersion6 = """
        DROP TRIGGER connections_revised_on_insert; DROP TRIGGER connections_revised_on_story;
        DROP TRIGGER story_revised_on_link; DROP TRIGGER story_revised_on_unlink;
        DROP TABLE export_sinks; DROP TABLE sequences; DROP INDEX connections_revision;
        ALTER TABLE connections DROP COLUMN revision;
        """

    /// Every column of every record, in id order, as one line each.
    static func storedRecords(_ db: String) throws -> [String] {
        try Store.openForReading(db).db.prepare("""
            SELECT id, source, line, lines, time, level, process, thread, fn_at, fn_len, function, conn, failure, codes, hex(text)
            FROM records ORDER BY id
            """).rows().map { "\($0)" }
    }
}

final class RecordBlockTests: XCTestCase {
    /// Each record's text comes back from the blocks byte for byte: the same bytes the record
    /// stream reads from the file, for every layout of the samples.
    func testRecordsReadBackByteForByteFromTheBlocks() throws {
        let dir = Fixtures.root + "/samples/revoked-client-cert"
        let paths = try FileManager.default.contentsOfDirectory(atPath: dir).sorted().map { dir + "/" + $0 }
        let (db, results) = try Fixtures.ingest(paths, batch: 37)
        let store = try Store.openForReading(db)
        XCTAssertGreaterThan(try store.db.scalar("SELECT count(*) FROM record_blocks") ?? 0, Int64(paths.count), "small batches make several blocks per file")
        for (path, result) in zip(paths, results) {
            let (records, _) = try Fixtures.records(path)
            let q = try store.db.prepare("SELECT line, text FROM records WHERE source = ?1 ORDER BY id")
            try q.bind([.int(result.source)])
            var stored: [(Int, [UInt8])] = []
            while try q.step() { stored.append((q.int(0), q.bytes(1))) }
            XCTAssertEqual(stored.map(\.0), records.map(\.line), path)
            XCTAssertEqual(stored.map(\.1), records.map(\.bytes), path)
        }
    }

    /// Constraints narrow the blocks read, never the answer: each query gives what the same
    /// query without them (`+column` keeps SQLite from passing them on) gives.
    func testConstraintsGiveWhatAFullScanGives() throws {
        let path = Fixtures.tempDir() + "/gskssl.77.trc"
        _ = try SyntheticTrace(threads: 6, seed: 5).write(to: path, targetBytes: 400_000)
        let (db, _) = try Fixtures.ingest([path, Fixtures.sample("revoked-client-cert/gldsrv.joblog")], batch: 1000)
        let store = try Store.openForReading(db)
        let blocks = try store.db.scalar("SELECT count(*) FROM record_blocks") ?? 0
        XCTAssertGreaterThan(blocks, 5)
        let last = try store.db.scalar("SELECT max(id) FROM records") ?? 0
        for condition in ["conn = 7", "conn = 7.0", "conn = -1", "source = 2", "source = 1 AND id >= \(last / 2)",
                          "id = \(last / 3)", "id > \(last - 5)", "id < 10", "id <= 2000 AND id >= 1999", "line BETWEEN 100 AND 300",
                          "line = 1", "line < 3 AND source = 2", "conn = 7 AND line > 40", "id >= 'x'"] {
            let narrowed = try store.db.prepare("SELECT id, text FROM records WHERE \(condition) ORDER BY id").rows()
            let scanned = condition.replacingOccurrences(of: "conn", with: "+conn").replacingOccurrences(of: "source", with: "+source")
                .replacingOccurrences(of: "id ", with: "+id ").replacingOccurrences(of: "line ", with: "+line ")
            let full = try store.db.prepare("SELECT id, text FROM records WHERE \(scanned) ORDER BY id").rows()
            XCTAssertEqual(narrowed, full, condition)
        }
        XCTAssertFalse(try store.db.prepare("SELECT id FROM records WHERE conn = 7").rows().isEmpty)
        let plan = try store.db.prepare("EXPLAIN QUERY PLAN SELECT text FROM records WHERE conn = 7").rows().map { "\($0)" }.joined()
        XCTAssertTrue(plan.contains("VIRTUAL TABLE INDEX 1:"), plan)
        // A connection's records come from the blocks record_conns names, and only those.
        let used = try store.db.scalar("SELECT count(*) FROM record_conns WHERE conn = 7") ?? 0
        XCTAssertGreaterThan(used, 0)
        XCTAssertLessThan(used, blocks)
    }

    /// The store is a fraction of the trace, not a copy: records in compressed blocks.
    func testTheStoreIsSmallerThanHalfTheTrace() throws {
        let path = Fixtures.tempDir() + "/gskssl.78.trc"
        _ = try SyntheticTrace(threads: 8, seed: 3).write(to: path, targetBytes: 4 << 20)
        let (db, results) = try Fixtures.ingest([path])
        let traceSize = try XCTUnwrap(Platform.status(path: path)?.size)
        let storeSize = try XCTUnwrap(Platform.status(path: db)?.size) + (Platform.status(path: db + "-wal")?.size ?? 0)
        XCTAssertLessThan(Double(storeSize), 0.5 * Double(traceSize), "\(storeSize) bytes for a \(traceSize)-byte trace")
        XCTAssertEqual(try Store.openForReading(db).db.scalar("SELECT count(*) FROM records"), Int64(results[0].records))
    }

    /// A damaged block is an error naming it, never a trap or wrong rows; the other blocks
    /// still read.
    func testADamagedBlockIsReportedAndTheOthersStillRead() throws {
        let path = Fixtures.sample("revoked-client-cert/gskssl.65567.trc")
        let (db, _) = try Fixtures.ingest([path], batch: 50)
        let before = try Fixtures.storedRecords(db)
        do {
            let store = try Store.openForWriting(db)
            try store.db.execute("UPDATE record_blocks SET data = substr(data, 1, length(data) / 2) WHERE id = (SELECT min(id) FROM record_blocks)")
            try store.db.execute("UPDATE record_blocks SET raw_size = raw_size + 1 WHERE id = (SELECT max(id) FROM record_blocks)")
        }
        let all = try Fixtures.runTool(["sql", "--db", db, "SELECT count(*) FROM records"])
        XCTAssertNotEqual(all.status, 0)
        XCTAssertTrue(all.stderr.contains("record block 1 is damaged"), all.stderr)
        let store = try Store.openForReading(db)
        let middle = try store.db.prepare("SELECT id FROM record_blocks ORDER BY id LIMIT 1 OFFSET 1").rows()
        guard case let .int(id) = try XCTUnwrap(middle.first?.first) else { return XCTFail("no second block") }
        let rows = try store.db.prepare("SELECT id, source, line, lines, time, level, process, thread, fn_at, fn_len, function, conn, failure, codes, hex(text) FROM records WHERE id = \(id)").rows()
        let prefix = String("\([SQLValue.int(id)])".dropLast()) + ","
        XCTAssertEqual(rows.map { "\($0)" }, before.filter { $0.hasPrefix(prefix) })
        XCTAssertEqual(rows.count, 1)
    }

    /// Bytes that are no block (random, cut, or a block's own bytes cut short) never trap and
    /// never read as records.
    func testDecodingRandomOrCutBlocksNeverTraps() {
        var encoder = RecordBlock.Encoder()
        let text = Array("04/12/2022-14:00:00 Thd-6 INFO gsk_list_free(): Freeing certificate list".utf8)
        for i in 0..<40 {
            text.withUnsafeBytes { t in
                encoder.append(line: i * 2 + 1, lines: 1, time: i % 3 == 0 ? nil : Int64(i) * 1_000_000, level: nil, process: nil,
                               thread: UnsafeRawBufferPointer(rebasing: t[20..<25]), function: (31, 13), conn: i % 4 == 0 ? nil : Int64(i / 4),
                               failure: i == 7, codes: nil, text: t)
            }
        }
        var rows: [RecordBlock.Row] = []
        let raw = encoder.raw
        XCTAssertTrue(RecordBlock.decode(raw, count: 40, into: &rows))
        XCTAssertEqual(rows.map(\.line), (0..<40).map { $0 * 2 + 1 })
        XCTAssertEqual(rows[7].failure, true)
        XCTAssertEqual(rows[3].time, nil)
        XCTAssertEqual(rows[5].conn, 1)
        XCTAssertEqual(Array(raw[rows[9].text]), text)
        XCTAssertFalse(RecordBlock.decode(encoder.raw, count: 41, into: &rows), "one record more than the bytes hold")
        XCTAssertFalse(RecordBlock.decode(encoder.raw, count: 39, into: &rows), "bytes left over")
        for cut in stride(from: 0, to: encoder.raw.count, by: 7) {
            XCTAssertFalse(RecordBlock.decode(Array(encoder.raw[..<cut]), count: 40, into: &rows))
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0..<300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = RecordBlock.decode(bytes, count: Int.random(in: 0..<20, using: &generator), into: &rows)
            var out: [UInt8] = []
            bytes.withUnsafeBytes { XCTAssertFalse(Deflate.inflate($0, size: 100, into: &out) && out.count != 100) }
        }
        var out: [UInt8] = []
        let packed = encoder.raw.withUnsafeBytes { Deflate.compress($0) }
        packed.withUnsafeBytes {
            XCTAssertTrue(Deflate.inflate($0, size: encoder.raw.count, into: &out))
            XCTAssertFalse(Deflate.inflate($0, size: encoder.raw.count - 1, into: &out), "a size that is not the block's")
            XCTAssertFalse(Deflate.inflate($0, size: Deflate.maxInflated + 1, into: &out))
        }
    }

    /// A version 4 store (a row per record) is upgraded on write: the same records, in blocks;
    /// read-only, it is read as it is.
    func testAVersion4StoreIsReadAsItIsAndUpgradedToBlocks() throws {
        let (db, _) = try Fixtures.ingest([Fixtures.sample("revoked-client-cert/gskssl.65567.trc"), Fixtures.sample("revoked-client-cert/gldsrv.joblog")], batch: 40)
        let before = try Fixtures.storedRecords(db)
        try Fixtures.downgradeToVersion4(db)
        XCTAssertEqual(try Fixtures.storedRecords(db), before, "version 4 read as it is")
        let show = try Fixtures.runTool(["show", "--db", db, "1"])
        XCTAssertEqual(show.status, 0, show.stderr)
        let store = try Store.openForWriting(db)
        XCTAssertEqual(try store.db.scalar("PRAGMA user_version"), 6)
        XCTAssertEqual(try Fixtures.storedRecords(db), before, "the same records after the upgrade")
        XCTAssertGreaterThan(try store.db.scalar("SELECT count(*) FROM record_blocks") ?? 0, 1)
        XCTAssertEqual(try Fixtures.runTool(["show", "--db", db, "1"]).stdout, show.stdout)
        XCTAssertEqual(try store.db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'records_v4'"), 0)
    }
}
