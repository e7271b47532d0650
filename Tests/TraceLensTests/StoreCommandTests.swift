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

/// `doctor FILE` that cannot read its file, and waiting for another process's store lock.
final class StoreCommandTests: XCTestCase {
    func testDoctorOnAnUnreadableFileSaysSoAndFails() throws {
        let missing = Fixtures.tempDir() + "/gskssl.404.trc"
        let run = try Fixtures.runTool(["doctor", missing])
        XCTAssertFalse(run.crashed)
        XCTAssertEqual(run.status, 2, run.stderr)
        XCTAssertFalse(run.stdout.contains("no failed connections"), run.stdout)
        XCTAssertTrue(run.stderr.contains(missing) && run.stderr.contains("cannot"), run.stderr)
        // One readable file with a failure and one missing: the finding is printed, the status still says a file was not read.
        let mixed = try Fixtures.runTool(["doctor", Fixtures.sample("revoked-client-cert"), missing])
        XCTAssertEqual(mixed.status, 2, mixed.stderr)
        XCTAssertFalse(mixed.stdout.isEmpty)
        XCTAssertTrue(mixed.stderr.contains(missing), mixed.stderr)
        // A good sample alone still exits 0.
        let good = try Fixtures.runTool(["doctor", Fixtures.sample("tls12-success")])
        XCTAssertEqual(good.status, 0, good.stderr)
    }

    /// Holds the store's ingest lock in this process, starts `command` against the store, and
    /// sends it `signal` once it says it is waiting.
    func waitThenSignal(_ command: [String], db: String, signal: Int32) throws -> (status: Int32, crashed: Bool, stderr: String) {
        let fd = open(db, O_RDONLY)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        XCTAssertEqual(flock(fd, LOCK_EX), 0)
        let dir = Fixtures.tempDir()
        let errPath = dir + "/stderr.txt"
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let errHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        defer { try? errHandle.close() }
        let child = Process()
        child.executableURL = URL(fileURLWithPath: Fixtures.toolPath)
        child.arguments = command
        child.standardOutput = FileHandle.nullDevice
        child.standardError = errHandle
        child.standardInput = FileHandle.nullDevice
        try child.run()
        func stderr() -> String { (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "" }
        let deadline = Date().addingTimeInterval(30)
        while !stderr().contains("waiting") && child.isRunning && Date() < deadline { usleep(50_000) }
        XCTAssertTrue(stderr().contains("waiting"), stderr())
        kill(child.processIdentifier, signal)
        let stopBy = Date().addingTimeInterval(10)
        while child.isRunning && Date() < stopBy { usleep(50_000) }
        if child.isRunning { kill(child.processIdentifier, SIGKILL) }
        child.waitUntilExit()
        return (child.terminationStatus, child.terminationReason == .uncaughtSignal, stderr())
    }

    func testWaitingForTheLockNamesTheHolderAndStopsOnSignals() throws {
        let db = try Fixtures.ingest([Fixtures.sample("revoked-client-cert/gskssl.65567.trc")]).0
        let ingest = ["ingest", "--db", db, Fixtures.sample("tls12-success")]
        let interrupted = try waitThenSignal(ingest, db: db, signal: SIGINT)
        XCTAssertFalse(interrupted.crashed)
        XCTAssertEqual(interrupted.status, 130, interrupted.stderr)
        XCTAssertTrue(interrupted.stderr.contains("process \(getpid())"), "names who holds the lock: \(interrupted.stderr)")
        XCTAssertTrue(interrupted.stderr.contains("stopped (SIGINT) while waiting for the store lock"), interrupted.stderr)

        let terminated = try waitThenSignal(ingest, db: db, signal: SIGTERM)
        XCTAssertEqual(terminated.status, 143, terminated.stderr)
        XCTAssertTrue(terminated.stderr.contains("SIGTERM"), terminated.stderr)

        let link = try waitThenSignal(["link", "--db", db], db: db, signal: SIGINT)
        XCTAssertEqual(link.status, 130, link.stderr)
        XCTAssertTrue(link.stderr.contains("process \(getpid())"), link.stderr)

        // Nothing was added while it waited.
        XCTAssertEqual(try Fixtures.queries(db).sql("SELECT count(*) FROM sources").rows, [[.int(1)]])
    }

    func testLockHolderParsesProcLocks() {
        let text = """
            1: POSIX  ADVISORY  WRITE 900 08:01:55 0 EOF
            2: FLOCK  ADVISORY  WRITE 4711 00:2f:123456 0 EOF
            2: -> FLOCK  ADVISORY  WRITE 4712 00:2f:123456 0 EOF
            """
        XCTAssertEqual(StoreLockHolder.holder(inLocks: text, inode: 123456), 4711)
        XCTAssertNil(StoreLockHolder.holder(inLocks: text, inode: 55), "POSIX locks are SQLite's own, not the ingest lock")
    }
}
