import TraceLensRecords
import TraceLensDecode

/// Reading `[[catalogue]]` tables and their TSV files; later plugins extend or override rows.
extension PluginLoader {
    package static func readCatalogue(_ node: TOMLNode, index: Int, source: PluginSource, file: String, into set: inout PluginSet.Builder, info: inout PluginInfo, _ problems: inout [PluginProblem]) -> String? {
        guard var t = TableReader(node, file: file, entry: "[[catalogue]] \(index + 1)") else { return nil }
        guard let id = t.string("id", &problems, required: true) else { return nil }
        let entry = "[[catalogue]] \(id)"
        t = TableReader(node, file: file, entry: entry)!
        _ = t.string("id", &problems)
        let existing = set.catalogue(id)
        let title = t.string("title", &problems) ?? existing?.title ?? id
        let radixText = t.string("radix", &problems)
        var radix = existing?.radix ?? .decimal
        switch radixText {
        case nil: break
        case "decimal"?: radix = .decimal
        case "hex"?: radix = .hex
        case "text"?: radix = .text
        case let other?: problems.append(t.problem("radix '\(other)' is not one of decimal, hex, text"))
        }
        let digits = t.int("digits", &problems) ?? existing?.digits ?? 0
        let label = t.string("label", &problems) ?? existing?.label ?? "\(id) {code}: {text}"
        let failureText = t.string("failure", &problems)
        var failure = existing?.failure ?? .nonzero
        if let failureText {
            if let f = FailurePolicy(rawValue: failureText) { failure = f } else { problems.append(t.problem("failure '\(failureText)' is not one of nonzero, all, none, error-ids")) }
        }
        let words = t.strings("words", &problems).map { $0.lowercased() }
        var accepts: [Template] = []
        for (i, src) in t.strings("accept", &problems).enumerated() {
            do {
                let tpl = try Template(src, caseInsensitive: true)
                if tpl.slot(named: "code") == nil {
                    problems.append(PluginProblem(file: file, entry: "\(entry), accept \(i + 1)", message: "needs a {code} field"))
                } else {
                    accepts.append(tpl)
                }
            } catch {
                problems.append(PluginProblem(file: file, entry: "\(entry), accept \(i + 1)", message: error.description))
            }
        }
        let files = t.strings("file", &problems)
        let flags = t.bool("flags", &problems)
        let byPrefix = t.bool("prefix", &problems)
        let rank = t.int("rank", &problems)
        let bare = t.bool("bare", &problems)
        var kind = existing?.kind ?? .code
        if let kindText = t.string("kind", &problems) {
            if let k = CatalogueKind(rawValue: kindText) { kind = k } else { problems.append(t.problem("kind '\(kindText)' is not one of code, message")) }
        }
        problems += t.unknownKeys(known: ["id", "title", "radix", "digits", "label", "failure", "words", "accept", "file", "flags", "prefix", "rank", "bare", "kind"])
        if kind == .message && radix != .text { problems.append(t.problem("'kind = \"message\"' needs radix = \"text\": rows are message ids")) }
        if byPrefix == true && radix != .text { problems.append(t.problem("'prefix = true' needs radix = \"text\": rows are the starts of message ids")) }

        var rows = Catalogue.Rows(radix: radix)
        if let existing {
            for e in existing.entries.values { rows.add(e) }
            for r in existing.ranges { rows.addRange(low: r.low, high: r.high, entry: r.entry) }
        }
        var replaced = 0
        for name in files {
            guard let text = source.files[name] else {
                problems.append(PluginProblem(file: file, entry: entry, message: "catalogue file '\(name)' is not in the plugin folder"))
                continue
            }
            replaced += readTSV(text, file: source.displayPath(name), into: &rows, hadExisting: existing != nil, &problems)
        }
        let catalogue = Catalogue(id: id, title: title, plugin: info.name, radix: radix, digits: digits, label: label, failure: failure,
                                  words: words.isEmpty ? (existing?.words ?? [id]) : words,
                                  accepts: accepts.isEmpty ? (existing?.accepts ?? []) : accepts,
                                  flags: flags ?? existing?.flags ?? false, byPrefix: byPrefix ?? existing?.byPrefix ?? false,
                                  rank: rank ?? existing?.rank ?? 0, bare: bare ?? existing?.bare ?? true, kind: kind, rows: rows)
        if let old = set.catalogueIndex[id] {
            set.catalogues[old] = catalogue
            info.overrides.append("catalogue \(id)" + (replaced > 0 ? ": \(replaced) rows replaced" : ""))
        } else {
            set.catalogueIndex[id] = set.catalogues.count
            set.catalogues.append(catalogue)
        }
        return id
    }

    package static let coreColumns = ["code", "name", "text", "explanation", "action", "verified", "related", "source"]

    /// Reads a catalogue TSV. Returns how many rows replaced rows of an earlier plugin.
    package static func readTSV(_ text: String, file: String, into rows: inout Catalogue.Rows, hadExisting: Bool, _ problems: inout [PluginProblem]) -> Int {
        var header: [String]?
        var replaced = 0
        var seen: Set<CodeValue> = []
        // Bytes, split by hand: every command loads some 3,000 rows before it starts, and
        // splitting Strings into Substrings took half of that start (docs/architecture.md).
        let bytes = Array(text.utf8)
        var lineStart = 0
        var lineNo = 0
        var fields: [String] = []
        // Where each core column is in the header (nil when it has none).
        var column: [String: Int] = [:]
        while lineStart < bytes.count {
            let lineEnd = bytes[lineStart...].firstIndex(of: 0x0A) ?? bytes.count
            defer { lineStart = lineEnd + 1 }
            lineNo += 1
            var end = lineEnd
            if end > lineStart && bytes[end - 1] == 0x0D { end -= 1 }
            if end == lineStart || bytes[lineStart] == 0x23 { continue }  // blank, or a # comment
            fields.removeAll(keepingCapacity: true)
            var fieldStart = lineStart
            while true {
                let fieldEnd = bytes[fieldStart..<end].firstIndex(of: 0x09) ?? end
                fields.append(String(decoding: bytes[fieldStart..<fieldEnd], as: UTF8.self).trimmingBlanks())
                if fieldEnd == end { break }
                fieldStart = fieldEnd + 1
            }
            guard let columns = header else {
                let names = fields.map { $0.lowercased() }
                header = names
                for (i, name) in names.enumerated() { column[name] = i }  // a repeated column: the last one counts, as before
                if column["code"] == nil {
                    problems.append(PluginProblem(file: "\(file):\(lineNo)", entry: "header", message: "needs a 'code' column (columns: \(coreColumns.joined(separator: ", ")), then any extra)"))
                    return replaced
                }
                continue
            }
            guard fields.count == columns.count else {
                problems.append(PluginProblem(file: "\(file):\(lineNo)", entry: "row", message: "has \(fields.count) fields, the header has \(columns.count)"))
                continue
            }
            func field(_ name: String) -> String? { column[name].map { fields[$0] } }
            var details: [(String, String)] = []
            for (c, v) in zip(columns, fields) where !v.isEmpty && c != "bare" && !coreColumns.contains(c) { details.append((c, v)) }
            let code = field("code") ?? ""
            let verifiedText = (field("verified") ?? "yes").lowercased()
            let source = field("source") ?? ""
            var verified = ["yes", "true", "verified", "y"].contains(verifiedText)
            // A row that says it was checked must say against what; without that it is shown as unverified.
            if verified && field("verified") != nil && source.isEmpty {
                problems.append(PluginProblem(file: "\(file):\(lineNo)", entry: "code \(code)",
                                              message: "verified=yes needs a source (what the row was checked against); shown as unverified", isWarning: true))
                verified = false
            }
            var related: [CodeRef] = []
            for word in (field("related") ?? "").split(separator: " ") {
                if let ref = CodeRef(word) { related.append(ref) } else {
                    problems.append(PluginProblem(file: "\(file):\(lineNo)", entry: "code \(code)", message: "related '\(word)' is not written kind:code"))
                }
            }
            func makeEntry(_ value: CodeValue) -> CatalogueEntry {
                CatalogueEntry(value: value, code: code, name: field("name") ?? "", text: field("text") ?? "", explanation: field("explanation") ?? "",
                               action: field("action") ?? "", verified: verified,
                               related: related, source: source, details: details, origin: "\(file):\(lineNo)",
                               bare: !["no", "false", "n"].contains((field("bare") ?? "").lowercased()))
            }
            // A range row: 03353001-03353FFF
            if rows.radix != .text, let dash = code.firstIndex(of: "-"), dash != code.startIndex,
               case let .number(low)? = Catalogue.value(fromCatalogueText: String(code[..<dash]), radix: rows.radix),
               case let .number(high)? = Catalogue.value(fromCatalogueText: String(code[code.index(after: dash)...]), radix: rows.radix) {
                rows.addRange(low: low, high: high, entry: makeEntry(.number(low)))
                continue
            }
            guard let value = Catalogue.value(fromCatalogueText: code, radix: rows.radix) else {
                problems.append(PluginProblem(file: "\(file):\(lineNo)", entry: "code '\(code)'", message: "is not a \(rows.radix) code"))
                continue
            }
            if !seen.insert(value).inserted {
                problems.append(PluginProblem(file: "\(file):\(lineNo)", entry: "code \(code)", message: "appears twice in this file"))
                continue
            }
            if hadExisting && rows.entries[value] != nil { replaced += 1 }
            rows.add(makeEntry(value))
        }
        if header == nil { problems.append(PluginProblem(file: file, entry: "", message: "is empty: a catalogue needs a header line and rows")) }
        return replaced
    }
}
