import Foundation
import XCTest
@testable import TraceLensRecords
@testable import TraceLensCorrelate
@testable import TraceLensStore
@testable import TraceLensQuery
@testable import TraceLensCommands

/// A new user's first hour, "No surprises": what the tool says when a command does less than
/// asked, finds nothing, or is asked for something that is not there.
final class NoSurpriseTests: XCTestCase {
    /// A store of one scenario with a failure and one where everything succeeded.
    static let db: String = {
        TemporaryFolders.shared.keptForTheRun {
            try! Fixtures.ingest(["revoked-client-cert/gskssl.65567.trc", "tls12-success/gskssl.16777300.trc"].map(Fixtures.sample)).0
        }
    }()

    /// Text with every run of blanks and line ends made one space (help text is wrapped).
    func flat(_ text: String) -> String { text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ") }

    // MARK: 1. sql: one statement; .tables and .schema

    func testSQLRefusesASecondStatementNotASemicolonInAStringOrATrailingOne() throws {
        let q = try Fixtures.queries(Self.db)
        XCTAssertThrowsError(try q.sql("SELECT 1; DELETE FROM records")) { XCTAssertTrue("\($0)".contains("one SQL statement at a time"), "\($0)") }
        XCTAssertEqual(try q.sql("SELECT 'a;b'").rows, [[.text("a;b")]])
        XCTAssertEqual(try q.sql("SELECT 1; /* done */ -- really\n  ").rows, [[.int(1)]])
        let refused = try Fixtures.runTool(["sql", "--db", Self.db, "SELECT 1; DELETE FROM records"])
        XCTAssertEqual(refused.status, 64, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("give one SQL statement at a time"), refused.stderr)
        XCTAssertEqual(refused.stdout, "", "nothing of the first statement is printed")
        let inString = try Fixtures.runTool(["sql", "--db", Self.db, "SELECT 'x;y' AS t;"])
        XCTAssertEqual(inString.status, 0, inString.stderr)
        XCTAssertTrue(inString.stdout.contains("x;y"), inString.stdout)
    }

    func testTablesAndSchemaAsTheSQLiteShellPrintsThem() throws {
        let q = try Fixtures.queries(Self.db)
        let names = try q.tableNames()
        for documented in ["sources", "records", "codes", "code_counts", "connections", "conn_keys", "links", "catalogue", "failed_connections", "decoded_codes"] {
            XCTAssertTrue(names.contains(documented), "\(documented) in \(names)")
        }
        XCTAssertEqual(names, names.sorted())
        XCTAssertFalse(names.contains { $0.hasPrefix("sqlite_") })
        let catalogue = try q.schema(of: "catalogue")
        XCTAssertEqual(catalogue.count, 1, "\(catalogue)")
        XCTAssertTrue(catalogue[0].hasPrefix("CREATE TABLE catalogue") && catalogue[0].hasSuffix(";"), catalogue[0])
        // As the shell prints a table: then its indexes and triggers.
        let links = try q.schema(of: "links")
        XCTAssertTrue(links[0].hasPrefix("CREATE TABLE links") && links[0].hasSuffix(";"), links[0])
        XCTAssertEqual(links.dropFirst().map { String($0.prefix(34)) }, ["CREATE TRIGGER story_revised_on_li", "CREATE TRIGGER story_revised_on_un"])
        XCTAssertTrue(try q.schema(of: "connections").contains { $0.hasPrefix("CREATE INDEX connections_outcome") }, "a table's indexes come with it")
        XCTAssertNil(try q.shellCommand("SELECT 1"))

        let tables = try Fixtures.runTool(["sql", "--db", Self.db, ".tables"])
        XCTAssertEqual(tables.status, 0, tables.stderr)
        XCTAssertEqual(tables.stdout, names.map { $0 + "\n" }.joined())
        let schema = try Fixtures.runTool(["sql", "--db", Self.db, ".schema"])
        XCTAssertEqual(schema.status, 0, schema.stderr)
        XCTAssertTrue(schema.stdout.contains("CREATE VIRTUAL TABLE records USING tracelens_records;\n-- columns: id INTEGER, source INTEGER, line INTEGER"), schema.stdout)
        XCTAssertTrue(schema.stdout.contains("CREATE VIEW failed_connections"), schema.stdout)
        let one = try Fixtures.runTool(["sql", "--db", Self.db, ".schema links"])
        XCTAssertEqual(one.stdout, links.joined(separator: "\n") + "\n")
        for (text, expected) in [(".schema nosuch", "no table or view named 'nosuch'"), (".indexes", ".tables and .schema")] {
            let run = try Fixtures.runTool(["sql", "--db", Self.db, text])
            XCTAssertEqual(run.status, 64, text)
            XCTAssertTrue(run.stderr.contains(expected), "\(text): \(run.stderr)")
        }
    }

    // MARK: 2. doctor: no such connection; one that succeeded

    func testDoctorSaysWhenThereIsNoSuchConnection() throws {
        XCTAssertThrowsError(try DoctorRun(plugins: Fixtures.plugins).diagnose(storePath: Self.db, connections: [9999])) {
            XCTAssertTrue("\($0)".contains("no connection 9999"), "\($0)")
        }
        let run = try Fixtures.runTool(["doctor", "--db", Self.db, "9999"])
        XCTAssertEqual(run.status, 2, run.stderr)
        XCTAssertTrue(run.stderr.contains("no connection 9999 in the store"), run.stderr)
        XCTAssertFalse(run.stdout.contains("no failed connections"), run.stdout)
    }

    func testDoctorSaysAConnectionSucceededAndWhatItWas() throws {
        let q = try Fixtures.queries(Self.db)
        let rows = try q.sql("SELECT id, protocol FROM connections WHERE outcome = 'ok' AND (story IS NULL OR story = id) ORDER BY id LIMIT 1").rows
        guard let row = rows.first, case let .int(id) = row[0] else { return XCTFail("a connection that succeeded in tls12-success") }
        let diagnoses = try DoctorRun(plugins: Fixtures.plugins).diagnose(storePath: Self.db, connections: [id])
        XCTAssertEqual(diagnoses.count, 1)
        XCTAssertTrue(diagnoses[0].succeeded)
        XCTAssertTrue(diagnoses[0].findings.isEmpty)
        if row[1] != .null { XCTAssertTrue(diagnoses[0].agreed.contains { $0.hasPrefix("protocol ") }, "\(diagnoses[0].agreed)") }
        let run = try Fixtures.runTool(["doctor", "--db", Self.db, String(id)])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("connection \(id): "), run.stdout)
        XCTAssertTrue(run.stdout.contains("it succeeded"), run.stdout)
        XCTAssertTrue(run.stdout.contains("nothing to diagnose"), run.stdout)
        XCTAssertFalse(run.stdout.contains("no diagnosis rule fits"), run.stdout)
        let json = try Fixtures.runTool(["doctor", "--db", Self.db, "--json", String(id)])
        XCTAssertTrue(json.stdout.contains("\"outcome\":\"ok\""), json.stdout)
    }

    // MARK: 3. --version

    func testVersionIsPrinted() throws {
        XCTAssertTrue(TraceLensVersion.text.hasPrefix(TraceLensVersion.number))
        let run = try Fixtures.runTool(["--version"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.stdout, TraceLensVersion.text + "\n")
    }

    // MARK: 4. link --offset: a name that matches several sources

    func testOffsetNameMatchingSeveralSourcesIsRefusedWithTheirPaths() throws {
        let sources = ["a/client.txt", "b/client.txt", "b/gskssl.1.trc"].enumerated().map { LinkSource(id: Int64($0.offset + 1), path: "/s/" + $0.element) }
        var options = LinkOptions(offsets: [LinkOptions.parseOffset("client.txt=-3600s")!])
        XCTAssertEqual(options.offsetsMatchingSeveral(sources), [OffsetMatchesSeveral(pattern: "client.txt", paths: ["/s/a/client.txt", "/s/b/client.txt"])])
        options.offsets = [LinkOptions.parseOffset("b/client.txt=-3600s")!, LinkOptions.parseOffset("*.txt=1s")!]
        XCTAssertEqual(options.offsetsMatchingSeveral(sources), [], "one path; a glob asks for several")
        options.offsets = [LinkOptions.parseOffset("client.txt=-3600s")!]
        options.allMatching = true
        XCTAssertEqual(options.offsetsMatchingSeveral(sources), [])

        let db = Fixtures.tempDir() + "/all.db"
        let ingest = try Fixtures.runTool(["ingest", "--quiet", "--db", db, Fixtures.sample("ec-cert-rsa-cipher"), Fixtures.sample("tls12-success")])
        XCTAssertEqual(ingest.status, 0, ingest.stderr)
        let refused = try Fixtures.runTool(["link", "--db", db, "--offset", "client.txt=-3600s"])
        XCTAssertEqual(refused.status, 2, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("'client.txt' matches 2 sources"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("--all-matching"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains(Fixtures.sample("ec-cert-rsa-cipher") + "/client.txt"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains(Fixtures.sample("tls12-success") + "/client.txt"), refused.stderr)
        func offsets() throws -> [SQLValue] { try Fixtures.queries(db).sql("SELECT DISTINCT clock_offset FROM sources ORDER BY 1").rows.map { $0[0] } }
        XCTAssertEqual(try offsets(), [.int(0)], "nothing kept from a refused run")

        let one = try Fixtures.runTool(["link", "--db", db, "--offset", Fixtures.sample("ec-cert-rsa-cipher") + "/client.txt=-3600s"])
        XCTAssertEqual(one.status, 0, one.stderr)
        XCTAssertEqual(try offsets(), [.int(-3_600_000_000), .int(0)])
        let cleared = try Fixtures.runTool(["link", "--db", db, "--offset", "ec-cert-rsa-cipher/client.txt=0"])
        XCTAssertEqual(cleared.status, 0, cleared.stderr)
        XCTAssertEqual(try offsets(), [.int(0)], "NAME=0 clears the offset")
        let all = try Fixtures.runTool(["link", "--db", db, "--all-matching", "--offset", "client.txt=+1s"])
        XCTAssertEqual(all.status, 0, all.stderr)
        XCTAssertEqual(try Fixtures.queries(db).sql("SELECT count(*) FROM sources WHERE clock_offset = 1000000").rows, [[.int(2)]])
    }

    // MARK: 5. a re-ingest that adds nothing prints no link totals

    func testReIngestThatAddsNothingPrintsNoLinkTotals() throws {
        let db = Fixtures.tempDir() + "/t.db"
        let folder = Fixtures.sample("revoked-client-cert")
        let first = try Fixtures.runTool(["ingest", "--db", db, folder])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.contains("linked "), first.stdout)
        let again = try Fixtures.runTool(["ingest", "--db", db, folder])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("unchanged, nothing to add"), again.stdout)
        XCTAssertFalse(again.stdout.contains("linked "), again.stdout)
        // Given an offset, linking may change: the totals are news again.
        let offset = try Fixtures.runTool(["ingest", "--db", db, "--offset", "revoked-client-cert/client.txt=0", folder])
        XCTAssertTrue(offset.stdout.contains("linked "), offset.stdout)

        let run = try IngestRun(plugins: Fixtures.plugins, store: try Store.openForWriting(db), options: IngestOptions())
        XCTAssertEqual(run.run([folder]), 0)
        XCTAssertFalse(run.mayHaveChangedLinks)
    }

    // MARK: 6. lint's reason, the subcommand's usage, --level, empty results

    func testLintSaysWhyAFileCannotBeRead() throws {
        let run = try Fixtures.runTool(["lint", "nosuch"])
        XCTAssertEqual(run.status, 2)
        XCTAssertTrue(run.stderr.contains("nosuch: No such file"), run.stderr)
        XCTAssertEqual(LintRun.whyUnreadable("/nonexistent/nosuch"), "No such file or directory")
    }

    func testUsageErrorsFromACommandShowThatCommandsUsage() throws {
        let run = try Fixtures.runTool(["format", "--level", "nosuch", Fixtures.sample("revoked-client-cert/gskssl.65567.trc")])
        XCTAssertEqual(run.status, 64)
        XCTAssertTrue(run.stderr.hasPrefix("Error: unknown level 'nosuch'"), run.stderr)
        XCTAssertTrue(run.stderr.contains("Usage: tracelens format "), run.stderr)
        XCTAssertTrue(run.stderr.contains("See 'tracelens format --help'"), run.stderr)
        XCTAssertFalse(run.stderr.contains("<subcommand>"), run.stderr)
        let sql = try Fixtures.runTool(["sql", "--db", Self.db, ""])
        XCTAssertTrue(sql.stderr.contains("Usage: tracelens sql "), sql.stderr)
        let nested = try Fixtures.runTool(["plugins", "check"])
        XCTAssertEqual(nested.status, 64)
    }

    func testLevelHelpAndErrorListTheSameLevels() throws {
        let levels = Level.allCases.map(\.name).joined(separator: ", ")
        let help = try Fixtures.runTool(["format", "--help"])
        XCTAssertTrue(flat(help.stdout).contains("Only records of this level: \(levels)."), help.stdout)
        let error = try Fixtures.runTool(["format", "--level", "nosuch", "x"])
        XCTAssertTrue(error.stderr.contains("levels: \(levels)\n"), error.stderr)
    }

    func testEmptyResultsSaySo() throws {
        let db = try Fixtures.ingest([Fixtures.sample("tls12-success/gskssl.16777300.trc")]).0
        let none = try Fixtures.runTool(["connections", "--db", db, "--failed"])
        XCTAssertEqual(none.status, 0, none.stderr)
        XCTAssertEqual(none.stdout, "no failed connections\n")
        let json = try Fixtures.runTool(["connections", "--db", db, "--failed", "--json"])
        XCTAssertFalse(json.stdout.contains("no failed"), json.stdout)
        var filter = ConnectionFilter()
        filter.peer = "10.9.9.9"
        XCTAssertEqual(filter.nothingFound, "no connections with that peer")

        let noRows = try Fixtures.runTool(["sql", "--db", db, "SELECT * FROM sources WHERE 0"])
        XCTAssertEqual(noRows.status, 0, noRows.stderr)
        XCTAssertEqual(noRows.stdout, "(no rows)\n")
        let csv = try Fixtures.runTool(["sql", "--db", db, "--csv", "SELECT * FROM sources WHERE 0"])
        XCTAssertFalse(csv.stdout.contains("(no rows)"), csv.stdout)
    }

    /// A variable whose catalogue name is the variable itself is not named twice.
    func testExplainSaysAVariableNameOnce() throws {
        let run = try Fixtures.runTool(["explain", "GSK_TRACE"])
        XCTAssertEqual(run.status, 0)
        XCTAssertTrue(run.stdout.hasPrefix("GSK environment variable GSK_TRACE: Which System SSL trace records"), run.stdout)
        XCTAssertFalse(run.stdout.contains("GSK_TRACE: GSK_TRACE"), run.stdout)
    }
}
