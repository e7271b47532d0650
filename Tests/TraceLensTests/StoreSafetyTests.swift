import Foundation
import XCTest
@testable import TraceLensInput
@testable import TraceLensRecords
@testable import TraceLensDecode
@testable import TraceLensPlugins
@testable import TraceLensHandshake
@testable import TraceLensCorrelate
@testable import TraceLensStore
@testable import TraceLensRender
@testable import TraceLensQuery
@testable import TraceLensFollow
@testable import TraceLensDiagnose
@testable import TraceLensCommands
@testable import TraceLensBench

/// Run by `testKillDuringIngestLosesNothing` in a child process (this test binary again), which
/// the parent kills with SIGKILL part-way. Does nothing in a normal test run.
final class IngestChildProcess: XCTestCase {
    func testChildIngest() throws {
        let env = ProcessInfo.processInfo.environment
        guard let db = env["TRACELENS_TEST_CHILD_DB"], let file = env["TRACELENS_TEST_CHILD_FILE"] else {
            throw XCTSkip("runs only as the child process of testKillDuringIngestLosesNothing")
        }
        _ = try Fixtures.ingest([file], db: db, batch: 200)
    }
}

/// Nothing lost, nothing twice; clear messages for stores that cannot be used.
final class StoreSafetyTests: XCTestCase {
    func testKillDuringIngestLosesNothing() throws {
        let dir = Fixtures.tempDir()
        let file = dir + "/gskssl.9.trc"
        // Big enough that no machine ingests it between two looks at the store (every 2 ms).
        let truth = try SyntheticTrace(threads: 5, seed: 9).writeWithTruth(to: file, targetBytes: 6_000_000)
        let db = dir + "/k.db"
        var kills = 0
        for round in 0..<3 {
            let child = try Fixtures.startChild(test: "TraceLensTests.IngestChildProcess/testChildIngest",
                                                environment: ["TRACELENS_TEST_CHILD_DB": db, "TRACELENS_TEST_CHILD_FILE": file])
            // Wait until this round has committed something, then a little more, and kill.
            let before = (try? Store.openForReading(db).db.scalar("SELECT coalesce(sum(records), 0) FROM sources")) ?? 0
            let deadline = Date().addingTimeInterval(60)
            var progressed = false
            while child.isRunning && Date() < deadline {
                let now = (try? Store.openForReading(db).db.scalar("SELECT coalesce(sum(records), 0) FROM sources")) ?? 0
                if now > before {
                    // The query commands work while another process writes (WAL).
                    let q = try Fixtures.queries(db)
                    XCTAssertEqual(try q.summary().count, 4)
                    var failed = ConnectionFilter()
                    failed.failedOnly = true
                    _ = try q.connections(failed)
                    progressed = true
                    break
                }
                usleep(2_000)
            }
            usleep(useconds_t(5_000 + round * 20_000))
            if child.isRunning { kill(child.processIdentifier, SIGKILL); kills += 1 }
            // The first round has the whole file before it: it must be killed after a commit.
            if round == 0 { XCTAssertTrue(progressed && kills == 1, "round 0: killed after committing records") }
            child.waitUntilExit()
        }
        XCTAssertGreaterThan(kills, 0, "the child finished before it could be killed; use a bigger file")
        let partial = try Store.openForReading(db).db.scalar("SELECT count(*) FROM records") ?? 0
        XCTAssertLessThan(partial, Int64(truth.owners.filter { $0 != -2 }.count), "killed part-way")

        let (_, results) = try Fixtures.ingest([file], db: db)
        XCTAssertEqual(results[0].kind, .resumed)
        let store = try Store.openForReading(db)
        let records = try store.db.scalar("SELECT count(*) FROM records") ?? 0
        XCTAssertEqual(records, Int64(truth.owners.filter { $0 != -2 }.count), "every record once")
        XCTAssertEqual(try store.db.scalar("SELECT count(DISTINCT line) FROM records"), records)
        XCTAssertEqual(try store.db.scalar("SELECT records FROM sources"), records)
        let score = try Benchmark.accuracy(truth: truth, store: store, source: results[0].source)
        XCTAssertEqual(score.correctRecords, score.records)
        XCTAssertEqual(try store.db.scalar("SELECT count(*) FROM connections"), Int64(truth.connections.count))
    }

    func testFullDiskRollsBackTheBatchAndResumesLater() throws {
        let dir = Fixtures.tempDir()
        let file = dir + "/gskssl.10.trc"
        let truth = try SyntheticTrace(threads: 4, seed: 10).writeWithTruth(to: file, targetBytes: 400_000)
        let db = dir + "/full.db"
        var options = IngestOptions()
        options.batchRecords = 300
        options.maxPageCount = 90  // the catalogue table (every TLS registry row) takes about 40 pages
        do {
            let run = try IngestRun(plugins: Fixtures.plugins, store: try Store.openForWriting(db), options: options)
            XCTAssertThrowsError(try run.ingest(file)) { error in
                XCTAssertTrue("\(error)".contains("the disk is full"), "\(error)")
            }
            // One ingest per store at a time, even within one process.
            XCTAssertThrowsError(try IngestRun(plugins: Fixtures.plugins, store: try Store.openForWriting(db), options: options)) { error in
                XCTAssertTrue("\(error)".contains("already ingesting"), "\(error)")
            }
        }
        // What was committed is consistent: the source's counts match its records.
        let store = try Store.openForReading(db)
        let stored = try store.db.scalar("SELECT count(*) FROM records") ?? -1
        XCTAssertGreaterThan(stored, 0)
        XCTAssertEqual(try store.db.scalar("SELECT records FROM sources"), stored)
        XCTAssertEqual(try store.db.scalar("SELECT count(*) FROM records WHERE line > (SELECT line FROM sources)"), 0)
        // With room again, the ingest resumes and completes.
        try assertResumesToTheWholeTrace(file, db, truth)
    }

    /// Ingesting `file` again resumes it, and the store then holds every record of the trace once,
    /// each in its true connection.
    func assertResumesToTheWholeTrace(_ file: String, _ db: String, _ truth: SyntheticTrace.Truth, line: UInt = #line) throws {
        let (_, results) = try Fixtures.ingest([file], db: db)
        XCTAssertEqual(results[0].kind, .resumed, line: line)
        let score = try Benchmark.accuracy(truth: truth, store: try Store.openForReading(db), source: results[0].source)
        XCTAssertEqual(score.records, truth.owners.filter { $0 != -2 }.count, line: line)
        XCTAssertEqual(score.correctRecords, score.records, line: line)
    }

    /// Ctrl-C: the ingest commits what it read, says where it stopped, and the next one goes on.
    func testAStopRequestCommitsAndTheNextIngestContinues() throws {
        let dir = Fixtures.tempDir()
        let file = dir + "/gskssl.12.trc"
        let truth = try SyntheticTrace(threads: 4, seed: 12).writeWithTruth(to: file, targetBytes: 900_000)
        let db = dir + "/stop.db"
        var options = IngestOptions()
        options.stop = StopSignal()
        options.stop?.request()
        do {
            let run = try IngestRun(plugins: Fixtures.plugins, store: try Store.openForWriting(db), options: options)
            XCTAssertThrowsError(try run.ingest(file)) { error in
                XCTAssertTrue(error is IngestInterrupted, "\(error)")
                XCTAssertTrue("\(error)".contains("stopped as asked; stored up to line"), "\(error)")
            }
        }
        let stored = try Store.openForReading(db).db.scalar("SELECT count(*) FROM records") ?? 0
        XCTAssertEqual(stored, 4095, "stopped at the first check (every 4096 records), after committing what was read")
        try assertResumesToTheWholeTrace(file, db, truth)
    }

    func testStoreIsReadableByItsOwnerOnly() throws {
        let (db, _) = try Fixtures.ingest([Fixtures.sample("revoked-client-cert/gskssl.65567.trc")])
        for path in [db, db + "-wal"] where FileManager.default.fileExists(atPath: path) {
            let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? 0
            XCTAssertEqual(mode & 0o777, 0o600, path)
        }
    }

    func testUnusableStoresGetClearMessages() throws {
        let dir = Fixtures.tempDir()
        // A newer schema.
        let newer = dir + "/newer.db"
        _ = try Store.openForWriting(newer)
        try Database(path: newer, mode: .readWrite).execute("PRAGMA user_version = 99")
        XCTAssertThrowsError(try Store.openForWriting(newer)) { XCTAssertTrue("\($0)".contains("written by a newer TraceLens (store version 99"), "\($0)") }
        XCTAssertThrowsError(try Store.openForReading(newer)) { XCTAssertTrue("\($0)".contains("newer TraceLens"), "\($0)") }
        // Not a database at all: left untouched.
        let junk = dir + "/junk.db"
        let bytes = Array(String(repeating: "not a database at all\n", count: 400).utf8)
        _ = FileManager.default.createFile(atPath: junk, contents: Data(bytes))
        XCTAssertThrowsError(try Store.openForWriting(junk)) { XCTAssertTrue("\($0)".contains("not a TraceLens store, or damaged"), "\($0)") }
        XCTAssertEqual(Array(FileManager.default.contents(atPath: junk)!), bytes)
        // Another application's SQLite file.
        let other = dir + "/other.db"
        try Database(path: other, mode: .readWriteCreate).execute("CREATE TABLE t (x)")
        XCTAssertThrowsError(try Store.openForWriting(other)) { XCTAssertTrue("\($0)".contains("other tables"), "\($0)") }
        // No store yet.
        XCTAssertThrowsError(try Store.openForReading(dir + "/none.db")) { XCTAssertTrue("\($0)".contains("no store here yet"), "\($0)") }
        // A directory we may not write to (skipped as root, who may write anywhere).
        if getuid() != 0 {
            let locked = dir + "/locked"
            try FileManager.default.createDirectory(atPath: locked, withIntermediateDirectories: true)
            chmod(locked, 0o500)
            defer { chmod(locked, 0o700) }
            XCTAssertThrowsError(try Store.openForWriting(locked + "/t.db")) { XCTAssertTrue("\($0)".contains("cannot create the store"), "\($0)") }
        }
    }
}

/// The query commands: read-only SQL, JSON and CSV shapes, and show's rendering.
final class QueryTests: XCTestCase {
    static let db: String = {
        let files = ["revoked-client-cert/gskssl.65567.trc", "tls12-success/gskssl.16777300.trc", "attls-revoked/gsksrvr-ctrace.txt"]
        return TemporaryFolders.shared.keptForTheRun { try! Fixtures.ingest(files.map(Fixtures.sample)).0 }
    }()

    func testSQLIsReadOnly() throws {
        let q = try Fixtures.queries(Self.db)
        XCTAssertEqual(try q.sql("SELECT count(*) AS n FROM records").rows, [[.int(216 + 175 + 31)]])
        XCTAssertEqual(try q.sql("SELECT catalogue, code FROM codes WHERE failure ORDER BY record LIMIT 1").rows, [[.text("cms"), .text("03353041")]])
        for statement in ["DELETE FROM records", "UPDATE sources SET path = 'x'", "INSERT INTO catalogue VALUES ('a','b','c','d')",
                          "DROP TABLE records", "ATTACH DATABASE '/tmp/x.db' AS x", "PRAGMA journal_mode = DELETE",
                          "CREATE TABLE t (x)", "VACUUM"] {
            XCTAssertThrowsError(try q.sql(statement), statement) { error in
                XCTAssertTrue("\(error)".contains("only reading is allowed") || "\(error)".contains("readonly") || "\(error)".contains("read-only"), "\(statement): \(error)")
            }
        }
        XCTAssertEqual(try q.sql("SELECT count(*) FROM records").rows, [[.int(422)]], "nothing changed")
    }

    func testJSONShapes() throws {
        let q = try Fixtures.queries(Self.db)
        let summary = TableWriter.render(try q.summary(), style: .json)
        let object = try JSONSerialization.jsonObject(with: Data(summary.utf8)) as! [String: Any]
        XCTAssertEqual(Set(object.keys), ["sources", "codes", "failed_connections", "peers"])
        let sources = object["sources"] as! [[String: Any]]
        XCTAssertEqual(sources.count, 3)
        XCTAssertEqual(Set(sources[0].keys), ["source", "file", "layout", "first", "last", "records", "unparsed", "unlinked", "connections", "failed", "linked"])
        XCTAssertEqual(sources[0]["records"] as? Int, 216)
        XCTAssertEqual(sources[0]["unlinked"] as? Int, 25, "the environment set-up before the connection")
        let failed = object["failed_connections"] as! [[String: Any]]
        XCTAssertEqual(failed.count, 3)
        XCTAssertEqual(failed.map { $0["peer"] as? String }, ["10.1.0.2:42530", "10.1.0.2:42514", "10.1.0.2:42515"])

        let list = TableWriter.render([("connections", try q.connections(ConnectionFilter()))], style: .json)
        let connections = try JSONSerialization.jsonObject(with: Data(list.utf8)) as! [[String: Any]]
        XCTAssertEqual(connections.count, 7)
        XCTAssertEqual(Set(connections[0].keys), ["conn", "start", "end", "peer", "process", "thread", "protocol", "cipher", "subject", "issuer", "outcome", "error", "file", "records", "linked"])
        XCTAssertEqual(connections.filter { $0["outcome"] as? String == "failed" }.count, 3)

        var filter = ConnectionFilter()
        filter.peer = "10.1.0.2:42538"
        let one = try q.connections(filter)
        XCTAssertEqual(one.rows.count, 1)
        filter = ConnectionFilter()
        filter.since = TimeBound.parse("2022-03-25T00:00")
        XCTAssertEqual(try q.connections(filter).rows.count, 2, "the two sessions of tls12-success")
        filter.since = TimeBound.parse("23:00")
        XCTAssertEqual(try q.connections(filter).rows.count, 1, "time of day: only the component trace's connection started at 23:59:57")

        var csv = ""
        TableWriter.csv(one, into: &csv)
        let lines = csv.split(separator: "\r\n")
        XCTAssertEqual(lines.count, 2)
        XCTAssertTrue(lines[1].contains("\"CN=secp521r,O=cpwebuser,C=GB\""), String(lines[1]))
    }

    func testShowRendersRecordsLikeFormat() throws {
        let q = try Fixtures.queries(Self.db)
        let conn = try XCTUnwrap(q.store.db.scalar("SELECT id FROM connections WHERE error = 'cms:03353041' AND thread = '3'"))
        let out = Fixtures.tempDir() + "/show.txt"
        let fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try ConnectionStory(queries: q).show(conn, style: .text, colour: false, output: Output(fd: fd), ladder: false)
        close(fd)
        let shown = String(decoding: FileManager.default.contents(atPath: out)!, as: UTF8.self)
        XCTAssertTrue(shown.hasPrefix("Connection \(conn): failed: CMS 03353041: Certificate is revoked. (with TLS alert 44, SSL 431)\n"), shown)
        let (formatted, _) = Fixtures.format([Fixtures.sample("revoked-client-cert/gskssl.65567.trc")]) { $0.filter.threads = ["3"] }
        let body = shown.components(separatedBy: "\n\n").dropFirst().joined(separator: "\n\n")
        XCTAssertEqual(body, formatted, "the connection is thread 3's records, rendered as format renders them")

        let jsonPath = Fixtures.tempDir() + "/show.json"
        let jfd = open(jsonPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try ConnectionStory(queries: q).show(conn, style: .json, colour: false, output: Output(fd: jfd))
        close(jfd)
        let object = try JSONSerialization.jsonObject(with: FileManager.default.contents(atPath: jsonPath)!) as! [String: Any]
        XCTAssertEqual((object["connection"] as? [String: Any])?["outcome"] as? String, "failed")
        XCTAssertEqual((object["records"] as? [[String: Any]])?.count, 58)
        XCTAssertThrowsError(try ConnectionStory(queries: q).show(9999, style: .text, colour: false, output: Output(fd: jfd)))
    }
}

final class TableWriterTests: XCTestCase {
    func testTextTablesAlignNumbersRightAndCountCharacters() {
        let t = ResultTable(columns: ["id", "dn", "n"], rows: [
            [.int(7), .text("CN=Müller,O=x"), .int(12345)],
            [.int(123), .text("CN=a"), .null],
        ])
        let out = TableWriter.render([("t", t)], style: .text)
        XCTAssertEqual(out, """
             id  dn                 n
            ---  -------------  -----
              7  CN=Müller,O=x  12345
            123  CN=a

            """)
    }

    func testCSVQuotesWhatNeedsIt() {
        let t = ResultTable(columns: ["a", "b"], rows: [[.text("x,y"), .text("say \"hi\"\nthere")], [.int(1), .null]])
        XCTAssertEqual(TableWriter.render([("t", t)], style: .csv), "a,b\r\n\"x,y\",\"say \"\"hi\"\"\nthere\"\r\n1,\r\n")
    }
}
