import TraceLensRecords

/// Reading `[[connection]]` tables: where connections start, end and fail in a layout, and what
/// is captured about them.
extension PluginLoader {
    package static func readConnectionRule(_ node: TOMLNode, index: Int, plugin: String, file: String, _ problems: inout [PluginProblem]) -> ConnectionRule? {
        guard var t = TableReader(node, file: file, entry: "[[connection]] \(index + 1)") else { return nil }
        let name = t.string("name", &problems) ?? "connection \(index + 1)"
        let entry = "[[connection]] \(name)"
        t = TableReader(node, file: file, entry: entry)!
        _ = t.string("name", &problems)
        var ok = true
        func selectors(_ key: String) -> [ConnectionRule.RecordSelector] {
            t.strings(key, &problems).compactMap { text in
                switch ConnectionRule.RecordSelector.parse(text) {
                case let .success(s): return s
                case let .failure(p):
                    problems.append(t.problem("\(key) '\(text)': \(p.why)"))
                    ok = false
                    return nil
                }
            }
        }
        let formats = t.strings("formats", &problems)
        if formats.isEmpty { problems.append(t.problem("'formats' is required: the layouts this rule reads")); ok = false }
        var lane: [StandardField] = []
        for f in t.strings("lane", &problems) {
            guard let field = StandardField(name: f) else {
                problems.append(t.problem("lane field '\(f)' is not one of \(StandardField.allCases.map(\.name).joined(separator: ", "))")); ok = false; continue
            }
            lane.append(field)
        }
        // No 'lane' key: process and thread. 'lane = []': records have no lane.
        if t.node("lane") == nil { lane = [.process, .thread] }
        let starts = selectors("start")
        if starts.isEmpty { problems.append(t.problem("'start' is required: the records a connection starts at")); ok = false }
        let ends = selectors("end")
        let outcomes = selectors("outcome")
        let startsIfNone = selectors("start-if-none")
        let failureEnds = t.bool("failure-ends", &problems) ?? true
        let keys = t.strings("keys", &problems)
        var captures: [ConnectionRule.Capture] = []
        for (i, c) in t.tables("capture", &problems).enumerated() {
            guard var ct = TableReader(c, file: file, entry: "\(entry), capture \(i + 1)") else { continue }
            defer { problems += ct.unknownKeys(known: ["on", "message", "role", "code", "field", "values", "ignore-case"]) }
            guard let on = ct.string("on", &problems, required: true) else { ok = false; continue }
            let selector: ConnectionRule.RecordSelector
            switch ConnectionRule.RecordSelector.parse(on) {
            case let .success(s): selector = s
            case let .failure(p): problems.append(ct.problem("on '\(on)': \(p.why)")); ok = false; continue
            }
            let roleText = ct.string("role", &problems) ?? "describe"
            guard let role = ConnectionRule.CaptureRole(rawValue: roleText) else {
                problems.append(ct.problem("role '\(roleText)' is not one of describe, route, identify")); ok = false; continue
            }
            if let code = ct.string("code", &problems) {
                guard let field = ct.string("field", &problems, required: true) else { ok = false; continue }
                captures.append(.init(selector: selector, messages: [], role: role, codeCatalogue: code, codeField: field))
                continue
            }
            var templates: [Template] = []
            let ignoreCase = ct.bool("ignore-case", &problems) ?? false
            let hasValues = ct.node("values") != nil
            for src in ct.strings("message", &problems) {
                do {
                    let tpl = try Template(src, caseInsensitive: ignoreCase)
                    let named = tpl.fieldNames.filter { !$0.isEmpty }
                    if named.isEmpty && !hasValues { problems.append(ct.problem("message '\(src)' captures no field (and the capture gives no 'values')")); ok = false }
                    if role != .describe, let bad = named.first(where: { !keys.contains($0) }) {
                        problems.append(ct.problem("a \(role.rawValue) capture may only capture keys; '\(bad)' is not in keys \(keys)")); ok = false
                    }
                    templates.append(tpl)
                } catch {
                    problems.append(ct.problem(error.description)); ok = false
                }
            }
            if templates.isEmpty { problems.append(ct.problem("'message' (or 'code' with 'field') is required")); ok = false; continue }
            // values = { server_port = "636" }: fields a matching template implies (a URL's
            // default port), set when no capture gave them.
            var values: [(name: String, value: String)] = []
            if let node = ct.node("values") {
                guard case let .table(map, _) = node, role == .describe else {
                    problems.append(ct.problem("'values' must be a table of field = \"value\" on a describe capture")); ok = false; continue
                }
                for (field, value) in map.sorted(by: { $0.key < $1.key }) {
                    guard case let .string(text) = value else { problems.append(ct.problem("values.\(field) must be a string")); ok = false; continue }
                    values.append((field, text))
                }
            }
            captures.append(.init(selector: selector, messages: templates, role: role, values: values))
        }
        var decode: [String: String] = [:]
        if let node = t.node("decode") {
            guard case let .table(map, _) = node else {
                problems.append(t.problem("'decode' must be a table of field = \"catalogue\"")); return nil
            }
            for (field, value) in map {
                guard case let .string(catalogue) = value else { problems.append(t.problem("decode.\(field) must name a catalogue")); ok = false; continue }
                decode[field] = catalogue
            }
        }
        let consequences = t.strings("consequences", &problems)
        problems += t.unknownKeys(known: ["name", "formats", "lane", "start", "start-if-none", "end", "outcome", "failure-ends", "keys", "capture", "decode", "consequences"])
        guard ok else { return nil }
        return ConnectionRule(name: name, plugin: plugin, formats: formats, lane: lane, starts: starts, ends: ends,
                              outcomes: outcomes, captures: captures, keys: keys, decode: decode, consequences: consequences,
                              startsIfNone: startsIfNone, failureEnds: failureEnds)
    }
}
