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

/// A layout template's matching work is bounded per line: many `text` fields no longer backtrack
/// exponentially, a template whose optional groups still explode gives up (and says so once per
/// file), and `plugins check` warns about such templates.
final class BoundedMatchTests: XCTestCase {
    /// `{f1} {f2} ... {fN};`: N text fields with blanks between, then a literal.
    static func manyTextFields(_ n: Int) -> String { (1...n).map { "{f\($0)}" }.joined(separator: " ") + ";" }
    static func words(_ n: Int) -> String { (1...n).map { "w\($0)" }.joined(separator: " ") }

    func testManyTextFieldsStillCaptureTheRightWords() throws {
        let t = try Template(Self.manyTextFields(25))
        let fields = try XCTUnwrap(t.match(Self.words(50) + ";"))
        // Each field takes as little as it can: one word each, the last one the rest.
        XCTAssertEqual(fields["f1"], "w1")
        XCTAssertEqual(fields["f24"], "w24")
        XCTAssertEqual(fields["f25"], (25...50).map { "w\($0)" }.joined(separator: " "))
    }

    func testManyTextFieldsFailQuicklyOnALineThatDoesNotMatch() throws {
        // 12 fields over 24 words took C(24,12) = 2.7 million tries before; now a few hundred.
        let t = try Template(Self.manyTextFields(12))
        var caps = Captures()
        let line = Array(Self.words(24).utf8)
        XCTAssertNil(line.withUnsafeBufferPointer { t.match($0, captures: &caps) })
        XCTAssertFalse(caps.gaveUp, "a plain mismatch is not a give-up")
    }

    func testALongLineIsScannedOncePerField() throws {
        // 10 text fields split by ':' over a 40 KB line of `a:` with no ';' at the end: each field
        // looks for its ':' only below where it already failed, so this is linear in the line.
        let t = try Template((1...10).map { "{f\($0)}" }.joined(separator: ":") + ";")
        let line = String(repeating: "a:", count: 20_000)
        // Within the step budget (100,000 + parts x line length): a backtracking matcher runs
        // out of it and gives up; this one fails plainly.
        var caps = Captures()
        let bytes = Array(line.utf8)
        XCTAssertNil(bytes.withUnsafeBufferPointer { t.match($0, captures: &caps) })
        XCTAssertFalse(caps.gaveUp)
        XCTAssertEqual(t.match(line + ";")?["f10"]?.count, 40_000 - 18)
    }

    func testAMemoisedFailureDoesNotHideALaterMatch() throws {
        // The second field's first try fails from `a`; the first field must still find `a b:c.`.
        let t = try Template("{x}:{y}.{z}")
        XCTAssertEqual(t.match("a:b:c.d")?["x"], "a")
        XCTAssertEqual(t.match("a:b:c.d")?["y"], "b:c")
        let u = try Template("{a} {b}: {c}!")
        XCTAssertEqual(u.match("p q r: s t: u!"), ["a": "p", "b": "q r", "c": "s t: u"])
        XCTAssertNil(u.match("p q r: s t: u"))
    }

    func testExplodingOptionalGroupsGiveUpInsteadOfHanging() throws {
        // 30 optional groups over 40 words: 2^30 ways to skip groups; the budget stops it.
        let t = try Template(String(repeating: "{?{:word} }", count: 30) + "end;")
        var caps = Captures()
        let line = Array(Self.words(40).utf8)
        XCTAssertNil(line.withUnsafeBufferPointer { t.match($0, captures: &caps) })
        XCTAssertTrue(caps.gaveUp)
        // A line it can match is still matched.
        XCTAssertNotNil(t.match("a b c end;"))
    }

    // MARK: through the tool, in a child with a timeout

    /// A plugin whose layout has 25 text fields and whose own sample is the pathological line:
    /// samples are checked at load, so before the fix every command hung (even `explain 431`).
    func testAPluginWithAPathologicalSampleDoesNotHangCommands() throws {
        let dir = Fixtures.tempDir() + "/slow"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try """
            [plugin]
            name = "slow"
            description = "a layout with many text fields"

            [[format]]
            name = "slowlog"
            record = ['\(Self.manyTextFields(25))']

            [[sample]]
            format = "slowlog"
            text = '\(Self.words(50))'
            [sample.expect]
            unparsed = 1

            [[sample]]
            format = "slowlog"
            text = '\(Self.words(50));'
            [sample.expect]
            records = 1
            f2 = "w2"
            """.write(toFile: dir + "/plugin.toml", atomically: true, encoding: .utf8)
        let explain = try runWithTimeout(["explain", "431"], environment: ["TRACELENS_PLUGINS": dir])
        XCTAssertEqual(explain.status, 0)
        XCTAssertTrue(explain.stdout.contains("431"), explain.stdout)
        XCTAssertFalse(explain.stderr.contains("plugin problem"), "the samples pass")

        let trace = Fixtures.write(Self.words(50) + "\n" + Self.words(50) + ";\n", named: "slow.log")
        let format = try runWithTimeout(["format", "--layout", "slowlog", trace], environment: ["TRACELENS_PLUGINS": dir])
        XCTAssertEqual(format.status, 0)
        XCTAssertEqual(format.stdout.split(separator: "\n").count, 2, format.stdout)
    }

    /// A template that runs out of budget is reported once per file, naming file, line and layout.
    func testAGiveUpIsReportedOncePerFile() throws {
        let dir = Fixtures.tempDir() + "/groups"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let template = String(repeating: "{?{:word} }", count: 30) + "end;"
        try """
            [plugin]
            name = "groups"
            description = "a layout with many optional groups"

            [[format]]
            name = "grouplog"
            record = ['\(template)']

            [[sample]]
            format = "grouplog"
            text = 'a b end;'
            [sample.expect]
            records = 1
            """.write(toFile: dir + "/plugin.toml", atomically: true, encoding: .utf8)
        let lines = ["a end;", Self.words(40), Self.words(40), "b end;", Self.words(40)]
        let trace = Fixtures.write(lines.joined(separator: "\n") + "\n", named: "groups.log")
        let run = try runWithTimeout(["format", "--layout", "grouplog", trace], environment: ["TRACELENS_PLUGINS": dir])
        XCTAssertEqual(run.status, 0)
        let reports = run.stderr.split(separator: "\n").filter { $0.contains("gave up matching layout") }
        XCTAssertEqual(reports.count, 1, run.stderr)
        XCTAssertTrue(reports.first?.contains("\(trace) line 2") ?? false, run.stderr)
        XCTAssertTrue(reports.first?.contains("groups/grouplog") ?? false, run.stderr)
        // Every line is still printed: the lines given up on as they are.
        XCTAssertEqual(run.stdout.split(separator: "\n").count, 5, run.stdout)
    }

    func testPluginsCheckWarnsAboutCostlyTemplatesWithoutFailing() throws {
        let dir = Fixtures.tempDir() + "/costly"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try """
            [plugin]
            name = "costly"
            description = "templates that work but cost"

            [[format]]
            name = "costlylog"
            record = ['{a} {b} {c} {d}: {message}', '#{id:word}{rest:int}']

            [[sample]]
            format = "costlylog"
            text = 'p q r s: hello'
            [sample.expect]
            records = 1
            message = "hello"
            """.write(toFile: dir + "/plugin.toml", atomically: true, encoding: .utf8)
        let result = CheckedPlugins.check(directory: dir)
        let warnings = result.problems.filter(\.isWarning).map(\.description)
        XCTAssertEqual(result.problems.filter { !$0.isWarning }, [])
        XCTAssertEqual(warnings.count, 2, "\(warnings)")
        XCTAssertTrue(warnings.contains { $0.contains("warning: 4 text fields with only blanks between them ({a} {b} {c} {d})") }, "\(warnings)")
        XCTAssertTrue(warnings.contains { $0.contains("{rest} directly follows the greedy field {id}") }, "\(warnings)")
        XCTAssertEqual(result.summary.first?.hasSuffix("all samples pass"), true)

        let run = try runWithTimeout(["plugins", "check", dir])
        XCTAssertEqual(run.status, 0, "warnings leave the folder passing")
        XCTAssertTrue(run.stdout.contains("warning: 4 text fields"), run.stdout)

        // The built-in plugins have no such templates.
        for format in Fixtures.plugins.formats {
            for rule in format.records + format.contexts + format.headers + format.continuations.map(\.rule) {
                XCTAssertEqual(rule.template.warnings, [], "\(format.name): \(rule.template.source)")
            }
        }
    }

    /// Runs the tool in a child and kills it after `timeout` seconds: a regression fails the test
    /// instead of hanging the suite. Output goes to files (no pipe to fill up), never to the log.
    func runWithTimeout(_ arguments: [String], environment: [String: String] = [:], timeout: TimeInterval = 60) throws -> Fixtures.ToolRun {
        try Self.runTool(arguments, environment: environment, timeout: timeout)
    }

    static func runTool(_ arguments: [String], environment: [String: String] = [:], timeout: TimeInterval = 60) throws -> Fixtures.ToolRun {
        let dir = Fixtures.tempDir()
        let outPath = dir + "/stdout.txt", errPath = dir + "/stderr.txt"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        defer { try? out.close(); try? err.close() }
        let child = Process()
        child.executableURL = URL(fileURLWithPath: Fixtures.toolPath)
        child.arguments = arguments
        child.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        child.standardInput = FileHandle.nullDevice
        child.standardOutput = out
        child.standardError = err
        try child.run()
        let deadline = Date().addingTimeInterval(timeout)
        while child.isRunning && Date() < deadline { usleep(20_000) }
        if child.isRunning {
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            XCTFail("tracelens \(arguments.joined(separator: " ")) did not finish in \(Int(timeout)) s")
        }
        child.waitUntilExit()
        return Fixtures.ToolRun(status: child.terminationStatus,
                                stdout: String(decoding: FileManager.default.contents(atPath: outPath) ?? Data(), as: UTF8.self),
                                stderr: String(decoding: FileManager.default.contents(atPath: errPath) ?? Data(), as: UTF8.self),
                                crashed: child.terminationReason == .uncaughtSignal)
    }
}
