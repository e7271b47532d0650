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

/// Ingest: idempotent, incremental, replaced files, the tail of a growing file.
final class IngestTests: XCTestCase {
    func count(_ db: String, _ sql: String) throws -> Int64 {
        try Store.openForReading(db).db.scalar(sql) ?? -1
    }

    func testIngestingTheSameFileAgainAddsNothing() throws {
        let file = Fixtures.sample("revoked-client-cert/gskssl.65567.trc")
        let (db, first) = try Fixtures.ingest([file])
        XCTAssertEqual(first[0].kind, .new)
        XCTAssertEqual(first[0].records, 216)
        XCTAssertEqual(first[0].connections, 3)
        let (_, second) = try Fixtures.ingest([file], db: db)
        XCTAssertEqual(second[0].kind, .unchanged)
        XCTAssertEqual(try count(db, "SELECT count(*) FROM records"), 216)
        XCTAssertEqual(try count(db, "SELECT count(*) FROM sources"), 1)
        XCTAssertEqual(try count(db, "SELECT count(*) FROM connections"), 3)
    }

    /// The same trace ingested in two parts (cut inside a record with dump lines, and inside a
    /// line) gives the same records and connections as ingesting it whole.
    func testGrownFileAddsOnlyTheNewPart() throws {
        let dir = Fixtures.tempDir()
        let whole = dir + "/gskssl.5.trc"
        let truth = try SyntheticTrace(threads: 4, seed: 5).writeWithTruth(to: whole, targetBytes: 120_000)
        let bytes = Array(FileManager.default.contents(atPath: whole)!)
        let text = String(decoding: bytes, as: UTF8.self)
        // Cut 1: just after a record line whose dump line follows. Cut 2: in the middle of a line.
        let dumpAt = try XCTUnwrap(text.range(of: "\n    00000000:")).lowerBound
        let cut1 = text.utf8.distance(from: text.startIndex, to: dumpAt) + 1
        let cut2 = bytes.count * 2 / 3 + 17

        let growing = dir + "/gskssl.6.trc"
        _ = FileManager.default.createFile(atPath: growing, contents: Data(bytes[0..<cut1]))
        let (db, r1) = try Fixtures.ingest([growing], batch: 101)
        for (end, expected) in [(cut2, IngestResult.Kind.resumed), (bytes.count, .resumed)] {
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: growing))
            h.seekToEndOfFile()
            let start = Int((try? FileManager.default.attributesOfItem(atPath: growing)[.size] as? Int) ?? 0)
            h.write(Data(bytes[start..<end]))
            try h.close()
            let (_, r) = try Fixtures.ingest([growing], db: db, batch: 101)
            XCTAssertEqual(r[0].kind, expected)
            XCTAssertEqual(r[0].source, r1[0].source)
        }
        let (dbWhole, w) = try Fixtures.ingest([whole])

        func rows(_ path: String) throws -> [String] {
            let s = try Store.openForReading(path)
            return try s.db.prepare("SELECT line, lines, level, thread, function, codes, text FROM records ORDER BY line").rows().map { "\($0)" }
        }
        XCTAssertEqual(try rows(db), try rows(dbWhole))
        let score = try Benchmark.accuracy(truth: truth, store: try Store.openForReading(db), source: r1[0].source)
        XCTAssertEqual(score.correctRecords, score.records)
        XCTAssertEqual(score.exactConnections, truth.connections.count)
        for sql in ["SELECT count(*) FROM connections", "SELECT count(*) FROM connections WHERE outcome = 'failed'",
                    "SELECT sum(records) FROM sources", "SELECT sum(codes) FROM sources", "SELECT sum(count) FROM code_counts",
                    "SELECT sum(records) FROM connections", "SELECT count(*) FROM conn_keys"] {
            XCTAssertEqual(try count(db, sql), try count(dbWhole, sql), sql)
        }
        XCTAssertEqual(try count(db, "SELECT count(*) FROM connections"), Int64(w[0].connections))
    }

    /// EBCDIC input cannot seek to a decoded offset: a grown file is decoded again from the start
    /// and the lines already stored are skipped. Gzip input is recognised as unchanged.
    func testGrownEBCDICAndUnchangedGzip() throws {
        let text = try String(contentsOfFile: Fixtures.sample("revoked-client-cert/gskssl.65567.trc"), encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let firstPart = lines[0..<40].joined(separator: "\n") + "\n"
        let rest = lines[40...].joined(separator: "\n")
        let path = Fixtures.write(Fixtures.ebcdic(firstPart), named: "gskssl.65567.ebc")
        let (db, r1) = try Fixtures.ingest([path])
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        h.seekToEndOfFile()
        h.write(Data(Fixtures.ebcdic(rest)))
        try h.close()
        let (_, r2) = try Fixtures.ingest([path], db: db)
        XCTAssertEqual(r2[0].kind, .resumed)
        XCTAssertEqual(r1[0].records + r2[0].records - 1, 216, "the tail record is read again once")
        XCTAssertEqual(try count(db, "SELECT count(*) FROM records"), 216)
        XCTAssertEqual(try count(db, "SELECT count(*) FROM connections WHERE outcome = 'failed' AND error = 'cms:03353041'"), 2)

        let gz = Fixtures.gzip(Array(text.utf8), named: "gskssl.65567.trc.gz")
        let (gdb, g1) = try Fixtures.ingest([gz])
        XCTAssertEqual(g1[0].records, 216)
        let (_, g2) = try Fixtures.ingest([gz], db: gdb)
        XCTAssertEqual(g2[0].kind, .unchanged)
    }

    /// Property: however a file is cut while it grows, and whatever the batch size, ingesting it
    /// piece by piece stores what ingesting it whole stores.
    func testRandomGrowthGivesTheSameStoreAsOneIngest() throws {
        for seed in UInt64(1)...6 {
            var rng = SplitMix64(seed: seed * 7919)
            let dir = Fixtures.tempDir()
            let whole = dir + "/gskssl.\(seed).trc"
            let truth = try SyntheticTrace(threads: 3 + Int(seed % 4), seed: seed).writeWithTruth(to: whole, targetBytes: 60_000)
            let bytes = Array(FileManager.default.contents(atPath: whole)!)
            var cuts = (0..<(1 + Int(rng.next() % 4))).map { _ in 1 + Int(rng.next() % UInt64(bytes.count - 1)) }.sorted()
            cuts.append(bytes.count)
            let growing = dir + "/growing.trc"
            _ = FileManager.default.createFile(atPath: growing, contents: Data())
            var db: String?
            var written = 0
            for cut in cuts where cut > written {
                let h = try FileHandle(forWritingTo: URL(fileURLWithPath: growing))
                h.seekToEndOfFile()
                h.write(Data(bytes[written..<cut]))
                try h.close()
                written = cut
                db = try Fixtures.ingest([growing], db: db, batch: 1 + Int(rng.next() % 500)).0
            }
            let (dbWhole, _) = try Fixtures.ingest([whole])
            let rows = "SELECT line, lines, level, thread, function, conn IS NULL, codes, text FROM records ORDER BY line"
            XCTAssertEqual(try Store.openForReading(db!).db.prepare(rows).rows(), try Store.openForReading(dbWhole).db.prepare(rows).rows(), "seed \(seed), cuts \(cuts)")
            let score = try Benchmark.accuracy(truth: truth, store: try Store.openForReading(db!), source: 1)
            XCTAssertEqual(score.correctRecords, score.records, "seed \(seed), cuts \(cuts)")
            for sql in ["SELECT count(*) FROM connections", "SELECT sum(records) FROM sources", "SELECT sum(codes) FROM sources",
                        "SELECT sum(failure_codes) FROM sources", "SELECT sum(count) FROM code_counts", "SELECT sum(records) FROM connections",
                        "SELECT sum(unlinked) FROM sources", "SELECT sum(unparsed) FROM sources"] {
                XCTAssertEqual(try count(db!, sql), try count(dbWhole, sql), "seed \(seed), cuts \(cuts): \(sql)")
            }
        }
    }

    func testAFileReplacedUnderTheSameNameIsANewSource() throws {
        let dir = Fixtures.tempDir()
        let path = dir + "/gskssl.7.trc"
        try FileManager.default.copyItem(atPath: Fixtures.sample("revoked-client-cert/gskssl.65567.trc"), toPath: path)
        let (db, _) = try Fixtures.ingest([path])
        // Another trace moved into place: a new inode and other first bytes.
        let other = dir + "/other.trc"
        try FileManager.default.copyItem(atPath: Fixtures.sample("tls12-success/gskssl.16777300.trc"), toPath: other)
        _ = rename(other, path)
        let (_, r) = try Fixtures.ingest([path], db: db)
        XCTAssertEqual(r[0].kind, .replaced)
        XCTAssertEqual(try count(db, "SELECT count(*) FROM sources"), 2)
        XCTAssertEqual(try count(db, "SELECT count(*) FROM records"), 216 + 175)
    }

    func testFolderIngestSkipsFilesNoLayoutKnows() throws {
        let run = try IngestRun(plugins: Fixtures.plugins, store: try Store.openForWriting(Fixtures.tempDir() + "/t.db"), options: IngestOptions())
        XCTAssertEqual(run.run([Fixtures.sample("busy")]), 0)
        XCTAssertEqual(run.results.map(\.kind), [.new, .skipped])
        XCTAssertEqual(run.results[0].connections, 17)
    }
}

/// Threads are reused: the same thread carries connection after connection.
final class ConnectionRuleTests: XCTestCase {
    func testAThreadCarriesConnectionsOneAfterAnother() throws {
        let trace = """
            03/24/2022-10:07:19 Thd-3 ENTRY gsk_secure_socket_init(): ---> Handle 0x2A53C018
            03/24/2022-10:07:19 Thd-3 INFO gsk_secure_socket_init(): Peer address 10.1.0.2[42514]
            03/24/2022-10:07:19 Thd-4 ENTRY gsk_secure_socket_init(): ---> Handle 0x2A53D018
            03/24/2022-10:07:19 Thd-3 ERROR check_revoked(): RFC 2459 Revoked certificate check failed: Error 0x03353041
            03/24/2022-10:07:19 Thd-4 INFO gsk_secure_socket_init(): Peer address 10.1.0.9[50000]
            03/24/2022-10:07:19 Thd-3 ERROR send_v3_alert(): Sent TLS 1.2 alert 44 to 10.1.0.2[42514]
            03/24/2022-10:07:19 Thd-3 EXIT gsk_secure_socket_init(): <--- Exit status 0x000001af (431)
            03/24/2022-10:07:20 Thd-3 ENTRY gsk_secure_socket_close(): ---> Handle 0x2A53C018
            03/24/2022-10:07:20 Thd-3 EXIT gsk_secure_socket_close(): <--- Exit status 0x00000000 (0)
            03/24/2022-10:07:21 Thd-3 INFO gsk_list_free(): not in any connection
            03/24/2022-10:07:22 Thd-3 ENTRY gsk_secure_socket_init(): ---> Handle 0x2A53C018
            03/24/2022-10:07:22 Thd-3 INFO gsk_secure_socket_init(): Peer address 10.1.0.2[42600]
            03/24/2022-10:07:22 Thd-4 EXIT gsk_secure_socket_init(): <--- Exit status 0x00000000 (0)
            03/24/2022-10:07:22 Thd-3 EXIT gsk_secure_socket_init(): <--- Exit status 0x00000000 (0)
            03/24/2022-10:07:23 Thd-5 ENTRY gsk_secure_socket_read(): ---> Handle 0x2A53D018, Size 16384
            03/24/2022-10:07:23 Thd-5 INFO gsk_secure_socket_read(): Received 512 bytes
            03/24/2022-10:07:23 Thd-5 EXIT gsk_secure_socket_read(): <--- Exit status 0x00000000 (0)

            """
        let (db, _) = try Fixtures.ingest([Fixtures.write(trace, named: "gskssl.3.trc")])
        let store = try Store.openForReading(db)
        let byLine = try store.db.prepare("SELECT line, conn FROM records ORDER BY line").rows().map { row -> (Int64, Int64?) in
            guard case let .int(line) = row[0] else { return (0, nil) }
            if case let .int(c) = row[1] { return (line, c) }
            return (line, nil)
        }
        let conn = Dictionary(uniqueKeysWithValues: byLine)
        let first = conn[1]!!, second = conn[3]!!, third = conn[11]!!
        XCTAssertEqual(Set([first, second, third]).count, 3, "three connections")
        for line in [1, 2, 4, 6, 7, 8, 9] as [Int64] { XCTAssertEqual(conn[line]!, first, "line \(line)") }
        XCTAssertNil(conn[10]!, "a line between connections belongs to none")
        for line in [11, 12, 14] as [Int64] { XCTAssertEqual(conn[line]!, third, "line \(line)") }
        // Thread 5 reads for the connection whose handle it names.
        for line in [3, 5, 13, 15, 16, 17] as [Int64] { XCTAssertEqual(conn[line]!, second, "line \(line)") }

        let table = try Fixtures.queries(db).connections(ConnectionFilter())
        let outcome = table.columns.firstIndex(of: "outcome")!, error = table.columns.firstIndex(of: "error")!, peer = table.columns.firstIndex(of: "peer")!
        let rows = Dictionary(uniqueKeysWithValues: table.rows.map { ($0[0], $0) })
        XCTAssertEqual(rows[.int(first)]?[outcome], .text("failed"))
        XCTAssertEqual(rows[.int(first)]?[error], .text("CMS 03353041: Certificate is revoked. (with TLS alert 44, SSL 431)"))
        XCTAssertEqual(rows[.int(first)]?[peer], .text("10.1.0.2:42514"))
        XCTAssertEqual(rows[.int(third)]?[outcome], .text("ok"))
        XCTAssertEqual(rows[.int(third)]?[peer], .text("10.1.0.2:42600"))
        XCTAssertEqual(rows[.int(second)]?[outcome], .text("ok"))
    }

    func testComponentTraceConnections() throws {
        let (db, r) = try Fixtures.ingest([Fixtures.sample("attls-revoked/gsksrvr-ctrace.txt")])
        XCTAssertEqual(r[0].connections, 2)
        var filter = ConnectionFilter()
        filter.failedOnly = true
        let failed = try Fixtures.queries(db).connections(filter)
        XCTAssertEqual(failed.rows.count, 1)
        let row = Dictionary(uniqueKeysWithValues: zip(failed.columns, failed.rows[0]))
        XCTAssertEqual(row["peer"], .text("10.1.0.2:42530"))
        XCTAssertEqual(row["thread"], .text("00000003"))
        XCTAssertEqual(row["start"], .text("2021-11-15T00:00:01.203118"))
        XCTAssertEqual(row["error"], .text("CMS 03353041: Certificate is revoked. (with TLS alert 44, SSL 431)"))
    }

    func testEveryFailedSampleHasItsPrimaryError() throws {
        let files = ["revoked-client-cert/gskssl.65567.trc", "crl-issuer-without-crlsign/gskssl.65570.trc",
                     "tls13-missing-aki/gskssl.83951642.trc", "ec-cert-rsa-cipher/gskssl.50331688.trc", "tls12-success/gskssl.16777300.trc"]
        let (db, _) = try Fixtures.ingest(files.map(Fixtures.sample))
        let store = try Store.openForReading(db)
        let errors = try store.db.prepare("SELECT s.path, c.outcome, c.error FROM connections c JOIN sources s ON s.id = c.source ORDER BY c.id").rows()
        let byFile = errors.map { row -> String in
            "\(TableWriter.display(row[0]).split(separator: "/").last!) \(TableWriter.display(row[1])) \(TableWriter.display(row[2]))"
        }
        XCTAssertEqual(byFile, [
            "gskssl.65567.trc failed cms:03353041",
            "gskssl.65567.trc failed cms:03353041",
            "gskssl.65567.trc ok ",
            "gskssl.65570.trc ok ",
            "gskssl.65570.trc failed cms:03353026",
            "gskssl.83951642.trc failed cms:0335306F",
            // The later session ran, then the client went away during a read.
            "gskssl.83951642.trc ok ssl:420",
            "gskssl.50331688.trc failed ssl:434",
            "gskssl.50331688.trc ok ssl:420",
            "gskssl.16777300.trc ok ",
            "gskssl.16777300.trc ok ",
        ])
    }

    func testConnectionRuleMistakesAreReported() {
        let toml = """
            [plugin]
            name = "x"
            description = "bad rules"
            [[connection]]
            name = "r"
            formats = ["nosuch"]
            start = ["BEGIN f"]
            end = ["INFO f: closed {bad"]
            lane = ["thred"]
            [[connection.capture]]
            on = "INFO f"
            role = "route"
            message = "id {id:int}"

            [[sample]]
            format = "gsktrace"
            text = \'\'\'
            Thd-1 ENTRY gsk_secure_socket_init(): ---> Handle 0x1
            Thd-1 EXIT gsk_secure_socket_init(): <--- Exit status 0x000001af (431)
            \'\'\'
            [sample.expect]
            connections = [{ outcome = "ok", records = 2 }]
            """
        let (_, problems) = CheckedPlugins.load(PluginLoader.builtInSources() + [PluginSource(name: "x", origin: .directory("/x"), files: ["plugin.toml": toml])])
        let text = problems.map(\.description).joined(separator: "\n")
        XCTAssertTrue(text.contains("start 'BEGIN f': level 'BEGIN' is not one of"), text)
        XCTAssertTrue(text.contains("lane field 'thred' is not one of"), text)
        XCTAssertTrue(text.contains("end 'INFO f: closed {bad': template 'closed {bad'"), text)
        XCTAssertTrue(text.contains("a route capture may only capture keys; 'id' is not in keys"), text)
        XCTAssertTrue(text.contains("connection 1: expected outcome 'ok', got 'failed'"), text)
    }
}
