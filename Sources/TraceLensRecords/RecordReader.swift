#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TraceLensInput
/// A place in a source to continue reading from: after `line` lines, `offset` decoded bytes in,
/// with the date state the reader had there.
public struct ResumePoint: Sendable, Equatable {
    public var offset: Int
    public var line: Int
    public var contextDay: Int64?
    public var lastMicrosOfDay: Int64?
    /// The secret masker's state between records (a password dump announced, not yet over), so
    /// that a read resumed here masks the dump lines that come after it; 0 when none.
    public var maskState: Int64 = 0

    public init(offset: Int, line: Int) { self.offset = offset; self.line = line }

    /// `day=N tod=M mask=K` (each may be missing), as kept in the store.
    public var stateText: String {
        [contextDay.map { "day=\($0)" }, lastMicrosOfDay.map { "tod=\($0)" }, maskState == 0 ? nil : "mask=\(maskState)"]
            .compactMap { $0 }.joined(separator: " ")
    }

    public mutating func setState(_ text: String?) {
        for part in (text ?? "").split(separator: " ") {
            let kv = part.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, let v = Int64(kv[1]) else { continue }
            switch kv[0] {
            case "day": contextDay = v
            case "tod": lastMicrosOfDay = v
            case "mask": maskState = v
            default: break
            }
        }
    }
}

/// Turns lines into records using one format: record lines start a record, continuation lines
/// attach to it, context lines carry the date forward, header lines are skipped, and any other
/// line is handed on as an unparsed record so that nothing is lost.
public final class RecordReader {
    public struct Counts: Sendable, Equatable {
        /// Every line read is exactly one of: a record's first line, a continuation, a header or
        /// context line, a blank line, or an unparsed line.
        public var lines = 0, records = 0, continuations = 0, unparsed = 0, blank = 0, headers = 0
        public init() {}
    }

    public let format: Format?
    public private(set) var counts = Counts()
    package let source: Int
    /// The file's name, for the warning about a template that gave up (see `noteGaveUp`).
    public var sourceName = ""
    /// The first line a layout template gave up on (reported once per file).
    public private(set) var gaveUpAt: (template: String, line: Int)?
    /// Detection reads the sample with every layout: no warnings then (the real read gives them).
    package var quiet = false
    private var lineNumber = 0

    private var current = Record()
    private var pending = false
    private var captures = Captures()
    /// The date carried from context lines and dated records, as a day number.
    private var contextDay: Int64?
    private var lastMicrosOfDay: Int64?
    /// The time a context line gave (`date` output in a terminal transcript): records without a
    /// time of their own take it.
    private var contextTime: Timestamp?
    private var unparsed = Record()

    /// Multi-line messages whose lines name their message (see `Format.keyedRecords`): a record
    /// that may still get lines is held, and so is every record after it, so that records still
    /// come out in file order. `currentKey`/`currentOpen` are the record being built's.
    private struct Held {
        var record: Record
        var offset: Int
        var key: [UInt8]?
        var open: Bool
    }
    private var held: [Held] = []
    private var heldBytes = 0
    private var currentKey: [UInt8]?
    private var currentOpen = false
    /// Past these, held records go out (their messages' later lines then join the record above
    /// them, as without numbers): memory stays bounded and output is not held back for long.
    package static let holdRecords = 256
    package static let holdBytes = 1 << 20

    /// Dates written without a year (`Mar 24 10:07:19` in syslog) take the year of this time,
    /// or the year before when that would put them more than a day after it. The store passes
    /// the latest time it holds, `format` the file's modification time.
    public var yearReference: Timestamp?

    /// The most bytes one record holds (`--max-record`); lines are already cut to it.
    public var maxRecord = TextReader.defaultMaxRecord

    /// Offset of the line about to be fed; the caller sets it to learn where records start.
    public var lineOffset = 0
    private var pendingOffset = 0

    /// Where reading must resume so that no record is lost or read twice: the start of the
    /// record still being built, or else just after the last line fed.
    public func resumePoint(afterLine line: Int, offset: Int) -> ResumePoint {
        var point = pending ? ResumePoint(offset: pendingOffset, line: current.line - 1) : ResumePoint(offset: offset, line: line)
        if let h = held.first { point = ResumePoint(offset: h.offset, line: h.record.line - 1) }
        point.contextDay = contextDay
        point.lastMicrosOfDay = lastMicrosOfDay
        return point
    }

    /// True while a record is being built (its continuation lines may still come).
    public var hasPending: Bool { pending || !held.isEmpty }

    /// Continues with the date state of an earlier read.
    public func restore(_ point: ResumePoint) {
        contextDay = point.contextDay
        lastMicrosOfDay = point.lastMicrosOfDay
    }

    public init(format: Format?, source: Int) {
        self.format = format
        self.source = source
    }

    /// Feeds one line. `emit` receives each completed record (and each unparsed line) in order.
    /// It may keep the record by swapping it for another (`RecordHandoff` does): the reader does
    /// not look at a record after emitting it, and resets the one it gets back before reuse.
    public func feed(_ line: UnsafeBufferPointer<UInt8>, number: Int, emit: (inout Record) throws -> Void) rethrows {
        counts.lines += 1
        lineNumber = number
        var indent = 0
        while indent < line.count && isBlank(line[indent]) { indent += 1 }
        if indent == line.count { counts.blank += 1; return }
        guard let format else { try emitUnparsed(line, number, emit); return }
        if format.splits {
            try format.forEachPiece(line) { piece, afterBreak in
                var indent = 0
                while indent < piece.count && isBlank(piece[indent]) { indent += 1 }
                // A piece of blanks only (between two cuts) is kept with nothing: there is no text.
                if indent == piece.count { return }
                if afterBreak, try startsOrSets(piece, number: number, indent: indent, format: format, emit: emit) { return }
                if afterBreak, continueText(piece, number: number) { return }
                try feedLine(piece, number: number, indent: indent, format: format, emit: emit)
            }
            return
        }
        try feedLine(line, number: number, indent: indent, format: format, emit: emit)
    }

    @inline(__always)
    private func feedLine(_ line: UnsafeBufferPointer<UInt8>, number: Int, indent: Int, format: Format, emit: (inout Record) throws -> Void) rethrows {
        if try take(line, number: number, indent: indent, format: format, emit: emit) { return }
        if pending { try finish(emit) }
        try emitUnparsed(line, number, emit)
    }

    /// Reads a non-blank line as this layout's header, record, context or continuation line;
    /// false when the layout does not explain it (nothing is emitted then). The mixed reader
    /// asks each of its layouts in turn.
    @inline(__always)
    package func take(_ line: UnsafeBufferPointer<UInt8>, number: Int, indent: Int, format: Format,
              continuation: Bool = true, emit: (inout Record) throws -> Void) rethrows -> Bool {
        if try startsOrSets(line, number: number, indent: indent, format: format, emit: emit) { return true }
        return continuation && self.continuation(line, number: number, indent: indent, format: format)
    }

    /// The line is a header, record or context line of the layout (read as such).
    @inline(__always)
    package func startsOrSets(_ line: UnsafeBufferPointer<UInt8>, number: Int, indent: Int, format: Format,
                      emit: (inout Record) throws -> Void) rethrows -> Bool {
        lineNumber = number
        // Header lines first: a title or a prompt line (`$ date`) may look like a record.
        for rule in format.headers where matches(rule, line, indent) {
            counts.headers += 1
            return true
        }
        if let i = firstMatch(format.records, line, indent) {
            if pending { try finish(emit) }
            format.records.withUnsafeBufferPointer { start($0[i], line, number, format) }
            return true
        }
        for rule in format.contexts where matches(rule, line, indent) {
            applyContext(rule, line)
            counts.headers += 1
            return true
        }
        return false
    }

    /// The line continues the record being built (attached to it).
    @inline(__always)
    package func continuation(_ line: UnsafeBufferPointer<UInt8>, number: Int, indent: Int, format: Format) -> Bool {
        if !format.keyedRecords.isEmpty { return keyedContinuation(line, number: number, indent: indent, format: format) }
        if pending {
            for (k, (rule, role)) in format.continuations.enumerated() where number - current.line < format.continuationMaxLines[k] && matches(rule, line, indent) {
                // A record never grows past the record limit: the lines after go on as unparsed
                // records (kept, in order), so memory stays bounded however long a dump is.
                if current.bytes.count + line.count >= maxRecord { break }
                attach(rule, role, line)
                current.lineCount = number - current.line + 1
                counts.continuations += 1
                return true
            }
        }
        return false
    }

    /// `continuation` for a layout whose continuation lines may name their message: a line
    /// with a number joins the record that has it (held or being built); the first numbered line
    /// after a keyed record (a SYSLOG `M` line) gives the newest such record without a number
    /// its number; a line naming no known message continues the record above it.
    private func keyedContinuation(_ line: UnsafeBufferPointer<UInt8>, number: Int, indent: Int, format: Format) -> Bool {
        guard pending || !held.isEmpty else { return false }
        for (k, entry) in format.continuations.enumerated() where matches(entry.rule, line, indent) {
            let keyed = format.continuationKeys[k]
            // -1: the record being built; otherwise an index into `held`.
            var target: Int? = pending ? -1 : nil
            var key: [UInt8]?
            if let keyed, let r = captures.range(keyed.slot), !r.isEmpty {
                let value = Array(line[r])
                key = value
                if pending && currentKey == value && currentOpen {
                    target = -1
                } else if let i = held.lastIndex(where: { $0.open && $0.key == value }) {
                    target = i
                } else if pending && currentOpen && currentKey == nil {
                    target = -1
                } else if let i = held.lastIndex(where: { $0.open && $0.key == nil }) {
                    target = i
                }
            }
            guard let t = target else { return false }
            if t >= 0 { swap(&current, &held[t].record) }
            defer { if t >= 0 { swap(&current, &held[t].record) } }
            if current.bytes.count + line.count >= maxRecord { return false }
            let before = current.bytes.count
            attach(entry.rule, entry.role, line)
            current.lineCount = number - current.line + 1
            counts.continuations += 1
            // A record taking its number: older ones still without one will not get one now.
            let newKey = key != nil && (t < 0 ? currentOpen && currentKey == nil : held[t].open && held[t].key == nil)
            if newKey { for i in held.indices where i != t && held[i].open && held[i].key == nil { held[i].open = false } }
            if t < 0 {
                // A line without a number closes a message that has none (a copy cut at the left).
                if currentOpen, let key { currentKey = key; if keyed?.ends == true { currentOpen = false } } else if currentKey == nil { currentOpen = false }
            } else {
                heldBytes += current.bytes.count - before
                if held[t].open, let key { held[t].key = key; if keyed?.ends == true { held[t].open = false } }
            }
            return true
        }
        return false
    }

    /// A piece of a line after a line break written inside it (`\r`): a further line of the
    /// record being built's message.
    package func continueText(_ piece: UnsafeBufferPointer<UInt8>, number: Int) -> Bool {
        guard pending, current.bytes.count + piece.count < maxRecord else { return false }
        var indent = 0
        while indent < piece.count && isBlank(piece[indent]) { indent += 1 }
        let base = current.appendLine(piece)
        current.messageLines.append((base + indent)..<current.bytes.count)
        current.lineCount = number - current.line + 1
        counts.continuations += 1
        return true
    }

    /// Emits the record being built, if any (the mixed reader calls it when another layout
    /// takes the next line, so records come out in file order), and every record held.
    package func finishPending(_ emit: (inout Record) throws -> Void) rethrows {
        if pending { try finish(emit) }
        if !held.isEmpty { try release(emit, all: true) }
    }

    /// Emits the held records from the first on, up to the first that may still get lines
    /// (`all`: every one).
    private func release(_ emit: (inout Record) throws -> Void, all: Bool) rethrows {
        var n = 0
        while n < held.count && (all || !held[n].open) {
            heldBytes -= held[n].record.bytes.count
            try emit(&held[n].record)
            n += 1
        }
        held.removeFirst(n)
        if held.isEmpty { heldBytes = 0 }
    }

    /// Counts a line the mixed reader saw (read by another layout, blank, or unparsed).
    package func countLine() { counts.lines += 1 }

    /// Reads text already in memory (LF-separated lines, numbered from `firstLine`; a trailing CR
    /// is dropped as `TextReader` drops it) and returns copies of its records. For samples and
    /// for records read back from the store, not for the file path.
    public static func records(in text: [UInt8], format: Format?, source: Int = 0, firstLine: Int = 1) -> [Record] {
        let reader = RecordReader(format: format, source: source)
        var out: [Record] = []
        var number = firstLine
        text.withUnsafeBufferPointer { b in
            func feed(_ start: Int, _ end: Int) {
                var e = end
                if e > start && b[e - 1] == 0x0D { e -= 1 }
                reader.feed(UnsafeBufferPointer(rebasing: b[start..<e]), number: number) { out.append($0) }
                number += 1
            }
            var start = 0
            for i in 0..<b.count where b[i] == 0x0A { feed(start, i); start = i + 1 }
            if start < b.count { feed(start, b.count) }
            reader.flush { out.append($0) }
        }
        return out
    }

    /// Emits the record still being built, if any. Call at the end of the input.
    public func flush(emit: (inout Record) throws -> Void) rethrows {
        if pending { try finish(emit) }
        if !held.isEmpty { try release(emit, all: true) }
    }

    /// Index of the first rule that matches (iterating through a buffer avoids copying rules).
    @inline(__always)
    private func firstMatch(_ rules: [LineRule], _ line: UnsafeBufferPointer<UInt8>, _ indent: Int) -> Int? {
        rules.withUnsafeBufferPointer { buf in
            for i in 0..<buf.count {
                if buf[i].template.match(line, from: buf[i].needsIndent ? 0 : indent, captures: &captures) != nil { return i }
                if captures.gaveUp { noteGaveUp(buf[i].template) }
            }
            return nil
        }
    }

    private func matches(_ rule: LineRule, _ line: UnsafeBufferPointer<UInt8>, _ indent: Int) -> Bool {
        if rule.template.match(line, from: rule.needsIndent ? 0 : indent, captures: &captures) != nil { return true }
        if captures.gaveUp { noteGaveUp(rule.template) }
        return false
    }

    /// A template ran out of its work budget on this line (see `Matcher`): the line is read as
    /// not matching it, and the first such line of a file is reported.
    private func noteGaveUp(_ template: Template) {
        guard gaveUpAt == nil else { return }
        gaveUpAt = (template.source, lineNumber)
        if quiet { return }
        let layout = format.map { "\($0.plugin)/\($0.name)" } ?? "?"
        Diagnostics.warn("\(sourceName.isEmpty ? "input" : sourceName) line \(lineNumber): gave up matching layout \(layout) template '\(template.source)' (too costly for this line; read as not matching it; later lines are not reported)")
    }

    private func finish(_ emit: (inout Record) throws -> Void) rethrows {
        pending = false
        counts.records += 1
        if held.isEmpty && !currentOpen { try emit(&current); return }
        try hold(current, offset: pendingOffset, key: currentKey, open: currentOpen, emit)
        currentOpen = false
        currentKey = nil
    }

    private func hold(_ record: Record, offset: Int, key: [UInt8]?, open: Bool, _ emit: (inout Record) throws -> Void) rethrows {
        held.append(Held(record: record, offset: offset, key: key, open: open))
        heldBytes += record.bytes.count
        try release(emit, all: held.count > Self.holdRecords || heldBytes > Self.holdBytes)
    }

    private func emitUnparsed(_ line: UnsafeBufferPointer<UInt8>, _ number: Int, _ emit: (inout Record) throws -> Void) rethrows {
        counts.unparsed += 1
        unparsed.reset(source: source, line: number)
        unparsed.isUnparsed = true
        unparsed.layout = nil
        let at = unparsed.appendLine(line)
        unparsed.messageLines.append(at..<unparsed.bytes.count)
        if !held.isEmpty { try hold(unparsed, offset: lineOffset, key: nil, open: false, emit); return }
        try emit(&unparsed)
    }

    private func start(_ rule: LineRule, _ line: UnsafeBufferPointer<UInt8>, _ number: Int, _ format: Format) {
        current.reset(source: source, line: number)
        current.layout = format
        pending = true
        pendingOffset = lineOffset
        current.asWritten = format.printAsWritten
        let base = current.appendLine(line)
        var parts = TimeParts()
        var sawTime = false
        rule.roles.roles.withUnsafeBufferPointer { roles in
            for slot in 0..<roles.count {
                guard let r = captures.range(slot) else { continue }
                let shifted = (r.lowerBound + base)..<(r.upperBound + base)
                switch roles[slot] {
                case let .standard(f):
                    current.set(f, shifted)
                    if f == .message { current.messageLines.append(shifted) }
                    if f == .level {
                        current.rawLevel = shifted
                        current.level = format.level(for: UnsafeBufferPointer(rebasing: line[r]))
                    }
                case .time:
                    merge(captures.times[slot], into: &parts)
                    sawTime = true
                    if captures.times[slot].impossible && current.badTime == nil { current.badTime = shifted }
                case .extra:
                    current.extras.append((rule.template.fieldNames[slot], shifted))
                case .ignored:
                    break
                }
            }
        }
        if format.wholeLineMessage {
            var lo = base, hi = current.bytes.count
            while lo < hi && isBlank(current.bytes[lo]) { lo += 1 }
            while hi > lo && isBlank(current.bytes[hi - 1]) { hi -= 1 }
            current.set(.message, lo..<hi)
            current.messageLines.removeAll(keepingCapacity: true)
            current.messageLines.append(lo..<hi)
        }
        if sawTime { current.time = timestamp(parts) } else if let t = contextTime { current.time = t }
        currentKey = nil
        currentOpen = false
        if !format.keyedRecords.isEmpty {
            var indent = 0
            while indent < line.count && isBlank(line[indent]) { indent += 1 }
            currentOpen = format.keyedRecords.contains { matches($0, line, indent) }
        }
        if current.rawLevel == nil, !format.idLevels.isEmpty, let id = messageID(),
           let level = format.idLevels[current.bytes[id.upperBound - 1]] {
            current.level = level
        } else if current.rawLevel == nil, let level = format.defaultLevel {
            current.level = level
        }
    }

    /// Where the message id is: the function field, or else the message's first word.
    private func messageID() -> Range<Int>? {
        if let f = current.range(.function) { return f.isEmpty ? nil : f }
        guard let m = current.range(.message), !m.isEmpty else { return nil }
        var end = m.lowerBound
        while end < m.upperBound && !isBlank(current.bytes[end]) { end += 1 }
        return m.lowerBound..<end
    }

    /// Fills in the year of a date written without one (see `yearReference`).
    private func completeYear(_ parts: inout TimeParts) {
        guard parts.year < 0, parts.month >= 0, parts.day >= 0 else { return }
        let reference = yearReference ?? Timestamp(micros: Int64(time(nil)) * 1_000_000)
        let year = Timestamp.civilFromDays(Int(reference.dayNumber)).year
        parts.year = year
        if Int64(Timestamp.daysFromCivil(year, parts.month, parts.day)) > reference.dayNumber + 1 { parts.year = year - 1 }
    }

    private func merge(_ p: TimeParts, into parts: inout TimeParts) {
        var p = p
        if p.impossible { parts.impossible = true; return }
        completeYear(&p)
        if p.hasDate { parts.year = p.year; parts.month = p.month; parts.day = p.day }
        if p.hasTime {
            parts.hour = p.hour; parts.minute = p.minute; parts.second = p.second
            parts.micros = p.micros; parts.fractionDigits = p.fractionDigits
        }
    }

    /// Combines a record's time with the carried date, rolling the date over at midnight: a time
    /// of day more than 12 hours earlier than the last one means the next day began.
    private func timestamp(_ parts: TimeParts) -> Timestamp? {
        // An impossible time (see `TimeParts.impossible`) gives no time and moves no date on.
        if parts.impossible { return nil }
        if parts.hasDate {
            guard var t = Timestamp(parts) else { return nil }
            contextDay = t.dayNumber
            lastMicrosOfDay = t.microsOfDay
            if !parts.hasTime { t.fractionDigits = 0 }
            return t
        }
        guard parts.hasTime else { return nil }
        let tod = Timestamp(timeOfDay: parts)
        if let last = lastMicrosOfDay, tod.micros < last - 12 * 3_600_000_000, let day = contextDay {
            contextDay = day + 1
        }
        lastMicrosOfDay = tod.micros
        guard let day = contextDay else { return tod }
        return Timestamp(micros: day * 86_400_000_000 + tod.micros, fractionDigits: tod.fractionDigits)
    }

    private func applyContext(_ rule: LineRule, _ line: UnsafeBufferPointer<UInt8>) {
        for slot in rule.template.timeSlots {
            guard var p = rule.template.time(in: line, slot: slot, captures: captures), !p.impossible else { continue }
            completeYear(&p)
            guard p.hasDate else { continue }
            contextDay = Int64(Timestamp.daysFromCivil(p.year, p.month, p.day))
            lastMicrosOfDay = nil
            contextTime = p.hasTime ? Timestamp(p) : nil
            if let t = contextTime { lastMicrosOfDay = t.microsOfDay }
        }
    }

    private func attach(_ rule: LineRule, _ role: ContinuationRole, _ line: UnsafeBufferPointer<UInt8>) {
        let base = current.appendLine(line)
        var indent = 0
        while indent < line.count && isBlank(line[indent]) { indent += 1 }
        switch role {
        case .dump:
            current.dumpLines.append(base..<current.bytes.count)
        case .text:
            if let slot = rule.template.slot(named: "message"), let r = captures.range(slot) {
                current.messageLines.append((r.lowerBound + base)..<(r.upperBound + base))
            } else {
                current.messageLines.append((base + indent)..<current.bytes.count)
            }
            if current.range(.message) == nil, let first = current.messageLines.first { current.set(.message, first) }
        case .fields:
            for (slot, role) in rule.roles.roles.enumerated() {
                guard let r = captures.range(slot) else { continue }
                let shifted = (r.lowerBound + base)..<(r.upperBound + base)
                switch role {
                case let .standard(f) where current.range(f) == nil:
                    current.set(f, shifted)
                    if f == .message { current.messageLines.append(shifted) }
                case .extra:
                    current.extras.append((rule.template.fieldNames[slot], shifted))
                default:
                    break
                }
            }
        }
    }
}
