import TraceLensInput
import TraceLensRecords
import TraceLensDecode
import TraceLensPlugins

/// One JSON object per record (JSON Lines), for scripts:
/// `source`, `line`, `layout` (the layout that read the record), `time` (ISO 8601, no zone: traces carry none), `process`, `thread`, `level`,
/// `function`, `message`, `codes` (`kind`, `code`, `name`, `text`); plus `job`, `fields` and `dump`
/// when present. A line no layout recognised has `"unparsed": true`, its text in `message` and its `codes`.
public struct JSONRenderer {
    public let plugins: PluginSet

    public init(plugins: PluginSet) { self.plugins = plugins }

    /// Keys as bytes, made once: this runs for every record.
    package enum Key {
        package static let source: [UInt8] = Array("{\"source\":".utf8)
        package static let line: [UInt8] = Array(",\"line\":".utf8)
        package static let layout: [UInt8] = Array(",\"layout\":".utf8)
        package static let unparsed: [UInt8] = Array(",\"unparsed\":true,\"message\":".utf8)
        package static let time: [UInt8] = Array(",\"time\":".utf8)
        package static let process: [UInt8] = Array(",\"process\":".utf8)
        package static let thread: [UInt8] = Array(",\"thread\":".utf8)
        package static let level: [UInt8] = Array(",\"level\":".utf8)
        package static let function: [UInt8] = Array(",\"function\":".utf8)
        package static let message: [UInt8] = Array(",\"message\":".utf8)
        package static let codes: [UInt8] = Array(",\"codes\":[".utf8)
        package static let job: [UInt8] = Array(",\"job\":".utf8)
        package static let fields: [UInt8] = Array(",\"fields\":{".utf8)
        package static let dump: [UInt8] = Array(",\"dump\":[".utf8)
        package static let null: [UInt8] = Array("null".utf8)
        package static let badTime: [UInt8] = Array(",\"bad_time\":".utf8)
        package static let end: [UInt8] = Array("}\n".utf8)
    }

    public func render(_ r: Record, source: SourceSummary, into out: ByteBuffer) {
        out.append(Key.source); JSON.string(source.path, out)
        out.append(Key.line); appendInt(r.line, out)
        if r.isUnparsed {
            // The line as written, and the codes found in it (scripts count them).
            out.append(Key.unparsed); JSON.bytes(r.bytes[...], out)
            appendCodes(r, out)
            out.append(Key.end)
            return
        }
        if let layout = r.layout { out.append(Key.layout); JSON.string(layout.name, out) }
        out.append(Key.time)
        if let t = r.time { out.append(0x22); t.write(iso: true, to: out); out.append(0x22) } else { out.append(Key.null) }
        // An impossible time: `time` is null and the text is kept as written.
        if let bad = r.badTime { out.append(Key.badTime); JSON.bytes(r.bytes[bad], out) }
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
        appendCodes(r, out)
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
        Self.appendAnnotations(r.annotations, out)
        out.append(Key.end)
    }

    /// `"tls":[{"text":"ClientHello ...","message":"ClientHello","direction":"received","cipher":["C02C",...]}]`:
    /// one key per kind of annotation, one object per annotation; `message` and `direction` are
    /// single values, the other fields lists of codes or texts.
    package static func appendAnnotations(_ annotations: [Annotation], _ out: ByteBuffer) {
        var kinds: [String] = []
        for a in annotations where !kinds.contains(a.kind) { kinds.append(a.kind) }
        for kind in kinds {
            out.append(0x2C)
            JSON.string(kind, out)
            out.append(0x3A)
            JSON.Value.array(annotations.filter { $0.kind == kind }.map(annotationValue)).write(into: out)
        }
    }

    package static func annotationValue(_ a: Annotation) -> JSON.Value {
        .object([("text", .string(a.text))] + a.fields.map { f in
            (key: f.name, value: ["message", "direction", "version"].contains(f.name) ? .string(f.values.first) : .array(f.values.map(JSON.Value.string)))
        })
    }

    /// `"codes":[...]`: each code with its kind, name, text and whether it marks a failure.
    private func appendCodes(_ r: Record, _ out: ByteBuffer) {
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

