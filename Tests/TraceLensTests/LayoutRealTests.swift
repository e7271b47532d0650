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

/// The z/OS layouts people really paste (issue 13, part 2): the system log hardcopy, console
/// messages, Zowe and z/OSMF exports, job logs with their left columns scrolled off, z/OS UNIX
/// utility output; AT-TLS fields in every form. Lines are our own, written in the real layouts
/// (see /work/shared/reference/real). Everything runs through the `tracelens` binary.
final class LayoutRealTests: XCTestCase {
    /// A multi-line EZD1287I in SYSLOG hardcopy columns (HCFORMAT(YEAR)), around single lines.
    static let syslog = """
        N 0000000 ZOS3     26101 14:30:07.15 STC00912 00000090  BPXM023I (LDAPSV2) GLD1116E Unable to initialize an SSL connection with 10.44.2.9: 431 - Certificate is revoked.
        M 0000000 ZOS3     26101 14:30:07.16 STC00047 00000090  EZD1287I TTLS Error RC:  431 Initial Handshake
        D                                         377 00000090    LOCAL: ::FFFF:10.44.0.1..636
        D                                         377 00000090    REMOTE: ::FFFF:10.44.2.9                 ..40001
        D                                         377 00000090    JOBNAME: LDAPSV2 RULE: SecureLdap
        E                                         377 00000090    USERID: LDAPSV2 GRPID: 00000005 ENVID: 00000006 CONNID: 00001C2D
        NC0000000 ZOS3     26101 14:31:00.00 TSU00101 00000290  D TCPIP,,TTLS,CONN=1C2D

        """

    /// The same in HCFORMAT(CENTURY): a seven-digit date, every later column two to the right.
    static let syslogCentury = """
        N 4000000 ZOS3     2026101 14:30:07.15 STC00912 00000090  GLD1004I LDAP server is ready for requests.
        M 4000000 ZOS3     2026101 14:30:07.16 STC00047 00000090  EZD1287I TTLS Error RC: 5003 Initial Handshake
        E                                           378 00000090    USERID: LDAPSV2 GRPID: 00000005 ENVID: 00000006 CONNID: 00001C2E

        """

    /// The console form as SDSF, OPERLOG or a console shows it: first line, indented fields.
    static let console = """
         EZD1287I TTLS Error RC:  431 Initial Handshake
           LOCAL: ::FFFF:10.44.0.1..636
           REMOTE: ::FFFF:10.44.2.9..40002
           JOBNAME: LDAPSV2 RULE: SecureLdap
           USERID: LDAPSV2 GRPID: 00000005 ENVID: 00000006 CONNID: 00001C30

        """

    func json(_ args: [String]) throws -> [[String: Any]] {
        let run = try Fixtures.runTool(["format", "--json"] + args)
        XCTAssertEqual(run.status, 0, run.stderr)
        return run.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    func fields(_ o: [String: Any]) -> [String: String] {
        (o["fields"] as? [String: Any] ?? [:]).compactMapValues { $0 as? String }
    }

    // MARK: SYSLOG / OPERLOG hardcopy

    func testSyslogHardcopyJoinsMultiLineMessagesAndPrintsAsWritten() throws {
        let path = Fixtures.write(Self.syslog, named: "syslog.txt")
        let run = try Fixtures.runTool(["format", "--layout", "zos-syslog", path])
        XCTAssertEqual(run.status, 0, run.stderr)
        let lines = run.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // Printed as written, the decode right after the code.
        XCTAssertTrue(lines[0].hasPrefix("N 0000000 ZOS3     26101 14:30:07.15 STC00912 00000090  BPXM023I (LDAPSV2) GLD1116E [error] Unable to initialize"), lines[0])
        XCTAssertTrue(lines[0].contains(": 431 [SSL 431: "), lines[0])
        XCTAssertTrue(lines[1].hasPrefix("M 0000000 ZOS3     26101 14:30:07.16 STC00047 00000090  EZD1287I TTLS Error RC: "), lines[1])
        XCTAssertTrue(lines[1].contains("RC:  431 [SSL 431: "), lines[1])
        XCTAssertEqual(lines[3], "D                                         377 00000090    REMOTE: ::FFFF:10.44.2.9                 ..40001")
        XCTAssertFalse(run.stdout.contains("Thd-"))

        let records = try json(["--layout", "zos-syslog", path])
        XCTAssertEqual(records.count, 3, "N, M+D+D+D+E, N: three records")
        XCTAssertEqual(records[0]["job"] as? String, "STC00912")
        XCTAssertEqual(records[0]["level"] as? String, "ERROR")
        XCTAssertEqual((records[0]["time"] as? String)?.prefix(19), "2026-04-11T14:30:07")
        XCTAssertEqual(fields(records[0])["system"], "ZOS3")
        XCTAssertEqual(fields(records[0])["user"], "LDAPSV2")
        XCTAssertEqual(records[1]["job"] as? String, "STC00047")
        XCTAssertTrue((records[1]["message"] as? String ?? "").hasSuffix("CONNID: 00001C2D"))
        XCTAssertEqual(fields(records[2])["request_type"], "C")
    }

    /// Two multi-line messages with other messages logged between their lines (a real SYSLOG
    /// does this): each D/E line joins the message whose number it carries; the M line has no
    /// number, its first D/E line gives it one.
    static let interleaved = """
        M 0000000 SYSB     26338 11:20:04.31 STC00812 00000090  EZD1287I TTLS Error RC:  435 Initial Handshake
        D                                         731 00000090    LOCAL: 10.20.1.5..389
        N 0000000 SYSB     26338 11:20:04.32 STC00233 00000090  IEF196I first line logged between
        D                                         731 00000090    REMOTE: 10.20.7.9..51744
        M 0000000 SYSB     26338 11:20:04.33 JOB01234 00000090  IEE114I 11.20.04 2026.338 ACTIVITY
        N 0000000 SYSB     26338 11:20:04.33 STC00233 00000090  IEF196I second line logged between
           732 00000090   JOBS     M/S    TS USERS
        E                                         731 00000090    USERID: LDAPSRV GRPID: 00000001 ENVID: 0000000A CONNID: 00000B2C
        E                                         732 00000090   00003    00019    00002
        N 0000000 SYSB     26338 11:20:05.00 STC00233 00000090  IEF196I after both

        """

    func testSyslogInterleavedMultiLineMessagesJoinByTheirNumber() throws {
        let path = Fixtures.write(Self.interleaved, named: "syslog.txt")
        let records = try json(["--layout", "zos-syslog", path])
        XCTAssertEqual(records.count, 5, "\(records)")
        let messages = records.map { $0["message"] as? String ?? "" }
        XCTAssertTrue(messages[0].hasPrefix("EZD1287I TTLS Error RC:  435"), messages[0])
        XCTAssertTrue(messages[0].contains("LOCAL: 10.20.1.5..389") && messages[0].contains("REMOTE: 10.20.7.9..51744"), messages[0])
        XCTAssertTrue(messages[0].hasSuffix("CONNID: 00000B2C"), messages[0])
        XCTAssertTrue(messages[1].hasPrefix("IEF196I first line logged between"), messages[1])
        XCTAssertFalse(messages[1].contains("REMOTE"), messages[1])
        XCTAssertTrue(messages[2].hasPrefix("IEE114I") && messages[2].contains("JOBS     M/S") && messages[2].hasSuffix("00003    00019    00002"), messages[2])
        XCTAssertFalse(messages[2].contains("USERID"), messages[2])
        XCTAssertEqual(messages[3], "IEF196I second line logged between")
        XCTAssertEqual(messages[4], "IEF196I after both")
        // In file order of their first lines, printed as written with their own lines together.
        let text = try Fixtures.runTool(["format", "--layout", "zos-syslog", path]).stdout
        let lines = text.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 10, text)
        XCTAssertTrue(lines[3].hasPrefix("E                                         731 00000090    USERID: LDAPSRV"), text)
        // The AT-TLS connection has its addresses and its CONNID from lines logged apart.
        let db = Fixtures.tempDir() + "/t.db"
        XCTAssertEqual(try Fixtures.runTool(["ingest", "--db", db, "--layout", "zos-syslog", path]).status, 0)
        let conns = try connections(db)
        XCTAssertTrue(conns.contains("10.20.7.9"), conns)
        let stored = try Fixtures.runTool(["sql", "--db", db, "select count(*) from records"]).stdout
        XCTAssertEqual(stored.split(separator: "\n").last?.trimmingCharacters(in: .whitespaces), "5", stored)
    }

    func testSyslogNumberedLinesWithoutTheirMessageAndMessagesThatNeverEndLoseNothing() throws {
        // D lines whose message is not in the file (it began before the copy), and an M line
        // that never gets its lines, followed by many messages: every line is read, in order.
        var text = """
            D                                         901 00000090    LOCAL: 10.20.1.5..389
            E                                         901 00000090    USERID: LDAPSRV CONNID: 00000B2D
            M 0000000 SYSB     26338 11:21:00.00 STC00812 00000090  EZD1287I TTLS Error RC:  435 Initial Handshake

            """
        for i in 0..<300 { text += "N 0000000 SYSB     26338 11:21:\(String(format: "%02d", i % 60)).00 STC00233 00000090  IEF196I line \(i)\n" }
        text += "D                                         902 00000090    REMOTE: 10.20.7.9..51745\n"
        let path = Fixtures.write(text, named: "syslog.txt")
        let records = try json(["--layout", "zos-syslog", path])
        XCTAssertEqual(records.filter { $0["unparsed"] != nil }.count, 2, "the two lines before any message")
        let read = records.filter { $0["unparsed"] == nil }.map { $0["message"] as? String ?? "" }
        XCTAssertEqual(read.count, 301)
        XCTAssertTrue(read[0].hasPrefix("EZD1287I"), read[0])
        XCTAssertEqual(read[1], "IEF196I line 0")
        XCTAssertEqual(read[300], "IEF196I line 299\nREMOTE: 10.20.7.9..51745")
        let lines = records.compactMap { $0["line"] as? Int }
        XCTAssertEqual(lines, lines.sorted(), "records come out in file order")
    }

    func testSyslogCenturyDates() throws {
        let path = Fixtures.write(Self.syslogCentury, named: "operlog.txt")
        let records = try json(["--layout", "zos-syslog", path])
        XCTAssertEqual(records.count, 2)
        XCTAssertEqual((records[0]["time"] as? String)?.prefix(19), "2026-04-11T14:30:07")
        XCTAssertTrue((records[1]["message"] as? String ?? "").contains("CONNID: 00001C2E"))
    }

    /// Day 366 exists in leap years only; day 000 never: such a date is kept as bad, not moved.
    func testDayOfYearDates() throws {
        var parts = TimeParts()
        let f = try TimeFormat("YYDDD")
        XCTAssertNotNil(f.scan(Array("24366".utf8).withUnsafeBufferPointer { $0 }, 0, into: &parts))
        XCTAssertEqual([parts.year, parts.month, parts.day], [2024, 12, 31])
        for bad in ["25366", "26000"] {
            var p = TimeParts()
            _ = Array(bad.utf8).withUnsafeBufferPointer { f.scan($0, 0, into: &p) }
            XCTAssertTrue(p.impossible, bad)
        }
    }

    // MARK: console

    func testConsoleMultiLineMessageIsOneRecordWithItsConnectionFields() throws {
        let path = Fixtures.write(Self.console, named: "console.txt")
        let records = try json(["--layout", "zos-console", path])
        XCTAssertEqual(records.count, 1)
        XCTAssertNil(records[0]["job"] as? String)
        let run = try Fixtures.runTool(["format", "--layout", "zos-console", path])
        XCTAssertTrue(run.stdout.hasPrefix(" EZD1287I TTLS Error RC: "), run.stdout)
        XCTAssertTrue(run.stdout.contains("\n   REMOTE: ::FFFF:10.44.2.9..40002\n"), run.stdout)
    }

    /// The one-line copy with the console's message number at the end, and a job log whose left
    /// columns were scrolled off: the message id starts the line and is never a job.
    func testMessageIdInColumnOneIsNeverAJob() throws {
        let text = """
            EZD1287I TTLS Error RC:  413 Initial Handshake 221
            GLD1116E Unable to initialize an SSL connection with 10.44.2.9: 431 - Certificate is revoked.
            BPXM023I (LDAPSV2) GLD1004I LDAP server is ready for requests.

            """
        let path = Fixtures.write(text, named: "sdsf.txt")
        let records = try json(["--layout", "zos-console", path])
        XCTAssertEqual(records.count, 3)
        for r in records { XCTAssertNil(r["job"] as? String, "\(r)") }
        XCTAssertEqual(records[1]["level"] as? String, "ERROR")
        XCTAssertTrue((records[1]["message"] as? String ?? "").hasPrefix("GLD1116E "))
        // The SDSF job-log layout reads a job id in its first column, never a message id.
        let sdsf = try json(["--layout", "gld-sdsf", path])
        XCTAssertEqual(sdsf.filter { $0["unparsed"] as? Bool != true }.count, 0, "\(sdsf)")
        for r in sdsf { XCTAssertNil(r["job"] as? String, "\(r)") }
        // The job log's job column still reads a real job id.
        let joblog = Fixtures.write("14.30.07 STC00912  GLD1116E Unable to initialize an SSL connection with 10.44.2.9: 431 - Certificate is revoked.\n14.30.08 GLD1004I LDAP server is ready for requests.\n", named: "j.txt")
        let joblogRecords = try json(["--layout", "gld-joblog", joblog])
        XCTAssertEqual(joblogRecords.map { $0["job"] as? String }, ["STC00912", nil])
    }

    // MARK: z/OSMF and Zowe

    func testZoweListLogsAndZosmfJSON() throws {
        let zowe = Fixtures.write("""
            2026-04-11T14:30:07.160Z   EZD1287I TTLS Error RC:  431 Initial Handshake
               LOCAL: ::FFFF:10.44.0.1..636
               REMOTE: ::FFFF:10.44.2.9..40003
               JOBNAME: LDAPSV2 RULE: SecureLdap
               USERID: LDAPSV2 GRPID: 00000005 ENVID: 00000006 CONNID: 00001C31
            2026-04-11T14:30:08.000Z   GLD1004I LDAP server is ready for requests.

            """, named: "zowe.txt")
        let records = try json(["--layout", "zowe-logs", zowe])
        XCTAssertEqual(records.count, 2)
        XCTAssertEqual((records[0]["time"] as? String)?.prefix(23), "2026-04-11T14:30:07.160")
        let text = try Fixtures.runTool(["format", "--layout", "zowe-logs", zowe]).stdout
        XCTAssertTrue(text.hasPrefix("2026-04-11T14:30:07.160Z   EZD1287I TTLS Error RC: "), text)

        let api = Fixtures.write("""
            {
              "totalitems": 1,
              "items": [
                {
                  "jobName": "TCPIP",
                  "message": " EZD1287I TTLS Error RC: 5004 Initial Handshake\\r   LOCAL: ::FFFF:10.44.0.1..636\\r   REMOTE: ::FFFF:10.44.2.9..40004\\r   JOBNAME: LDAPSV2 RULE: SecureLdap\\r   USERID: LDAPSV2 GRPID: 00000005 ENVID: 00000006 CONNID: 00001C32",
                  "messageId": "EZD1287I"
                }
              ]
            }

            """, named: "logs.json")
        // One record per message; the item's other fields are headers, its braces after the
        // message belong to it; the braces before the first message are left unparsed.
        let all = try json(["--layout", "zosmf-logs-json", api])
        let items = all.filter { $0["unparsed"] == nil }
        XCTAssertEqual(items.count, 1, "\(all)")
        XCTAssertEqual(all.filter { $0["unparsed"] != nil }.compactMap { ($0["message"] as? String)?.trimmingCharacters(in: .whitespaces) }, ["{", "{"])
        let codes = (items[0]["codes"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }
        XCTAssertTrue(codes.contains("5004"), "\(items[0])")
    }

    /// The logs REST API's reply pasted as one line of JSON: one record per item, each `\r` a
    /// line of its message, as in the pretty-printed reply.
    static let oneLineReply = #"{"items":[{"cart":"","color":"red","jobName":"TCPIP","message":" EZD1287I TTLS Error RC: 5004 Initial Handshake\r   LOCAL: ::FFFF:10.30.0.2..3974\r   REMOTE: ::FFFF:10.30.0.9..8804\r   JOBNAME: WEBSRV RULE: ClientRule\r   USERID: WEBUSR GRPID: 00000003 ENVID: 00000001 CONNID: 0002AB10","messageId":"EZD1287I","replyId":"","system":"SYSC","timestamp":1796375411000,"type":"HARDCOPY"},{"cart":"","color":"green","jobName":"GLDSRV","message":" GLD1116E Unable to initialize an SSL connection with 10.30.0.9: 414 - Certificate is not valid.","messageId":"GLD1116E","system":"SYSC","type":"HARDCOPY"}],"source":"OPERLOG","totalitems":2}"# + "\n"

    func testZosmfReplyOnOneLineIsOneRecordPerItem() throws {
        let path = Fixtures.write(Self.oneLineReply, named: "reply.json")
        // Detected without --layout: the one line is explained whole.
        let all = try json([path])
        XCTAssertEqual(all.count, 2, "\(all)")
        XCTAssertTrue(all.allSatisfy { $0["unparsed"] == nil }, "\(all)")
        let first = all[0]["message"] as? String ?? ""
        XCTAssertTrue(first.contains("EZD1287I TTLS Error RC: 5004 Initial Handshake\\r\nLOCAL: ::FFFF:10.30.0.2..3974"), first)
        XCTAssertTrue((all[1]["message"] as? String ?? "").contains("GLD1116E Unable"), "\(all[1])")
        let text = try Fixtures.runTool(["format", path]).stdout
        XCTAssertEqual(text.split(separator: "\n").count, 6, text)
        XCTAssertTrue(text.contains("\n   REMOTE: ::FFFF:10.30.0.9..8804\\r\n"), text)
        let db = Fixtures.tempDir() + "/t.db"
        XCTAssertEqual(try Fixtures.runTool(["ingest", "--db", db, path]).status, 0)
        let conns = try connections(db)
        XCTAssertTrue(conns.contains("10.30.0.9:8804") && conns.contains("AT-TLS 5004"), conns)
        XCTAssertTrue(conns.contains("SSL 414"), conns)
    }

    func testPrettyPrintedReplyStillReadsTheSame() throws {
        let pretty = """
            {
              "items": [
                {
                  "cart": "",
                  "message": " EZD1287I TTLS Error RC: 5004 Initial Handshake\\r   LOCAL: ::FFFF:10.30.0.2..3975\\r   USERID: WEBUSR GRPID: 00000003 ENVID: 00000001 CONNID: 0002AB11",
                  "messageId": "EZD1287I"
                }
              ],
              "totalitems": 1
            }

            """
        let records = try json(["--layout", "zosmf-logs-json", Fixtures.write(pretty, named: "reply.json")]).filter { $0["unparsed"] == nil }
        XCTAssertEqual(records.count, 1)
        XCTAssertTrue((records[0]["message"] as? String ?? "").contains("CONNID: 0002AB11"), "\(records)")
    }

    func testJSONThatIsNoZosmfReplyIsNotReadAsOne() throws {
        // An application's JSON lines with a "message" key, a reply cut off in the middle, and a
        // line of lone \r: nothing is lost, and the app log is no z/OSMF reply.
        let app = Fixtures.write(#"{"time":"2026-12-04T09:00:00Z","level":"error","message":"bind failed rc=49"}"# + "\n" + #"{"time":"2026-12-04T09:00:01Z","level":"info","message":"retry"}"# + "\n", named: "app.json")
        let appRecords = try json([app])
        XCTAssertEqual(appRecords.count, 2, "\(appRecords)")
        XCTAssertTrue((appRecords[0]["message"] as? String ?? "").contains(#"{"time":"2026-12-04T09:00:00Z","level":"error","message":"bind failed rc=49"}"#), "\(appRecords)")
        let cut = Fixtures.write(String(Self.oneLineReply.prefix(180)) + "\n" + #"\r\r\r"# + "\n", named: "cut.json")
        let run = try Fixtures.runTool(["format", "--layout", "zosmf-logs-json", cut])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("LOCAL: ::FFFF:10.30.0.2..3974"), run.stdout)
        XCTAssertTrue(run.stdout.contains(#"\r\r\r"#) || run.stdout.contains(#"\r"#), run.stdout)
    }

    // MARK: z/OS UNIX utilities

    func testUtilityOutput() throws {
        let path = Fixtures.write("""
            OPER1:/u/oper1: >dsconfig -i ldap.profile
            260411 14:40:01.000120 GLD2002I Directory Server configuration utility has started.
            260411 14:40:01.031777 GLD2004D
                       The output data set OPER1.LDAPCFG has been previously used.
                       Do you wish to continue? (yes/no)
            260411 14:40:05.900001 GLD2003I Directory Server configuration utility has ended.

            """, named: "dsconfig.out")
        let records = try json(["--layout", "zos-utility", path])
        XCTAssertEqual(records.count, 3)
        XCTAssertEqual((records[0]["time"] as? String)?.prefix(26), "2026-04-11T14:40:01.000120")
        XCTAssertTrue((records[1]["message"] as? String ?? "").contains("Do you wish to continue?"))
        let text = try Fixtures.runTool(["format", "--layout", "zos-utility", path]).stdout
        XCTAssertTrue(text.contains("260411 14:40:01.031777 GLD2004D"), text)
    }

    // MARK: AT-TLS connections in every wrapper, diagnosed and linked

    func connections(_ db: String) throws -> String {
        let run = try Fixtures.runTool(["connections", "--db", db])
        XCTAssertEqual(run.status, 0, run.stderr)
        return run.stdout
    }

    func testAtTlsFieldFormsMakeConnections() throws {
        let dir = Fixtures.tempDir()
        try Self.syslog.write(toFile: dir + "/syslog.txt", atomically: true, encoding: .utf8)
        try Self.console.write(toFile: dir + "/console.txt", atomically: true, encoding: .utf8)
        // Values left blank: no address, no job; the next field's name is never taken for one.
        try "EZD1287I TTLS Error RC: 5003 Initial Handshake LOCAL: REMOTE: JOBNAME: RULE: USERID: START2 GRPID: 00000001 ENVID: 00000001 CONNID: 00001C40\n"
            .write(toFile: dir + "/blank.txt", atomically: true, encoding: .utf8)
        let db = dir + "/t.db"
        for f in ["syslog.txt", "console.txt", "blank.txt"] {
            let run = try Fixtures.runTool(["ingest", "--db", db, "--layout", f == "syslog.txt" ? "zos-syslog" : "zos-console", dir + "/" + f])
            XCTAssertEqual(run.status, 0, run.stderr)
        }
        let store = try Store.openForReading(db)
        let q = try store.db.prepare("SELECT peer_ip, peer_port, local_port, (SELECT group_concat(name || '=' || value, ' ') FROM conn_keys k WHERE k.conn = c.id), outcome FROM connections c ORDER BY id")
        var rows: [String] = []
        while try q.step() { rows.append((0..<5).map { q.isNull($0) ? "-" : (q.string($0) ?? "?") }.joined(separator: " | ")) }
        let text = rows.joined(separator: "\n")
        XCTAssertTrue(text.contains("10.44.2.9 | 40001 | 636"), text)
        XCTAssertTrue(text.contains("10.44.2.9 | 40002 | 636"), text)
        XCTAssertTrue(text.contains("SecureLdap"), text)
        XCTAssertFalse(text.contains("RULE:") || text.contains("USERID:"), text)
        XCTAssertTrue(text.contains("1C40"), text)
        XCTAssertTrue(text.components(separatedBy: "failed").count - 1 >= 3, text)
    }

    /// A console-form EZD1287I and the GSK trace of the same handshake, in one folder: `doctor`
    /// reports the AT-TLS failure and the GSK session it links to.
    func testConsoleAtTlsFailureLinksToGskTraceAndIsDiagnosed() throws {
        let dir = Fixtures.tempDir() + "/case"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Self.console.write(toFile: dir + "/console.txt", atomically: true, encoding: .utf8)
        try """
            04/11/2026-14:30:07 Thd-4 ENTRY gsk_secure_socket_init(): ---> Handle 0x3B10C018
            04/11/2026-14:30:07 Thd-4 INFO gsk_secure_socket_init(): Peer address 10.44.2.9[40002]
            04/11/2026-14:30:07 Thd-4 INFO check_revoked(): Checking revoked status CN=client7,O=Example,C=GB
            04/11/2026-14:30:07 Thd-4 ERROR check_revoked(): RFC 2459 Revoked certificate check failed: Error 0x03353041
            04/11/2026-14:30:07 Thd-4 EXIT gsk_secure_socket_init(): <--- Exit status 0x000001af (431)

            """.write(toFile: dir + "/gskssl.83886.trc", atomically: true, encoding: .utf8)
        let db = Fixtures.tempDir() + "/t.db"
        let ingest = try Fixtures.runTool(["ingest", "--db", db, dir])
        XCTAssertEqual(ingest.status, 0, ingest.stderr)
        let doctor = try Fixtures.runTool(["doctor", "--db", db, "--all"])
        XCTAssertEqual(doctor.status, 0, doctor.stderr)
        XCTAssertFalse(doctor.stdout.contains("no failed connections"), doctor.stdout)
        XCTAssertTrue(doctor.stdout.contains("console.txt"), doctor.stdout)
        XCTAssertTrue(doctor.stdout.contains("console.txt:1   EZD1287I TTLS Error RC:  431 Initial Handshake"), doctor.stdout)
        XCTAssertTrue(doctor.stdout.contains("gskssl.83886.trc"), doctor.stdout)
        XCTAssertTrue(doctor.stdout.contains("431"), doctor.stdout)
        XCTAssertTrue(ingest.stdout.contains("linked 1 of 1 connections by zos-messages-gsk"), ingest.stdout)
        let store = try Store.openForReading(db)
        let q = try store.db.prepare("SELECT count(*) FROM links")
        XCTAssertTrue(try q.step())
        XCTAssertEqual(q.int(0), 1, doctor.stdout)
    }

    /// The one-line copy (no CONNID, the console's message number at the end) is still a failed
    /// AT-TLS connection that `doctor` reports.
    func testOneLineConsoleCopyIsAFailedConnection() throws {
        let dir = Fixtures.tempDir()
        let path = dir + "/kb.txt"
        try "EZD1287I TTLS Error RC:  428 Initial Handshake 052    \n".write(toFile: path, atomically: true, encoding: .utf8)
        let db = dir + "/t.db"
        XCTAssertEqual(try Fixtures.runTool(["ingest", "--db", db, "--layout", "zos-console", path]).status, 0)
        let doctor = try Fixtures.runTool(["doctor", "--db", db, "--all"])
        XCTAssertTrue(doctor.stdout.contains("kb.txt (failed)"), doctor.stdout)
        XCTAssertTrue(doctor.stdout.contains("ssl:428"), doctor.stdout)
    }

    /// Text with no codes and no AT-TLS error makes no failed connection.
    func testQuietConsoleHasNoFailures() throws {
        let dir = Fixtures.tempDir()
        let path = dir + "/quiet.txt"
        try "GLD1004I LDAP server is ready for requests.\nEZD1281I TTLS Map CONNID: 00001C50 LOCAL: 10.44.0.1..636 REMOTE: 10.44.2.9..40010 JOBNAME: LDAPSV2 USERID: LDAPSV2 TYPE: InBound STATUS: Enabled RULE: SecureLdap ACTIONS: G1 E1 **N/A**\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let db = dir + "/t.db"
        XCTAssertEqual(try Fixtures.runTool(["ingest", "--db", db, "--layout", "zos-console", path]).status, 0)
        let doctor = try Fixtures.runTool(["doctor", "--db", db, "--all"])
        XCTAssertFalse(doctor.stdout.contains("(failed)"), doctor.stdout)
    }

    /// docs/plugins.md's worked wrapper layout: its samples pass and it reads its own example.
    func testPluginsDocWrapperExampleWorks() throws {
        let doc = try String(contentsOfFile: Fixtures.root + "/docs/plugins.md", encoding: .utf8)
        let start = try XCTUnwrap(doc.range(of: "```toml\n[plugin]\nname = \"myauto\""))
        let end = try XCTUnwrap(doc.range(of: "\n```\n", range: start.upperBound..<doc.endIndex))
        let dir = Fixtures.tempDir() + "/myauto"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try String(doc[doc.index(start.lowerBound, offsetBy: 8)..<end.lowerBound]).write(toFile: dir + "/plugin.toml", atomically: true, encoding: .utf8)
        let check = try Fixtures.runTool(["plugins", "check", dir])
        XCTAssertEqual(check.status, 0, check.stdout + check.stderr)
        XCTAssertTrue(check.stdout.contains("all samples pass"), check.stdout)
        let log = Fixtures.write("""
            2026/12/04 09:14:02 ZOS2 TCPIP    EZD1287I TTLS Error RC:  431 Initial Handshake
                                              LOCAL: ::FFFF:10.20.1.5..636

            """, named: "console.log")
        let run = try Fixtures.runTool(["format", "--plugins", dir, "--layout", "myauto-console", log])
        XCTAssertTrue(run.stdout.hasPrefix("2026/12/04 09:14:02 ZOS2 TCPIP    EZD1287I TTLS Error RC: "), run.stdout)
        XCTAssertTrue(run.stdout.contains("RC:  431 [SSL 431: "), run.stdout)
        XCTAssertTrue(run.stdout.contains("\n                                  LOCAL: ::FFFF:10.20.1.5..636\n"), run.stdout)
    }

    // MARK: template kinds

    func testJobIdAndMessageTextKinds() throws {
        let job = try Template("{job:jobid} {message:rest}")
        for ok in ["STC04588 x", "JOB12345 x", "TSU00001 x", "J0012345 x", "S1234567 x"] { XCTAssertNotNil(job.match(ok), ok) }
        for no in ["GLD1116E x", "$HASP373 x", "STC0458 x", "IEF403I x", "STC045889 x"] { XCTAssertNil(job.match(no), no) }
        let msg = try Template("{message:msgtext}")
        XCTAssertEqual(msg.match("GLD1116E Unable to")?["message"], "GLD1116E Unable to")
        XCTAssertEqual(msg.match("GLD2004D")?["message"], "GLD2004D")
        for no in ["Unable to", "10.1.0.2 x", "LOCAL: 1", "STC04588  BPXM023I (LDAPSV2) GLD1004I x"] { XCTAssertNil(msg.match(no), no) }
    }

    func testPrintSettingIsChecked() throws {
        let problems = try Fixtures.loadProblems(withPlugin: """
            [[format]]
            name = "mine"
            record = ['{message:msgtext}']
            print = "pretty"
            """)
        XCTAssertTrue(problems.contains("print 'pretty' is not one of fields, as-written"), problems)
    }
}
