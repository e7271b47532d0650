import Foundation
import TraceLensInput
import TraceLensRecords
import TraceLensDecode
import TraceLensPlugins
import TraceLensHandshake
import TraceLensStore
import TraceLensRender
import TraceLensQuery

/// What `doctor` says about one connection (failed, unless it was named).
public struct Diagnosis: Sendable {
    public struct Evidence: Sendable, Equatable {
        public var file: String
        public var line: Int
        public var text: String
    }
    public struct Finding: Sendable {
        public var rule: String
        public var title: String
        public var cause: String
        public var action: String
        public var doc: String
        public var evidence: [Evidence]
        /// Facts the cause needs (outside `[...]`) that the story does not give.
        public var unknownFacts = 0
    }
    public var connection: Int64
    public var summary: String
    public var error: String?
    /// The other failure codes, space-separated as stored (`tls:44 ssl:431`).
    public var related: String? = nil
    public var findings: [Finding]
    /// As stored: open, ok or failed.
    public var outcome: String? = nil
    /// What was agreed, when the trace says (`protocol TLSv1.3`, `cipher ...`), for a
    /// connection that succeeded.
    public var agreed: [String] = []

    /// A connection named on the command line that succeeded: nothing to diagnose.
    public var succeeded: Bool { outcome == "ok" }
}

/// One failed connection's story as `doctor` reads it: every record of every linked source.
public struct StoryRecords {
    public struct Item {
        public var file: String
        public var line: Int
        public var text: String
        public var codes: Set<String>
        /// The connection rule that made the record's connection (`gsk-session`).
        public var rule: String? = nil
    }
    public var items: [Item] = []
    /// Connection fields: peer_ip, peer_port, subject, issuer, cipher, protocol, error...
    public var fields: [String: String] = [:]
    /// Records of the story's sources outside every connection, before it (set-up lines), that
    /// hold what a rule's `source-facts` start with.
    public var preamble: [Item] = []
    /// The values of the TLS messages read from the story's dumps, in order.
    public var tls: [(message: String, field: String, value: String)] = []
    /// Where each TLS message was read, and its line as shown (`tls: ClientHello ...`), by message name.
    public var tlsShown: [(message: String, file: String, line: Int, text: String)] = []
}

/// Applies the plugins' diagnosis rules to stories.
public struct Doctor {
    public let plugins: PluginSet
    /// The environment file's values, when the user gave it (`--env`).
    public var environment: [String: String] = [:]

    /// Built once: a finder compiles every code pattern's prefilter.
    package let finder: CodeFinder

    public init(plugins: PluginSet) { self.plugins = plugins; finder = CodeFinder(plugins: plugins) }

    /// The findings for one story, best first.
    public func findings(_ story: StoryRecords) -> [Diagnosis.Finding] {
        var out: [Diagnosis.Finding] = []
        let rules = plugins.diagnosisRules.sorted(by: { ($0.order, $0.id) < ($1.order, $1.id) })
        // A rule whose sentence needs a fact the story lacks is not this story's.
        for rule in rules where !rule.fallback {
            if let f = apply(rule, story), f.unknownFacts == 0 { out.append(f) }
        }
        if out.isEmpty {
            for rule in rules where rule.fallback {
                if let f = apply(rule, story), f.unknownFacts == 0 { out.append(f) }
            }
        }
        // A rule that read the offer says more than the one that read the code alone.
        let replaced = Set(out.flatMap { f in rules.first { $0.id == f.rule }?.replaces ?? [] })
        return out.filter { !replaced.contains($0.rule) }
    }

    package func normalised(_ ref: CodeRef) -> String {
        guard let r = plugins.resolve(ref) else { return ref.description }
        return "\(r.catalogue.id):\(r.catalogue.display(r.value))"
    }

    public func apply(_ rule: DiagnosisRule, _ story: StoryRecords) -> Diagnosis.Finding? {
        // `alert:*`: any code of that catalogue.
        let wanted = Set(rule.when.filter { !$0.isWildcard }.map(normalised))
        let anyOf = Set(rule.when.filter(\.isWildcard).map(\.catalogue))
        func hits(_ codes: Set<String>) -> Set<String> {
            codes.filter { wanted.contains($0) || (!anyOf.isEmpty && anyOf.contains(String($0.prefix(while: { $0 != ":" })))) }
        }
        // A sample's records belong to no connection: they count.
        func counts(_ item: StoryRecords.Item) -> Bool { rule.from.isEmpty || (item.rule.map(rule.from.contains) ?? true) }
        guard story.items.contains(where: { counts($0) && !hits($0.codes).isEmpty }) else { return nil }
        var caps = Captures()
        func matches(_ template: Template, _ text: String) -> Bool {
            var bytes = Array(text.utf8)
            return bytes.withUnsafeMutableBufferPointer { b in
                let line = UnsafeBufferPointer(b)
                guard let start = findBytes(template.leadingLiteral, in: line, from: 0) else { return false }
                return template.match(line, from: start, wholeLine: false, captures: &caps) != nil
            }
        }
        if story.items.contains(where: { item in rule.unless.contains { matches($0, item.text) } }) { return nil }
        var fields = story.fields
        var evidence: [Diagnosis.Evidence] = []
        // Quoted: records a fact was found in, the first record of each code that made the rule
        // apply, and the first such record of every other source (a job log, a client).
        var codesQuoted = Set<String>(), filesQuoted = Set<String>()
        for item in story.items {
            let matched = counts(item) ? hits(item.codes) : []
            var quoted = !matched.isSubset(of: codesQuoted) || (!matched.isEmpty && !filesQuoted.contains(item.file))
            codesQuoted.formUnion(matched)
            // {code}: the code that made the rule apply, as its inline label says it.
            if fields["code"] == nil, let first = matched.sorted().first, let ref = CodeRef(Substring(first)), let r = plugins.resolve(ref) {
                fields["code"] = String(decoding: r.catalogue.labelBytes(r.value), as: UTF8.self)
            }
            var bytes = Array(item.text.utf8)
            bytes.withUnsafeMutableBufferPointer { b in
                let line = UnsafeBufferPointer(b)
                for template in rule.facts {
                    guard let start = findBytes(template.leadingLiteral, in: line, from: 0) else { continue }
                    guard template.match(line, from: start, wholeLine: false, captures: &caps) != nil else { continue }
                    quoted = true
                    for (slot, name) in template.fieldNames.enumerated() where !name.isEmpty && fields[name] == nil {
                        if let r = caps.range(slot) { fields[name] = String(decoding: line[r], as: UTF8.self) }
                    }
                }
            }
            if quoted && evidence.count < 8 {
                filesQuoted.insert(item.file)
                let first = item.text.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? item.text
                evidence.append(.init(file: item.file, line: item.line, text: first))
            }
        }
        for item in story.preamble {
            var bytes = Array(item.text.utf8)
            let found = bytes.withUnsafeMutableBufferPointer { b -> Bool in
                let line = UnsafeBufferPointer(b)
                var found = false
                for template in rule.sourceFacts {
                    guard let start = findBytes(template.leadingLiteral, in: line, from: 0),
                          template.match(line, from: start, wholeLine: false, captures: &caps) != nil else { continue }
                    for (slot, name) in template.fieldNames.enumerated() where !name.isEmpty && fields[name] == nil {
                        if let r = caps.range(slot) { fields[name] = String(decoding: line[r], as: UTF8.self); found = true }
                    }
                }
                return found
            }
            // The set-up line a fact came from is the line to change: quoted.
            if found && evidence.count < 8 { evidence.append(.init(file: item.file, line: item.line, text: item.text)) }
        }
        for (k, v) in environment { fields["env." + k] = v }
        for c in rule.compares {
            guard self.compare(c, story, &fields) else { return nil }
            // The message the offer was read from is evidence too.
            // (`Certificate@client`: the client's; the first of that message is quoted.)
            let message = String(c.message.prefix { $0 != "@" })
            let others = c.allowed.filter({ $0.hasPrefix("tls.") }).map({ String($0.dropFirst(4).prefix(while: { $0 != " " })) })
            for m in [message] + others {
                if let shown = story.tlsShown.last(where: { $0.message == m }), evidence.count < 8 {
                    evidence.append(.init(file: shown.file, line: shown.line, text: "tls: " + shown.text))
                }
            }
        }
        // {code.alert}: the first code of that catalogue in the story, as its inline label says it.
        for item in story.items {
            for code in item.codes.sorted() {
                guard let ref = CodeRef(Substring(code)), fields["code." + ref.catalogue] == nil, let r = plugins.resolve(ref) else { continue }
                fields["code." + ref.catalogue] = String(decoding: r.catalogue.labelBytes(r.value), as: UTF8.self)
            }
        }
        // A distinguished name also in each form the plugins define: {subject.ID}.
        for (k, v) in fields where DistinguishedNameText.looksLikeDN(v) && !k.hasPrefix("env.") {
            let dn = DistinguishedNameText(rfc4514: v)
            for form in plugins.dnForms { fields[k + "." + form.id] = form.write(dn) }
        }
        let action = (!environment.isEmpty ? rule.actionWithEnv : nil) ?? rule.action
        let cause = Self.fillCounting(rule.cause, fields)
        var finding = Diagnosis.Finding(rule: rule.id, title: rule.title, cause: cause.text, action: Self.fill(action, fields), doc: rule.doc, evidence: evidence)
        finding.unknownFacts = cause.missing
        return finding
    }

    /// Fills a compare's fields; false when it does not hold (either side unknown, or a value
    /// in common).
    package func compare(_ c: DiagnosisRule.Compare, _ story: StoryRecords, _ fields: inout [String: String]) -> Bool {
        var offered: [String] = []
        for field in [c.field] + (c.fallbackField.map { [$0] } ?? []) where offered.isEmpty {
            for v in story.tls where v.message == c.message && v.field == field && !offered.contains(v.value) { offered.append(v.value) }
        }
        guard !offered.isEmpty else { return false }
        var allowed: [String] = []
        var text = ""
        var catalogue: Catalogue?
        if let source = c.allowed.first(where: { $0.hasPrefix("tls.") }) {
            // What another TLS message of the story lists (`tls.CertificateRequest cert_type`).
            let parts = source.dropFirst(4).split(separator: " ").map(String.init)
            guard parts.count == 2 else { return false }
            for v in story.tls where v.message == parts[0] && v.field == parts[1] && !allowed.contains(v.value) { allowed.append(v.value) }
            guard !allowed.isEmpty else { return false }
            text = allowed.joined(separator: " ")
            catalogue = WireNames(plugins: plugins).catalogue(for: parts[1])
        } else if c.switches.isEmpty {
            guard let list = plugins.lists.first(where: { $0.variable == c.list }),
                  let found = c.allowed.compactMap({ fields[$0] }).first(where: { !$0.isEmpty }) else { return false }
            text = found
            let cat = plugins.catalogues[list.catalogue]
            catalogue = cat
            var rest = Substring(text.filter { !$0.isWhitespace })
            while rest.count >= list.width {
                if let value = Catalogue.value(fromCatalogueText: String(rest.prefix(list.width)), radix: cat.radix) {
                    let code = cat.display(value)
                    if !allowed.contains(code) { allowed.append(code) }
                }
                rest = rest.dropFirst(list.width)
            }
        } else {
            // A switch per code: on, enabled, yes or 1 allows it; a switch nobody set says nothing.
            var known = 0
            for s in c.switches {
                guard let value = s.fields.compactMap({ fields[$0] }).first(where: { !$0.isEmpty }) else { continue }
                known += 1
                if ["on", "enabled", "yes", "1", "true"].contains(value.lowercased()) { allowed.append(s.code) }
            }
            guard known > 0 else { return false }
            text = allowed.joined(separator: " ")
            catalogue = WireNames(plugins: plugins).catalogue(for: c.field)
        }
        guard Set(offered).isDisjoint(with: allowed) else { return false }
        if allowed.isEmpty && c.switches.isEmpty { return false }
        func name(_ code: String) -> String {
            guard let catalogue, let v = Catalogue.value(fromCatalogueText: code, radix: catalogue.radix), let e = catalogue.entry(v) else { return code }
            return e.name.isEmpty ? e.text : e.name
        }
        guard !allowed.isEmpty else {
            fields[c.name + ".offered"] = offered.map(name).joined(separator: " ")
            fields[c.name + ".allowed"] = "none"
            fields[c.name + ".offered_count"] = String(offered.count)
            fields[c.name + ".allowed_count"] = "0"
            return true
        }
        // The nearest pair: the names sharing the most words (AES_256_GCM_SHA384 in both), the
        // first offered on a tie; the first of each when no names share a word.
        func words(_ code: String) -> Set<Substring> { Set(name(code).split(whereSeparator: { $0 == "_" || $0 == "-" }).filter { $0.count > 2 && $0 != "TLS" && $0 != "WITH" }) }
        var best = (offered[0], allowed[0], 0)
        for o in offered {
            let ow = words(o)
            for a in allowed where ow.intersection(words(a)).count > best.2 { best = (o, a, ow.intersection(words(a)).count) }
        }
        // Switches name their codes (TLSv1.2); lists keep codes as the setting writes them.
        let named = !c.switches.isEmpty || c.allowed.contains { $0.hasPrefix("tls.") }
        fields[c.name + ".offered"] = named ? offered.map(name).joined(separator: ", ") : offered.joined(separator: " ")
        fields[c.name + ".allowed"] = named ? allowed.map(name).joined(separator: ", ") : allowed.joined(separator: " ")
        fields[c.name + ".offered_count"] = String(offered.count)
        fields[c.name + ".allowed_count"] = String(allowed.count)
        fields[c.name + ".closest_offered"] = best.0
        fields[c.name + ".closest_allowed"] = best.1
        fields[c.name + ".closest_offered_name"] = name(best.0)
        fields[c.name + ".closest_allowed_name"] = name(best.1)
        fields[c.name + ".allowed_text"] = text
        return true
    }

    /// `{name}` replaced by the field. A part in `[...]` is left out when a field in it is
    /// unknown (a job log alone names no certificate); elsewhere an unknown field reads
    /// "(not in the trace)". Also returns how many fields outside `[...]` were unknown.
    package static func fill(_ text: String, _ fields: [String: String]) -> String { fillCounting(text, fields).text }

    package static func fillCounting(_ text: String, _ fields: [String: String]) -> (text: String, missing: Int) {
        func value(_ name: String) -> String? { fields[name].flatMap { $0.isEmpty ? nil : $0 } }
        func placeholders(_ part: Substring) -> (String, [String]) {
            var out = "", names: [String] = []
            var rest = part
            while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
                out += rest[..<open]
                let name = String(rest[rest.index(after: open)..<close])
                names.append(name)
                out += value(name) ?? (name.hasPrefix("env.") ? "(not set in the environment file)" : "(not in the trace)")
                rest = rest[rest.index(after: close)...]
            }
            return (out + rest, names)
        }
        var out = "", missing = 0
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "["), let close = rest[open...].firstIndex(of: "]") {
            let (before, names) = placeholders(rest[..<open])
            out += before
            missing += names.filter { value($0) == nil }.count
            let (inside, insideNames) = placeholders(rest[rest.index(after: open)..<close])
            // Optional: left out, and not counted as missing.
            if insideNames.allSatisfy({ value($0) != nil }) { out += inside }
            rest = rest[rest.index(after: close)...]
        }
        let (tail, names) = placeholders(rest)
        missing += names.filter { value($0) == nil }.count
        return (out + tail, missing)
    }

    /// A sample's lines read through a layout as one story (the load-time check of a rule).
    package func story(sample text: String, layout: Format) -> StoryRecords {
        var story = StoryRecords()
        let handshakes = HandshakeDecoder(plugins: plugins)
        for var r in RecordReader.records(in: Array(text.utf8), format: layout) {
            finder.decode(&r, layout: layout)
            handshakes.annotate(&r, source: 0)
            let codes = Set(r.codes.map { "\(plugins.catalogues[$0.catalogue].id):\(plugins.catalogues[$0.catalogue].display($0.value))" })
            story.items.append(.init(file: "sample", line: r.line, text: String(decoding: r.bytes, as: UTF8.self), codes: codes))
            for a in r.annotations where a.kind == "tls" {
                let message = a.values("message").first ?? ""
                story.tlsShown.append((message, "sample", r.line, a.text))
                let from = a.values("from").first
                for f in a.fields where !["message", "direction", "version"].contains(f.name) {
                    for v in f.values {
                        story.tls.append((message, f.name, v))
                        if let from { story.tls.append((message + "@" + from, f.name, v)) }
                    }
                }
            }
        }
        // A sample is its own set-up.
        story.preamble = story.items
        return story
    }
}

extension Doctor {
    /// Every failed connection of the store (one per story), or the ones named, diagnosed.
    /// `preambles`: kept across calls by a caller that diagnoses again and again (the export
    /// sinks), so each source's set-up lines are read once, not once per failed connection.
    public func diagnose(_ store: Store, connections ids: [Int64] = [], preambles: PreambleCache? = nil) throws -> [Diagnosis] {
        let db = store.db
        var heads: [Int64] = []
        if ids.isEmpty {
            let q = try db.prepare("SELECT id FROM connections WHERE outcome = 'failed' AND (story IS NULL OR story = id) ORDER BY start_time, id")
            while try q.step() { heads.append(q.int64(0)) }
        } else {
            for id in ids {
                // A connection that is not there is a mistake to say, not an empty verdict.
                guard try db.scalar("SELECT count(*) FROM connections WHERE id = ?1", [.int(id)]) == 1 else {
                    throw ConnectionStory.Problem.noSuchConnection(String(id))
                }
                heads.append(try db.scalar("SELECT coalesce(story, id) FROM connections WHERE id = ?1", [.int(id)]) ?? id)
            }
        }
        var paths: [Int64: String] = [:]
        let s = try db.prepare("SELECT id, path FROM sources")
        while try s.step() { paths[s.int64(0)] = (s.string(1) ?? "").split(separator: "/").last.map(String.init) ?? "" }
        let conn = try db.prepare("""
            SELECT id, source, peer_ip, peer_port, subject, issuer, cipher, protocol, error, related, start_time, thread, outcome, rule
            FROM connections WHERE id = ?1 OR story = ?1 ORDER BY (id = ?1) DESC, start_time
            """)
        let recs = try db.prepare("SELECT source, line, text, codes FROM records WHERE conn = ?1 ORDER BY source, line")
        var out: [Diagnosis] = []
        for head in heads {
            try conn.bind([.int(head)])
            var story = StoryRecords()
            var members: [(id: Int64, rule: String?)] = []
            var summary = "", error: String?, related: String?, outcome: String?
            var first = true
            while try conn.step() {
                members.append((conn.int64(0), conn.string(13)))
                let names = ["peer_ip", "peer_port", "subject", "issuer", "cipher", "protocol"]
                for (i, name) in names.enumerated() where story.fields[name] == nil {
                    let v = conn.value(Int32(2 + i))
                    if v != .null { story.fields[name] = plugins.shownConnectionField(name, TableWriter.display(v)) }
                }
                if first {
                    first = false
                    error = conn.string(8)
                    related = conn.string(9)
                    outcome = conn.string(12)
                    var peer = conn.string(2) ?? "peer unknown"
                    if !conn.isNull(3) { peer += ":\(conn.int64(3))" }
                    if conn.isNull(2) {
                        // A client's attempt names the server it went to instead.
                        let k = try db.prepare("SELECT name, value FROM conn_keys WHERE conn = ?1 AND name IN ('server_host', 'server_ip', 'server_port')")
                        try k.bind([.int(conn.int64(0))])
                        var server: [String: String] = [:]
                        while try k.step() { server[k.string(0) ?? ""] = k.string(1) }
                        if let host = server["server_host"] ?? server["server_ip"] {
                            let address = host + (server["server_port"].map { ":" + $0 } ?? "")
                            peer = "server " + address
                            story.fields["server"] = address
                        }
                    }
                    let when = conn.isNull(10) ? "" : ", " + Timestamp(micros: conn.int64(10)).string(iso: true)
                    summary = "connection \(head): \(peer), \(paths[conn.int64(1)] ?? "?")" + (conn.string(11).map { " thread \($0)" } ?? "") + when
                        + " (\(conn.string(12) ?? "?"))"
                }
            }
            guard !members.isEmpty else { continue }
            story.tls = try tlsValues(db, members.map(\.id))
            story.tlsShown = try tlsShown(db, members.map(\.id), paths)
            story.preamble = try preambles.map { try $0.preamble(db, members.map(\.id), paths, literals: preambleLiterals) }
                ?? preamble(db, members.map(\.id), paths)
            for m in members {
                try recs.bind([.int(m.id)])
                while try recs.step() {
                    let codes = (recs.string(3) ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "[]")).split(separator: ",")
                        .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\" !")) }
                    story.items.append(.init(file: paths[recs.int64(0)] ?? "?", line: recs.int(1), text: recs.string(2) ?? "", codes: Set(codes), rule: m.rule))
                }
            }
            var diagnosis = Diagnosis(connection: head, summary: summary, error: error, related: related, findings: [], outcome: outcome)
            if diagnosis.succeeded {
                diagnosis.agreed = ["protocol", "cipher"].compactMap { name in story.fields[name].map { "\(name) \($0)" } }
            } else {
                diagnosis.findings = findings(story)
            }
            out.append(diagnosis)
        }
        return out
    }
}

extension Doctor {
    /// The TLS values stored for these connections (a store older than them has none).
    package func tlsValues(_ db: Database, _ conns: [Int64]) throws -> [(message: String, field: String, value: String)] {
        guard try db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'tls_messages'") == 1 else { return [] }
        let q = try db.prepare("""
            SELECT m.id, m.message, v.field, v.value FROM tls_messages m JOIN tls_values v ON v.message = m.id
            WHERE m.conn IN (\(conns.map(String.init).joined(separator: ","))) ORDER BY m.id, v.rowid
            """)
        var rows: [(id: Int64, message: String, field: String, value: String)] = []
        while try q.step() { rows.append((q.int64(0), q.string(1) ?? "", q.string(2) ?? "", q.string(3) ?? "")) }
        // Each value also under `Message@client` or `Message@server`, when the sender is known.
        var from: [Int64: String] = [:]
        for r in rows where r.field == "from" { from[r.id] = r.value }
        var out: [(message: String, field: String, value: String)] = []
        for r in rows {
            out.append((r.message, r.field, r.value))
            if let f = from[r.id] { out.append((r.message + "@" + f, r.field, r.value)) }
        }
        return out
    }

    /// Where the TLS messages of these connections were read, and their lines as shown.
    package func tlsShown(_ db: Database, _ conns: [Int64], _ paths: [Int64: String]) throws -> [(message: String, file: String, line: Int, text: String)] {
        guard try db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'tls_messages'") == 1 else { return [] }
        let q = try db.prepare("SELECT message, source, line, text FROM tls_messages WHERE conn IN (\(conns.map(String.init).joined(separator: ","))) ORDER BY id")
        var out: [(message: String, file: String, line: Int, text: String)] = []
        while try q.step() { out.append((q.string(0) ?? "", paths[q.int64(1)] ?? "?", q.int(2), q.string(3) ?? "")) }
        return out
    }

    /// The set-up records of the connections' sources (no connection, before the first of them)
    /// that hold the literal a rule's `source-facts` start with; the last 200 of each source.
    /// What a set-up line starts with, for each rule's `source-facts`.
    package var preambleLiterals: [String] {
        Set(plugins.diagnosisRules.flatMap(\.sourceFacts).map { String(decoding: $0.leadingLiteral, as: UTF8.self) }).filter { !$0.isEmpty }.sorted()
    }

    package func preamble(_ db: Database, _ conns: [Int64], _ paths: [Int64: String]) throws -> [StoryRecords.Item] {
        let literals = preambleLiterals
        guard !literals.isEmpty else { return [] }
        let list = conns.map(String.init).joined(separator: ",")
        let anyLiteral = literals.indices.map { "instr(r.text, ?\($0 + 1)) > 0" }.joined(separator: " OR ")
        let q = try db.prepare("""
            SELECT r.source, r.line, r.text FROM records r
            JOIN (SELECT source, min(first_line) AS first FROM connections WHERE id IN (\(list)) GROUP BY source) c ON c.source = r.source
            WHERE r.conn IS NULL AND r.line < c.first AND (\(anyLiteral))
            ORDER BY r.source, r.line DESC LIMIT 200
            """)
        try q.bind(literals.map { .text($0) })
        var out: [StoryRecords.Item] = []
        while try q.step() { out.append(.init(file: paths[q.int64(0)] ?? "?", line: q.int(1), text: q.string(2) ?? "", codes: [])) }
        return out.reversed()
    }
}

/// `tracelens doctor`: renders diagnoses as text or JSON lines.
public enum DoctorReport {
    public static func text(_ diagnoses: [Diagnosis], plugins: PluginSet) -> String {
        var out = ""
        for d in diagnoses {
            out += d.summary + "\n"
            if d.succeeded {
                out += "  it succeeded" + (d.agreed.isEmpty ? "" : " (\(d.agreed.joined(separator: ", ")))") + ": nothing to diagnose\n\n"
                continue
            }
            if d.findings.isEmpty {
                let error = d.error.map { PrimaryError.text($0, related: d.related, plugins: plugins) } ?? "none recorded"
                out += "  no diagnosis rule fits this one; primary error: \(error)" + (d.error.map { "; `tracelens explain \($0) --long` says more" } ?? "") + "\n\n"
                continue
            }
            for f in d.findings {
                out += "  \(f.title) [\(f.rule)]\n"
                out += "  cause: \(f.cause)\n"
                if !f.evidence.isEmpty {
                    out += "  evidence:\n"
                    for e in f.evidence { out += "    \(e.file):\(e.line)  \(e.text)\n" }
                }
                out += "  what to do: \(f.action)\n"
                out += "  more: \(f.doc)\n"
            }
            out += "\n"
        }
        // Summaries and evidence quote the traces: control bytes in them are shown, not sent.
        return TerminalText.visible(out, keepingNewlines: true)
    }

    public static func jsonLines(_ diagnoses: [Diagnosis]) -> String {
        var out = ""
        for d in diagnoses {
            var obj: [String: JSON.Value] = ["connection": .int(Int(d.connection)), "summary": .string(d.summary)]
            obj["error"] = d.error.map(JSON.Value.string)
            obj["outcome"] = d.outcome.map(JSON.Value.string)
            obj["findings"] = .array(d.findings.map { f in
                .sorted(["rule": .string(f.rule), "title": .string(f.title), "cause": .string(f.cause), "action": .string(f.action),
                         "doc": .string(f.doc),
                         "evidence": .array(f.evidence.map { .sorted(["file": .string($0.file), "line": .int($0.line), "text": .string($0.text)]) })])
            })
            out += JSON.Value.sorted(obj).text + "\n"
        }
        return out
    }
}

/// The set-up lines of each source (records in no connection holding what a rule's
/// `source-facts` start with), read once and then only as the source grows: `Doctor.preamble`
/// reads every earlier record of the source for each failed connection, which an exporter
/// diagnosing thousands of failures cannot afford. Gives what `preamble` gives.
public final class PreambleCache {
    /// Per source: the highest record id read, and the matching records by line (a record read
    /// again, as a file's tail is, replaces its line's entry).
    private var readUpTo: [Int64: Int64] = [:]
    private var lines: [Int64: [Int: String]] = [:]

    public init() {}

    func preamble(_ db: Database, _ conns: [Int64], _ paths: [Int64: String], literals: [String]) throws -> [StoryRecords.Item] {
        guard !literals.isEmpty, !conns.isEmpty else { return [] }
        let firsts = try db.prepare("SELECT source, min(first_line) FROM connections WHERE id IN (\(conns.map(String.init).joined(separator: ","))) GROUP BY source ORDER BY source")
        var picked: [(source: Int64, line: Int, text: String)] = []
        while try firsts.step() {
            let source = firsts.int64(0), first = firsts.int(1)
            try extend(db, source, literals)
            let before = (lines[source] ?? [:]).filter { $0.key < first }.sorted { $0.key > $1.key }
            picked += before.map { (source, $0.key, $0.value) }
            if picked.count >= 200 { break }
        }
        return picked.prefix(200).reversed().map { .init(file: paths[$0.source] ?? "?", line: $0.line, text: $0.text, codes: []) }
    }

    private func extend(_ db: Database, _ source: Int64, _ literals: [String]) throws {
        let from = readUpTo[source] ?? 0
        guard let last = try db.scalar("SELECT max(last_id) FROM record_blocks WHERE source = ?1", [.int(source)]), last > from else { return }
        let anyLiteral = literals.indices.map { "instr(text, ?\($0 + 4)) > 0" }.joined(separator: " OR ")
        let q = try db.prepare("""
            SELECT line, text FROM records WHERE source = ?1 AND id > ?2 AND id <= ?3 AND conn IS NULL AND (\(anyLiteral))
            """)
        try q.bind([.int(source), .int(from), .int(last)] + literals.map { .text($0) })
        var found = lines[source] ?? [:]
        while try q.step() { found[q.int(0)] = q.string(1) ?? "" }
        lines[source] = found
        readUpTo[source] = last
    }
}
