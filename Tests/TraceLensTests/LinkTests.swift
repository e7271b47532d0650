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

/// Linking across sources: the scenarios in samples/ (every expected link and every deliberate
/// non-match in their expected-links.tsv), and the rules on small hand-made cases.
final class LinkTests: XCTestCase {
    /// Clock offsets a user gives for a scenario (the Linux client's clock in BST).
    static let offsets: [String: [String]] = ["ec-cert-rsa-cipher": ["client.txt=-3600s"]]

    static var scenarios: [String] {
        let root = Fixtures.sample("")
        return ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter {
            FileManager.default.fileExists(atPath: root + $0 + "/expected-links.tsv")
        }.sorted()
    }

    /// Ingests a scenario folder with its offsets; returns the store.
    func ingestScenario(_ name: String, offsets: [String]? = nil) throws -> (Store, LinkReport?) {
        let db = Fixtures.tempDir() + "/t.db"
        var options = IngestOptions()
        options.link.offsets = (offsets ?? Self.offsets[name] ?? []).compactMap(LinkOptions.parseOffset)
        let run = try IngestRun(plugins: Fixtures.plugins, store: try Store.openForWriting(db), options: options)
        XCTAssertEqual(run.run([Fixtures.sample(name)]), 0, name)
        return (run.store, run.linkReport)
    }

    /// The story each connection of `file` starting at `line` was linked to, as `gskfile:line`,
    /// or "-" when it was left alone or no connection starts there.
    func story(_ store: Store, file: String, line: Int, scenario: String? = nil) throws -> String? {
        let q = try store.db.prepare("""
            SELECT c.story, (SELECT s2.path || ':' || g.first_line FROM connections g JOIN sources s2 ON s2.id = g.source WHERE g.id = c.story)
            FROM connections c JOIN sources s ON s.id = c.source
            WHERE c.first_line = ?1 AND (s.path LIKE '%/' || ?2)
            """)
        try q.bind([.int(Int64(line)), .text(scenario.map { $0 + "/" + file } ?? file)])
        // A line where no connection starts belongs to no story.
        guard try q.step() else { return "-" }
        guard !q.isNull(0), let target = q.string(1) else { return "-" }
        return StoreQueries.fileName(target)
    }

    func testEveryScenarioLinksAsItsExpectedLinksSay() throws {
        try checkScenarios(together: false)
    }

    /// All of samples/ in one store (as the demo does): no scenario's records link into another's.
    func testAllScenariosInOneStoreLinkTheSame() throws {
        try checkScenarios(together: true)
    }

    func checkScenarios(together: Bool) throws {
        XCTAssertGreaterThanOrEqual(Self.scenarios.count, 6, "scenario folders with expected-links.tsv")
        var shared: Store?
        if together {
            let db = Fixtures.tempDir() + "/all.db"
            var options = IngestOptions()
            options.link.offsets = Self.offsets.flatMap { name, list in list.compactMap(LinkOptions.parseOffset).map { (name + "/" + $0.pattern, $0.micros) } }
            let run = try IngestRun(plugins: Fixtures.plugins, store: try Store.openForWriting(db), options: options)
            XCTAssertEqual(run.run([Fixtures.sample("")]), 0)
            shared = run.store
        }
        var checked = 0, links = 0, nonMatches = 0
        for name in Self.scenarios {
            let store = try shared ?? ingestScenario(name).0
            let text = try String(contentsOfFile: Fixtures.sample(name + "/expected-links.tsv"), encoding: .utf8)
            for row in text.split(separator: "\n").dropFirst() {
                let cols = row.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
                guard cols.count >= 3, let line = Int(cols[1]) else { continue }
                let got = try story(store, file: cols[0], line: line, scenario: name)
                XCTAssertEqual(got, cols[2], "\(name)/\(cols[0]):\(line) (\(cols.count > 3 ? cols[3] : ""))")
                checked += 1
                if cols[2] == "-" { nonMatches += 1 } else { links += 1 }
            }
        }
        XCTAssertGreaterThan(links, 20)
        XCTAssertGreaterThan(nonMatches, 5)
        XCTAssertEqual(checked, links + nonMatches)
    }

    /// A job log and its SDSF capture report each failure twice: `summary`, `connections
    /// --failed` and `doctor --all` name each failure once, the capture's connection linked to it.
    func testAJobLogAndItsSDSFCaptureAreOneFailureEach() throws {
        let dir = Fixtures.tempDir()
        for name in ["gldsrv.joblog", "gldsrv-sdsf.txt"] {
            try FileManager.default.copyItem(atPath: Fixtures.sample("revoked-client-cert/" + name), toPath: dir + "/" + name)
        }
        let db = dir + "/t.db"
        XCTAssertEqual(try Fixtures.runTool(["ingest", "--db", db, dir]).status, 0)

        let failed = try Fixtures.runTool(["connections", "--db", db, "--failed", "--csv", "--columns", "conn,peer,file,linked"])
        XCTAssertEqual(failed.status, 0, failed.stderr + failed.stdout)
        XCTAssertEqual(failed.stdout.split(whereSeparator: \.isNewline).dropFirst().map(String.init), [
            "4,10.1.0.2,gldsrv.joblog,1 gldsrv-sdsf.txt",
            "5,10.1.0.2,gldsrv.joblog,2 gldsrv-sdsf.txt",
            "6,10.1.0.7,gldsrv.joblog,3 gldsrv-sdsf.txt",
        ])
        let summary = try Fixtures.runTool(["summary", "--db", db, "--json"]).stdout
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(summary.utf8)) as? [String: Any])
        let peers = try XCTUnwrap(object["peers"] as? [[String: Any]])
        XCTAssertEqual(peers.map { "\($0["peer"] ?? "") \($0["failed"] ?? "")" }, ["10.1.0.2 2", "10.1.0.7 1"])
        XCTAssertEqual((object["failed_connections"] as? [Any])?.count, 3)
        let doctor = try Fixtures.runTool(["doctor", "--db", db, "--all"]).stdout
        XCTAssertEqual(doctor.components(separatedBy: "\nconnection ").count + (doctor.hasPrefix("connection ") ? 0 : -1), 3, doctor)
        XCTAssertFalse(doctor.contains("gldsrv-sdsf.txt, "), "no failure is the capture's own: \(doctor)")
    }

    /// Without the client's clock offset, its attempts are an hour from any session: unlinked,
    /// and counted as such.
    func testAClientClockAnHourOffStaysUnlinkedUntilTheOffsetIsGiven() throws {
        let (store, report) = try ingestScenario("ec-cert-rsa-cipher", offsets: [])
        XCTAssertEqual(report?.rules.first { $0.rule == "client-gsk" }?.linked, 0)
        let linked = try store.db.scalar("SELECT count(*) FROM connections c JOIN sources s ON s.id = c.source WHERE s.path LIKE '%client.txt' AND c.story IS NOT NULL")
        XCTAssertEqual(linked, 0)
        // Linking again with the offset links them, and keeps the offset in the store.
        let again = try Linker(store: store, plugins: Fixtures.plugins).run(LinkOptions(offsets: [("client.txt", -3_600_000_000)]))
        XCTAssertGreaterThan(again.rules.first { $0.rule == "client-gsk" }?.linked ?? 0, 0)
        XCTAssertEqual(try store.db.scalar("SELECT clock_offset FROM sources WHERE path LIKE '%client.txt'"), -3_600_000_000)
        // A later run without options keeps the stored offset.
        let third = try Linker(store: store, plugins: Fixtures.plugins).run()
        XCTAssertEqual(third.rules.first { $0.rule == "client-gsk" }?.linked, again.rules.first { $0.rule == "client-gsk" }?.linked)
    }

    /// Two failures from one address with the same code, a second apart: each GLD1116E goes to
    /// its own session by time, never to the success from that address a second later.
    func testGLD1116EGoesToTheFailedSessionOfItsPeerNotTheSuccessAfterIt() throws {
        let dir = Fixtures.tempDir()
        let gsk = """
            03/24/2022-10:07:19 Thd-3 ENTRY gsk_secure_socket_init(): ---> Handle 0x2A53C018
            03/24/2022-10:07:19 Thd-3 INFO gsk_secure_socket_init(): Peer address 10.1.0.2[42514]
            03/24/2022-10:07:19 Thd-3 ERROR check_revoked(): RFC 2459 Revoked certificate check failed: Error 0x03353041
            03/24/2022-10:07:19 Thd-3 EXIT gsk_secure_socket_init(): <--- Exit status 0x000001af (431)
            03/24/2022-10:07:20 Thd-4 ENTRY gsk_secure_socket_init(): ---> Handle 0x2A53C118
            03/24/2022-10:07:20 Thd-4 INFO gsk_secure_socket_init(): Peer address 10.1.0.2[42516]
            03/24/2022-10:07:20 Thd-4 EXIT gsk_secure_socket_init(): <--- Exit status 0x00000000 (0)
            03/24/2022-10:07:25 Thd-5 ENTRY gsk_secure_socket_init(): ---> Handle 0x2A53C218
            03/24/2022-10:07:25 Thd-5 INFO gsk_secure_socket_init(): Peer address 10.1.0.2[42517]
            03/24/2022-10:07:25 Thd-5 EXIT gsk_secure_socket_init(): <--- Exit status 0x000001af (431)

            """
        let joblog = """
            ---- THURSDAY,  24 MAR 2022 ----
            10.07.20 STC04588  GLD1116E Unable to initialize an SSL connection with 10.1.0.2: 431 - Certificate is revoked.
            10.07.25 STC04588  GLD1116E Unable to initialize an SSL connection with 10.1.0.2: 431 - Certificate is revoked.
            10.07.25 STC04588  GLD1116E Unable to initialize an SSL connection with 10.1.0.9: 431 - Certificate is revoked.
            10.07.40 STC04588  GLD1116E Unable to initialize an SSL connection with 10.1.0.2: 402 - No SSL cipher specifications.

            """
        try gsk.write(toFile: dir + "/gskssl.1.trc", atomically: true, encoding: .utf8)
        try joblog.write(toFile: dir + "/gldsrv.joblog", atomically: true, encoding: .utf8)
        let run = try IngestRun(plugins: Fixtures.plugins, store: try Store.openForWriting(dir + "/t.db"), options: IngestOptions())
        XCTAssertEqual(run.run([dir]), 0)
        let store = run.store
        XCTAssertEqual(try story(store, file: "gldsrv.joblog", line: 2), "gskssl.1.trc:1", "10.07.20, 431: the failure at :19, not the success at :20")
        XCTAssertEqual(try story(store, file: "gldsrv.joblog", line: 3), "gskssl.1.trc:8", "the second failure")
        XCTAssertEqual(try story(store, file: "gldsrv.joblog", line: 4), "-", "another peer")
        XCTAssertEqual(try story(store, file: "gldsrv.joblog", line: 5), "-", "402 is not 431, and 15 s later")
        // The evidence is kept with each link.
        let evidence = try store.db.prepare("SELECT evidence FROM links ORDER BY conn")
        XCTAssertTrue(try evidence.step())
        XCTAssertEqual(evidence.string(0), "peer_ip 10.1.0.2; both failed; ssl:431 goes with cms:03353041; 1.0 s apart")
        // connections lists one row per story; --each-source lists all.
        let queries = StoreQueries(store: store, plugins: Fixtures.plugins)
        XCTAssertEqual(try queries.connections(ConnectionFilter()).rows.count, 5)  // 3 GSK + 2 unlinked GLD1116E
        var each = ConnectionFilter(); each.eachSource = true
        XCTAssertEqual(try queries.connections(each).rows.count, 7)
    }

    /// Two equally good candidates: nothing is linked, and the report says why.
    func testEquallyGoodCandidatesAreLeftUnlinked() throws {
        let dir = Fixtures.tempDir()
        let gsk = (0..<2).map { i in """
            03/24/2022-10:07:19 Thd-\(i + 3) ENTRY gsk_secure_socket_init(): ---> Handle 0x2A53C\(i)18
            03/24/2022-10:07:19 Thd-\(i + 3) INFO gsk_secure_socket_init(): Peer address 10.1.0.2[4251\(i)]
            03/24/2022-10:07:19 Thd-\(i + 3) EXIT gsk_secure_socket_init(): <--- Exit status 0x000001af (431)
            """ }.joined(separator: "\n") + "\n"
        try gsk.write(toFile: dir + "/gskssl.1.trc", atomically: true, encoding: .utf8)
        try "---- THURSDAY,  24 MAR 2022 ----\n10.07.19 STC04588  GLD1116E Unable to initialize an SSL connection with 10.1.0.2: 431 - Certificate is revoked.\n"
            .write(toFile: dir + "/gldsrv.joblog", atomically: true, encoding: .utf8)
        let run = try IngestRun(plugins: Fixtures.plugins, store: try Store.openForWriting(dir + "/t.db"), options: IngestOptions())
        XCTAssertEqual(run.run([dir]), 0)
        XCTAssertEqual(run.linkReport?.rules.first { $0.rule == "gld1116e-gsk" }?.ambiguous, 1)
        XCTAssertEqual(try story(run.store, file: "gldsrv.joblog", line: 2), "-")
    }

    func testDurationsAndOffsetsParse() {
        XCTAssertEqual(TimeSpan.micros("5s"), 5_000_000)
        XCTAssertEqual(TimeSpan.micros("250ms"), 250_000)
        XCTAssertEqual(TimeSpan.micros("-3600s"), -3_600_000_000)
        XCTAssertEqual(TimeSpan.micros("+2m"), 120_000_000)
        XCTAssertEqual(TimeSpan.micros("1h"), 3_600_000_000)
        XCTAssertEqual(TimeSpan.micros("3"), 3_000_000)
        XCTAssertNil(TimeSpan.micros("soon"))
        XCTAssertNil(TimeSpan.micros(""))
        XCTAssertEqual(LinkOptions.parseOffset("ldap.log=+3600s")?.pattern, "ldap.log")
        XCTAssertEqual(LinkOptions.parseOffset("a=b=-1s")?.micros, -1_000_000)
        XCTAssertNil(LinkOptions.parseOffset("ldap.log"))
        XCTAssertNil(LinkOptions.parseOffset("=5s"))
        XCTAssertTrue(Linker.pathMatches("client.txt", "/x/y/client.txt"))
        XCTAssertTrue(Linker.pathMatches("*.joblog", "/x/gldsrv.joblog"))
        XCTAssertFalse(Linker.pathMatches("client.txt", "/x/myclient.txt"))
    }

    /// The generated multi-source scenario: every link made is right.
    func testGeneratedSourcesLinkWithFullPrecision() throws {
        let dir = Fixtures.tempDir()
        let truth = try SyntheticTrace(threads: 6, seed: 5).writeWithTruth(to: dir + "/gskssl.9.trc", targetBytes: 400_000)
        var sources = SyntheticSources()
        sources.clientEvery = 20
        let expected = try sources.write(for: truth, in: dir)
        var options = IngestOptions()
        options.link.offsets = [("gldsrv.joblog", -sources.jobLogOffset * 1_000_000)]
        let run = try IngestRun(plugins: Fixtures.plugins, store: try Store.openForWriting(dir + "/t.db"), options: options)
        XCTAssertEqual(run.run([dir + "/gskssl.9.trc", dir + "/gldsrv.joblog", dir + "/syslogd.log", dir + "/client.txt"]), 0)
        let gsk = run.results.first { $0.path.hasSuffix(".trc") }!.source
        let pair = try Benchmark.accuracy(truth: truth, store: run.store, source: gsk).pair
        let score = try LinkScore.score(expected, store: run.store, pair: pair)
        for p in score.parts {
            XCTAssertEqual(p.correct, p.linked, "\(p.file): every link right")
            XCTAssertEqual(p.wronglyLinked, 0, p.file)
        }
        XCTAssertEqual(score.parts.first { $0.file == "syslogd.log" }?.recall, 1, "AT-TLS names the port: all found")
        XCTAssertGreaterThan(score.parts.first { $0.file == "gldsrv.joblog" }?.recall ?? 0, 0.8)
    }
}

/// What the new layouts add to reading: EBCDIC dumps as text, cipher lists, years syslog leaves
/// out, levels from message ids, debug levels in explain, and the store's upgrade.
final class SourceLayoutTests: XCTestCase {
    func testDebugTraceDumpIsShownAsTextWithEachCipherDecoded() throws {
        let path = Fixtures.write("""
            220324 08:24:07.412870 2A0C8000 CONNS srv_ssl_init()301: SSL Cipher Specs
            00000000: c3f0f2c3 c3f0f2c2 c3f0f3f0 c3f0f2c6 *C02CC02BC030C02F*
            00000010: c3f0f2f4 c3f0f2f3 *C024C023        *

            """, named: "gldsrv.dsout")
        let (records, summary) = try Fixtures.records(path)
        XCTAssertEqual(summary.format, "gld-debug")
        XCTAssertEqual(records.count, 1)
        XCTAssertEqual(String(decoding: records[0].dumpText, as: UTF8.self).trimmingCharacters(in: .whitespaces), "C02CC02BC030C02FC024C023")
        XCTAssertEqual(Fixtures.codes(records[0]), ["cipher:C02C", "cipher:C02B", "cipher:C030", "cipher:C02F", "cipher:C024", "cipher:C023"])
        let (out, _) = Fixtures.format([path])
        XCTAssertTrue(out.contains("    text: \"C02CC02BC030C02FC024C023\""), out)
        XCTAssertTrue(out.contains("\n      TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"), out)
        XCTAssertTrue(out.contains("CONNS srv_ssl_init(): SSL Cipher Specs"), out)
        // A dump after another message is shown as text, with no codes read from it.
        let other = Fixtures.write("CONNS srv_read()10: Received\n00000000: c1c2c3c4 *ABCD*\n", named: "x.dsout")
        let r = try Fixtures.records(other).0
        XCTAssertEqual(String(decoding: r[0].dumpText, as: UTF8.self), "ABCD")
        XCTAssertTrue(r[0].codes.isEmpty)
    }

    func testSyslogTimesTakeTheYearOfTheReference() throws {
        let text = "Mar 24 10:07:19 S0W1 TCPIP[67174433]: EZD1281I TTLS Map CONNID: 0000006E\n"
        let format = try XCTUnwrap(Fixtures.plugins.format(named: "attls-syslog"))
        let reader = RecordReader(format: format, source: 0)
        reader.yearReference = Timestamp(micros: Int64(Timestamp.daysFromCivil(2022, 6, 1)) * 86_400_000_000)
        var got: [Record] = []
        Array(text.utf8).withUnsafeBufferPointer { b in reader.feed(UnsafeBufferPointer(rebasing: b[0..<(b.count - 1)]), number: 1) { got.append($0) } }
        reader.flush { got.append($0) }
        XCTAssertEqual(got.first?.time?.string(iso: true), "2022-03-24T10:07:19")
        // A date after the reference (by more than a day) is last year's.
        let january = RecordReader(format: format, source: 0)
        january.yearReference = Timestamp(micros: Int64(Timestamp.daysFromCivil(2023, 1, 2)) * 86_400_000_000)
        got = []
        Array(text.utf8).withUnsafeBufferPointer { b in january.feed(UnsafeBufferPointer(rebasing: b[0..<(b.count - 1)]), number: 1) { got.append($0) } }
        january.flush { got.append($0) }
        XCTAssertEqual(got.first?.time?.string(iso: true), "2022-03-24T10:07:19")
    }

    func testExplainDecodesDebugLevels() {
        let explainer = Explainer(plugins: Fixtures.plugins)
        func names(_ q: String, kind: String? = nil) -> [String] { explainer.readings(q, kind: kind).compactMap { $0.entry?.name } }
        XCTAssertEqual(names("ERROR+CONNS+LDAPBE"), ["CONNS", "ERROR", "LDAPBE"])
        XCTAssertEqual(names("x8008"), ["CONNS", "ERROR"])
        XCTAssertEqual(explainer.decodeFlags("ANY-BER")?.value, 0x7FFF_FFEF)
        XCTAssertEqual(names("debug 32776"), ["CONNS", "ERROR"])
        XCTAssertEqual(explainer.decodeFlags("error+conns")?.value, 0x8008, "keywords in any case")
        // Other codes keep their readings.
        XCTAssertEqual(explainer.readings("0x1AF").map(\.ref), ["ssl:431"])
        XCTAssertEqual(explainer.readings("431").map(\.ref), ["ssl:431"])
        XCTAssertNil(explainer.decodeFlags("ERROR+NOSUCHLEVEL"))
        let run = ExplainRun(plugins: Fixtures.plugins)
        var request = ExplainRequest()
        request.codes = ["ERROR+CONNS+LDAPBE"]
        let out = run.run(request).output
        XCTAssertEqual(out.first, "LDAP debug level ERROR+CONNS+LDAPBE = 294920 (x48008): 3 levels CONNS+ERROR+LDAPBE")
    }

    func testJobLogLevelsComeFromTheMessageIDAndTheWrapperIsAField() throws {
        let path = Fixtures.sample("revoked-client-cert/gldsrv.joblog")
        let (records, summary) = try Fixtures.records(path)
        XCTAssertEqual(summary.format, "gld-joblog")
        XCTAssertEqual(summary.counts.unparsed, 0)
        let gld = try XCTUnwrap(records.first { $0.message.hasPrefix("GLD1116E") })
        XCTAssertEqual(gld.level, .error)
        XCTAssertEqual(gld.extra("user"), "GLDSRV")
        XCTAssertEqual(Fixtures.codes(gld), ["gld:GLD1116E", "ssl:431"])
        XCTAssertEqual(records.first { $0.message.hasPrefix("GLD1004I") }?.level, .info)
    }

    /// A store written before linking (version 1) is refused read-only with what to do, and
    /// brought up to date by the next ingest or link.
    func testAVersion1StoreIsUpgraded() throws {
        let (db, _) = try Fixtures.ingest([Fixtures.sample("revoked-client-cert/gskssl.65567.trc")])
        try Fixtures.downgradeToVersion4(db, then: "DROP VIEW tls_offers; DROP TABLE tls_values; DROP TABLE tls_messages; DROP TABLE follows; DROP TABLE links; DROP INDEX connections_story; ALTER TABLE connections DROP COLUMN story; ALTER TABLE sources DROP COLUMN clock_offset; PRAGMA user_version = 1")
        XCTAssertThrowsError(try Store.openForReading(db)) { XCTAssertTrue("\($0)".contains("tracelens link"), "\($0)") }
        let store = try Store.openForWriting(db)
        XCTAssertEqual(try store.db.scalar("PRAGMA user_version"), 6)
        XCTAssertEqual(try store.db.scalar("SELECT count(*) FROM follows"), 0, "upgraded through versions 2, 3 and 4 to 5")
        XCTAssertEqual(try store.db.scalar("SELECT count(*) FROM tls_messages"), 0)
        XCTAssertEqual(try Linker(store: store, plugins: Fixtures.plugins).run().linked, 0)
        XCTAssertEqual(try Fixtures.queries(db).connections(ConnectionFilter()).rows.count, 3)
    }

    func testAVersion2StoreIsReadAsItIsAndUpgradedOnWrite() throws {
        let (db, _) = try Fixtures.ingest([Fixtures.sample("revoked-client-cert/gskssl.65567.trc")])
        try Fixtures.downgradeToVersion4(db, then: "DROP VIEW tls_offers; DROP TABLE tls_values; DROP TABLE tls_messages; DROP TABLE follows; PRAGMA user_version = 2")
        // Queries read it; status says nothing followed yet.
        let status = try Fixtures.queries(db).status()
        XCTAssertEqual(status.note, "no `watch` or `daemon` has written to this store yet")
        XCTAssertEqual(try Fixtures.queries(db).connections(ConnectionFilter()).rows.count, 3)
        let store = try Store.openForWriting(db)
        XCTAssertEqual(try store.db.scalar("PRAGMA user_version"), 6)
        XCTAssertEqual(try store.db.scalar("SELECT count(*) FROM follows"), 0)
    }

    /// A version 3 store (before the TLS messages) is read as it is: `show` prints its records
    /// without `tls:` lines, `doctor` works from the codes; a write adds the tables.
    func testAVersion3StoreIsReadAsItIsAndUpgradedOnWrite() throws {
        let (db, _) = try Fixtures.ingest([Fixtures.sample("revoked-client-cert/gskssl.65567.trc")])
        do {
            let store = try Store.openForWriting(db)
            XCTAssertGreaterThan(try store.db.scalar("SELECT count(*) FROM tls_messages") ?? 0, 0)
        }
        try Fixtures.downgradeToVersion4(db, then: "DROP VIEW tls_offers; DROP TABLE tls_values; DROP TABLE tls_messages; PRAGMA user_version = 3")
        let show = try Fixtures.runTool(["show", "--db", db, "1"])
        XCTAssertEqual(show.status, 0, show.stderr)
        XCTAssertFalse(show.stdout.contains("tls:"))
        XCTAssertTrue(show.stdout.contains("gsk_read_v3_record"))
        XCTAssertEqual(try Fixtures.runTool(["doctor", "--db", db, "--all"]).status, 0)
        let store = try Store.openForWriting(db)
        XCTAssertEqual(try store.db.scalar("PRAGMA user_version"), 6)
        XCTAssertEqual(try store.db.scalar("SELECT count(*) FROM tls_messages"), 0)
    }
}
