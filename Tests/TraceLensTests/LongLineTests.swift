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

/// Record size cap (`--max-record`): an over-long line is cut with a marker and one warning,
/// and memory does not grow with the line.
final class LongLineTests: XCTestCase {
    func line(_ n: Int, _ message: String) -> String { "03/24/2022-10:07:\(String(format: "%02d", n % 60)) Thd-3 INFO f(): \(message)\n" }

    /// Reads `bytes` with a small cap and chunk, returning the lines and the reader.
    func read(_ bytes: [UInt8], cap: Int, chunk: Int = 64) throws -> ([[UInt8]], TextReader) {
        let reader = try TextReader(path: Fixtures.write(bytes), chunkSize: chunk)
        reader.maxRecord = cap
        reader.warn = { _ in }
        var out: [[UInt8]] = []
        try reader.forEachLine { l, _ in out.append(Array(l)) }
        return (out, reader)
    }

    func testLinesAroundTheCapAreKeptOrCutExactly() throws {
        let cap = 256
        let lengths = [0, 1, 191, 192, 255, 256, 257, 300, 1000, 5000, 256, 3]
        for chunk in [64, 100, 4096] {
            var bytes: [UInt8] = []
            for (i, n) in lengths.enumerated() { bytes += [UInt8](repeating: UInt8(0x61 + i), count: n) + [0x0A] }
            let (lines, reader) = try read(bytes, cap: cap, chunk: chunk)
            XCTAssertEqual(lines.count, lengths.count, "chunk \(chunk)")
            for (i, n) in lengths.enumerated() {
                let letter = UInt8(0x61 + i)
                if n <= cap {
                    XCTAssertEqual(lines[i], [UInt8](repeating: letter, count: n), "line \(i + 1), chunk \(chunk)")
                } else {
                    let kept = cap - 64
                    XCTAssertEqual(Array(lines[i].prefix(kept)), [UInt8](repeating: letter, count: kept))
                    XCTAssertEqual(String(decoding: lines[i].dropFirst(kept), as: UTF8.self), " [… \(n - kept) bytes cut]", "line \(i + 1), chunk \(chunk)")
                    XCTAssertLessThanOrEqual(lines[i].count, cap)
                }
            }
            XCTAssertEqual(reader.cutLines, 4)
            var warnings: [String] = []
            let again = try TextReader(path: Fixtures.write(bytes), chunkSize: chunk)
            again.maxRecord = cap
            again.warn = { warnings.append($0) }
            try again.forEachLine { _, _ in }
            XCTAssertEqual(warnings.count, 1, "one warning per file")
            XCTAssertTrue(warnings[0].contains("line 7 is longer than the record limit of 256 bytes"), warnings[0])
            XCTAssertEqual(reader.bytesRead, bytes.count, "offsets count every byte, cut ones too (resume seeks by them)")
        }
    }

    func testCutLineWithoutLineEndAtTheEnd() throws {
        let (lines, reader) = try read(Array("short\n".utf8) + [UInt8](repeating: 0x42, count: 10_000), cap: 1024)
        XCTAssertEqual(lines.count, 2)
        XCTAssertEqual(lines[0], Array("short".utf8))
        XCTAssertTrue(String(decoding: lines[1], as: UTF8.self).hasSuffix("[… \(10_000 - 960) bytes cut]"))
        XCTAssertEqual(reader.bytesRead, 6 + 10_000)
    }

    func testMultiMegabyteLineInGzipIsCutWithOneWarning() throws {
        var text = Array(line(1, "before").utf8)
        text += Array("03/24/2022-10:07:02 Thd-3 INFO f(): huge ".utf8) + [UInt8](repeating: 0x41, count: 6 << 20) + [0x0A]
        text += Array(("03/24/2022-10:07:03 Thd-3 INFO f(): second huge " + String(repeating: "B", count: 50_000) + "\n").utf8)
        text += Array(line(4, "after").utf8)
        let path = Fixtures.gzip(text, named: "long.trc.gz")
        let run = try Fixtures.runTool(["format", "--max-record", "4KiB", path])
        XCTAssertFalse(run.crashed)
        XCTAssertEqual(run.status, 0, run.stderr)
        let out = run.stdout.split(separator: "\n")
        XCTAssertTrue(out.contains { $0.contains("before") } && out.contains { $0.contains("after") })
        let cut = out.filter { $0.contains("[… ") && $0.contains(" bytes cut]") }
        XCTAssertEqual(cut.count, 2, "both long lines carry the marker")
        XCTAssertTrue(out.allSatisfy { $0.utf8.count < 4096 + 200 }, "no printed line is much longer than the cap")
        let warnings = run.stderr.split(separator: "\n").filter { $0.contains("record limit") }
        XCTAssertEqual(warnings.count, 1, "one warning per file: \(run.stderr)")
        XCTAssertTrue(warnings[0].contains(path) && warnings[0].contains("line 2"), String(warnings[0]))
    }

    func testIngestStoresTheCutRecordAndResumes() throws {
        let dir = Fixtures.tempDir()
        let path = dir + "/long.trc"
        var text = line(1, "before") + "03/24/2022-10:07:02 Thd-3 INFO f(): huge " + String(repeating: "x", count: 100_000) + "\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let db = dir + "/t.db"
        var run = try Fixtures.runTool(["ingest", "--quiet", "--db", db, "--max-record", "4096", path])
        XCTAssertEqual(run.status, 0, run.stderr)
        // The file grows: reading resumes at the right offset although a line was cut.
        text = line(3, "after")
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        h.seekToEndOfFile(); h.write(Data(text.utf8)); try h.close()
        run = try Fixtures.runTool(["ingest", "--quiet", "--db", db, "--max-record", "4096", path])
        XCTAssertEqual(run.status, 0, run.stderr)
        let database = try Database(path: db, mode: .readOnly)
        let texts = try database.prepare("SELECT text FROM records ORDER BY id").rows().map { row -> String in
            if case let .text(t) = row[0] { return t }
            return ""
        }
        XCTAssertEqual(texts.count, 3, "\(texts.map { $0.prefix(60) })")
        XCTAssertTrue(texts[1].hasSuffix("bytes cut]") && texts[1].utf8.count <= 4096)
        XCTAssertTrue(texts[2].contains("after"))
    }

    func testLongDumpRecordStopsGrowingAtTheLimit() throws {
        var text = "03/24/2022-10:07:19 Thd-3 INFO f(): data follows\n"
        for i in 0..<2000 { text += String(format: "    %08x: 16030100 4a010000 16030100 4a010000  *....J...*\n", i * 16) }
        text += line(20, "after")
        let stream = RecordStream(plugins: Fixtures.plugins)
        stream.maxRecord = 4096
        var records: [Record] = []
        _ = try stream.read(Fixtures.write(text), source: 0) { records.append($0) }
        XCTAssertGreaterThan(records.count, 3)
        XCTAssertTrue(records.allSatisfy { $0.bytes.count <= 4096 }, "\(records.map(\.bytes.count).max() ?? 0)")
        XCTAssertEqual(records.reduce(0) { $0 + max($1.lineCount, 1) }, 2002, "every line is in some record, in order")
        XCTAssertEqual(records.last?.message, "after")
    }

    func testMaxRecordValues() throws {
        XCTAssertEqual(RecordLimit.parse("4KiB"), 4096)
        XCTAssertEqual(RecordLimit.parse("1MiB"), 1 << 20)
        XCTAssertEqual(RecordLimit.parse("2m"), 2 << 20)
        XCTAssertEqual(RecordLimit.parse("1048576"), 1 << 20)
        XCTAssertNil(RecordLimit.parse("12"), "too small for the marker")
        XCTAssertNil(RecordLimit.parse("1GiB"))
        XCTAssertNil(RecordLimit.parse("99999999999999999999K"))
        XCTAssertNil(RecordLimit.parse("lots"))
        let run = try Fixtures.runTool(["format", "--max-record", "tiny", Fixtures.write(line(1, "x"))])
        XCTAssertEqual(run.status, 64)
        XCTAssertTrue(run.stderr.contains("--max-record 'tiny'"), run.stderr)
        let config = try DaemonConfig.parse("db = \"x.db\"\npaths = [\"a\"]\nmax-record = \"4KiB\"\n", path: "/tmp/d.toml")
        XCTAssertEqual(config.maxRecord, 4096)
        XCTAssertEqual(config.followOptions.maxRecord, 4096)
        XCTAssertThrowsError(try DaemonConfig.parse("db = \"x.db\"\npaths = [\"a\"]\nmax-record = 10\n", path: "/tmp/d.toml")) { error in
            XCTAssertTrue("\(error)".contains("max-record"), "\(error)")
        }
        XCTAssertEqual(try DaemonConfig.parse("db = \"x.db\"\npaths = [\"a\"]\n", path: "/tmp/d.toml").maxRecord, 1 << 20)
    }
}
