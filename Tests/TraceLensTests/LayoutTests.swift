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

final class LayoutTests: XCTestCase {
    func testBuiltInPluginsLoadCleanly() {
        XCTAssertEqual(Fixtures.loaded.1, [], "built-in plugins and their samples must check clean")
        XCTAssertNotNil(Fixtures.plugins.format(named: "gsktrace"))
        XCTAssertNotNil(Fixtures.plugins.format(named: "ctrace"))
    }

    func testRevokedSample() throws {
        let (records, summary) = try Fixtures.records(Fixtures.sample("revoked-client-cert/gskssl.65567.trc"))
        XCTAssertEqual(summary.format, "gsktrace")
        XCTAssertEqual(summary.process, "65567")
        XCTAssertEqual(summary.counts.unparsed, 0)
        let error = try XCTUnwrap(records.first { $0.field(.function) == "check_revoked" && $0.level == .error })
        XCTAssertEqual(error.field(.thread), "3")
        XCTAssertEqual(error.time?.string(iso: true), "2022-03-24T10:07:19")
        XCTAssertEqual(Fixtures.codes(error), ["cms:03353041"])
        let exit = try XCTUnwrap(records.first { $0.field(.function) == "gsk_secure_socket_init" && $0.level == .exit })
        XCTAssertEqual(Fixtures.codes(exit), ["ssl:431"])
        // Dump lines stay with their record.
        let dump = try XCTUnwrap(records.first { $0.level == .dump })
        XCTAssertFalse(dump.dumpLines.isEmpty)
        XCTAssertTrue(dump.string(dump.dumpLines[0]).contains("*START1/MQRING*"))
    }

    func testComponentTraceCarriesTheDateAcrossMidnight() throws {
        let (records, summary) = try Fixtures.records(Fixtures.sample("attls-revoked/gsksrvr-ctrace.txt"))
        XCTAssertEqual(summary.format, "ctrace")
        XCTAssertEqual(summary.counts.unparsed, 0)
        XCTAssertEqual(records.count, 31)
        XCTAssertEqual(records.first?.time?.string(iso: true), "2021-11-14T23:59:57.912034")
        let afterMidnight = try XCTUnwrap(records.first { $0.message.contains("Error 0x03353041") })
        XCTAssertEqual(afterMidnight.time?.string(iso: true), "2021-11-15T00:00:01.332417")
        XCTAssertEqual(afterMidnight.field(.job), "TCPIP")
        XCTAssertEqual(afterMidnight.field(.process), "0101001C")
        XCTAssertEqual(afterMidnight.field(.thread), "00000003")
        XCTAssertEqual(afterMidnight.field(.function), "check_revoked")
        XCTAssertEqual(afterMidnight.level, .error)
        let dump = try XCTUnwrap(records.first { $0.level == .dump })
        XCTAssertEqual(dump.dumpLines.count, 4)
        XCTAssertEqual(Fixtures.codes(records.first { $0.message.contains("Socket closed") }!), [])
    }

    func testEveryGsktraceSampleParsesWithoutUnparsedLines() throws {
        for s in ["revoked-client-cert/gskssl.65567.trc", "crl-issuer-without-crlsign/gskssl.65570.trc", "tls13-missing-aki/gskssl.83951642.trc",
                  "ec-cert-rsa-cipher/gskssl.50331688.trc", "tls12-success/gskssl.16777300.trc", "busy/gskssl.33554467.trc"] {
            let (records, summary) = try Fixtures.records(Fixtures.sample(s))
            XCTAssertEqual(summary.format, "gsktrace", s)
            XCTAssertEqual(summary.counts.unparsed, 0, s)
            XCTAssertGreaterThan(records.count, 10, s)
            XCTAssertTrue(records.allSatisfy { $0.time != nil && $0.field(.thread) != nil }, s)
        }
    }

    func testBrokenInputIsKeptAsUnparsed() throws {
        let text = """
            05/21/2021-13:45:12 Thd-3 ENTRY gsk_secure_socket_init(): ---> Handle 0x2A53C018
            05/21/2021-13:45:12 Thd-
            \u{7}\u{1}garbage with control bytes
            05/21/2021-13:45:12 Thd-3 EXIT gsk_secure_socket_init(): <--- Exit status 0x000001af (431)
            05/21/2021-13:45
            """
        // Two lines of five are gsktrace's: not most, so the layout is named (see DetectionTests).
        let (records, summary) = try Fixtures.records(Fixtures.write(text), format: "gsktrace")
        XCTAssertEqual(summary.format, "gsktrace")
        XCTAssertEqual(summary.counts.records, 2)
        XCTAssertEqual(summary.counts.unparsed, 3)
        XCTAssertEqual(records.map(\.isUnparsed), [false, true, true, false, true])
        XCTAssertEqual(records[1].message, "05/21/2021-13:45:12 Thd-")
        XCTAssertEqual(records.map(\.line), [1, 2, 3, 4, 5])
        // Printed as they are, in order; on a terminal control bytes are neutralised.
        let (out, status) = Fixtures.format([Fixtures.write(text)]) { $0.forcedFormat = "gsktrace" }
        XCTAssertEqual(status, 0)
        XCTAssertEqual(out.split(separator: "\n").count, 5)
        var r = TextRenderer(plugins: Fixtures.plugins, colour: true)
        let bytes = r.render(records[2])
        XCTAssertFalse(bytes.contains(0x07))
    }

    func testAFileNoLayoutKnowsIsPrintedAsIs() throws {
        let path = Fixtures.write("hello\nworld\n", named: "notes.txt")
        let (records, summary) = try Fixtures.records(path)
        XCTAssertNil(summary.format)
        XCTAssertEqual(records.count, 2)
        XCTAssertEqual(Fixtures.format([path]).0, "hello\nworld\n")
    }

    func testContinuationAndWrappedText() throws {
        let text = """
            Thd-1 INFO f(): first part
                second part of the message
            Thd-1 ASCII f(): data
                00000000: 16030100 4a010000                    *....J...*
            """
        let (records, _) = try Fixtures.records(Fixtures.write(text), format: "gsktrace")
        XCTAssertEqual(records.count, 2)
        XCTAssertEqual(records[0].messageLines.count, 2)
        XCTAssertEqual(records[0].message, "first part\nsecond part of the message")
        XCTAssertEqual(records[1].level, .dump)
        XCTAssertEqual(records[1].dumpLines.count, 1)
        XCTAssertEqual(records[1].lineCount, 2)
    }

    func testProcessFromFileName() {
        let f = Fixtures.plugins.format(named: "gsktrace")!
        XCTAssertEqual(f.process(fromFileName: "/tmp/gskssl.83951642.trc"), "83951642")
        XCTAssertEqual(f.process(fromFileName: "gskssl.65567.trc.gz"), "65567")
        XCTAssertNil(f.process(fromFileName: "gsktrace.ldap"))
    }

    func testDetectionPicksTheFormatAndCanBeForced() throws {
        let ctrace = try Fixtures.records(Fixtures.sample("attls-revoked/gsksrvr-ctrace.txt")).1
        XCTAssertEqual(ctrace.format, "ctrace")
        let forced = try Fixtures.records(Fixtures.sample("attls-revoked/gsksrvr-ctrace.txt"), format: "gsktrace").1
        XCTAssertEqual(forced.format, "gsktrace")
        XCTAssertGreaterThan(forced.counts.unparsed, 0)
    }
}

final class BrokenInputTests: XCTestCase {
    func testTruncatedComponentTraceRecordsAndGarbage() throws {
        let text = """
                 COMPONENT TRACE FULL FORMAT
                 **** 11/14/2021
                 C01       MESSAGE   00000004  20:43:45.522449  SSL_ERROR
                 C01       MESSAGE   00000008  20:43:45.6
                 C01       MESSAGE   00000008  20:43:46.000001  SSL_INFO

                   Job TCP341    Process 00020032  Thread 00000002  gsk_read_v3_record
                   Socket closed by 192.168.50.80.1360.
            """
        let (records, summary) = try Fixtures.records(Fixtures.write(text, named: "ctrace.txt"))
        XCTAssertEqual(summary.format, "ctrace")
        // A record cut after its first line is still a record (without job and thread); the line
        // with a truncated time is not a record line, so it is message text of the record above.
        XCTAssertEqual(summary.counts.records, 2)
        XCTAssertEqual(records[0].level, .error)
        XCTAssertNil(records[0].field(.thread))
        XCTAssertEqual(records[0].message, "C01       MESSAGE   00000008  20:43:45.6")
        XCTAssertEqual(records[1].field(.thread), "00000002")
        XCTAssertEqual(records[1].time?.string(iso: true), "2021-11-14T20:43:46.000001")
    }

    func testBinaryBytesAfterTheDetectionWindowAreKept() throws {
        var bytes = Array(String(repeating: "Thd-1 INFO f(): ok\n", count: 5000).utf8)  // > 64 KB of text
        bytes += [0x00, 0x01, 0xFF, 0xFE, 0x0A]
        bytes += Array("Thd-1 EXIT f(): <--- Exit status 0x000001af (431)\n".utf8)
        let (records, summary) = try Fixtures.records(Fixtures.write(bytes))
        XCTAssertEqual(summary.counts.records, 5001)
        XCTAssertEqual(summary.counts.unparsed, 1)
        XCTAssertEqual(records.last.map(Fixtures.codes), ["ssl:431"])
        let (out, status) = Fixtures.format([Fixtures.write(bytes)])
        XCTAssertEqual(status, 0)
        XCTAssertTrue(out.hasSuffix("(431) [SSL 431: Certificate is revoked.]\n"))
    }

    func testEmptyFileFormatsToNothing() {
        let (out, status) = Fixtures.format([Fixtures.write("")])
        XCTAssertEqual(out, "")
        XCTAssertEqual(status, 0)
    }

    func testColourOnlyOnATerminalAndNeverWithNoColor() {
        XCTAssertFalse(Output.wantsColour(fd: -1, environment: [:]), "not a terminal")
        let (plain, _) = Fixtures.format([Fixtures.sample("revoked-client-cert/gskssl.65567.trc")])
        XCTAssertFalse(plain.contains("\u{1B}["))
        let (coloured, _) = Fixtures.format([Fixtures.sample("revoked-client-cert/gskssl.65567.trc")]) { $0.colour = true }
        XCTAssertTrue(coloured.contains("\u{1B}[1;31mERROR\u{1B}[0m"))
        XCTAssertTrue(coloured.contains("\u{1B}[1;31m[SSL 431: Certificate is revoked.]\u{1B}[0m"), "failure labels in red")
    }
}
