import TraceLensInput
import TraceLensRecords
import TraceLensPlugins
import TraceLensStore
import TraceLensRender
import TraceLensDecode
import TraceLensQuery
import TraceLensDiagnose

/// `tracelens report -o report.html [CONN...|--all]`: one self-contained HTML file (inline CSS
/// and SVG, no script from elsewhere) with the sources read, the failures grouped by finding, a
/// timeline of connections per peer, and for each failed connection its diagnosis, evidence,
/// ladder and records. It prints to PDF as it shows.
public struct ReportRun {
    public let queries: StoreQueries
    /// At most this many records of a connection are shown; the report says when there were more.
    public var recordLimit = 200

    public init(queries: StoreQueries, recordLimit: Int = 200) {
        self.queries = queries
        self.recordLimit = recordLimit
    }

    public enum Problem: Error, CustomStringConvertible {
        case cannotWrite(path: String, reason: String)
        public var description: String {
            switch self {
            case let .cannotWrite(path, reason): return "cannot write \(path): \(reason)"
            }
        }
    }

    /// What was written: how many connections the report describes.
    public struct Summary { public var failed: Int; public var connections: Int }

    /// With `report --redact`: the report as `redact` would copy it, every value any stored
    /// record or source path holds replaced by its stand-in (these extra words too); the mapping
    /// goes to `mapping`, owner only.
    public var redaction: (words: [String], mapping: String)?

    /// Writes the report of `connections` (empty: every failed connection) to `path`.
    public func write(to path: String, connections: [Int64]) throws -> Summary {
        var (html, summary) = try html(connections: connections)
        if let redaction {
            let redactor = Redactor(plugins: queries.plugins, words: redaction.words)
            // Learned from everything the store holds, so a value is replaced wherever the report shows it.
            let q = try queries.store.db.prepare("SELECT path FROM sources UNION ALL SELECT text FROM records")
            while try q.step() { redactor.learn(q.string(0) ?? "") }
            html = redactor.redacted(html)
            try RedactRun.writeMapping(redactor.entries, to: redaction.mapping)
        }
        let fd = Platform.openForWriting(path, truncate: true, mode: 0o644)
        guard fd >= 0 else { throw Problem.cannotWrite(path: path, reason: Platform.errorText(Platform.lastError)) }
        defer { Platform.close(fd) }
        guard Platform.writeAll(fd, Array(html.utf8)) else { throw Problem.cannotWrite(path: path, reason: Platform.errorText(Platform.lastError)) }
        return summary
    }

    /// The report as one HTML text.
    public func html(connections: [Int64]) throws -> (String, Summary) {
        let db = queries.store.db
        let diagnoses = try Doctor(plugins: queries.plugins).diagnose(queries.store, connections: connections)
        let story = ConnectionStory(queries: queries)
        var h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>TraceLens report</title>\n<style>\(Self.css)</style></head><body>\n"
        h += "<header><h1>TraceLens report</h1><p id=\"generated\">\(diagnoses.count) failed connection\(diagnoses.count == 1 ? "" : "s") described</p></header>\n"

        // The index.
        h += "<nav id=\"index\"><p><a href=\"#findings\">Failures by finding</a> · <a href=\"#timeline\">Timeline</a> · <a href=\"#sources\">Sources</a> · <a href=\"#connections\">Failed connections</a>: "
        h += diagnoses.map { "<a href=\"#conn-\($0.connection)\" title=\"\(HTML.escape(Self.firstLine($0.summary)))\">\($0.connection)</a>" }.joined(separator: " ")
        h += "</p></nav>\n"

        // Failures grouped by finding.
        var groups: [(title: String, rule: String, conns: [Int64])] = []
        for d in diagnoses {
            let keys = d.findings.isEmpty ? [("No finding: " + (Self.firstLine(d.summary)), "")] : d.findings.map { ($0.title, $0.rule) }
            for (title, rule) in keys {
                if let i = groups.firstIndex(where: { $0.title == title && $0.rule == rule }) { groups[i].conns.append(d.connection) }
                else { groups.append((title, rule, [d.connection])) }
            }
        }
        groups.sort { $0.conns.count > $1.conns.count }
        h += "<section id=\"findings\"><h2>Failures by finding</h2>"
        if groups.isEmpty { h += "<p>No failed connection.</p>" }
        else {
            h += "<table><thead><tr><th>finding</th><th>count</th><th>connections</th></tr></thead><tbody>"
            for g in groups {
                let links = g.conns.map { "<a href=\"#conn-\($0)\">\($0)</a>" }.joined(separator: " ")
                h += "<tr><td>\(HTML.escape(g.title))\(g.rule.isEmpty ? "" : " <span class=\"rule\">\(HTML.escape(g.rule))</span>")</td><td class=\"n\">\(g.conns.count)</td><td>\(links)</td></tr>"
            }
            h += "</tbody></table>"
        }
        h += "</section>\n"

        // The timeline: one row per peer, one mark per connection.
        h += "<section id=\"timeline\"><h2>Timeline of connections per peer</h2>" + (try timeline(failedHeads: Set(diagnoses.map(\.connection)))) + "</section>\n"

        // Sources and their spans.
        let folder = try Self.commonFolder(db)
        h += "<section id=\"sources\"><h2>Sources</h2>" + (folder.isEmpty ? "" : "<p>Under <code>\(HTML.escape(folder))</code></p>") + "<table><thead><tr><th>file</th><th>layout</th><th>first</th><th>last</th><th>records</th><th>connections</th><th>failed</th></tr></thead><tbody>"
        let s = try db.prepare("""
            SELECT s.path, s.layout, s.first_time, s.last_time, s.records,
                   (SELECT count(*) FROM connections c WHERE c.source = s.id),
                   (SELECT count(*) FROM connections c WHERE c.source = s.id AND c.outcome = 'failed')
            FROM sources s ORDER BY s.id
            """)
        while try s.step() {
            let cells = [Self.relative(s.string(0) ?? "", to: folder), s.string(1) ?? "", Self.time(s.isNull(2) ? nil : s.int64(2)), Self.time(s.isNull(3) ? nil : s.int64(3)),
                         String(s.int64(4)), String(s.int64(5)), String(s.int64(6))]
            h += "<tr>" + cells.enumerated().map { i, c in "<td\(i >= 4 ? " class=\"n\"" : "")>\(HTML.escape(c))</td>" }.joined() + "</tr>"
        }
        h += "</tbody></table></section>\n"

        // Each failed connection.
        h += "<section id=\"connections\"><h2>Failed connections</h2>"
        for d in diagnoses {
            h += "<article class=\"connection\" id=\"conn-\(d.connection)\"><h3>Connection \(d.connection)</h3>"
            h += "<p class=\"summary\">\(HTML.escape(d.summary))</p>"
            if let error = queries.errorText(d.error, d.related) { h += "<p class=\"error\">\(HTML.escape(error))</p>" }
            h += "<div class=\"diagnosis\">"
            if d.findings.isEmpty { h += "<p>No rule explains this failure.</p>" }
            for f in d.findings {
                h += "<div class=\"finding\"><h4>\(HTML.escape(f.title)) <span class=\"rule\">\(HTML.escape(f.rule))</span></h4>"
                h += "<p><b>Cause:</b> \(HTML.escape(f.cause))</p><p><b>Action:</b> \(HTML.escape(f.action))</p>"
                if !f.doc.isEmpty { h += "<p class=\"doc\">See: \(HTML.escape(f.doc))</p>" }
                if !f.evidence.isEmpty {
                    h += "<ul class=\"evidence\">" + f.evidence.map { "<li><code>\(HTML.escape($0.file)):\($0.line)</code> \(HTML.escape($0.text))</li>" }.joined() + "</ul>"
                }
                h += "</div>"
            }
            h += "</div>"
            let loaded = try story.load(d.connection)
            h += "<h4>Ladder</h4><div class=\"ladder\">" + (try story.ladder(loaded).svg()) + "</div>"
            let lines = try story.recordLines(loaded, limit: recordLimit)
            let total = loaded.rows.count
            h += "<details><summary>Records (\(total < recordLimit ? "\(total)" : "first \(lines.count) of \(total)"))</summary><pre>"
            for l in lines { h += "<span class=\"at\">\(HTML.escape(l.file)):\(l.line)</span> " + HTML.escape(l.text) }
            h += "</pre>"
            if total > recordLimit { h += "<p class=\"capped\">\(total - recordLimit) more records not shown (at most \(recordLimit) per connection): tracelens show \(d.connection)</p>" }
            h += "</details></article>\n"
        }
        if diagnoses.isEmpty { h += "<p>No failed connection.</p>" }
        h += "</section>\n<footer>Made by tracelens report.</footer>\n"
        // A script error shows on the page, where a test (or a reader) sees it.
        h += "<script>window.addEventListener('error', function (e) { var p = document.createElement('p'); p.className = 'script-error'; p.textContent = 'script error: ' + e.message; document.body.appendChild(p); }); document.body.setAttribute('data-loaded', 'yes');</script>\n"
        h += "</body></html>\n"
        return (h, Summary(failed: diagnoses.count, connections: diagnoses.count))
    }

    /// One row per peer; time runs across; a failed connection is a red mark linking to it.
    func timeline(failedHeads: Set<Int64>) throws -> String {
        let q = try queries.store.db.prepare("SELECT id, coalesce(peer_ip, ''), start_time, outcome, coalesce(story, id) FROM connections WHERE start_time IS NOT NULL ORDER BY start_time, id")
        var marks: [(id: Int64, peer: String, time: Int64, failed: Bool, head: Int64)] = []
        while try q.step() { marks.append((q.int64(0), q.string(1) ?? "", q.int64(2), q.string(3) == "failed", q.int64(4))) }
        guard let first = marks.map(\.time).min() else { return "<p>No connection with a time.</p>" }
        var peers: [String] = []
        for m in marks where !peers.contains(m.peer) { peers.append(m.peer) }
        peers.sort { ($0.isEmpty ? 1 : 0, $0) < ($1.isEmpty ? 1 : 0, $1) }
        let label = 150, width = 1000, row = 22, top = 24
        // Time runs across, but a quiet spell longer than an hour (traces of different days)
        // takes the room of an hour and is marked by a break: the marks stay apart.
        let times = Array(Set(marks.map(\.time))).sorted()
        let hour: Int64 = 3_600_000_000
        var position: [Int64: Double] = [:]
        var breaks: [(at: Double, time: Int64)] = [(0, first)]
        var at = 0.0
        for (i, t) in times.enumerated() {
            if i > 0 {
                let gap = t - times[i - 1]
                at += 1 + Double(min(gap, hour)) / Double(hour) * 20
                if gap > hour { breaks.append((at, t)) }
            }
            position[t] = at
        }
        let span = max(at, 1)
        let height = top + row * peers.count + 10
        func x(_ t: Int64) -> Int { label + 10 + Int((position[t] ?? 0) / span * Double(width - label - 20)) }
        func x(_ p: Double) -> Int { label + 10 + Int(p / span * Double(width - label - 20)) }
        var s = "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\">"
        var lastLabel = -1000
        for b in breaks {
            let bx = x(b.at)
            if b.at > 0 { s += "<line x1=\"\(bx - 3)\" y1=\"18\" x2=\"\(bx - 3)\" y2=\"\(height - 4)\" class=\"break\"/>" }
            guard bx - lastLabel > 130, bx < width - 60 else { continue }
            s += "<text x=\"\(bx)\" y=\"14\" class=\"axis\">\(HTML.escape(String(Self.time(b.time).prefix(16))))</text>"
            lastLabel = bx
        }
        for (i, p) in peers.enumerated() {
            let y = top + row * i + row / 2
            s += "<text x=\"\(label)\" y=\"\(y + 4)\" text-anchor=\"end\" class=\"peer\">\(HTML.escape(p.isEmpty ? "peer unknown" : p))</text>"
            s += "<line x1=\"\(label + 10)\" y1=\"\(y)\" x2=\"\(width - 10)\" y2=\"\(y)\" class=\"row\"/>"
            for m in marks where m.peer == p {
                let mark = "<circle cx=\"\(x(m.time))\" cy=\"\(y)\" r=\"5\" class=\"\(m.failed ? "failed" : "ok")\"><title>connection \(m.id) \(HTML.escape(Self.time(m.time)))\(m.failed ? " failed" : "")</title></circle>"
                s += failedHeads.contains(m.head) ? "<a href=\"#conn-\(m.head)\">\(mark)</a>" : mark
            }
        }
        return s + "</svg><p class=\"legend\"><span class=\"dot failed\"></span> failed <span class=\"dot ok\"></span> other</p>"
    }

    static func time(_ micros: Int64?) -> String {
        guard let micros else { return "" }
        return Timestamp(micros: micros, fractionDigits: micros % 1_000_000 == 0 ? 0 : 3, hasDate: micros >= 86_400_000_000).string(iso: true)
    }

    /// The folder all sources are in (with its trailing slash), or empty.
    static func commonFolder(_ db: Database) throws -> String {
        let q = try db.prepare("SELECT path FROM sources")
        var common: [Substring]?
        while try q.step() {
            let parts = (q.string(0) ?? "").split(separator: "/", omittingEmptySubsequences: false).dropLast()
            common = common.map { c in Array(zip(c, parts).prefix { $0 == $1 }.map(\.0)) } ?? Array(parts)
        }
        guard let common, common.count > 1 else { return "" }
        return common.joined(separator: "/") + "/"
    }

    static func relative(_ path: String, to folder: String) -> String {
        folder.isEmpty || !path.hasPrefix(folder) ? path : String(path.dropFirst(folder.count))
    }

    static func firstLine(_ s: String) -> String { String(s.split(separator: "\n").first ?? "") }

    static let css = """
        body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; max-width: 1200px; }
        h1 { margin-bottom: 0; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
        table { border-collapse: collapse; } th, td { border: 1px solid #ddd; padding: 2px 8px; text-align: left; vertical-align: top; }
        td.n { text-align: right; } .rule { color: #777; font-size: 85%; font-family: monospace; }
        .error { color: #b00; font-weight: bold; } .finding { border-left: 4px solid #c60; padding-left: 10px; margin: 8px 0; }
        .evidence code, .at { color: #555; } pre { font-size: 12px; white-space: pre-wrap; background: #f7f7f7; padding: 8px; }
        svg text { font: 12px monospace; fill: #222; } svg .party { font-weight: bold; } svg .lifeline { stroke: #999; stroke-dasharray: 4 3; }
        svg .arrow { stroke: #245; stroke-width: 1.5; } svg .dot { fill: #555; } svg .note { fill: #444; }
        svg .failing text { fill: #c00; font-weight: bold; } svg .failing .arrow { stroke: #c00; } svg .failing .dot { fill: #c00; }
        svg .row { stroke: #eee; } svg .break { stroke: #bbb; stroke-dasharray: 2 2; } svg circle.failed { fill: #c00; } svg circle.ok { fill: #3a3; }
        .legend .dot { display: inline-block; width: 10px; height: 10px; border-radius: 5px; } .legend .failed { background: #c00; } .legend .ok { background: #3a3; }
        .ladder { overflow-x: auto; } article.connection { margin-bottom: 2em; } .capped { color: #a60; } .script-error { color: red; }
        @media print {
          body { margin: 0; font-size: 11px; max-width: none; } nav#index { page-break-after: always; }
          article.connection { page-break-before: always; } details > summary { list-style: none; }
          a { color: inherit; text-decoration: none; } svg { max-width: 100%; height: auto; }
        }
        """
}
