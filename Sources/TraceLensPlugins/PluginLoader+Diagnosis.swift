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
        problems += t.unknownKeys(known: ["id", "title", "when", "facts", "unless", "fallback", "from", "cause", "action", "action-with-env", "doc", "order", "sample-layout", "bad", "good"])
        guard !when.isEmpty, let title, let cause, let action, let doc, let layout, let bad, let good else { return nil }
        var rule = DiagnosisRule(id: id, plugin: plugin, title: title, when: when, facts: facts, cause: cause, action: action, actionWithEnv: actionWithEnv,
                                 doc: doc, order: order, sampleLayout: layout, bad: bad, good: good)
        rule.unless = unless
        rule.fallback = fallback
        rule.from = from
        return rule
    }
}
