/// One JSON object per record (JSON Lines), for scripts:
/// `source`, `line`, `time` (ISO 8601, no zone: traces carry none), `process`, `thread`, `level`,
/// `function`, `message`, `codes` (`kind`, `code`, `name`, `text`); plus `job`, `fields` and `dump`
/// when present. A line no layout recognised has `"unparsed": true` and its text in `message`.
public struct JSONRenderer {
    public let plugins: PluginSet

    public init(plugins: PluginSet) { self.plugins = plugins }

    /// Keys as bytes, made once: this runs for every record.
    enum Key {
        static let source: [UInt8] = Array("{\"source\":".utf8)
        static let line: [UInt8] = Array(",\"line\":".utf8)
        static let unparsed: [UInt8] = Array(",\"unparsed\":true,\"message\":".utf8)
        static let time: [UInt8] = Array(",\"time\":".utf8)
        static let process: [UInt8] = Array(",\"process\":".utf8)
        static let thread: [UInt8] = Array(",\"thread\":".utf8)
        static let level: [UInt8] = Array(",\"level\":".utf8)
        static let function: [UInt8] = Array(",\"function\":".utf8)
        static let message: [UInt8] = Array(",\"message\":".utf8)
        static let codes: [UInt8] = Array(",\"codes\":[".utf8)
        static let job: [UInt8] = Array(",\"job\":".utf8)
        static let fields: [UInt8] = Array(",\"fields\":{".utf8)
        static let dump: [UInt8] = Array(",\"dump\":[".utf8)
        static let null: [UInt8] = Array("null".utf8)
        static let end: [UInt8] = Array("}\n".utf8)
    }

    public func render(_ r: Record, source: SourceSummary, into out: ByteBuffer) {
        out.append(Key.source); JSON.string(source.path, out)
        out.append(Key.line); appendInt(r.line, out)
        if r.isUnparsed {
            out.append(Key.unparsed); JSON.bytes(r.bytes[...], out)
            out.append(Key.end)
            return
        }
        out.append(Key.time)
        if let t = r.time { out.append(0x22); t.write(iso: true, to: out); out.append(0x22) } else { out.append(Key.null) }
        out.append(Key.process)
        if let p = r.range(.process) { JSON.bytes(r.bytes[p], out) } else if let p = source.process { JSON.string(p, out) } else { out.append(Key.null) }
        field(Key.thread, r.range(.thread), r, out)
        out.append(Key.level)
        if r.level == .other, let raw = r.rawLevel { JSON.bytes(r.bytes[raw], out) } else { JSON.string(r.level.name, out) }
        field(Key.function, r.range(.function), r, out)
        out.append(Key.message)
        // Message lines joined by newlines, escaped straight from the record bytes.
        out.append(0x22)
        for (i, m) in r.messageLines.enumerated() {
            if i > 0 { out.append([0x5C, 0x6E]) }
            JSON.escaped(r.bytes[m], out)
        }
        out.append(0x22)
        out.append(Key.codes)
        for (i, c) in r.codes.enumerated() {
            if i > 0 { out.append(0x2C) }
            let cat = plugins.catalogues[c.catalogue]
            let entry = cat.entry(c.value) ?? cat.rangeEntry(c.value)
            out.append(Array("{\"kind\":".utf8)); JSON.string(cat.id, out)
            out.append(Array(",\"code\":".utf8)); JSON.string(cat.display(c.value), out)
            out.append(Array(",\"name\":".utf8)); JSON.string(entry?.name ?? "", out)
            out.append(Array(",\"text\":".utf8)); JSON.string(entry?.text ?? "", out)
            out.append(Array(",\"failure\":\(cat.isFailure(c.value))".utf8))
            if let entry, !entry.verified { out.append(Array(",\"verified\":false".utf8)) }
            out.append(0x7D)
        }
        out.append(0x5D)
        if let j = r.range(.job) { field(Key.job, j, r, out) }
        if !r.extras.isEmpty {
            out.append(Key.fields)
            for (i, e) in r.extras.enumerated() {
                if i > 0 { out.append(0x2C) }
                JSON.string(e.name, out); out.append(0x3A); JSON.bytes(r.bytes[e.range], out)
            }
            out.append(0x7D)
        }
        if !r.dumpLines.isEmpty {
            out.append(Key.dump)
            for (i, d) in r.dumpLines.enumerated() {
                if i > 0 { out.append(0x2C) }
                JSON.bytes(r.bytes[d], out)
            }
            out.append(0x5D)
        }
        if !r.dumpText.isEmpty {
            out.append(Array(",\"dump_text\":".utf8))
            JSON.bytes(r.dumpText.map { $0 >= 0x20 && $0 < 0x7F ? $0 : 0x2E }[...], out)
        }
        out.append(Key.end)
    }

    private func appendInt(_ n: Int, _ out: ByteBuffer) {
        if n < 10 { out.append(0x30 + UInt8(n)); return }
        appendInt(n / 10, out)
        out.append(0x30 + UInt8(n % 10))
    }

    private func field(_ key: [UInt8], _ range: Range<Int>?, _ r: Record, _ out: ByteBuffer) {
        out.append(key)
        if let range { JSON.bytes(r.bytes[range], out) } else { out.append(Key.null) }
    }
}

/// Minimal JSON string writing.
public enum JSON {
    public static func string(_ s: String, _ out: ByteBuffer) { bytes(ArraySlice(s.utf8), out) }

    public static func bytes(_ b: ArraySlice<UInt8>, _ out: ByteBuffer) {
        out.append(0x22)
        escaped(b, out)
        out.append(0x22)
    }

    /// The escaped text without quotes; runs of plain bytes are copied at once. Bytes that are not
    /// valid UTF-8 (a damaged trace) become U+FFFD, so the output is always valid JSON.
    public static func escaped(_ b: ArraySlice<UInt8>, _ out: ByteBuffer) {
        b.withUnsafeBufferPointer { p in
            var runStart = 0
            var i = 0
            while i < p.count {
                let c = p[i]
                if c >= 0x80 {
                    let n = utf8Length(p, i)
                    if n > 0 { i += n; continue }
                    out.append(UnsafeBufferPointer(rebasing: p[runStart..<i]))
                    out.append([0xEF, 0xBF, 0xBD])
                    i += 1
                    runStart = i
                    continue
                }
                guard c == 0x22 || c == 0x5C || c < 0x20 || c == 0x7F else { i += 1; continue }
                out.append(UnsafeBufferPointer(rebasing: p[runStart..<i]))
                i += 1
                runStart = i
                switch c {
                case 0x22: out.append(0x5C); out.append(0x22)
                case 0x5C: out.append(0x5C); out.append(0x5C)
                case 0x0A: out.append(0x5C); out.append(0x6E)
                case 0x0D: out.append(0x5C); out.append(0x72)
                case 0x09: out.append(0x5C); out.append(0x74)
                default:
                    let hex = Array("0123456789abcdef".utf8)
                    out.append([0x5C, 0x75, 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 15)]])
                }
            }
            out.append(UnsafeBufferPointer(rebasing: p[runStart...]))
        }
    }

    /// Length of the valid UTF-8 sequence starting at `i`, or 0 when it is not one. Strict, as
    /// Unicode's table 3-7 has it: no overlong forms (`E0 80 80`), no surrogates (`ED A0 80`),
    /// nothing above U+10FFFF (`F4 90 80 80`); JSON readers refuse those.
    static func utf8Length(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int {
        let c = p[i]
        let n: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xBF  // allowed range of the second byte
        switch c {
        case 0xC2...0xDF: n = 2
        case 0xE0: n = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE, 0xEF: n = 3
        case 0xED: n = 3; high = 0x9F
        case 0xF0: n = 4; low = 0x90
        case 0xF1...0xF3: n = 4
        case 0xF4: n = 4; high = 0x8F
        default: return 0
        }
        guard i + n <= p.count, p[i + 1] >= low, p[i + 1] <= high else { return 0 }
        for k in 2..<n where p[i + k] & 0xC0 != 0x80 { return 0 }
        return n
    }

    public static func quote(_ s: String) -> String {
        let out = ByteBuffer(capacity: s.utf8.count + 8)
        string(s, out)
        return out.string
    }
}
