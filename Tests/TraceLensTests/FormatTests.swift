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

final class FormatTests: XCTestCase {
    let busy = Fixtures.sample("busy/gskssl.33554467.trc")

    func testThreadAndLevelFilters() {
        let (out, _) = Fixtures.format([busy]) { $0.filter.threads = ["2"]; $0.filter.levels = [.error] }
        let lines = out.split(separator: "\n")
        XCTAssertFalse(lines.isEmpty)
        XCTAssertTrue(lines.allSatisfy { $0.contains(" Thd-2 ERROR ") }, "\(lines.prefix(3))")
        XCTAssertEqual(RecordFilter.normaliseThread("Thd-3"), "3")
        XCTAssertEqual(RecordFilter.normaliseThread("00000003"), "3")
    }

    func testGrepAndTimeWindow() {
        let (out, _) = Fixtures.format([Fixtures.sample("revoked-client-cert/gskssl.65567.trc")]) {
            $0.filter.grep = Array("alert".utf8)
            $0.filter.since = TimeBound.parse("2022-03-24T10:00")
            $0.filter.until = TimeBound.parse("10:08")
        }
        XCTAssertTrue(out.contains("alert 44 [TLS alert 44 certificate_revoked]"))
        XCTAssertFalse(out.contains("08:24:07"), "records before --since are left out")
        XCTAssertTrue(out.split(separator: "\n").allSatisfy { $0.contains("alert") })
    }

    func testErrorsShowFailuresInsideTheirCalls() {
        let (out, _) = Fixtures.format([Fixtures.sample("ec-cert-rsa-cipher/gskssl.50331688.trc")]) { $0.errorsOnly = true }
        let lines = out.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.first?.contains("ENTRY gsk_secure_socket_init()") ?? false, "\(lines)")
        XCTAssertTrue(lines.contains { $0.contains("key type 13 [x509 ecPublicKey]") })
        XCTAssertTrue(lines.contains { $0.contains("EXIT gsk_secure_socket_init(): <--- Exit status 0x000001b2 (434) [SSL 434:") }, "\(lines)")
        // The later session's read ends when the client goes away: shown too.
        XCTAssertTrue(lines.last?.contains("EXIT gsk_secure_socket_read(): <--- Exit status 0x000001a4 (420) [SSL 420:") ?? false, "\(lines.last ?? "")")
        XCTAssertFalse(lines.contains { $0.contains("INFO") && !$0.contains("[") }, "plain INFO records are left out")
        // The successful trace has nothing to show.
        XCTAssertEqual(Fixtures.format([Fixtures.sample("tls12-success/gskssl.16777300.trc")]) { $0.errorsOnly = true }.0, "")
    }

    func testErrorContextKeepsEntryExitPairsPerThread() throws {
        let text = """
            Thd-1 ENTRY outer(): --->
            Thd-2 ENTRY other(): --->
            Thd-1 ENTRY inner(): --->
            Thd-1 INFO inner(): fine
            Thd-1 ERROR inner(): bad Error 0x03353041
            Thd-2 EXIT other(): <--- Exit status 0x00000000 (0)
            Thd-1 EXIT inner(): <--- Exit status 0x03353041 (53817409)
            Thd-1 EXIT outer(): <--- Exit status 0x000001af (431)
            """
        let (out, _) = Fixtures.format([Fixtures.write(text)]) { $0.errorsOnly = true }
        let shown = out.split(separator: "\n").map { $0.split(separator: " ").prefix(3).joined(separator: " ") }
        XCTAssertEqual(shown, ["Thd-1 ENTRY outer():", "Thd-1 ENTRY inner():", "Thd-1 ERROR inner():", "Thd-1 EXIT inner():", "Thd-1 EXIT outer():"])
    }

    func testJSONShape() throws {
        let (out, _) = Fixtures.format([Fixtures.sample("revoked-client-cert/gskssl.65567.trc")]) { $0.json = true }
        let objects = try out.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let error = try XCTUnwrap(objects.first { ($0["message"] as? String)?.contains("RFC 2459") == true })
        XCTAssertEqual(error["source"] as? String, Fixtures.sample("revoked-client-cert/gskssl.65567.trc"))
        XCTAssertEqual(error["time"] as? String, "2022-03-24T10:07:19")
        XCTAssertEqual(error["process"] as? String, "65567")
        XCTAssertEqual(error["thread"] as? String, "3")
        XCTAssertEqual(error["level"] as? String, "ERROR")
        XCTAssertEqual(error["function"] as? String, "check_revoked")
        XCTAssertNotNil(error["line"] as? Int)
        let codes = try XCTUnwrap(error["codes"] as? [[String: Any]])
        XCTAssertEqual(codes.count, 1)
        XCTAssertEqual(codes[0]["kind"] as? String, "cms")
        XCTAssertEqual(codes[0]["code"] as? String, "03353041")
        XCTAssertEqual(codes[0]["text"] as? String, "Certificate is revoked.")
        XCTAssertNotNil(codes[0]["name"] as? String)
        let unparsed = Fixtures.format([Fixtures.write("junk line\n")]) { $0.json = true }.0
        let u = try JSONSerialization.jsonObject(with: Data(unparsed.utf8)) as! [String: Any]
        XCTAssertEqual(u["unparsed"] as? Bool, true)
        XCTAssertEqual(u["message"] as? String, "junk line")
    }

    func testAMissingFileDoesNotStopTheOthers() {
        let (out, status) = Fixtures.format(["/nonexistent.trc", Fixtures.sample("revoked-client-cert/gskssl.65567.trc")])
        XCTAssertEqual(status, 1)
        XCTAssertTrue(out.contains("[SSL 431: Certificate is revoked.]"))
    }

    func testFoldersAreExpanded() {
        let files = FormatRun.expand([Fixtures.sample("busy")])
        XCTAssertEqual(files.map { ($0 as NSString).lastPathComponent }, ["gskssl.33554467.trc", "make_busy.py"])
    }

    func testSyntheticTraceFormatsWithoutUnparsedLines() throws {
        let path = Fixtures.tempDir() + "/gskssl.99.trc"
        let connections = try SyntheticTrace(threads: 4, seed: 7).write(to: path, targetBytes: 200_000)
        XCTAssertGreaterThan(connections.count, 50)
        let (_, summary) = try Fixtures.records(path)
        XCTAssertEqual(summary.counts.unparsed, 0)
        XCTAssertEqual(summary.format, "gsktrace")
        XCTAssertGreaterThan(summary.failureCodes, 0)
    }
}

final class JSONValidityTests: XCTestCase {
    func testDamagedBytesStillGiveValidJSON() throws {
        // A realistic trace with one damaged line (a lone 0xFF, a bad 2-byte sequence, controls).
        var bytes = Array(String(repeating: "Thd-1 INFO f(): fine\n", count: 200).utf8)
        bytes += Array("Thd-1 INFO f(): caf\u{E9} ".utf8)
        bytes += [0xFF, 0xC3, 0x28, 0x22, 0x5C, 0x01]
        bytes += Array(" end\n".utf8)
        let (out, status) = Fixtures.format([Fixtures.write(bytes)]) { $0.json = true }
        XCTAssertEqual(status, 0)
        let last = try XCTUnwrap(out.split(separator: "\n").last)
        let object = try JSONSerialization.jsonObject(with: Data(last.utf8)) as! [String: Any]
        XCTAssertEqual(object["message"] as? String, "café \u{FFFD}\u{FFFD}(\"\\\u{1} end")
    }
}

final class ToolRunTests: XCTestCase {
    /// The binary the tests run is the one just built: `explain 431` decodes the code.
    func testTheBuiltCommandRuns() throws {
        let run = try Fixtures.runTool(["explain", "431"])
        XCTAssertFalse(run.crashed)
        XCTAssertEqual(run.status, 0)
        XCTAssertTrue(run.stdout.contains("431"), run.stdout)
        let bad = try Fixtures.runTool(["no-such-command"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertFalse(bad.stderr.isEmpty)
    }
}
