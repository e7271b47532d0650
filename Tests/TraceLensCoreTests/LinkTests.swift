import Foundation
import XCTest
@testable import TraceLensCore

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
    func story(_ store: Store, file: String, line: Int) throws -> String? {
        let q = try store.db.prepare("""
            SELECT c.story, (SELECT s2.path || ':' || g.first_line FROM connections g JOIN sources s2 ON s2.id = g.source WHERE g.id = c.story)
            FROM connections c JOIN sources s ON s.id = c.source
            WHERE c.first_line = ?1 AND (s.path LIKE '%/' || ?2)
            """)
        try q.bind([.int(Int64(line)), .text(file)])
        // A line where no connection starts belongs to no story.
        guard try q.step() else { return "-" }
        guard !q.isNull(0), let target = q.string(1) else { return "-" }
        return StoreQueries.fileName(target)
    }

    func testEveryScenarioLinksAsItsExpectedLinksSay() throws {
        XCTAssertGreaterThanOrEqual(Self.scenarios.count, 6, "scenario folders with expected-links.tsv")
        var checked = 0, links = 0, nonMatches = 0
        for name in Self.scenarios {
            let (store, _) = try ingestScenario(name)
            let text = try String(contentsOfFile: Fixtures.sample(name + "/expected-links.tsv"), encoding: .utf8)
            for row in text.split(separator: "\n").dropFirst() {
                let cols = row.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
                guard cols.count >= 3, let line = Int(cols[1]) else { continue }
                let got = try story(store, file: cols[0], line: line)
                XCTAssertEqual(got, cols[2], "\(name)/\(cols[0]):\(line) (\(cols.count > 3 ? cols[3] : ""))")
                checked += 1
                if cols[2] == "-" { nonMatches += 1 } else { links += 1 }
            }
        }
        XCTAssertGreaterThan(links, 20)
        XCTAssertGreaterThan(nonMatches, 5)
        XCTAssertEqual(checked, links + nonMatches)
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
        XCTAssertEqual(Duration.micros("5s"), 5_000_000)
        XCTAssertEqual(Duration.micros("250ms"), 250_000)
        XCTAssertEqual(Duration.micros("-3600s"), -3_600_000_000)
        XCTAssertEqual(Duration.micros("+2m"), 120_000_000)
        XCTAssertEqual(Duration.micros("1h"), 3_600_000_000)
        XCTAssertEqual(Duration.micros("3"), 3_000_000)
        XCTAssertNil(Duration.micros("soon"))
        XCTAssertNil(Duration.micros(""))
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
