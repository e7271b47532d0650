import Foundation
import TraceLensInput
import TraceLensRecords
import TraceLensDecode
import TraceLensPlugins
import TraceLensHandshake
import TraceLensStore
import TraceLensRender

/// `tracelens show CONN`: the connection's records from every source, in time order, rendered
/// as `format` renders them (the stored text is read again with its source's layout, so codes
/// are decoded with the plugins loaded now).
public final class ConnectionStory {
    package let queries: StoreQueries
    package var plugins: PluginSet { queries.plugins }

    public init(queries: StoreQueries) { self.queries = queries }

    public enum Problem: Error, CustomStringConvertible {
        case noSuchConnection(String)
        case noSuchSource(String)
        public var description: String {
            switch self {
            case let .noSuchConnection(id): return "no connection \(id) in the store (tracelens connections lists them)"
            case let .noSuchSource(name): return "no source '\(name)' in the store (tracelens summary lists them: give a source number, path or file name)"
            }
        }
    }

    package struct SourceInfo { var path: String; var layout: Format?; var process: String? }

    /// A story as stored: its first connection's row, its members, its records in time order.
    package struct Loaded {
        package var table: [SQLValue]
        package var id: Int64
        package var members: [(id: Int64, evidence: String?)]
        package var rows: [(source: Int64, line: Int, time: Int64?, text: [UInt8])]
        package var sources: [Int64: SourceInfo]
    }

    /// The story connection `id` is part of, read from the store.
    package func load(_ id: Int64) throws -> Loaded {
        var one = ConnectionFilter()
        one.id = id
        guard var table = try queries.connections(one).rows.first else { throw Problem.noSuchConnection(String(id)) }
        let db = queries.store.db
        // A connection that is part of another's story shows that whole story.
        var id = id
        if let story = try db.scalar("SELECT story FROM connections WHERE id = ?1", [.int(id)]), story != id {
            one.id = story
            if let row = try queries.connections(one).rows.first { table = row; id = story }
        }
        var members: [(id: Int64, evidence: String?)] = [(id, nil)]
        let m = try db.prepare("SELECT c.id, l.evidence FROM connections c LEFT JOIN links l ON l.conn = c.id WHERE c.story = ?1 ORDER BY c.start_time, c.id")
        try m.bind([.int(id)])
        while try m.step() { members.append((m.int64(0), m.string(1))) }
        let (sources, offsets) = try sourceInfos()
        let q = try db.prepare("SELECT source, line, time, text FROM records WHERE conn = ?1")
        var rows: [(source: Int64, line: Int, time: Int64?, text: [UInt8])] = []
        for member in members {
            try q.bind([.int(member.id)])
            while try q.step() { rows.append((q.int64(0), q.int(1), q.isNull(2) ? nil : q.int64(2), q.bytes(3))) }
        }
        // One time line: each source's times moved by its clock offset. Records without a time
        // keep their place after the record before them in their own source.
        func key(_ r: (source: Int64, line: Int, time: Int64?, text: [UInt8])) -> Int64 { (r.time ?? .min) + (r.time == nil ? 0 : offsets[r.source] ?? 0) }
        rows.sort { (key($0), $0.source, $0.line) < (key($1), $1.source, $1.line) }
        return Loaded(table: table, id: id, members: members, rows: rows, sources: sources)
    }

    /// The records of a loaded story, read again, annotated and decoded, with their source.
    package func records(_ story: Loaded, limit: Int = .max) throws -> [(record: Record, source: SourceInfo)] {
        let annotations = try storedAnnotations(story.members.map(\.id))
        let finder = RecordStream.decoding(plugins).finder
        var scratch = Captures()
        var out: [(Record, SourceInfo)] = []
        for row in story.rows.prefix(limit) {
            let info = story.sources[row.source] ?? SourceInfo(path: "?", layout: nil, process: nil)
            guard let record = restored(row.text, source: row.source, line: row.line, time: row.time, layout: info.layout,
                                        annotations: annotations, finder: finder, scratch: &scratch) else { continue }
            out.append((record, info))
        }
        return out
    }

    /// A stored record as `format` read it: its text read again with its source's layout, its
    /// TLS lines from the store, its time from the store where the text gives no date (a
    /// component trace's date line is not a record), its codes decoded with today's plugins.
    private func restored(_ text: [UInt8], source: Int64, line: Int, time: Int64?, layout: Format?, annotations: [[Int64]: [Annotation]],
                          finder: CodeFinder, scratch: inout Captures) -> Record? {
        guard var record = reparse(text, layout: layout, source: Int(source), line: line) else { return nil }
        record.annotations = annotations[[source, Int64(line)]] ?? []
        if let stored = time, record.time?.hasDate != true {
            record.time = Timestamp(micros: stored, fractionDigits: record.time?.fractionDigits ?? 0, hasDate: stored >= 86_400_000_000)
        }
        finder.decode(&record, layout: record.layout, captures: &scratch)
        // An alert read from the bytes was a code of its record (`HandshakeDecoder`): so again.
        for field in record.annotations.flatMap(\.fields) where field.name == "alert" {
            guard let c = field.catalogue.flatMap(plugins.catalogueIndex) else { continue }
            for text in field.values {
                if let value = plugins.catalogues[c].value(fromCatalogueText: text), !record.codes.contains(where: { $0.catalogue == c && $0.value == value }) {
                    record.codes.append(FoundCode(catalogue: c, value: value, end: -1))
                }
            }
        }
        return record
    }

    /// The stored sources `selectors` name (a number, the path as stored, or its file name),
    /// in store order; all of them when there is none.
    public func storedSources(_ selectors: [String]) throws -> [(id: Int64, path: String, process: String?)] {
        let all = try queries.store.db.prepare("SELECT id, path, process FROM sources ORDER BY id").rows().compactMap { row -> (id: Int64, path: String, process: String?)? in
            guard case let .int(id) = row[0], case let .text(path) = row[1] else { return nil }
            if case let .text(process) = row[2] { return (id, path, process) }
            return (id, path, nil)
        }
        if selectors.isEmpty { return all }
        var chosen: [Int64] = []
        for s in selectors {
            let matches = all.filter { String($0.id) == s || $0.path == s || StoreQueries.fileName($0.path) == s }
            guard !matches.isEmpty else { throw Problem.noSuchSource(s) }
            chosen += matches.map(\.id)
        }
        return all.filter { chosen.contains($0.id) }
    }

    /// `format --db`: every stored record of a source, in order, as `restored` makes it.
    package func sourceRecords(_ source: Int64, _ body: (inout Record) throws -> Void) throws {
        let info = try sourceInfos().info[source] ?? SourceInfo(path: "?", layout: nil, process: nil)
        let annotations = try storedAnnotations(where: "source = \(source)")
        let finder = RecordStream.decoding(plugins).finder
        var scratch = Captures()
        let q = try queries.store.db.prepare("SELECT line, time, text FROM records WHERE source = ?1 ORDER BY id")
        try q.bind([.int(source)])
        while try q.step() {
            guard var record = restored(q.bytes(2), source: source, line: q.int(0), time: q.isNull(1) ? nil : q.int64(1), layout: info.layout,
                                        annotations: annotations, finder: finder, scratch: &scratch) else { continue }
            try body(&record)
        }
    }

    /// A loaded story's records as `show` prints them (no colour), at most `limit` of them.
    package func recordLines(_ story: Loaded, limit: Int) throws -> [(file: String, line: Int, text: String)] {
        var text = TextRenderer(plugins: plugins, colour: false)
        return try records(story, limit: limit).map { r, info in
            (StoreQueries.fileName(info.path), r.line, String(decoding: text.render(r), as: UTF8.self))
        }
    }

    /// The ladder of the story connection `id` is part of.
    public func ladder(_ id: Int64) throws -> Ladder {
        try ladder(load(id))
    }

    package func ladder(_ story: Loaded) throws -> Ladder {
        let formats = plugins.formats
        let inputs = try records(story).map { r, info in
            var r = r
            let layout = r.layout ?? info.layout
            if r.annotations.isEmpty, let layout { r.annotations = lineSteps(r, layout) }
            return Ladder.Input(record: r, party: layout.map { $0.party ?? $0.name } ?? StoreQueries.fileName(info.path), file: StoreQueries.fileName(info.path),
                                rank: layout.flatMap { l in formats.firstIndex { $0 === l } } ?? formats.count)
        }
        return Ladder.build(inputs, plugins: plugins)
    }

    /// The TLS messages a record's line tells of (`[[format.step]]`), as the annotations of
    /// dumped ones, so the ladder draws both alike.
    package func lineSteps(_ r: Record, _ layout: Format) -> [Annotation] {
        guard !r.isUnparsed, let step = layout.steps.first(where: { s in WireBytes.value(s.match.field, of: r).map(s.match.matches) ?? false }) else { return [] }
        var fields: [Annotation.Field] = [.init("message", [step.message]), .init("direction", [step.direction]), .init("from", [step.from])]
        var text = step.message
        if let id = step.catalogue {
            // The message is told by the line naming its code (an alert's entry line names none).
            guard let code = r.codes.first(where: { plugins.catalogues[$0.catalogue].id == id }) else { return [] }
            let catalogue = plugins.catalogues[code.catalogue]
            let entry = catalogue.entry(code.value)
            fields.append(.init(id, [entry?.code ?? catalogue.display(code.value)]))
            if let name = entry?.name, !name.isEmpty { text += " " + name }
        }
        return [Annotation(kind: "tls", text: text, fields: fields)]
    }

    /// Writes the story of connection `id` to `output`; with `ladder`, its ladder first (text
    /// only), and with `ladderOnly` nothing else.
    public func show(_ id: Int64, style: OutputStyle, colour: Bool, output: Output, ladder drawLadder: Bool = true, ladderOnly: Bool = false, width: Int = 80) throws {
        let story = try load(id)
        let (table, members, rows, sources) = (story.table, story.members, story.rows, story.sources)
        var ladderText: String?
        if style == .text && (drawLadder || ladderOnly) {
            let text = try ladder(story).text(width: width, colour: colour)
            if ladderOnly {
                output.buffer.append(text)
                output.flush()
                return
            }
            if !text.isEmpty { ladderText = text + "\n" }
        }
        let manySources = Set(rows.map(\.source)).count > 1
        let stream = RecordStream.decoding(plugins)
        var text = TextRenderer(plugins: plugins, colour: colour)
        let json = JSONRenderer(plugins: plugins)
        var scratch = Captures()
        let out = output.buffer

        switch style {
        case .text:
            out.append(header(StoreQueries.connectionColumns, table))
            if members.count > 1 {
                out.append("  linked:\n")
                for member in members.dropFirst() {
                    let row = try linkedSummary(member.id)
                    out.append("    \(row)" + (member.evidence.map { " (\(TerminalText.visible($0)))" } ?? "") + "\n")
                }
                out.append("\n")
            }
            if let ladderText { out.append(ladderText) }
        case .json:
            out.append("{\"connection\":")
            out.append(String(TableWriter.json(ResultTable(columns: StoreQueries.connectionColumns, rows: [table])).dropFirst().dropLast()))
            out.append(",\"records\":[")
        case .csv:
            out.append("source,line,time,level,thread,function,message\r\n")
        }

        let annotations = try storedAnnotations(members.map(\.id))
        var first = true
        for row in rows {
            let info = sources[row.source] ?? SourceInfo(path: "?", layout: nil, process: nil)
            guard var record = reparse(row.text, layout: info.layout, source: Int(row.source), line: row.line) else { continue }
            record.annotations = annotations[[row.source, Int64(row.line)]] ?? []
            if let stored = row.time, record.time?.hasDate != true {
                record.time = Timestamp(micros: stored, fractionDigits: record.time?.fractionDigits ?? 0, hasDate: stored >= 86_400_000_000)
            }
            stream.finder.decode(&record, layout: record.layout, captures: &scratch)
            switch style {
            case .text:
                if manySources { out.append("[\(TerminalText.visible(StoreQueries.fileName(info.path))):\(row.line)] ") }
                text.render(record, into: out)
            case .json:
                if !first { out.append(",") }
                let summary = SourceSummary(path: info.path, detected: DetectedText(encoding: .ascii, gzip: false, lineEnd: "LF"), format: info.layout?.name, process: info.process)
                let before = out.count
                json.render(record, source: summary, into: out)
                if out.count > before { out.removeLast() }  // the renderer ends each object with a newline
            case .csv:
                var line = ""
                let values: [SQLValue] = [.text(info.path), .int(Int64(row.line)), record.time.map { .text($0.string(iso: true)) } ?? .null,
                                          .text(record.isUnparsed ? "" : record.levelName), record.field(.thread).map(SQLValue.text) ?? .null,
                                          record.field(.function).map(SQLValue.text) ?? .null, .text(record.message)]
                TableWriter.csv(ResultTable(columns: [], rows: [values]), into: &line)
                // Without the (empty) header line; "\r\n" is one Character, so look for it as such.
                if let end = line.firstIndex(where: \.isNewline) { out.append(String(line[line.index(after: end)...])) }
            }
            first = false
            output.maybeFlush()
        }
        if style == .json { out.append("]}\n") }
        output.flush()
    }

    /// Every source's path, layout (the first of a mixed file's) and process, and its clock offset.
    package func sourceInfos() throws -> (info: [Int64: SourceInfo], offsets: [Int64: Int64]) {
        var sources: [Int64: SourceInfo] = [:]
        var offsets: [Int64: Int64] = [:]
        let s = try queries.store.db.prepare("SELECT id, path, layout, process, clock_offset FROM sources")
        while try s.step() {
            sources[s.int64(0)] = SourceInfo(path: s.string(1) ?? "", layout: s.string(2).flatMap { plugins.format(named: String($0.split(separator: "+").first ?? "")) }, process: s.string(3))
            offsets[s.int64(0)] = s.int64(4)
        }
        return (sources, offsets)
    }

    /// The TLS messages stored for these connections' records, by (source, line): read when the
    /// records went in, in the order of the bytes (a store older than them has none).
    package func storedAnnotations(_ conns: [Int64]) throws -> [[Int64]: [Annotation]] {
        conns.isEmpty ? [:] : try storedAnnotations(where: "conn IN (\(conns.map(String.init).joined(separator: ",")))")
    }

    /// The TLS messages of `tls_messages` rows matching `condition` (numbers only, never user text).
    private func storedAnnotations(where condition: String) throws -> [[Int64]: [Annotation]] {
        let db = queries.store.db
        guard try db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'tls_messages'") == 1 else { return [:] }
        var byID: [Int64: (key: [Int64], annotation: Annotation)] = [:]
        var versions: [Int64: String] = [:]
        var order: [Int64] = []
        let m = try db.prepare("SELECT id, source, line, direction, message, version, text FROM tls_messages WHERE \(condition) ORDER BY id")
        while try m.step() {
            let fields: [Annotation.Field] = [.init("message", [m.string(4) ?? ""]), .init("direction", [m.string(3) ?? ""])]
            byID[m.int64(0)] = ([m.int64(1), m.int64(2)], Annotation(kind: "tls", text: m.string(6) ?? "", fields: fields))
            if let v = m.string(5) { versions[m.int64(0)] = v }
            order.append(m.int64(0))
        }
        let v = try db.prepare("SELECT v.message, v.field, v.value, v.catalogue FROM tls_values v JOIN tls_messages m ON m.id = v.message WHERE m.\(condition) ORDER BY v.rowid")
        while try v.step() {
            guard var entry = byID[v.int64(0)] else { continue }
            let name = v.string(1) ?? "", value = v.string(2) ?? ""
            if let i = entry.annotation.fields.firstIndex(where: { $0.name == name }) {
                entry.annotation.fields[i].values.append(value)
            } else {
                entry.annotation.fields.append(.init(name, [value], catalogue: v.string(3)))
            }
            byID[v.int64(0)] = entry
        }
        var out: [[Int64]: [Annotation]] = [:]
        for id in order {
            guard var e = byID[id] else { continue }
            // The version goes where the decoder put it: after who sent the message.
            if let v = versions[id] {
                let at = e.annotation.fields.firstIndex { $0.name == "from" }.map { $0 + 1 } ?? min(2, e.annotation.fields.count)
                e.annotation.fields.insert(.init("version", [v]), at: at)
            }
            out[e.key, default: []].append(e.annotation)
        }
        return out
    }

    /// One line about a linked connection: `12 gldsrv.joblog line 9: failed, SSL 431: ...`.
    package func linkedSummary(_ id: Int64) throws -> String {
        var one = ConnectionFilter()
        one.id = id
        guard let row = try queries.connections(one).rows.first else { return String(id) }
        let columns = StoreQueries.connectionColumns
        func v(_ name: String) -> String { columns.firstIndex(of: name).map { TableWriter.display(row[$0]) } ?? "" }
        let line = try queries.store.db.scalar("SELECT first_line FROM connections WHERE id = ?1", [.int(id)]) ?? 0
        var s = "\(id) \(v("file")) line \(line): \(v("outcome"))"
        if !v("error").isEmpty { s += ", " + v("error") }
        return s
    }

    /// The lines above the records: who, when, and how it ended.
    package func header(_ columns: [String], _ row: [SQLValue]) -> String {
        func v(_ name: String) -> String { columns.firstIndex(of: name).map { TableWriter.display(row[$0]) } ?? "" }
        var s = "Connection \(v("conn")): \(v("outcome"))"
        if !v("error").isEmpty { s += ": " + v("error") }
        s += "\n  peer \(v("peer").isEmpty ? "unknown" : v("peer")), thread \(v("thread")) of \(v("file")), \(v("start")) to \(v("end")), \(v("records")) records\n"
        let tls = [v("protocol"), v("cipher")].filter { !$0.isEmpty }
        if !tls.isEmpty { s += "  " + tls.joined(separator: ", ") + "\n" }
        if !v("subject").isEmpty { s += "  peer certificate \(v("subject"))" + (v("issuer").isEmpty ? "" : ", issued by \(v("issuer"))") + "\n" }
        return s + "\n"
    }

    /// A stored record read again with its layout.
    /// A record of a mixed file may be of another layout than the source's first one: a story
    /// holds only records a layout read, so the other layouts are tried when the first fails.
    package func reparse(_ text: [UInt8], layout: Format?, source: Int, line: Int) -> Record? {
        let record = RecordReader.records(in: text, format: layout, source: source, firstLine: line).first
        guard record?.isUnparsed == true else { return record }
        for other in plugins.formats where other !== layout {
            if let r = RecordReader.records(in: text, format: other, source: source, firstLine: line).first, !r.isUnparsed { return r }
        }
        return record
    }
}
