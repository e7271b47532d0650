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

/// A message id of a `kind = "message"` catalogue followed by its own text gets a short label
/// (the row's severity, or none), never its template again; a bare id keeps the whole label.
final class MessageTextLabelTests: XCTestCase {
    func format(_ text: String, named name: String) throws -> [String] {
        let run = try Fixtures.runTool(["format", "--color", "never", Fixtures.write(text, named: name)])
        XCTAssertEqual(run.status, 0, run.stderr)
        return run.stdout.split(separator: "\n").map(String.init)
    }

    func testAJobLogMessageGetsItsSeverityAndItsCodesStillDecoded() throws {
        let lines = try format("""
            ---- THURSDAY,  24 MAR 2022 ----
            10.07.19 STC04588  GLD1116E Unable to initialize an SSL connection with 10.1.0.2: 431

            """, named: "gldsrv.joblog")
        XCTAssertEqual(lines.last, "03/24/2022-10:07:19 STC04588 GLD1116E [error] Unable to initialize an SSL connection with 10.1.0.2: 431 [SSL 431: Certificate is revoked.]")
    }

    func testOtherWordingOfTheSameMessageCountsAsItsText() throws {
        // The seed's wording: no 'with <client IP>:', the opening words are the same.
        let lines = try format("16.41.05 STC04588  GLD1116E Unable to initialize an SSL connection 8 – Certificate validation error.\n", named: "gldsrv.joblog")
        XCTAssertTrue(lines.last?.hasSuffix("STC04588 GLD1116E [error] Unable to initialize an SSL connection 8  [SSL 8: Certificate validation error.]– Certificate validation error.") ?? false, "\(lines)")
    }

    func testABareIdKeepsTheWholeMeaning() throws {
        let lines = try format("The server wrote GLD1116E when the client came, then GLD1116E.\nGLD1116E\n", named: "notes.txt")
        let full = "GLD1116E [GLD1116E: Unable to initialize an SSL connection with <client IP>: <System SSL return code> - <System SSL text>]"
        XCTAssertEqual(lines, ["The server wrote \(full) when the client came, then \(full).", full])
        let explain = try Fixtures.runTool(["explain", "GLD1116E"])
        XCTAssertEqual(explain.status, 0)
        XCTAssertTrue(explain.stdout.contains("Unable to initialize an SSL connection with <client IP>"), explain.stdout)
    }

    func testASyslogEZDLineGetsNoLabelForItsId() throws {
        let lines = try format("Nov 14 23:59:58 S0W1 TCPIP[67174433]: EZD1287I TTLS Error RC:  431 Initial Handshake LOCAL: 10.1.1.2..1389 REMOTE: 10.1.0.2..42514 JOBNAME: GLDSRV RULE: LDAPRULE USERID: GLDSRV GRPID: 00000001 ENVID: 00000002 CONNID: 0000006E\n",
                               named: "syslogd.log")
        let line = try XCTUnwrap(lines.last)
        XCTAssertTrue(line.contains("TCPIP[67174433]: EZD1287I TTLS Error RC:  431 [SSL 431: Certificate is revoked.] Initial Handshake"), line)
        // Its catalogue has no severity column: no label at all, and nowhere its template.
        XCTAssertFalse(line.contains("<return code>") || line.contains("AT-TLS Error"), line)
    }

    func testTheOpeningIsMatchedWithPlaceholdersAndBlanks() throws {
        let gld = try XCTUnwrap(Fixtures.plugins.catalogue("gld"))
        let opening = try XCTUnwrap(gld.messageOpening(.text("GLD1059I")))
        func follows(_ s: String) -> Bool { Array(s.utf8).withUnsafeBufferPointer { Catalogue.messageFollows(opening, $0) } }
        XCTAssertTrue(follows(" Listening for requests on 10.1.1.2 port 1389."))
        XCTAssertTrue(follows("   LISTENING  FOR REQUESTS"))
        XCTAssertFalse(follows(" is written for each listener"))
        XCTAssertFalse(follows("Listening for requests"), "no blank after the id: glued to it")
        XCTAssertFalse(follows(" Listening\nfor requests"), "the text must be on the id's line")
        // A text that starts with a placeholder (IEF403I: <job> - STARTED - TIME=<hh.mm.ss>) is compared whole.
        let racf = try XCTUnwrap(Fixtures.plugins.catalogue("racf"))
        let started = try XCTUnwrap(racf.messageOpening(.text("IEF403I")))
        XCTAssertTrue(Array(" GLDSRV - STARTED - TIME=08.24.06".utf8).withUnsafeBufferPointer { Catalogue.messageFollows(started, $0) })
        XCTAssertFalse(Array(" was seen at start-up".utf8).withUnsafeBufferPointer { Catalogue.messageFollows(started, $0) })
        // A catalogue of codes has no message openings: its labels never change.
        XCTAssertNil(try XCTUnwrap(Fixtures.plugins.catalogue("ssl")).messageOpening(.number(431)))
    }

    func testSummaryAndShowSayTheMessageShortly() throws {
        let dir = Fixtures.sample("revoked-client-cert")
        let db = Fixtures.tempDir() + "/s.db"
        let run = try IngestRun(plugins: Fixtures.plugins, store: try Store.openForWriting(db), options: IngestOptions())
        XCTAssertEqual(run.run([dir + "/gldsrv.joblog", dir + "/gskssl.65567.trc"]), 0)
        let q = StoreQueries(store: try Store.openForReading(db), plugins: Fixtures.plugins)
        let codes = try XCTUnwrap(try q.summary().first { $0.table.title.hasPrefix("Codes seen") }?.table)
        let row = try XCTUnwrap(codes.rows.first { $0.first == .text("gld:GLD1116E") })
        XCTAssertEqual(row[1], .text("GLD1116E: Unable to initialize an SSL connection with …"))
        // show: the job log's line of a linked connection, as format prints it.
        var shown = ""
        for r in try q.connections(ConnectionFilter()).rows {
            guard case let .int(id) = r[0] else { continue }
            let path = Fixtures.tempDir() + "/show.txt"
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            let output = Output(fd: fd)
            try ConnectionStory(queries: q).show(id, style: .text, colour: false, output: output)
            output.flush()
            close(fd)
            shown += String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
        }
        XCTAssertTrue(shown.contains("GLD1116E [error] Unable to initialize an SSL connection with 10.1.0.2: 431 [SSL 431: Certificate is revoked.]"), shown)
        XCTAssertFalse(shown.contains("<client IP>"), shown)
    }

    /// The rule is plugin data: a folder declaring its own message catalogue gets it too.
    func testAPluginFolderDeclaresItsOwnMessageCatalogue() throws {
        let dir = Fixtures.tempDir() + "/payroll"
        try FileManager.default.createDirectory(atPath: dir + "/catalogues", withIntermediateDirectories: true)
        try """
            [plugin]
            name = "payroll"
            description = "test"

            [[catalogue]]
            id = "pay"
            radix = "text"
            kind = "message"
            label = "{code}: {text}"
            file = "catalogues/pay.tsv"
            accept = ['{code:word}']

            [[code]]
            find = 'PAY{:int}{:one(I|E)}'
            catalogue = "pay"

            [[sample]]
            explain = "PAY0042E"
            readings = ["pay:PAY0042E"]
            """.write(toFile: dir + "/plugin.toml", atomically: true, encoding: .utf8)
        try "code\ttext\tseverity\nPAY0042E\tBank session to <host> failed.\terror\nPAY0001I\tPayroll run <run> started.\t\n"
            .write(toFile: dir + "/catalogues/pay.tsv", atomically: true, encoding: .utf8)
        let (set, problems) = CheckedPlugins.loadAll(userDirectories: [dir])
        XCTAssertEqual(problems, [])
        XCTAssertEqual(set.catalogue("pay")?.kind, .message)
        let path = Fixtures.write("PAY0042E Bank session to bank.example failed.\nPAY0001I Payroll run 7 started.\nsee PAY0042E\n", named: "pay.log")
        let run = try Fixtures.runTool(["format", "--color", "never", "--plugins", dir, path])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.stdout, """
            PAY0042E [error] Bank session to bank.example failed.
            PAY0001I Payroll run 7 started.
            see PAY0042E [PAY0042E: Bank session to <host> failed.]

            """)
    }

    func testABadKindIsAPluginProblem() throws {
        let problems = try Fixtures.loadProblems(withPlugin: """
            [[catalogue]]
            id = "pay"
            radix = "text"
            kind = "messages"

            [[catalogue]]
            id = "pay2"
            radix = "decimal"
            kind = "message"
            """)
        XCTAssertTrue(problems.contains("[[catalogue]] pay: kind 'messages' is not one of code, message"), problems)
        XCTAssertTrue(problems.contains("[[catalogue]] pay2: 'kind = \"message\"' needs radix = \"text\""), problems)
    }
}
