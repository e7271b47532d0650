#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TraceLensRecords
import TraceLensDecode
import TraceLensPlugins

/// What the user says about linking: a wider window, and clocks that are off.
public struct LinkOptions: Sendable {
    /// Replaces every rule's own window (`--window 5s`).
    public var window: Int64?
    /// Per-source clock offsets (`--offset 'client.txt=-3600s'`): added to the times of the
    /// sources whose path matches, and kept in the store for later runs.
    public var offsets: [(pattern: String, micros: Int64)] = []

    public init(window: Int64? = nil, offsets: [(pattern: String, micros: Int64)] = []) {
        self.window = window; self.offsets = offsets
    }

    /// Parses `PATTERN=OFFSET` (`ldap.log=+3600s`, `*.joblog=-2s`).
    public static func parseOffset(_ text: String) -> (pattern: String, micros: Int64)? {
        guard let eq = text.lastIndex(of: "="), eq != text.startIndex, let us = TimeSpan.micros(String(text[text.index(after: eq)...])) else { return nil }
        return (String(text[..<eq]), us)
    }
}

/// What one linking run did.
public struct LinkReport: Sendable, Equatable {
    public struct RuleCount: Sendable, Equatable {
        public var rule: String
        /// Connections the rule tried to link, linked, left with several equally good matches,
        /// and left with none.
        public var candidates = 0, linked = 0, ambiguous = 0, unmatched = 0
    }
    public var rules: [RuleCount] = []
    public var offsetsApplied: [(pattern: String, sources: Int)] = []
    public var linked: Int { rules.reduce(0) { $0 + $1.linked } }

    public static func == (a: LinkReport, b: LinkReport) -> Bool {
        a.rules == b.rules && a.offsetsApplied.map(\.pattern) == b.offsetsApplied.map(\.pattern) && a.offsetsApplied.map(\.sources) == b.offsetsApplied.map(\.sources)
    }
}

/// Links connections found in different sources into one story, following the plugins'
/// `[[link]]` rules: keys first, then outcome and related codes, then time within a window
/// after each source's clock offset. Each connection of a `from` rule joins at most one `to`
/// connection, and each `to` connection takes at most one of each rule, closest first.
///
/// It runs over the whole store after each ingest (and on `tracelens link`), and replaces the
/// links of the last run: changing a window or an offset and linking again gives the links as
/// if they had been used from the start.
public final class Linker {
    package let store: Store
    package let plugins: PluginSet
    private let relations: CodeRelations

    public init(store: Store, plugins: PluginSet) {
        self.store = store
        self.plugins = plugins
        relations = CodeRelations(plugins)
    }

    /// A connection as linking sees it.
    package struct Conn {
        package var id: Int64
        package var source: Int64
        package var rule: String
        package var start: Int64?
        package var end: Int64?
        package var dated: Bool
        package var failed: Bool
        package var failures: [CodeRef]
        package var fields: [String: String]
    }

    public func run(_ options: LinkOptions = LinkOptions()) throws -> LinkReport {
        var report = LinkReport()
        let db = store.db
        var offsets: [Int64: Int64] = [:]
        var paths: [(Int64, String)] = []
        let sourceRows = try db.prepare("SELECT id, path, clock_offset FROM sources")
        while try sourceRows.step() {
            let id = sourceRows.int64(0)
            paths.append((id, sourceRows.string(1) ?? ""))
            offsets[id] = sourceRows.int64(2)
        }
        for (pattern, micros) in options.offsets {
            let hits = paths.filter { Self.pathMatches(pattern, $0.1) }
            report.offsetsApplied.append((pattern, hits.count))
            for (id, _) in hits { offsets[id] = micros }
        }

        var folders: [Int64: String] = [:]
        for (id, path) in paths { folders[id] = path.split(separator: "/").dropLast().joined(separator: "/") }
        let rules = plugins.linkRules
        let ruleNames = Set(rules.flatMap { [$0.from, $0.to] })
        var byRule: [String: [Conn]] = [:]
        if !rules.isEmpty {
            let fieldNames = Set(rules.flatMap { $0.same.flatMap { [$0.fromField, $0.toField] } })
            let keyNames = fieldNames.subtracting(ConnectionRule.columns)
            var extra: [Int64: [String: String]] = [:]
            if !keyNames.isEmpty {
                let q = try db.prepare("SELECT conn, name, value FROM conn_keys WHERE name IN (\(keyNames.map { _ in "?" }.joined(separator: ",")))")
                try q.bind(keyNames.sorted().map { .text($0) })
                while try q.step() { extra[q.int64(0), default: [:]][q.string(1) ?? ""] = q.string(2) }
            }
            let columns = ConnectionRule.columns
            let q = try db.prepare("""
                SELECT id, source, rule, start_time, end_time, outcome, error, related, \(columns.joined(separator: ", "))
                FROM connections WHERE rule IN (\(ruleNames.map { _ in "?" }.joined(separator: ",")))
                """)
            try q.bind(ruleNames.sorted().map { .text($0) })
            while try q.step() {
                let id = q.int64(0)
                var fields = extra[id] ?? [:]
                for (i, name) in columns.enumerated() {
                    if let v = q.string(Int32(8 + i)) { fields[name] = v }
                }
                var failures: [CodeRef] = []
                for text in [q.string(6), q.string(7)].compactMap({ $0 }) {
                    failures += text.split(separator: " ").compactMap { CodeRef($0) }
                }
                let source = q.int64(1)
                let offset = offsets[source] ?? 0
                let start = q.isNull(3) ? nil : q.int64(3)
                let end = q.isNull(4) ? nil : q.int64(4)
                let dated = (start ?? 0) >= 86_400_000_000
                // Only dated times move by the offset; a time of day is compared modulo a day.
                byRule[q.string(2) ?? "", default: []].append(Conn(
                    id: id, source: source, rule: q.string(2) ?? "",
                    start: start.map { $0 + offset }, end: end.map { $0 + offset }, dated: dated,
                    failed: q.string(5) == "failed", failures: failures, fields: fields))
            }
        }

        var links: [(conn: Int64, story: Int64, rule: String, gap: Int64?, evidence: String)] = []
        var linkedFrom: Set<Int64> = []
        for rule in rules {
            var count = LinkReport.RuleCount(rule: rule.name)
            let froms = byRule[rule.from] ?? []
            let tos = (byRule[rule.to] ?? []).sorted { ($0.start ?? .min) < ($1.start ?? .min) }
            let window = options.window ?? rule.window
            let index = TimeIndex(tos)
            var pairs: [(from: Int, to: Int, gap: Int64, distance: Int64)] = []
            var ambiguous: Set<Int> = []
            // Connections without a time, by source and by the set of connections they could be.
            var untimedGroups: [[Int]: [Int]] = [:]
            for (fi, f) in froms.enumerated() where !linkedFrom.contains(f.id) {
                count.candidates += 1
                var found: [(to: Int, gap: Int64, distance: Int64)] = []
                for ti in index.candidates(around: f, window: window) {
                    let t = tos[ti]
                    guard t.source != f.source, compatible(f, t, rule) else { continue }
                    // Without a time (an SDSF capture), only the sources kept beside it in the
                    // same folder are the same case.
                    if f.start == nil && folders[f.source] != folders[t.source] { continue }
                    guard let (gap, distance) = Self.gap(f, t) else {
                        found.append((ti, .max, .max)); continue
                    }
                    if gap <= window { found.append((ti, gap, distance)) }
                }
                // Without time, only a single possible match is a match; with time, the best one
                // must be better than the next: two sessions from one address failing the same way
                // in the same second cannot be told apart, and a wrong link misleads more than none.
                let untimed = found.filter { $0.gap == .max }
                if !untimed.isEmpty && found.count > 1 {
                    if f.start == nil { untimedGroups[[Int(f.source)] + found.map(\.to).sorted(), default: []].append(fi) } else { ambiguous.insert(fi) }
                    continue
                }
                let best = found.sorted { ($0.gap, $0.distance) < ($1.gap, $1.distance) }
                if best.count > 1 && (rule.unique || (best[0].gap == best[1].gap && best[0].distance == best[1].distance)) { ambiguous.insert(fi); continue }
                for c in found { pairs.append((fi, c.to, c.gap, c.distance)) }
            }
            // A source without times still lists its events in order: when n of its connections
            // could each be any of the same n connections, the first goes with the earliest.
            for (key, group) in untimedGroups {
                let targets = Array(key.dropFirst())
                guard group.count == targets.count else { group.forEach { ambiguous.insert($0) }; continue }
                let inOrder = group.sorted { froms[$0].id < froms[$1].id }
                for (fi, ti) in zip(inOrder, targets) { pairs.append((fi, ti, .max, .max)) }
            }
            // Closest pairs first; each side is used once per rule and source (a job log and its
            // SDSF capture both name the same session).
            pairs.sort { ($0.gap, $0.distance, $0.from, $0.to) < ($1.gap, $1.distance, $1.from, $1.to) }
            var usedFrom: Set<Int> = [], usedTo: Set<[Int64]> = []
            for p in pairs where !usedFrom.contains(p.from) && !usedTo.contains([froms[p.from].source, Int64(p.to)]) {
                usedFrom.insert(p.from); usedTo.insert([froms[p.from].source, Int64(p.to)])
                let f = froms[p.from], t = tos[p.to]
                linkedFrom.insert(f.id)
                links.append((f.id, t.id, rule.name, p.gap == .max ? nil : p.distance,
                              evidence(f, t, rule, p.gap == .max ? nil : p.distance, alone: untimedGroups.values.allSatisfy { !$0.contains(p.from) })))
                count.linked += 1
            }
            count.ambiguous = ambiguous.count
            count.unmatched = count.candidates - count.linked - count.ambiguous
            report.rules.append(count)
        }

        try db.transaction {
            for (pattern, micros) in options.offsets {
                for (id, path) in paths where Self.pathMatches(pattern, path) {
                    try db.execute("UPDATE sources SET clock_offset = \(micros) WHERE id = \(id)")
                }
            }
            try db.execute("UPDATE connections SET story = NULL WHERE story IS NOT NULL")
            try db.execute("DELETE FROM links")
            let insert = try db.prepare("INSERT INTO links (conn, story, rule, gap, evidence) VALUES (?, ?, ?, ?, ?)")
            let update = try db.prepare("UPDATE connections SET story = ? WHERE id = ?")
            for l in links {
                try insert.bind([.int(l.conn), .int(l.story), .text(l.rule), l.gap.map { .int($0) } ?? .null, .text(l.evidence)])
                try insert.run()
                try update.bind([.int(l.story), .int(l.conn)])
                try update.run()
            }
        }
        return report
    }

    /// Keys, outcome and codes: everything but time.
    package func compatible(_ f: Conn, _ t: Conn, _ rule: LinkRule) -> Bool {
        // A handshake that failed may never have got as far as a required value (a cipher).
        let failedWithCode = f.failed && f.failures.contains { rule.codes.contains($0.catalogue) }
        for s in rule.same {
            guard let a = f.fields[s.fromField] else { if s.required && !failedWithCode { return false } else { continue } }
            guard let b = t.fields[s.toField] else { continue }
            if a.caseInsensitiveCompare(b) != .orderedSame { return false }
        }
        if rule.outcome && handshakeFailed(f, rule) != t.failed { return false }
        if !rule.codes.isEmpty && f.failed {
            let mine = f.failures.filter { rule.codes.contains($0.catalogue) }
            if let primary = mine.first {
                let theirs = t.failures
                if !theirs.contains(where: { relations.related(primary, $0) }) { return false }
            }
        }
        return true
    }

    package func handshakeFailed(_ f: Conn, _ rule: LinkRule) -> Bool {
        guard f.failed, !(rule.failedWhen.isEmpty && rule.failedWhenCatalogues.isEmpty) else { return f.failed }
        return f.failures.contains { code in
            rule.failedWhenCatalogues.contains(code.catalogue) || rule.failedWhen.contains { relations.canonical($0) == relations.canonical(code) }
        }
    }

    /// How far apart two connections are in time (0 when they overlap) and how far apart they
    /// start; nil when either has no time.
    package static func gap(_ f: Conn, _ t: Conn) -> (Int64, Int64)? {
        guard var fs = f.start, var ts = t.start else { return nil }
        var fe = f.end ?? fs, te = t.end ?? ts
        if !f.dated || !t.dated {
            // A time of day alone: compare within a day.
            let day: Int64 = 86_400_000_000
            let shift = ((ts - fs) % day + day) % day
            let s = shift > day / 2 ? shift - day : shift
            let base = fs
            fs = 0; fe = fe - base
            ts = s; te = s + (te - t.start!)
        }
        let gap = max(0, max(fs, ts) - min(fe, te))
        // A message written when a handshake failed (GLD1116E) is nearest the session's end, one
        // written when it began (EZD1281I) nearest its start.
        return (gap, min(abs(fs - ts), abs(fs - te), abs(fe - te)))
    }

    package func evidence(_ f: Conn, _ t: Conn, _ rule: LinkRule, _ distance: Int64?, alone: Bool = true) -> String {
        var parts: [String] = []
        for s in rule.same {
            if let a = f.fields[s.fromField], t.fields[s.toField] != nil { parts.append("\(s) \(a)") }
        }
        if rule.outcome { parts.append(handshakeFailed(f, rule) ? "both failed" : "both succeeded") }
        if f.failed, let code = f.failures.first(where: { rule.codes.contains($0.catalogue) }),
           let other = t.failures.first(where: { relations.related(code, $0) }) {
            parts.append(code == other ? "same code \(code)" : "\(code) goes with \(other)")
        }
        if let d = distance {
            parts.append(d < 1_000_000 ? "\(d / 1000) ms apart" : "\(Double(d / 100_000) / 10) s apart")
        } else {
            parts.append(alone ? "no time to compare, the only match" : "no time to compare, matched in order")
        }
        return parts.joined(separator: "; ")
    }

    /// `name`, `dir/name`, a full path, or a glob over the path or its last part.
    package static func pathMatches(_ pattern: String, _ path: String) -> Bool {
        if path == pattern || path.hasSuffix("/" + pattern) { return true }
        let base = path.split(separator: "/").last.map(String.init) ?? path
        return fnmatch(pattern, path, 0) == 0 || fnmatch(pattern, base, 0) == 0
    }
}

/// `to` connections in start order, for finding those near a time.
package struct TimeIndex {
    package let conns: [Linker.Conn]
    /// Starts of dated connections, ascending, and their indexes.
    private let starts: [Int64]
    private let order: [Int]
    private let undated: [Int]
    /// Sessions longer than this are not found by a time in their middle (they still are by start).
    private let longest: Int64

    package init(_ conns: [Linker.Conn]) {
        self.conns = conns
        var s: [(Int64, Int)] = [], u: [Int] = []
        var longest: Int64 = 0
        for (i, c) in conns.enumerated() {
            if let start = c.start, c.dated { s.append((start, i)); longest = max(longest, (c.end ?? start) - start) } else { u.append(i) }
        }
        s.sort { $0.0 < $1.0 }
        starts = s.map(\.0); order = s.map(\.1); undated = u
        self.longest = min(longest, 3_600_000_000)
    }

    package func candidates(around f: Linker.Conn, window: Int64) -> [Int] {
        guard let start = f.start, f.dated else { return Array(conns.indices) }
        let lo = start - window - longest, hi = (f.end ?? start) + window
        var i = lowerBound(lo)
        var out: [Int] = []
        while i < starts.count && starts[i] <= hi { out.append(order[i]); i += 1 }
        return out + undated
    }

    private func lowerBound(_ v: Int64) -> Int {
        var lo = 0, hi = starts.count
        while lo < hi { let mid = (lo + hi) / 2; if starts[mid] < v { lo = mid + 1 } else { hi = mid } }
        return lo
    }
}

/// Which codes describe the same failure: equal, or one names the other (or both name a third)
/// in the catalogues' `related` columns.
package struct CodeRelations {
    private var neighbours: [CodeRef: Set<CodeRef>] = [:]
    private let plugins: PluginSet

    package init(_ plugins: PluginSet) {
        self.plugins = plugins
        for c in plugins.catalogues {
            for e in c.entries.values {
                let me = CodeRef(catalogue: c.id, code: c.display(e.value))
                for r in e.related {
                    guard let resolved = plugins.resolve(r) else { continue }
                    let other = CodeRef(catalogue: resolved.catalogue.id, code: resolved.catalogue.display(resolved.value))
                    neighbours[me, default: [me]].insert(other)
                    neighbours[other, default: [other]].insert(me)
                }
            }
        }
    }

    /// The form the store writes (`cms:03353041`), whatever form the reference used.
    package func canonical(_ r: CodeRef) -> CodeRef {
        guard let resolved = plugins.resolve(r) else { return r }
        return CodeRef(catalogue: resolved.catalogue.id, code: resolved.catalogue.display(resolved.value))
    }

    package func related(_ a: CodeRef, _ b: CodeRef) -> Bool {
        let a = canonical(a), b = canonical(b)
        if a == b { return true }
        let na = neighbours[a] ?? [a], nb = neighbours[b] ?? [b]
        return !na.isDisjoint(with: nb)
    }
}
