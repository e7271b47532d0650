import Foundation
import XCTest
@testable import TraceLensInput
@testable import TraceLensStore

/// `--json` has one rule (docs/user-guide.md §1): commands that answer a question print one JSON
/// document; commands that report items as they find them print JSON Lines. Checked on the tool
/// as a user runs it, with the samples.
final class JSONRuleTests: XCTestCase {
    static let db: String = TemporaryFolders.shared.keptForTheRun {
        let db = Fixtures.tempDir() + "/rule.db"
        _ = try? Fixtures.runTool(["ingest", "--quiet", "--db", db, Fixtures.sample("revoked-client-cert")])
        return db
    }

    func json(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let run = try Fixtures.runTool(arguments)
        XCTAssertTrue(run.status == 0 || run.status == 1, "\(arguments): exit \(run.status) \(run.stderr)", file: file, line: line)
        XCTAssertFalse(run.stdout.isEmpty, "\(arguments) printed nothing", file: file, line: line)
        return run.stdout
    }

    func testQuestionsAnswerWithOneDocument() throws {
        for arguments in [["summary"], ["connections", "--failed"], ["status"], ["show", "1"], ["sql", "SELECT 1 AS one"]] {
            let out = try json(arguments + ["--json", "--db", Self.db])
            XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(out.utf8)), "\(arguments): one document")
        }
        let explained = try JSONSerialization.jsonObject(with: Data(try json(["explain", "--json", "431", "alert 42"]).utf8)) as? [Any]
        XCTAssertEqual(explained?.count, 2, "explain: one object per code asked about")
    }

    func testReportsAreJSONLines() throws {
        let reports: [[String]] = [
            ["format", "--json", Fixtures.sample("revoked-client-cert/gldsrv.joblog")],
            ["doctor", "--json", "--all", "--db", Self.db],
            ["lint", "--json", Fixtures.sample("tls13-missing-aki/ds.conf"), Fixtures.sample("sigalg-missing-0503/gldsrv.envvars")],
            ["cert", "--json", Fixtures.sample("certs/ca.pem"), Fixtures.sample("certs/client-ecec.pem")],
        ]
        for arguments in reports {
            let lines = try json(arguments).split(separator: "\n")
            XCTAssertGreaterThan(lines.count, 1, "\(arguments): several items")
            for line in lines {
                XCTAssertTrue(try JSONSerialization.jsonObject(with: Data(line.utf8)) is [String: Any], "\(arguments): each line one object: \(line.prefix(80))")
            }
        }
    }

    func testHelpSaysWhichForEachCommand() throws {
        for (command, words) in [("summary", "One JSON document"), ("explain", "One JSON document"), ("format", "JSON Lines"),
                                 ("doctor", "JSON Lines"), ("lint", "JSON Lines"), ("cert", "JSON Lines")] {
            let help = try Fixtures.runTool([command, "--help"]).stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            XCTAssertTrue(help.contains(words), "\(command) --help names its JSON form")
        }
    }
}
