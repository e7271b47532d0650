import TraceLensInput
import TraceLensRecords
import TraceLensDecode
import TraceLensPlugins

/// Renders records gsktrace-style, with every code decoded inline:
///
///     05/21/2021-13:45:12 Thd-3 ERROR check_revoked(): ... Error 0x03353041 [CMS 03353041: Certificate is revoked.]
///
/// Writes bytes straight into the output buffer: this is the hot path of `format`.
public struct TextRenderer {
    public let plugins: PluginSet
    public let colour: Bool
    private var labels = LabelCache()
    /// The rendered `MM/DD/YYYY-` of the last day seen: consecutive records share it.
    private var lastDay: Int64 = .min
    private var datePrefix: [UInt8] = []

    package static let thd: [UInt8] = Array("Thd-".utf8)
    package static let call: [UInt8] = Array("(): ".utf8)
    /// Around the text of an impossible time (`[bad time 02/30/2022-10:00:00]`).
    package static let badTimeOpen: [UInt8] = Array("[bad time ".utf8)
    package static let badTimeClose: [UInt8] = Array("] ".utf8)
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
                appendMessageLine(r, b, 0..<b.count, codeIndex: 0, out)
                out.append(0x0A)
                return
            }
            if r.asWritten { renderAsWritten(r, b, out); return }
            if let t = r.time {
                if colour { out.append(ANSI.dim) }
                writeTime(t, out)
                if colour { out.append(ANSI.reset) }
                out.append(0x20)
            } else if let bad = r.badTime {
                // The trace's own text, marked: an impossible date is never shown as another one.
                out.append(Self.badTimeOpen); out.append(slice(b, bad)); out.append(Self.badTimeClose)
            }
            var codeIndex = 0
            if let job = r.range(.job) {
                // A message id read as the job (column 1 of an SDSF capture) gets its label too.
                codeIndex = appendMessageLine(r, b, job, codeIndex: 0, out); out.append(0x20)
                if let p = r.range(.process) { appendText(slice(b, p), out); out.append(0x20) }
            }
            if let th = r.range(.thread) { out.append(Self.thd); appendText(slice(b, th), out); out.append(0x20) }
            let levelColour: [UInt8]? = colour ? Self.colour(for: r.level) : nil
            if let c = levelColour { out.append(c) }
            if let l = r.rawLevel, r.level == .other { appendText(slice(b, l), out) } else { out.append(Self.levelBytes[Int(r.level.rawValue)]) }
            if levelColour != nil { out.append(ANSI.reset) }
            out.append(0x20)
            if let f = r.range(.function) {
                appendText(slice(b, f), out)
                // gsktrace writes `function(): `; layouts whose function is a command or a
                // message id (`$ ldapsearch -H ...`) keep it a plain word.
                if f.upperBound < b.count && b[f.upperBound] == 0x28 {
                    out.append(r.messageLines.isEmpty ? Self.call[0..<3] : Self.call[...])
                } else if !r.messageLines.isEmpty {
                    out.append(0x20)
                }
            }
            for (i, line) in r.messageLines.enumerated() {
                if i > 0 { out.append(Self.continuation) }
                codeIndex = appendMessageLine(r, b, line, codeIndex: codeIndex, out)
            }
            out.append(0x0A)
            for d in r.dumpLines {
                appendText(slice(b, d), out)
                out.append(0x0A)
            }
            if !r.dumpText.isEmpty { renderDumpText(r, out) }
        }
    }

    /// One line of text with the label of each code found in it after the code; returns the
    /// index of the first code of a later line.
    @discardableResult @inline(__always)
    package mutating func appendMessageLine(_ r: Record, _ b: UnsafeBufferPointer<UInt8>, _ line: Range<Int>, codeIndex start: Int, _ out: ByteBuffer) -> Int {
        var codeIndex = start
        var pos = line.lowerBound
        while codeIndex < r.codes.count, r.codes[codeIndex].end <= line.upperBound {
            let code = r.codes[codeIndex]
            if code.end >= pos {
                appendText(slice(b, pos..<code.end), out)
                pos = code.end
                appendLabel(code, out, before: slice(b, line.lowerBound..<code.end))
            }
            codeIndex += 1
        }
        appendText(slice(b, pos..<line.upperBound), out)
        return codeIndex
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
    /// (`Cipher is TLS_AES_256_GCM_SHA384`, a code found by its name) is left out.
    package mutating func appendLabel(_ code: FoundCode, _ out: ByteBuffer, before: UnsafeBufferPointer<UInt8>) {
        let label = labels.label(code, plugins)
        let n = label.bytes.count
        if n > 0, n <= before.count,
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
    private var cache: [Key: (bytes: [UInt8], failure: Bool)] = [:]

    package mutating func label(_ code: FoundCode, _ plugins: PluginSet) -> (bytes: [UInt8], failure: Bool) {
        let key = Key(catalogue: code.catalogue, value: code.value)
        if let hit = cache[key] { return hit }
        let catalogue = plugins.catalogues[code.catalogue]
        let made = (catalogue.labelBytes(code.value), catalogue.isFailure(code.value))
        cache[key] = made
        return made
    }
}
