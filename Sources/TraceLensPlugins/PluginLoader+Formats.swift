import TraceLensRecords

/// Reading `[[format]]` tables: templates compiled, roles and levels checked.
extension PluginLoader {
    package static func readFormat(_ node: TOMLNode, index: Int, plugin: String, file: String, _ problems: inout [PluginProblem]) -> Format? {
        guard var t = TableReader(node, file: file, entry: "[[format]] \(index + 1)") else { return nil }
        guard let name = t.string("name", &problems, required: true) else { return nil }
        let entry = "[[format]] \(name)"
        t = TableReader(node, file: file, entry: entry)!
        _ = t.string("name", &problems)
        let title = t.string("title", &problems) ?? name
        let party = t.string("party", &problems)
        var ok = true
        func compile(_ sources: [String], _ what: String) -> [Template] {
            sources.enumerated().compactMap { i, s in
                do { return try Template(s) } catch {
                    problems.append(PluginProblem(file: file, entry: "\(entry), \(what) \(i + 1)", message: (error as? TemplateError)?.description ?? "\(error)"))
                    ok = false
                    return nil
                }
            }
        }
        let records = compile(t.strings("record", &problems), "record")
        if records.isEmpty && ok { problems.append(t.problem("needs at least one 'record' template")); ok = false }
        let contexts = compile(t.strings("context", &problems), "context")
        let headers = compile(t.strings("header", &problems), "header")
        var continuations: [(Template, ContinuationRole)] = []
        var continuationKeys: [ContinuationKey?] = []
        var continuationMaxLines: [Int] = []
        for (i, c) in t.tables("continuation", &problems).enumerated() {
            guard var ct = TableReader(c, file: file, entry: "\(entry), continuation \(i + 1)") else { continue }
            let roleText = ct.string("role", &problems) ?? "text"
            guard let role = ContinuationRole(rawValue: roleText) else {
                problems.append(ct.problem("role '\(roleText)' is not one of text, fields, dump")); ok = false; continue
            }
            let keyName = ct.string("key", &problems)
            let ends = ct.bool("ends", &problems) ?? false
            let maxLines = ct.int("max-lines", &problems)
            if let maxLines, maxLines < 2 { problems.append(ct.problem("max-lines must be 2 or more (the record's first line counts)")); ok = false; continue }
            if let src = ct.string("template", &problems, required: true), let tpl = compile([src], "continuation").first {
                var key: ContinuationKey?
                if let keyName {
                    guard let slot = tpl.slot(named: keyName) else {
                        problems.append(ct.problem("key '\(keyName)' is no field of the template")); ok = false; continue
                    }
                    key = ContinuationKey(slot: slot, ends: ends)
                } else if ends {
                    problems.append(ct.problem("'ends' needs 'key' (the field naming the message the line ends)")); ok = false; continue
                }
                continuations.append((tpl, role))
                continuationKeys.append(key)
                continuationMaxLines.append(maxLines ?? Int.max)
            }
            problems += ct.unknownKeys(known: ["template", "role", "key", "ends", "max-lines"])
        }
        var levels: [String: Level] = [:]
        if case let .table(map, _)? = t.node("levels") {
            for (raw, value) in map {
                guard case let .string(name) = value, let level = Level(name: name) else {
                    problems.append(t.problem("levels: '\(raw)' must map to one of \(Level.allCases.map(\.name).joined(separator: ", "))")); continue
                }
                levels[raw] = level
            }
        }
        var idLevels: [UInt8: Level] = [:]
        if case let .table(map, _)? = t.node("id-levels") {
            for (raw, value) in map {
                guard raw.utf8.count == 1, case let .string(name) = value, let level = Level(name: name) else {
                    problems.append(t.problem("id-levels: '\(raw)' must be one letter mapped to one of \(Level.allCases.map(\.name).joined(separator: ", "))")); continue
                }
                idLevels[raw.utf8.first!] = level
            }
        }
        var dumpText: DumpText?
        if let text = t.string("dump-text", &problems) {
            dumpText = DumpText(rawValue: text)
            if dumpText == nil { problems.append(t.problem("dump-text '\(text)' is not one of ascii, ebcdic")); ok = false }
        }
        var dumpLists: [DumpList] = []
        for (i, d) in t.tables("dump-list", &problems).enumerated() {
            guard var dt = TableReader(d, file: file, entry: "\(entry), dump-list \(i + 1)") else { continue }
            let message = dt.string("message", &problems, required: true).flatMap { compile([$0], "dump-list message").first }
            let catalogue = dt.string("catalogue", &problems, required: true)
            let element = dt.int("element", &problems) ?? 0
            if element < 1 { problems.append(dt.problem("'element' must be the width of one code (1 or more characters)")); ok = false }
            problems += dt.unknownKeys(known: ["message", "catalogue", "element"])
            if let message, let catalogue, element > 0 { dumpLists.append(DumpList(message: message, catalogue: catalogue, element: element)) }
        }
        if !dumpLists.isEmpty && dumpText == nil { problems.append(t.problem("'dump-list' needs 'dump-text' (how the dump bytes are text)")); ok = false }
        var defaultLevel: Level?
        if let text = t.string("default-level", &problems) {
            defaultLevel = Level(name: text)
            if defaultLevel == nil { problems.append(t.problem("default-level '\(text)' is not one of \(Level.allCases.map(\.name).joined(separator: ", "))")); ok = false }
        }
        var printAsWritten = false
        if let text = t.string("print", &problems) {
            switch text {
            case "as-written": printAsWritten = true
            case "fields": printAsWritten = false
            default: problems.append(t.problem("print '\(text)' is not one of fields, as-written")); ok = false
            }
        }
        var wholeLineMessage = false
        if let text = t.string("message", &problems) {
            switch text {
            case "whole-line": wholeLineMessage = true
            case "field": wholeLineMessage = false
            default: problems.append(t.problem("message '\(text)' is not one of field, whole-line")); ok = false
            }
        }
        let keyedRecords = compile(t.strings("keyed-record", &problems), "keyed-record")
        if !keyedRecords.isEmpty && !continuationKeys.contains(where: { $0 != nil }) {
            problems.append(t.problem("'keyed-record' needs a continuation with a 'key'")); ok = false
        }
        let splitBefore = t.strings("split-before", &problems), splitAfter = t.strings("split-after", &problems)
        if (splitBefore + splitAfter).contains(where: \.isEmpty) { problems.append(t.problem("'split-before'/'split-after' texts must not be empty")); ok = false }
        var fileName: Template?
        if let src = t.string("file-name", &problems) { fileName = compile([src], "file-name").first }
        var render = RenderTemplate.standard
        if let src = t.string("render", &problems) {
            // The fields a record of this layout can carry: what its templates capture.
            let captured = (records + continuations.map { $0.0 } + keyedRecords + [fileName].compactMap { $0 }).flatMap(\.fieldNames)
            do {
                render = try RenderTemplate(src, fields: Set(captured.filter { !$0.isEmpty }))
            } catch {
                problems.append(t.problem("\(error)")); ok = false
            }
            if printAsWritten { problems.append(t.problem("'render' and print = \"as-written\" exclude each other: an as-written record prints its lines as read")); ok = false }
        }
        var binaryHint: BinaryHint?
        let binaryNames = compile(t.strings("binary-file-names", &problems), "binary-file-names")
        if let text = t.string("binary-hint", &problems) {
            if binaryNames.isEmpty { problems.append(t.problem("'binary-hint' needs 'binary-file-names' (the names of files it is about)")); ok = false }
            binaryHint = BinaryHint(fileNames: binaryNames, text: text)
        } else if !binaryNames.isEmpty {
            problems.append(t.problem("'binary-file-names' needs 'binary-hint' (what to tell about such a file)")); ok = false
        }
        var wireBytes: WireBytes?
        if let node = t.node("tls") {
            if var wt = TableReader(node, file: file, entry: "\(entry), tls") {
                func matches(_ key: String) -> [WireBytes.Match] {
                    wt.strings(key, &problems).compactMap { text in
                        guard let eq = text.firstIndex(of: "="), eq != text.startIndex, text.index(after: eq) != text.endIndex else {
                            problems.append(wt.problem("\(key) '\(text)' must be field=pattern (function=*write*)")); ok = false; return nil
                        }
                        return WireBytes.Match(field: String(text[..<eq]).trimmingBlanks(), pattern: String(text[text.index(after: eq)...]).trimmingBlanks())
                    }
                }
                let sent = matches("sent"), received = matches("received")
                let content = wt.string("content", &problems)
                let whole = wt.bool("whole-records", &problems) ?? false
                if sent.isEmpty && received.isEmpty { problems.append(wt.problem("needs 'sent' or 'received': which dump records hold TLS bytes")); ok = false }
                problems += wt.unknownKeys(known: ["sent", "received", "content", "whole-records"])
                wireBytes = WireBytes(sent: sent, received: received, contentField: content, wholeRecords: whole)
            } else {
                problems.append(t.problem("'tls' must be a table ([format.tls])")); ok = false
            }
        }
        var steps: [LineStep] = []
        for (i, node) in t.tables("step", &problems).enumerated() {
            guard var st = TableReader(node, file: file, entry: "\(entry), step \(i + 1)") else { continue }
            let match = st.string("match", &problems, required: true)
            let message = st.string("message", &problems, required: true)
            let direction = st.string("direction", &problems, required: true)
            let from = st.string("from", &problems, required: true)
            let catalogue = st.string("catalogue", &problems)
            problems += st.unknownKeys(known: ["match", "message", "direction", "from", "catalogue"])
            guard let match, let message, let direction, let from else { ok = false; continue }
            guard let eq = match.firstIndex(of: "="), eq != match.startIndex, match.index(after: eq) != match.endIndex else {
                problems.append(st.problem("match '\(match)' must be field=pattern (function=*send_v3_alert*)")); ok = false; continue
            }
            guard ["sent", "received"].contains(direction) else { problems.append(st.problem("direction '\(direction)' is not one of sent, received")); ok = false; continue }
            guard ["client", "server"].contains(from) else { problems.append(st.problem("from '\(from)' is not one of client, server")); ok = false; continue }
            steps.append(LineStep(match: WireBytes.Match(field: String(match[..<eq]).trimmingBlanks(), pattern: String(match[match.index(after: eq)...]).trimmingBlanks()),
                                  message: message, direction: direction, from: from, catalogue: catalogue))
        }
        problems += t.unknownKeys(known: ["name", "title", "record", "context", "header", "continuation", "levels", "id-levels", "file-name", "dump-text", "dump-list", "default-level", "print", "message", "keyed-record", "split-before", "split-after", "render", "binary-hint", "binary-file-names", "tls", "party", "step"])
        guard ok else { return nil }
        return Format(name: name, title: title, plugin: plugin, records: records, continuations: continuations,
                      contexts: contexts, headers: headers, levels: levels, fileName: fileName, idLevels: idLevels,
                      dumpText: dumpText, dumpLists: dumpLists, defaultLevel: defaultLevel, printAsWritten: printAsWritten,
                      render: render, binaryHint: binaryHint, continuationKeys: continuationKeys, continuationMaxLines: continuationMaxLines, keyedRecords: keyedRecords,
                      splitBefore: splitBefore, splitAfter: splitAfter, wholeLineMessage: wholeLineMessage, wireBytes: wireBytes, party: party, steps: steps)
    }
}
