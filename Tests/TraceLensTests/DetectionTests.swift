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

/// A layout is chosen only when it explains most of the sampled lines; `--stats` and `ingest`
/// say how sure that is and which lines nothing explained; `--layout` still forces one.
final class DetectionTests: XCTestCase {
    /// Release notes in prose, with one line that happens to have gsktrace's shape.
    static var proseWithOneTraceLine: String {
        var lines = (1...99).map { "Note \($0): the directory server was restarted after the key ring change on host plex\($0 % 7)." }
        lines.insert("11/02/2023-08:15:44 Thd-4 INFO gsk_environment_init(): pasted by mistake", at: 40)
        return lines.joined(separator: "\n") + "\n"
    }

    static let traceWithStrayLine = """
    02/19/2023-17:40:01 Thd-2 ENTRY gsk_secure_socket_init(): ---> Handle 0x1F20A400
    02/19/2023-17:40:01 Thd-2 INFO gsk_secure_socket_init(): Peer address 10.8.0.14[50211]
    >>> copied from the operator's notes
    02/19/2023-17:40:02 Thd-2 ERROR validate_chain(): Certificate has expired
    02/19/2023-17:40:02 Thd-2 EXIT gsk_secure_socket_init(): <--- Exit status 0x000001a9 (425)

    """

    /// A page of prose that quotes one message id at the start of a line: the console layout's
    /// wrapped lines continue a message for a screenful at most, so the page is no console log.
    func testProseQuotingOneMessageIdIsNoConsoleLog() throws {
        var lines = (1...60).map { "Step \($0): compare the key ring of plex\($0 % 5) with the one the server names." }
        lines.insert("EZD1287I text is what the operator saw at that moment, so the notes go on below it.", at: 5)
        let path = Fixtures.write(lines.joined(separator: "\n") + "\n", named: "notes.md")
        let (records, summary) = try Fixtures.records(path)
        XCTAssertNil(summary.format, "\(summary.detection)")
        XCTAssertTrue(records.allSatisfy(\.isUnparsed))
        // A real wrapped console message still joins, line by line.
        let wrapped = ["EZZ6035I TN3270E DEBUG CONN DETAIL 451"] + (1...12).map { "PARM\($0): 0000000\($0 % 10) WRAPPED AT THE SCREEN EDGE" }
        let (console, _) = try Fixtures.records(Fixtures.write(wrapped.joined(separator: "\n") + "\n", named: "console.txt"), format: "zos-console")
        XCTAssertEqual(console.count, 1)
        XCTAssertEqual(console.first?.lineCount, 13)
    }

    func testMaxLinesBelowTwoIsAPluginProblem() throws {
        let problems = try Fixtures.loadProblems(withPlugin: """
            [[format]]
            name = "mine"
            title = "x"
            record = ['MINE {message:rest}']
            [[format.continuation]]
            template = '{message:rest}'
            max-lines = 1
            """)
        XCTAssertTrue(problems.contains("max-lines must be 2 or more"), problems)
    }

    func testOneMatchingLineInAHundredDoesNotChooseTheLayout() throws {
        let path = Fixtures.write(Self.proseWithOneTraceLine, named: "notes.txt")
        let (records, summary) = try Fixtures.records(path)
        XCTAssertNil(summary.format)
        XCTAssertEqual(summary.detection.layouts, [])
        XCTAssertEqual(summary.detection.best, "gsktrace")
        XCTAssertEqual(summary.detection.bestExplained, 1)
        XCTAssertEqual(summary.detection.sampled, 100)
        XCTAssertTrue(records.allSatisfy(\.isUnparsed), "no record is read as gsktrace's")

        let run = try Fixtures.runTool(["format", "--stats", path])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("layout none (best: gsktrace explains 1/100 sampled lines, 1%, not most)"), run.stderr)
        XCTAssertTrue(run.stderr.contains("lines nothing explained: 1, 2, 3, 4, 5 (and 95 more)"), run.stderr)
        XCTAssertTrue(run.stderr.contains("no known layout; its 100 lines are shown as they are"), run.stderr)
        XCTAssertTrue(run.stderr.contains("name it with --layout"), run.stderr)
        XCTAssertEqual(run.stdout, Self.proseWithOneTraceLine, "every line printed as written")
    }

    /// In a folder, a file no layout explains is skipped, and the note says which came closest.
    func testIngestOfAFolderSkipsTheUnsureFileAndSaysWhy() throws {
        let dir = Fixtures.tempDir() + "/folder"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Self.proseWithOneTraceLine.write(toFile: dir + "/notes.txt", atomically: true, encoding: .utf8)
        try Self.traceWithStrayLine.write(toFile: dir + "/gskssl.4242.trc", atomically: true, encoding: .utf8)
        let run = try Fixtures.runTool(["ingest", "--db", Fixtures.tempDir() + "/f.db", dir])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("skipped 1 file with no known layout: \(dir)/notes.txt (name a file itself"), run.stderr)
        XCTAssertTrue(run.stderr.contains("layout gsktrace explains only 1 of 100 sampled lines (1%)"), run.stderr)
        XCTAssertTrue(run.stdout.contains("gskssl.4242.trc: added 5 records (1 unparsed)"), run.stdout)
    }

    func testFilesSkippedInAFolderAreSaidInOneLine() throws {
        let dir = Fixtures.tempDir() + "/case"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for name in ["a.txt", "b.md", "c.log"] { try "a note with no trace in it\n".write(toFile: dir + "/" + name, atomically: true, encoding: .utf8) }
        try Self.traceWithStrayLine.write(toFile: dir + "/gskssl.4242.trc", atomically: true, encoding: .utf8)
        // An empty file and a binary one are no trace either; the binary is said apart (not text).
        try "".write(toFile: dir + "/empty.txt", atomically: true, encoding: .utf8)
        try Data([0, 1, 2, 0xFF, 0, 0, 7]).write(to: URL(fileURLWithPath: dir + "/blob.bin"))
        let run = try Fixtures.runTool(["ingest", "--db", Fixtures.tempDir() + "/f.db", dir])
        XCTAssertEqual(run.status, 0, run.stderr)
        let lines = run.stderr.split(separator: "\n").filter { $0.contains("no known layout") }
        XCTAssertEqual(lines.count, 1, run.stderr)
        XCTAssertTrue(lines[0].contains("skipped 3 files with no known layout: \(dir)/a.txt, \(dir)/b.md, \(dir)/c.log (") || lines[0].contains("skipped 4 files"), run.stderr)
        XCTAssertTrue(lines[0].hasSuffix("or use --layout to force one)"), run.stderr)
        XCTAssertTrue(run.stdout.contains("gskssl.4242.trc: added 5 records"), run.stdout)
        // A file named on its own is stored anyway, as before.
        let named = try Fixtures.runTool(["ingest", "--db", Fixtures.tempDir() + "/g.db", dir + "/a.txt"])
        XCTAssertTrue(named.stderr.contains("a.txt: no known layout; its 1 lines are stored as unparsed records"), named.stderr)
    }

    func testLayoutStillForcesOne() throws {
        let path = Fixtures.write(Self.proseWithOneTraceLine, named: "notes.txt")
        let run = try Fixtures.runTool(["format", "--stats", "--layout", "gsktrace", path])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("1 records, 99 unparsed lines"), run.stderr)
        XCTAssertTrue(run.stderr.contains("layout gsktrace (forced with --layout)"), run.stderr)
        XCTAssertTrue(run.stdout.contains("Thd-4 INFO gsk_environment_init(): pasted by mistake"), run.stdout)

        let json = try Fixtures.runTool(["format", "--json", "--layout", "gsktrace", path])
        let parsed = json.stdout.split(separator: "\n").filter { $0.contains("\"layout\"") }
        XCTAssertEqual(parsed.count, 1)
        XCTAssertTrue(parsed[0].contains("\"line\":41,\"layout\":\"gsktrace\""), String(parsed[0]))
    }

    func testStatsSaySureAndNameTheLinesNothingExplained() throws {
        let path = Fixtures.write(Self.traceWithStrayLine, named: "gskssl.4242.trc")
        let run = try Fixtures.runTool(["format", "--stats", path])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("4 records, 1 unparsed lines"), run.stderr)
        XCTAssertTrue(run.stderr.contains("layout gsktrace (4/5 sampled lines explained, 80%)"), run.stderr)
        XCTAssertTrue(run.stderr.contains("; line nothing explained: 3\n"), run.stderr)

        let json = try Fixtures.runTool(["format", "--stats", "--json", path])
        XCTAssertEqual(json.status, 0, json.stderr)
        let line = try XCTUnwrap(json.stderr.split(separator: "\n").last)
        let stats = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertEqual(stats["layout"] as? String, "gsktrace")
        XCTAssertEqual(stats["layouts"] as? [String], ["gsktrace"])
        XCTAssertEqual(stats["sampled"] as? Int, 5)
        XCTAssertEqual(stats["explained"] as? Int, 4)
        XCTAssertEqual(stats["sure"] as? Int, 80)
        XCTAssertEqual(stats["unexplained_lines"] as? [Int], [3])
        XCTAssertEqual(stats["unparsed"] as? Int, 1)
        XCTAssertEqual(stats["forced"] as? Bool, false)

        let db = Fixtures.tempDir() + "/d.db"
        let ingest = try Fixtures.runTool(["ingest", "--db", db, path])
        XCTAssertEqual(ingest.status, 0, ingest.stderr)
        XCTAssertTrue(ingest.stdout.contains("; layout gsktrace (4/5 sampled lines explained, 80%); line nothing explained: 3"), ingest.stdout)
    }

    func testTextWithNoKnownLayoutStaysUnparsedWithoutErrors() throws {
        let text = """
        Meeting notes, 14 March
        - renew the server certificate before it expires in May
        - ask the network team about port 636 on the new firewall

        Nobody owns the CRL distribution point yet.

        """
        let path = Fixtures.write(text, named: "notes.md")
        let run = try Fixtures.runTool(["format", "--stats", path])
        XCTAssertEqual(run.status, 0, run.stderr)
        for line in text.split(separator: "\n") { XCTAssertTrue(run.stdout.contains(line), "\(line) printed as written") }
        XCTAssertTrue(run.stderr.contains("0 records, 4 unparsed lines, 0 codes (0 failures)"), run.stderr)
        XCTAssertTrue(run.stderr.contains("layout none (no layout explains any of 4 sampled lines)"), run.stderr)
        XCTAssertFalse(run.stderr.contains("error"), run.stderr)

        let db = Fixtures.tempDir() + "/n.db"
        let ingest = try Fixtures.runTool(["ingest", "--db", db, path])
        XCTAssertEqual(ingest.status, 0, ingest.stderr)
        XCTAssertTrue(ingest.stdout.contains("added 4 records (4 unparsed)"), ingest.stdout)
        let failures = try Fixtures.runTool(["sql", "--db", db, "SELECT count(*) FROM records WHERE failure"])
        XCTAssertEqual(failures.stdout.split(separator: "\n").last?.trimmingCharacters(in: .whitespaces), "0", failures.stdout)
    }

    /// A whole trace still reads as before: one layout, sure, every record its own.
    func testAPlainTraceIsOneLayoutNotMixed() throws {
        let (records, summary) = try Fixtures.records(Fixtures.sample("revoked-client-cert/gskssl.65567.trc"))
        XCTAssertEqual(summary.detection.layouts, ["gsktrace"])
        XCTAssertEqual(summary.detection.percent, 100)
        XCTAssertTrue(records.allSatisfy { $0.layout?.name == "gsktrace" })
        for name in ["client.txt", "gldsrv.joblog", "gldsrv.dsout", "gldsrv-sdsf.txt"] {
            let (_, s) = try Fixtures.records(Fixtures.sample("revoked-client-cert/" + name))
            XCTAssertEqual(s.detection.layouts.count, 1, "\(name): \(s.detection.description)")
            XCTAssertGreaterThanOrEqual(s.detection.percent, 90, "\(name): \(s.detection.description)")
        }
    }
}
