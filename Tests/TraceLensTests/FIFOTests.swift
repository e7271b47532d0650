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

/// FIFOs and other non-regular files: never a hang. A folder expands to regular files only; a
/// FIFO named on the command line is read once; SIGTERM/SIGINT stop a read that waits for data.
final class FIFOTests: XCTestCase {
    let text = (1...200).map { "03/24/2022-10:07:\(String(format: "%02d", $0 % 60)) Thd-3 INFO f(): message \($0)\n" }.joined()

    override func setUp() {
        // A writer whose reader went away must get EPIPE here, not kill the test run.
        signal(SIGPIPE, SIG_IGN)
    }

    func makeFIFO(in dir: String = Fixtures.tempDir()) -> String {
        let path = dir + "/trace.fifo"
        XCTAssertEqual(mkfifo(path, 0o600), 0)
        return path
    }

    /// The tool in a child; killed (and the test failed) if it has not exited by `deadline`.
    final class Child {
        let process = Process()
        let errPath = Fixtures.tempDir() + "/stderr.txt"
        let out = Pipe()
        var output = Data()
        let reader: Thread

        init(_ arguments: [String]) throws {
            process.executableURL = URL(fileURLWithPath: Fixtures.toolPath)
            process.arguments = arguments
            _ = FileManager.default.createFile(atPath: errPath, contents: nil)
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
            process.standardOutput = out
            process.standardInput = FileHandle.nullDevice
            let handle = out.fileHandleForReading
            let box = DataBox()
            reader = Thread { box.data = handle.readDataToEndOfFile() }
            self.box = box
            try process.run()
            reader.start()
        }
        private let box: DataBox
        final class DataBox: @unchecked Sendable { var data = Data() }  // written by one thread, read after it ends

        /// Waits for the exit; false when it did not come in time (the child is then killed).
        func wait(seconds: Double) -> Bool {
            let end = Date().addingTimeInterval(seconds)
            while process.isRunning && Date() < end { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit(); return false }
            process.waitUntilExit()
            while reader.isExecuting { usleep(1000) }
            output = box.data
            return true
        }
        var stdout: String { String(decoding: box.data, as: UTF8.self) }
        var stderr: String { String(decoding: FileManager.default.contents(atPath: errPath) ?? Data(), as: UTF8.self) }
    }

    /// Opens the FIFO for writing once a reader has it open (or gives up), writes, closes.
    /// Returns the bytes written.
    func feed(_ fifo: String, _ bytes: [UInt8], within seconds: Double = 10) -> Int {
        let end = Date().addingTimeInterval(seconds)
        var fd: Int32 = -1
        while fd < 0 && Date() < end {
            fd = open(fifo, O_WRONLY | O_NONBLOCK)  // ENXIO until a reader opens it
            if fd < 0 { usleep(20_000) }
        }
        guard fd >= 0 else { return -1 }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        usleep(100_000)  // the reader is open: anything that opened it twice would show now
        var written = 0
        bytes.withUnsafeBytes { raw in
            while written < raw.count {
                let n = write(fd, raw.baseAddress! + written, min(4096, raw.count - written))
                if n <= 0 { break }
                written += n
            }
        }
        close(fd)
        return written
    }

    func testFormatReadsAFIFOUntilTheWriterCloses() throws {
        let fifo = makeFIFO()
        let child = try Child(["format", fifo])
        XCTAssertEqual(feed(fifo, Array(text.utf8)), text.utf8.count, "every byte taken by one reader")
        XCTAssertTrue(child.wait(seconds: 20), "finishes once the writer closes")
        XCTAssertEqual(child.process.terminationStatus, 0, child.stderr)
        XCTAssertEqual(child.stdout.split(separator: "\n").count, 200)
    }

    func testIngestReadsAFIFOOnce() throws {
        let dir = Fixtures.tempDir()
        let fifo = makeFIFO(in: dir)
        let db = dir + "/f.db"
        let child = try Child(["ingest", "--db", db, fifo])
        XCTAssertEqual(feed(fifo, Array(text.utf8)), text.utf8.count)
        XCTAssertTrue(child.wait(seconds: 20))
        XCTAssertEqual(child.process.terminationStatus, 0, child.stderr)
        XCTAssertTrue(child.stdout.contains("added 200 records"), child.stdout + child.stderr)
        let database = try Database(path: db, mode: .readOnly)
        XCTAssertEqual(try database.scalar("SELECT count(*) FROM records"), 200)
    }

    func testSignalStopsAReadThatWaitsForAWriter() throws {
        for (command, sig) in [("ingest", SIGTERM), ("ingest", SIGINT), ("format", SIGTERM)] {
            let dir = Fixtures.tempDir()
            let fifo = makeFIFO(in: dir)
            let args = command == "ingest" ? ["ingest", "--db", dir + "/w.db", fifo] : ["format", fifo]
            let child = try Child(args)
            usleep(700_000)  // blocked waiting for a writer by now
            XCTAssertTrue(child.process.isRunning, "\(command) waits for data")
            kill(child.process.processIdentifier, sig)
            XCTAssertTrue(child.wait(seconds: 10), "\(command) stops on signal \(sig)")
            if command == "ingest" {
                XCTAssertEqual(child.process.terminationStatus, 130, child.stderr)
                XCTAssertTrue(child.stderr.contains("stopped as asked"), child.stderr)
                XCTAssertTrue(child.stderr.contains("A pipe or FIFO is read once"), child.stderr)
            }
        }
    }

    func testFolderWithAFIFOSkipsIt() throws {
        let dir = Fixtures.tempDir()
        _ = makeFIFO(in: dir)
        try text.write(toFile: dir + "/a.trc", atomically: true, encoding: .utf8)
        for args in [["format", dir], ["ingest", "--db", Fixtures.tempDir() + "/d.db", dir]] {
            let child = try Child(args)
            XCTAssertTrue(child.wait(seconds: 20), "\(args[0]) of a folder holding a FIFO does not hang")
            XCTAssertEqual(child.process.terminationStatus, 0, child.stderr)
            XCTAssertTrue(child.stderr.contains("trace.fifo: skipped, not a regular file"), child.stderr)
            if args[0] == "format" { XCTAssertEqual(child.stdout.split(separator: "\n").count, 200) }
        }
    }
}
