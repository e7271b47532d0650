import TraceLensInput
import TraceLensRecords

/// What was read from one source file.
public struct SourceSummary: Sendable {
    public var path: String
    public var detected: DetectedText
    public var format: String?
    /// Process id taken from the file name (`gskssl.65567.trc`), when the format says where.
    public var process: String?
    public var counts = RecordReader.Counts()
    public var codes = 0
    public var failureCodes = 0
    public var secretsMasked = 0
    public var bytes = 0
    /// A last line left unread because its line end has not been written yet (following).
    public var heldBytes = 0
    /// Lines cut at the record limit (`--max-record`).
    public var cutLines = 0
    /// Where damaged input (a truncated or corrupt `.gz`) stopped the read; the lines before it
    /// were read. The caller reports it and fails the file.
    public var damage: String?
    /// Bytes after the gzip data that were ignored (a warning, not a failure).
    public var trailingJunk: String?
    /// Reading stopped early because a stop was requested while waiting on a pipe or FIFO.
    public var interrupted = false
    /// Lines read (the last line number handed out).
    public var lines = 0
    /// How the layout was chosen and how sure that is.
    public var detection = Detection()
    /// The first lines no layout explained (their count is `counts.unparsed`).
    public var unexplainedLines: [Int] = []
    package init(path: String, detected: DetectedText, format: String? = nil, process: String? = nil, damage: String? = nil, trailingJunk: String? = nil, unexplainedLines: [Int] = []) {
        self.path = path
        self.detected = detected
        self.format = format
        self.process = process
        self.damage = damage
        self.trailingJunk = trailingJunk
        self.unexplainedLines = unexplainedLines
    }
}

/// How a file's layout was chosen: the layouts that read it (several: a mixed file), and how
/// many of the sampled non-blank lines they explain (read as records, continuations, context
/// or header lines of the layout).
public struct Detection: Sendable, Equatable {
    /// The layouts that read the file, best first; empty when none explains enough.
    public var layouts: [String] = []
    /// The layout was named with `--layout`.
    public var forced = false
    /// The layouts were chosen by an earlier read of the file (it grew; reading goes on).
    public var kept = false
    /// Non-blank lines in the sample, and how many of them the chosen layouts explain.
    public var sampled = 0
    public var explained = 0
    /// When no layout was chosen: the one that explained the most lines, and how many.
    public var best: String?
    public var bestExplained = 0
    /// Layouts that joined after the sample, where their first record is (`zos-syslog at line 412`).
    public var joinedLater: [String] = []

    public init() {}

    public var percent: Int { sampled == 0 ? 0 : explained * 100 / sampled }

    /// `gsktrace (198/200 sampled lines explained, 99%)`, `mixed: a, b (…)`, `none (…)`, `forced`.
    public var description: String {
        let base = baseDescription
        return joinedLater.isEmpty ? base : base + "; joined later: " + joinedLater.joined(separator: ", ")
    }

    private var baseDescription: String {
        if forced { return "\(layouts.first ?? "none") (forced with --layout)" }
        if kept { return (layouts.count > 1 ? "mixed: " + layouts.joined(separator: ", ") : layouts.first ?? "none") + " (kept from the earlier read of this file)" }
        let sure = "\(explained)/\(sampled) sampled lines explained, \(percent)%"
        switch layouts.count {
        case 0:
            guard let best else { return sampled == 0 ? "none (no lines to sample)" : "none (no layout explains any of \(sampled) sampled lines)" }
            let share = sampled == 0 ? 0 : bestExplained * 100 / sampled
            return "none (best: \(best) explains \(bestExplained)/\(sampled) sampled lines, \(share)%, not most)"
        case 1: return "\(layouts[0]) (\(sure))"
        default: return "mixed: \(layouts.joined(separator: ", ")) (\(sure))"
        }
    }
}

/// The readers of one stream that may change while it is read (a layout joining after the
/// detection sample), and what that needs.
package final class LiveReaders {
    package var mixed: MixedReader?
    /// The layouts not reading the file yet.
    package var late: [Format] = []
    /// Lines from here on may bring a layout in (the sample's lines were judged by detection).
    package var lateFrom = 0
    package var captures = Captures()
    /// The layout that reads the line just left unparsed, and the line.
    package var joining: (format: Format, line: [UInt8], number: Int)?
    /// Lines counted by readers that were replaced.
    package var retired = RecordReader.Counts()
    package var lateTries = 0
    /// The line being fed (an unparsed record of an earlier line, held back behind a multi-line
    /// message, is not tried: it is too late to read it another way).
    package var feeding = 0

    package init(mixed: MixedReader?) { self.mixed = mixed }
}

/// What decoding the records of one read keeps between records and counts. A class: with two
/// threads (`RecordStream.twoThreads`) the second one owns it while records flow, and the
/// reading thread reads it only after draining the hand-over.
package final class Decoding {
    var scratch = Captures()
    var recentLines = CodeFinder.RecentLines()
    /// The file is read mixed: each record is decoded by its own layout.
    var mixed = false
    var codes = 0, failureCodes = 0
    var unexplainedLines: [Int] = []
}

/// A later stage that reads more from each record as it passes (the TLS messages in its dumps)
/// and adds what it read as annotations. It keeps its own state per source.
public protocol RecordAnnotator: AnyObject {
    func annotate(_ record: inout Record, source: Int)
}

/// Where the records of a stream go: the format renderer or the store writer.
public protocol RecordSink: AnyObject {
    func consume(_ record: inout Record) throws
    /// Asked after each line: true when the sink wants to commit what it holds.
    var wantsCheckpoint: Bool { get }
    /// Everything consumed so far is complete; a later read would resume at `point`.
    func checkpoint(_ point: ResumePoint) throws
    /// The records from here to the end may still grow if the file does (the last record may get
    /// more continuation lines, the last line its line end): a later read redoes them from `point`.
    func beginTail(_ point: ResumePoint) throws
    /// The input ended; every record has been consumed.
    func finish(_ point: ResumePoint) throws
}

extension RecordSink {
    public var wantsCheckpoint: Bool { false }
    public func checkpoint(_ point: ResumePoint) throws {}
    public func beginTail(_ point: ResumePoint) throws {}
    public func finish(_ point: ResumePoint) throws {}
}

package final class ClosureSink: RecordSink {
    package let body: (inout Record) throws -> Void
    package init(_ body: @escaping (inout Record) throws -> Void) { self.body = body }
    package func consume(_ record: inout Record) throws { try body(&record) }
}

/// The pipeline of one file: text lines → records → decoded records (secrets masked, codes
/// found). The format path and the store both consume it, so they see the same records.
public final class RecordStream {
    /// The layouts detection tries, in rank order.
    public let formats: [Format]
    public let catalogues: [Catalogue]
    package let finder: CodeFinder
    package let masker: SecretMasker
    /// How many leading non-blank lines are used to pick the format of a file.
    public var detectionLines = 200
    /// Bytes the detection sample may hold at most (it is kept in memory until the layout is known).
    public var detectionBytes = 8 << 20
    /// The longest record line (`--max-record`); longer ones are cut with a marker.
    public var maxRecord = TextReader.defaultMaxRecord
    /// Asked while waiting on a pipe or FIFO; true ends that input where it is.
    public var stopRequested: (() -> Bool)?
    /// Where reading warnings (a line cut at `maxRecord`) go.
    public var warn: (String) -> Void = Diagnostics.warn
    /// The year for dates written without one; nil: the file's modification time.
    public var yearReference: Timestamp?
    /// Reads more from each record before the sink gets it (decoded TLS messages).
    public var annotator: RecordAnnotator?
    /// Reads each file on two threads: this one reads lines, parses records and masks secrets;
    /// a second one (`RecordHandoff`) finds codes, annotates and runs the sink's `consume`, in
    /// order. The sink's other calls stay on this thread, made when the second is idle.
    public var twoThreads = false

    public init(formats: [Format], catalogues: [Catalogue], finder: CodeFinder, masker: SecretMasker) {
        self.formats = formats
        self.catalogues = catalogues
        self.finder = finder
        self.masker = masker
    }

    /// Reads `path`, calling `body` with each record in file order. `forcedFormat` skips detection.
    /// `started` is called once the layout is known, before the first record.
    public func read(_ path: String, source: Int, forcedFormat: Format? = nil, started: (SourceSummary) -> Void = { _ in },
                     body: (inout Record) throws -> Void) throws -> SourceSummary {
        try withoutActuallyEscaping(body) { body in
            let sink = ClosureSink(body)
            return try read(path, source: source, forcedFormat: forcedFormat, started: started, into: sink)
        }
    }

    /// Reads `path` into `sink`. With `resume`, reading continues where an earlier read stopped
    /// (the layout must then be forced: it was detected on the first lines, which are skipped).
    /// After each line the sink may ask for a checkpoint; it gets the point a later read would
    /// resume from, which is always at a record boundary.
    /// With `follow`, the file is read through a descriptor the caller holds, and a last line
    /// without its line end is left for a later read (`SourceSummary.heldBytes`).
    /// `keptLayouts`: the layouts an earlier read of the file chose (it goes on with them).
    public func read<Sink: RecordSink>(_ path: String, source: Int, forcedFormat: Format? = nil, keptLayouts: [Format] = [], resume: ResumePoint? = nil,
                                       follow: (descriptor: Int32, holdPartialLine: Bool)? = nil,
                                       started: (SourceSummary) -> Void = { _ in }, into sink: Sink) throws -> SourceSummary {
        let reader: TextReader
        do {
            if let follow {
                Platform.rewind(follow.descriptor)
                reader = try TextReader(fileDescriptor: follow.descriptor, name: path, stopRequested: stopRequested)
                reader.holdsPartialLine = follow.holdPartialLine
            } else {
                reader = try TextReader(path: path, stopRequested: stopRequested)
            }
        } catch InputError.notText(let shown, let reason) {
            // A layout may know such a file by its name (a trace not yet formatted) and say what to do.
            throw InputError.notText(path: shown, hint: formats.lazy.compactMap { $0.binaryHint?.advice(for: path) }.first ?? reason)
        }
        reader.maxRecord = maxRecord
        reader.warn = warn
        var summary = SourceSummary(path: path, detected: reader.detected)
        if let resume { try reader.resume(offset: resume.offset, line: resume.line) }

        // The first lines pick the layout (unless one is forced); they are kept and fed first.
        var sample: [(line: [UInt8], number: Int, offset: Int, unterminated: Bool)] = []
        if forcedFormat == nil {
            // Blank lines say nothing about the layout: they do not count towards the sample.
            var nonBlank = 0, bytes = 0
            try reader.forEachLine { line, number in
                sample.append((Array(line), number, reader.lineStart, reader.lastLineUnterminated))
                if line.contains(where: { !isBlank($0) }) { nonBlank += 1 }
                bytes += line.count + 16
                return nonBlank < detectionLines && bytes < detectionBytes
            }
        }
        let chosen: [Format]
        if !keptLayouts.isEmpty {
            chosen = keptLayouts
            summary.detection.layouts = keptLayouts.map(\.name)
            summary.detection.kept = true
        } else if let forcedFormat {
            chosen = [forcedFormat]
            summary.detection.layouts = [forcedFormat.name]
            summary.detection.forced = true
        } else {
            (chosen, summary.detection) = detectLayouts(sample.map { ($0.line, $0.number) })
        }
        let format = chosen.first
        let records = RecordReader(format: format, source: source)
        // Several layouts: each line is read by the one that explains it (nil: one layout).
        // One reference holds what changes when a layout joins late (the closures below capture
        // it once, not a box per variable: they are formed for every line).
        let live = LiveReaders(mixed: chosen.count > 1 ? MixedReader(formats: chosen, source: source) : nil)
        // A layout that first appears after the sample: a line the chosen layouts leave unparsed
        // is tried as a record of the others; the first that reads it joins, and the file is read
        // mixed from that line on. Only unparsed lines pay for this; `--layout` forces one.
        live.late = forcedFormat == nil ? formats.filter { f in !chosen.contains { $0 === f } } : []
        // The sample's lines were judged by detection (a layout matching one stray line in a
        // hundred does not join): only lines after it may bring a layout in.
        live.lateFrom = (sample.last?.number ?? 0) + 1
        records.maxRecord = maxRecord
        records.sourceName = path
        if let resume { records.restore(resume) }
        records.yearReference = yearReference ?? Self.modificationTime(path)
        if let mixed = live.mixed {
            mixed.maxRecord = maxRecord
            mixed.sourceName = path
            if let resume { mixed.restore(resume) }
            mixed.yearReference = records.yearReference
        }
        summary.format = format?.name
        summary.process = format?.process(fromFileName: path)
        started(summary)

        // What decoding keeps and counts (on the second thread when there are two).
        // A dump announced by one record is masked in the lines after it, in this read and,
        // through the resume point, in a later one (`watch`, or `ingest` of a grown file).
        // Masking stays on the reading thread (it balances the two threads' work).
        var maskCarry = SecretMasker.Carry(state: resume?.maskState ?? 0)
        var maskScratch = Captures()
        let decoding = Decoding()
        decoding.mixed = live.mixed != nil
        let finder = finder, catalogues = catalogues, annotator = annotator
        func decode(_ r: inout Record) throws {
            let d = decoding
            if r.isUnparsed && d.unexplainedLines.count < Self.unexplainedShown { d.unexplainedLines.append(r.line) }
            // Every line gets its codes: lines no layout read too (they are printed as written).
            finder.decode(&r, layout: d.mixed ? r.layout : format, captures: &d.scratch, recent: &d.recentLines)
            d.codes += r.codes.count
            for c in r.codes where catalogues[c.catalogue].isFailure(c.value) { d.failureCodes += 1 }
            annotator?.annotate(&r, source: source)
            try sink.consume(&r)
        }
        let handoff = twoThreads ? RecordHandoff { try decode(&$0) } : nil
        defer { handoff?.close() }
        func resumePoint(afterLine line: Int, offset: Int) throws -> ResumePoint {
            // A resume point goes to the sink, whose `consume` runs on the second thread: it
            // must have caught up first.
            try handoff?.drain()
            var point = live.mixed?.resumePoint(afterLine: line, offset: offset) ?? records.resumePoint(afterLine: line, offset: offset)
            point.maskState = maskCarry.state
            return point
        }
        func emit(_ r: inout Record) throws {
            if r.isUnparsed && r.line == live.feeding && r.line >= live.lateFrom && !live.late.isEmpty && live.joining == nil && live.lateTries < Self.lateTryLimit {
                live.lateTries += 1
                let line = r.bytes
                if let f = line.withUnsafeBufferPointer({ b in live.late.first { $0.readsAsRecord(b, captures: &live.captures) } }) {
                    // Not consumed: the line is read again by the mixed reader that takes it.
                    live.joining = (f, line, r.line)
                    return
                }
            }
            summary.secretsMasked += masker.mask(&r.bytes, captures: &maskScratch, carry: &maskCarry)
            if let handoff { try handoff.add(&r) } else { try decode(&r) }
        }
        var tail: ResumePoint?
        func feed(_ line: UnsafeBufferPointer<UInt8>, _ number: Int, _ offset: Int, unterminated: Bool, checkpoints: Bool) throws {
            if unterminated && tail == nil {
                // A line without its line end: what follows may complete it.
                let point = try resumePoint(afterLine: number - 1, offset: offset)
                tail = point
                try sink.beginTail(point)
            }
            live.feeding = number
            if let mixed = live.mixed {
                mixed.lineOffset = offset
                try mixed.feed(line, number: number, emit: emit)
            } else {
                records.lineOffset = offset
                try records.feed(line, number: number, emit: emit)
            }
            if let join = live.joining {
                let mixed = live.mixed
                // The line was left unparsed (nothing of it pending): a reader with the new
                // layout goes on from here, with the date state read so far.
                let point = mixed?.resumePoint(afterLine: number, offset: offset) ?? records.resumePoint(afterLine: number, offset: offset)
                let counts = mixed?.counts ?? records.counts
                live.retired.lines += counts.lines; live.retired.records += counts.records; live.retired.continuations += counts.continuations
                live.retired.unparsed += counts.unparsed; live.retired.blank += counts.blank; live.retired.headers += counts.headers
                // The line itself is counted by the reader that reads it now.
                live.retired.unparsed -= 1; live.retired.lines -= 1
                let formats = (mixed?.formats ?? (format.map { [$0] } ?? [])) + [join.format]
                let next = MixedReader(formats: formats, source: source)
                next.maxRecord = maxRecord
                next.sourceName = path
                next.restore(point)
                next.yearReference = records.yearReference
                next.lineOffset = offset
                live.mixed = next
                // Records are decoded by their own layout from here on (set between records: the
                // second thread reads it for the records handed over after this one).
                if let handoff { try handoff.drain() }
                decoding.mixed = true
                live.late.removeAll { $0 === join.format }
                summary.detection.layouts.append(join.format.name)
                summary.detection.joinedLater.append("\(join.format.name) at line \(join.number)")
                live.joining = nil
                try join.line.withUnsafeBufferPointer { try next.feed($0, number: number, emit: emit) }
            }
            if checkpoints && tail == nil && sink.wantsCheckpoint {
                try sink.checkpoint(try resumePoint(afterLine: number, offset: reader.bytesRead))
            }
        }
        for s in sample {
            try s.line.withUnsafeBufferPointer { try feed($0, s.number, s.offset, unterminated: s.unterminated, checkpoints: false) }
        }
        sample = []
        // Checkpoints start after the detection sample (its lines are few).
        try reader.forEachLine { (line: UnsafeBufferPointer<UInt8>, number: Int) throws -> Void in
            try feed(line, number, reader.lineStart, unterminated: reader.lastLineUnterminated, checkpoints: true)
        }
        if tail == nil && (live.mixed?.hasPending ?? records.hasPending) {
            // The last record may still get continuation lines.
            let point = try resumePoint(afterLine: reader.lineNumber, offset: reader.bytesRead)
            tail = point
            try sink.beginTail(point)
        }
        if let mixed = live.mixed {
            let retired = live.retired
            try mixed.flush(emit: emit)
            summary.counts = mixed.counts
            summary.counts.lines += retired.lines; summary.counts.records += retired.records
            summary.counts.continuations += retired.continuations; summary.counts.unparsed += retired.unparsed
            summary.counts.blank += retired.blank; summary.counts.headers += retired.headers
        } else {
            try records.flush(emit: emit)
            summary.counts = records.counts
        }
        try handoff?.drain()
        summary.codes = decoding.codes
        summary.failureCodes = decoding.failureCodes
        summary.unexplainedLines = decoding.unexplainedLines
        summary.detected = reader.detected
        summary.bytes = reader.bytesRead
        summary.heldBytes = reader.heldBytes
        summary.cutLines = reader.cutLines
        summary.damage = reader.damage
        summary.trailingJunk = reader.trailingJunk
        summary.interrupted = reader.interrupted
        summary.lines = reader.lineNumber
        try sink.finish(try tail ?? resumePoint(afterLine: reader.lineNumber, offset: reader.bytesRead))
        return summary
    }

    package static func modificationTime(_ path: String) -> Timestamp? {
        guard path != "-", let st = Platform.status(path: path) else { return nil }
        return Timestamp(micros: st.modifiedSeconds * 1_000_000)
    }

    /// Said after "no known layout": the layout that came closest, for `--layout`.
    public static func closestLayoutHint(_ d: Detection) -> String {
        guard let best = d.best, d.sampled > 0 else { return "" }
        return "; layout \(best) explains only \(d.bestExplained) of \(d.sampled) sampled lines (\(d.bestExplained * 100 / d.sampled)%): name it with --layout to read the file with it"
    }

    /// Unparsed lines tried as records of the layouts not chosen (a file no layout reads pays
    /// for this many tries at most).
    package static let lateTryLimit = 100_000

    /// How many unexplained line numbers a summary names.
    package static let unexplainedShown = 5

    /// A layout is chosen only when the chosen layouts together explain at least this share (%)
    /// of the sampled non-blank lines: "most" of them. Below it the file is read as unparsed
    /// lines (codes are still found) and the summary says which layout came closest.
    public static let sureShare = 50
    /// A further layout joins (the file is then read mixed) only when it explains at least this
    /// share (%) of the sampled lines, and at least two lines, that the layouts before it do not:
    /// a layout matching one stray line in a hundred is not a wrapper of the file.
    public static let mixedShare = 5

    /// Picks the format that best explains the sample (see `detectLayouts`).
    public func detect(_ lines: [[UInt8]]) -> Format? {
        detectLayouts(lines.enumerated().map { ($0.element, $0.offset + 1) }).formats.first
    }

    /// Picks the layouts that read a file from its first lines. Each layout reads the whole
    /// sample as it would read the file; a line is explained by it when it becomes a record,
    /// continuation, context or header line (not an unparsed one). The layout explaining the
    /// most lines comes first; others follow while each explains enough lines (`mixedShare`) that
    /// the earlier ones do not read as record, header or context lines; the choice stands only when, read together (mixed when several), they
    /// explain at least `sureShare`% of the sampled lines.
    public func detectLayouts(_ lines: [(line: [UInt8], number: Int)]) -> (formats: [Format], detection: Detection) {
        var detection = Detection()
        let nonBlank = lines.filter { $0.line.contains { !isBlank($0) } }
        detection.sampled = nonBlank.count
        guard !nonBlank.isEmpty else { return ([], detection) }
        let index = Dictionary(nonBlank.enumerated().map { ($0.element.number, $0.offset) }, uniquingKeysWith: { a, _ in a })
        // Which sampled lines each layout explains: `starts` as its record, header or context
        // lines, `lines` also as continuations of its records.
        var explains: [(format: Format, lines: [Bool], starts: [Bool], count: Int)] = []
        for format in formats {
            let reader = RecordReader(format: format, source: 0)
            reader.quiet = true
            // A record cut at the record limit goes on as unparsed lines; they are still its layout's.
            reader.maxRecord = .max
            var explained = [Bool](repeating: false, count: nonBlank.count)
            var starts = explained
            for l in lines {
                let before = reader.counts
                l.line.withUnsafeBufferPointer { b in reader.feed(b, number: l.number) { _ in } }
                guard let i = index[l.number] else { continue }
                let after = reader.counts
                if after.unparsed != before.unparsed || after.blank != before.blank { continue }
                explained[i] = true
                // Not a continuation: a record line (counted when it ends), a header or a context line.
                starts[i] = after.continuations == before.continuations
            }
            reader.flush { _ in }
            let count = explained.count { $0 }
            if count > 0 { explains.append((format, explained, starts, count)) }
        }
        // Ranked by all the lines each explains, continuations too (ranking by record lines alone
        // would let a layout matching two stray lines outrank a transcript whose one command line
        // holds fifty lines of output). Stable: equal counts keep the plugins' order.
        explains = explains.enumerated().sorted { ($0.element.count, -$0.offset) > ($1.element.count, -$1.offset) }.map(\.element)
        guard let first = explains.first else { return ([], detection) }
        var chosen = [first.format]
        var covered = first.starts
        // A further layout must explain enough lines that the others do not read as their own
        // records, headers or context lines, and start at least one record there itself. Lines a
        // loose layout holds only as continuations (a transcript taking any line after a command
        // as its output) are not "read" by it: a console message pasted after a command counts
        // for the console layout, its indented lines too.
        let needed = max(2, (nonBlank.count * Self.mixedShare + 99) / 100)
        for candidate in explains.dropFirst() {
            let freshStarts = zip(candidate.starts, covered).count { $0 && !$1 }
            let fresh = zip(candidate.lines, covered).count { $0 && !$1 }
            guard freshStarts >= 1, fresh >= needed else { continue }
            chosen.append(candidate.format)
            for i in covered.indices where candidate.starts[i] { covered[i] = true }
        }
        // How the chosen layouts really read the sample together.
        var explained = nonBlank.count
        if chosen.count == 1 {
            explained = first.count
        } else {
            let reader = MixedReader(formats: chosen, source: 0)
            reader.quiet = true
            // A record cut at the record limit goes on as unparsed lines; they are still its layout's.
            reader.maxRecord = .max
            for l in lines {
                l.line.withUnsafeBufferPointer { b in reader.feed(b, number: l.number) { r in if r.isUnparsed { explained -= 1 } } }
            }
            reader.flush { _ in }
        }
        guard explained * 100 >= nonBlank.count * Self.sureShare else {
            detection.best = first.format.name
            detection.bestExplained = first.count
            return ([], detection)
        }
        detection.layouts = chosen.map(\.name)
        detection.explained = explained
        return (chosen, detection)
    }
}
