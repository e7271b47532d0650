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

/// Damaged `.gz` input: every line that could be inflated is printed and stored, the damage is
/// reported with where it starts, the exit status says so, and no more lines are claimed than read.
final class DamagedGzipTests: XCTestCase {
    func trace(_ count: Int) -> [UInt8] {
        Array((1...count).map { "03/24/2022-10:07:\(String(format: "%02d", $0 % 60)) Thd-3 INFO f(): line \($0) of the trace\n" }.joined().utf8)
    }

    func gz(_ bytes: [UInt8]) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.gzip(bytes, named: "x.gz"))))
    }

    func linesPrinted(_ out: String) -> [Int] {
        out.split(separator: "\n").compactMap { l in
            guard let r = l.range(of: "line ") else { return nil }
            return Int(l[r.upperBound...].prefix { $0.isNumber })
        }
    }

    func testTrailingJunkKeepsEveryLineOfTheMember() throws {
        let text = trace(5620)
        let data = try gz(text) + Array("garbage after the member, as a bad transfer leaves".utf8) + [UInt8](repeating: 0, count: 512)
        let path = Fixtures.write(data, named: "junk.trc.gz")
        let run = try Fixtures.runTool(["format", path])
        XCTAssertFalse(run.crashed)
        XCTAssertEqual(linesPrinted(run.stdout), Array(1...5620))
        XCTAssertEqual(run.status, 0, "the data is whole; the junk is only a warning: \(run.stderr)")
        XCTAssertTrue(run.stderr.contains(path) && run.stderr.contains("ignored what follows the gzip data from byte"), run.stderr)

        let db = Fixtures.tempDir() + "/j.db"
        let ingest = try Fixtures.runTool(["ingest", "--db", db, path])
        XCTAssertEqual(ingest.status, 0, ingest.stderr)
        XCTAssertTrue(ingest.stdout.contains("added 5620 records"), ingest.stdout)
    }

    func testJunkThatLooksLikeAGzipStart() throws {
        // 0x1F alone after a member: not a second member, junk all the same.
        let path = Fixtures.write(try gz(trace(10)) + [0x1F, 0x00, 0x01], named: "j2.trc.gz")
        let (records, summary) = try Fixtures.records(path)
        XCTAssertEqual(records.count, 10)
        XCTAssertNil(summary.damage)
        XCTAssertNotNil(summary.trailingJunk)
    }

    func testTruncatedGzipPrintsWhatInflatesAndSaysWhere() throws {
        let whole = try gz(trace(3000))
        for cut in [whole.count - 20, whole.count / 2, 40] {
            let path = Fixtures.write(Array(whole.prefix(cut)), named: "cut.trc.gz")
            let run = try Fixtures.runTool(["format", path])
            XCTAssertFalse(run.crashed)
            XCTAssertEqual(run.status, 1, "damage fails the run")
            let printed = linesPrinted(run.stdout)
            // In order, none lost (the last may be cut inside its number).
            XCTAssertEqual(Array(printed.dropLast()), Array(0..<max(printed.count - 1, 0)).map { $0 + 1 })
            if cut > 1000 { XCTAssertGreaterThan(printed.count, 100) }
            XCTAssertTrue(run.stderr.contains("\(path): gzip data is cut short at byte \(cut) of the file"), run.stderr)
            // Never more lines claimed than read: the count reported is the count handed out.
            let (records, summary) = try Fixtures.records(path)
            XCTAssertEqual(summary.lines, records.count)
            if records.count > 0 {
                XCTAssertTrue(run.stderr.contains("the \(records.count) line"), "claims exactly the lines read: \(run.stderr)")
            }
        }
    }

    func testSmallTruncatedGzipIngestStoresEveryLine() throws {
        let whole = try gz(trace(40))
        let path = Fixtures.write(Array(whole.prefix(whole.count - 12)), named: "small.trc.gz")
        let (records, _) = try Fixtures.records(path)
        XCTAssertGreaterThan(records.count, 30, "a small file loses only its damaged end")
        let db = Fixtures.tempDir() + "/s.db"
        let run = try Fixtures.runTool(["ingest", "--db", db, path])
        XCTAssertEqual(run.status, 1, run.stderr)
        XCTAssertTrue(run.stderr.contains("cut short"), run.stderr)
        let database = try Database(path: db, mode: .readOnly)
        XCTAssertEqual(try database.scalar("SELECT count(*) FROM records"), Int64(records.count))
    }

    func testPartialLastBatchIsStoredAndTheLedgerIsRight() throws {
        let whole = try gz(trace(1000))
        let path = Fixtures.write(Array(whole.prefix(whole.count * 3 / 4)), named: "batches.trc.gz")
        let (records, summary) = try Fixtures.records(path)
        XCTAssertGreaterThan(records.count, 7 * 10)
        let db = Fixtures.tempDir() + "/b.db"
        let run = try Fixtures.runTool(["ingest", "--db", db, "--batch", "7", path])
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.stdout.contains("added \(records.count) records"), run.stdout)
        let database = try Database(path: db, mode: .readOnly)
        XCTAssertEqual(try database.scalar("SELECT count(*) FROM records"), Int64(records.count), "the partial last batch is stored too")
        XCTAssertEqual(try database.scalar("SELECT max(line) FROM records"), Int64(summary.lines))
        // The ledger: the same file again adds nothing and stores nothing twice.
        let again = try Fixtures.runTool(["ingest", "--db", db, "--batch", "7", path])
        XCTAssertTrue(again.stdout.contains("unchanged"), again.stdout + again.stderr)
        XCTAssertEqual(try database.scalar("SELECT count(*) FROM records"), Int64(records.count))
    }

    func testCorruptDataInTheMiddle() throws {
        var data = try gz(trace(3000))
        for i in (data.count / 2)..<(data.count / 2 + 64) { data[i] ^= 0x5A }
        let path = Fixtures.write(data, named: "corrupt.trc.gz")
        let run = try Fixtures.runTool(["format", path])
        XCTAssertFalse(run.crashed)
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.stderr.contains("\(path): gzip data is damaged ("), run.stderr)
        XCTAssertTrue(run.stderr.contains("of the file"), run.stderr)
        let printed = linesPrinted(run.stdout)
        XCTAssertGreaterThan(printed.count, 500, "the lines before the damage are printed")
    }
}
