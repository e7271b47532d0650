import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TraceLensInput
import TraceLensRecords
import TraceLensDecode
import TraceLensCorrelate
import TraceLensStore
import TraceLensRender

/// The store end of the record stream: links each record to its connection, gathers a batch,
/// and commits it with the source's offset when the batch is full and at the end.
package final class IngestSink: RecordSink {
    package let run: IngestRun
    package let source: Int64
    package let path: String
    package let size: Int64
    package var batch = RecordBatch()
    package var writer: BackgroundWriter?
    package var correlator: Correlator?
    package var process: String?
    package var records = 0, unparsed = 0, connectionsCreated = 0, commits = 0
    private var pending = SourceProgress(resume: ResumePoint(offset: 0, line: 0))
    private let batchLimit: Int
    private let catalogues: [Catalogue]
    private let stop: StopSignal?
    private let resume: ResumePoint?
    private var progress: ProgressLine?

    /// The saved lanes of the source, when resuming.
    package var laneState: String?
    /// `watch`: sees each record and each connection change.
    /// Held strongly: a weak load on every record would cost on the ingest path; the sink
    /// lives only for one read and the observer holds no reference back.
    package var observer: IngestObserver?

    package init(run: IngestRun, source: Int64, path: String, size: Int64, resume: ResumePoint?) throws {
        self.run = run
        self.source = source
        self.path = path
        self.size = size
        self.resume = resume
        batchLimit = max(run.options.batchRecords, 1)
        catalogues = run.plugins.catalogues
        stop = run.options.stop
        if run.options.progress && size > 4 << 20 { progress = ProgressLine(path: path, total: Int(size)) }
    }

    package struct Skip: Error {}
    /// What detection found (for the note on a skipped file).
    package var detection = Detection()
    package var skipUnknown = false

    /// The layout is known: record it, prepare the writer, and pick up open connections.
    package func started(_ summary: SourceSummary) {
        process = summary.process
        detection = summary.detection
        if skipUnknown && summary.format == nil { startError = Skip(); return }
        do {
            let store = run.store
            // A mixed file keeps all its layouts, best first (`client-transcript+gsktrace`).
            let layout = summary.detection.layouts.count > 1 ? summary.detection.layouts.joined(separator: "+") : summary.format
            try store.recordLayout(source: source, layout: layout, encoding: summary.detected.description, process: summary.process)
            let w = BackgroundWriter(path: store.path, pageLimit: store.pageLimit, plugins: run.plugins, source: source, process: summary.process)
            writer = w
            batch = try w.emptyBatch()
            // Each layout's records follow that layout's connection rule; layouts of a mixed file
            // sharing a rule share its correlator (one connection may show in two wrappers).
            let ids = Correlator.IDs(try store.nextConnectionID())
            var byRule: [String: Correlator] = [:]
            for name in summary.detection.layouts {
                guard let format = run.plugins.format(named: name), let rule = run.plugins.connectionRule(forFormat: name) else { continue }
                let c = byRule[rule.name] ?? Correlator(rule: rule, plugins: run.plugins, source: source, ids: ids)
                if byRule[rule.name] == nil {
                    byRule[rule.name] = c
                    correlators.append(c)
                }
                layoutCorrelators.append((format, c))
            }
            if summary.detection.layouts.count < 2 {
                correlator = layoutCorrelators.first?.correlator
                layoutCorrelators = []
            }
            if resume != nil, !correlators.isEmpty {
                // Each correlator takes back its own rule's connections (and the lanes holding them).
                let saved = try store.savedConnections(source: source, held: Correlator.connectionIDs(inLaneState: laneState), plugins: run.plugins)
                for c in correlators {
                    let mine = saved.connections.filter { $0.rule == c.rule.name }
                    let ids = Set(mine.map(\.id))
                    c.restore(mine, keys: saved.keys.filter { ids.contains($0.conn) }, laneState: laneState)
                }
            }
        } catch {
            startError = error
        }
    }
    private var startError: Error?
    /// A mixed file: the correlator of each layout that has a connection rule (empty otherwise:
    /// `correlator` serves the one layout, without a look-up per record).
    private var layoutCorrelators: [(layout: Format, correlator: Correlator)] = []
    private var correlators: [Correlator] = []

    private func correlator(for record: Record) -> Correlator? {
        guard let layout = record.layout else { return nil }
        return layoutCorrelators.first { $0.layout === layout }?.correlator
    }

    package func consume(_ r: inout Record) throws {
        if let startError { throw startError }
        let conn = layoutCorrelators.isEmpty ? correlator?.assign(r) : correlator(for: r)?.assign(r)
        // Locals: each use of a class-typed property would retain and release it (measured:
        // about 3% of an ingest's time went to that here).
        let batch = batch, catalogues = catalogues
        let start = batch.text.count
        r.bytes.withUnsafeBufferPointer { batch.text.append($0) }
        var failures = 0
        let firstCode = batch.codes.count
        for c in r.codes {
            let f = catalogues[c.catalogue].isFailure(c.value)
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
        records += 1
        pending.records += 1
        if r.isUnparsed { unparsed += 1; pending.unparsed += 1 }
        if conn == nil { pending.unlinked += 1 }
        pending.codes += r.codes.count
        pending.failureCodes += failures
        if let t = time {
            if pending.firstTime == nil { pending.firstTime = t }
            pending.lastTime = t
        }
    }

    /// Checked after every line: cheap (a count), except every 4096 records the stop flag.
    package var wantsCheckpoint: Bool {
        // `pending.records` is the batch's count, kept in a struct: no retain per line.
        if pending.records >= batchLimit { return true }
        if pending.records & 4095 == 4095, let stop { return stop.requested }
        return false
    }

    package func checkpoint(_ point: ResumePoint) throws {
        pending.resume = point
        try commit()
        progress?.update(done: point.offset, records: records)
        if stop?.requested == true {
            try writer?.close()
            throw IngestInterrupted(path: path, line: point.line)
        }
    }

    private var inTail = false
    private var tailLanes: String?

    package func beginTail(_ point: ResumePoint) throws {
        if let startError { throw startError }
        pending.resume = point
        try commit()
        inTail = true
        tailLanes = combinedLaneState
    }

    package func finish(_ point: ResumePoint) throws {
        if let startError { throw startError }
        pending.resume = point
        pending.tail = inTail
        pending.completedSize = size
        try commit()
        try writer?.close()
    }

    /// Hands the batch, the connections it changed and the new offset to the writer thread.
    private func commit() throws {
        guard let writer else { return }
        let changed = correlators.count == 1 ? correlators[0].takeChanges() : correlators.flatMap { $0.takeChanges() }
        // The tail is redone from its start, so the lanes saved are those before it.
        pending.lanes = inTail ? tailLanes : combinedLaneState
        connectionsCreated = correlators.reduce(0) { $0 + $1.created }
        let rows = changed.map { ConnectionRow($0, plugins: run.plugins, process: process) }
        if let observer, !changed.isEmpty { observer.connectionsChanged(changed, source: source, path: path) }
        try writer.submit(.init(batch: batch, connections: rows, progress: pending))
        commits += 1
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

    /// Waits for the writer after a failure elsewhere (its error, if any, is the one to report).
    package func abandon() { try? writer?.close() }

    package func endProgress() { progress?.finish() }
}
