import Foundation
import XCTest
@testable import TraceLensInput
@testable import TraceLensStore
@testable import TraceLensRender
@testable import TraceLensQuery

/// Tables that fit the terminal: columns kept by importance, long texts cut with `…`, what was
/// left out named; `--wide`, pipes and files get every column; `--columns` picks and orders.
final class TableFitTests: XCTestCase {
    /// Every sample in one store, as the demo makes it.
    static let samplesStore: String = {
        let db = TemporaryFolders.shared.keptForTheRun { Fixtures.tempDir() } + "/samples.db"
        let run = try? Fixtures.runTool(["ingest", "--quiet", "--db", db, Fixtures.sample("")])
        XCTAssertEqual(run?.status, 0, run?.stderr ?? "")
        return db
    }()

    func tool(_ arguments: [String], columns: Int? = nil) throws -> Fixtures.ToolRun {
        let run = try Fixtures.runTool(arguments + ["--db", Self.samplesStore], environment: columns.map { ["COLUMNS": String($0)] } ?? [:])
        XCTAssertFalse(run.crashed)
        return run
    }

    /// Lines longer than `width` characters (not bytes).
    func tooLong(_ text: String, _ width: Int) -> [String] {
        text.split(separator: "\n").map(String.init).filter { $0.count > width }
    }

    /// The header line of a table: the one above the dashes.
    func header(_ text: String, after title: String? = nil) -> [String] {
        var lines = text.split(separator: "\n").map(String.init)
        if let title, let start = lines.firstIndex(of: title) { lines = Array(lines[(start + 1)...]) }
        guard let dashes = lines.firstIndex(where: { $0.hasPrefix("--") }), dashes > 0 else { return [] }
        return lines[dashes - 1].components(separatedBy: "  ").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func testConnectionsFitEightyColumnsAndKeepWhatMatters() throws {
        let run = try tool(["connections"], columns: 80)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(tooLong(run.stdout, 80), [])
        let shown = header(run.stdout)
        for name in ["conn", "outcome", "peer", "error"] { XCTAssertTrue(shown.contains(name), "\(name) kept: \(shown)") }
        XCTAssertTrue(run.stdout.contains("…"), "the long errors are cut: \(run.stdout)")
        // The note names every column left out, and none that is shown.
        let note = run.stdout.components(separatedBy: "(left out: ").last ?? ""
        XCTAssertTrue(note.contains("--wide shows all"), run.stdout)
        for name in ["cipher", "subject", "issuer"] {
            XCTAssertFalse(shown.contains(name))
            XCTAssertTrue(note.contains(name), "\(name) named as left out: \(note)")
        }
        for name in shown { XCTAssertFalse(note.components(separatedBy: CharacterSet(charactersIn: " ,\n")).contains(name), "\(name) is shown") }
    }

    func testWideAndPipesGiveEveryColumnInFull() throws {
        let piped = try tool(["connections"])
        XCTAssertEqual(piped.status, 0, piped.stderr)
        XCTAssertFalse(piped.stdout.contains("(left out"))
        XCTAssertFalse(piped.stdout.contains("…"))
        for name in ["cipher", "subject", "issuer", "linked"] { XCTAssertTrue(header(piped.stdout).contains(name), name) }
        XCTAssertGreaterThan(tooLong(piped.stdout, 200).count, 0, "the full table is as wide as it is")
        // --wide on an 80-column terminal: the same bytes as a pipe, the table as it always was.
        let wide = try tool(["connections", "--wide"], columns: 80)
        XCTAssertEqual(wide.stdout, piped.stdout)
        let summary = try tool(["summary"]), wideSummary = try tool(["summary", "--wide"], columns: 80)
        XCTAssertEqual(wideSummary.stdout, summary.stdout)
        // And the same as the writer gives with no width.
        let queries = try Fixtures.queries(Self.samplesStore)
        XCTAssertEqual(summary.stdout, TableWriter.render(try queries.summary(), style: .text))
        // JSON and CSV do not care about the terminal.
        for style in ["--json", "--csv"] {
            XCTAssertEqual(try tool(["connections", style], columns: 40).stdout, try tool(["connections", style]).stdout, style)
        }
    }

    func testColumnsPickAndOrderForEveryStyle() throws {
        let text = try tool(["connections", "--columns", "error,conn, peer"], columns: 80)
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertEqual(header(text.stdout), ["error", "conn", "peer"])
        let json = try tool(["connections", "--failed", "--columns", "error,conn,peer", "--json"])
        let rows = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        XCTAssertFalse(rows.isEmpty)
        for row in rows { XCTAssertEqual(Set(row.keys), ["error", "conn", "peer"]) }
        XCTAssertTrue(json.stdout.hasPrefix("[{\"error\":"), "keys in the order named: \(json.stdout.prefix(80))")
        let csv = try tool(["connections", "--columns", "error,conn,peer", "--csv"])
        XCTAssertTrue(csv.stdout.hasPrefix("error,conn,peer\r\n"), csv.stdout)
        // Columns empty in every row are kept when named.
        let named = try tool(["connections", "--columns", "conn,process"])
        XCTAssertEqual(header(named.stdout), ["conn", "process"])
        // summary: each table keeps the named columns it has; the others are left out.
        let summary = try tool(["summary", "--columns", "peer,error"])
        XCTAssertEqual(summary.status, 0, summary.stderr)
        XCTAssertEqual(header(summary.stdout, after: "Failed connections"), ["peer", "error"])
        XCTAssertFalse(summary.stdout.contains("Sources"), summary.stdout)
    }

    func testAnUnknownColumnIsAUsageErrorNamingTheColumns() throws {
        let run = try tool(["connections", "--columns", "conn,colour"])
        XCTAssertEqual(run.status, 64, run.stderr)
        XCTAssertEqual(run.stdout, "")
        XCTAssertTrue(run.stderr.contains("no column named 'colour'"), run.stderr)
        XCTAssertTrue(run.stderr.contains(StoreQueries.connectionColumns.joined(separator: ", ")), run.stderr)
        let empty = try tool(["sql", "SELECT 1 AS one", "--columns", ","])
        XCTAssertEqual(empty.status, 64, empty.stderr)
        XCTAssertTrue(empty.stderr.contains("--columns"), empty.stderr)
    }

    func testSummaryAndStatusFitToo() throws {
        let summary = try tool(["summary"], columns: 80)
        XCTAssertEqual(summary.status, 0, summary.stderr)
        XCTAssertEqual(tooLong(summary.stdout, 80), [])
        for title in ["Sources", "Codes seen (most frequent first)", "Failed connections", "Peers with the most failures"] {
            XCTAssertTrue(summary.stdout.contains(title + "\n"), title)
        }
        for name in ["conn", "peer", "error"] { XCTAssertTrue(header(summary.stdout, after: "Failed connections").contains(name), name) }

        // A follower's rows, as `watch` writes them, with a long last error.
        let db = Fixtures.tempDir() + "/status.db"
        let store = try Store.openForWriting(db)
        try store.saveFollows([
            FollowRow(path: Fixtures.sample("revoked-client-cert/gskssl.65567.trc"), source: 1, device: 1, inode: 2, size: 25193,
                      offset: 25193, state: "following", records: 216, rate: 12.5, pid: Int64(getpid())),
            FollowRow(path: Fixtures.sample("busy/gskssl.33554467.trc"), source: 2, device: 1, inode: 3, size: 90_000, offset: 41_000,
                      state: "error", records: 1076, rate: 0,
                      lastError: "cannot read: Permission denied (the follower runs as another user than the trace's owner)", pid: 1),
        ])
        let wide = try Fixtures.runTool(["status", "--db", db])
        XCTAssertGreaterThan(tooLong(wide.stdout, 80).count, 0, "too wide for 80 columns: \(wide.stdout)")
        let status = try Fixtures.runTool(["status", "--db", db], environment: ["COLUMNS": "80"])
        XCTAssertEqual(status.status, 0, status.stderr)
        XCTAssertEqual(tooLong(status.stdout, 80), [], status.stdout)
        XCTAssertEqual(Array(header(status.stdout).prefix(2)), ["path", "state"])
        XCTAssertTrue(header(status.stdout).contains("last error"), status.stdout)
        XCTAssertTrue(status.stdout.contains("(left out: "), status.stdout)
        // A path is cut at its start: the file name stays.
        XCTAssertTrue(status.stdout.contains("…"), status.stdout)
        for name in ["/gskssl.65567.trc", "/gskssl.33554467.trc"] { XCTAssertTrue(status.stdout.contains(name), status.stdout) }
    }

    /// Cuts fall between characters, whatever their bytes: `ü` (2 bytes), `€` (3), a flag (two
    /// scalars, one character) and `é` written as `e` and a combining accent.
    func testNonASCIITextIsCutOnCharacterBoundaries() throws {
        let subject = "CN=Jürgen Müller,O=Bücher € 🇩🇪 Gmbh,OU=Prüfe\u{0301}n,C=DE"
        let table = ResultTable(columns: ["conn", "subject", "outcome"], rows: [[.int(7), .text(subject), .text("failed")]],
                                importance: ["conn", "outcome", "subject"])
        for width in 24...63 {
            let out = TableWriter.render([("t", table)], style: .text, width: width)
            XCTAssertEqual(tooLong(out, width), [], "width \(width): \(out)")
            let cell = try XCTUnwrap(out.split(separator: "\n").last?.split(separator: " ", maxSplits: 1).last)
            let shown = cell.trimmingCharacters(in: .whitespaces).components(separatedBy: "  ").first ?? ""
            XCTAssertTrue(shown.hasSuffix("…"), "width \(width): \(out)")
            XCTAssertTrue(subject.hasPrefix(String(shown.dropLast())), "a prefix of whole characters at width \(width): \(shown)")
            XCTAssertTrue(out.contains("failed"), "outcome kept before the subject's end")
        }
        XCTAssertEqual(TableWriter.truncated("Prüfe\u{0301}nung", to: 6), "Prüfe\u{0301}…")
        XCTAssertEqual(TableWriter.truncated("🇩🇪🇩🇪🇩🇪", to: 2), "🇩🇪…")
        XCTAssertEqual(TableWriter.truncated("short", to: 5), "short")
        XCTAssertEqual(TableWriter.truncated("/u/trace/gskssl.65567.trc", to: 17, keepingEnd: true), "…gskssl.65567.trc")
    }

    /// The choice of columns on its own: rank order until one does not fit, a long text counted
    /// as a third of the width, the most important kept however narrow the terminal.
    func testFitKeepsColumnsByImportance() {
        // conn 4, start 19, error 90 (text), file 20 (text); error matters most after conn.
        let natural = [4, 19, 90, 20], headers = [4, 5, 5, 4], truncatable = [false, false, true, true], rank = [0, 2, 1, 3]
        let plan = TableWriter.fit(widths: natural, headers: headers, truncatable: truncatable, rank: rank, width: 80)
        XCTAssertEqual(plan.kept, [0, 1, 2, 3])
        XCTAssertEqual(plan.widths, [4, 19, 80 - 4 - 19 - 20 - 6, 20], "the longest text is cut, the others kept whole")
        let forty = TableWriter.fit(widths: natural, headers: headers, truncatable: truncatable, rank: rank, width: 40)
        XCTAssertEqual(forty.kept, [0, 1, 2])
        XCTAssertEqual(forty.widths[2], 40 - 4 - 19 - 4)
        // A less important column that would fit is not shown in place of a more important one.
        let blocked = TableWriter.fit(widths: [4, 30, 3], headers: [4, 4, 3], truncatable: [false, false, false], rank: [0, 1, 2], width: 20)
        XCTAssertEqual(blocked.kept, [0])
        let narrow = TableWriter.fit(widths: natural, headers: headers, truncatable: [true, false, true, true], rank: [2, 1, 0, 3], width: 3)
        XCTAssertEqual(narrow.kept, [2], "the first in importance stays")
        XCTAssertEqual(narrow.widths[2], 5, "no narrower than its header")
    }

    func testTerminalWidthRule() {
        XCTAssertEqual(Output.tableWidth(fd: -1, environment: ["COLUMNS": "100"]), 100)
        XCTAssertNil(Output.tableWidth(fd: -1, environment: ["COLUMNS": "wide"]))
        XCTAssertNil(Output.tableWidth(fd: -1, environment: [:]), "not a terminal: no limit")
        XCTAssertNil(Platform.terminalColumns(-1))
    }

    /// A terminal's own width, asked of it: a pseudo-terminal set to 72 columns.
    func testATerminalSaysItsWidth() throws {
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        guard master >= 0 else { throw XCTSkip("no pseudo-terminal here") }
        defer { close(master) }
        // unlockpt and ptsname, which Swift does not import: TIOCSPTLCK and TIOCGPTN (asm-generic values).
        var unlock: Int32 = 0, number: UInt32 = 0
        guard ioctl(master, 0x4004_5431, &unlock) == 0, ioctl(master, 0x8004_5430, &number) == 0 else { throw XCTSkip("no pseudo-terminal here") }
        let terminal = open("/dev/pts/\(number)", O_RDWR | O_NOCTTY)
        guard terminal >= 0 else { throw XCTSkip("no pseudo-terminal here") }
        defer { close(terminal) }
        var size = winsize()
        size.ws_col = 72
        size.ws_row = 24
        XCTAssertEqual(ioctl(terminal, UInt(TIOCSWINSZ), &size), 0)
        XCTAssertEqual(Platform.terminalColumns(terminal), 72)
        XCTAssertEqual(Output.tableWidth(fd: terminal, environment: [:]), 72)
        XCTAssertEqual(Output.tableWidth(fd: terminal, environment: ["COLUMNS": "120"]), 120, "COLUMNS says otherwise")
    }
}
