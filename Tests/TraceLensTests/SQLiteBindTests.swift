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

/// Binds use 64-bit lengths and every bind result is checked: a value SQLite refuses is a clear
/// error, never a trap (`Int32(count)`) or a misleading NOT NULL failure.
final class SQLiteBindTests: XCTestCase {
    func database(limit: Int32) throws -> Database {
        let db = try Database(path: Fixtures.tempDir() + "/b.db", mode: .readWriteCreate)
        try db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, text TEXT NOT NULL, data BLOB)")
        // A small length limit stands in for the 1 GB default: SQLite answers TOOBIG the same way.
        db.limitValueLength(limit)
        return db
    }

    func assertTooBig(_ error: Error, file: StaticString = #filePath, line: UInt = #line) {
        guard let e = error as? SQLiteError else { return XCTFail("\(error)", file: file, line: line) }
        XCTAssertTrue(e.isTooBig, "\(e)", file: file, line: line)
        XCTAssertTrue(e.message.contains("2000 bytes, more than SQLite stores in one value (1000 bytes)"), e.message, file: file, line: line)
        XCTAssertFalse(e.description.contains("NOT NULL"), file: file, line: line)
    }

    func testTooBigRawTextIsAClearError() throws {
        let db = try database(limit: 1000)
        let insert = try db.prepare("INSERT INTO t (text) VALUES (?1)")
        let big = [UInt8](repeating: 0x41, count: 2000)
        try big.withUnsafeBytes { raw in
            insert.bindText(1, raw.baseAddress!, raw.count)
            XCTAssertThrowsError(try insert.run()) { assertTooBig($0) }
        }
        // The statement is usable again afterwards.
        let small = [UInt8](repeating: 0x42, count: 10)
        try small.withUnsafeBytes { raw in
            insert.bindText(1, raw.baseAddress!, raw.count)
            try insert.run()
        }
        XCTAssertEqual(try db.scalar("SELECT count(*) FROM t"), 1)
    }

    func testTooBigValuesThroughEveryBind() throws {
        let db = try database(limit: 1000)
        let insert = try db.prepare("INSERT INTO t (text, data) VALUES (?1, ?2)")
        let big = String(repeating: "x", count: 2000)
        XCTAssertThrowsError(try insert.bind([.text(big), .null])) { assertTooBig($0) }
        XCTAssertThrowsError(try insert.bind([.text("ok"), .blob([UInt8](repeating: 1, count: 2000))])) { assertTooBig($0) }
        Array(big.utf8).withUnsafeBytes { insert.bindText(1, $0.baseAddress, $0.count) }
        XCTAssertThrowsError(try insert.step()) { assertTooBig($0) }
        try insert.bind([.text("ok"), .blob([1, 2, 3])])
        try insert.run()
        XCTAssertEqual(try db.scalar("SELECT length(data) FROM t"), 3)
    }

    func testBindOutOfRangeIsReported() throws {
        let db = try database(limit: 1000)
        let insert = try db.prepare("INSERT INTO t (text) VALUES (?1)")
        insert.bind(1, .text("a"))
        insert.bind(5, 7)
        XCTAssertThrowsError(try insert.run()) { error in
            XCTAssertTrue("\(error)".contains("cannot bind value 5"), "\(error)")
        }
    }
}
