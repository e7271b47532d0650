import XCTest
@testable import TraceLensStore

/// `format --db`: what a store holds prints as its files did, byte for byte: the records' text
/// from the compressed blocks, read again with their layouts, their TLS lines and times from
/// the store.
final class FormatFromStoreTests: XCTestCase {
    func testEverySampleSourcePrintsFromTheStoreAsFromItsFile() throws {
        let db = Fixtures.tempDir() + "/s.db"
        let ingest = try Fixtures.runTool(["ingest", "--quiet", "--batch", "100", "--db", db, Fixtures.root + "/samples"])
        XCTAssertEqual(ingest.status, 0, ingest.stderr)
        // The files in the order the store numbered them (a folder's files, sorted).
        let store = try Store.openForReading(db)
        let paths = try store.db.prepare("SELECT path FROM sources ORDER BY id").rows().compactMap { row -> String? in
            if case let .text(p) = row[0] { return p }
            return nil
        }
        XCTAssertGreaterThan(paths.count, 25)
        for mode in [[], ["--json"], ["--errors"]] {
            let fromFiles = try Fixtures.runTool(["format", "--color", "never"] + mode + paths)
            let fromStore = try Fixtures.runTool(["format", "--color", "never", "--db", db] + mode)
            XCTAssertEqual(fromStore.status, 0, fromStore.stderr)
            XCTAssertFalse(fromFiles.stdout.isEmpty)
            XCTAssertEqual(fromStore.stdout, fromFiles.stdout, "format \(mode) from the store")
        }
        // One source, by number, path or file name.
        let one = try Fixtures.runTool(["format", "--db", db, "gskssl.65567.trc"])
        XCTAssertEqual(one.stdout, try Fixtures.runTool(["format", Fixtures.sample("revoked-client-cert/gskssl.65567.trc")]).stdout)
        XCTAssertTrue(one.stdout.contains("tls: Alert fatal certificate_revoked (44)"), one.stdout)
    }

    func testWhatIsNotThereIsSaid() throws {
        let (db, _) = try Fixtures.ingest([Fixtures.sample("revoked-client-cert/gskssl.65567.trc")])
        let none = try Fixtures.runTool(["format", "--db", db, "nosuch.trc"])
        XCTAssertEqual(none.status, 1)
        XCTAssertTrue(none.stderr.contains("no source 'nosuch.trc' in the store"), none.stderr)
        XCTAssertEqual(none.stdout, "")
        let missing = try Fixtures.runTool(["format", "--db", Fixtures.tempDir() + "/missing.db"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("no store here yet"), missing.stderr)
        let nothing = try Fixtures.runTool(["format"])
        XCTAssertEqual(nothing.status, 64)
        XCTAssertTrue(nothing.stderr.contains("or a store with --db"), nothing.stderr)
    }
}
