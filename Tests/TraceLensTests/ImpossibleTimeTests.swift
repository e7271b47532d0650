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

/// A date or time that cannot be (`02/30/2022`, month 13, hour 25) is kept as written and marked
/// bad, never printed as another date.
final class ImpossibleTimeTests: XCTestCase {
    static let gsk = """
        03/01/2022-10:00:00.000001 Thd-1 INFO gsk_secure_socket_init(): start
        02/30/2022-10:00:01.000002 Thd-1 ERROR gsk_secure_socket_init(): Error 0x03353041
        03/01/2022-25:00:02.000003 Thd-1 INFO gsk_secure_socket_close(): done
        03/01/2022-10:00:03.000004 Thd-1 INFO gsk_secure_socket_close(): after

        """

    func testImpossibleDatesKeepTheirTextAndHaveNoTime() throws {
        let (records, summary) = try Fixtures.records(Fixtures.write(Self.gsk))
        XCTAssertEqual(summary.format, "gsktrace")
        XCTAssertEqual(records.count, 4)
        XCTAssertTrue(records.allSatisfy { !$0.isUnparsed }, "the lines keep their layout")
        XCTAssertEqual(records[0].time?.string(iso: true), "2022-03-01T10:00:00.000001")
        XCTAssertNil(records[1].time)
        XCTAssertEqual(records[1].badTime.map(records[1].string), "02/30/2022-10:00:01.000002")
        XCTAssertEqual(records[1].level, .error)
        XCTAssertNil(records[2].time)
        XCTAssertEqual(records[2].badTime.map(records[2].string), "03/01/2022-25:00:02.000003")
        // A bad time moves no date on: the next good one is read as written.
        XCTAssertEqual(records[3].time?.string(iso: true), "2022-03-01T10:00:03.000004")
        XCTAssertNil(records[3].badTime)
    }

    func testTimeFormatsMarkEveryImpossiblePiece() throws {
        func parts(_ format: String, _ text: String) throws -> TimeParts? {
            let f = try TimeFormat(format)
            var p = TimeParts()
            let bytes = Array(text.utf8)
            return bytes.withUnsafeBufferPointer { f.scan($0, 0, into: &p) } == bytes.count ? p : nil
        }
        for (format, text) in [("MM/DD/YYYY", "02/30/2022"), ("YYYY-MM-DD", "2022-13-01"), ("YYYY-MM-DD", "2021-02-29"),
                               ("YYYY-MM-DD", "2022-04-31"), ("YYYY-MM-DD", "2022-00-10"), ("YYYY-MM-DD", "2022-01-00"),
                               ("hh:mm:ss", "25:00:00"), ("hh:mm:ss", "10:60:00"), ("hh:mm:ss", "10:00:61")] {
            let p = try XCTUnwrap(parts(format, text), text)
            XCTAssertTrue(p.impossible, text)
            XCTAssertNil(Timestamp(p), text)
        }
        for (format, text) in [("YYYY-MM-DD", "2024-02-29"), ("MM/DD/YYYY", "12/31/2022"), ("hh:mm:ss", "23:59:60"), ("MON DD", "Feb 29")] {
            XCTAssertEqual(try parts(format, text)?.impossible, false, text)
        }
        XCTAssertNil(Timestamp.parseUser("2022-02-30"), "--since with an impossible date is refused")
    }

    func testTextOutputMarksTheBadTime() throws {
        let run = try Fixtures.runTool(["format", "--color", "never", Fixtures.write(Self.gsk)])
        XCTAssertEqual(run.status, 0)
        let lines = run.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[1].hasPrefix("[bad time 02/30/2022-10:00:01.000002] Thd-1 ERROR gsk_secure_socket_init(): Error 0x03353041"), lines[1])
        XCTAssertTrue(lines[2].hasPrefix("[bad time 03/01/2022-25:00:02.000003] Thd-1 INFO"), lines[2])
        XCTAssertFalse(run.stdout.contains("03/02/2022"), "02/30 is not shown as March 2")
    }

    func testJSONSaysTimeNullAndKeepsTheText() throws {
        let run = try Fixtures.runTool(["format", "--json", Fixtures.write(Self.gsk)])
        XCTAssertEqual(run.status, 0)
        let objects = try run.stdout.split(separator: "\n").map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        XCTAssertTrue(objects[1]["time"] is NSNull)
        XCTAssertEqual(objects[1]["bad_time"] as? String, "02/30/2022-10:00:01.000002")
        XCTAssertEqual(objects[0]["time"] as? String, "2022-03-01T10:00:00.000001")
        XCTAssertNil(objects[0]["bad_time"])
    }

    func testTheStoreHoldsNoWrongTime() throws {
        let db = Fixtures.tempDir() + "/t.db"
        let ingest = try Fixtures.runTool(["ingest", "--db", db, Fixtures.write(Self.gsk)])
        XCTAssertEqual(ingest.status, 0, ingest.stderr)
        let sql = try Fixtures.runTool(["sql", "--db", db, "--csv", "SELECT line, time IS NULL FROM records ORDER BY line"])
        XCTAssertEqual(sql.status, 0, sql.stderr)
        XCTAssertEqual(sql.stdout.split(whereSeparator: \.isNewline).dropFirst().map(String.init), ["1,0", "2,1", "3,1", "4,0"])
    }

    func testMonthThirteenInASyslogLineIsARecordWithABadTime() throws {
        let text = """
            2022-03-01T10:00:00 zos1 TTLS[33]: EZD1286I TTLS Error RC: 5006 Initial Handshake LOCAL: 10.1.0.1..443
            2022-13-01T10:00:01 zos1 TTLS[33]: EZD1286I TTLS Error RC: 5006 Initial Handshake LOCAL: 10.1.0.1..443

            """
        let (records, _) = try Fixtures.records(Fixtures.write(text), format: "attls-syslog")
        XCTAssertEqual(records.count, 2)
        XCTAssertFalse(records[1].isUnparsed)
        XCTAssertNil(records[1].time)
        XCTAssertEqual(records[1].badTime.map(records[1].string), "2022-13-01T10:00:01")
    }
}
