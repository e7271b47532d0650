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

/// A layout's `render` template says how its records print; product words come from plugin data.
final class RenderTemplateTests: XCTestCase {
    /// A user plugin folder holding `toml` (after its [plugin] table) and `files`.
    func plugin(_ toml: String, files: [String: String] = [:]) throws -> (PluginSet, [PluginProblem]) {
        let dir = Fixtures.tempDir() + "/mine"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try ("[plugin]\nname = \"mine\"\ndescription = \"test\"\n\n" + toml).write(toFile: dir + "/plugin.toml", atomically: true, encoding: .utf8)
        for (name, text) in files { try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8) }
        return PluginLoader.loadAll(userDirectories: [dir])
    }

    /// What `format` prints for `text` read with the layout `layout` of `plugins`.
    func formatted(_ text: String, layout: String, plugins: PluginSet) throws -> String {
        let path = Fixtures.write(text, named: "t.log")
        let outPath = Fixtures.tempDir() + "/out.txt"
        let fd = open(outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var options = FormatOptions()
        options.forcedFormat = layout
        let output = Output(fd: fd)
        let status = FormatRun(plugins: plugins, options: options, output: output).run([path])
        output.flush()
        close(fd)
        XCTAssertEqual(status, 0)
        return String(decoding: FileManager.default.contents(atPath: outPath) ?? Data(), as: UTF8.self)
    }

    /// `more`: further keys of the layout.
    static func pipesLayout(render: String?, more: String = "") -> String {
        """
        [[format]]
        name = "pipes"
        title = "a test layout"
        record = ['{time:time(YYYY-MM-DD hh:mm:ss)}|{?{thread:int}}|{level}|{component}|{message:rest}']
        \(render.map { "render = '\($0)'" } ?? "")
        \(more)

        [[sample]]
        format = "pipes"
        text = '2024-01-02 03:04:05|7|ERROR|net|socket closed'
        [sample.expect]
        records = 1
        """
    }

    static let pipes = """
        2024-01-02 03:04:05|7|ERROR|net|socket closed
        2024-01-02 03:04:06||INFO|disk|all well
        """

    func testACustomRenderChangesWhatFormatPrints() throws {
        let (custom, problems) = try plugin(Self.pipesLayout(render: #"\{{component}\} {level}{? on {thread}}: {message}"#))
        XCTAssertEqual(problems, [])
        XCTAssertEqual(try formatted(Self.pipes, layout: "pipes", plugins: custom), """
            {net} ERROR on 7: socket closed
            {disk} INFO: all well

            """)
        // Without `render`: the generic look, which names no product.
        let (plain, _) = try plugin(Self.pipesLayout(render: nil))
        XCTAssertEqual(try formatted(Self.pipes, layout: "pipes", plugins: plain), """
            01/02/2024-03:04:05 7 ERROR socket closed
            01/02/2024-03:04:06 INFO all well

            """)
    }

    func testJobLogAndSyslogRecordsPrintInTheirOwnShape() {
        let (syslog, _) = Fixtures.format([Fixtures.sample("attls-revoked/syslogd.log")])
        XCTAssertTrue(syslog.hasPrefix("11/14/2026-23:59:50 S0W1 sshd[50397301]: Accepted publickey for COLIN from 10.1.0.5 port 50122\n"), syslog)
        XCTAssertTrue(syslog.contains(" S0W1 TCPIP[67174433]: EZD1286I TTLS Error "), syslog)
        XCTAssertTrue(syslog.contains("RC:  431 [SSL 431: Certificate is revoked.] Initial Handshake"), syslog)
        let (joblog, _) = Fixtures.format([Fixtures.sample("attls-revoked/gldsrv.joblog")])
        XCTAssertTrue(joblog.hasPrefix("11/14/2021-21:02:10 STC04588 IEF695I [information] START GLDSRV "), joblog)
        XCTAssertFalse(joblog.contains(" INFO "), "a job log names no level: its message ids do")
        // The gsktrace look is the gsktrace layout's own template.
        let (trace, _) = Fixtures.format([Fixtures.sample("revoked-client-cert/gskssl.65567.trc")])
        XCTAssertTrue(trace.contains("03/24/2022-10:07:19 Thd-3 ERROR check_revoked(): "), trace)
    }

    /// The gsktrace layout's template gives what the built-in look gave, copies that lost parts included.
    func testGsktraceTemplateKeepsTheLookOfEveryKindOfLine() {
        let path = Fixtures.write("""
            05/21/2021-13:45:12 Thd-3 ERROR f(): Error 0x03353041
            02/30/2022-10:00:00 Thd-3 ERROR g():
            --->  Thd-4 EXIT h(): y
            INFO i(): z

            """, named: "gskssl.1.trc")
        XCTAssertEqual(Fixtures.format([path]).0, """
            05/21/2021-13:45:12 Thd-3 ERROR f(): Error 0x03353041 [CMS 03353041: Certificate is revoked.]
            [bad time 02/30/2022-10:00:00] Thd-3 ERROR g():
            Thd-4 EXIT h(): y
            INFO i(): z

            """)
    }

    func testABadTemplateIsAPluginProblemNamingFileAndEntry() throws {
        let cases: [(String, String)] = [
            ("{component} {nosuch}", "no field 'nosuch'"),
            ("{?Thd-{thread} {message}", "'{?' is never closed"),
            ("{level}} {message}", "'}' closes nothing"),
            ("{level} {message", "'{' is never closed"),
            ("{?[x]} {message}", "an optional part must name a field"),
        ]
        for (render, expected) in cases {
            let (_, problems) = try plugin(Self.pipesLayout(render: render))
            let problem = try XCTUnwrap(problems.first { $0.message.contains(expected) }, "\(render): \(problems)")
            XCTAssertTrue(problem.file.hasSuffix("plugin.toml"), problem.description)
            XCTAssertEqual(problem.entry, "[[format]] pipes", problem.description)
        }
        let asWritten = try plugin(Self.pipesLayout(render: "{message}", more: "print = \"as-written\"")).1
        XCTAssertTrue(asWritten.contains { $0.message.contains("exclude each other") }, "\(asWritten)")
    }

    func testTheBinaryHintComesFromPluginData() throws {
        let binary = [UInt8]([0x00, 0x01, 0x02, 0xFF, 0x00, 0x10]) + [UInt8](repeating: 0, count: 100)
        // The reader itself only says the file is not text.
        let gsk = Fixtures.write(binary, named: "gskssl.123.trc")
        XCTAssertThrowsError(try TextReader(path: gsk)) { error in
            XCTAssertEqual("\(error)", "\(gsk): not a text trace (\(TextReader.notTextReason))")
        }
        // The built-in gsktrace layout knows such a file and says how to make it text.
        XCTAssertThrowsError(try Fixtures.records(gsk)) { error in
            XCTAssertTrue("\(error)".contains("format it on z/OS with `gsktrace gskssl.123.trc > gskssl.123.trc.txt`"), "\(error)")
        }
        // A plugin's own layout gives its own words, for its own file names.
        let (set, problems) = try plugin(Self.pipesLayout(render: nil, more: """
            binary-file-names = ['{:text}.pipes']
            binary-hint = 'run pipes2text {file} first'
            """))
        XCTAssertEqual(problems, [])
        let mine = Fixtures.write(binary, named: "x.pipes")
        XCTAssertThrowsError(try RecordStream(plugins: set).read(mine, source: 0) { _ in }) { error in
            XCTAssertEqual("\(error)", "\(mine): not a text trace (run pipes2text x.pipes first)")
        }
        let other = Fixtures.write(binary, named: "x.bin")
        XCTAssertThrowsError(try RecordStream(plugins: set).read(other, source: 0) { _ in }) { error in
            XCTAssertTrue("\(error)".hasSuffix("(\(TextReader.notTextReason))"), "\(error)")
        }
    }

    func testADecodeOnAnyConnectionFieldDecodesItInConnections() throws {
        let (set, problems) = try plugin("""
            [[format]]
            name = "proto"
            title = "a test layout"
            record = ['{time:time(YYYY-MM-DD hh:mm:ss)} [{thread:int}] {level:word} {function:ident}: {message:rest}']

            [[catalogue]]
            id = "protos"
            title = "Protocol numbers"
            file = "protos.tsv"
            radix = "hex"
            label = "protocol {name}"
            failure = "none"

            [[sample]]
            format = "proto"
            text = '2024-01-02 03:04:05 [7] ENTRY open: start'
            [sample.expect]
            records = 1

            [[connection]]
            name = "proto-session"
            formats = ["proto"]
            lane = ["thread"]
            start = ["ENTRY open"]
            end = ["EXIT close"]
            decode = { protocol = "protos" }

            [[connection.capture]]
            on = "INFO hello"
            message = 'version {protocol:word}'

            [[sample]]
            format = "proto"
            text = '''
            2024-01-02 03:04:05 [7] ENTRY open: start
            2024-01-02 03:04:07 [7] EXIT close: done
            '''
            [sample.expect]
            connections = [{ outcome = "ok", records = 2 }]
            """, files: ["protos.tsv": "code\tname\ttext\n7E57\tPROTO_SEVEN\tthe test protocol\n"])
        XCTAssertEqual(problems, [])
        let path = Fixtures.write("""
            2024-01-02 03:04:05 [7] ENTRY open: start
            2024-01-02 03:04:06 [7] INFO hello: version 7E57
            2024-01-02 03:04:07 [7] EXIT close: done

            """, named: "p.log")
        let db = Fixtures.tempDir() + "/t.db"
        let run = try IngestRun(plugins: set, store: try Store.openForWriting(db), options: IngestOptions())
        XCTAssertEqual(try run.ingest(path).connections, 1)
        let table = try StoreQueries(store: try Store.openForReading(db), plugins: set).connections(ConnectionFilter())
        let row = Dictionary(uniqueKeysWithValues: zip(table.columns, try XCTUnwrap(table.rows.first)))
        let shown = TableWriter.display(try XCTUnwrap(row["protocol"]))
        XCTAssertTrue(shown.hasSuffix(" PROTO_SEVEN") && shown.uppercased().contains("7E57"), shown)
    }
}
