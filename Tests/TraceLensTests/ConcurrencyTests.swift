import Foundation
import XCTest
@testable import TraceLensInput
@testable import TraceLensRecords
@testable import TraceLensDecode
@testable import TraceLensPlugins
@testable import TraceLensHandshake
@testable import TraceLensStore

/// What the Sendable claims promise: values built once and read from any thread, and state
/// behind a lock seen across threads.
final class ConcurrencyTests: XCTestCase {
    func testPluginSetIsReadInAnotherTask() async {
        let plugins = Fixtures.plugins
        let (formats, ssl) = await Task.detached {
            (plugins.formats.map(\.name), plugins.catalogue("ssl")?.entries.count ?? 0)
        }.value
        XCTAssertEqual(formats, plugins.formats.map(\.name))
        XCTAssertGreaterThan(ssl, 0)
        XCTAssertEqual(ssl, plugins.catalogue("ssl")?.entries.count)
    }

    func testStopRequestedOnAnotherThreadIsSeen() {
        let stop = StopSignal()
        XCTAssertFalse(stop.requested)
        let requested = DispatchSemaphore(value: 0)
        Thread {
            stop.request(signal: SIGTERM)
            stop.request(signal: SIGINT)   // a second request keeps the first signal
            requested.signal()
        }.start()
        requested.wait()
        XCTAssertTrue(stop.requested)
        XCTAssertEqual(stop.stoppingSignal, SIGTERM)
    }

    /// The writer thread opens its own connection: a store it cannot open is reported by `close`
    /// (which waits for the thread) and by every call after it; `close` may be called twice.
    func testBackgroundWriterReportsItsOwnConnectionFailing() {
        let writer = BackgroundWriter(path: Fixtures.tempDir() + "/missing-folder/t.db", plugins: Fixtures.plugins, source: 1, process: nil)
        XCTAssertThrowsError(try writer.close())
        XCTAssertThrowsError(try writer.emptyBatch())
        XCTAssertThrowsError(try writer.submit(.init(batch: RecordBatch(), connections: [], progress: SourceProgress(resume: ResumePoint(offset: 0, line: 0)))))
        XCTAssertThrowsError(try writer.close())
    }
}
