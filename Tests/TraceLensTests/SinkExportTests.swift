import XCTest
@testable import TraceLensInput
@testable import TraceLensStore
@testable import TraceLensQuery
@testable import TraceLensExport
@testable import TraceLensCommands
@testable import TraceLensBench
@testable import TraceLensDiagnose

extension Fixtures {
    /// The rows of ndjson files (the rotated ones oldest first, then the file), each parsed.
    static func ndjsonRows(_ path: String) throws -> [[String: Any]] {
        var files: [String] = []
        var n = 1
        while FileManager.default.fileExists(atPath: "\(path).\(n)") { files.insert("\(path).\(n)", at: 0); n += 1 }
        if FileManager.default.fileExists(atPath: path) { files.append(path) }
        var rows: [[String: Any]] = []
        for file in files {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            for line in text.split(separator: "\n") {
                rows.append(try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any])
            }
        }
        return rows
    }

    /// Exports a store to an ndjson file through the exporter (what `export --ndjson` runs).
    @discardableResult
    static func exportNDJSON(_ db: String, to path: String, name: String = "ndjson", maxSize: Int64 = 100 << 20, keep: Int = 5,
                             batchRecords: Int = 5_000, host: String = "lpar1") throws -> ExportTotals {
        var spec = SinkSpec(name: name, kind: .ndjson(path: path, maxSize: maxSize, keep: keep))
        spec.options.batchRecords = batchRecords
        let exporter = try Exporter(storePath: db, plugins: plugins, host: host, sink: try spec.makeSink(), options: spec.options)
        return try exporter.exportAll()
    }
}

final class SinkExportTests: XCTestCase {
    private func storeCounts(_ db: String) throws -> (records: Int, connections: Int) {
        let store = try Store.openForReading(db)
        return (Int(try store.db.scalar("SELECT count(*) FROM records") ?? -1), Int(try store.db.scalar("SELECT count(*) FROM connections") ?? -1))
    }

    /// Every stored record and connection goes out once, with the host and decoded names; a
    /// second run sends nothing; rows stored later are sent by the next run, and only they.
    func testEveryRowIsSentOnceAndLaterRowsByTheNextRun() throws {
        let dir = Fixtures.sample("revoked-client-cert")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { !$0.hasSuffix(".tsv") }.sorted().map { dir + "/" + $0 }
        let (db, _) = try Fixtures.ingest(Array(files.prefix(2)))
        let out = Fixtures.tempDir() + "/rows.ndjson"
        let first = try Fixtures.exportNDJSON(db, to: out, batchRecords: 5)
        var counts = try storeCounts(db)
        XCTAssertEqual(first.records, counts.records)
        XCTAssertGreaterThan(first.batches, 1, "small batches: the cursor moves between them")
        XCTAssertEqual(try Fixtures.exportNDJSON(db, to: out).records, 0)

        _ = try Fixtures.ingest(Array(files.dropFirst(2)), db: db)
        try Fixtures.exportNDJSON(db, to: out)
        counts = try storeCounts(db)
        let rows = try Fixtures.ndjsonRows(out)
        let records = rows.filter { $0["type"] as? String == "record" }
        XCTAssertEqual(records.count, counts.records)
        XCTAssertEqual(Set(records.map { $0["record_id"] as! Int }).count, counts.records, "no record twice")
        XCTAssertTrue(rows.allSatisfy { $0["host"] as? String == "lpar1" })
        // Connections are sent again when they change (linking), so each is there at least once,
        // and its last row is its stored state.
        let connections = rows.filter { $0["type"] as? String == "connection" }
        XCTAssertEqual(Set(connections.map { $0["conn"] as! Int }).count, counts.connections)
        let store = try Store.openForReading(db)
        var lastRevision: [Int: Int] = [:]
        for c in connections { lastRevision[c["conn"] as! Int] = c["revision"] as? Int }
        let stored = try store.db.prepare("SELECT id, revision FROM connections").rows()
        for row in stored {
            guard case let .int(id) = row[0], case let .int(revision) = row[1] else { return XCTFail("\(row)") }
            XCTAssertEqual(lastRevision[Int(id)], Int(revision), "conn \(id)")
        }
        // A failed record carries its codes with their catalogue names.
        let failed = try XCTUnwrap(records.first { ($0["failure_codes"] as? [String])?.isEmpty == false })
        XCTAssertEqual((failed["codes"] as! [String]).count, (failed["code_names"] as! [String]).count)
        XCTAssertTrue((failed["code_names"] as! [String]).contains { !$0.isEmpty })
        let failedConnection = try XCTUnwrap(connections.last { $0["outcome"] as? String == "failed" && $0["story"] is NSNull })
        XCTAssertFalse((failedConnection["findings"] as! [String]).isEmpty, "a failed story carries the doctor's findings")
    }

    /// A batch written but not acknowledged (a kill between the write and the cursor) is cut
    /// back at the next start, so the rows sent again are there once.
    func testABatchWrittenButNotAcknowledgedIsCutBack() throws {
        let (db, _) = try Fixtures.ingest([try firstTrace()])
        let out = Fixtures.tempDir() + "/rows.ndjson"
        var spec = SinkSpec(name: "ndjson", kind: .ndjson(path: out, maxSize: 100 << 20, keep: 5))
        spec.options.batchRecords = 10
        // Two batches acknowledged, then one written whose acknowledgement never comes.
        let exporter = try Exporter(storePath: db, plugins: Fixtures.plugins, host: "lpar1", sink: try spec.makeSink(), options: spec.options)
        _ = try exporter.step()
        _ = try exporter.step()
        let dying = try Exporter(storePath: db, plugins: Fixtures.plugins, host: "lpar1", sink: KilledAfterWriting(try spec.makeSink()), options: spec.options)
        XCTAssertThrowsError(try dying.step())
        let acknowledged = Int(try Store.openForReading(db).db.scalar("SELECT position FROM export_sinks") ?? -1)
        XCTAssertGreaterThan(try FileManager.default.attributesOfItem(atPath: out)[.size] as! Int, acknowledged)
        try Fixtures.exportNDJSON(db, to: out, batchRecords: 10)
        let rows = try Fixtures.ndjsonRows(out)
        let records = rows.filter { $0["type"] as? String == "record" }
        XCTAssertEqual(records.count, try storeCounts(db).records, "cut back to the cursor, then written once")
        XCTAssertEqual(Set(records.map { $0["record_id"] as! Int }).count, records.count)
    }

    private func firstTrace() throws -> String {
        let dir = Fixtures.sample("tls12-success")
        let name = try XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: dir).sorted().first { $0.hasPrefix("gsk") })
        return dir + "/" + name
    }

    /// Past max-size the file is renamed .1 (older ones .2 ...), keeping `keep`; across the
    /// files every row is there once.
    func testTheFileIsRotatedBySizeAndKeepsItsRows() throws {
        let (db, _) = try Fixtures.ingest([try firstTrace()])
        let out = Fixtures.tempDir() + "/rows.ndjson"
        try Fixtures.exportNDJSON(db, to: out, maxSize: 4_000, keep: 1000, batchRecords: 5)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + ".2"))
        let rows = try Fixtures.ndjsonRows(out)
        XCTAssertEqual(rows.filter { $0["type"] as? String == "record" }.count, try storeCounts(db).records)
        // With keep = 2, only two renamed files stay.
        let out2 = Fixtures.tempDir() + "/rows.ndjson"
        try Fixtures.exportNDJSON(db, to: out2, name: "two", maxSize: 4_000, keep: 2, batchRecords: 5)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out2 + ".2"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: out2 + ".3"))
    }

    /// A sink pointed at another file starts again from the first row; two sinks keep two cursors.
    func testEachSinkHasItsOwnCursorAndANewTargetStartsAgain() throws {
        let (db, _) = try Fixtures.ingest([try firstTrace()])
        let records = try storeCounts(db).records
        let dir = Fixtures.tempDir()
        XCTAssertEqual(try Fixtures.exportNDJSON(db, to: dir + "/a.ndjson").records, records)
        XCTAssertEqual(try Fixtures.exportNDJSON(db, to: dir + "/b.ndjson", name: "other").records, records)
        XCTAssertEqual(try Fixtures.exportNDJSON(db, to: dir + "/c.ndjson").records, records, "sink ndjson now writes c: everything again")
        let status = try XCTUnwrap(try Fixtures.queries(db).exportStatus())
        XCTAssertEqual(status.rows.count, 2)
        XCTAssertEqual(status.rows.map { [$0[0], $0[3], $0[4]] }, [[.text("ndjson"), .text("caught up"), .int(0)], [.text("other"), .text("caught up"), .int(0)]])
    }

    /// A record read again (the file's last record, which grew) gets a new, higher id, never
    /// an old one: the cursor on ids sends it again, and nothing else twice.
    func testARecordReadAgainGetsAHigherIdAndIsSentAgain() throws {
        let trace = try firstTrace()
        let lines = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let path = Fixtures.tempDir() + "/" + (trace as NSString).lastPathComponent
        let half = lines.count / 2
        try (lines[..<half].joined(separator: "\n") + "\n").write(toFile: path, atomically: false, encoding: .utf8)
        let (db, _) = try Fixtures.ingest([path])
        let out = Fixtures.tempDir() + "/rows.ndjson"
        try Fixtures.exportNDJSON(db, to: out)
        let highest = try XCTUnwrap(try Fixtures.ndjsonRows(out).compactMap { $0["record_id"] as? Int }.max())
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data((lines[half...].joined(separator: "\n")).utf8))
        try handle.close()
        _ = try Fixtures.ingest([path], db: db)
        try Fixtures.exportNDJSON(db, to: out)
        let records = try Fixtures.ndjsonRows(out).filter { $0["type"] as? String == "record" }
        let later = records.filter { ($0["record_id"] as! Int) > highest }
        XCTAssertFalse(later.isEmpty)
        var seen: [Int: Int] = [:]
        for r in records { seen[r["line"] as! Int, default: 0] += 1 }
        let twice = seen.filter { $0.value > 1 }
        XCTAssertLessThanOrEqual(twice.count, 1, "only the tail record read again: \(twice)")
        XCTAssertEqual(Set(records.map { $0["line"] as! Int }).count, try storeCounts(db).records)
    }

    /// A link pass that finds what the last found writes nothing, so it sends nothing again.
    func testALinkPassThatChangesNothingRevisesNothing() throws {
        let dir = Fixtures.sample("attls-revoked")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { !$0.hasSuffix(".tsv") }.sorted().map { dir + "/" + $0 }
        let db = Fixtures.tempDir() + "/t.db"
        let ingest = try Fixtures.runTool(["ingest", "--db", db] + files)
        XCTAssertEqual(ingest.status, 0, ingest.stderr)
        let before = try Store.openForReading(db).db.scalar("SELECT value FROM sequences WHERE name = 'revision'")
        XCTAssertGreaterThan(try Store.openForReading(db).db.scalar("SELECT count(*) FROM links") ?? 0, 0)
        let run = try Fixtures.runTool(["link", "--db", db])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(try Store.openForReading(db).db.scalar("SELECT value FROM sequences WHERE name = 'revision'"), before)
    }

    /// The command line: one sink at a time, a clear error for a bad one, the password never on it.
    func testTheExportCommandSaysWhatItSentAndRefusesBadSinks() throws {
        let (db, _) = try Fixtures.ingest([try firstTrace()])
        let out = Fixtures.tempDir() + "/rows.ndjson"
        let run = try Fixtures.runTool(["export", "--db", db, "--ndjson", out, "--host", "lpar9"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.hasPrefix("exported \(try storeCounts(db).records) records and "), run.stdout)
        XCTAssertTrue(try Fixtures.runTool(["export", "--db", db, "--ndjson", out]).stdout.hasPrefix("nothing new for "))
        for (arguments, expected) in [
            (["--ndjson", out, "--clickhouse", "http://127.0.0.1:8123"], "give one of --pcap FILE, --clickhouse URL or --ndjson FILE"),
            (["--clickhouse", "ftp://x"], "ftp"),
            (["--ndjson", out, "--max-size", "lots"], "--max-size: 'lots' is not a size"),
            (["--clickhouse", "http://127.0.0.1:1", "--password-env", "TRACELENS_NO_SUCH_VARIABLE"], "TRACELENS_NO_SUCH_VARIABLE is not set"),
        ] {
            let bad = try Fixtures.runTool(["export", "--db", db] + arguments)
            XCTAssertNotEqual(bad.status, 0, "\(arguments)")
            XCTAssertTrue(bad.stderr.contains(expected), "\(arguments): \(bad.stderr)")
        }
    }

    /// `[[export]]` tables are checked like the rest of the configuration.
    func testTheDaemonConfigurationReadsExportSinks() throws {
        let good = try DaemonConfig.parse("""
            db = "t.db"
            paths = ["*.trc"]
            host = "LPAR1"
            [[export]]
            type = "clickhouse"
            url = "http://127.0.0.1:8123"
            user = "tracelens"
            password-file = "ch.password"
            [[export]]
            type = "ndjson"
            path = "out/rows.ndjson"
            max-size = "10MiB"
            keep = 3
            """, path: "/etc/tracelens/d.toml")
        XCTAssertEqual(good.host, "LPAR1")
        XCTAssertEqual(good.exports.map(\.name), ["clickhouse", "ndjson"])
        XCTAssertEqual(good.exports[0].kind, .clickhouse(url: "http://127.0.0.1:8123", database: "tracelens", user: "tracelens",
                                                         password: .file("/etc/tracelens/ch.password")))
        XCTAssertEqual(good.exports[1].kind, .ndjson(path: "/etc/tracelens/out/rows.ndjson", maxSize: 10 << 20, keep: 3))
        for (text, expected) in [
            ("[[export]]\ntype = \"clickhouse\"\nurl = \"http://h:8123\"\npassword = \"secret\"", "'password' is not read from the configuration"),
            ("[[export]]\ntype = \"kafka\"", "'type': 'kafka' is not clickhouse or ndjson"),
            ("[[export]]\ntype = \"ndjson\"\npath = \"a\"\n[[export]]\ntype = \"ndjson\"\npath = \"b\"", "the name 'ndjson' is taken"),
            ("[[export]]\ntype = \"ndjson\"\npath = \"a\"\nmax-sise = \"1MiB\"", "max-sise"),
            ("[[export]]\ntype = \"clickhouse\"\nurl = \"https://h\"", "'url'"),
        ] {
            XCTAssertThrowsError(try DaemonConfig.parse("db = \"t.db\"\npaths = [\"*.trc\"]\n" + text, path: "d.toml")) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(text): \(error)")
                XCTAssertFalse("\(error)".contains("secret"), "the password is not repeated")
            }
        }
    }

    /// A version 5 store is brought up to version 6 by the exporter: every connection gets a
    /// revision, and the next record ids go on from the highest.
    func testAVersion5StoreIsUpgradedForExport() throws {
        let (db, _) = try Fixtures.ingest([try firstTrace()])
        try Fixtures.downgradeToVersion5(db)
        let out = Fixtures.tempDir() + "/rows.ndjson"
        let totals = try Fixtures.exportNDJSON(db, to: out)
        let counts = try storeCounts(db)
        XCTAssertEqual(totals.records, counts.records)
        XCTAssertEqual(totals.connections, counts.connections)
        XCTAssertEqual(try Store.openForReading(db).db.scalar("PRAGMA user_version"), 6)
    }

    /// DateTime text for ClickHouse, at the edges of its range.
    func testDateTimeTextCoversItsRange() {
        XCTAssertEqual(ExportReader.dateTime(0), "1970-01-01 00:00:00")
        XCTAssertEqual(ExportReader.dateTime(1_648_116_430), "2022-03-24 10:07:10")
        XCTAssertEqual(ExportReader.dateTime(951_782_400), "2000-02-29 00:00:00")
        XCTAssertEqual(ExportReader.dateTime(-5), "1970-01-01 00:00:00")
        XCTAssertEqual(ExportReader.dateTime(Int64.max), "2106-02-07 06:28:15")
    }
}

/// A sink whose process dies after writing a batch and before its acknowledgement is stored.
private final class KilledAfterWriting: ExportSink {
    let inner: ExportSink
    init(_ inner: ExportSink) { self.inner = inner }
    var name: String { inner.name }
    var kind: String { inner.kind }
    var target: String { inner.target }
    var typedRows: Bool { inner.typedRows }
    func resume(from cursor: SinkCursor) throws -> SinkCursor { try inner.resume(from: cursor) }
    func send(records: ExportRows, connections: ExportRows, cursor: SinkCursor) throws -> Int64 {
        _ = try inner.send(records: records, connections: connections, cursor: cursor)
        throw CocoaError(.featureUnsupported)
    }
    func settle(_ cursor: SinkCursor) throws -> Int64? { nil }
}

extension SinkExportTests {
    /// The exporter's doctor reads each source's set-up lines once (`PreambleCache`); its
    /// verdicts are the doctor's own, for every failed connection of every sample.
    func testTheCachedPreambleGivesTheDoctorsVerdicts() throws {
        let scenarios = try FileManager.default.contentsOfDirectory(atPath: Fixtures.root + "/samples").filter {
            var isDir: ObjCBool = false
            return FileManager.default.fileExists(atPath: Fixtures.sample($0), isDirectory: &isDir) && isDir.boolValue && $0 != "certs"
        }.sorted()
        var compared = 0
        for scenario in scenarios {
            let dir = Fixtures.sample(scenario)
            let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { !$0.hasSuffix(".tsv") && !$0.hasSuffix(".py") }.sorted().map { dir + "/" + $0 }
            let db = Fixtures.tempDir() + "/t.db"
            XCTAssertEqual(try Fixtures.runTool(["ingest", "--db", db] + files).status, 0, scenario)
            let store = try Store.openForReading(db)
            let doctor = Doctor(plugins: Fixtures.plugins)
            let cache = PreambleCache()
            let ids = try store.db.prepare("SELECT id FROM connections WHERE outcome = 'failed' ORDER BY id").rows().compactMap { row -> Int64? in
                if case let .int(id) = row[0] { return id } else { return nil }
            }
            for id in ids {
                func verdict(_ d: [Diagnosis]) -> [String] {
                    d.flatMap { $0.findings.map { f in f.rule + " " + f.evidence.map { "\($0.file):\($0.line)" }.joined(separator: ",") } }
                }
                let plain = verdict(try doctor.diagnose(store, connections: [id]))
                let cached = verdict(try doctor.diagnose(store, connections: [id], preambles: cache))
                XCTAssertEqual(cached, plain, "\(scenario) conn \(id)")
                compared += 1
            }
        }
        XCTAssertGreaterThan(compared, 20)
    }
}
