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

/// `sql` runs one reading statement with SQLite's own reading functions, nothing else.
final class SQLGuardTests: XCTestCase {
    static let db: String = {
        let files = ["revoked-client-cert/gskssl.65567.trc", "attls-revoked/gsksrvr-ctrace.txt"]
        return TemporaryFolders.shared.keptForTheRun { try! Fixtures.ingest(files.map(Fixtures.sample)).0 }
    }()

    func testFunctionsOutsideTheAllowListAreRefused() throws {
        let q = try Fixtures.queries(Self.db)
        for statement in ["SELECT fts3_tokenizer('simple')", "SELECT hex(fts3_tokenizer('simple'))",
                          "SELECT load_extension('/tmp/x.so')", "SELECT zeroblob(2000000000)", "SELECT randomblob(10)",
                          "SELECT count(*) FROM records WHERE length(fts3_tokenizer('porter')) > 0",
                          "SELECT sqlite_compileoption_get(0)", "SELECT changes()"] {
            XCTAssertThrowsError(try q.sql(statement), statement) { error in
                XCTAssertTrue("\(error)".contains("only reading is allowed"), "\(statement): \(error)")
            }
        }
    }

    func testReadingFunctionsWork() throws {
        let q = try Fixtures.queries(Self.db)
        let rows = try q.sql("""
            SELECT count(*), max(length(text)), lower(upper('a')), coalesce(NULL, 1), round(1.26, 1), substr('abc', 2),
                   group_concat(DISTINCT catalogue), date(0, 'unixepoch'), json_array(1, 2), abs(-3), typeof(1), printf('%d', 5)
            FROM records JOIN codes ON codes.record = records.id
            """).rows
        XCTAssertEqual(rows.count, 1)
        XCTAssertEqual(rows[0][2], .text("a"))
        XCTAssertEqual(try q.sql("SELECT row_number() OVER (ORDER BY id) FROM sources LIMIT 1").rows, [[.int(1)]])
        // The views and the query commands go through the same guard.
        _ = try q.sql("SELECT * FROM failed_connections")
        _ = try q.sql("SELECT * FROM decoded_codes LIMIT 5")
        XCTAssertEqual(try q.summary().count, 4)
        XCTAssertGreaterThan(try q.connections(ConnectionFilter()).rows.count, 0)
    }

    func testCommandRefusalsSayWhatIsWanted() throws {
        for (text, expected) in [("", "give one SQL statement"), ("   \n\t", "give one SQL statement"),
                                 ("SELECT 1; SELECT 2", "one SQL statement at a time"),
                                 ("SELECT 1; DELETE FROM records", "one SQL statement at a time")] {
            let run = try Fixtures.runTool(["sql", "--db", Self.db, text])
            XCTAssertFalse(run.crashed, text)
            XCTAssertEqual(run.status, 64, text)
            XCTAssertTrue(run.stderr.contains(expected), "\(text): \(run.stderr)")
        }
        let comment = try Fixtures.runTool(["sql", "--db", Self.db, "/* just a comment */"])
        XCTAssertEqual(comment.status, 64)
        XCTAssertTrue(comment.stderr.contains("give one SQL statement"), comment.stderr)
        let trailing = try Fixtures.runTool(["sql", "--db", Self.db, "SELECT count(*) AS n FROM sources; -- two files\n"])
        XCTAssertEqual(trailing.status, 0, trailing.stderr)
        XCTAssertTrue(trailing.stdout.contains("2"), trailing.stdout)
        let tokenizer = try Fixtures.runTool(["sql", "--db", Self.db, "SELECT fts3_tokenizer('simple')"])
        XCTAssertEqual(tokenizer.status, 2)
        XCTAssertTrue(tokenizer.stderr.contains("fts3_tokenizer"), tokenizer.stderr)
        XCTAssertFalse(tokenizer.crashed)
    }
}
