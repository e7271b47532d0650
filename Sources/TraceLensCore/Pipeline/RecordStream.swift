#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
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

final class ClosureSink: RecordSink {
    let body: (inout Record) throws -> Void
    init(_ body: @escaping (inout Record) throws -> Void) { self.body = body }
    func consume(_ record: inout Record) throws { try body(&record) }
}

/// The pipeline of one file: text lines → records → decoded records (secrets masked, codes
/// found). The format path and the store both consume it, so they see the same records.
public final class RecordStream {
    public let plugins: PluginSet
    let finder: CodeFinder
    let masker: SecretMasker
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

    public init(plugins: PluginSet) {
        self.plugins = plugins
        finder = CodeFinder(plugins: plugins)
        masker = SecretMasker(plugins: plugins)
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
    public func read<Sink: RecordSink>(_ path: String, source: Int, forcedFormat: Format? = nil, resume: ResumePoint? = nil,
                                       follow: (descriptor: Int32, holdPartialLine: Bool)? = nil,
                                       started: (SourceSummary) -> Void = { _ in }, into sink: Sink) throws -> SourceSummary {
        let reader: TextReader
        if let follow {
            lseek(follow.descriptor, 0, SEEK_SET)
            reader = try TextReader(fileDescriptor: follow.descriptor, name: path, stopRequested: stopRequested)
            reader.holdsPartialLine = follow.holdPartialLine
        } else {
            reader = try TextReader(path: path, stopRequested: stopRequested)
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
        let format = forcedFormat ?? detect(sample.map(\.line))
        let records = RecordReader(format: format, source: source)
        records.maxRecord = maxRecord
        records.sourceName = path
        if let resume { records.restore(resume) }
        records.yearReference = yearReference ?? Self.modificationTime(path)
        summary.format = format?.name
        summary.process = format?.process(fromFileName: path)
        started(summary)

        var scratch = Captures()
        var recentLines = CodeFinder.RecentLines()
        // A dump announced by one record is masked in the lines after it, in this read and,
        // through the resume point, in a later one (`watch`, or `ingest` of a grown file).
        var maskCarry = SecretMasker.Carry(state: resume?.maskState ?? 0)
        func resumePoint(afterLine line: Int, offset: Int) -> ResumePoint {
            var point = records.resumePoint(afterLine: line, offset: offset)
            point.maskState = maskCarry.state
            return point
        }
        func emit(_ r: inout Record) throws {
            summary.secretsMasked += masker.mask(&r.bytes, captures: &scratch, carry: &maskCarry)
            // Every line gets its codes: lines no layout read too (they are printed as written).
            finder.decode(&r, layout: format, captures: &scratch, recent: &recentLines)
            summary.codes += r.codes.count
            for c in r.codes where plugins.catalogues[c.catalogue].isFailure(c.value) { summary.failureCodes += 1 }
            try sink.consume(&r)
        }
        var tail: ResumePoint?
        func feed(_ line: UnsafeBufferPointer<UInt8>, _ number: Int, _ offset: Int, unterminated: Bool, checkpoints: Bool) throws {
            if unterminated && tail == nil {
                // A line without its line end: what follows may complete it.
                let point = resumePoint(afterLine: number - 1, offset: offset)
                tail = point
                try sink.beginTail(point)
            }
            records.lineOffset = offset
            try records.feed(line, number: number, emit: emit)
            if checkpoints && tail == nil && sink.wantsCheckpoint {
                try sink.checkpoint(resumePoint(afterLine: number, offset: reader.bytesRead))
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
        if tail == nil && records.hasPending {
            // The last record may still get continuation lines.
            let point = resumePoint(afterLine: reader.lineNumber, offset: reader.bytesRead)
            tail = point
            try sink.beginTail(point)
        }
        try records.flush(emit: emit)
        summary.counts = records.counts
        summary.detected = reader.detected
        summary.bytes = reader.bytesRead
        summary.heldBytes = reader.heldBytes
        summary.cutLines = reader.cutLines
        summary.damage = reader.damage
        summary.trailingJunk = reader.trailingJunk
        summary.interrupted = reader.interrupted
        summary.lines = reader.lineNumber
        try sink.finish(tail ?? resumePoint(afterLine: reader.lineNumber, offset: reader.bytesRead))
        return summary
    }

    static func modificationTime(_ path: String) -> Timestamp? {
        var st = stat()
        guard path != "-", stat(path, &st) == 0 else { return nil }
        return Timestamp(micros: Int64(st.st_mtim.tv_sec) * 1_000_000)
    }

    /// Picks the format whose record, context and header lines match most of the sample lines.
    public func detect(_ lines: [[UInt8]]) -> Format? {
        var best: (format: Format, score: Int)?
        var caps = Captures()
        for format in plugins.formats {
            var score = 0
            let rules = format.records + format.contexts + format.headers
            for line in lines {
                line.withUnsafeBufferPointer { l in
                    var indent = 0
                    while indent < l.count && isBlank(l[indent]) { indent += 1 }
                    guard indent < l.count else { return }
                    for rule in rules where rule.template.match(l, from: rule.needsIndent ? 0 : indent, captures: &caps) != nil {
                        score += 1
                        return
                    }
                }
            }
            if score > 0 && score > (best?.score ?? 0) { best = (format, score) }
        }
        return best?.format
    }
}
