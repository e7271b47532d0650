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

/// Every fuzz target replays its corpus (seeds and inputs that once crashed) and runs a short
/// seeded batch of mutations, in a child `tracelens fuzz-child`: a crash or hang there fails the
/// test instead of killing the test run. Longer runs: `tracelens bench --only fuzz`.
final class FuzzTests: XCTestCase {
    static let corpus = Fixtures.root + "/Tests/TraceLensTests/FuzzCorpus"

    /// Iterations per target: a few seconds in all on a debug build.
    func fuzz(_ target: String, iterations: Int, seed: Int = 12) throws {
        let work = Fixtures.tempDir()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let run = try Fixtures.runTool(["fuzz-child", "--target", target, "--seed", "\(seed)", "--iterations", "\(iterations)", "--replay",
                                        "--corpus", Self.corpus, "--work", work, "--budget", "20"])
        let input = FileManager.default.contents(atPath: work + "/" + (FuzzTargets.all.first { $0.name == target }?.inputName ?? "")) ?? Data()
        XCTAssertFalse(run.crashed, "\(target): the child died of signal \(run.status) on an input of \(input.count) bytes (kept at \(work))")
        XCTAssertEqual(run.status, 0, "\(target): exit \(run.status): \(run.stderr.suffix(300))")
        // Every iteration ran.
        func count(_ key: String) -> Int? { run.stdout.split(separator: " ").first { $0.hasPrefix(key + "=") }.flatMap { Int($0.dropFirst(key.count + 1).prefix { $0.isNumber }) } }
        XCTAssertEqual(count("iterations"), iterations, run.stdout)
    }

    func testTemplateFuzz() throws { try fuzz("template", iterations: 400) }
    func testGzipFuzz() throws { try fuzz("gzip", iterations: 200) }
    func testEBCDICFuzz() throws { try fuzz("ebcdic", iterations: 100) }
    func testRecordReaderFuzz() throws { try fuzz("records", iterations: 15) }
    func testPluginLoaderFuzz() throws { try fuzz("plugin", iterations: 30) }
    func testCertificateFuzz() throws { try fuzz("cert", iterations: 150) }
    func testTLSFuzz() throws { try fuzz("tls", iterations: 60) }
    func testRecordBlockFuzz() throws { try fuzz("blocks", iterations: 60) }

    /// Every target has corpus files, and each corpus folder belongs to a target.
    func testCorpusFoldersMatchTargets() throws {
        let folders = try FileManager.default.contentsOfDirectory(atPath: Self.corpus).filter { !$0.hasPrefix(".") }.sorted()
        XCTAssertEqual(folders, FuzzTargets.all.map(\.name).sorted())
        for f in folders { XCTAssertFalse(FuzzChild.corpusFiles(Self.corpus + "/" + f).isEmpty, f) }
    }

    /// The mutator is deterministic: the same seed gives the same inputs.
    func testMutationsAreSeeded() {
        func inputs(_ seed: UInt64) -> [[UInt8]] {
            var r = SplitMix64(seed: seed)
            return (0..<50).map { _ in Fuzz.mutate(Array("Thd-3 ERROR f(): rc=431".utf8), corpus: [Array("abc\n".utf8)], dictionary: [], random: &r, maxSize: 4096) }
        }
        XCTAssertEqual(inputs(5), inputs(5))
        XCTAssertNotEqual(inputs(5), inputs(6))
    }

    /// The harness reports an unknown target by name, with the list of targets.
    func testUnknownTargetIsRefused() throws {
        let run = try Fixtures.runTool(["fuzz-child", "--target", "nope", "--work", Fixtures.tempDir()])
        XCTAssertFalse(run.crashed)
        XCTAssertNotEqual(run.status, 0)
        XCTAssertTrue(run.stderr.contains("unknown fuzz target 'nope'"), run.stderr)
    }

    /// `bench --only fuzz` runs the children, counts inputs and reports per target.
    func testBenchFuzzReports() throws {
        let corpus = Fixtures.tempDir()
        let run = try Fixtures.runTool(["bench", "--only", "fuzz", "--seconds", "2", "--fuzz-target", "gzip", "--corpus", corpus])
        XCTAssertFalse(run.crashed)
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr.suffix(300))
        XCTAssertTrue(run.stdout.contains("gzip: "), run.stdout)
        XCTAssertTrue(run.stdout.contains("0 findings"), run.stdout)
    }

    // MARK: What the fuzzer found, fixed here

    /// toml++ asserted (abort, exit 134) on a table header without a name (`[}`, `[[` at the end
    /// of a line) and on `}` where an array expects a value. Now the plugin is refused with the
    /// place and the reason.
    func testPluginTableHeaderWithoutNameIsAnError() throws {
        for (header, column, saw) in [("[ }", 3, "'}'"), ("[[", 3, "U+000A"), ("s = [\"\",}", 9, "'}'")] {
            let dir = Fixtures.tempDir() + "/mine"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try "[plugin]\nname = \"mine\"\ndescription = \"test\"\n\(header)\n".write(toFile: dir + "/plugin.toml", atomically: true, encoding: .utf8)
            let run = try Fixtures.runTool(["plugins", "check", dir])
            XCTAssertFalse(run.crashed, header)
            XCTAssertEqual(run.status, 1, header)
            XCTAssertTrue(run.stdout.contains("plugin.toml: not valid TOML: line 4, column \(column): "), header + ": " + run.stdout)
            XCTAssertTrue(run.stdout.contains(", saw \(saw)"), header + ": " + run.stdout)
        }
    }

    /// Valid TOML with brackets where a header check could misfire still loads: nested arrays on
    /// their own lines, `[}` inside multi-line strings, quoted table names, comments.
    func testPluginHeaderCheckKeepsValidTOML() throws {
        let text = """
            [plugin]
            name = "mine"   # [} in a comment
            description = \"\"\"
            [} is text here
            \"\"\"
            [["sample"]]
            lines = [
              [ "a", "b" ],
              [{ x = 1 }],
            ]
            ['quoted "x"'.y]
            z = '[}'
            """
        XCTAssertNil(TOMLHeaderCheck.unnamedHeader(text))
        XCTAssertNoThrow(try TOMLNode.parse(text))
        XCTAssertEqual(TOMLHeaderCheck.unnamedHeader("[}")?.description, "line 1, column 2: a table header needs a name (bare or quoted), saw '}'")
        XCTAssertEqual(TOMLHeaderCheck.unnamedHeader("a = 1\n[=]")?.description, "line 2, column 2: a table header needs a name (bare or quoted), saw '='")
        XCTAssertNotNil(TOMLHeaderCheck.unnamedHeader("a = 1\r\n[\r\n"))
        XCTAssertNotNil(TOMLHeaderCheck.unnamedHeader("\u{FEFF}[}"))
        XCTAssertEqual(TOMLHeaderCheck.unnamedHeader("l = \"\"\ns = [\"\",}")?.description, "line 2, column 9: an array needs a value or ']' here, saw '}'")
        XCTAssertEqual(TOMLHeaderCheck.unnamedHeader("a = [\u{2028} 1 ]")?.description, "line 1, column 6: only LF or CRLF may end a line, saw U+2028")
        XCTAssertNil(TOMLHeaderCheck.unnamedHeader("# a comment \u{2028} with a separator\na = [ { b = 1 }, {} ]\nc = \"\u{2028}\""))
    }

    /// JSON output of bytes that are not UTF-8 (overlong forms, surrogates, above U+10FFFF, cut
    /// short) holds U+FFFD for them and stays valid UTF-8: before, the three-byte forms passed.
    func testJSONReplacesInvalidUTF8() throws {
        for bad: [UInt8] in [[0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF0, 0x80, 0x80, 0x80], [0xC0, 0xAF], [0xE2, 0x82], [0xFF]] {
            let out = ByteBuffer()
            JSON.bytes(Array("a".utf8)[...] + bad[...] + Array("b".utf8)[...], out)
            XCTAssertNotNil(String(validating: out.bytes, as: UTF8.self), "\(bad)")
            XCTAssertTrue(out.string.hasPrefix("\"a\u{FFFD}") && out.string.hasSuffix("b\""), "\(bad): \(out.string)")
        }
        for good in ["é", "€", "𝄞", "\u{D7FF}", "\u{E000}", "\u{10FFFF}"] {
            let out = ByteBuffer()
            JSON.string(good, out)
            XCTAssertEqual(out.string, "\"\(good)\"")
        }
    }

    /// `format --json` on a GSK trace line holding such bytes: every line parses as JSON.
    func testFormatJSONOfInvalidUTF8Parses() throws {
        let path = Self.corpus + "/records/wrong-json-invalid-utf8.trc"
        let run = try Fixtures.runTool(["format", "--json", path])
        XCTAssertFalse(run.crashed)
        XCTAssertEqual(run.status, 0)
        let lines = run.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            XCTAssertNotNil(object, String(line))
        }
        // Each byte that starts no valid sequence becomes one U+FFFD.
        XCTAssertTrue(run.stdout.contains("overlong \u{FFFD}\u{FFFD}\u{FFFD} surrogate \u{FFFD}\u{FFFD}\u{FFFD} too high \u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD} cut \u{FFFD}\u{FFFD}\""), run.stdout)
    }

    /// An input over the CPU budget ends the child with SIGPROF, and the input is left in its
    /// file for the parent to keep: a 2 MB trace through every built-in layout takes far more
    /// than the 1 ms budget given here.
    func testSlowInputEndsTheChildAndIsLeftBehind() throws {
        let corpus = Fixtures.tempDir(), work = Fixtures.tempDir()
        try FileManager.default.createDirectory(atPath: corpus + "/records", withIntermediateDirectories: true)
        let line = "03/21/2022-10:07:19.123456 00000000 00000001 Thd-1 INFO gsk_secure_socket_init(): handshake started\n"
        let slow = String(repeating: line, count: 2 * 1024 * 1024 / line.utf8.count)
        try slow.write(toFile: corpus + "/records/slow", atomically: true, encoding: .utf8)
        let target = FuzzTargets.all.first { $0.name == "records" }!
        let run = try Fixtures.runTool(["fuzz-child", "--target", "records", "--iterations", "0", "--replay", "--corpus", corpus, "--work", work, "--budget", "0.001"])
        XCTAssertTrue(run.crashed, run.stdout)
        XCTAssertEqual(run.status, SIGPROF)
        // The replay runs the built-in seeds first; the child died on one of them or on ours, and
        // whichever it was is in the input file, whole.
        let left = FileManager.default.contents(atPath: work + "/" + target.inputName) ?? Data()
        XCTAssertFalse(left.isEmpty)
    }
}
