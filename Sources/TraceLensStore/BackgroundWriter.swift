import Foundation
import Synchronization
import TraceLensPlugins

/// Runs the store's writes on their own thread, so that reading, decoding and correlating the
/// next batch overlaps with SQLite writing the last one (the two halves take about the same
/// time; on two cores this nearly halves an ingest). Batches are committed in order; at most
/// one waits while another is written, so memory stays flat.
///
/// The writer thread opens its own SQLite connection and is its only user: the connection and
/// the `StoreWriter` built on it are made, used and closed on that thread and never leave it.
/// The caller's store connection is not touched from here.
package final class BackgroundWriter: Sendable {
    package struct Job: Sendable {
        package var batch: RecordBatch
        package var connections: [ConnectionRow]
        package var progress: SourceProgress
        package init(batch: RecordBatch, connections: [ConnectionRow], progress: SourceProgress) {
            self.batch = batch
            self.connections = connections
            self.progress = progress
        }
    }

    /// What the two threads share; only under `state`'s lock.
    private struct State {
        var queue: [Job] = []
        var free: [RecordBatch] = [RecordBatch(), RecordBatch()]
        var failure: Error?
        var closing = false
        /// `close` has seen the thread exit (a second `close` returns at once).
        var joined = false
    }
    private let state = Mutex(State())
    // Mutex has no condition variable: each side sleeps on a semaphore the other signals after
    // changing the state. A waiter re-checks the state when it wakes, so a signal counted
    // without a waiter (a spare wake) costs one loop turn and none is ever lost.
    /// Signalled on each submit and on close: the writer thread has something to look at.
    private let work = DispatchSemaphore(value: 0)
    /// Signalled when a batch is handed back or the writer fails: `emptyBatch` may go on.
    private let freed = DispatchSemaphore(value: 0)
    /// Signalled once the thread has left its loop and closed its connection.
    private let exited = DispatchSemaphore(value: 0)

    /// Starts the writer thread, which opens its own connection to the store at `path` (limited to
    /// `pageLimit` pages, see `Store.pageLimit`). A failure to open is reported by a later
    /// `emptyBatch` or `submit`, and by `close`.
    package init(path: String, pageLimit: Int64? = nil, plugins: PluginSet, source: Int64, process: String?) {
        let t = Thread { [self] in
            do {
                let writer = try StoreWriter(db: try Store.writerConnection(path, pageLimit: pageLimit), plugins: plugins, source: source, process: process)
                loop(writer)
            } catch {
                fail(error)
            }
            exited.signal()
        }
        t.name = "tracelens store writer"
        t.stackSize = 1 << 20
        t.start()
    }

    /// A batch to fill (waits for the writer to hand one back).
    package func emptyBatch() throws -> RecordBatch {
        while true {
            let next: Result<RecordBatch, Error>? = state.withLock {
                if let failure = $0.failure { return .failure(failure) }
                return $0.free.popLast().map { .success($0) }
            }
            if let next { return try next.get() }
            freed.wait()
        }
    }

    /// Queues a full batch for writing; throws the writer's error if an earlier batch failed.
    package func submit(_ job: Job) throws {
        try state.withLock {
            if let failure = $0.failure { throw failure }
            $0.queue.append(job)
        }
        work.signal()
    }

    /// Waits until everything queued is committed and the writer thread has closed its
    /// connection; throws the first error.
    package func close() throws {
        let mustJoin = state.withLock { s in
            s.closing = true
            let first = !s.joined
            s.joined = true
            return first
        }
        if mustJoin {
            work.signal()
            exited.wait()
        }
        if let failure = state.withLock({ $0.failure }) { throw failure }
    }

    /// Records the first error; queued batches are dropped, and a waiting `emptyBatch` wakes.
    private func fail(_ error: Error) {
        state.withLock {
            if $0.failure == nil { $0.failure = error }
            $0.queue.removeAll()
        }
        freed.signal()
    }

    private func loop(_ writer: StoreWriter) {
        while true {
            work.wait()
            let next: Job?? = state.withLock {
                if $0.failure != nil { return .some(nil) }
                if !$0.queue.isEmpty { return $0.queue.removeFirst() }
                return $0.closing ? .some(nil) : nil
            }
            guard let job = next else { continue }   // a spare wake
            guard let job else { return }           // closing with nothing queued, or failed
            do { try writer.commit(job.batch, connections: job.connections, progress: job.progress) } catch { fail(error) }
            job.batch.removeAll()
            state.withLock { $0.free.append(job.batch) }
            freed.signal()
        }
    }
}
