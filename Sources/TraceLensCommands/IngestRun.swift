import Foundation
import TraceLensInput
import TraceLensRecords
import TraceLensDecode
import TraceLensPlugins
import TraceLensHandshake
import TraceLensStore
import TraceLensCorrelate

/// What the user asked `ingest` for.
public struct IngestOptions: Sendable {
    public var forcedFormat: String?
    /// Show a progress line on standard error (on a terminal, for files over a few MB).
    public var progress = false
    /// Records per transaction.
    public var batchRecords = 50_000
    /// Caps the store's size in pages, to test what a full disk does (SQLite then fails exactly
    /// as it does when the disk fills).
    public var maxPageCount: Int?
    /// When set and requested (Ctrl-C), the ingest commits what it has read and stops.
    public var stop: StopSignal?
    /// Window and clock offsets for linking sources after the files are in.
    public var link = LinkOptions()
    /// The longest record line; longer ones are cut with a marker (`--max-record`).
    public var maxRecord = TextReader.defaultMaxRecord
    public init() {}
}

/// The ingest was asked to stop (SIGINT, SIGTERM) and did, after committing what it had read.
public struct IngestInterrupted: Error, CustomStringConvertible {
    public var path: String
    public var line: Int
    /// False for a pipe or FIFO: it is read once, so there is nothing to continue from.
    public var resumable = true
    public var description: String {
        resumable
            ? "\(path): stopped as asked; stored up to line \(line). Run the same ingest again to continue from there"
            : "\(path): stopped as asked; stored up to line \(line). A pipe or FIFO is read once: what its writer sends later is not stored"
    }
}

/// What one file's ingest did.
public struct IngestResult: Sendable, Equatable {
    public enum Kind: String, Sendable { case new, resumed, unchanged, replaced, skipped }
    public var path: String
    public var kind: Kind
    public var source: Int64
    public var records: Int
    public var unparsed: Int
    public var connections: Int
    public var bytes: Int
    public var seconds: Double
    /// Bytes of a last line left for later because its line end is not written yet (following).
    public var heldBytes = 0
    /// The file's size when it was read.
    public var fileSize: Int64 = 0
    /// The layout it was read with (nil: none recognised, lines stored as unparsed).
    public var layout: String?
    /// How the layout was chosen and how sure that is, and the first lines nothing explained.
    public var detection = Detection()
    public var unexplainedLines: [Int] = []
    /// Damaged input (a truncated or corrupt `.gz`): where the read stopped. What came before
    /// is stored; the file counts as failed.
    public var damage: String?
    /// Bytes after the gzip data that were ignored.
    public var trailingJunk: String?
}

/// How `watch` has `ingest` read a file it follows.
public struct FollowRead {
    /// The descriptor held since the file was first seen: its name may lead elsewhere by now.
    public var descriptor: Int32
    /// Leave a last line without its line end for a later read (false at shutdown and when a
    /// rotated file has gone quiet: then it is taken as it is).
    public var holdPartialLine = true
    /// Read even when the size has not changed (to take a held partial line).
    public var force = false
    /// The source this file continues: a rotated copy or a compressed segment of a file already
    /// read, recognised by its first bytes. Reading goes on from that source's offset.
    public var continuing: Int64?
    public var observer: IngestObserver?
    public init(descriptor: Int32) { self.descriptor = descriptor }
}

/// `tracelens ingest`: reads files through the record stream, links records to connections and
/// writes them to the store in batches, each batch committed with the source's read offset.
public final class IngestRun {
    public let plugins: PluginSet
    public let store: Store
    public let options: IngestOptions
    package let stream: RecordStream
    public private(set) var results: [IngestResult] = []
    public private(set) var failures: [String] = []
    /// What linking across sources did after the files were read (nil when it did not run).
    public private(set) var linkReport: LinkReport?

    /// True when this run added a source or records, or was given a window or offsets: only then
    /// can the links have changed, so only then are the link totals (the whole store's) news.
    public var mayHaveChangedLinks: Bool {
        let added = results.contains { r in
            switch r.kind {
            case .new, .replaced: return true
            case .resumed: return r.records > 0
            case .unchanged, .skipped: return false
            }
        }
        return added || options.link.window != nil || !options.link.offsets.isEmpty
    }

    public init(plugins: PluginSet, store: Store, options: IngestOptions) throws {
        self.plugins = plugins
        self.store = store
        self.options = options
        stream = RecordStream.decoding(plugins)
        stream.maxRecord = options.maxRecord
        if let stop = options.stop { stream.stopRequested = { stop.requested } }
        try store.lockForIngest(stop: options.stop) { holder in
            Diagnostics.warn("\(store.path): another ingest (\(holder)) is writing to this store; waiting for it to finish (Ctrl-C stops)")
        }
        do {
            try store.db.transaction { try store.writeCatalogue(plugins) }
            if let pages = options.maxPageCount { store.pageLimit = Int64(pages) }
        } catch { throw StoreError.wrap(error, path: store.path) }
    }

    /// Ingests every file; returns the exit status (0; 1 when some file failed; 2 when the store did).
    public func run(_ paths: [String]) -> Int32 {
        let forced: Format?
        switch plugins.forcedLayout(options.forcedFormat) {
        case let .success(f): forced = f
        case let .failure(e): Diagnostics.warn("\(e)"); return 2
        }
        skippedUnknown = []
        defer { reportSkipped() }
        for path in paths {
            var isDir: ObjCBool = false
            let inFolder = FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
            let storeFiles = Set(["", "-wal", "-shm", "-journal"].map { Self.absolute(store.path) + $0 })
            for file in FormatRun.expand([path]) {
                if options.stop?.requested == true { return 130 }
                // A store kept beside the traces it was made from is not one of them.
                if storeFiles.contains(Self.absolute(file)) { continue }
                ingestReporting(file, forced: forced, skipUnknown: inFolder)
                if stopped { return interrupted ? 130 : 2 }
            }
        }
        do { linkReport = try Linker(store: store, plugins: plugins).run(options.link) } catch let several as OffsetMatchesSeveral {
            Diagnostics.warn("\(several)\n(the files are stored; the links are as they were: run `tracelens link` with the offset)")
            return 2
        } catch {
            Diagnostics.warn("\(StoreError.wrap(error, path: store.path))")
            return 2
        }
        return failures.isEmpty ? 0 : 1
    }

    private var stopped = false
    private var interrupted = false
    /// Files found in folders that no layout reads, said in one line when the run ends (with
    /// the closest layout when there is one file); nil: each is said as it is skipped (`watch`).
    private var skippedUnknown: [(path: String, hint: String)]?

    /// Names shown in the line about skipped files; the rest are counted.
    package static let skippedShown = 10

    /// `skipped 3 files with no known layout: a.txt, b.txt, c.txt (...)`, once per run.
    private func reportSkipped() {
        guard let skipped = skippedUnknown, !skipped.isEmpty else { return }
        skippedUnknown = []
        let names = skipped.prefix(Self.skippedShown).map(\.path).joined(separator: ", ")
            + (skipped.count > Self.skippedShown ? ", … (and \(skipped.count - Self.skippedShown) more)" : "")
        Diagnostics.warn("skipped \(skipped.count) file\(skipped.count == 1 ? "" : "s") with no known layout: \(names) "
                         + "(name a file itself to store its lines as unparsed records, or use --layout to force one)"
                         + (skipped.count == 1 ? skipped[0].hint : ""))
    }

    private func ingestReporting(_ path: String, forced: Format?, skipUnknown: Bool) {
            do {
                let result = try ingest(path, forcedFormat: forced, skipUnknown: skipUnknown)
                results.append(result)
                if let junk = result.trailingJunk { Diagnostics.warn(junk) }
                if let damage = result.damage {
                    Diagnostics.warn(damage)
                    failures.append(path)
                }
            } catch let e as IngestInterrupted {
                Diagnostics.warn("\(e)")
                stopped = true
                interrupted = true
            } catch InputError.notText(let p, let hint) where skipUnknown {
                // Found in a folder: a binary file is not a trace, and not a failure either.
                Diagnostics.warn("\(p): skipped, not text (\(hint))")
            } catch let e as StoreError {
                Diagnostics.warn("\(e)")
                failures.append(path)
                if case .diskFull = e { stopped = true }
                if case .notAStore = e { stopped = true }
            } catch {
                Diagnostics.warn("\(error)")
                failures.append(path)
            }
    }

    /// Ingests one file: new, grown (only the new part) or unchanged (nothing).
    /// With `skipUnknown` (files found in a folder), a file no layout recognises is left out
    /// instead of being stored as unparsed lines.
    public func ingest(_ path: String, forcedFormat: Format? = nil, skipUnknown: Bool = false, follow: FollowRead? = nil) throws -> IngestResult {
        let started = Date()
        let displayPath = path == "-" ? TextReader.standardInputName : Self.absolute(path)
        let identity = follow.map { SourceIdentity.of(descriptor: $0.descriptor) } ?? SourceIdentity.of(path)
        let headOf: (Int) -> SourceIdentity? = { length in
            follow.map { SourceIdentity.of(descriptor: $0.descriptor, headLength: length) } ?? SourceIdentity.of(path, headLength: length)
        }
        let db = store.db
        var kind = IngestResult.Kind.new
        var resume: ResumePoint?
        var layout: Format? = forcedFormat
        // A mixed file read before goes on with the same layouts (kept as `a+b` in the store).
        var keptLayouts: [Format] = []
        var sourceID: Int64 = 0
        var previous: StoredSource?
        do {
            try db.transaction {
                if let continuing = follow?.continuing, let known = try store.storedSource(id: continuing) {
                    // Same content as a source read before (a rotated copy): go on where it stopped.
                    previous = known
                    kind = .resumed
                    try store.renameSource(continuing, to: displayPath)
                } else if let identity, let known = try store.findSource(path: displayPath, identity: identity, headOf: headOf) {
                    previous = known
                    if known.sameFile && identity.size == known.size {
                        kind = follow?.force == true ? .resumed : .unchanged
                    } else if known.sameFile && identity.size > known.size {
                        kind = .resumed
                    } else {
                        kind = .replaced
                    }
                    // A followed file renamed (rotated) keeps its source, under its new name.
                    if kind != .replaced && known.path != displayPath { try store.renameSource(known.id, to: displayPath) }
                }
                if kind == .unchanged || kind == .resumed { sourceID = previous!.id; return }
                sourceID = try store.addSource(path: displayPath, identity: identity)
            }
        } catch { throw StoreError.wrap(error, path: store.path) }

        if kind == .unchanged {
            var result = IngestResult(path: displayPath, kind: kind, source: sourceID, records: 0, unparsed: 0, connections: 0, bytes: 0,
                                      seconds: Date().timeIntervalSince(started))
            result.fileSize = identity?.size ?? 0
            return result
        }
        if kind == .resumed, let previous, let tailRecord = previous.tailRecord {
            do { try db.transaction { try store.dropTail(source: sourceID, firstRecord: tailRecord, afterLine: previous.line) } } catch {
                throw StoreError.wrap(error, path: store.path)
            }
        }
        if kind == .resumed, let previous {
            var point = ResumePoint(offset: previous.offset, line: previous.line)
            point.setState(previous.readerState)
            resume = point
            if layout == nil, let stored = previous.layout {
                let names = stored.split(separator: "+").map(String.init)
                keptLayouts = names.compactMap { plugins.format(named: $0) }
                guard keptLayouts.count == names.count, !names.isEmpty else {
                    throw InputError.readFailed(path: displayPath, reason: "it was read with layout '\(stored)', which no loaded plugin defines now")
                }
                layout = keptLayouts[0]
            }
        }

        let sink = try IngestSink(run: self, source: sourceID, path: displayPath, size: identity?.size ?? 0, resume: resume)
        sink.skipUnknown = skipUnknown && forcedFormat == nil
        sink.laneState = previous?.lanes
        sink.observer = follow?.observer
        let summary: SourceSummary
        // Dates written without a year (syslog) take the year of the latest time stored.
        stream.yearReference = (try? db.scalar("SELECT max(last_time) FROM sources WHERE last_time >= 86400000000")).flatMap { $0 }.map { Timestamp(micros: $0) }
        do {
            summary = try stream.read(path, source: Int(sourceID), forcedFormat: layout, keptLayouts: keptLayouts, resume: resume,
                                      follow: follow.map { ($0.descriptor, $0.holdPartialLine) }, started: { s in
                sink.started(s)
            }, into: sink)
        } catch is IngestSink.Skip {
            try? store.removeSource(sourceID)
            if skippedUnknown != nil {
                skippedUnknown?.append((displayPath, RecordStream.closestLayoutHint(sink.detection)))
            } else {
                Diagnostics.warn("\(displayPath): skipped, no known layout (name the file itself to store its lines as unparsed records)"
                                 + RecordStream.closestLayoutHint(sink.detection))
            }
            return IngestResult(path: displayPath, kind: .skipped, source: 0, records: 0, unparsed: 0, connections: 0, bytes: 0, seconds: 0)
        } catch let e as IngestInterrupted {
            sink.endProgress()
            sink.abandon()
            throw e
        } catch {
            sink.endProgress()
            sink.abandon()
            // A file that failed before its first batch leaves no empty source behind.
            if sink.commits == 0 && kind != .resumed {
                try? store.removeSource(sourceID)
            }
            if error is InputError { throw error }
            throw StoreError.wrap(error, path: store.path)
        }
        sink.endProgress()
        if summary.format == nil && sink.unparsed > 0 && follow == nil {
            Diagnostics.warn("\(displayPath): no known layout; its \(sink.unparsed) lines are stored as unparsed records" + RecordStream.closestLayoutHint(summary.detection))
        }
        var result = IngestResult(path: displayPath, kind: kind, source: sourceID, records: sink.records, unparsed: sink.unparsed,
                                  connections: sink.connectionsCreated, bytes: summary.bytes - (resume?.offset ?? 0),
                                  seconds: Date().timeIntervalSince(started))
        result.heldBytes = summary.heldBytes
        result.fileSize = identity?.size ?? 0
        result.layout = summary.format
        result.detection = summary.detection
        result.unexplainedLines = summary.unexplainedLines
        result.damage = summary.damage.map { FormatRun.damageReport($0, lines: summary.lines) }
        result.trailingJunk = summary.trailingJunk
        if summary.interrupted {
            // Stopped while waiting on a pipe or FIFO: what was read is committed (finish above).
            throw IngestInterrupted(path: displayPath, line: summary.lines, resumable: false)
        }
        return result
    }

    package static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: path).standardizedFileURL.path
    }
}
