import Foundation

/// Runs the store's writes on their own thread, so that reading, decoding and correlating the
/// next batch overlaps with SQLite writing the last one (the two halves take about the same
/// time; on two cores this nearly halves an ingest). Batches are committed in order; at most
/// one waits while another is written, so memory stays flat.
package final class BackgroundWriter: @unchecked Sendable {
    package struct Job {
        package var batch: RecordBatch
        package var connections: [ConnectionRow]
        package var progress: SourceProgress
        package init(batch: RecordBatch, connections: [ConnectionRow], progress: SourceProgress) {
            self.batch = batch
            self.connections = connections
            self.progress = progress
        }
    }

    private let writer: StoreWriter
    private let condition = NSCondition()
    private var queue: [Job] = []
    private var free: [RecordBatch] = [RecordBatch(), RecordBatch()]
    private var failure: Error?
    private var closing = false
    private var running = true
    private var thread: Thread?

    /// Signalled once the thread has left `loop` (and let go of this object), so that `close`
    /// returns only when the store is no longer used from the writer thread.
    private let exited = DispatchSemaphore(value: 0)

    package init(writer: StoreWriter) {
        self.writer = writer
        let exited = exited
        let t = Thread { [unowned self] in
            self.loop()
            exited.signal()
        }
        t.name = "tracelens store writer"
        t.stackSize = 1 << 20
        thread = t
        t.start()
    }

    /// A batch to fill (waits for the writer to hand one back).
    package func emptyBatch() throws -> RecordBatch {
        condition.lock()
        defer { condition.unlock() }
        while free.isEmpty && failure == nil { condition.wait() }
        if let failure { throw failure }
        return free.removeLast()
    }

    /// Queues a full batch for writing; throws the writer's error if an earlier batch failed.
    package func submit(_ job: Job) throws {
        condition.lock()
        defer { condition.unlock() }
        if let failure { throw failure }
        queue.append(job)
        condition.broadcast()
    }

    /// Waits until everything queued is committed; throws the first error.
    package func close() throws {
        condition.lock()
        let wasRunning = running || thread != nil
        closing = true
        condition.broadcast()
        while running { condition.wait() }
        condition.unlock()
        if wasRunning && thread != nil {
            exited.wait()
            thread = nil
        }
        if let failure { throw failure }
    }

    private func loop() {
        while true {
            condition.lock()
            while queue.isEmpty && !closing { condition.wait() }
            if queue.isEmpty || failure != nil {
                running = false
                condition.broadcast()
                condition.unlock()
                return
            }
            let job = queue.removeFirst()
            condition.unlock()
            var error: Error?
            do { try writer.commit(job.batch, connections: job.connections, progress: job.progress) } catch let e { error = e }
            job.batch.removeAll()
            condition.lock()
            free.append(job.batch)
            if let error, failure == nil { failure = error; queue.removeAll() }
            condition.broadcast()
            condition.unlock()
        }
    }
}
