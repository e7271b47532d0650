import TraceLensInput
import TraceLensRecords
import TraceLensPlugins
import TraceLensCorrelate
import TraceLensRender

/// The terminal end of `watch`: prints records as they are stored, in the `format` rendering,
/// and a one-line verdict for each connection as it ends.
///
/// A file's last record may still grow (continuation lines, or a later read redoes it), so it is
/// held back until its file has been quiet for `holdFor` seconds; a record already printed is
/// never printed again when a later read redoes it.
public final class LivePrinter: FollowObserver {
    public struct Options: Sendable {
        /// Only records that carry a failure code or are at level ERROR, and verdicts of
        /// connections that failed.
        public var errorsOnly = false
        public var colour = false
        public var filter = RecordFilter()
        /// Print verdicts for connections as they end.
        public var verdicts = true
        public var holdFor: Double = 0.25
        /// How long a failure's verdict waits for the other sources that report the same
        /// failure (the job log's GLD1116E after the GSK trace's failed handshake), so that they
        /// share one verdict.
        public var settle: Double = 2
        /// Prefix each record with its file name (when several files are followed).
        public var showFile = true
        public init() {}
    }

    package let plugins: PluginSet
    package let options: Options
    /// The connection fields a rule decodes: an ended connection's verdict shows them.
    package let decodedFields: [String]
    package let output: Output
    package var renderer: TextRenderer
    private let clock: () -> Double
    /// Per source: the last line printed, and records held back.
    private var printedThrough: [Int64: Int] = [:]
    private var held: [Int64: (since: Double, path: String, records: [Record])] = [:]
    /// Connections given a verdict, by source and first line (a redone tail gives new ids).
    /// Only a redone tail can report a connection again, so the last few per source suffice.
    private var judged = RecentSet<String>(capacity: 4096)
    private var fileLabels: [Int64: [UInt8]] = [:]
    /// Counters, for tests and the latency benchmark.
    public private(set) var recordsPrinted = 0
    public private(set) var verdictsPrinted = 0
    /// Called with each record as it is printed (the benchmark times arrivals with it).
    public var onPrint: ((Record) -> Void)?

    public init(plugins: PluginSet, options: Options, output: Output, clock: @escaping () -> Double = Platform.monotonicSeconds) {
        self.plugins = plugins
        self.options = options
        self.output = output
        self.clock = clock
        renderer = TextRenderer(plugins: plugins, colour: options.colour)
        decodedFields = plugins.decodedConnectionFields
    }

    public func observe(_ record: Record, source: Int64, path: String, inTail: Bool) {
        if inTail {
            var h = held[source] ?? (clock(), path, [])
            // A read that redoes the tail starts again at its first record.
            if let first = h.records.first, record.line <= first.line { h.records.removeAll() }
            h.records.append(record)
            h.since = clock()
            held[source] = h
            return
        }
        held[source] = nil
        show(record, source: source, path: path)
    }

    public func connectionsChanged(_ connections: [LiveConnection], source: Int64, path: String) {
        guard options.verdicts else { return }
        for c in connections where c.ended {
            if options.errorsOnly && c.outcome != .failed { continue }
            guard judged.insert("\(source):\(c.firstLine)") else { continue }
            if c.outcome == .failed {
                failures.report(c, source: source, path: path, verdict: { [unowned self] also in verdict(c, path: path, also: also) }, now: clock())
            } else {
                // After the records that led to it: those held back come first.
                pendingVerdicts[source, default: []].append(verdict(c, path: path))
            }
        }
        if held[source]?.records.isEmpty != false { printVerdicts(of: source) }
    }

    private var pendingVerdicts: [Int64: [String]] = [:]
    /// Failures waiting for the other sources that report them.
    private lazy var failures = FailureGroups(plugins: plugins, settle: options.settle)

    private func printVerdicts(of source: Int64) {
        guard let verdicts = pendingVerdicts.removeValue(forKey: source) else { return }
        for v in verdicts { output.buffer.append(Array(v.utf8)) }
        verdictsPrinted += verdicts.count
    }

    public func cycleEnded(now: Double, final: Bool) {
        for (source, h) in held where final || now - h.since >= options.holdFor {
            for r in h.records { show(r, source: source, path: h.path) }
            held[source] = nil
        }
        for source in pendingVerdicts.keys where held[source] == nil { printVerdicts(of: source) }
        // A failure's verdict once its sources have had time to report it, and after the records
        // of every source in it.
        for text in failures.due(now: now, final: final, holding: Set(held.keys)) {
            output.buffer.append(Array(text.utf8))
            verdictsPrinted += 1
        }
        output.flush()
    }

    public var nextTick: Double? {
        [held.values.map { $0.since + options.holdFor }.min(), failures.nextDue].compactMap { $0 }.min()
    }

    private func show(_ record: Record, source: Int64, path: String) {
        guard record.line > printedThrough[source] ?? 0 else { return }
        printedThrough[source] = record.line + max(record.lineCount, 1) - 1
        if options.errorsOnly && !isFailure(record) { return }
        if !options.filter.isEmpty && !options.filter.accepts(record) { return }
        if options.showFile {
            // `name:line ` before the record; the name's bytes are made once per source.
            let name = fileLabels[source] ?? {
                let n = Array(TerminalText.visible(path.split(separator: "/").last.map(String.init) ?? path).utf8)
                fileLabels[source] = n
                return n
            }()
            let out = output.buffer
            if options.colour { out.append(ANSI.dim) }
            out.append(name)
            out.append(0x3A)
            out.write(max: 20) { p in
                var digits = 0, n = record.line
                repeat { digits += 1; n /= 10 } while n > 0
                n = record.line
                for i in stride(from: digits - 1, through: 0, by: -1) { p[i] = 0x30 + UInt8(n % 10); n /= 10 }
                return digits
            }
            if options.colour { out.append(ANSI.reset) }
            out.append(0x20)
        }
        renderer.render(record, into: output.buffer)
        recordsPrinted += 1
        onPrint?(record)
        output.maybeFlush()
    }

    private func isFailure(_ r: Record) -> Bool {
        if r.level == .error { return true }
        return r.codes.contains { plugins.catalogues[$0.catalogue].isFailure($0.value) }
    }

    /// `== FAILED 10.1.0.2:50122  gskssl.65567.trc conn 12  SSL 431: Certificate is revoked. (with …)`,
    /// and `  also gldsrv.joblog conn 14` for the other sources that reported the same failure.
    package func verdict(_ c: LiveConnection, path: String, also: [String] = []) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        // A client's attempt names the server it went to instead (server_host or server_ip).
        let server = c.field("peer_ip") == nil ? c.field("server_host") ?? c.field("server_ip") : nil
        var peer = c.field("peer_ip") ?? server ?? "peer unknown"
        if let port = server == nil ? c.field("peer_port") : c.field("server_port") { peer += ":" + port }
        let outcome = c.outcome == .failed ? "FAILED" : c.outcome == .ok ? "ok" : "ended"
        var line = "== \(outcome) \(peer)  \(name) conn \(c.id)"
        if let t = c.startTime { line += " " + t.string(iso: false) }
        if let f = c.failures.first {
            // Worded as `connections` words it, so a verdict and the stored row read the same.
            line += "  " + PrimaryError.text((plugins.catalogues[f.catalogue], f.value),
                                             related: c.failures.dropFirst().map { (plugins.catalogues[$0.catalogue], $0.value) })
        } else {
            // What went well: the fields a connection rule decodes (the cipher agreed on).
            for name in decodedFields { if let v = c.field(name) { line += "  \(name) \(plugins.shownConnectionField(name, v))" } }
        }
        if !also.isEmpty { line += "  also " + also.joined(separator: ", ") }
        // Peer, fields and file name come from the files followed.
        line = TerminalText.visible(line)
        if options.colour { line = ANSI.painted(line, c.outcome == .failed ? ANSI.red : ANSI.green) }
        return line + "\n"
    }
}

/// Failed connections of several sources that are one failure (the links `ingest` would make,
/// made over the failures seen in the last moments), so that `watch` gives one verdict each.
///
/// A failure waits `settle` seconds for the others; one that turns up later is printed as a
/// line of its own under the same story (`== ... also`), never as a second verdict.
package final class FailureGroups {
    package struct Member {
        var candidate: LinkCandidate
        var source: Int64
        /// `gldsrv.joblog conn 14`
        var label: String
        var verdict: ([String]) -> String
    }
    package struct Group {
        var members: [Member]
        var due: Double
        var printed = false
        var printedCount = 0
        /// The member whose verdict was printed.
        var lead = 0
    }

    private let plugins: PluginSet
    private let engine: LinkEngine
    private let settle: Double
    private var groups: [Group] = []
    private var sources: [Int64: LinkSource] = [:]
    /// Failures remembered for linking: enough for every failure within any rule's window on a
    /// busy server, and no more.
    private let capacity = 256

    package init(plugins: PluginSet, settle: Double) {
        self.plugins = plugins
        engine = LinkEngine(plugins: plugins)
        self.settle = max(0, settle)
    }

    package var nextDue: Double? { groups.filter { !$0.printed }.map(\.due).min() }

    package func report(_ c: LiveConnection, source: Int64, path: String, verdict: @escaping ([String]) -> String, now: Double) {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        sources[source] = sources[source] ?? LinkSource(id: source, path: path)
        let member = Member(candidate: LinkCandidate(c, plugins: plugins), source: source,
                            label: TerminalText.visible("\(name) conn \(c.id)"), verdict: verdict)
        let known = groups.flatMap(\.members)
        let plan = engine.link(known.map(\.candidate) + [member.candidate], sources: Array(sources.values))
        let storyOf = Dictionary(plan.links.map { ($0.conn, $0.story) }, uniquingKeysWith: { first, _ in first })
        let story = storyOf[c.id] ?? c.id
        let sameStory = Set(plan.links.filter { $0.story == story }.map(\.conn) + [story])
        if let g = groups.firstIndex(where: { $0.members.contains { sameStory.contains($0.candidate.id) } }) {
            groups[g].members.append(member)
        } else {
            groups.append(Group(members: [member], due: now + settle))
        }
        // Forget the oldest groups already printed.
        while groups.reduce(0, { $0 + $1.members.count }) > capacity, let first = groups.firstIndex(where: \.printed) {
            groups.remove(at: first)
        }
    }

    /// The verdicts due now: one per failure, led by the story's own connection (the one the
    /// others link to), naming the others; and a line for each source that joined a failure
    /// already printed.
    package func due(now: Double, final: Bool, holding: Set<Int64>) -> [String] {
        var out: [String] = []
        for i in groups.indices {
            let g = groups[i]
            if g.printed {
                // Latecomers to a verdict already given.
                guard g.members.count > g.printedCount else { continue }
                let late = g.members[g.printedCount...]
                out.append("== also reported by " + late.map(\.label).joined(separator: ", ") + ": the same failure as " + g.members[g.lead].label + "\n")
                groups[i].printedCount = g.members.count
                continue
            }
            // A file that never goes quiet does not hold its verdict back for more than twice as long.
            let recordsShown = g.members.allSatisfy { !holding.contains($0.source) } || now >= g.due + settle
            guard final || (now >= g.due && recordsShown) else { continue }
            let lead = leader(g)
            out.append(g.members[lead].verdict(g.members.indices.filter { $0 != lead }.map { g.members[$0].label }))
            groups[i].printed = true
            groups[i].printedCount = g.members.count
            groups[i].lead = lead
        }
        return out
    }

    /// The member the others are linked to; the first when none is.
    private func leader(_ g: Group) -> Int {
        guard g.members.count > 1 else { return 0 }
        let plan = engine.link(g.members.map(\.candidate), sources: Array(sources.values))
        let stories = Set(plan.links.map(\.story))
        return g.members.firstIndex { stories.contains($0.candidate.id) } ?? 0
    }
}

/// The daemon's observer: no terminal, so each connection that ends goes to the log as one
/// line (failures at info, successes at debug).
public final class VerdictLogger: FollowObserver {
    package let log: FollowLog
    package let printer: LivePrinter
    public private(set) var verdicts = 0

    public init(plugins: PluginSet, log: FollowLog) {
        self.log = log
        var o = LivePrinter.Options()
        o.showFile = false
        printer = LivePrinter(plugins: plugins, options: o, output: Output(fd: -1))
    }

    public func observe(_ record: Record, source: Int64, path: String, inTail: Bool) {}

    public func connectionsChanged(_ connections: [LiveConnection], source: Int64, path: String) {
        for c in connections where c.ended {
            let level: LogLevel = c.outcome == .failed ? .info : .debug
            guard level <= log.level else { continue }
            var text = printer.verdict(c, path: path)
            text.removeLast()
            log(level, "connection", ["outcome": c.outcome.rawValue, "path": path, "conn": c.id, "verdict": String(text.dropFirst(3))])
            verdicts += 1
        }
    }

    public func cycleEnded(now: Double, final: Bool) {}
    public var nextTick: Double? { nil }
}

/// A set that remembers only its most recent `capacity` members, so memory stays flat however
/// long the follower runs.
package struct RecentSet<Element: Hashable> {
    package let capacity: Int
    private var members = Set<Element>()
    private var order: [Element] = []
    private var next = 0

    package init(capacity: Int) { self.capacity = capacity }

    /// Adds `e`; false when it was already there.
    package mutating func insert(_ e: Element) -> Bool {
        guard members.insert(e).inserted else { return false }
        if order.count < capacity {
            order.append(e)
        } else {
            members.remove(order[next])
            order[next] = e
            next = (next + 1) % capacity
        }
        return true
    }
}
