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
    /// Runs `tracelens` (through bash, after `shell`: `ulimit -n 64`) until `ready(stdout, stderr)`
    /// says so or `timeout` passes, then stops it with SIGINT as Ctrl-C would. Output goes to
    /// files, read at the end; stderr is returned, never shown.
    static func runWatch(_ arguments: [String], shell: String = "true", timeout: Double = 60,
                         ready: (_ stdout: String, _ stderr: String) throws -> Bool) throws -> ToolRun {
        let dir = tempDir()
        let outPath = dir + "/stdout.txt", errPath = dir + "/stderr.txt"
        for p in [outPath, errPath] { _ = FileManager.default.createFile(atPath: p, contents: nil) }
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        defer { try? out.close(); try? err.close() }
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/bash")
        child.arguments = ["-c", shell + "; exec \"$0\" \"$@\"", toolPath] + arguments
        child.standardInput = FileHandle.nullDevice
        child.standardOutput = out
        child.standardError = err
        try child.run()
        func text(_ p: String) -> String { String(decoding: FileManager.default.contents(atPath: p) ?? Data(), as: UTF8.self) }
        let deadline = Date(timeIntervalSinceNow: timeout)
        while child.isRunning, Date() < deadline, !(try ready(text(outPath), text(errPath))) { usleep(100_000) }
        if child.isRunning { child.interrupt() }
        child.waitUntilExit()
        return ToolRun(status: child.terminationStatus, stdout: text(outPath), stderr: text(errPath),
                       crashed: child.terminationReason == .uncaughtSignal)
    }

    /// A count from a store another process may be writing (nil while it has no tables yet).
    static func count(_ db: String, _ sql: String) -> Int64? {
        (try? Store.openForReading(db)).flatMap { try? $0.db.scalar(sql) }
    }
}

/// `watch` over more files than it may hold open: it raises its soft limit, parks files that do
/// not grow (their descriptors closed, opened again by name when they grow), lists them in
/// `status`, and says once per file when one cannot be opened.
final class FollowDescriptorTests: XCTestCase {
    func line(_ thread: Int, _ text: String) -> String { "03/24/2022-10:07:19 Thd-\(thread) INFO gsk_x(): \(text)\n" }

    /// A folder of `count` one-line traces.
    func traces(_ count: Int) -> String {
        let dir = Fixtures.tempDir()
        for i in 1...count { _ = FileManager.default.createFile(atPath: dir + "/f\(i).trc", contents: Data(line(i, "first of \(i)").utf8)) }
        return dir
    }

    /// 150 files with `ulimit -n 64` (soft and hard): every file is read, most are parked, one
    /// that grows later is read again, and nothing is warned about.
    func testMoreFilesThanTheDescriptorLimitAreAllRead() throws {
        let dir = traces(150)
        let db = Fixtures.tempDir() + "/w.db"
        var appended = false
        var statusWhileRunning = ""
        let run = try Fixtures.runWatch(["watch", "--db", db, dir + "/*.trc"], shell: "ulimit -n 64") { _, _ in
            let stored = Fixtures.count(db, "SELECT count(*) FROM records") ?? 0
            if stored == 150 && !appended {
                // A parked file grows: it is opened again by its name and read.
                let fd = open(dir + "/f7.trc", O_WRONLY | O_APPEND)
                _ = Array(line(7, "grown").utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                close(fd)
                appended = true
            }
            guard stored == 151 else { return false }
            statusWhileRunning = try Fixtures.runTool(["status", "--db", db]).stdout
            return true
        }
        XCTAssertFalse(run.crashed)
        XCTAssertEqual(run.status, 0)
        XCTAssertEqual(Fixtures.count(db, "SELECT count(*) FROM records"), 151)
        XCTAssertEqual(Fixtures.count(db, "SELECT count(DISTINCT source) FROM records"), 150)
        XCTAssertEqual(run.stdout.split(separator: "\n").count, 151, "every record printed once")
        XCTAssertTrue(run.stdout.contains("f7.trc:2 03/24/2022-10:07:19 Thd-7 INFO gsk_x(): grown"))
        XCTAssertFalse(run.stderr.contains("cannot-open"), "no file went unread")
        XCTAssertTrue(run.stderr.isEmpty, "nothing to warn about")
        // While it ran, status listed every file; those parked as idle.
        let rows = statusWhileRunning.split(separator: "\n").filter { $0.hasPrefix(dir) }
        XCTAssertEqual(rows.count, 150, statusWhileRunning)
        XCTAssertGreaterThan(rows.filter { $0.contains(" idle ") }.count, 100, statusWhileRunning)
        XCTAssertFalse(rows.contains { $0.contains(" error ") }, statusWhileRunning)
    }

    /// `ulimit -Sn 64` with a higher hard limit: the soft limit is raised to the hard one.
    func testSoftLimitIsRaisedToTheHardOne() throws {
        let hard = DescriptorLimit.current().hard
        try XCTSkipIf(hard <= 64, "the hard limit here is \(hard)")
        let dir = traces(3)
        let db = Fixtures.tempDir() + "/w.db"
        let run = try Fixtures.runWatch(["watch", "--verbose", "--db", db, dir + "/*.trc"], shell: "ulimit -Sn 64") { _, err in
            err.contains(" started ") && Fixtures.count(db, "SELECT count(*) FROM records") == 3
        }
        XCTAssertEqual(run.status, 0)
        XCTAssertTrue(run.stderr.contains("info open-file-limit soft=\(hard) raised_from=64"), run.stderr)
    }

    // MARK: in process, with a clock the test moves

    final class Follower {
        let dir: String
        let follower: FollowRun
        let logged = LoggedLines()
        let clock = ClockBox()

        init(dir: String, pattern: String = "*.trc", configure: (inout FollowOptions) -> Void) throws {
            self.dir = dir
            var options = FollowOptions()
            options.patterns = [dir + "/" + pattern]
            options.linkInterval = 0
            configure(&options)
            let logged = logged, clock = clock
            follower = try FollowRun(plugins: Fixtures.plugins, store: try Store.openForWriting(Fixtures.tempDir() + "/f.db"), options: options,
                                     log: FollowLog(level: .debug, write: { logged.append($0) }), clock: { clock.now })
        }

        func cycle(advance: Double = 0.1) {
            clock.now += advance
            follower.cycle()
        }

        func logLines(_ level: String, _ event: String) -> [String] { logged.lines.filter { $0.contains(" \(level) \(event) ") } }

        func state(_ name: String) throws -> String? {
            let q = try follower.store.db.prepare("SELECT state FROM follows WHERE path = ?1")
            try q.bind([.text(dir + "/" + name)])
            return try q.step() ? q.string(0) : nil
        }

        func records() throws -> Int64 { try follower.store.db.scalar("SELECT count(*) FROM records") ?? -1 }
    }

    final class ClockBox { var now: Double = 100 }

    func append(_ path: String, _ text: String) {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        _ = Array(text.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    func testFilesBeyondTheBudgetAreParkedAndReopenedWhenTheyGrow() throws {
        let dir = traces(20)
        let f = try Follower(dir: dir) { $0.maxOpenFiles = 4; $0.idleClose = 10 }
        f.cycle()
        XCTAssertEqual(try f.records(), 20, "all read in the first cycle")
        XCTAssertLessThanOrEqual(f.follower.descriptors.openCount, 4)
        XCTAssertEqual(try f.state("f1.trc"), "idle", "read first, parked first")
        XCTAssertEqual(try f.state("f9.trc"), "following", "read last, still open")
        XCTAssertTrue(f.logLines("warn", "cannot-open").isEmpty)

        // A parked file grows: opened again by name (its identity checked) and read on.
        append(dir + "/f1.trc", line(1, "second"))
        f.cycle()
        XCTAssertEqual(try f.records(), 21)
        XCTAssertEqual(try f.state("f1.trc"), "following")
        XCTAssertEqual(try f.follower.store.db.scalar("SELECT count(DISTINCT source) FROM records"), 20, "the same source, not a new one")

        // Quiet for idleClose: every descriptor is given back.
        f.cycle(advance: 11)
        XCTAssertEqual(f.follower.descriptors.openCount, 0)
        XCTAssertEqual(try f.state("f20.trc"), "idle")

        // Renamed to a name the pattern matches while parked: still the same source.
        XCTAssertEqual(rename(dir + "/f2.trc", dir + "/f2-renamed.trc"), 0)
        append(dir + "/f2-renamed.trc", line(2, "after the rename"))
        f.cycle()
        XCTAssertEqual(try f.records(), 22)
        XCTAssertEqual(try f.follower.store.db.scalar("SELECT count(DISTINCT source) FROM records"), 20)
        XCTAssertEqual(f.logLines("info", "renamed").count, 1)

        // Removed while parked: closed, nothing lost (it had been read to its end).
        XCTAssertEqual(unlink(dir + "/f3.trc"), 0)
        f.cycle()
        XCTAssertEqual(try f.state("f3.trc"), "closed")
        XCTAssertTrue(f.logLines("warn", "closed").isEmpty)
    }

    /// A file that cannot be opened (here: the only descriptor held by a rotated file that is
    /// still being read) shows as `error` in status, is warned about once, and is read when a
    /// descriptor is free again.
    func testAFileThatCannotBeOpenedIsWarnedOnceAndReadLater() throws {
        let dir = Fixtures.tempDir()
        append(dir + "/a.trc", line(1, "a one"))
        let f = try Follower(dir: dir) { $0.maxOpenFiles = 1; $0.quiet = 2 }
        f.cycle()
        XCTAssertEqual(try f.records(), 1)
        // Rotated by rename: the descriptor reads the old file on until it is quiet.
        XCTAssertEqual(rename(dir + "/a.trc", dir + "/a.trc.1"), 0)
        append(dir + "/b.trc", line(2, "b one"))
        for _ in 0..<12 { f.cycle(advance: 0.1) }
        XCTAssertEqual(try f.state("b.trc"), "error")
        XCTAssertEqual(try f.records(), 1)
        XCTAssertEqual(f.logLines("warn", "cannot-open").count, 1, "warned once")
        XCTAssertTrue(f.logLines("warn", "cannot-open")[0].contains("no file descriptor free"))
        XCTAssertGreaterThan(f.logLines("debug", "cannot-open").count, 0, "tried again")
        // The rotated file goes quiet and is closed: b gets the descriptor.
        for _ in 0..<30 { f.cycle(advance: 0.1) }
        XCTAssertEqual(try f.records(), 2)
        XCTAssertEqual(try f.state("b.trc"), "following")
        XCTAssertEqual(f.logLines("info", "recovered").count, 1)
        XCTAssertEqual(f.logLines("warn", "cannot-open").count, 1)
    }
}
