import TraceLensRecords
import TraceLensDecode

/// Reading `[[link]]` tables: which connections of one source join which of another.
extension PluginLoader {
    package static func readLinkRule(_ node: TOMLNode, index: Int, plugin: String, file: String, _ problems: inout [PluginProblem]) -> LinkRule? {
        guard var t = TableReader(node, file: file, entry: "[[link]] \(index + 1)") else { return nil }
        let name = t.string("name", &problems) ?? "link \(index + 1)"
        t = TableReader(node, file: file, entry: "[[link]] \(name)")!
        _ = t.string("name", &problems)
        var ok = true
        let from = t.string("from", &problems, required: true)
        let to = t.string("to", &problems, required: true)
        var same: [LinkRule.SameField] = []
        for (key, required) in [("same", false), ("require", true)] {
            for text in t.strings(key, &problems) {
                let parts = text.split(separator: "=", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
                guard (1...2).contains(parts.count), !parts.contains(where: \.isEmpty) else {
                    problems.append(t.problem("\(key) '\(text)' must be a field name or 'from_field=to_field'")); ok = false; continue
                }
                same.append(.init(fromField: parts[0], toField: parts.last!, required: required))
            }
        }
        let outcome = t.bool("outcome", &problems) ?? true
        let codes = t.strings("codes", &problems)
        let unique = t.bool("unique", &problems) ?? false
        let copy = t.bool("copy", &problems) ?? false
        let fromFormats = t.strings("from-formats", &problems), toFormats = t.strings("to-formats", &problems)
        if from == to && (fromFormats.isEmpty || toFormats.isEmpty || !Set(fromFormats).isDisjoint(with: toFormats)) {
            problems.append(t.problem("links '\(from ?? "")' to itself: from-formats and to-formats must name layouts that do not overlap")); ok = false
        }
        var failedWhen: [CodeRef] = [], failedWhenCatalogues: [String] = []
        for item in t.strings("failed-when", &problems) {
            if let ref = CodeRef(Substring(item)) { failedWhen.append(ref) } else { failedWhenCatalogues.append(item) }
        }
        var window: Int64 = 2_000_000
        if let w = t.string("window", &problems) {
            switch TimeSpan.parse(w) {
            case let .success(us) where us >= 0: window = us
            case .failure(.tooLarge): problems.append(t.problem("window '\(w)' is \(TimeSpan.Problem.tooLarge)")); ok = false
            default: problems.append(t.problem("window '\(w)' is not a duration such as 2s or 500ms")); ok = false
            }
        }
        problems += t.unknownKeys(known: ["name", "from", "to", "same", "require", "outcome", "codes", "window", "unique", "failed-when", "from-formats", "to-formats", "copy"])
        guard ok, let from, let to else { return nil }
        return LinkRule(name: name, plugin: plugin, from: from, to: to, fromFormats: fromFormats, toFormats: toFormats, same: same, outcome: outcome, failedWhen: failedWhen, failedWhenCatalogues: failedWhenCatalogues, codes: codes, window: window, unique: unique, copy: copy)
    }
}
