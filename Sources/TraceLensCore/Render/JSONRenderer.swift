/// One JSON object per record (JSON Lines), for scripts:
/// `source`, `line`, `time` (ISO 8601, no zone: traces carry none), `process`, `thread`, `level`,
/// `function`, `message`, `codes` (`kind`, `code`, `name`, `text`); plus `job`, `fields` and `dump`
/// when present. A line no layout recognised has `"unparsed": true` and its text in `message`.
public struct JSONRenderer {
    public let plugins: PluginSet

    public init(plugins: PluginSet) { self.plugins = plugins }

    public func render(_ r: Record, source: SourceSummary, into out: inout [UInt8]) {
        out += Array("{\"source\":".utf8); JSON.string(source.path, &out)
        out += Array(",\"line\":\(r.line)".utf8)
        if r.isUnparsed {
            out += Array(",\"unparsed\":true,\"message\":".utf8); JSON.bytes(r.bytes[...], &out)
            out += Array("}\n".utf8)
            return
        }
        out += Array(",\"time\":".utf8)
        if let t = r.time { out.append(0x22); t.write(iso: true, to: &out); out.append(0x22) } else { out += Array("null".utf8) }
        out += Array(",\"process\":".utf8)
        if let p = r.range(.process) { JSON.bytes(r.bytes[p], &out) } else if let p = source.process { JSON.string(p, &out) } else { out += Array("null".utf8) }
        field(",\"thread\":", r.range(.thread), r, &out)
        out += Array(",\"level\":".utf8); JSON.string(r.levelName, &out)
        field(",\"function\":", r.range(.function), r, &out)
        out += Array(",\"message\":".utf8); JSON.string(r.message, &out)
        out += Array(",\"codes\":[".utf8)
        for (i, c) in r.codes.enumerated() {
            if i > 0 { out.append(0x2C) }
            let cat = plugins.catalogues[c.catalogue]
            let entry = cat.entry(c.value) ?? cat.rangeEntry(c.value)
            out += Array("{\"kind\":".utf8); JSON.string(cat.id, &out)
            out += Array(",\"code\":".utf8); JSON.string(cat.display(c.value), &out)
            out += Array(",\"name\":".utf8); JSON.string(entry?.name ?? "", &out)
            out += Array(",\"text\":".utf8); JSON.string(entry?.text ?? "", &out)
            out += Array(",\"failure\":\(cat.isFailure(c.value))".utf8)
            if let entry, !entry.verified { out += Array(",\"verified\":false".utf8) }
            out.append(0x7D)
        }
        out.append(0x5D)
        if let j = r.range(.job) { field(",\"job\":", j, r, &out) }
        if !r.extras.isEmpty {
            out += Array(",\"fields\":{".utf8)
            for (i, e) in r.extras.enumerated() {
                if i > 0 { out.append(0x2C) }
                JSON.string(e.name, &out); out.append(0x3A); JSON.bytes(r.bytes[e.range], &out)
            }
            out.append(0x7D)
        }
        if !r.dumpLines.isEmpty {
            out += Array(",\"dump\":[".utf8)
            for (i, d) in r.dumpLines.enumerated() {
                if i > 0 { out.append(0x2C) }
                JSON.bytes(r.bytes[d], &out)
            }
            out.append(0x5D)
        }
        out += Array("}\n".utf8)
    }

    private func field(_ key: String, _ range: Range<Int>?, _ r: Record, _ out: inout [UInt8]) {
        out += Array(key.utf8)
        if let range { JSON.bytes(r.bytes[range], &out) } else { out += Array("null".utf8) }
    }
}

/// Minimal JSON string writing.
public enum JSON {
    public static func string(_ s: String, _ out: inout [UInt8]) { bytes(ArraySlice(s.utf8), &out) }

    public static func bytes(_ b: ArraySlice<UInt8>, _ out: inout [UInt8]) {
        out.append(0x22)
        for c in b {
            switch c {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, 0x6E]
            case 0x0D: out += [0x5C, 0x72]
            case 0x09: out += [0x5C, 0x74]
            case 0..<0x20, 0x7F:
                let hex = Array("0123456789abcdef".utf8)
                out += [0x5C, 0x75, 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 15)]]
            default: out.append(c)
            }
        }
        out.append(0x22)
    }

    public static func quote(_ s: String) -> String {
        var out: [UInt8] = []
        string(s, &out)
        return String(decoding: out, as: UTF8.self)
    }
}
