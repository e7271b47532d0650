import TraceLensDecode
import TraceLensPlugins
import TraceLensCorrelate

/// Linking over a store: loads the connections the link rules name, lets `LinkEngine` decide,
/// and replaces the links of the last run with its links. It runs after each ingest (and on
/// `tracelens link`); `--offset` values are kept in `sources.clock_offset` for later runs.
public final class Linker {
    package let store: Store
    package let engine: LinkEngine

    public init(store: Store, plugins: PluginSet) {
        self.store = store
        engine = LinkEngine(plugins: plugins)
    }

    public func run(_ options: LinkOptions = LinkOptions()) throws -> LinkReport {
        let sources = try store.linkSources()
        // Refused before anything changes: the links and kept offsets stay as they were.
        if let several = options.offsetsMatchingSeveral(sources).first { throw several }
        // Only the connections of rules that can join two sources here are loaded: linking
        // holds them all in memory (a 1 GB trace alone has 600k, some 450 MB as candidates).
        let present = try store.connectionRulesBySource()
        var loaded: Set<String> = []
        var idle: [(rule: String, from: Set<Int64>, connectionRule: String)] = []
        for rule in engine.rules {
            let sides = engine.sides(of: rule, present: present, sources: sources)
            if sides.from.isEmpty || sides.to.isEmpty || (sides.from.count == 1 && sides.from == sides.to) {
                idle.append((rule.name, sides.from, rule.from))
            } else {
                loaded.formUnion([rule.from, rule.to])
            }
        }
        let connections = loaded.isEmpty ? [] : try store.linkCandidates(rules: loaded, keys: engine.keyFields)
        var plan = engine.link(connections, sources: sources, options: options)
        // A rule with nothing to join still says how many connections it had (all unmatched),
        // less those an earlier rule linked, as the engine would have counted them.
        for (rule, from, connectionRule) in idle where !from.isEmpty {
            guard let i = plan.report.rules.firstIndex(where: { $0.rule == rule }), plan.report.rules[i].candidates == 0 else { continue }
            let earlier = Set(engine.rules.prefix { $0.name != rule }.map(\.name))
            let linked = Set(plan.links.filter { earlier.contains($0.rule) }.map(\.conn))
            let n = try store.connectionCount(rule: connectionRule, sources: from, excluding: linked)
            plan.report.rules[i].candidates = n
            plan.report.rules[i].unmatched = n
        }
        try store.replaceLinks(plan)
        return plan.report
    }

    package static func pathMatches(_ pattern: String, _ path: String) -> Bool {
        LinkEngine.pathMatches(pattern, path)
    }
}

extension Store {
    /// Every source, with the clock offset kept for it.
    package func linkSources() throws -> [LinkSource] {
        let q = try db.prepare("SELECT id, path, clock_offset, layout FROM sources")
        var sources: [LinkSource] = []
        while try q.step() { sources.append(LinkSource(id: q.int64(0), path: q.string(1) ?? "", clockOffset: q.int64(2), layout: q.string(3))) }
        return sources
    }

    /// Which connection rules each source has connections of.
    package func connectionRulesBySource() throws -> [Int64: Set<String>] {
        let q = try db.prepare("SELECT DISTINCT source, rule FROM connections")
        var out: [Int64: Set<String>] = [:]
        while try q.step() { out[q.int64(0), default: []].insert(q.string(1) ?? "") }
        return out
    }

    /// How many connections of one connection rule these sources have, but for `excluding`.
    package func connectionCount(rule: String, sources: Set<Int64>, excluding: Set<Int64>) throws -> Int {
        func list(_ ids: Set<Int64>) -> SQLValue { .text("[" + ids.sorted().map(String.init).joined(separator: ",") + "]") }
        let q = try db.prepare("""
            SELECT count(*) FROM connections WHERE rule = ?1 AND source IN (SELECT value FROM json_each(?2))
                AND id NOT IN (SELECT value FROM json_each(?3))
            """)
        try q.bind([.text(rule), list(sources), list(excluding)])
        return try q.step() ? q.int(0) : 0
    }

    /// The connections of these connection rules, with the columns and the named keys as fields.
    package func linkCandidates(rules: Set<String>, keys: Set<String>) throws -> [LinkCandidate] {
        var extra: [Int64: [String: String]] = [:]
        if !keys.isEmpty {
            let q = try db.prepare("SELECT conn, name, value FROM conn_keys WHERE name IN (\(keys.map { _ in "?" }.joined(separator: ",")))")
            try q.bind(keys.sorted().map { .text($0) })
            while try q.step() { extra[q.int64(0), default: [:]][q.string(1) ?? ""] = q.string(2) }
        }
        let columns = ConnectionRule.columns
        let q = try db.prepare("""
            SELECT id, source, rule, start_time, end_time, outcome, error, related, \(columns.joined(separator: ", "))
            FROM connections WHERE rule IN (\(rules.map { _ in "?" }.joined(separator: ","))) ORDER BY id
            """)
        try q.bind(rules.sorted().map { .text($0) })
        var candidates: [LinkCandidate] = []
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
            candidates.append(LinkCandidate(
                id: id, source: q.int64(1), rule: q.string(2) ?? "",
                start: q.isNull(3) ? nil : q.int64(3), end: q.isNull(4) ? nil : q.int64(4),
                failed: q.string(5) == "failed", failures: failures, fields: fields))
        }
        return candidates
    }

    /// Keeps the offsets the plan gave and makes the links (and each connection's story) the
    /// plan's, in one transaction. Only what differs is written, so a link pass that finds what
    /// the last one found changes no row and revises no connection (export sinks follow revisions).
    package func replaceLinks(_ plan: LinkPlan) throws {
        try db.transaction {
            for (source, micros) in plan.offsets {
                try db.execute("UPDATE sources SET clock_offset = \(micros) WHERE id = \(source)")
            }
            struct Stored: Equatable { var story: Int64; var rule: String; var gap: Int64?; var evidence: String }
            var stored: [Int64: Stored] = [:]
            let existing = try db.prepare("SELECT conn, story, rule, gap, evidence FROM links")
            while try existing.step() {
                stored[existing.int64(0)] = Stored(story: existing.int64(1), rule: existing.string(2) ?? "",
                                                   gap: existing.isNull(3) ? nil : existing.int64(3), evidence: existing.string(4) ?? "")
            }
            let remove = try db.prepare("DELETE FROM links WHERE conn = ?")
            let insert = try db.prepare("INSERT INTO links (conn, story, rule, gap, evidence) VALUES (?, ?, ?, ?, ?)")
            let update = try db.prepare("UPDATE connections SET story = ? WHERE id = ?")
            var planned = Set<Int64>()
            for l in plan.links {
                planned.insert(l.conn)
                let wanted = Stored(story: l.story, rule: l.rule, gap: l.gap, evidence: l.evidence)
                let old = stored[l.conn]
                if old == wanted { continue }
                if old != nil {
                    try remove.bind([.int(l.conn)])
                    try remove.run()
                }
                try insert.bind([.int(l.conn), .int(l.story), .text(l.rule), l.gap.map { .int($0) } ?? .null, .text(l.evidence)])
                try insert.run()
                try update.bind([.int(l.story), .int(l.conn)])
                try update.run()
            }
            for conn in stored.keys where !planned.contains(conn) {
                try remove.bind([.int(conn)])
                try remove.run()
                try update.bind([.null, .int(conn)])
                try update.run()
            }
            // A story set without a link row (not written by this code, but kept true).
            try db.execute("UPDATE connections SET story = NULL WHERE story IS NOT NULL AND id NOT IN (SELECT conn FROM links)")
        }
    }
}
