import Foundation
import XCTest
@testable import TraceLensInput
@testable import TraceLensStore

/// `show --ladder` (the story as a sequence diagram) and `report` (the HTML report), the report
/// also checked in a real browser (headless Chromium).
final class LadderReportTests: XCTestCase {
    /// A store of the revoked-certificate sample (`folder`: another copy of it) and the id of its
    /// System SSL connection at 10:07:19.
    func revokedStore(_ folder: String = Fixtures.sample("revoked-client-cert")) throws -> (db: String, conn: String) {
        let db = Fixtures.tempDir() + "/s.db"
        let ingest = try Fixtures.runTool(["ingest", "--db", db, "--quiet", folder])
        XCTAssertEqual(ingest.status, 0, ingest.stderr)
        let store = try Store.openForReading(db)
        let id = try XCTUnwrap(try store.db.scalar("""
            SELECT c.id FROM connections c JOIN sources s ON s.id = c.source
            WHERE s.path LIKE '%gskssl.65567.trc' AND c.outcome = 'failed' ORDER BY c.start_time LIMIT 1
            """))
        return (db, String(id))
    }

    func testLadderOfTheRevokedStory() throws {
        let (db, conn) = try revokedStore()
        let run = try Fixtures.runTool(["show", "--db", db, "--ladder", conn])
        XCTAssertEqual(run.status, 0, run.stderr)
        let lines = run.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // The parties present: the client, System SSL, the LDAP server.
        let head = try XCTUnwrap(lines.first)
        for party in ["client", "System SSL", "LDAP server"] { XCTAssertTrue(head.contains(party), head) }
        XCTAssertLessThan(try XCTUnwrap(head.range(of: "client")).lowerBound, try XCTUnwrap(head.range(of: "System SSL")).lowerBound)
        // ClientHello from the client to System SSL; alert 44 back from System SSL to the client.
        let hello = try XCTUnwrap(lines.first { $0.contains("ClientHello") })
        XCTAssertTrue(hello.contains("▶"), hello)
        let alert = try XCTUnwrap(lines.first { $0.contains("Alert 44") })
        XCTAssertTrue(alert.contains("◀"), alert)
        // What the LDAP server logged, under its column; the failing step marked once.
        let note = try XCTUnwrap(lines.first { $0.contains("GLD1116E") })
        let ldapColumn = try XCTUnwrap(head.range(of: "LDAP server")).lowerBound.utf16Offset(in: head)
        let dot = try XCTUnwrap(note.firstIndex(of: "●"))
        XCTAssertGreaterThanOrEqual(note.distance(from: note.startIndex, to: dot), ldapColumn - 2, note)
        XCTAssertEqual(lines.filter { $0.contains("✗") }.count, 1, run.stdout)
        XCTAssertTrue(try XCTUnwrap(lines.first { $0.contains("✗") }).contains("CMS 03353041"), run.stdout)
        // 80 columns, and no colour in a pipe.
        for line in lines { XCTAssertLessThanOrEqual(line.count, 80, line) }
        XCTAssertFalse(run.stdout.contains("\u{1B}"))
        // `show` alone draws the ladder above the records.
        let show = try Fixtures.runTool(["show", "--db", db, conn])
        XCTAssertTrue(show.stdout.contains(lines[0]), show.stdout)
        let coloured = try Fixtures.runTool(["show", "--db", db, "--ladder", "--color", "always", conn])
        XCTAssertTrue(coloured.stdout.contains("\u{1B}[1;31m"))
    }

    /// A component trace dumps no bytes: its lines tell of the messages (`[[format.step]]`).
    func testLadderFromTraceLinesWithoutDumps() throws {
        let db = Fixtures.tempDir() + "/s.db"
        let ingest = try Fixtures.runTool(["ingest", "--db", db, "--quiet", Fixtures.sample("attls-revoked")])
        XCTAssertEqual(ingest.status, 0, ingest.stderr)
        let store = try Store.openForReading(db)
        let id = try XCTUnwrap(try store.db.scalar("""
            SELECT c.id FROM connections c JOIN sources s ON s.id = c.source
            WHERE s.path LIKE '%ctrace.txt' AND c.outcome = 'failed' ORDER BY c.start_time LIMIT 1
            """))
        let run = try Fixtures.runTool(["show", "--db", db, "--ladder", String(id)])
        XCTAssertEqual(run.status, 0, run.stderr)
        let lines = run.stdout.split(separator: "\n").map(String.init)
        for party in ["client", "AT-TLS", "System SSL"] { XCTAssertTrue(lines[0].contains(party), lines[0]) }
        XCTAssertTrue(lines.contains { $0.contains("ClientHello") && $0.contains("▶") }, run.stdout)
        XCTAssertTrue(lines.contains { $0.contains("Alert 44") && $0.contains("◀") }, run.stdout)
        for line in lines { XCTAssertLessThanOrEqual(line.count, 80, line) }
    }

    func testReportHasItsSectionsEscapesTracesAndCapsRecords() throws {
        // A hostile line in the client's transcript must reach the page as text.
        let folder = Fixtures.tempDir() + "/revoked"
        try FileManager.default.copyItem(atPath: Fixtures.sample("revoked-client-cert"), toPath: folder)
        let client = folder + "/client.txt"
        var text = try String(contentsOfFile: client, encoding: .utf8)
        text = text.replacingOccurrences(of: "A TLS fatal alert has been received.", with: "A TLS fatal alert <script>alert(1)</script> & \"x\" has been received.")
        try text.write(toFile: client, atomically: true, encoding: .utf8)
        let (db, conn) = try revokedStore(folder)
        let out = Fixtures.tempDir() + "/report.html"
        let run = try Fixtures.runTool(["report", "--db", db, "--records", "5", "-o", out])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("report.html"), run.stdout)
        let html = try String(contentsOfFile: out, encoding: .utf8)
        for id in ["index", "sources", "findings", "timeline", "connections", "conn-\(conn)"] { XCTAssertTrue(html.contains("id=\"\(id)\""), id) }
        XCTAssertTrue(html.contains("<svg class=\"ladder\""))
        XCTAssertTrue(html.contains("<svg class=\"timeline\""))
        XCTAssertTrue(html.contains("<details>"))
        XCTAssertTrue(html.contains("@media print"))
        XCTAssertTrue(html.contains("gskssl.65567.trc:"))
        XCTAssertFalse(html.contains("<script>alert(1)"))
        XCTAssertTrue(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;"))
        // Self-contained: nothing fetched.
        XCTAssertFalse(html.contains("http://") && html.range(of: "(src|href)=\"https?://", options: .regularExpression) != nil)
        XCTAssertFalse(html.contains("<link "))
        // Capped: 5 records per connection, and said.
        XCTAssertTrue(html.contains("first 5 of"), html)
        XCTAssertTrue(html.contains("more records not shown"))
    }

    /// The report in a real browser: its sections are there after load, no script failed, and a
    /// screenshot is made (`TRACELENS_UPDATE_SCREENSHOT=1`: written to docs/report.png).
    func testReportInHeadlessChromium() throws {
        let browser = ["chromium", "chromium-browser", "google-chrome"].lazy.compactMap(Self.onPath).first
        guard let browser else {
            return XCTFail("chromium is not installed: apt-get install chromium (the report is checked in a real browser)")
        }
        let db = Fixtures.tempDir() + "/s.db"
        let ingest = try Fixtures.runTool(["ingest", "--db", db, "--quiet", Fixtures.root + "/samples"])
        XCTAssertEqual(ingest.status, 0, ingest.stderr)
        let dir = Fixtures.tempDir()
        let out = dir + "/report.html"
        let run = try Fixtures.runTool(["report", "--db", db, "--all", "-o", out])
        XCTAssertEqual(run.status, 0, run.stderr)
        let common = ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + dir + "/profile"]
        let dom = try Self.run(browser, common + ["--dump-dom", "file://" + out])
        XCTAssertEqual(dom.status, 0, dom.stderr)
        XCTAssertTrue(dom.stdout.contains("data-loaded=\"yes\""), "the page's script did not run")
        XCTAssertFalse(dom.stdout.contains("class=\"script-error\""), dom.stdout)
        for id in ["index", "sources", "findings", "timeline", "connections"] { XCTAssertTrue(dom.stdout.contains("id=\"\(id)\""), id) }
        XCTAssertTrue(dom.stdout.contains("<svg class=\"ladder\""))
        let update = ProcessInfo.processInfo.environment["TRACELENS_UPDATE_SCREENSHOT"] == "1"
        let png = update ? Fixtures.root + "/docs/report.png" : dir + "/report.png"
        let shot = try Self.run(browser, common + ["--screenshot=" + png, "--window-size=1200,2000", "--hide-scrollbars", "file://" + out])
        XCTAssertEqual(shot.status, 0, shot.stderr)
        let bytes = try XCTUnwrap(FileManager.default.contents(atPath: png))
        XCTAssertGreaterThan(bytes.count, 10_000)
        XCTAssertEqual(Array(bytes.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
    }

    static func onPath(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let path = dir + "/" + name
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// Runs a program with a two-minute limit; output read from files (a browser writes a lot).
    static func run(_ program: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let dir = Fixtures.tempDir()
        _ = FileManager.default.createFile(atPath: dir + "/out", contents: nil)
        _ = FileManager.default.createFile(atPath: dir + "/err", contents: nil)
        let child = Process()
        child.executableURL = URL(fileURLWithPath: program)
        child.arguments = arguments
        child.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/out"))
        child.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/err"))
        try child.run()
        let deadline = Date().addingTimeInterval(120)
        while child.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        if child.isRunning { child.terminate(); child.waitUntilExit() }
        let out = (try? String(contentsOfFile: dir + "/out", encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: dir + "/err", encoding: .utf8)) ?? ""
        return (child.terminationStatus, out, err)
    }
}
