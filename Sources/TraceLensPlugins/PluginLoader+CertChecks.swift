import TraceLensDecode

/// Reading `[[cert-check]]` (how a `cert` check reads for a product) and `[[dn-form]]` (a way a
/// product writes distinguished names).
extension PluginLoader {
    package static func readCertCheckRule(_ node: TOMLNode, index: Int, plugin: String, file: String, _ problems: inout [PluginProblem]) -> CertCheckRule? {
        guard var t = TableReader(node, file: file, entry: "[[cert-check]] \(index + 1)") else { return nil }
        let id = t.string("check", &problems, required: true)
        if let id { t = TableReader(node, file: file, entry: "[[cert-check]] \(id)")!; _ = t.string("check", &problems) }
        var ok = id != nil
        let check = id.flatMap { CertificateCheck.byID[$0] }
        if let id, check == nil {
            problems.append(t.problem("check '\(id)' is not a check cert makes (checks: \(CertificateCheck.all.map(\.id).joined(separator: ", ")))"))
            ok = false
        }
        var severity: Severity?
        if let text = t.string("severity", &problems) {
            severity = .init(rawValue: text)
            if severity == nil { problems.append(t.problem("severity '\(text)' is not one of error, warning, info")); ok = false }
        }
        var codes: [CodeRef] = []
        for text in t.strings("codes", &problems) {
            if let ref = CodeRef(Substring(text)) { codes.append(ref) } else { problems.append(t.problem("codes '\(text)' must be catalogue:code, such as ssl:401")); ok = false }
        }
        let message = t.string("message", &problems)
        let action = t.string("action", &problems)
        // A placeholder the check does not fill would print as a gap: refused here.
        if let check {
            for (key, template) in [("message", message), ("action", action)] {
                for name in CertificateCheck.placeholders(template ?? "") where !check.values.contains(name) {
                    problems.append(t.problem("\(key) names {\(name)}, which check \(check.id) does not give (it gives: \(check.values.joined(separator: ", ")))"))
                    ok = false
                }
            }
        }
        problems += t.unknownKeys(known: ["check", "severity", "codes", "message", "action"])
        guard ok, let id else { return nil }
        return CertCheckRule(check: id, plugin: plugin, file: file, severity: severity, codes: codes, message: message, action: action)
    }

    package static func readDNForm(_ node: TOMLNode, index: Int, plugin: String, file: String, _ problems: inout [PluginProblem]) -> DNForm? {
        guard var t = TableReader(node, file: file, entry: "[[dn-form]] \(index + 1)") else { return nil }
        let id = t.string("id", &problems, required: true)
        if let id { t = TableReader(node, file: file, entry: "[[dn-form]] \(id)")!; _ = t.string("id", &problems) }
        var ok = id != nil
        if let id, id.isEmpty || !id.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) {
            problems.append(t.problem("id '\(id)' must be letters, digits, '-' or '_': doctor offers it as {field.\(id)}"))
            ok = false
        }
        let subjectLabel = t.string("subject-label", &problems)
        let issuerLabel = t.string("issuer-label", &problems)
        var order = DistinguishedNameText.Order.reversed
        if let text = t.string("order", &problems) {
            if let o = DistinguishedNameText.Order(rawValue: text) { order = o } else {
                problems.append(t.problem("order '\(text)' is not one of \(DistinguishedNameText.Order.allCases.map(\.rawValue).joined(separator: ", "))"))
                ok = false
            }
        }
        let separator = t.string("separator", &problems, required: true)
        problems += t.unknownKeys(known: ["id", "subject-label", "issuer-label", "order", "separator"])
        guard ok, let id, let separator else { return nil }
        return DNForm(id: id, plugin: plugin, subjectLabel: subjectLabel, issuerLabel: issuerLabel, order: order, separator: separator)
    }

    /// Reads every `[[key]]` table of a manifest into `entries`; an entry replaces an earlier
    /// one (of this or an earlier plugin) that it is the same as.
    package static func readEntries<Entry>(_ key: String, of top: inout TableReader, into entries: inout [Entry], sameAs: (Entry, Entry) -> Bool,
                                   _ problems: inout [PluginProblem], read: (TOMLNode, Int, inout [PluginProblem]) -> Entry?) {
        for (i, node) in top.tables(key, &problems).enumerated() {
            guard let entry = read(node, i, &problems) else { continue }
            entries.removeAll { sameAs($0, entry) }
            entries.append(entry)
        }
    }

    /// Every code a `[[cert-check]]` names must be in a catalogue (checked once all plugins are in:
    /// the catalogue may come from another plugin).
    package static func checkCertCheckReferences(_ set: PluginSet) -> [PluginProblem] {
        var problems: [PluginProblem] = []
        for rule in set.certCheckRules {
            for ref in rule.codes {
                guard let resolved = set.resolve(ref) else {
                    problems.append(PluginProblem(file: rule.file, entry: "[[cert-check]] \(rule.check)", message: "codes names '\(ref)', which is in no catalogue"))
                    continue
                }
                // Shown decoded: a code no row explains would print as unknown.
                if resolved.entry == nil && resolved.catalogue.rangeEntry(resolved.value) == nil {
                    problems.append(PluginProblem(file: rule.file, entry: "[[cert-check]] \(rule.check)", message: "codes names '\(ref)', which catalogue \(ref.catalogue) has no row for"))
                }
            }
        }
        return problems
    }
}
