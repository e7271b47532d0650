import TraceLensRecords
import TraceLensDecode
import TraceLensPlugins
import TraceLensHandshake
import TraceLensCorrelate
import TraceLensRender

/// Runs the samples of the loaded plugins and says, for each one that fails, what was expected
/// and what came out. Samples are how a plugin proves its layouts and catalogues work.
package struct SampleChecker {
    package let plugins: PluginSet
    /// Built once for every sample: each compiles its patterns' prefilter.
    package let finder: CodeFinder
    package let masker: SecretMasker

    package init(plugins: PluginSet) {
        self.plugins = plugins
        finder = CodeFinder(plugins: plugins)
        masker = SecretMasker(plugins: plugins)
    }

    package func checkAll() -> [PluginProblem] {
        plugins.samples.flatMap(check) + checkSecretSamples()
    }

    /// Each `[[secret]]` sample must come out exactly as its `masked` text says.
    package func checkSecretSamples() -> [PluginProblem] {
        plugins.secretRules.compactMap { rule in
            guard let (text, want) = rule.sample else { return nil }
            let got = masker.masked(text)
            if text == want { return PluginProblem(file: rule.file, entry: rule.entry, message: "its sample and masked text are the same: the sample shows no secret being masked") }
            guard got != want else { return nil }
            return PluginProblem(file: rule.file, entry: rule.entry, message: "sample '\(text)': expected '\(want)', got '\(got)'")
        }
    }

    package func check(_ sample: PluginSample) -> [PluginProblem] {
        var problems: [PluginProblem] = []
        func fail(_ m: String) { problems.append(PluginProblem(file: sample.file, entry: sample.entry, message: m)) }
        switch sample.kind {
        case let .explain(query, expected):
            let got = Explainer(plugins: plugins).readings(query).map(\.ref)
            let want = expected.map(normalised)
            if Set(got) != Set(want) { fail("expected readings \(want), got \(got)") }
        case let .lines(formatName, text):
            guard let format = plugins.format(named: formatName) else { fail("names format '\(formatName)', which no plugin defines"); break }
            let result = run(format, text)
            let records = result.filter { !$0.isUnparsed }
            let unparsed = result.count - records.count
            for (key, value) in sample.expect.sorted(by: { $0.key < $1.key }) {
                let first = records.first
                if key == "connections" {
                    problems += checkConnections(format, result, value, fail)
                    continue
                }
                switch (key, value) {
                case let ("records", .int(n)): if records.count != n { fail("expected \(n) records, got \(records.count)") }
                case let ("unparsed", .int(n)): if unparsed != n { fail("expected \(n) unparsed lines, got \(unparsed)") }
                case let ("time", .string(s)):
                    let got = first?.time?.string(iso: true)
                    if got != s { fail("expected time \(s), got \(got ?? "none")") }
                case let ("codes", .array(items)):
                    let want = items.compactMap { if case let .string(s) = $0 { return s } else { return nil } }
                    // Codes of every line, those no layout read too (found by patterns for any layout).
                    let got = result.flatMap { r in r.codes.map { "\(plugins.catalogues[$0.catalogue].id):\(plugins.catalogues[$0.catalogue].display($0.value))" } }
                    let wantNormal = want.map(normalised)
                    if got != wantNormal { fail("expected codes \(wantNormal), got \(got)") }
                case let ("message", .string(s)):
                    // All message lines, joined by newlines (continuation text included).
                    if first?.message != s { fail("expected message '\(s)', got \(first.map { "'\($0.message)'" } ?? "no record")") }
                case let ("level", .string(s)):
                    if first?.levelName != s.uppercased() { fail("expected level \(s), got \(first?.levelName ?? "no record")") }
                case let (name, .string(s)):
                    let got = first.flatMap { r in StandardField(name: name).flatMap { r.field($0) } ?? (name == "lines" ? nil : r.extra(name)) }
                    if got != s { fail("expected \(name) '\(s)', got \(got.map { "'\($0)'" } ?? "nothing")") }
                default:
                    fail("expect.\(key) = \(value.typeName) is not something a sample can check (records, unparsed: integers; codes: a list; fields: strings)")
                }
            }
            if sample.expect.isEmpty { fail("has no [sample.expect]: say what the lines must yield") }
        }
        return problems
    }

    /// `expect.connections = [{ outcome = "failed", error = "ssl:431", peer_ip = "10.1.0.2", records = 9 }, ...]`:
    /// the connections the layout's `[[connection]]` rule finds in the sample, in order of start.
    package func checkConnections(_ format: Format, _ records: [Record], _ value: TOMLNode, _ fail: (String) -> Void) -> [PluginProblem] {
        guard let rule = plugins.connectionRule(forFormat: format.name) else {
            fail("expects connections, but no [[connection]] rule reads layout '\(format.name)'")
            return []
        }
        guard case let .array(items) = value else { fail("expect.connections must be a list of tables"); return [] }
        let correlator = Correlator(rule: rule, plugins: plugins, source: 0, firstID: 1)
        var found: [Int64: LiveConnection] = [:]
        for r in records {
            _ = correlator.assign(r)
            for c in correlator.takeChanges() { found[c.id] = c }
        }
        let connections = found.values.sorted { $0.id < $1.id }
        if connections.count != items.count { fail("expected \(items.count) connections, got \(connections.count)") }
        for (i, (item, c)) in zip(items, connections).enumerated() {
            guard case let .table(fields, _) = item else { fail("expect.connections item \(i + 1) must be a table"); continue }
            for (name, want) in fields.sorted(by: { $0.key < $1.key }) {
                let got: String?
                switch name {
                case "outcome": got = c.outcome.rawValue
                case "error": got = c.failures.first.map { "\(plugins.catalogues[$0.catalogue].id):\(plugins.catalogues[$0.catalogue].display($0.value))" }
                case "records": got = String(c.records)
                case "first_line": got = String(c.firstLine)
                case "last_line": got = String(c.lastLine)
                default: got = c.field(name)
                }
                var wantText: String
                switch want {
                case let .string(s): wantText = s
                case let .int(n): wantText = String(n)
                default: fail("expect.connections item \(i + 1): \(name) must be a string or an integer"); continue
                }
                if name == "error" { wantText = normalised(wantText) }
                if got != wantText { fail("connection \(i + 1): expected \(name) '\(wantText)', got \(got.map { "'\($0)'" } ?? "nothing")") }
            }
        }
        return []
    }

    /// A `kind:code` reference written the way the catalogue shows it (`cms:0335306f` → `cms:0335306F`).
    package func normalised(_ ref: String) -> String {
        guard let r = CodeRef(Substring(ref)), let resolved = plugins.resolve(r) else { return ref }
        return "\(resolved.catalogue.id):\(resolved.catalogue.display(resolved.value))"
    }

    /// Reads sample text through the format and the code finder, returning copies of the records.
    package func run(_ format: Format, _ text: String) -> [Record] {
        var caps = Captures()
        var carry = SecretMasker.Carry()
        let handshakes = HandshakeDecoder(plugins: plugins)
        return RecordReader.records(in: Array(text.utf8), format: format).map { record in
            var r = record
            masker.mask(&r.bytes, captures: &caps, carry: &carry)
            finder.decode(&r, layout: format)
            handshakes.annotate(&r, source: 0)
            return r
        }
    }
}
