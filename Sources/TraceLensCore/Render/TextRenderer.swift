/// Renders records gsktrace-style, with every code decoded inline:
///
///     05/21/2021-13:45:12 Thd-3 ERROR check_revoked(): ... Error 0x03353041 [CMS 03353041: Certificate is revoked.]
///
/// Writes bytes straight into the output buffer: this is the hot path of `format`.
public struct TextRenderer {
    public let plugins: PluginSet
    public let colour: Bool
    private var labelCache: [Int: [CodeValue: [UInt8]]] = [:]
    /// The rendered `MM/DD/YYYY-` of the last day seen: consecutive records share it.
    private var lastDay: Int64 = .min
    private var datePrefix: [UInt8] = []

    enum ANSI {
        static let reset: [UInt8] = Array("\u{1B}[0m".utf8)
        static let dim: [UInt8] = Array("\u{1B}[2m".utf8)
        static let red: [UInt8] = Array("\u{1B}[1;31m".utf8)
        static let yellow: [UInt8] = Array("\u{1B}[33m".utf8)
        static let cyan: [UInt8] = Array("\u{1B}[36m".utf8)
        static let blue: [UInt8] = Array("\u{1B}[34m".utf8)
        static let magenta: [UInt8] = Array("\u{1B}[35m".utf8)
        static let green: [UInt8] = Array("\u{1B}[32m".utf8)
    }

    public init(plugins: PluginSet, colour: Bool) {
        self.plugins = plugins
        self.colour = colour
    }

    public mutating func render(_ r: Record, into out: inout [UInt8]) {
        if r.isUnparsed {
            appendText(r.bytes[...], &out)
            out.append(0x0A)
            return
        }
        if let t = r.time {
            if colour { out += ANSI.dim }
            writeTime(t, &out)
            if colour { out += ANSI.reset }
            out.append(0x20)
        }
        if let job = r.range(.job) { out += r.bytes[job]; out.append(0x20) }
        if r.range(.job) != nil, let p = r.range(.process) { out += r.bytes[p]; out.append(0x20) }
        if let th = r.range(.thread) { out += [0x54, 0x68, 0x64, 0x2D]; out += r.bytes[th]; out.append(0x20) }
        let levelColour: [UInt8]? = colour ? Self.colour(for: r.level) : nil
        if let c = levelColour { out += c }
        if let l = r.rawLevel, r.level == .other { out += r.bytes[l] } else { out += Self.levelBytes[Int(r.level.rawValue)] }
        if levelColour != nil { out += ANSI.reset }
        out.append(0x20)
        if let f = r.range(.function) {
            out += r.bytes[f]
            out += r.messageLines.isEmpty ? [0x28, 0x29, 0x3A] : [0x28, 0x29, 0x3A, 0x20]
        }
        var codeIndex = 0
        for (i, line) in r.messageLines.enumerated() {
            if i > 0 { out += [0x0A, 0x20, 0x20, 0x20, 0x20] }
            var pos = line.lowerBound
            while codeIndex < r.codes.count, r.codes[codeIndex].end <= line.upperBound {
                let code = r.codes[codeIndex]
                if code.end >= pos {
                    appendText(r.bytes[pos..<code.end], &out)
                    pos = code.end
                    appendLabel(code, &out)
                }
                codeIndex += 1
            }
            appendText(r.bytes[pos..<line.upperBound], &out)
        }
        out.append(0x0A)
        for d in r.dumpLines {
            appendText(r.bytes[d], &out)
            out.append(0x0A)
        }
    }

    mutating func writeTime(_ t: Timestamp, _ out: inout [UInt8]) {
        guard t.hasDate else { t.write(iso: false, to: &out); return }
        let day = t.dayNumber
        if day != lastDay {
            lastDay = day
            datePrefix.removeAll(keepingCapacity: true)
            Timestamp(micros: day * 86_400_000_000).write(iso: false, to: &datePrefix)
            datePrefix.removeLast(8)  // keep MM/DD/YYYY-
        }
        out += datePrefix
        Timestamp(micros: t.microsOfDay, fractionDigits: t.fractionDigits, hasDate: false).write(iso: false, to: &out)
    }

    static let levelBytes: [[UInt8]] = Level.allCases.map { Array($0.name.utf8) }

    static func colour(for level: Level) -> [UInt8]? {
        switch level {
        case .error: return ANSI.red
        case .warning: return ANSI.yellow
        case .entry, .exit: return ANSI.blue
        case .dump: return ANSI.magenta
        case .info: return ANSI.green
        case .other: return nil
        }
    }

    /// Copies text; on a terminal, control characters are replaced so a trace cannot send escape
    /// sequences to it.
    @inline(__always) func appendText(_ bytes: ArraySlice<UInt8>, _ out: inout [UInt8]) {
        if !colour { out += bytes; return }
        for b in bytes { out.append(b < 0x20 && b != 0x09 || b == 0x7F ? 0x3F : b) }
    }

    mutating func appendLabel(_ code: FoundCode, _ out: inout [UInt8]) {
        let catalogue = plugins.catalogues[code.catalogue]
        let label: [UInt8]
        if let cached = labelCache[code.catalogue]?[code.value] { label = cached } else {
            label = catalogue.labelBytes(code.value)
            labelCache[code.catalogue, default: [:]][code.value] = label
        }
        out.append(0x20)
        let failing = catalogue.isFailure(code.value)
        if colour { out += failing ? ANSI.red : ANSI.cyan }
        out.append(0x5B)
        out += label
        out.append(0x5D)
        if colour { out += ANSI.reset }
    }
}
