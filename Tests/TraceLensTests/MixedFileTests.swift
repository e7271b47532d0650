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

/// A pasted session: syslogd lines with AT-TLS messages, then an ldapsearch run, then a gsktrace
/// fragment. Each line is read by the layout it belongs to, and no record takes another
/// product's lines or fields.
final class MixedFileTests: XCTestCase {
    static let session = """
    Apr  3 14:21:07 ZOSB TCPIP[50462771]: EZD1281I TTLS Map CONNID: 000002C4 LOCAL: 10.40.2.8..636 REMOTE: 10.40.7.31..49811 JOBNAME: DIRSRV USERID: DIRSRV TYPE: InBound STATUS: Enabled RULE: DIRRULE ACTIONS: G1 E1 **N/A**
    Apr  3 14:21:07 ZOSB TCPIP[50462771]: EZD1287I TTLS Error RC: 5006 Initial Handshake LOCAL: 10.40.2.8..636 REMOTE: 10.40.7.31..49811 JOBNAME: DIRSRV RULE: DIRRULE USERID: DIRSRV GRPID: 00000004 ENVID: 00000002 CONNID: 000002C4
    Apr  3 14:21:09 ZOSB TCPIP[50462771]: EZD1281I TTLS Map CONNID: 000002C9 LOCAL: 10.40.2.8..636 REMOTE: 10.40.7.31..49815 JOBNAME: DIRSRV USERID: DIRSRV TYPE: InBound STATUS: Enabled RULE: DIRRULE ACTIONS: G1 E1 **N/A**

    $ ldapsearch -H ldaps://10.40.2.8:636 -x -D "cn=probe" -W -b "ou=staff,o=Acme" "(uid=rkaur)"
    ldap_sasl_bind_s: Can't contact LDAP server (-1)
    \tadditional info: error:0A000086:SSL routines::certificate verify failed (self-signed certificate in certificate chain)
    $ ldapsearch -H ldaps://10.40.2.8:636 -x -b "ou=staff,o=Acme" "(uid=rkaur)" cn
    ldap_sasl_bind_s: Can't contact LDAP server (-1)

    04/03/2023-14:21:09.402 Thd-12 ENTRY gsk_secure_socket_init(): --->
    04/03/2023-14:21:09.405 Thd-12 INFO read_v3_client_hello(): Client hello received
    04/03/2023-14:21:09.411 Thd-12 ERROR check_peer_chain(): Peer certificate issuer not trusted
     chain stopped at CN=Acme Issuing CA 2
    04/03/2023-14:21:09.412 Thd-12 EXIT gsk_secure_socket_init(): <--- Exit status 0x000001a0 (416)

    """

    func testEachLineIsReadByItsOwnLayout() throws {
        let path = Fixtures.write(Self.session, named: "session.txt")
        let (records, summary) = try Fixtures.records(path)
        XCTAssertEqual(summary.detection.layouts.sorted(), ["attls-syslog", "client-transcript", "gsktrace"], summary.detection.description)
        XCTAssertEqual(summary.counts.unparsed, 0, "every line is explained: \(summary.unexplainedLines)")
        let byLine = Dictionary(uniqueKeysWithValues: records.map { ($0.line, $0) })
        for line in 1...3 {
            let r = try XCTUnwrap(byLine[line])
            XCTAssertEqual(r.layout?.name, "attls-syslog", "line \(line)")
            XCTAssertEqual(r.lineCount, 1)
            XCTAssertEqual(r.field(.job), "TCPIP")
            XCTAssertNil(r.field(.thread), "a syslog record has no gsktrace thread")
        }
        // The client's output lines (the tab-indented one too) stay with its command.
        let bind = try XCTUnwrap(byLine[6])
        XCTAssertEqual(bind.layout?.name, "client-transcript")
        XCTAssertEqual(bind.field(.function), "ldap_sasl_bind_s")
        XCTAssertEqual(bind.lineCount, 2)
        XCTAssertEqual(byLine[8]?.layout?.name, "client-transcript")
        XCTAssertEqual(byLine[9]?.layout?.name, "client-transcript")
        XCTAssertEqual(byLine[9]?.lineCount, 1, "the gsktrace lines after the blank line are not the client's output")
        for line in [11, 12, 13, 15] {
            let r = try XCTUnwrap(byLine[line])
            XCTAssertEqual(r.layout?.name, "gsktrace", "line \(line)")
            XCTAssertEqual(r.field(.thread), "12")
            XCTAssertNil(r.field(.job), "a gsktrace record has no syslog job")
        }
        XCTAssertEqual(byLine[13]?.lineCount, 2, "the indented line continues the gsktrace record")
        XCTAssertEqual(byLine[15].map(Fixtures.codes), ["ssl:416"])
        // In file order, and no line read twice.
        XCTAssertEqual(records.map(\.line), records.map(\.line).sorted())
        XCTAssertEqual(records.reduce(0) { $0 + $1.lineCount }, 13)
    }

    /// A trace whose first 300 lines are gsktrace, then a SYSLOG excerpt pasted after them: the
    /// detection sample never sees it, the SYSLOG lines are still read as SYSLOG records.
    func lateText() -> String {
        var text = ""
        for i in 0..<300 { text += "04/03/2026-10:\(String(format: "%02d", i / 60)):\(String(format: "%02d", i % 60)).100 Thd-3 INFO read_v3_client_hello(): hello \(i)\n" }
        text += """
            M 0000000 SYSD     26093 10:05:00.10 STC00640 00000090  EZD1287I TTLS Error RC:  414 Initial Handshake
            D                                         611 00000090    REMOTE: 10.61.4.20..50212
            E                                         611 00000090    USERID: DIRSRV GRPID: 00000004 ENVID: 00000002 CONNID: 000003D1
            N 0000000 SYSD     26093 10:05:01.00 STC00641 00000090  GLD1004I LDAP server is ready for requests.
            04/03/2026-10:05:02.000 Thd-3 EXIT gsk_secure_socket_init(): <--- Exit status 0x0000019e (414)

            """
        return text
    }

    func testALayoutThatFirstAppearsAfterTheSampleStillReadsItsLines() throws {
        let path = Fixtures.write(lateText(), named: "late.trc")
        let (records, summary) = try Fixtures.records(path)
        XCTAssertEqual(summary.counts.unparsed, 0, "\(summary.unexplainedLines)")
        XCTAssertEqual(summary.detection.layouts, ["gsktrace", "zos-syslog"], summary.detection.description)
        XCTAssertTrue(summary.detection.description.hasSuffix("; joined later: zos-syslog at line 301"), summary.detection.description)
        XCTAssertEqual(records.count, 303)
        let m = try XCTUnwrap(records.first { $0.line == 301 })
        XCTAssertEqual(m.layout?.name, "zos-syslog")
        XCTAssertEqual(m.lineCount, 3, "its D and E lines joined it")
        XCTAssertEqual(records.first { $0.line == 304 }?.layout?.name, "zos-syslog")
        XCTAssertEqual(records.last?.layout?.name, "gsktrace")
        XCTAssertEqual(summary.counts.lines, 305)
        // The summary says so; --layout still reads with the one layout named.
        let stats = try Fixtures.runTool(["format", "--stats", path])
        XCTAssertTrue(stats.stderr.contains("joined later: zos-syslog at line 301"), stats.stderr)
        let forced = try Fixtures.runTool(["format", "--stats", "--layout", "gsktrace", path])
        XCTAssertTrue(forced.stderr.contains("4 unparsed lines"), forced.stderr)
    }

    func testLinesNoLayoutReadsAfterTheSampleStayUnparsed() throws {
        var text = lateText()
        text += "free text nobody reads\n   indented note\n#### 42\n"
        let (records, summary) = try Fixtures.records(Fixtures.write(text, named: "late.trc"))
        XCTAssertEqual(summary.counts.unparsed, 3)
        XCTAssertEqual(records.filter(\.isUnparsed).map(\.line), [306, 307, 308])
    }

    func testJSONNamesTheLayoutOfEachRecord() throws {
        let path = Fixtures.write(Self.session, named: "session.txt")
        let run = try Fixtures.runTool(["format", "--json", path])
        XCTAssertEqual(run.status, 0, run.stderr)
        let objects = try run.stdout.split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        let layouts = objects.map { "\($0["line"]!):\($0["layout"] as? String ?? "-")" }
        XCTAssertEqual(layouts, ["1:attls-syslog", "2:attls-syslog", "3:attls-syslog", "5:client-transcript", "6:client-transcript",
                                 "8:client-transcript", "9:client-transcript", "11:gsktrace", "12:gsktrace", "13:gsktrace", "15:gsktrace"])
        for o in objects where o["layout"] as? String != "gsktrace" {
            XCTAssertFalse((o["message"] as? String ?? "").contains("Thd-"), "\(o)")
        }
    }

    func testStatsAndIngestSayMixed() throws {
        let path = Fixtures.write(Self.session, named: "session.txt")
        let run = try Fixtures.runTool(["format", "--stats", path])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("layout mixed: "), run.stderr)
        XCTAssertTrue(run.stderr.contains("(13/13 sampled lines explained, 100%)"), run.stderr)

        let db = Fixtures.tempDir() + "/mixed.db"
        let ingest = try Fixtures.runTool(["ingest", "--db", db, path])
        XCTAssertEqual(ingest.status, 0, ingest.stderr)
        XCTAssertTrue(ingest.stdout.contains("; layout mixed: "), ingest.stdout)
        for name in ["attls-syslog", "client-transcript", "gsktrace"] { XCTAssertTrue(ingest.stdout.contains(name), ingest.stdout) }
        // Each layout's records follow its own connection rule: AT-TLS connections from the
        // syslog lines, a System SSL one from the gsktrace lines.
        let rules = try Fixtures.runTool(["sql", "--db", db, "SELECT rule, count(*) FROM connections GROUP BY rule ORDER BY rule"])
        XCTAssertEqual(rules.status, 0, rules.stderr)
        XCTAssertTrue(rules.stdout.contains("attls-conn"), rules.stdout)
        XCTAssertTrue(rules.stdout.contains("gsk"), rules.stdout)
        let ids = try Fixtures.runTool(["sql", "--db", db, "SELECT count(*) = count(DISTINCT id) FROM connections"])
        XCTAssertTrue(ids.stdout.contains("1"), ids.stdout)
    }

    /// The command that printed a trace, pasted above it: the prompt line is the transcript's,
    /// the trace lines are gsktrace's (a transcript takes any line after a command as output
    /// only when no other layout reads it as a record).
    func testAPromptLineAboveATrace() throws {
        let text = """
        $ gsktrace /u/ops/gskssl.90210.trc
        02/19/2023-17:40:01 Thd-2 ENTRY gsk_secure_socket_init(): ---> Handle 0x1F20A400
        02/19/2023-17:40:02 Thd-2 ERROR validate_chain(): Certificate has expired
        02/19/2023-17:40:02 Thd-2 EXIT gsk_secure_socket_init(): <--- Exit status 0x000001a9 (425)

        """
        let (records, summary) = try Fixtures.records(Fixtures.write(text, named: "pasted.txt"))
        XCTAssertEqual(summary.detection.layouts.sorted(), ["client-transcript", "gsktrace"], summary.detection.description)
        XCTAssertEqual(records.map { "\($0.line):\($0.layout?.name ?? "-"):\($0.lineCount)" },
                       ["1:client-transcript:1", "2:gsktrace:1", "3:gsktrace:1", "4:gsktrace:1"])
        XCTAssertEqual(records.last.map(Fixtures.codes), ["ssl:425"])
    }

    /// A mixed file that grows goes on with the layouts of its first read, and each rule's open
    /// connections carry on: the AT-TLS error appended later fails the connection mapped before.
    func testAGrownMixedFileGoesOnWithItsLayouts() throws {
        let path = Fixtures.write(Self.session, named: "session.txt")
        let db = Fixtures.tempDir() + "/grow.db"
        let first = try Fixtures.runTool(["ingest", "--db", db, path])
        XCTAssertEqual(first.status, 0, first.stderr)
        let more = """
        04/03/2023-14:21:10.020 Thd-12 ENTRY gsk_secure_socket_close(): ---> Handle 0x1F20A400
        Apr  3 14:21:10 ZOSB TCPIP[50462771]: EZD1287I TTLS Error RC: 5006 Initial Handshake LOCAL: 10.40.2.8..636 REMOTE: 10.40.7.31..49815 JOBNAME: DIRSRV RULE: DIRRULE USERID: DIRSRV GRPID: 00000004 ENVID: 00000002 CONNID: 000002C9

        """
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(more.utf8))
        try handle.close()
        let second = try Fixtures.runTool(["ingest", "--db", db, path])
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stdout.contains("grew: added"), second.stdout)
        XCTAssertTrue(second.stdout.contains("(0 unparsed)"), second.stdout)
        XCTAssertTrue(second.stdout.contains("layout mixed: "), second.stdout)
        XCTAssertTrue(second.stdout.contains("(kept from the earlier read of this file)"), second.stdout)
        let attls = try Fixtures.runTool(["sql", "--db", db,
                                          "SELECT count(*) || '/' || sum(outcome = 'failed') FROM connections WHERE rule = 'attls-conn'"])
        XCTAssertTrue(attls.stdout.contains("2/2"), "two AT-TLS connections, both failed, none doubled: \(attls.stdout)")
        let layout = try Fixtures.runTool(["sql", "--db", db, "SELECT layout FROM sources"])
        XCTAssertTrue(layout.stdout.contains("+"), layout.stdout)
    }

    /// One trace record with its indented lines, pasted after a command's output: the command's
    /// output does not swallow it, though the transcript would take any line as output.
    func testAMultiLineRecordAfterACommandsOutput() throws {
        var text = "$ ldapsearch -H ldaps://10.40.2.8:636 -x -b \"o=Acme\" \"(cn=*)\" cn\n"
        for i in 1...18 { text += i % 3 == 0 ? "\n" : "cn: member \(i)\n" }
        text += """
        04/03/2023-14:22:41.007 Thd-9 ERROR gsk_secure_socket_init(): Handshake failed
         peer sent alert 48
         (unknown CA)
         after 2 records

        """
        let (records, summary) = try Fixtures.records(Fixtures.write(text, named: "paste.txt"))
        XCTAssertEqual(summary.detection.layouts.sorted(), ["client-transcript", "gsktrace"], summary.detection.description)
        let trace = try XCTUnwrap(records.first { $0.layout?.name == "gsktrace" })
        XCTAssertEqual(trace.line, 20)
        XCTAssertEqual(trace.lineCount, 4, "the indented lines are the trace record's")
        XCTAssertEqual(trace.field(.thread), "9")
        XCTAssertEqual(records.filter { $0.layout?.name == "client-transcript" }.map(\.line), [1])
        XCTAssertFalse(records[0].message.contains("Thd-9"), "the command's output stops before the trace")
    }
}
