import XCTest
import Foundation
@testable import TraceLensInput
@testable import TraceLensRecords
@testable import TraceLensDecode
@testable import TraceLensRender
@testable import TraceLensCommands
@testable import TraceLensBench

/// `format` on two threads (parsing on one; decoding, rendering and writing on the other) prints
/// exactly what one thread prints, stops quietly at a closed pipe, and goes on past a file that
/// cannot be read.
final class TwoThreadFormatTests: XCTestCase {
    /// A generated trace large enough for many batches (handed over every 1024 records).
    func bigTrace() throws -> String {
        let path = Fixtures.tempDir() + "/gskssl.77.trc"
        _ = try SyntheticTrace(threads: 5, seed: 11).writeWithTruth(to: path, targetBytes: 3_000_000)
        return path
    }

    func both(_ paths: [String], _ configure: @escaping (inout FormatOptions) -> Void = { _ in }) -> (one: (String, Int32), two: (String, Int32)) {
        let one = Fixtures.format(paths) { configure(&$0); $0.twoThreads = false }
        let two = Fixtures.format(paths) { configure(&$0); $0.twoThreads = true }
        return (one, two)
    }

    func testLargeTraceSameOutputAsOneThread() throws {
        let path = try bigTrace()
        for variant in 0..<4 {
            let (one, two) = both([path]) { o in
                switch variant {
                case 1: o.json = true
                case 2: o.errorsOnly = true
                case 3: o.filter = RecordFilter(); o.filter.threads = ["3"]
                default: break
                }
            }
            XCTAssertGreaterThan(one.0.utf8.count, variant == 0 ? 1_000_000 : 0)
            XCTAssertEqual(one.1, two.1, "variant \(variant)")
            XCTAssertTrue(one.0 == two.0, "variant \(variant): two threads printed something else")
        }
    }

    func testSamplesSameOutputAsOneThread() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let files = FormatRun.expand([root + "/samples", root + "/Tests/Data"])
        XCTAssertGreaterThan(files.count, 5)
        for json in [false, true] {
            let (one, two) = both(files) { $0.json = json }
            XCTAssertEqual(one.1, two.1)
            XCTAssertTrue(one.0 == two.0, "json \(json): two threads printed something else")
        }
    }

    func testUnreadableFileDoesNotStopTheOthers() throws {
        let path = try bigTrace()
        let (one, two) = both([Fixtures.tempDir() + "/missing.trc", path])
        XCTAssertEqual(two.1, 1)
        XCTAssertEqual(one.1, two.1)
        XCTAssertTrue(one.0 == two.0)
    }

    func testClosedPipeStopsEarly() throws {
        signal(SIGPIPE, SIG_IGN)
        let path = try bigTrace()
        let pipe = Pipe()
        // The reader goes away at once: the first write fails and reading stops.
        try pipe.fileHandleForReading.close()
        let output = Output(fd: pipe.fileHandleForWriting.fileDescriptor, bufferSize: 4096)
        var options = FormatOptions()
        options.twoThreads = true
        let run = FormatRun(plugins: Fixtures.plugins, options: options, output: output)
        let status = run.run([path, path])
        XCTAssertEqual(status, 0)
        XCTAssertTrue(output.closed)
        // Stopped before the first file's summary: nothing more was read.
        XCTAssertTrue(run.summaries.isEmpty)
        try pipe.fileHandleForWriting.close()
    }
}
