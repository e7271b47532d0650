/// Reading `[[config]]` (a kind of configuration file) and `[[lint]]` (a check of one).
extension PluginLoader {
    package static func readConfigKind(_ node: TOMLNode, index: Int, plugin: String, file: String, _ problems: inout [PluginProblem]) -> ConfigKind? {
        guard var t = TableReader(node, file: file, entry: "[[config]] \(index + 1)") else { return nil }
        let name = t.string("name", &problems, required: true)
        let title = t.string("title", &problems) ?? name ?? ""
        let syntaxName = t.string("syntax", &problems, required: true)
        let keywords = t.string("keywords", &problems, required: true)
        let prefixes = t.strings("checked-prefixes", &problems)
        let caseSensitive = t.bool("case-sensitive", &problems) ?? false
        let repeatable = t.strings("repeatable", &problems)
        let sectionStart = t.string("section-start", &problems)
        problems += t.unknownKeys(known: ["name", "title", "syntax", "keywords", "checked-prefixes", "case-sensitive", "repeatable", "section-start"])
        guard let name, let syntaxName, let keywords else { return nil }
        guard let syntax = ConfigKind.Syntax(rawValue: syntaxName) else {
            problems.append(t.problem("syntax '\(syntaxName)' is not one of assignment (NAME=value), keyword (keyword value)"))
            return nil
        }
        return ConfigKind(name: name, title: title, plugin: plugin, syntax: syntax, keywords: keywords, checkedPrefixes: prefixes,
                          caseSensitive: caseSensitive, repeatable: repeatable, sectionStart: sectionStart)
    }

    package static func readLintRule(_ node: TOMLNode, index: Int, plugin: String, file: String, _ problems: inout [PluginProblem]) -> LintRule? {
        guard var t = TableReader(node, file: file, entry: "[[lint]] \(index + 1)") else { return nil }
        let id = t.string("id", &problems, required: true) ?? "lint \(index + 1)"
        t = TableReader(node, file: file, entry: "[[lint]] \(id)")!
        _ = t.string("id", &problems)
        let config = t.string("config", &problems, required: true)
        let severityName = t.string("severity", &problems) ?? "warning"
        let message = t.string("message", &problems, required: true)
        let action = t.string("action", &problems, required: true)
        let whenOn = t.string("when-on", &problems)
        let bad = t.string("bad", &problems)
        let good = t.string("good", &problems)
        guard let severity = Severity(rawValue: severityName) else {
            problems.append(t.problem("severity '\(severityName)' is not one of error, warning, info"))
            return nil
        }
        func selector(_ key: String) -> ElementSelector? {
            guard case let .table(values, _)? = t.node(key) else {
                if t.values[key] != nil { problems.append(t.problem("'\(key)' must be a table such as { column = \"name\", contains = \"ECDHE\" }")) }
                return nil
            }
            guard case let .string(column)? = values["column"] else {
                problems.append(t.problem("'\(key)' needs a column (code, name, text or a catalogue column)")); return nil
            }
            var tests: [ElementSelector.Test] = []
            for (k, v) in values where k != "column" {
                let items: [String]
                switch v {
                case let .string(s): items = [s]
                case let .array(a): items = a.compactMap { if case let .string(s) = $0 { return s } else { return nil } }
                default: items = []
                }
                switch k {
                case "equals": tests += items.map { .equals($0) }
                case "contains": tests += items.map { .contains($0) }
                default: problems.append(t.problem("'\(key)' has '\(k)'; it takes column with equals or contains"))
                }
            }
            guard !tests.isEmpty else { problems.append(t.problem("'\(key)' needs equals or contains")); return nil }
            return ElementSelector(column: column, tests: tests)
        }
        var checks: [LintRule.Check] = []
        if let k = t.string("on", &problems) { checks.append(.on(k)) }
        if let k = t.string("nonzero", &problems) { checks.append(.nonzero(k)) }
        if let k = t.string("secret", &problems) { checks.append(.secret(k)) }
        if let k = t.string("keyword", &problems) {
            let values = t.strings("equals", &problems)
            if values.isEmpty { problems.append(t.problem("'keyword' needs 'equals', the values to find")) } else { checks.append(.equals(k, values)) }
        }
        if let list = t.string("list", &problems) {
            let lacksAny = t.strings("lacks-any", &problems), containsAny = t.strings("contains-any", &problems)
            if !lacksAny.isEmpty { checks.append(.lacksAny(list, lacksAny.map { $0.uppercased() })) }
            if !containsAny.isEmpty { checks.append(.containsAny(list, containsAny)) }
            if let s = selector("lacks") { checks.append(.lacks(list, s)) }
            if let s = selector("contains") { checks.append(.contains(list, s)) }
            if let first = selector("before") {
                if let then = selector("then") { checks.append(.before(list, first, then)) } else { problems.append(t.problem("'before' needs 'then'")) }
            }
        }
        problems += t.unknownKeys(known: ["id", "config", "severity", "message", "action", "when-on", "bad", "good", "on", "nonzero", "secret",
                                          "keyword", "equals", "list", "lacks-any", "contains-any", "lacks", "contains", "before", "then"])
        guard checks.count == 1, let check = checks.first else {
            problems.append(t.problem(checks.isEmpty
                ? "names no check: give on, nonzero, secret, keyword with equals, or list with lacks-any, lacks, contains-any, contains or before/then"
                : "gives \(checks.count) checks; a rule has one"))
            return nil
        }
        guard let config, let message, let action else { return nil }
        return LintRule(id: id, plugin: plugin, config: config, severity: severity, whenOn: whenOn, check: check, message: message, action: action, bad: bad, good: good)
    }
}
