import Foundation
import TraceLensInput
import TraceLensPlugins
import TraceLensFollow
import TraceLensExport

/// The daemon's export sinks, each on a thread of its own with its own store connections, so
/// a slow or absent engine never holds up following and storing.
public final class ExportThreads: Sendable {
    private let stop = StopSignal()
    private let finished: [DispatchSemaphore]

    package init(specs: [SinkSpec], storePath: String, plugins: PluginSet, host: String, log: FollowLog) {
        var finished: [DispatchSemaphore] = []
        for spec in specs {
            let done = DispatchSemaphore(value: 0)
            finished.append(done)
            let stop = self.stop
            let thread = Thread {
                defer { done.signal() }
                Self.run(spec, storePath: storePath, plugins: plugins, host: host, log: log, stop: stop)
            }
            thread.name = "export \(spec.name)"
            thread.start()
        }
        self.finished = finished
    }

    private static func run(_ spec: SinkSpec, storePath: String, plugins: PluginSet, host: String, log: FollowLog, stop: StopSignal) {
        // A sink that cannot start (no password, a store it cannot open) is tried again, slowly:
        // the daemon goes on following and storing.
        var delay = 1.0
        while !stop.requested {
            do {
                let exporter = try Exporter(storePath: storePath, plugins: plugins, host: host, sink: try spec.makeSink(), options: spec.options)
                exporter.run(stop: stop) { event in report(event, log) }
                return
            } catch {
                log(.error, "export-cannot-start", ["sink": spec.name, "error": "\(error)", "retry_in": "\(Int(delay))s"])
                let end = Platform.monotonicSeconds() + delay
                while !stop.requested && Platform.monotonicSeconds() < end { Platform.sleep(seconds: 0.1) }
                delay = min(delay * 2, spec.options.maxBackoff)
            }
        }
    }

    private static func report(_ event: ExportEvent, _ log: FollowLog) {
        switch event {
        case let .started(sink, target, cursor, restarted):
            log(.info, "export-started", ["sink": sink, "target": target, "record": Int(cursor.record), "revision": Int(cursor.revision),
                                          "note": restarted ? "the target changed: sending everything again" : nil])
        case let .sent(sink, records, connections):
            log(.debug, "export-sent", ["sink": sink, "records": records, "connections": connections])
        case let .caughtUp(sink, record, revision):
            log(.info, "export-caught-up", ["sink": sink, "record": Int(record), "revision": Int(revision)])
        case let .failed(sink, error, retryIn):
            log(.warn, "export-failed", ["sink": sink, "error": error, "retry_in": "\(Int(retryIn))s"])
        case let .recovered(sink, after):
            log(.info, "export-recovered", ["sink": sink, "failures": after])
        case let .stopped(sink):
            log(.info, "export-stopped", ["sink": sink])
        }
    }

    /// Asks every exporter to stop after its current batch and waits for them (a batch's
    /// request has its own timeout, so this ends).
    public func stopAndWait() {
        stop.request()
        for done in finished { done.wait() }
    }
}
