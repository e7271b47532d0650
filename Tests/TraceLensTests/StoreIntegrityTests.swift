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

/// A store damaged in the middle is refused before anything is added; a store in a read-only
/// place can still be queried; `link` does not create a store.
final class StoreIntegrityTests: XCTestCase {
    /// A store of three samples, copied so that each test may damage its own.
    func sampleStore() throws -> String {
        let files = ["revoked-client-cert/gskssl.65567.trc", "tls12-success/gskssl.16777300.trc", "attls-revoked/gsksrvr-ctrace.txt"]
        let db = try Fixtures.ingest(files.map(Fixtures.sample)).0
        XCTAssertTrue(Store.walIsEmpty(db), "closed cleanly: everything is in the main file")
        return db
    }

    /// Overwrites the b-tree header of a page in the middle of the file.
    func damageMiddlePage(_ db: String) throws {
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: db))
        defer { try? handle.close() }
        let pages = Int(try handle.seekToEnd()) / 4096
        XCTAssertGreaterThan(pages, 20)
        try handle.seek(toOffset: UInt64(pages / 2 * 4096))
        handle.write(Data([0x0D, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF] + [UInt8](repeating: 0xAA, count: 64)))
    }

    func testIngestRefusesADamagedStore() throws {
        let db = try sampleStore()
        try damageMiddlePage(db)
        let before = try Data(contentsOf: URL(fileURLWithPath: db))
        let run = try Fixtures.runTool(["ingest", "--db", db, Fixtures.sample("tls13-missing-aki")])
        XCTAssertFalse(run.crashed)
        XCTAssertEqual(run.status, 2, run.stderr)
        XCTAssertTrue(run.stderr.contains("the store is damaged (integrity check:"), run.stderr)
        XCTAssertTrue(run.stderr.contains("nothing was added"), run.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: db)), before, "not a byte changed")
        XCTAssertThrowsError(try Store.openForWriting(db)) { error in
            guard case StoreError.damaged = error else { return XCTFail("\(error)") }
        }
        // link writes too, so it refuses as well.
        let link = try Fixtures.runTool(["link", "--db", db])
        XCTAssertEqual(link.status, 2)
        XCTAssertTrue(link.stderr.contains("damaged"), link.stderr)
    }

    func testIngestIntoAnIntactStoreStillWorks() throws {
        let db = try sampleStore()
        let run = try Fixtures.runTool(["ingest", "--db", db, Fixtures.sample("tls13-missing-aki")])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("added"), run.stdout)
    }

    /// Runs the tool as an unprivileged user when the tests run as root (root ignores modes).
    func runUnprivileged(_ args: [String]) throws -> Fixtures.ToolRun? {
        guard getuid() == 0 else { return try Fixtures.runTool(args) }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else { return nil }
        // The binary and its folders must be reachable by nobody.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        child.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", Fixtures.toolPath] + args
        let out = Pipe(), err = Pipe()
        child.standardOutput = out
        child.standardError = err
        child.standardInput = FileHandle.nullDevice
        try child.run()
        // Small outputs: read one pipe, then the other.
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        child.waitUntilExit()
        return Fixtures.ToolRun(status: child.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                                stderr: String(decoding: errData, as: UTF8.self), crashed: child.terminationReason == .uncaughtSignal)
    }

    func testStoreInAReadOnlyFolderCanBeQueried() throws {
        let db = try sampleStore()
        let dir = Fixtures.tempDir() + "/ro"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let copy = dir + "/s.db"
        try FileManager.default.copyItem(atPath: db, toPath: copy)
        chmod(copy, 0o444)
        chmod(dir, 0o555)
        chmod((dir as NSString).deletingLastPathComponent, 0o755)
        defer { chmod(dir, 0o755) }
        guard let summary = try runUnprivileged(["summary", "--db", copy]) else { throw XCTSkip("needs setpriv to drop root") }
        XCTAssertEqual(summary.status, 0, summary.stderr)
        XCTAssertTrue(summary.stdout.contains("gskssl.65567.trc"), summary.stdout)
        let sql = try runUnprivileged(["sql", "--db", copy, "SELECT count(*) AS n FROM records"])!
        XCTAssertEqual(sql.status, 0, sql.stderr)
        XCTAssertTrue(sql.stdout.contains("422"), sql.stdout)
        let connections = try runUnprivileged(["connections", "--db", copy, "--failed"])!
        XCTAssertEqual(connections.status, 0, connections.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["s.db"], "no -wal or -shm left behind")
        // Writing there is refused with a clear message.
        let ingest = try runUnprivileged(["ingest", "--db", copy, Fixtures.sample("tls13-missing-aki")])!
        XCTAssertEqual(ingest.status, 2)
        XCTAssertFalse(ingest.crashed)
    }

    func testLinkOnAMissingStoreRefusesAndCreatesNothing() throws {
        let db = Fixtures.tempDir() + "/none.db"
        let run = try Fixtures.runTool(["link", "--db", db])
        XCTAssertEqual(run.status, 2)
        XCTAssertTrue(run.stderr.contains("no store here yet"), run.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: db))
        let summary = try Fixtures.runTool(["summary", "--db", db])
        XCTAssertEqual(summary.stderr, run.stderr, "the same refusal as the query commands")
    }
}
