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

final class InputTests: XCTestCase {
    let text = """
        03/24/2022-10:07:19 Thd-3 ERROR check_revoked(): RFC 2459 Revoked certificate check failed: Error 0x03353041
        03/24/2022-10:07:19 Thd-3 EXIT gsk_secure_socket_init(): <--- Exit status 0x000001af (431)

        """

    func lines(_ path: String) throws -> ([String], DetectedText) {
        let reader = try TextReader(path: path, chunkSize: 64)
        var out: [String] = []
        try reader.forEachLine { line, _ in out.append(String(decoding: line, as: UTF8.self)) }
        return (out, reader.detected)
    }

    func testEveryEncodingGivesTheSameLines() throws {
        let plain = try lines(Fixtures.write(text))
        XCTAssertEqual(plain.0.count, 2)
        XCTAssertEqual(plain.1, DetectedText(encoding: .ascii, gzip: false, lineEnd: "LF"))

        let crlf = try lines(Fixtures.write(text.replacingOccurrences(of: "\n", with: "\r\n")))
        XCTAssertEqual(crlf.0, plain.0)
        XCTAssertEqual(crlf.1.lineEnd, "CRLF")

        let nl = try lines(Fixtures.write(Fixtures.ebcdic(text, lineEnd: 0x15)))
        XCTAssertEqual(nl.0, plain.0)
        XCTAssertEqual(nl.1, DetectedText(encoding: .ebcdic, gzip: false, lineEnd: "NL (0x15)"))

        let lf = try lines(Fixtures.write(Fixtures.ebcdic(text, lineEnd: 0x25)))
        XCTAssertEqual(lf.0, plain.0)
        XCTAssertEqual(lf.1.lineEnd, "LF (0x25)")

        let gz = try lines(Fixtures.gzip(Array(text.utf8), named: "t.trc.gz"))
        XCTAssertEqual(gz.0, plain.0)
        XCTAssertTrue(gz.1.gzip)

        let gzEbcdic = try lines(Fixtures.gzip(Fixtures.ebcdic(text), named: "e.trc.gz"))
        XCTAssertEqual(gzEbcdic.0, plain.0)
        XCTAssertEqual(gzEbcdic.1.encoding, .ebcdic)
    }

    func testEbcdicSampleFormatsLikeAscii() throws {
        let ascii = try String(contentsOfFile: Fixtures.sample("revoked-client-cert/gskssl.65567.trc"), encoding: .utf8)
        let path = Fixtures.write(Fixtures.ebcdic(ascii), named: "gskssl.65567.trc")
        XCTAssertEqual(Fixtures.format([path]).0, Fixtures.format([Fixtures.sample("revoked-client-cert/gskssl.65567.trc")]).0)
    }

    func testLastLineWithoutLineEndAndEmptyFile() throws {
        XCTAssertEqual(try lines(Fixtures.write("a\nb")).0, ["a", "b"])
        XCTAssertEqual(try lines(Fixtures.write("")).0, [])
    }

    func testTenMegabyteLineIsCutAtTheRecordLimit() throws {
        var bytes = Array("Thd-1 INFO f(): start\n".utf8)
        bytes += [UInt8](repeating: 0x41, count: 10 << 20)
        bytes += Array("\nThd-1 INFO f(): after\n".utf8)
        let stream = RecordStream(plugins: Fixtures.plugins)
        var warnings: [String] = []
        stream.warn = { warnings.append($0) }
        var recs: [Record] = []
        let summary = try stream.read(Fixtures.write(bytes), source: 0, forcedFormat: Fixtures.plugins.format(named: "gsktrace")) { recs.append($0) }
        XCTAssertEqual(warnings.count, 1)
        XCTAssertEqual(recs.count, 3)
        XCTAssertEqual(summary.counts.unparsed, 1)
        XCTAssertEqual(summary.cutLines, 1)
        XCTAssertLessThanOrEqual(recs[1].bytes.count, TextReader.defaultMaxRecord)
        XCTAssertTrue(String(decoding: recs[1].bytes, as: UTF8.self).hasSuffix(" bytes cut]"))
        XCTAssertEqual(recs[2].field(.message), "after")
    }

    func testBinaryAndMissingFilesGiveClearErrors() {
        let binary = Fixtures.write([0x00, 0x01, 0x02, 0xFF, 0x00, 0x10] + [UInt8](repeating: 0, count: 100), named: "gskssl.123.trc")
        // The reader says the file is not text; the gsktrace layout's plugin data words the advice.
        XCTAssertThrowsError(try Fixtures.records(binary)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix(binary), text)
            XCTAssertTrue(text.contains("gsktrace"), "a binary GSK trace is recognised: \(text)")
        }
        XCTAssertThrowsError(try TextReader(path: "/nonexistent/file.trc")) { error in
            XCTAssertEqual("\(error)", "/nonexistent/file.trc: cannot open: No such file or directory")
        }
        XCTAssertThrowsError(try TextReader(path: Fixtures.tempDir())) { error in
            XCTAssertTrue("\(error)".contains("is a directory"))
        }
    }

    func testDamagedGzipIsReportedNotCrashed() throws {
        var gz = try Data(contentsOf: URL(fileURLWithPath: Fixtures.gzip(Array(String(repeating: text, count: 200).utf8), named: "x.gz")))
        gz = gz.prefix(gz.count / 2) + Data(repeating: 0x55, count: 64)
        let path = Fixtures.write([UInt8](gz), named: "broken.trc.gz")
        let (out, status) = Fixtures.format([path, Fixtures.sample("tls12-success/gskssl.16777300.trc")])
        XCTAssertEqual(status, 1, "a damaged file makes the run fail")
        XCTAssertTrue(out.contains("TLS 1.2 protocol selected") || out.contains("C02C"), "the other file is still formatted")
    }
}

final class EncodingDetectionTests: XCTestCase {
    func detect(_ bytes: [UInt8]) -> TextEncoding? { bytes.withUnsafeBufferPointer { EncodingDetector.detect($0) } }

    func testDecisions() {
        let text = String(repeating: "03/24/2022-10:07:19 Thd-3 INFO f(): Checking revoked status CN=ecec\n", count: 50)
        XCTAssertEqual(detect(Array(text.utf8)), .ascii)
        XCTAssertEqual(detect(Fixtures.ebcdic(text)), .ebcdic)
        XCTAssertEqual(detect(Array(String(repeating: "Zertifikat für Müller: gültig, ÄÖÜ äöü ß é ñ\n", count: 20).utf8)), .ascii, "UTF-8 heavy text")
        XCTAssertEqual(detect(Array(text.utf8) + [0xFF, 0xE9]), .ascii, "a stray byte does not make a trace binary")
        var rng = SplitMix64(seed: 1)
        let random = (0..<4096).map { _ in UInt8(truncatingIfNeeded: rng.next() % 255 + 1) }  // no NULs
        XCTAssertNil(detect(random), "random bytes are not text")
        XCTAssertEqual(detect(Array(text.utf8) + [0x00]), .ascii, "a stray NUL is a flaw in text (shown as ␀), not binary")
        XCTAssertEqual(detect([]), .ascii)
    }
}

final class PipeInputTests: XCTestCase {
    /// Writes `bytes` into a pipe from another thread and reads the lines back through TextReader.
    func readThroughPipe(_ bytes: [UInt8]) throws -> ([String], DetectedText) {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let writeEnd = fds[1]
        let writer = Thread {
            var offset = 0
            bytes.withUnsafeBytes { raw in
                while offset < raw.count {
                    let n = write(writeEnd, raw.baseAddress! + offset, min(4096, raw.count - offset))  // small pieces, like a pipe
                    if n <= 0 { break }
                    offset += n
                }
            }
            close(writeEnd)
        }
        writer.start()
        defer { close(fds[0]) }
        let reader = try TextReader(fileDescriptor: fds[0], name: "(pipe)")
        var lines: [String] = []
        try reader.forEachLine { line, _ in lines.append(String(decoding: line, as: UTF8.self)) }
        return (lines, reader.detected)
    }

    let text = String(repeating: "03/24/2022-10:07:19 Thd-3 EXIT gsk_secure_socket_init(): <--- Exit status 0x000001af (431)\n", count: 3000)

    func testPlainAndGzipThroughAPipe() throws {
        let plain = try readThroughPipe(Array(text.utf8))
        XCTAssertEqual(plain.0.count, 3000)
        let gzPath = Fixtures.gzip(Array(text.utf8), named: "p.gz")
        let gz = try readThroughPipe([UInt8](try Data(contentsOf: URL(fileURLWithPath: gzPath))))
        XCTAssertEqual(gz.0, plain.0)
        XCTAssertTrue(gz.1.gzip)
    }

    func testConcatenatedGzipMembersAreReadWhole() throws {
        let a = try Data(contentsOf: URL(fileURLWithPath: Fixtures.gzip(Array("Thd-1 INFO f(): first\n".utf8), named: "a.gz")))
        let b = try Data(contentsOf: URL(fileURLWithPath: Fixtures.gzip(Array("Thd-1 INFO f(): second\n".utf8), named: "b.gz")))
        let path = Fixtures.write([UInt8](a + b), named: "ab.trc.gz")
        let (records, _) = try Fixtures.records(path)
        XCTAssertEqual(records.map(\.message), ["first", "second"])
    }

    func testTruncatedGzipKeepsTheLinesBeforeTheDamage() throws {
        let gz = try Data(contentsOf: URL(fileURLWithPath: Fixtures.gzip(Array(text.utf8), named: "t.gz")))
        let path = Fixtures.write([UInt8](gz.prefix(gz.count - 20)), named: "cut.trc.gz")
        var seen = 0
        let summary = try RecordStream(plugins: Fixtures.plugins).read(path, source: 0) { _ in seen += 1 }
        XCTAssertTrue(summary.damage?.contains("cut short") == true, "\(String(describing: summary.damage))")
        XCTAssertTrue(summary.damage?.hasPrefix(path) == true)
        XCTAssertGreaterThan(seen, 2900, "the lines before the damage were read")
    }
}

final class ResumeTests: XCTestCase {
    func testReadingStopsAndResumesWithoutLosingALine() throws {
        let text = (1...1000).map { "Thd-1 INFO f(): line \($0)" }.joined(separator: "\n")  // no final line end
        let reader = try TextReader(path: Fixtures.write(text), chunkSize: 100)
        var first: [Int] = []
        try reader.forEachLine { _, n in first.append(n); return n < 37 }
        XCTAssertEqual(first, Array(1...37))
        var rest: [String] = []
        try reader.forEachLine { line, _ in rest.append(String(decoding: line, as: UTF8.self)) }
        XCTAssertEqual(rest.count, 963)
        XCTAssertEqual(rest.first, "Thd-1 INFO f(): line 38")
        XCTAssertEqual(rest.last, "Thd-1 INFO f(): line 1000")
        XCTAssertEqual(reader.lineNumber, 1000)
    }
}
