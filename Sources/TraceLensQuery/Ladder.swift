import TraceLensInput
import TraceLensRecords
import TraceLensDecode
import TraceLensPlugins
import TraceLensRender

/// A story as a sequence diagram: one column per party (who wrote each source, the layout's
/// `party`), arrows for the TLS messages that went between them, notes for what each party
/// logged as a failure, the first failing step marked. `show` draws it as text, `report` as SVG.
public struct Ladder: Sendable {
    public struct Step: Sendable {
        /// The time of day, `10:07:19.123`, or empty.
        public var time: String
        public var from: Int
        /// The party the arrow goes to; nil: a note of `from`.
        public var to: Int?
        public var label: String
        public var failing = false
        /// Where it was read: the source's file name and line.
        public var file: String
        public var line: Int
    }
    public var parties: [String]
    public var steps: [Step]

    /// Notes per party: the first few distinct ones, so a party that repeats its error does not
    /// fill the diagram.
    static let notesPerParty = 3

    /// One step of a record: its TLS messages as arrows, or its failure as a note.
    package struct Input {
        var record: Record
        var party: String
        var file: String
        /// Where the party comes among the others, when neither is the client's end.
        var rank: Int
    }

    /// Builds the ladder of records in time order. `plugins` decides which codes are failures.
    package static func build(_ inputs: [Input], plugins: PluginSet) -> Ladder {
        var parties: [String] = []
        func index(_ name: String) -> Int {
            if let i = parties.firstIndex(of: name) { return i }
            parties.append(name)
            return parties.count - 1
        }
        // Each writer's TLS role: what the messages it sent or received say it is.
        var roles: [String: String] = [:]
        for input in inputs {
            for a in input.record.annotations where a.kind == "tls" {
                guard let from = a.values("from").first, let direction = a.values("direction").first else { continue }
                let role = direction == "sent" ? from : other(from)
                if roles[input.party] == nil, !role.isEmpty { roles[input.party] = role }
            }
        }
        // The parties: the client's end first, then in the order of the plugins' layouts.
        for input in inputs where roles[input.party] == "client" { _ = index(input.party) }
        if !roles.values.contains("client") && (!roles.isEmpty || inputs.contains { $0.party == "client" }) { _ = index("client") }
        for input in inputs.sorted(by: { $0.rank < $1.rank }) { _ = index(input.party) }
        if !roles.isEmpty && !roles.values.contains("server") && !parties.contains("server") && roles.values.contains("client") { _ = index("server") }
        /// The party at the other end from a writer of role `role`.
        func peer(of role: String) -> Int {
            let wanted = other(role)
            if let p = parties.first(where: { roles[$0] == wanted }) { return index(p) }
            return index(wanted)
        }

        var steps: [Step] = []
        var seenArrows = Set<[String]>()
        var notes: [Int: Set<String>] = [:]
        for input in inputs {
            let r = input.record
            let me = index(input.party)
            let time = r.time.map(timeOfDay) ?? ""
            var alerts = 0
            for a in r.annotations where a.kind == "tls" {
                guard let message = a.values("message").first, let direction = a.values("direction").first else { continue }
                let from = a.values("from").first ?? (direction == "sent" ? roles[input.party] : roles[input.party].map(other)) ?? ""
                let role = roles[input.party] ?? (direction == "sent" ? from : other(from))
                let there = peer(of: role.isEmpty ? "server" : role)
                let (a1, b1) = direction == "sent" ? (me, there) : (there, me)
                let label = messageLabel(message, a)
                let key = [String(a1), String(b1), label]
                if message == "Alert" { alerts += 1 }
                guard seenArrows.insert(key).inserted else { continue }
                steps.append(Step(time: time, from: a1, to: b1, label: label, failing: message == "Alert" && isFailureAlert(a), file: input.file, line: r.line))
            }
            // A record that tells of an alert is that alert; any other says what went wrong too.
            guard alerts == 0 else { continue }
            let failures = r.codes.filter { plugins.catalogues[$0.catalogue].isFailure($0.value) }
            guard !failures.isEmpty || (r.level == .error && !r.isUnparsed) else { continue }
            var label = failures.map { PrimaryError.shortLabel(plugins.catalogues[$0.catalogue], $0.value) }
            label = label.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
            let text = label.isEmpty ? firstLine(r.message) : label.joined(separator: " ")
            guard !text.isEmpty, notes[me, default: []].count < notesPerParty, notes[me, default: []].insert(text).inserted else { continue }
            steps.append(Step(time: time, from: me, to: nil, label: text, failing: !failures.isEmpty, file: input.file, line: r.line))
        }
        // A note that says no more than another of its party (a copy of a log, a debug trace
        // repeating the job log's code) is left out.
        func words(_ s: Step) -> Set<Substring> { Set(s.label.split(separator: " ")) }
        steps = steps.enumerated().filter { i, step in
            guard step.to == nil else { return true }
            return !steps.enumerated().contains { j, o in
                j != i && o.to == nil && o.from == step.from && words(step).isSubset(of: words(o)) && (words(step) != words(o) || j < i)
            }
        }.map(\.element)
        // Only one step is marked, where it went wrong: the failure logged by the party that
        // sent the first failing alert, just before it; else that alert; else the first failure
        // with a time (a record without one sorts first but is no earlier).
        var marked: Int?
        if let alert = steps.firstIndex(where: { $0.failing && $0.to != nil }) {
            marked = steps[..<alert].lastIndex { $0.failing && $0.to == nil && $0.from == steps[alert].from } ?? alert
        } else {
            marked = steps.firstIndex { $0.failing && !$0.time.isEmpty } ?? steps.firstIndex(where: \.failing)
        }
        for i in steps.indices { steps[i].failing = i == marked }
        return Ladder(parties: parties, steps: steps)
    }

    static func other(_ role: String) -> String { role == "client" ? "server" : role == "server" ? "client" : "" }

    static func timeOfDay(_ t: Timestamp) -> String {
        let s = t.string(iso: true)
        guard let tee = s.firstIndex(where: { $0 == "T" || $0 == " " }) else { return s }
        var rest = String(s[s.index(after: tee)...])
        if let dot = rest.firstIndex(of: "."), rest.distance(from: dot, to: rest.endIndex) > 4 {
            rest = String(rest[..<rest.index(dot, offsetBy: 4)])
        }
        return rest
    }

    static func firstLine(_ text: String) -> String {
        String(text.split(separator: "\n").first ?? "").trimmingCharacters(in: .whitespaces)
    }

    /// `ClientHello`, `Alert 44 certificate_revoked`.
    /// The text of an alert, `Alert fatal certificate_revoked (44)`, is its level and name.
    static func messageLabel(_ message: String, _ a: Annotation) -> String {
        guard message == "Alert" else { return message }
        var words = a.text.split(separator: " ").map(String.init).filter { !$0.hasPrefix("(") }
        if words.first == message { words.removeFirst() }
        if let level = words.first, level == "fatal" || level == "warning" { words.removeFirst() }
        return ([message] + a.values("alert").prefix(1) + words.prefix(1)).joined(separator: " ")
    }

    /// Any alert but a warning-level close_notify (0) ends the connection.
    static func isFailureAlert(_ a: Annotation) -> Bool {
        a.values("alert").first != "0" || a.text.contains("fatal")
    }

    // MARK: text

    /// The ladder as lines of at most `width` columns; `colour`: the failing step in red.
    public func text(width: Int = 80, colour: Bool) -> String {
        guard !parties.isEmpty else { return "" }
        let timeWidth = max(steps.map(\.time.count).max() ?? 0, 4) + 3
        let column = max((width - timeWidth) / parties.count, 6)
        let centre = parties.indices.map { timeWidth + $0 * column + column / 2 }
        let lineWidth = min(width, timeWidth + column * parties.count)
        var out = ""

        func blank() -> [Character] {
            var row = [Character](repeating: " ", count: lineWidth)
            for x in centre where x < lineWidth { row[x] = "│" }
            return row
        }
        func put(_ s: String, at x: Int, into row: inout [Character]) {
            for (i, c) in s.enumerated() where x + i >= 0 && x + i < row.count { row[x + i] = c }
        }
        func emit(_ row: [Character], failing: Bool = false) {
            var s = String(row)
            while s.hasSuffix(" ") { s.removeLast() }
            if failing && colour {
                let head = String(s.prefix(timeWidth)), tail = String(s.dropFirst(timeWidth))
                s = head + ANSI.painted(tail, ANSI.red)
            }
            out += s + "\n"
        }
        // The heading: each party's name centred over its line.
        var head = [Character](repeating: " ", count: lineWidth)
        for (i, p) in parties.enumerated() {
            let name = Self.cut(TerminalText.visible(p), column - 1)
            put(name, at: max(timeWidth + i * column, centre[i] - name.count / 2), into: &head)
        }
        emit(head)
        emit(blank())
        for step in steps {
            var row = blank()
            put(TerminalText.visible(step.time), at: 0, into: &row)
            if step.failing { put("✗", at: timeWidth - 2, into: &row) }
            let label = TerminalText.visible(step.label)
            if let to = step.to, to != step.from {
                let l = min(centre[step.from], centre[to]), r = max(centre[step.from], centre[to])
                for x in (l + 1)..<r { row[x] = "─" }
                if to > step.from { row[r - 1] = "▶" } else { row[l + 1] = "◀" }
                // On the arrow, the words of the label that fit; the rest under it.
                let room = r - l - 5
                let words = label.split(separator: " ").map(String.init)
                var on = words.count
                while on > 1 && words.prefix(on).joined(separator: " ").count > room { on -= 1 }
                let shown = Self.cut(words.prefix(on).joined(separator: " "), room)
                if room >= 2 {
                    let text = " " + shown + " "
                    put(text, at: l + 2 + (r - l - 3 - text.count) / 2, into: &row)
                }
                emit(row, failing: step.failing)
                let rest = room >= 2 ? words.dropFirst(on).joined(separator: " ") : label
                if !rest.isEmpty {
                    var under = blank()
                    put(Self.cut(rest, lineWidth - l - 3), at: l + 2, into: &under)
                    emit(under, failing: step.failing)
                }
            } else {
                Self.note(label, at: centre[step.from], row: &row, timeWidth: timeWidth)
                emit(row, failing: step.failing)
            }
        }
        emit(blank())
        return out
    }

    /// A note beside the party's line: right of it when it fits there, else left of it.
    static func note(_ label: String, at x: Int, row: inout [Character], timeWidth: Int) {
        let right = row.count - x - 2, left = x - 1 - timeWidth
        row[x] = "●"
        if label.count <= right || right >= left {
            let s = cut(label, right)
            for (i, c) in s.enumerated() { row[x + 2 + i] = c }
        } else {
            let s = cut(label, left)
            let start = x - 1 - s.count
            for (i, c) in s.enumerated() { row[start + i] = c }
        }
    }

    /// `text` in at most `n` characters, cut with `…`.
    static func cut(_ text: String, _ n: Int) -> String {
        guard n > 0 else { return "" }
        return text.count <= n ? text : String(text.prefix(n - 1)) + "…"
    }
}
