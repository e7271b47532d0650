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

/// A code is a whole token: a longer hex number is not read as a code with the label put inside it.
final class CodeBoundaryTests: XCTestCase {
    static let trace = """
        03/01/2022-10:00:00.000001 Thd-1 ERROR gsk_secure_socket_init(): Error 0x033530410000
        03/01/2022-10:00:00.000002 Thd-1 ERROR gsk_secure_socket_init(): Error 0x03353041
        03/01/2022-10:00:00.000003 Thd-1 ERROR gsk_secure_socket_init(): Error 0x03353041, giving up
        03/01/2022-10:00:00.000004 Thd-1 ERROR gsk_secure_socket_init(): Error 0x03353041_x
        03/01/2022-10:00:00.000005 Thd-1 ERROR gsk_secure_socket_init(): XError 0x03353041

        """

    func testACodeMatchNeverEndsOrStartsInsideAToken() throws {
        let (records, _) = try Fixtures.records(Fixtures.write(Self.trace))
        XCTAssertEqual(records.map(Fixtures.codes), [[], ["cms:03353041"], ["cms:03353041"], [], []])
    }

    func testTheLabelIsNeverInsertedIntoANumber() throws {
        let run = try Fixtures.runTool(["format", "--color", "never", Fixtures.write(Self.trace)])
        XCTAssertEqual(run.status, 0)
        let lines = run.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 5)
        XCTAssertTrue(lines[0].hasSuffix("Error 0x033530410000"), lines[0])
        XCTAssertTrue(lines[1].count > "Error 0x03353041".count && lines[1].contains("Error 0x03353041 "), "the whole code is decoded: \(lines[1])")
        XCTAssertTrue(lines[3].hasSuffix("Error 0x03353041_x"), lines[3])
    }

    func testSplitsTokenLooksAtBothEdges() {
        func splits(_ s: String, _ start: Int, _ end: Int) -> Bool {
            Array(s.utf8).withUnsafeBufferPointer { CodeFinder.splitsToken($0, start, end) }
        }
        XCTAssertTrue(splits("0x03353041ab", 0, 10))
        XCTAssertFalse(splits("0x03353041 ab", 0, 10))
        XCTAssertFalse(splits("0x03353041", 0, 10))
        XCTAssertFalse(splits("(431)x", 0, 5), "a match ending in punctuation splits nothing")
        XCTAssertTrue(splits("src=5", 1, 5))
        XCTAssertFalse(splits(" rc=5", 1, 5))
    }
}
