import Foundation
import XCTest
@testable import TraceLensCore

/// Every fuzz target replays its corpus (seeds and inputs that once crashed) and runs a short
/// seeded batch of mutations, in a child `tracelens fuzz-child`: a crash or hang there fails the
/// test instead of killing the test run. Longer runs: `tracelens bench --only fuzz`.
final class FuzzTests: XCTestCase {
    static let corpus = Fixtures.root + "/Tests/TraceLensCoreTests/FuzzCorpus"

    /// Iterations per target: a few seconds in all on a debug build.
    func fuzz(_ target: String, iterations: Int, seed: Int = 12) throws {
        let work = Fixtures.tempDir()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let run = try Fixtures.runTool(["fuzz-child", "--target", target, "--seed", "\(seed)", "--iterations", "\(iterations)", "--replay",
                                        "--corpus", Self.corpus, "--work", work, "--budget", "20"])
        let input = FileManager.default.contents(atPath: work + "/" + (FuzzTargets.all.first { $0.name == target }?.inputName ?? "")) ?? Data()
        XCTAssertFalse(run.crashed, "\(target): the child died of signal \(run.status) on an input of \(input.count) bytes (kept at \(work))")
        XCTAssertEqual(run.status, 0, "\(target): exit \(run.status): \(run.stderr.suffix(300))")
        XCTAssertTrue(run.stdout.contains("iterations=\(iterations)"), run.stdout)
    }

    func testTemplateFuzz() throws { try fuzz("template", iterations: 400) }
    func testGzipFuzz() throws { try fuzz("gzip", iterations: 200) }
    func testEBCDICFuzz() throws { try fuzz("ebcdic", iterations: 100) }
    func testRecordReaderFuzz() throws { try fuzz("records", iterations: 30) }
    func testPluginLoaderFuzz() throws { try fuzz("plugin", iterations: 30) }
    func testCertificateFuzz() throws { try fuzz("cert", iterations: 300) }

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
}
