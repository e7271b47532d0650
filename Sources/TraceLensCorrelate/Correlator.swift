#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TraceLensRecords
import TraceLensDecode
import TraceLensPlugins

/// One connection (TLS session) as correlation builds it. Written to the store when it changes.
public final class LiveConnection {
    public enum Outcome: String, Sendable { case open, ok, failed }

    public let id: Int64
    public let source: Int64
    public let rule: String
    public var lane: String
    public var process: String?
    public var thread: String?
    public var startTime: Timestamp?
    public var endTime: Timestamp?
    public var firstLine: Int
    public var lastLine: Int
    /// Captured values by name, first one wins (`peer_ip`, `cipher`, `handle`, ...).
    public var fields: [(name: String, value: String)] = []
    /// Keys not yet written to the store.
    package var newKeys: [(name: String, value: String)] = []
    /// Distinct failure codes in the order seen, except that the primary error (the first code
    /// that is not a consequence, such as an alert sent) is moved to the front.
    public var failures: [(catalogue: Int, value: CodeValue)] = []
    package var primaryIsCause = false
    public var outcome: Outcome = .open
    public var ended = false
    /// Index of the last start rule this connection passed (open = 0, init = 1, ...).
    package var stage: Int
    public var records = 0
    package var dirty = true

    package init(id: Int64, source: Int64, rule: String, lane: String, line: Int, stage: Int) {
        self.id = id; self.source = source; self.rule = rule; self.lane = lane
        firstLine = line; lastLine = line; self.stage = stage
    }

    public func field(_ name: String) -> String? { fields.first { $0.name == name }?.value }
}

/// Assigns each record of one source to a connection, following a plugin's `ConnectionRule`.
///
/// A lane (a thread, named by the rule's lane fields) carries at most one connection at a time
/// and many over its life. A start record opens a connection on its lane; captures describe it;
/// a route capture (a handle seen on another thread) moves a lane to the connection that holds
/// the value; an outcome record with a failure code fails and ends it; an end record ends it.
/// Records on a lane with no connection stay unlinked.
public final class Correlator {
    public let rule: ConnectionRule
    package let plugins: PluginSet
    package let source: Int64
    /// The next connection id, shared by the correlators of one source (a mixed file has one
    /// per connection rule of its layouts) so their ids never collide.
    package final class IDs { package var next: Int64; package init(_ next: Int64) { self.next = next } }
    private let ids: IDs
    private var nextID: Int64 {
        get { ids.next }
        set { ids.next = newValue }
    }
    /// Each lane seen, by number: its name (the rule's lane fields joined) and current
    /// connection. Records find their lane by the bytes of its fields (`laneSlot`), so no
    /// string is built or hashed per record.
    private struct Lane { let name: String; var conn: LiveConnection? }
    private var lanes: [Lane] = []
    /// Lanes by name (restored lanes, and lanes whose bytes decode to the same name).
    private var laneByName: [String: Int] = [:]
    /// Lanes by a hash of their fields' bytes, with the bytes to check it against.
    private var laneByHash: [UInt64: (bytes: [UInt8], lane: Int)] = [:]
    /// Connections by key value (`handle=2A53C018`): open ones, plus recently ended ones so a
    /// close after a failed handshake still finds its connection.
    private var byKey: [String: LiveConnection] = [:]
    private var recentlyEnded: [LiveConnection] = []
    private let recentLimit = 4096
    /// Connections changed since the last `takeChanges()`.
    private var changed: [LiveConnection] = []
    private var captures = Captures()
    private let consequenceCatalogues: Set<Int>
    /// Connections opened so far in this run.
    public private(set) var created = 0
    private var laneScratch: [UInt8] = []
    private var lastLaneBytes: [UInt8] = []
    private var lastLane = -1
    private let laneless: Bool
    /// The rule's selectors and captures, hoisted out of the rule once so the per-record loop
    /// reads them in place (walking `rule.captures` copied each capture and its references).
    private let laneFields: ContiguousArray<StandardField>
    private let starts, ends, outcomes, startsIfNone: ContiguousArray<Selector>
    /// A rule's `RecordSelector` as plain values (no reference to retain and release each time
    /// one is tried, ten or so per record): function names as ranges of `nameBytes`, the message
    /// template as an index into `selectorTemplates`.
    private struct Selector {
        let level: Level?
        /// Ranges `firstName ..< firstName + names` of `nameRanges`; `names` -1: any function.
        let firstName: Int, names: Int
        /// -1: no message template.
        let message: Int
    }
    private let nameBytes: UnsafeMutablePointer<UInt8>
    private let nameRanges: UnsafeMutablePointer<Range<Int>>
    private let selectorTemplates: ContiguousArray<Template>
    private struct CaptureSpec {
        let selector: Selector
        let messages: ContiguousArray<Template>
        let role: ConnectionRule.CaptureRole
        /// A code capture: the catalogue's index (nil: not loaded, the capture finds nothing) and the field.
        let code: (index: Int?, field: String)?
        let values: [(name: String, value: String)]
    }
    private let captureSpecs: ContiguousArray<CaptureSpec>
    /// Values captured from the record being assigned (kept to reuse its storage).
    private var found: [(name: String, value: String, role: ConnectionRule.CaptureRole)] = []

    public convenience init(rule: ConnectionRule, plugins: PluginSet, source: Int64, firstID: Int64) {
        self.init(rule: rule, plugins: plugins, source: source, ids: IDs(firstID))
    }

    package init(rule: ConnectionRule, plugins: PluginSet, source: Int64, ids: IDs) {
        self.rule = rule
        self.plugins = plugins
        self.source = source
        self.ids = ids
        consequenceCatalogues = Set(rule.consequences.compactMap { plugins.catalogueIndex($0) })
        laneless = rule.lane.isEmpty
        laneFields = ContiguousArray(rule.lane)
        // Every selector of the rule, flattened.
        var bytes: [UInt8] = [], ranges: [Range<Int>] = [], templates: ContiguousArray<Template> = []
        func flat(_ s: ConnectionRule.RecordSelector) -> Selector {
            let first = ranges.count
            for name in s.function ?? [] {
                ranges.append(bytes.count..<(bytes.count + name.count))
                bytes += name
            }
            var message = -1
            if let m = s.message { message = templates.count; templates.append(m) }
            return Selector(level: s.level, firstName: first, names: s.function == nil ? -1 : ranges.count - first, message: message)
        }
        starts = ContiguousArray(rule.starts.map(flat)); ends = ContiguousArray(rule.ends.map(flat))
        outcomes = ContiguousArray(rule.outcomes.map(flat)); startsIfNone = ContiguousArray(rule.startsIfNone.map(flat))
        captureSpecs = ContiguousArray(rule.captures.map { c in
            var code: (index: Int?, field: String)?
            if let catalogue = c.codeCatalogue, let field = c.codeField { code = (plugins.catalogueIndex(catalogue), field) }
            return CaptureSpec(selector: flat(c.selector), messages: ContiguousArray(c.messages), role: c.role, code: code, values: c.values)
        })
        nameBytes = .allocate(capacity: max(bytes.count, 1))
        nameBytes.initialize(from: bytes, count: bytes.count)
        nameRanges = .allocate(capacity: max(ranges.count, 1))
        nameRanges.initialize(from: ranges, count: ranges.count)
        selectorTemplates = templates
    }

    deinit {
        nameBytes.deallocate()
        nameRanges.deallocate()
    }

    /// Which connection each lane holds, as kept in the store between runs: `lane<TAB>id` lines.
    public var laneState: String {
        lanes.compactMap { l in l.conn.map { (l.name, $0) } }.sorted { $0.0 < $1.0 }.map { "\($0.0)\t\($0.1.id)" }.joined(separator: "\n")
    }

    /// Ids named by a saved lane state.
    public static func connectionIDs(inLaneState state: String?) -> [Int64] {
        (state ?? "").split(separator: "\n").compactMap { $0.split(separator: "\t").last.flatMap { Int64($0) } }
    }

    /// Connections carried over from an earlier run over the same source (open ones, the last
    /// ended one of each lane, and those the saved lanes hold), so a grown file continues
    /// exactly where it stopped.
    public func restore(_ connections: [LiveConnection], keys: [(conn: Int64, name: String, value: String)], laneState: String?) {
        let byID = Dictionary(connections.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for c in connections {
            c.dirty = false
            c.primaryIsCause = c.failures.first.map { !consequenceCatalogues.contains($0.catalogue) } ?? false
            if c.ended { recentlyEnded.append(c) }
            nextID = max(nextID, c.id + 1)
        }
        for line in (laneState ?? "").split(separator: "\n") {
            let parts = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard parts.count == 2, let id = Int64(parts[1]), let c = byID[id] else { continue }
            lanes[lane(named: String(parts[0]))].conn = c
        }
        for k in keys where rule.keys.contains(k.name) {
            if let c = byID[k.conn] { byKey[k.name + "=" + k.value] = c }
        }
    }

    /// Links `record` to a connection; returns its id, or nil when the record belongs to none.
    public func assign(_ r: Record) -> Int64? {
        if r.isUnparsed { return nil }
        return r.bytes.withUnsafeBufferPointer { b -> Int64? in
            let lane = laneSlot(r, b)
            // Without lane fields a record joins only what a start record or a key says.
            var conn = laneless ? nil : lanes[lane].conn

            // A start record opens a connection unless the lane's one has only passed earlier starts.
            let startStage = firstMatch(starts, r, b)

            // Captured values: route ones may move the lane to another connection first.
            if !found.isEmpty { found.removeAll(keepingCapacity: true) }
            if !captureSpecs.isEmpty { collectCaptures(r, b) }
            let found = found
            var routed = false
            for f in found where f.role == .route {
                guard let target = byKey[f.name + "=" + f.value] else { continue }
                // An ended connection's handle may be reused by the next one: a start record
                // never goes back to an ended connection.
                if startStage != nil && target.ended { continue }
                if target !== conn { conn = target; lanes[lane].conn = target }
                if let s = startStage { target.stage = max(target.stage, s) }
                routed = true
                break
            }
            for f in found where f.role == .identify && !routed {
                if let target = byKey[f.name + "=" + f.value], !(startStage != nil && target.ended) {
                    if target !== conn { conn = target; if !laneless { lanes[lane].conn = target } }
                    if let s = startStage { target.stage = max(target.stage, s) }
                    routed = true
                } else if startStage == nil {
                    // A value not seen before names the lane's connection, unless that one
                    // already has another: then it is a new connection.
                    if let c = conn, !c.ended, c.field(f.name) == nil { routed = true } else {
                        conn = open(lane: lane, r: r, b: b, stage: 0)
                        routed = true
                    }
                }
                break
            }
            if let stage = startStage, !routed {
                if let c = conn, !c.ended, c.stage < stage {
                    c.stage = stage
                } else {
                    conn = open(lane: lane, r: r, b: b, stage: stage)
                }
            }
            if conn == nil || conn!.ended, startStage == nil, !routed, !startsIfNone.isEmpty,
               firstMatch(startsIfNone, r, b) != nil {
                // Stage -1: any start record that follows continues this connection.
                conn = open(lane: lane, r: r, b: b, stage: -1)
            }
            guard let c = conn else { return nil }

            c.records += 1
            c.lastLine = r.line + max(r.lineCount, 1) - 1
            if let t = r.time { if c.startTime == nil { c.startTime = t }; c.endTime = t }
            for f in found where f.role != .route { describe(c, f.name, f.value) }
            var failed = false
            let catalogues = plugins.catalogues
            for code in r.codes where catalogues[code.catalogue].isFailure(code.value) {
                failed = true
                if !c.failures.contains(where: { $0.catalogue == code.catalogue && $0.value == code.value }) {
                    let isCause = !consequenceCatalogues.contains(code.catalogue)
                    if isCause && !c.primaryIsCause {
                        c.failures.insert((code.catalogue, code.value), at: 0)
                        c.primaryIsCause = true
                    } else {
                        c.failures.append((code.catalogue, code.value))
                    }
                }
            }
            markChanged(c)
            if firstMatch(outcomes, r, b) != nil {
                if failed {
                    c.outcome = .failed
                    if rule.failureEnds { end(c, lane: lane) }
                } else {
                    if c.outcome == .open { c.outcome = .ok }
                    // The handshake is done: the session goes on in calls that name its handle,
                    // on this thread or another, so the lane is free until one does.
                    if hasKey(c), lanes[lane].conn === c { lanes[lane].conn = nil }
                }
            }
            if firstMatch(ends, r, b) != nil { end(c, lane: lane) }
            return c.id
        }
    }

    /// Connections created or changed since the last call, to write to the store.
    public func takeChanges() -> [LiveConnection] {
        let out = changed
        for c in out { c.dirty = false }
        changed.removeAll(keepingCapacity: true)
        return out
    }

    private func hasKey(_ c: LiveConnection) -> Bool {
        c.fields.contains { rule.keys.contains($0.name) }
    }

    private func markChanged(_ c: LiveConnection) {
        if !c.dirty { c.dirty = true; changed.append(c) }
    }

    /// The index of the first selector that matches the record.
    @inline(__always)
    private func firstMatch(_ selectors: ContiguousArray<Selector>, _ r: Record, _ b: UnsafeBufferPointer<UInt8>) -> Int? {
        selectors.withUnsafeBufferPointer { s in
            for i in 0..<s.count where matches(s[i], r, b) { return i }
            return nil
        }
    }

    /// As `ConnectionRule.RecordSelector.matches`, on the flattened selector.
    @inline(__always)
    private func matches(_ s: Selector, _ r: Record, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        if let level = s.level, r.level != level { return false }
        if s.names >= 0 {
            guard let f = r.range(.function) else { return false }
            var any = false
            for k in s.firstName..<(s.firstName + s.names) {
                let name = nameRanges[k]
                if name.count == f.count && (f.count == 0 || memcmp(nameBytes + name.lowerBound, b.baseAddress! + f.lowerBound, f.count) == 0) { any = true; break }
            }
            if !any { return false }
        }
        guard s.message >= 0 else { return true }
        guard let m = r.range(.message) else { return false }
        return selectorTemplates[s.message].match(UnsafeBufferPointer(rebasing: b[m]), captures: &captures) != nil
    }

    private func open(lane: Int, r: Record, b: UnsafeBufferPointer<UInt8>, stage: Int) -> LiveConnection {
        // A connection still open on this lane stays open, reachable by its keys: a server
        // thread may start the next handshake before the last one's close.
        let c = LiveConnection(id: nextID, source: source, rule: rule.name, lane: lanes[lane].name, line: r.line, stage: stage)
        nextID += 1
        created += 1
        c.process = r.field(.process)
        c.thread = r.field(.thread)
        c.dirty = false
        markChanged(c)
        lanes[lane].conn = c
        return c
    }

    private func end(_ c: LiveConnection, lane: Int) {
        if c.outcome == .open { c.outcome = c.failures.isEmpty ? .ok : .failed }
        if lanes[lane].conn === c { lanes[lane].conn = nil }
        guard !c.ended else { return }
        c.ended = true
        recentlyEnded.append(c)
        if recentlyEnded.count > recentLimit * 2 {
            // Forget the oldest ended connections' keys (a reused handle now names a new one).
            for old in recentlyEnded.prefix(recentLimit) {
                for (name, value) in old.fields where rule.keys.contains(name) {
                    let k = name + "=" + value
                    if byKey[k] === old { byKey[k] = nil }
                }
            }
            recentlyEnded.removeFirst(recentLimit)
        }
    }

    private func describe(_ c: LiveConnection, _ name: String, _ value: String) {
        if rule.keys.contains(name) {
            let k = name + "=" + value
            if byKey[k] !== c {
                byKey[k] = c
                c.newKeys.append((name, value))
            }
        }
        if !c.fields.contains(where: { $0.name == name }) {
            c.fields.append((name, value))
            // Values without a column of their own are kept with the keys, so nothing captured is lost.
            if !rule.keys.contains(name) && !ConnectionRule.columns.contains(name) { c.newKeys.append((name, value)) }
        }
    }

    private func collectCaptures(_ r: Record, _ b: UnsafeBufferPointer<UInt8>) {
        guard r.range(.message) != nil else { return }
        captureSpecs.withUnsafeBufferPointer { specs in
            for i in 0..<specs.count where matches(specs[i].selector, r, b) {
                if let code = specs[i].code {
                    guard let index = code.index, let found = r.codes.first(where: { $0.catalogue == index }) else { continue }
                    self.found.append((code.field, Self.normalise(found.value, plugins.catalogues[index]), specs[i].role))
                    continue
                }
                // Every message line: a console message puts its fields on continuation lines
                // (EZD1287I's LOCAL:, REMOTE:, ... CONNID: under the first line).
                lines: for line in r.messageLines {
                    let message = UnsafeBufferPointer(rebasing: b[line])
                    for tpl in specs[i].messages where tpl.match(message, captures: &captures) != nil {
                        for (slot, name) in tpl.fieldNames.enumerated() where !name.isEmpty {
                            guard let range = captures.range(slot) else { continue }
                            self.found.append((name, Self.normalise(message, range, tpl.slotKinds[slot]), specs[i].role))
                        }
                        for v in specs[i].values { self.found.append((v.name, v.value, specs[i].role)) }
                        break lines
                    }
                }
            }
        }
    }

    /// A code as a captured value: hex catalogues as hex digits without leading zeros (as a
    /// `{cipher:hex}` capture gives them), others as they are shown.
    package static func normalise(_ v: CodeValue, _ c: Catalogue) -> String {
        if case let .number(n) = v, c.radix == .hex { return String(n, radix: 16).uppercased() }
        return c.display(v)
    }

    /// Hex values compare without case or leading zeros (`0x0A` and `a` name the same handle).
    package static func normalise(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, _ kind: Template.Kind) -> String {
        if case .hex = kind {
            var s = String(decoding: b[r], as: UTF8.self).uppercased()
            while s.count > 1 && s.hasPrefix("0") { s.removeFirst() }
            return s
        }
        return String(decoding: b[r], as: UTF8.self)
    }

    /// The lane of a record (its index in `lanes`, made when new); the lane's name is the rule's
    /// lane fields joined. Consecutive records usually share a lane, so the last one is reused
    /// after comparing bytes; others are found by a hash of the bytes. Only a lane's first record
    /// builds its name.
    private func laneSlot(_ r: Record, _ b: UnsafeBufferPointer<UInt8>) -> Int {
        laneScratch.removeAll(keepingCapacity: true)
        laneFields.withUnsafeBufferPointer { fields in
            for f in fields {
                if let range = r.range(f) { laneScratch.append(contentsOf: b[range]) }
                laneScratch.append(0x1F)
            }
        }
        if lastLane >= 0 && laneScratch == lastLaneBytes { return lastLane }
        swap(&lastLaneBytes, &laneScratch)
        // FNV-1a over the bytes.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in lastLaneBytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        if let known = laneByHash[hash], known.bytes == lastLaneBytes {
            lastLane = known.lane
            return known.lane
        }
        let index = lane(named: String(decoding: lastLaneBytes, as: UTF8.self))
        // A hash shared with other bytes (rare) keeps its first lane; this one is found by name.
        if laneByHash[hash] == nil { laneByHash[hash] = (lastLaneBytes, index) }
        lastLane = index
        return index
    }

    /// The lane with this name, made when new.
    private func lane(named name: String) -> Int {
        if let i = laneByName[name] { return i }
        lanes.append(Lane(name: name, conn: nil))
        laneByName[name] = lanes.count - 1
        return lanes.count - 1
    }
}
