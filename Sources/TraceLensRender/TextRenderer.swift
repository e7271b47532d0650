import TraceLensInput
import TraceLensRecords
import TraceLensDecode
import TraceLensPlugins

/// Renders records in their layout's look (its `render` template, see `RenderTemplate`), with
/// every code decoded inline right after it.
///
/// Writes bytes straight into the output buffer: this is the hot path of `format`.
public struct TextRenderer {
    public let plugins: PluginSet
    public let colour: Bool
    private var labels = LabelCache()
    /// The rendered `MM/DD/YYYY-` of the last day seen: consecutive records share it.
    private var lastDay: Int64 = .min
    private var datePrefix: [UInt8] = []

    /// Around the text of an impossible time (`[bad time 02/30/2022-10:00:00]`).
    package static let badTimeOpen: [UInt8] = Array("[bad time ".utf8)
    package static let continuation: [UInt8] = Array("\n    ".utf8)
    package static let levelBytes: [[UInt8]] = Level.allCases.map { Array($0.name.utf8) }

    public init(plugins: PluginSet, colour: Bool) {
        self.plugins = plugins
        self.colour = colour
    }

    /// Renders one record into a new array (tests and cold paths).
    public mutating func render(_ r: Record) -> [UInt8] {
        let out = ByteBuffer(capacity: r.bytes.count + 256)
        render(r, into: out)
        return out.bytes
    }

    public mutating func render(_ r: Record, into out: ByteBuffer) {
        r.bytes.withUnsafeBufferPointer { b in
            if r.isUnparsed {
                // As written, each code's label right after it (as on every other line).
                appendDecoded(r, b, 0..<b.count, out)
                out.append(0x0A)
                return
            }
            if r.asWritten { renderAsWritten(r, b, out); return }
            renderFields(r, b, r.layout?.render ?? .standard, out)
            out.append(0x0A)
            for d in r.dumpLines {
                appendText(slice(b, d), out)
                out.append(0x0A)
            }
            if !r.dumpText.isEmpty { renderDumpText(r, out) }
            renderAnnotations(r, out)
        }
    }

    /// What later stages read from the record, a line each: `    tls: ClientHello TLS 1.2 ...`.
    package func renderAnnotations(_ r: Record, _ out: ByteBuffer) {
        for a in r.annotations {
            out.append("    ")
            if colour { out.append(ANSI.dim) }
            out.append(a.kind + ":")
            if colour { out.append(ANSI.reset) }
            out.append(0x20)
            // Names and DNs in the bytes came from the trace: shown, never obeyed.
            out.append(TerminalText.visible(a.text))
            out.append(0x0A)
        }
    }

    /// The record's first line, part by part as the template says (dump lines follow it).
    package mutating func renderFields(_ r: Record, _ b: UnsafeBufferPointer<UInt8>, _ t: RenderTemplate, _ out: ByteBuffer) {
        var i = 0
        while i < t.parts.count {
            switch t.parts[i] {
            case let .text(range):
                t.literals.withUnsafeBufferPointer { out.append(UnsafeBufferPointer(rebasing: $0[range])) }
                i += 1
            case let .field(field):
                appendField(field, r, b, t, out)
                i += 1
            case let .optional(fields, end):
                i += 1
                for n in fields where !has(t.needs[n], r, t) { i = end; break }
            }
        }
    }

    @inline(__always) package func has(_ field: RenderTemplate.Field, _ r: Record, _ t: RenderTemplate) -> Bool {
        switch field {
        case .time: return r.time != nil || r.badTime != nil
        case .level: return true
        case .standard(.message): return !r.messageLines.isEmpty
        case let .standard(f): return r.range(f) != nil
        case let .extra(i): return r.extras.contains { $0.name == t.extraNames[i] }
        }
    }

    /// One field's text; the time dim and the level in its colour, each code's label after it.
    package mutating func appendField(_ field: RenderTemplate.Field, _ r: Record, _ b: UnsafeBufferPointer<UInt8>, _ t: RenderTemplate, _ out: ByteBuffer) {
        switch field {
        case .time:
            if let time = r.time {
                if colour { out.append(ANSI.dim) }
                writeTime(time, out)
                if colour { out.append(ANSI.reset) }
            } else if let bad = r.badTime {
                // The trace's own text, marked: an impossible date is never shown as another one.
                out.append(Self.badTimeOpen); out.append(slice(b, bad)); out.append(0x5D)
            }
        case .level:
            let levelColour: [UInt8]? = colour ? Self.colour(for: r.level) : nil
            if let c = levelColour { out.append(c) }
            if let l = r.rawLevel, r.level == .other { appendText(slice(b, l), out) } else { out.append(Self.levelBytes[Int(r.level.rawValue)]) }
            if levelColour != nil { out.append(ANSI.reset) }
        case .standard(.message):
            for (n, line) in r.messageLines.enumerated() {
                if n > 0 { out.append(Self.continuation) }
                appendDecoded(r, b, line, out)
            }
        case let .standard(f):
            if let range = r.range(f) { appendDecoded(r, b, range, out) }
        case let .extra(i):
            if let range = r.extras.first(where: { $0.name == t.extraNames[i] })?.range { appendDecoded(r, b, range, out) }
        }
    }

    /// Text of the record with the label of each code found in it right after the code (a
    /// message id read as the job, column 1 of an SDSF capture, gets its label too).
    @inline(__always)
    package mutating func appendDecoded(_ r: Record, _ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ out: ByteBuffer, keepingNewlines: Bool = false) {
        var pos = range.lowerBound
        for code in r.codes where code.end >= pos && code.end <= range.upperBound {
            TerminalText.append(slice(b, pos..<code.end), to: out, keepingNewlines: keepingNewlines)
            pos = code.end
            appendLabel(code, out, before: slice(b, range.lowerBound..<code.end), after: slice(b, code.end..<b.count))
        }
        TerminalText.append(slice(b, pos..<range.upperBound), to: out, keepingNewlines: keepingNewlines)
    }

    package static let dumpTextPrefix: [UInt8] = Array("    text: \"".utf8)
    package static let listPrefix: [UInt8] = Array("\n      ".utf8)

    /// The dump's bytes as text (`text: "C02C"`), then any codes read from it, one per line.
    package mutating func renderDumpText(_ r: Record, _ out: ByteBuffer) {
        if colour { out.append(ANSI.dim) }
        out.append(Self.dumpTextPrefix)
        var end = r.dumpText.count
        while end > 0 && (r.dumpText[end - 1] == 0x20 || r.dumpText[end - 1] == 0) { end -= 1 }
        r.dumpText.withUnsafeBufferPointer { t in
            // Only printable ASCII; anything else shows as '.', as dumps do.
            for b in t[0..<end] { out.append(b >= 0x20 && b < 0x7F ? b : 0x2E) }
        }
        out.append(0x22)
        if colour { out.append(ANSI.reset) }
        for code in r.codes where code.end < 0 {
            out.append(Self.listPrefix)
            let label = labels.label(code, plugins)
            if colour { out.append(label.failure ? ANSI.red : ANSI.cyan) }
            out.append(label.bytes)
            if colour { out.append(ANSI.reset) }
        }
        out.append(0x0A)
    }

    @inline(__always) package func slice(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: b[r])
    }

    package mutating func writeTime(_ t: Timestamp, _ out: ByteBuffer) {
        guard t.hasDate else { t.write(iso: false, to: out); return }
        let day = t.dayNumber
        if day != lastDay {
            lastDay = day
            datePrefix.removeAll(keepingCapacity: true)
            Timestamp(micros: day * 86_400_000_000).write(iso: false, to: &datePrefix)
            datePrefix.removeLast(8)  // keep MM/DD/YYYY-
        }
        out.append(datePrefix)
        Timestamp(micros: t.microsOfDay, fractionDigits: t.fractionDigits, hasDate: false).write(iso: false, to: out)
    }

    package static func colour(for level: Level) -> [UInt8]? {
        switch level {
        case .error: return ANSI.red
        case .warning: return ANSI.yellow
        case .entry, .exit: return ANSI.blue
        case .dump: return ANSI.magenta
        case .info: return ANSI.green
        case .other: return nil
        }
    }

    /// Copies text from the trace with control bytes shown (`^[`, `\x9b`), whether or not the
    /// output is a terminal: a file or a pipe often ends up on one (`less -R`, `cat`).
    @inline(__always) package func appendText(_ bytes: UnsafeBufferPointer<UInt8>, _ out: ByteBuffer) {
        TerminalText.append(bytes, to: out)
    }

    /// `before`: the text up to the code's end. A label that only repeats the text it follows
    /// (`Cipher is TLS_AES_256_GCM_SHA384`, a code found by its name) is left out. `after`: the
    /// record's bytes after the code, read up to the line's end whatever field they are in (an
    /// SDSF capture's message id may be read as the job): a message id followed by its own text
    /// gets the short label (`GLD1116E [error] Unable to ...`, see `CatalogueKind.message`), or none.
    package mutating func appendLabel(_ code: FoundCode, _ out: ByteBuffer, before: UnsafeBufferPointer<UInt8>, after: UnsafeBufferPointer<UInt8>? = nil) {
        let label = labels.label(code, plugins, after: after)
        let n = label.bytes.count
        guard n > 0 else { return }
        if n <= before.count,
           zip(label.bytes, before[(before.count - n)...]).allSatisfy({ lowerASCII($0) == lowerASCII($1) }),
           before.count == n || !CodeFinder.isWordByte(before[before.count - n - 1]) { return }
        out.append(0x20)
        if colour { out.append(label.failure ? ANSI.red : ANSI.cyan) }
        out.append(0x5B)
        out.append(label.bytes)
        out.append(0x5D)
        if colour { out.append(ANSI.reset) }
    }
}

/// Inline labels by catalogue and value, rendered once each.
package struct LabelCache {
    package struct Key: Hashable { let catalogue: Int; let value: CodeValue }
    private struct Labels {
        var bytes: [UInt8]
        var failure: Bool
        /// A message id's: the start of its text (`Catalogue.messageOpening`) and the label used
        /// when that text follows the id.
        var opening: [UInt8]?
        var short: [UInt8]
    }
    private var cache: [Key: Labels] = [:]

    /// `after`: what follows the code in its record (read to its line's end); nil when nothing can
    /// (a code read from a dump).
    package mutating func label(_ code: FoundCode, _ plugins: PluginSet, after: UnsafeBufferPointer<UInt8>? = nil) -> (bytes: [UInt8], failure: Bool) {
        let key = Key(catalogue: code.catalogue, value: code.value)
        let made: Labels
        if let hit = cache[key] {
            made = hit
        } else {
            let catalogue = plugins.catalogues[code.catalogue]
            let opening = catalogue.messageOpening(code.value)
            made = Labels(bytes: catalogue.labelBytes(code.value), failure: catalogue.isFailure(code.value), opening: opening,
                          short: opening == nil ? [] : catalogue.messageLabelBytes(code.value))
            cache[key] = made
        }
        if let opening = made.opening, let after, Catalogue.messageFollows(opening, after) { return (made.short, made.failure) }
        return (made.bytes, made.failure)
    }
}
