import TraceLensRecords
import TraceLensDecode

/// Reading `[[diagnosis]]`: what `doctor` says about failed connections.
extension PluginLoader {
    package static func readDiagnosisRule(_ node: TOMLNode, index: Int, plugin: String, file: String, _ problems: inout [PluginProblem]) -> DiagnosisRule? {
        guard var t = TableReader(node, file: file, entry: "[[diagnosis]] \(index + 1)") else { return nil }
        let id = t.string("id", &problems, required: true) ?? "diagnosis \(index + 1)"
        t = TableReader(node, file: file, entry: "[[diagnosis]] \(id)")!
        _ = t.string("id", &problems)
        let title = t.string("title", &problems, required: true)
        var when: [CodeRef] = []
        for text in t.strings("when", &problems) {
            if let ref = CodeRef(Substring(text)) { when.append(ref) } else { problems.append(t.problem("when '\(text)' must be catalogue:code, such as catalogue:1A2B")) }
        }
        if when.isEmpty { problems.append(t.problem("'when' is required: the codes that make this rule apply")) }
        var facts: [Template] = []
        for text in t.strings("facts", &problems) {
            do { facts.append(try Template(text)) } catch { problems.append(t.problem("facts: \(error)")) }
        }
        var unless: [Template] = []
        for text in t.strings("unless", &problems) {
            do { unless.append(try Template(text)) } catch { problems.append(t.problem("unless: \(error)")) }
        }
        var sourceFacts: [Template] = []
        for text in t.strings("source-facts", &problems) {
            do { sourceFacts.append(try Template(text)) } catch { problems.append(t.problem("source-facts: \(error)")) }
        }
        var compares: [DiagnosisRule.Compare] = []
        for (i, node) in t.tables("compare", &problems).enumerated() {
            guard var ct = TableReader(node, file: file, entry: "[[diagnosis]] \(id), compare \(i + 1)") else {
                problems.append(t.problem("compare \(i + 1) must be a table")); continue
            }
            let name = ct.string("name", &problems, required: true)
            let offered = ct.string("offered", &problems, required: true)?.split(separator: " ").map(String.init) ?? []
            let allowed = ct.strings("allowed", &problems)
            var switches: [(code: String, fields: [String])] = []
            for text in ct.strings("switches", &problems) {
                let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                    problems.append(ct.problem("switches '\(text)' must be CODE=field,field (0304=env.GSK_PROTOCOL_TLSV1_3,protocol_tls13)")); continue
                }
                switches.append((parts[0], parts[1].split(separator: ",").map { String($0).trimmingBlanks() }))
            }
            let fromMessage = allowed.contains { $0.hasPrefix("tls.") }
            let list = switches.isEmpty && !fromMessage ? ct.string("list", &problems, required: true) : ct.string("list", &problems) ?? ""
            problems += ct.unknownKeys(known: ["name", "offered", "allowed", "list", "switches"])
            guard let name, let list, (2...3).contains(offered.count), !allowed.isEmpty || !switches.isEmpty else {
                if !(2...3).contains(offered.count) { problems.append(ct.problem("offered must be 'Message field [fallback-field]' (ClientHello cipher)")) }
                if allowed.isEmpty && switches.isEmpty { problems.append(ct.problem("'allowed' or 'switches' is required: where the other side's list comes from")) }
                continue
            }
            var compare = DiagnosisRule.Compare(name: name, message: offered[0], field: offered[1], allowed: allowed, list: list)
            compare.fallbackField = offered.count == 3 ? offered[2] : nil
            compare.switches = switches
            compares.append(compare)
        }
        let replaces = t.strings("replaces", &problems)
        let fallback = t.bool("fallback", &problems) ?? false
        let from = t.strings("from", &problems)
        let cause = t.string("cause", &problems, required: true)
        let action = t.string("action", &problems, required: true)
        let actionWithEnv = t.string("action-with-env", &problems)
        let doc = t.string("doc", &problems, required: true)
        let order = t.int("order", &problems) ?? 100
        let layout = t.string("sample-layout", &problems, required: true)
        let bad = t.string("bad", &problems, required: true)
        let good = t.string("good", &problems, required: true)
        problems += t.unknownKeys(known: ["id", "title", "when", "facts", "unless", "fallback", "from", "cause", "action", "action-with-env", "doc", "order", "sample-layout", "bad", "good", "source-facts", "compare", "replaces"])
        guard !when.isEmpty, let title, let cause, let action, let doc, let layout, let bad, let good else { return nil }
        var rule = DiagnosisRule(id: id, plugin: plugin, title: title, when: when, facts: facts, cause: cause, action: action, actionWithEnv: actionWithEnv,
                                 doc: doc, order: order, sampleLayout: layout, bad: bad, good: good)
        rule.unless = unless
        rule.fallback = fallback
        rule.from = from
        rule.sourceFacts = sourceFacts
        rule.compares = compares
        rule.replaces = replaces
        return rule
    }
}
