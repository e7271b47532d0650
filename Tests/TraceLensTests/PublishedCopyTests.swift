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

/// Text as people copy it from manuals, vendor pages and issues: callout numbers before CTRACE
/// lines, gsktrace fragments without time or thread, an application's own debug printfs around
/// System SSL calls. Lines written for these tests in those layouts.
final class PublishedCopyTests: XCTestCase {
    func json(_ text: String, named name: String) throws -> [[String: Any]] {
        let run = try Fixtures.runTool(["format", "--json", Fixtures.write(text, named: name)])
        XCTAssertEqual(run.status, 0, run.stderr)
        return run.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func codes(_ records: [[String: Any]]) -> [String] {
        records.flatMap { ($0["codes"] as? [[String: Any]] ?? []).map { "\($0["kind"] ?? ""):\($0["code"] ?? "")\($0["failure"] as? Bool == true ? " F" : "")" } }
    }

    func testCTraceWithCalloutNumbersIsReadAsCTrace() throws {
        let records = try json("""
               4  C02        MESSAGE    00000004  06:12:40.100200    SSL_ERROR

               5    Job LDAPSRV     Process 0004001A    Thread 00000009   gsk_read_v3_record
               6    Socket closed by 10.4.4.4.1390.
            """, named: "ctrace.txt")
        XCTAssertEqual(records.count, 1)
        XCTAssertNil(records[0]["unparsed"])
        XCTAssertEqual(records[0]["job"] as? String, "LDAPSRV")
        XCTAssertEqual(records[0]["function"] as? String, "gsk_read_v3_record")
        XCTAssertEqual(records[0]["level"] as? String, "ERROR")
    }

    func testAGsktraceFragmentFromADocumentationPage() throws {
        let records = try json("""
            ERROR read_v3_alert(): SSL V3 alert 42 received from 10.2.2.2 ERROR
            gsk_secure_socket_init(): <--- Exit status 0x000001a9 (425)
            --->  Thd-4 EXIT gsk_strerror(): <--- Exit status 0x00000000 (0)
            """, named: "fragment.txt")
        XCTAssertEqual(records.count, 3)
        XCTAssertEqual(records.filter { $0["unparsed"] as? Bool == true }.count, 1, "a line with neither level nor thread")
        XCTAssertEqual(records[2]["thread"] as? String, "4")
        // Every code is decoded, the unparsed line's too, failures marked.
        XCTAssertEqual(Set(codes(records)), ["alert:42 F", "ssl:425 F", "ssl:0"])
    }

    func testAnArrowOrGarbageBeforeThdIsNotDropped() throws {
        // Only an arrow may stand before Thd-N: other text would be lost from a gsktrace record.
        let run = try Fixtures.runTool(["format", "--color", "never", Fixtures.write("10:07:19x Thd-1 INFO f(): started\n", named: "odd.txt")])
        XCTAssertTrue(run.stdout.contains("10:07:19x Thd-1 INFO f(): started"), run.stdout)
    }

    func testZoweDebugPrintfsDecodeTheSystemSSLReturnCode() throws {
        let text = """
            zss -> tls -> tlsInit: keyring=ZWESVR/ZoweRing
              stash=none
            zss -> tls -> tlsInit: gsk_environment_open=0
            zss -> tls -> tlsInit: gsk_environment_init=202
            """
        let records = try json(text, named: "zss.log")
        XCTAssertEqual(records.count, 3)
        XCTAssertTrue(records.allSatisfy { $0["unparsed"] == nil && $0["layout"] as? String == "zowe-c-debug" }, "\(records)")
        XCTAssertEqual(codes(records), ["ssl:0", "ssl:202 F"])
        // As written, decodes appended.
        let run = try Fixtures.runTool(["format", "--color", "never", Fixtures.write(text, named: "zss2.log")])
        XCTAssertTrue(run.stdout.contains("zss -> tls -> tlsInit: gsk_environment_init=202 [SSL 202:"), run.stdout)
    }
}
