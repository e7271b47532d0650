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
    /// Per-source clock offsets (`--offset 'ec-cert-rsa-cipher/client.txt=-3600s'`): added to the times of the
    /// sources whose path matches, and kept in the store for later runs.
    public var offsets: [(pattern: String, micros: Int64)] = []
    /// `--all-matching`: a plain name that matches several sources shifts them all (without it,
    /// that is refused: seven `client.txt` from seven folders are seldom one clock).
    public var allMatching = false

    public init(window: Int64? = nil, offsets: [(pattern: String, micros: Int64)] = []) {
        self.window = window; self.offsets = offsets
    }

    /// The plain names (not globs: a glob asks for several) that match more than one source,
    /// with the paths they match; empty with `allMatching`.
    public func offsetsMatchingSeveral(_ sources: [LinkSource]) -> [OffsetMatchesSeveral] {
        guard !allMatching else { return [] }
        return offsets.compactMap { offset in
            guard !LinkEngine.isGlob(offset.pattern) else { return nil }
            let paths = sources.map(\.path).filter { LinkEngine.pathMatches(offset.pattern, $0) }.sorted()
            return paths.count > 1 ? OffsetMatchesSeveral(pattern: offset.pattern, paths: paths) : nil
        }
    }

    /// Parses `PATTERN=OFFSET` (`ldap.log=+3600s`, `*.joblog=-2s`).
    public static func parseOffset(_ text: String) -> (pattern: String, micros: Int64)? {
        guard let eq = text.lastIndex(of: "="), eq != text.startIndex, let us = TimeSpan.micros(String(text[text.index(after: eq)...])) else { return nil }
        return (String(text[..<eq]), us)
    }
}

/// An `--offset` name that matches several sources, refused before anything is linked.
public struct OffsetMatchesSeveral: Error, Sendable, Equatable, CustomStringConvertible {
    public var pattern: String
    public var paths: [String]

    public var description: String {
        "--offset: '\(pattern)' matches \(paths.count) sources; name one by its path (or more of it), or give --all-matching to shift them all:\n"
            + paths.map { "  " + $0 }.joined(separator: "\n")
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

/// A source as linking sees it: the path `--offset` patterns match (and whose folder pairs
/// time-less captures kept side by side), and the clock offset kept from earlier runs.
public struct LinkSource: Sendable, Equatable {
    public var id: Int64
    public var path: String
    public var clockOffset: Int64
    /// The layout the source was read as (`gld-joblog`), for rules that name layouts.
    public var layout: String?

    public init(id: Int64, path: String, clockOffset: Int64 = 0, layout: String? = nil) {
        self.id = id; self.path = path; self.clockOffset = clockOffset; self.layout = layout
    }

    package var folder: String { path.split(separator: "/").dropLast().joined(separator: "/") }
}

/// A connection as linking is given it: times as the source wrote them (before any clock
/// offset), whether it failed and with which codes, and the fields and keys the rules compare.
public struct LinkCandidate: Sendable {
    public var id: Int64
    public var source: Int64
    /// The connection rule that made it (`gsk-session`, `gld-ssl-failure`).
    public var rule: String
    public var start: Int64?
    public var end: Int64?
    public var failed: Bool
    public var failures: [CodeRef]
    public var fields: [String: String]

    public init(id: Int64, source: Int64, rule: String, start: Int64? = nil, end: Int64? = nil,
                failed: Bool = false, failures: [CodeRef] = [], fields: [String: String] = [:]) {
        self.id = id; self.source = source; self.rule = rule; self.start = start; self.end = end
        self.failed = failed; self.failures = failures; self.fields = fields
    }
}

extension LinkCandidate {
    /// A connection as the correlator holds it (`watch` links the failures it has seen so far
    /// without going to the store), in the form the store would give it.
    public init(_ c: LiveConnection, plugins: PluginSet) {
        let codes = c.failures.map { f -> CodeRef in
            let cat = plugins.catalogues[f.catalogue]
            return CodeRef(catalogue: cat.id, code: cat.display(f.value))
        }
        self.init(id: c.id, source: c.source, rule: c.rule, start: c.startTime?.micros, end: (c.endTime ?? c.startTime)?.micros,
                  failed: c.outcome == .failed, failures: codes,
                  fields: Dictionary(c.fields.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first }))
    }
}

/// One connection joined to the story of another, with why.
public struct Link: Sendable, Equatable {
    public var conn: Int64
    /// The `to` connection: the story `conn` is part of.
    public var story: Int64
    public var rule: String
    /// How close they were in time (microseconds, the nearest of their starts and ends); nil
    /// when either has no time.
    public var gap: Int64?
    public var evidence: String
}

/// What linking decided: the links, the clock offsets `--offset` gave (to keep for later runs),
/// and the counts.
public struct LinkPlan: Sendable {
    public var links: [Link] = []
    public var offsets: [(source: Int64, micros: Int64)] = []
    public var report = LinkReport()
}

/// Links connections found in different sources into one story, following the plugins'
/// `[[link]]` rules: keys first, then outcome and related codes, then time within a window
/// after each source's clock offset. Each connection of a `from` rule joins at most one `to`
/// connection, and each `to` connection takes at most one of each rule, closest first.
///
/// Pure: it is given every connection the rules name and returns every link, so linking again
/// with another window or offset gives the links as if they had been used from the start.
/// Loading and saving are the store's (`Linker`).
public struct LinkEngine: Sendable {
    public let rules: [LinkRule]
    private let relations: CodeRelations

    public init(rules: [LinkRule], plugins: PluginSet) {
        self.rules = rules
        relations = CodeRelations(plugins)
    }

    public init(plugins: PluginSet) {
        self.init(rules: plugins.linkRules, plugins: plugins)
    }

    /// The connection rules whose connections the link rules join.
    public var connectionRules: Set<String> { Set(rules.flatMap { [$0.from, $0.to] }) }

    /// The sources each side of `rule` takes connections from, given which connection rules
    /// each source has connections of (`present`). A rule links only across two sources, so one
    /// without a source on each side (or with the same lone source on both) links nothing.
    public func sides(of rule: LinkRule, present: [Int64: Set<String>], sources: [LinkSource]) -> (from: Set<Int64>, to: Set<Int64>) {
        let layouts = Dictionary(sources.map { ($0.id, $0.layout ?? "") }, uniquingKeysWith: { _, last in last })
        func side(_ name: String, _ formats: [String]) -> Set<Int64> {
            Set(present.filter { $0.value.contains(name) && (formats.isEmpty || formats.contains(layouts[$0.key] ?? "")) }.map(\.key))
        }
        return (side(rule.from, rule.fromFormats), side(rule.to, rule.toFormats))
    }

    /// The fields the rules compare that are connection keys rather than columns.
    public var keyFields: Set<String> {
        Set(rules.flatMap { $0.same.flatMap { [$0.fromField, $0.toField] } }).subtracting(ConnectionRule.columns)
    }

    /// A connection with its source's clock offset applied.
    package struct Conn {
        package var id: Int64
        package var source: Int64
        package var start: Int64?
        package var end: Int64?
        package var dated: Bool
        package var failed: Bool
        package var failures: [CodeRef]
        package var fields: [String: String]

        package init(_ c: LinkCandidate, offset: Int64) {
            // Only dated times move by the offset; a time of day is compared modulo a day.
            id = c.id; source = c.source; dated = (c.start ?? 0) >= 86_400_000_000
            start = c.start.map { $0 + offset }; end = c.end.map { $0 + offset }
            failed = c.failed; failures = c.failures; fields = c.fields
        }
    }

    public func link(_ connections: [LinkCandidate], sources: [LinkSource], options: LinkOptions = LinkOptions()) -> LinkPlan {
        var plan = LinkPlan()
        var offsets = Dictionary(sources.map { ($0.id, $0.clockOffset) }, uniquingKeysWith: { _, last in last })
        for (pattern, micros) in options.offsets {
            let hits = sources.filter { Self.pathMatches(pattern, $0.path) }
            plan.report.offsetsApplied.append((pattern, hits.count))
            for s in hits {
                offsets[s.id] = micros
                plan.offsets.append((s.id, micros))
            }
        }
        let folders = Dictionary(sources.map { ($0.id, $0.folder) }, uniquingKeysWith: { _, last in last })
        let wanted = connectionRules
        var byRule: [String: [Conn]] = [:]
        // In id order, the order a source lists its events in (time-less ones pair by it).
        for c in connections.sorted(by: { $0.id < $1.id }) where wanted.contains(c.rule) {
            byRule[c.rule, default: []].append(Conn(c, offset: offsets[c.source] ?? 0))
        }

        let layouts = Dictionary(sources.map { ($0.id, $0.layout ?? "") }, uniquingKeysWith: { _, last in last })
        func reads(_ c: Conn, _ formats: [String]) -> Bool { formats.isEmpty || formats.contains(layouts[c.source] ?? "") }
        var linkedFrom: Set<Int64> = []
        for rule in rules {
            var count = LinkReport.RuleCount(rule: rule.name)
            let froms = (byRule[rule.from] ?? []).filter { reads($0, rule.fromFormats) }
            let tos = (byRule[rule.to] ?? []).filter { reads($0, rule.toFormats) }.sorted { ($0.start ?? .min) < ($1.start ?? .min) }
            let window = options.window ?? rule.window
            let index = TimeIndex(tos)
            var pairs: [(from: Int, to: Int, gap: Int64, distance: Int64)] = []
            var ambiguous: Set<Int> = []
            // Connections without a time, by source and by the set of connections they could be.
            var untimedGroups: [[Int]: [Int]] = [:]
            var copied: Set<Int> = []
            if rule.copy {
                for (fi, ti) in copies(froms, tos, rule, linkedFrom: linkedFrom, folders: folders) {
                    let f = froms[fi], t = tos[ti]
                    copied.insert(fi)
                    count.candidates += 1; count.linked += 1
                    linkedFrom.insert(f.id)
                    var evidence = evidence(f, t, rule, nil).components(separatedBy: "; ").filter { !$0.hasPrefix("no time") }
                    evidence.append("a copy: the same connections in the same order")
                    plan.links.append(Link(conn: f.id, story: t.id, rule: rule.name, gap: nil, evidence: evidence.joined(separator: "; ")))
                }
            }
            for (fi, f) in froms.enumerated() where !linkedFrom.contains(f.id) && !copied.contains(fi) {
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
                let distance = p.gap == .max ? nil : p.distance
                plan.links.append(Link(conn: f.id, story: t.id, rule: rule.name, gap: distance,
                                       evidence: evidence(f, t, rule, distance, alone: untimedGroups.values.allSatisfy { !$0.contains(p.from) })))
                count.linked += 1
            }
            count.ambiguous = ambiguous.count
            count.unmatched = count.candidates - count.linked - count.ambiguous
            plan.report.rules.append(count)
        }
        plan.links = Self.toStories(plan.links)
        return plan
    }

    /// A story is a connection linked to nothing: a link to a connection that is itself linked
    /// (an SDSF capture to its job log, the job log to the GSK session) goes on to that one's
    /// story, and says through which connection.
    package static func toStories(_ links: [Link]) -> [Link] {
        let storyOf = Dictionary(links.map { ($0.conn, $0.story) }, uniquingKeysWith: { first, _ in first })
        return links.map { link in
            var l = link, seen: Set<Int64> = [l.conn]
            var via: [Int64] = []
            while let next = storyOf[l.story], seen.insert(l.story).inserted {
                via.append(l.story); l.story = next
            }
            // A cycle (rules that link both ways) ends where it came round: no story then.
            if l.story == l.conn { return link }
            if !via.isEmpty { l.evidence += "; through conn " + via.map(String.init).joined(separator: ", ") }
            return l
        }
    }

    /// For a `copy` rule: each `from` source's connections (in the order it lists them) laid over
    /// a stretch of one `to` source's connections, each pair compatible. Only a single such
    /// place counts: a capture that fits two places in the job log is left to be matched one
    /// by one. Returns (from index, to index) pairs.
    package func copies(_ froms: [Conn], _ tos: [Conn], _ rule: LinkRule, linkedFrom: Set<Int64>, folders: [Int64: String]) -> [(Int, Int)] {
        var out: [(Int, Int)] = []
        let fromSources = Dictionary(grouping: froms.indices.filter { !linkedFrom.contains(froms[$0].id) }, by: { froms[$0].source })
        let toSources = Dictionary(grouping: tos.indices, by: { tos[$0].source })
        for (source, fs) in fromSources.sorted(by: { $0.key < $1.key }) {
            let fs = fs.sorted { froms[$0].id < froms[$1].id }
            var places: [(to: [Int], at: Int)] = []
            for (toSource, ts) in toSources where toSource != source && folders[toSource] == folders[source] {
                let ts = ts.sorted { tos[$0].id < tos[$1].id }
                guard ts.count >= fs.count else { continue }
                for at in 0...(ts.count - fs.count) where fs.indices.allSatisfy({ i in fits(froms[fs[i]], tos[ts[at + i]], rule) }) {
                    places.append((ts, at))
                }
            }
            guard places.count == 1, let place = places.first else { continue }
            for (i, fi) in fs.enumerated() { out.append((fi, place.to[place.at + i])) }
        }
        return out
    }

    /// Compatible, and within the window when both have a time.
    private func fits(_ f: Conn, _ t: Conn, _ rule: LinkRule) -> Bool {
        guard compatible(f, t, rule) else { return false }
        if let (gap, _) = Self.gap(f, t) { return gap <= rule.window }
        return true
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

    /// True when `pattern` has glob characters (`*`, `?`, `[`).
    public static func isGlob(_ pattern: String) -> Bool { pattern.contains { "*?[".contains($0) } }

    /// `name`, `dir/name`, a full path, or a glob over the path or its last part.
    public static func pathMatches(_ pattern: String, _ path: String) -> Bool {
        if path == pattern || path.hasSuffix("/" + pattern) { return true }
        let base = path.split(separator: "/").last.map(String.init) ?? path
        return fnmatch(pattern, path, 0) == 0 || fnmatch(pattern, base, 0) == 0
    }
}

/// `to` connections in start order, for finding those near a time.
package struct TimeIndex {
    package let conns: [LinkEngine.Conn]
    /// Starts of dated connections, ascending, and their indexes.
    private let starts: [Int64]
    private let order: [Int]
    private let undated: [Int]
    /// Sessions longer than this are not found by a time in their middle (they still are by start).
    private let longest: Int64

    package init(_ conns: [LinkEngine.Conn]) {
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

    package func candidates(around f: LinkEngine.Conn, window: Int64) -> [Int] {
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
package struct CodeRelations: Sendable {
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
