import Foundation
import XCTest
import TraceLensBench

/// `bench --vs-lnav` and `bench --only queries`, run as the command on small generated traces:
/// every goal gets its row. No speed is asserted (the machine is shared; figures vary).
final class BenchTests: XCTestCase {
    func testVersusLnavPrintsEveryGoal() throws {
        let run = try Fixtures.runTool(["bench", "--vs-lnav", "--size-mb", "2"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertFalse(run.crashed)
        let lines = run.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains { $0.hasPrefix("goal") && $0.contains("measured") && $0.contains("target") && $0.contains("verdict") }, run.stdout)
        for goal in ["ingest + summary vs lnav first answer", "ingest throughput", "ingest peak memory", "store size / trace size", "format / grep -c"] {
            let row = lines.first { $0.hasPrefix(goal) }
            XCTAssertNotNil(row, "no row for \(goal):\n\(run.stdout)")
            guard let row, goal != "ingest + summary vs lnav first answer" else { continue }
            XCTAssertTrue(row.hasSuffix(" met") || row.hasSuffix("not measured"), row)
        }
        // lnav's row has a ratio, or says why it has none.
        let lnav = try XCTUnwrap(lines.first { $0.hasPrefix("ingest + summary vs lnav first answer") })
        let ratio = lnav.range(of: #"\d+\.\d+x \(\d+\.\d s / \d+\.\d+ s\)"#, options: .regularExpression) != nil
        XCTAssertTrue(ratio || lnav.contains("lnav not installed"), lnav)
        if ratio {
            // lnav read the file with the format the bench gave it: it counted what the trace holds.
            let counted = try XCTUnwrap(lines.first { $0.contains("lnav counted") }, run.stdout)
            XCTAssertFalse(counted.contains("differ"), counted)
        }
        // The slow part is said, not run.
        XCTAssertTrue(run.stdout.contains("--records"), run.stdout)
        XCTAssertFalse(lines.contains { $0.hasPrefix("summary, ") })
    }

    func testQueriesPrintTheThreeQueries() throws {
        let run = try Fixtures.runTool(["bench", "--only", "queries", "--records", "20000"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let lines = run.stdout.split(separator: "\n").map(String.init)
        for query in ["summary, ", "connections --failed, ", "show "] {
            let row = lines.first { $0.hasPrefix(query) }
            XCTAssertNotNil(row, "no row for \(query):\n\(run.stdout)")
            XCTAssertTrue(row?.contains("< 1 s") ?? false, row ?? "")
            XCTAssertTrue(row?.range(of: #"\d+\.\d\d s"#, options: .regularExpression) != nil, row ?? "")
        }
    }

    /// `bench --only export` (1 MB: export is slow in a debug build): the ndjson row always; the ClickHouse rows (its own server, the
    /// daemon's lag) where clickhouse-server is installed.
    func testExportPrintsThroughputAndLag() throws {
        let run = try Fixtures.runTool(["bench", "--only", "export", "--size-mb", "1"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertFalse(run.crashed)
        let lines = run.stdout.split(separator: "\n").map(String.init)
        let ndjson = try XCTUnwrap(lines.first { $0.hasPrefix("export --ndjson throughput") }, run.stdout)
        XCTAssertTrue(ndjson.range(of: #"\d+ records/s \(\d+ MB/s of JSON\)"#, options: .regularExpression) != nil, ndjson)
        XCTAssertTrue(ndjson.hasSuffix(" measured"), ndjson)
        guard ClickHouseServer.command != nil else {
            XCTAssertTrue(run.stdout.contains("clickhouse-server not installed: skipped"), run.stdout)
            return
        }
        let clickhouse = try XCTUnwrap(lines.first { $0.hasPrefix("export --clickhouse throughput") }, run.stdout)
        XCTAssertTrue(clickhouse.range(of: #"\d+ records/s"#, options: .regularExpression) != nil, clickhouse)
        for row in ["export lag, median", "export lag, 90th percentile"] {
            let line = try XCTUnwrap(lines.first { $0.hasPrefix(row) }, run.stdout)
            XCTAssertTrue(line.range(of: #"\d+ ms"#, options: .regularExpression) != nil, line)
        }
        for row in ["ClickHouse size / trace size", "fleet summary, ", "fleet connections --failed, "] {
            XCTAssertTrue(lines.contains { $0.hasPrefix(row) }, "no row for \(row):\n\(run.stdout)")
        }
        XCTAssertFalse(run.stdout.contains("not there after"), run.stdout)
    }

    func testVersusLnavRefusesOnly() throws {
        let run = try Fixtures.runTool(["bench", "--vs-lnav", "--only", "format"])
        XCTAssertNotEqual(run.status, 0)
        XCTAssertTrue(run.stderr.contains("--vs-lnav"), run.stderr)
    }
}
