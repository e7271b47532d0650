import Foundation
import Synchronization
import TraceLensRecords

/// The second thread of a two-thread read (`RecordStream.twoThreads`): the reading thread reads
/// lines, parses records and masks secrets, and hands the records over in batches to this
/// thread, which runs the rest of the stream on them in order (find codes, annotate, and the
/// sink: `format` renders and writes there). Three batches exist (one being filled, at most two
/// queued or being worked on), so memory stays flat. Records are swapped, not copied: the reader
/// gets back a record from an earlier batch and reuses its storage, so handing a record over
/// copies and allocates nothing once the batches have grown.
package final class RecordHandoff {
    package struct Batch: Sendable {
        package var records: [Record] = []
        package var count = 0
        package var bytes = 0
    }

    /// What the two threads share.
    private final class Shared: Sendable {
        struct State {
            var queue: [Batch] = []
            var free: [Batch] = [Batch(), Batch()]
            /// Batches queued or being worked on.
            var outstanding = 0
            /// The error the work threw: later batches are handed back untouched, and the
            /// reading thread throws it at its next hand-over.
            var failure: Error?
            var closing = false
        }
        let state = Mutex(State())
        // Mutex has no condition variable: each side sleeps on a semaphore the other signals after
        // changing the state and re-checks the state when it wakes (as `BackgroundWriter` does).
        /// Signalled on each submit and on close.
        let work = DispatchSemaphore(value: 0)
        /// Signalled when a batch is handed back.
        let freed = DispatchSemaphore(value: 0)
        /// Signalled once the thread has left its loop.
        let exited = DispatchSemaphore(value: 0)
    }

    /// The work crosses to the second thread once. It runs the stream's decoders and its sink,
    /// which are not Sendable: they are used by that thread only while the read goes on, and by
    /// the reading thread only after `drain` (every batch back, ordered by the mutex).
    /// It is let go when the thread ends, before `close` returns (the stream's closures may not
    /// outlive its read).
    private final class Work: @unchecked Sendable {
        var body: ((inout Record) throws -> Void)?
        init(_ body: @escaping (inout Record) throws -> Void) { self.body = body }
    }

    private let shared = Shared()
    private var filling = Batch()
    private var closed = false
    /// A batch is handed over when it holds this many records or bytes.
    private let batchRecords: Int
    private let batchBytes: Int

    package init(batchRecords: Int = 1024, batchBytes: Int = 1 << 20, name: String = "tracelens decode", _ body: @escaping (inout Record) throws -> Void) {
        self.batchRecords = max(batchRecords, 1)
        self.batchBytes = batchBytes
        let shared = shared
        let work = Work(body)
        let t = Thread {
            if let body = work.body { Self.loop(shared, body) }
            work.body = nil
            shared.exited.signal()
        }
        t.name = name
        t.stackSize = 1 << 20
        t.start()
    }

    deinit { close() }

    /// Takes `r` into the batch being filled (leaving a used record in its place); hands the batch over when it is full. Throws what
    /// the work threw.
    @inline(__always)
    package func add(_ r: inout Record) throws {
        if filling.count == filling.records.count { filling.records.append(Record()) }
        filling.bytes += r.bytes.count
        // The record itself goes (no copy): the reader gets a used one back, whose storage it reuses.
        swap(&filling.records[filling.count], &r)
        filling.count += 1
        if filling.count >= batchRecords || filling.bytes >= batchBytes {
            submit()
            if let failure = takeFree() { throw failure }
        }
    }

    // Batches are moved in and out of the shared state (`Optional.take()`), never copied: a copy
    // left alive on one side would make the other's first write copy the whole batch.
    private func submit() {
        var out: Batch? = filling
        filling = Batch()
        shared.state.withLock { $0.queue.append(out.take()!); $0.outstanding += 1 }
        shared.work.signal()
    }

    /// Waits for a batch to fill; returns the work's error, if any.
    private func takeFree() -> Error? {
        while true {
            var got: Batch?
            let failure: Error? = shared.state.withLock { s in got = s.free.popLast(); return s.failure }
            if got != nil { filling = got.take()!; return failure }
            shared.freed.wait()
        }
    }

    /// Hands over what is left and waits until the work has seen every record; throws what the
    /// work threw. Afterwards the reading thread may use what the work uses.
    package func drain() throws {
        if filling.count > 0 {
            submit()
            _ = takeFree()
        }
        while true {
            let done: Result<Void, Error>? = shared.state.withLock { s in
                guard s.outstanding == 0 else { return nil }
                return s.failure.map { .failure($0) } ?? .success(())
            }
            if let done { return try done.get() }
            shared.freed.wait()
        }
    }

    /// Waits for the work to finish what it was given (its error is dropped: the caller is
    /// already leaving) and ends the thread.
    package func close() {
        guard !closed else { return }
        closed = true
        try? drain()
        shared.state.withLock { $0.closing = true }
        shared.work.signal()
        shared.exited.wait()
    }

    private static func loop(_ shared: Shared, _ body: (inout Record) throws -> Void) {
        var failed = false
        while true {
            var taken: Batch?
            let closing: Bool = shared.state.withLock { s in
                if !s.queue.isEmpty { taken = s.queue.removeFirst(); return false }
                return s.closing
            }
            guard var batch = taken.take() else {
                if closing { return }
                shared.work.wait()
                continue
            }
            var failure: Error?
            if !failed {
                do {
                    for i in 0..<batch.count { try body(&batch.records[i]) }
                } catch {
                    failure = error
                    failed = true
                }
            }
            batch.count = 0
            batch.bytes = 0
            var back: Batch? = consume batch
            shared.state.withLock { s in
                s.free.append(back.take()!)
                s.outstanding -= 1
                if let failure { s.failure = failure }
            }
            shared.freed.signal()
        }
    }
}
