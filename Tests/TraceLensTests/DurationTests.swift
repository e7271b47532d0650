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

/// Durations users write (`--window`, `--offset`, `--poll-interval`, `--quiet`, the daemon's
/// `poll-interval`, `quiet`, `link-interval`, `retention-days`): a value too large is a clear
/// error, never an overflow trap.
final class DurationTests: XCTestCase {
    func testParsesTheUsualForms() {
        XCTAssertEqual(TimeSpan.micros("5s"), 5_000_000)
        XCTAssertEqual(TimeSpan.micros("1.5s"), 1_500_000)
        XCTAssertEqual(TimeSpan.micros("250ms"), 250_000)
        XCTAssertEqual(TimeSpan.micros("-3600s"), -3_600_000_000)
        XCTAssertEqual(TimeSpan.micros(" 2m "), 120_000_000)
        XCTAssertEqual(TimeSpan.micros("100us"), 100)
        XCTAssertEqual(TimeSpan.parse("3153600000s"), .success(3_153_600_000_000_000), "100 years is the limit itself")
    }

    func testTooLargeAndNonsenseAreTold() {
        for text in ["9223372036854775807s", "99999999999999999999", "9223372036854775807h", "1e30s", "200000000000s", "3153600001s", "99999999999999999999.5h"] {
            let expected: TimeSpan.Problem = text.contains("e") ? .notADuration : .tooLarge
            XCTAssertEqual(TimeSpan.parse(text), .failure(expected), text)
        }
        for text in ["", "s", ".", "-", "inf", "nan", "infinity", "0x10s", "1.2.3s", "soon", "5 s"] {
            XCTAssertEqual(TimeSpan.parse(text), .failure(.notADuration), text)
        }
    }

    /// The commands that trapped: each says what is wrong and exits 64 (usage).
    func testCommandLineDurationsTooLargeAreUsageErrors() throws {
        let dir = Fixtures.tempDir()
        let db = dir + "/s.db"
        let huge = "9223372036854775807h"
        let runs: [[String]] = [
            ["ingest", "--db", db, "--window", huge, Fixtures.sample("tls12-success")],
            ["ingest", "--db", db, "--offset", "client.txt=\(huge)", Fixtures.sample("tls12-success")],
            ["link", "--db", db, "--window", huge],
            ["watch", "--db", db, "--poll-interval", huge, dir + "/*.trc"],
            ["watch", "--db", db, "--quiet", huge, dir + "/*.trc"],
            ["doctor", "--offset", "client.txt=-\(huge)", Fixtures.sample("tls12-success")],
        ]
        for args in runs {
            let run = try Fixtures.runTool(args)
            XCTAssertFalse(run.crashed, "\(args)")
            XCTAssertEqual(run.status, 64, "\(args): \(run.stderr)")
            XCTAssertTrue(run.stderr.contains("too large (at most 100 years"), "\(args): \(run.stderr)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: db), "nothing was started")
    }

    func testPluginLinkWindowTooLargeIsAProblem() throws {
        let problems = try Fixtures.loadProblems(withPlugin: """
            [[link]]
            name = "wide"
            from = "attls-conn"
            to = "gsk-session"
            window = "9223372036854775807h"
            """)
        XCTAssertTrue(problems.contains("window '9223372036854775807h' is too large"), problems)
    }

    /// A rule that links a connection rule to itself must say, by layout, which side is which;
    /// a layout the connection rule does not read is named.
    func testPluginSelfLinkNeedsLayoutsThatDoNotOverlap() throws {
        let missing = try Fixtures.loadProblems(withPlugin: """
            [[link]]
            name = "self"
            from = "gld-ssl-failure"
            to = "gld-ssl-failure"
            copy = true
            """)
        XCTAssertTrue(missing.contains("links 'gld-ssl-failure' to itself: from-formats and to-formats must name layouts that do not overlap"), missing)
        let unknown = try Fixtures.loadProblems(withPlugin: """
            [[link]]
            name = "self"
            from = "gld-ssl-failure"
            from-formats = ["gsktrace"]
            to = "gld-ssl-failure"
            to-formats = ["gld-joblog"]
            """)
        XCTAssertTrue(unknown.contains("names layout 'gsktrace', which connection rule 'gld-ssl-failure' does not read"), unknown)
    }

    func testDaemonCheckRejectsHugeDurations() throws {
        let dir = Fixtures.tempDir()
        for (key, value) in [("poll-interval", "\"9223372036854775807s\""), ("quiet", "9223372036854775807"),
                             ("link-interval", "1e300"), ("retention-days", "9223372036854775807"),
                             ("retention-days", "inf"), ("quiet", "\"99999999999999999999\"")] {
            let config = dir + "/d.toml"
            try "db = \"d.db\"\npaths = [\"*.trc\"]\n\(key) = \(value)\n".write(toFile: config, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try DaemonConfig.load(config), "\(key) = \(value)") { error in
                XCTAssertTrue("\(error)".contains("'\(key)'"), "\(error)")
            }
            let run = try Fixtures.runTool(["daemon", "--config", config, "--check"])
            XCTAssertFalse(run.crashed)
            XCTAssertEqual(run.status, 2, "\(key) = \(value)")
            XCTAssertTrue(run.stderr.contains("'\(key)'") && (run.stderr.contains("too large") || run.stderr.contains("0 or more")), run.stderr)
        }
        let fine = dir + "/ok.toml"
        try "db = \"d.db\"\npaths = [\"*.trc\"]\nretention-days = 36500\nquiet = \"2s\"\nlink-interval = 30\n".write(toFile: fine, atomically: true, encoding: .utf8)
        XCTAssertEqual(try DaemonConfig.load(fine).retentionDays, 36500)
    }

    /// SIGHUP with a configuration whose durations are too large: the daemon says so and keeps
    /// the configuration it runs with (and does not crash).
    func testDaemonReloadWithHugeDurationKeepsTheOldConfiguration() throws {
        let dir = Fixtures.tempDir()
        let config = dir + "/d.toml"
        try "db = \"d.db\"\npaths = [\"*.trc\"]\nlink-interval = 1\n".write(toFile: config, atomically: true, encoding: .utf8)
        let child = Process()
        child.executableURL = URL(fileURLWithPath: Fixtures.toolPath)
        child.arguments = ["daemon", "--config", config]
        let errPath = dir + "/daemon.log"
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let errHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        defer { try? errHandle.close() }
        child.standardOutput = FileHandle.nullDevice
        child.standardError = errHandle
        try child.run()
        func log() -> String { (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "" }
        func waitFor(_ text: String) -> Bool {
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                if log().contains(text) { return true }
                usleep(50_000)
            }
            return false
        }
        XCTAssertTrue(waitFor("started"), log())
        try "db = \"d.db\"\npaths = [\"*.trc\"]\nlink-interval = \"9223372036854775807s\"\n".write(toFile: config, atomically: true, encoding: .utf8)
        kill(child.processIdentifier, SIGHUP)
        XCTAssertTrue(waitFor("reload-failed"), log())
        XCTAssertTrue(child.isRunning, "a bad reload does not stop the daemon")
        XCTAssertTrue(log().contains("too large"), log())
        XCTAssertTrue(log().contains("the previous configuration"), log())
        kill(child.processIdentifier, SIGTERM)
        child.waitUntilExit()
        XCTAssertEqual(child.terminationReason, .exit)
        XCTAssertEqual(child.terminationStatus, 0, log())
    }
}
