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

/// Line ends, blank lines before a trace, and NUL bytes: decided by content, the same way
/// wherever they sit in the file.
final class LineEndTests: XCTestCase {
    let lines = (1...50).map { "03/24/2022-10:07:\(String(format: "%02d", $0)) Thd-3 INFO f(): message \($0)" }

    func read(_ bytes: [UInt8], chunk: Int) throws -> ([String], TextReader) {
        let reader = try TextReader(path: Fixtures.write(bytes), chunkSize: chunk)
        var out: [String] = []
        try reader.forEachLine { l, _ in out.append(String(decoding: l, as: UTF8.self)) }
        return (out, reader)
    }

    func testCROnlyLineEndsAreSplit() throws {
        let text = Array(lines.joined(separator: "\r").utf8) + [0x0D]
        for chunk in [7, 64, 1 << 20] {
            let (out, reader) = try read(text, chunk: chunk)
            XCTAssertEqual(out, lines, "chunk \(chunk)")
            XCTAssertEqual(reader.detected.lineEnd, "CR")
            XCTAssertEqual(reader.bytesRead, text.count)
        }
        // Through the whole command: the layout is found and every record parsed.
        let run = try Fixtures.runTool(["format", "--stats", Fixtures.write(text, named: "mac.trc")])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.stdout.split(separator: "\n").count, 50)
        XCTAssertTrue(run.stderr.contains("50 records, 0 unparsed lines"), run.stderr)
    }

    func testCRLFStaysOneLineEnd() throws {
        let text = Array(lines.joined(separator: "\r\n").utf8) + [0x0D, 0x0A]
        for chunk in [7, 64, 1 << 20] {
            let (out, reader) = try read(text, chunk: chunk)
            XCTAssertEqual(out, lines, "chunk \(chunk)")
            XCTAssertEqual(reader.detected.lineEnd, "CRLF")
        }
        // A CR-only file that has a CRLF here and there: the LF is part of that line end.
        let mixed = Array((lines[0] + "\r" + lines[1] + "\r\n" + lines[2] + "\r").utf8)
        for chunk in [3, 5, 64] {
            XCTAssertEqual(try read(mixed, chunk: chunk).0, Array(lines[0...2]), "chunk \(chunk)")
        }
        // A CR file (no LF in its first chunk) that goes on with LF line ends: those end lines too.
        let laterLF = Array((lines[0] + "\r" + lines[1] + "\r").utf8) + Array(String(repeating: "x", count: 100).utf8) + [0x0D] + Array((lines[2] + "\n" + lines[3] + "\n").utf8)
        XCTAssertEqual(try read(laterLF, chunk: 64).0, [lines[0], lines[1], String(repeating: "x", count: 100), lines[2], lines[3]])
        // A lone CR inside an LF file (a progress bar) stays inside its line.
        XCTAssertEqual(try read(Array("10%\r50%\r100%\nnext\n".utf8), chunk: 1 << 20).0, ["10%\r50%\r100%", "next"])
        // Blank lines in a CR file are kept.
        XCTAssertEqual(try read(Array("a\r\rb\r".utf8), chunk: 2).0, ["a", "", "b"])
    }

    func testBlankLinesBeforeATraceDoNotDefeatDetection() throws {
        let text = String(repeating: "\n", count: 200) + String(repeating: "   \n", count: 300) + lines.joined(separator: "\n") + "\n"
        let (records, summary) = try Fixtures.records(Fixtures.write(text))
        XCTAssertEqual(summary.format, "gsktrace")
        XCTAssertEqual(records.filter { !$0.isUnparsed }.count, 50)
        let run = try Fixtures.runTool(["format", "--verbose", Fixtures.write(text)])
        XCTAssertTrue(run.stderr.contains("layout gsktrace"), run.stderr)
    }

    func testNULIsDecidedByShareWhereverItSits() throws {
        let body = lines.joined(separator: "\n") + "\n"
        let early = Array(body.utf8.prefix(10)) + [0] + Array(body.utf8.dropFirst(10))
        let late = Array(body.utf8.dropLast(5)) + [0] + Array(body.utf8.suffix(5))
        for (name, bytes) in [("early", early), ("late", late)] {
            let path = Fixtures.write(bytes, named: "\(name).trc")
            let run = try Fixtures.runTool(["format", path])
            XCTAssertEqual(run.status, 0, "\(name): \(run.stderr)")
            XCTAssertEqual(run.stdout.split(separator: "\n").count, 50, name)
            XCTAssertTrue(run.stdout.contains("␀"), "\(name): the NUL is shown, not dropped")
            XCTAssertFalse(run.stdout.utf8.contains(0), name)
        }
        // Stored the same way: the text keeps the visible NUL, nothing after it is lost.
        let db = Fixtures.tempDir() + "/n.db"
        XCTAssertEqual(try Fixtures.runTool(["ingest", "--db", db, Fixtures.write(early, named: "e.trc")]).status, 0)
        let database = try Database(path: db, mode: .readOnly)
        XCTAssertEqual(try database.scalar("SELECT count(*) FROM records WHERE text LIKE '%␀%message 1'"), 1)
        // Many NULs: not text (UTF-16, a binary trace), wherever the first one is.
        let utf16 = Array(body.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })
        let run = try Fixtures.runTool(["format", Fixtures.write(utf16, named: "wide.txt")])
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.stderr.contains("not a text trace"), run.stderr)
    }

    func testDetectorNULRule() {
        func detect(_ b: [UInt8]) -> TextEncoding? { b.withUnsafeBufferPointer { EncodingDetector.detect($0) } }
        let text = Array(String(repeating: "03/24/2022-10:07:19 Thd-3 INFO f(): x\n", count: 100).utf8)
        XCTAssertEqual(detect([0] + text), .ascii, "one NUL at the very start")
        XCTAssertEqual(detect(text + [0]), .ascii, "one NUL at the end")
        XCTAssertEqual(detect(Array("ab\0c\n".utf8)), .ascii, "one NUL is always allowed")
        XCTAssertNil(detect(text + [UInt8](repeating: 0, count: text.count / 50)), "2% NULs: not text")
        XCTAssertNil(detect([0, 0, 0]))
    }
}
