import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import TraceLensInput
import TraceLensRecords
import TraceLensDecode
import TraceLensCorrelate
import TraceLensPlugins
import TraceLensStore
import TraceLensRender

/// The store end of the record stream. The read (this thread) hands each record to an
/// `IngestCorrelation`, which links it to its connection, gathers a batch, and commits it with
/// the source's offset when the batch is full and at the end. For `ingest` the correlation runs
/// on a thread of its own (`IngestWorker`), so that reading and decoding the next records
/// overlaps with correlating the last ones; for `watch`, whose observer prints on this thread, it
/// runs here.
package final class IngestSink: RecordSink {
    package let run: IngestRun
    package let source: Int64
    package let path: String
    package let size: Int64
    private let resume: ResumePoint?
    private let batchLimit: Int
    private let stop: StopSignal?

    /// The saved lanes of the source, when resuming.
    package var laneState: String?
    /// `watch`: sees each record and each connection change.
    package var observer: IngestObserver?
    package struct Skip: Error {}
    /// What detection found (for the note on a skipped file).
    package var detection = Detection()
    package var skipUnknown = false

    /// Correlation on this thread (with an observer), or not yet handed to the worker.
    private var local: IngestCorrelation?
    private var worker: IngestWorker?
    /// The worker's chunk being filled.
    private var chunk = IngestWorker.Chunk(records: [])
    private var startError: Error?
    /// Records handed over since the last checkpoint (the batch the correlation is filling).
    private var sinceCheckpoint = 0
    private var progress: ProgressLine?

    package init(run: IngestRun, source: Int64, path: String, size: Int64, resume: ResumePoint?) throws {
        self.run = run
        self.source = source
        self.path = path
        self.size = size
        self.resume = resume
        batchLimit = max(run.options.batchRecords, 1)
        stop = run.options.stop
        if run.options.progress && size > 4 << 20 { progress = ProgressLine(path: path, total: Int(size)) }
    }

    /// What the read added up to; read once it is over.
    package var counts: IngestCorrelation.Counts { worker?.counts ?? local?.counts ?? .init() }
    package var records: Int { counts.records }
    package var unparsed: Int { counts.unparsed }
    package var connectionsCreated: Int { counts.connectionsCreated }
    package var commits: Int { counts.commits }

    /// The layout is known: record it, prepare the writer, pick up open connections, and start
    /// the correlation.
    package func started(_ summary: SourceSummary) {
        detection = summary.detection
        if skipUnknown && summary.format == nil { startError = Skip(); return }
        do {
            let store = run.store
            // A mixed file keeps all its layouts, best first (`client-transcript+gsktrace`).
            let layout = summary.detection.layouts.count > 1 ? summary.detection.layouts.joined(separator: "+") : summary.format
            try store.recordLayout(source: source, layout: layout, encoding: summary.detected.description, process: summary.process)
            let nextID = try store.nextConnectionID()
            let saved = resume == nil ? nil : try store.savedConnections(source: source, held: Correlator.connectionIDs(inLaneState: laneState), plugins: run.plugins)
            // Last, so that nothing after it fails but the writer's own opening (which ends its thread).
            let writer = BackgroundWriter(path: store.path, pageLimit: store.pageLimit, plugins: run.plugins, source: source, process: summary.process)
            let correlation = try IngestCorrelation.make(plugins: run.plugins, source: source, path: path, size: size, summary: summary, writer: writer,
                                                         nextConnectionID: nextID, saved: saved, laneState: laneState, stop: stop)
            if let observer {
                correlation.observer = observer
                local = correlation
            } else {
                worker = IngestWorker(correlation)
                chunk = try worker!.emptyChunk()
            }
        } catch {
            startError = error
        }
    }

    package func consume(_ r: inout Record) throws {
        if let startError { throw startError }
        sinceCheckpoint += 1
        if let local { return try local.consume(&r) }
        guard let worker else { return }
        if chunk.count == IngestWorker.chunkRecords {
            try worker.submit(chunk)
            chunk = try worker.emptyChunk()
        }
        // The record goes over whole; the read gets back one the worker is done with, whose
        // buffers it reuses (the reader resets a record before it builds the next one in it).
        swap(&r, &chunk.records[chunk.count])
        chunk.count += 1
    }

    /// Checked after every line: cheap (a count), except every 4096 records the stop flag.
    package var wantsCheckpoint: Bool {
        if sinceCheckpoint >= batchLimit { return true }
        if let stop, sinceCheckpoint & 4095 == 4095 { return stop.requested }
        return false
    }

    package func checkpoint(_ point: ResumePoint) throws {
        try hand(.checkpoint(point))
        sinceCheckpoint = 0
        progress?.update(done: point.offset, records: records)
    }

    package func beginTail(_ point: ResumePoint) throws {
        if let startError { throw startError }
        try hand(.beginTail(point))
        sinceCheckpoint = 0
    }

    package func finish(_ point: ResumePoint) throws {
        if let startError { throw startError }
        try hand(.finish(point))
    }

    /// Gives the correlation what comes after the records so far, and waits for it.
    private func hand(_ step: IngestCorrelation.Step) throws {
        if let local { return try local.take(step) }
        guard let worker else { return }
        chunk.step = step
        try worker.submit(chunk)
        chunk = IngestWorker.Chunk(records: [])  // until the worker hands one back
        try worker.waitForStep()
        if case .finish = step { return }
        chunk = try worker.emptyChunk()
    }

    /// Waits for the writer after a failure elsewhere (its error, if any, is the one to report).
    package func abandon() {
        if let local { return try! local.take(.abandon) }
        worker?.abandon()
    }

    package func endProgress() { progress?.finish() }
}

/// Links records to their connections and commits them in batches: the half of an ingest after
/// the read. Lives on one thread: the worker's, or the read's own.
package final class IngestCorrelation {
    /// What comes between records: a checkpoint, the start of the tail, the end.
    package enum Step: Sendable {
        case checkpoint(ResumePoint), beginTail(ResumePoint), finish(ResumePoint), abandon
    }
    package struct Counts: Sendable {
        package var records = 0, unparsed = 0, connectionsCreated = 0, commits = 0
    }

    let plugins: PluginSet
    let source: Int64
    let path: String
    let size: Int64
    let process: String?
    let writer: BackgroundWriter
    private var batch: RecordBatch
    private var correlator: Correlator?
    /// A mixed file: the correlator of each layout that has a connection rule (empty otherwise:
    /// `correlator` serves the one layout, without a look-up per record).
    private let layoutCorrelators: [(layout: Format, correlator: Correlator)]
    private let correlators: [Correlator]
    private let stop: StopSignal?
    /// Held strongly: a weak load on every record would cost on the ingest path; the sink
    /// lives only for one read and the observer holds no reference back.
    var observer: IngestObserver?
    private(set) var counts = Counts()
    private var pending = SourceProgress(resume: ResumePoint(offset: 0, line: 0))
    private var inTail = false
    private var tailLanes: String?

    init(plugins: PluginSet, source: Int64, path: String, size: Int64, process: String?, writer: BackgroundWriter, correlators: [Correlator],
         layoutCorrelators: [(layout: Format, correlator: Correlator)], stop: StopSignal?) throws {
        self.plugins = plugins
        self.source = source
        self.path = path
        self.size = size
        self.process = process
        self.writer = writer
        self.correlators = correlators
        self.layoutCorrelators = layoutCorrelators
        correlator = layoutCorrelators.isEmpty ? correlators.first : nil
        self.stop = stop
        batch = try writer.emptyBatch()
    }

    /// A correlation for a file read with `summary`'s layouts: each layout's records follow that
    /// layout's connection rule; layouts of a mixed file sharing a rule share its correlator (one
    /// connection may show in two wrappers). A resumed read's correlators take back their own
    /// rule's connections from `saved` (and the lanes holding them).
    static func make(plugins: PluginSet, source: Int64, path: String, size: Int64, summary: SourceSummary, writer: BackgroundWriter,
                     nextConnectionID: Int64, saved: sending (connections: [LiveConnection], keys: [(conn: Int64, name: String, value: String)])?,
                     laneState: String?, stop: StopSignal?) throws -> sending IngestCorrelation {
        let ids = Correlator.IDs(nextConnectionID)
        var byRule: [String: Correlator] = [:]
        var correlators: [Correlator] = []
        var layoutCorrelators: [(layout: Format, correlator: Correlator)] = []
        for name in summary.detection.layouts {
            guard let format = plugins.format(named: name), let rule = plugins.connectionRule(forFormat: name) else { continue }
            let c = byRule[rule.name] ?? Correlator(rule: rule, plugins: plugins, source: source, ids: ids)
            if byRule[rule.name] == nil {
                byRule[rule.name] = c
                correlators.append(c)
            }
            layoutCorrelators.append((format, c))
        }
        if let saved {
            for c in correlators {
                let mine = saved.connections.filter { $0.rule == c.rule.name }
                let ids = Set(mine.map(\.id))
                c.restore(mine, keys: saved.keys.filter { ids.contains($0.conn) }, laneState: laneState)
            }
        }
        return try IngestCorrelation(plugins: plugins, source: source, path: path, size: size, process: summary.process, writer: writer,
                                     correlators: correlators, layoutCorrelators: summary.detection.layouts.count < 2 ? [] : layoutCorrelators, stop: stop)
    }

    private func correlator(for record: Record) -> Correlator? {
        guard let layout = record.layout else { return nil }
        return layoutCorrelators.first { $0.layout === layout }?.correlator
    }

    func consume(_ r: inout Record) throws {
        let conn = layoutCorrelators.isEmpty ? correlator?.assign(r) : correlator(for: r)?.assign(r)
        let start = batch.text.count
        r.bytes.withUnsafeBufferPointer { batch.text.append($0) }
        var failures = 0
        let firstCode = batch.codes.count
        for c in r.codes {
            let f = plugins.catalogues[c.catalogue].isFailure(c.value)
            if f { failures += 1 }
            batch.codes.append((c.catalogue, c.value, f))
        }
        // A time of day alone is kept as such (below one day): the store says so in its docs.
        let time = r.time?.micros
        batch.rows.append(.init(line: r.line, lines: max(r.lineCount, 1), time: time, level: r.level, rawLevel: r.rawLevel,
                                textStart: start, textEnd: batch.text.count, process: r.range(.process), thread: r.range(.thread),
                                function: r.range(.function), conn: conn, failure: failures > 0, unparsed: r.isUnparsed,
                                firstCode: firstCode, codeCount: r.codes.count))
        for a in r.annotations { batch.annotations.append((r.line, conn, a)) }
        observer?.observe(r, source: source, path: path, inTail: inTail)
        counts.records += 1
        pending.records += 1
        if r.isUnparsed { counts.unparsed += 1; pending.unparsed += 1 }
        if conn == nil { pending.unlinked += 1 }
        pending.codes += r.codes.count
        pending.failureCodes += failures
        if let t = time {
            if pending.firstTime == nil { pending.firstTime = t }
            pending.lastTime = t
        }
    }

    func take(_ step: Step) throws {
        switch step {
        case let .checkpoint(point):
            pending.resume = point
            try commit()
            if stop?.requested == true {
                try writer.close()
                throw IngestInterrupted(path: path, line: point.line)
            }
        case let .beginTail(point):
            pending.resume = point
            try commit()
            inTail = true
            tailLanes = combinedLaneState
        case let .finish(point):
            pending.resume = point
            pending.tail = inTail
            pending.completedSize = size
            try commit()
            try writer.close()
        case .abandon:
            try? writer.close()
        }
    }

    /// Hands the batch, the connections it changed and the new offset to the writer thread.
    private func commit() throws {
        let changed = correlators.count == 1 ? correlators[0].takeChanges() : correlators.flatMap { $0.takeChanges() }
        // The tail is redone from its start, so the lanes saved are those before it.
        pending.lanes = inTail ? tailLanes : combinedLaneState
        counts.connectionsCreated = correlators.reduce(0) { $0 + $1.created }
        let rows = changed.map { ConnectionRow($0, plugins: plugins, process: process) }
        if let observer, !changed.isEmpty { observer.connectionsChanged(changed, source: source, path: path) }
        try writer.submit(.init(batch: batch, connections: rows, progress: pending))
        counts.commits += 1
        batch = try writer.emptyBatch()
        pending = SourceProgress(resume: pending.resume)
    }

    /// The lanes of every correlator (a mixed file has one per rule); each takes back only the
    /// lines naming its own connections.
    private var combinedLaneState: String? {
        if correlators.count == 1 { return correlators[0].laneState }
        if correlators.isEmpty { return nil }
        return correlators.map(\.laneState).filter { !$0.isEmpty }.joined(separator: "\n")
    }
}

/// Runs an `IngestCorrelation` on a thread of its own. The read hands it records in chunks
/// (their values swapped in, not copied: a chunk goes back to the read with the records' buffers,
/// which the reader reuses, so records stop allocating once the chunks have gone round) and
/// waits for it at each step (checkpoint, tail, end), where the correlation's error is thrown.
/// At most `chunkCount` chunks exist, so memory stays flat.
package final class IngestWorker: Sendable {
    package static let chunkRecords = 2048
    static let chunkCount = 3

    package struct Chunk: Sendable {
        var records: [Record] = Array(repeating: Record(), count: IngestWorker.chunkRecords)
        var count = 0
        var step: IngestCorrelation.Step?
    }

    private struct State {
        var queue: [Chunk] = []
        var free: [Chunk] = []
        var failure: Error?
        var stepsAsked = 0, stepsDone = 0
        var counts = IngestCorrelation.Counts()
        var finished = false
    }
    private let state = Mutex(State())
    /// The correlation, held by the worker thread (under this lock) for as long as it runs.
    private let correlation: Mutex<IngestCorrelation>
    // As in BackgroundWriter: each side sleeps on a semaphore the other signals after changing
    // the state, and checks the state again on waking.
    private let work = DispatchSemaphore(value: 0)
    private let handedBack = DispatchSemaphore(value: 0)
    private let exited = DispatchSemaphore(value: 0)

    init(_ correlation: sending IngestCorrelation) {
        self.correlation = Mutex(correlation)
        state.withLock { $0.free = (0..<Self.chunkCount).map { _ in Chunk() } }
        let t = Thread { [self] in
            self.correlation.withLock { loop($0) }
            exited.signal()
        }
        t.name = "tracelens correlation"
        t.stackSize = 1 << 20
        t.start()
    }

    /// A chunk to fill (waits for the worker to hand one back); throws the worker's error.
    func emptyChunk() throws -> Chunk {
        while true {
            let next: Result<Chunk, Error>? = state.withLock {
                if let failure = $0.failure { return .failure(failure) }
                return $0.free.popLast().map { .success($0) }
            }
            if let next { return try next.get() }
            handedBack.wait()
        }
    }

    /// Queues a chunk; throws the worker's error instead (a step is always queued: the end has
    /// to reach the worker).
    func submit(_ chunk: Chunk) throws {
        try state.withLock {
            if let failure = $0.failure, chunk.step == nil { throw failure }
            if chunk.step != nil { $0.stepsAsked += 1 }
            $0.queue.append(chunk)
        }
        work.signal()
    }

    /// Waits until the worker has taken every step queued; throws its error.
    func waitForStep() throws {
        while true {
            let done: Result<Bool, Error> = state.withLock {
                if let failure = $0.failure { return .failure(failure) }
                return .success($0.stepsDone >= $0.stepsAsked)
            }
            if try done.get() { return }
            handedBack.wait()
        }
    }

    /// After a failure elsewhere: the worker closes the writer and ends; returns once it has.
    func abandon() {
        guard !state.withLock({ $0.finished }) else { return }
        try? submit(Chunk(records: [], step: .abandon))
        exited.wait()
    }

    /// The counts as of the last chunk the worker finished.
    var counts: IngestCorrelation.Counts { state.withLock { $0.counts } }

    private func loop(_ c: IngestCorrelation) {
        while true {
            work.wait()
            guard var chunk = state.withLock({ $0.queue.isEmpty ? nil : $0.queue.removeFirst() }) else { continue }
            var failure: Error?
            if !state.withLock({ $0.failure != nil }) {
                do {
                    for i in 0..<chunk.count { try c.consume(&chunk.records[i]) }
                    if let step = chunk.step { try c.take(step) }
                } catch {
                    failure = error
                    // The read stops at its next hand-over; the writer is closed now.
                    try? c.take(.abandon)
                }
            }
            let ends: Bool
            switch chunk.step {
            case .finish?, .abandon?: ends = true
            default: ends = false
            }
            let stepped = chunk.step != nil
            chunk.count = 0
            chunk.step = nil
            state.withLock { s in
                if let failure, s.failure == nil { s.failure = failure }
                if stepped { s.stepsDone += 1 }
                s.counts = c.counts
                if !chunk.records.isEmpty { s.free.append(chunk) }
                if ends { s.finished = true }
            }
            handedBack.signal()
            if ends { return }
        }
    }
}
