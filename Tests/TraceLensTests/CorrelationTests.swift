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

extension Fixtures {
    /// Ingests files into a new store in a temporary folder; returns the store path and results.
    static func ingest(_ paths: [String], db: String? = nil, batch: Int = 50_000) throws -> (String, [IngestResult]) {
        let dbPath = db ?? tempDir() + "/t.db"
        var options = IngestOptions()
        options.batchRecords = batch
        let run = try IngestRun(plugins: plugins, store: try Store.openForWriting(dbPath), options: options)
        let results = try paths.map { try run.ingest($0) }
        return (dbPath, results)
    }

    static func queries(_ db: String) throws -> StoreQueries {
        StoreQueries(store: try Store.openForReading(db), plugins: plugins)
    }
}

final class CorrelationTests: XCTestCase {
    /// The generator's connections, found exactly: every record in its true connection.
    func testGeneratedTraceCorrelatesExactly() throws {
        let path = Fixtures.tempDir() + "/gskssl.77.trc"
        let truth = try SyntheticTrace(threads: 6, seed: 11).writeWithTruth(to: path, targetBytes: 600_000)
        let (db, results) = try Fixtures.ingest([path], batch: 997)
        let store = try Store.openForReading(db)
        let score = try Benchmark.accuracy(truth: truth, store: store, source: results[0].source)
        if score.correctRecords != score.records {
            // Name the first wrong records, to make a failure readable.
            let q = try store.db.prepare("SELECT line, conn, text FROM records WHERE source = ?1 ORDER BY line")
            try q.bind([.int(results[0].source)])
            var shown = 0
            var pairs: [Int: Int64] = [:]
            while try q.step(), shown < 15 {
                let line = q.int(0)
                let conn: Int64? = q.isNull(1) ? nil : q.int64(1)
                let t = truth.owner(ofLine: line)
                if let t, let conn, pairs[t] == nil { pairs[t] = conn }
                if (t == nil) != (conn == nil) || (t != nil && pairs[t!] != conn) {
                    print("line \(line): truth \(t.map(String.init) ?? "none"), stored \(conn.map(String.init) ?? "none"): \(q.string(2) ?? "")")
                    shown += 1
                }
            }
        }
        XCTAssertEqual(score.correctRecords, score.records)
        XCTAssertEqual(score.exactConnections, truth.connections.count)
        XCTAssertEqual(results[0].connections, truth.connections.count)
        XCTAssertEqual(score.failedFound, truth.connections.filter { $0.returnCode != 0 }.count)
    }
}
