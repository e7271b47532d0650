import Foundation
import TraceLensInput

/// The one-line progress report on a terminal: bytes done, MB/s, records.
package final class ProgressLine {
    package let path: String
    package let total: Int
    package let started = Date()
    private var lastDraw = Date.distantPast

    package init(path: String, total: Int) { self.path = path; self.total = total }

    package func update(done: Int, records: Int) {
        let now = Date()
        guard now.timeIntervalSince(lastDraw) > 0.25 else { return }
        lastDraw = now
        let secs = max(now.timeIntervalSince(started), 0.001)
        let mb = Double(done) / 1_048_576
        let line = String(format: "\r%@: %.0f of %.0f MB (%.0f%%), %.0f MB/s, %d records", (path as NSString).lastPathComponent,
                          mb, Double(total) / 1_048_576, min(100, Double(done) * 100 / Double(max(total, 1))), mb / secs, records)
        let bytes = Array(line.utf8) + ANSI.eraseToLineEnd
        Platform.writeAll(2, bytes)
    }

    package func finish() {
        let bytes = [0x0D] + ANSI.eraseToLineEnd
        Platform.writeAll(2, bytes)
    }
}
