import TraceLensInput

/// Reads a file whose lines come in several layouts (a pasted session: console lines, then a
/// client's output, then a trace fragment). Each line goes to the first layout that explains it:
/// the layout that read the line before (so a multi-line message stays together), then the
/// others in the order detection ranked them. A continuation line attaches only to a record of
/// its own layout; a line no layout explains is an unparsed record. Records come out in file
/// order, each carrying the layout that read it.
public final class MixedReader {
    public let formats: [Format]
    package let readers: [RecordReader]
    /// Blank and unparsed lines (a reader without a layout).
    private let plain: RecordReader
    /// The reader that took the last non-blank line.
    private var active = 0

    public init(formats: [Format], source: Int) {
        self.formats = formats
        readers = formats.map { RecordReader(format: $0, source: source) }
        plain = RecordReader(format: nil, source: source)
    }

    public var maxRecord: Int {
        get { plain.maxRecord }
        set { for r in readers { r.maxRecord = newValue }; plain.maxRecord = newValue }
    }
    public var sourceName: String {
        get { plain.sourceName }
        set { for r in readers { r.sourceName = newValue }; plain.sourceName = newValue }
    }
    public var yearReference: Timestamp? {
        get { plain.yearReference }
        set { for r in readers { r.yearReference = newValue } }
    }
    public var lineOffset: Int {
        get { plain.lineOffset }
        set { for r in readers { r.lineOffset = newValue }; plain.lineOffset = newValue }
    }
    /// Detection reads its sample this way: no warnings.
    package var quiet: Bool {
        get { plain.quiet }
        set { for r in readers { r.quiet = newValue }; plain.quiet = newValue }
    }

    public var hasPending: Bool { readers.contains { $0.hasPending } }

    /// Lines of each kind over all layouts.
    public var counts: RecordReader.Counts {
        var c = plain.counts
        for r in readers {
            c.lines += r.counts.lines
            c.records += r.counts.records
            c.continuations += r.counts.continuations
            c.headers += r.counts.headers
            c.unparsed += r.counts.unparsed
            c.blank += r.counts.blank
        }
        return c
    }

    /// Lines each layout read (records, continuations, headers), in `formats` order.
    public var linesRead: [Int] { readers.map { $0.counts.records + $0.counts.continuations + $0.counts.headers } }

    public func resumePoint(afterLine line: Int, offset: Int) -> ResumePoint {
        let holder = readers.first { $0.hasPending } ?? readers[active]
        return holder.resumePoint(afterLine: line, offset: offset)
    }

    public func restore(_ point: ResumePoint) { for r in readers { r.restore(point) } }

    /// The first layout that cuts lines into pieces (JSON pasted on one line), if any.
    private lazy var splitter: Format? = formats.first { $0.splits }

    public func feed(_ line: UnsafeBufferPointer<UInt8>, number: Int, emit: (inout Record) throws -> Void) rethrows {
        if let splitter, !splitter.cuts(line).isEmpty {
            // Each piece is a line to every layout (a blank piece holds no text).
            try splitter.forEachPiece(line) { piece, afterBreak in
                guard piece.contains(where: { !isBlank($0) }) else { return }
                try feedLine(piece, number: number, afterBreak: afterBreak, emit: emit)
            }
            return
        }
        try feedLine(line, number: number, emit: emit)
    }

    private func feedLine(_ line: UnsafeBufferPointer<UInt8>, number: Int, afterBreak: Bool = false, emit: (inout Record) throws -> Void) rethrows {
        var indent = 0
        while indent < line.count && isBlank(line[indent]) { indent += 1 }
        if indent == line.count {
            // A blank line ends nothing: the record above may go on after it, as in one layout.
            try plain.feed(line, number: number, emit: emit)
            return
        }
        // A record, header or context line of any layout comes first (the layout that read the
        // line before first, then by rank): a layout whose continuation takes any line (a client
        // transcript's output) must not swallow the next wrapper's records.
        let current = readers[active]
        if try current.startsOrSets(line, number: number, indent: indent, format: formats[active], emit: emit) {
            current.countLine()
            return
        }
        for i in readers.indices where i != active {
            // (Reader i holds no record of its own here: it was finished when i stopped reading.)
            if try readers[i].startsOrSets(line, number: number, indent: indent, format: formats[i], emit: emit) {
                // The record the last layout was building ended before this line: out it goes
                // (the new one is still being built, so file order holds).
                try current.finishPending(emit)
                readers[i].countLine()
                active = i
                return
            }
        }
        // Continuation lines attach only to a record of their own layout.
        if current.continuation(line, number: number, indent: indent, format: formats[active])
            || (afterBreak && current.continueText(line, number: number)) {
            current.countLine()
            return
        }
        try current.finishPending(emit)
        try plain.feed(line, number: number, emit: emit)
    }

    public func flush(emit: (inout Record) throws -> Void) rethrows {
        for r in readers { try r.flush(emit: emit) }
    }
}
