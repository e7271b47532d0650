import Foundation
import TraceLensInput
import TraceLensStore

/// A result to show: named columns and rows of values. Every query command builds these and
/// prints them as an aligned text table, JSON or CSV.
public struct ResultTable: Sendable {
    public var title: String
    public var columns: [String]
    public var rows: [[SQLValue]]
    /// Said under the table in text output ("and 12 more").
    public var note: String?
    /// The columns most worth keeping when a text table is wider than the terminal, most important
    /// first. Columns not named here are left out before any named one, the rightmost first.
    public var importance: [String]
    /// Columns whose end says the most (a path's file name): cut at their start when too long.
    public var cutAtStart: [String]

    public init(title: String = "", columns: [String], rows: [[SQLValue]] = [], note: String? = nil, importance: [String] = [],
                cutAtStart: [String] = []) {
        self.title = title; self.columns = columns; self.rows = rows; self.note = note; self.importance = importance
        self.cutAtStart = cutAtStart
    }

    /// Removes a column (one that says nothing for this store).
    public mutating func drop(column name: String) {
        guard let i = columns.firstIndex(of: name) else { return }
        columns.remove(at: i)
        for r in rows.indices where i < rows[r].count { rows[r].remove(at: i) }
    }

    /// Only the named columns, in the order named; names it does not have are passed over.
    public func keeping(_ names: [String]) -> ResultTable {
        let picked = names.compactMap { columns.firstIndex(of: $0) }
        var table = self
        table.columns = picked.map { columns[$0] }
        table.rows = rows.map { row in picked.map { $0 < row.count ? row[$0] : .null } }
        return table
    }
}

/// A column asked for by name (`--columns`) that no table has.
public struct UnknownColumn: Error, CustomStringConvertible {
    public var name: String
    /// Each table's key and columns, to say what there is.
    public var tables: [(key: String, columns: [String])]

    public var description: String {
        let known = tables.count == 1 ? tables[0].columns.joined(separator: ", ")
            : tables.map { "\($0.key): \($0.columns.joined(separator: ", "))" }.joined(separator: "; ")
        return "no column named '\(name)'; the columns are: \(known)"
    }
}

/// How query results are printed.
public enum OutputStyle: String, Sendable, CaseIterable {
    case text, json, csv
}

/// Writes result tables. JSON keys are the column names; a command with several tables
/// (`summary`) writes one object with a key per table. Writes bytes into a buffer: a store of
/// millions of records can list a hundred thousand failed connections.
public enum TableWriter {
    public static func display(_ v: SQLValue) -> String { v.displayText }

    /// Width in terminal columns (one per character; plain ASCII is counted without decoding).
    package static func width(_ s: String) -> Int {
        scan(s).ascii ? s.utf8.count : s.count
    }

    /// One pass over the UTF-8 bytes: all ASCII? any newline?
    @inline(__always)
    package static func scan(_ s: String) -> (ascii: Bool, newline: Bool) {
        var s = s
        return s.withUTF8 { p in
            var high: UInt8 = 0
            var newline = false
            for b in p { high |= b; if b == 0x0A { newline = true } }
            return (high < 0x80, newline)
        }
    }

    /// Writes an aligned text table. Given a `width` (a terminal's), a table wider than that keeps
    /// the columns that fit in order of importance, cuts the longest texts with `…` and says which
    /// columns it left out; nil writes every column in full.
    public static func text(_ t: ResultTable, width: Int? = nil, into out: ByteBuffer) {
        if !t.title.isEmpty { out.append(width.map { truncated(t.title, to: $0) } ?? t.title); out.append(0x0A) }
        if t.rows.isEmpty {
            out.append("  (none)\n")
            if let note = t.note { appendWrapped(note, width: width, indent: "  ", into: out) }
            return
        }
        let cells = t.rows.map { $0.map(display) }
        let columns = t.columns.map { TerminalText.visible($0) }
        var widths = columns.map(Self.width)
        var cellWidths: [[Int]] = []
        cellWidths.reserveCapacity(cells.count)
        for row in cells {
            let w = row.map(Self.width)
            for (i, c) in w.enumerated() where i < widths.count { widths[i] = max(widths[i], c) }
            cellWidths.append(w)
        }
        let numeric = t.columns.indices.map { i in
            t.rows.allSatisfy { row in
                guard i < row.count else { return true }
                switch row[i] { case .int, .null: return true; default: return false }
            }
        }
        let keepEnd = t.columns.map(t.cutAtStart.contains)
        var shown = Array(columns.indices)
        if let width, widths.reduce(0, +) + 2 * (widths.count - 1) > width {
            let plan = fit(widths: widths, headers: columns.map(Self.width), truncatable: numeric.map { !$0 },
                           rank: rank(t), width: width)
            shown = plan.kept
            widths = plan.widths
        }
        let spaces = [UInt8](repeating: 0x20, count: (widths.max() ?? 0) + 2)
        func line(_ values: [String], _ w: [Int]) {
            let last = shown.count - 1
            for (n, i) in shown.enumerated() where i < values.count {
                if n > 0 { out.append(0x20); out.append(0x20) }
                var value = values[i], valueWidth = w[i]
                if valueWidth > widths[i] { value = truncated(value, to: widths[i], keepingEnd: keepEnd[i]); valueWidth = widths[i] }
                let pad = max(widths[i] - valueWidth, 0)
                if numeric[i] { out.append(spaces[0..<pad]) }
                out.append(value)
                if !numeric[i] && n < last { out.append(spaces[0..<pad]) }
            }
            while out.count > 0 && out.base[out.count - 1] == 0x20 { out.removeLast() }
            out.append(0x0A)
        }
        line(columns, columns.map(Self.width))
        line(widths.map { String(repeating: "-", count: $0) }, widths)
        for (row, w) in zip(cells, cellWidths) { line(row, w) }
        if let note = t.note { appendWrapped(note, width: width, indent: "", into: out) }
        if shown.count < columns.count {
            // Nothing is lost without a word: name what the terminal had no room for.
            let leftOut = columns.indices.filter { !shown.contains($0) }.map { columns[$0] }
            appendWrapped("(left out: \(leftOut.joined(separator: ", ")) — --wide shows all)", width: width, indent: "", into: out)
        }
    }

    /// Each column's rank for `fit`: named in `importance` by its place there, then the others in
    /// their order.
    static func rank(_ t: ResultTable) -> [Int] {
        t.columns.indices.map { i in t.importance.firstIndex(of: t.columns[i]) ?? t.importance.count + i }
    }

    /// Which columns to show within `width`, and how wide each is then (display order kept).
    /// Columns are taken in rank order until the next does not fit, a long text column counting
    /// as a third of the width (a less important column never takes the room of a more important
    /// one); then the widest texts are cut to one common width until the line fits, never narrower
    /// than their header. The first-ranked column is kept even when it fits nowhere.
    package static func fit(widths natural: [Int], headers: [Int], truncatable: [Bool], rank: [Int], width: Int)
        -> (kept: [Int], widths: [Int]) {
        func wanted(_ i: Int) -> Int { truncatable[i] ? min(natural[i], max(headers[i], width / 3)) : natural[i] }
        var kept: [Int] = []
        var used = 0
        for i in natural.indices.sorted(by: { rank[$0] < rank[$1] }) {
            let need = wanted(i) + (kept.isEmpty ? 0 : 2)
            guard kept.isEmpty || used + need <= width else { break }
            kept.append(i)
            used += need
        }
        kept.sort()
        var widths = natural
        func total(_ cap: Int) -> Int {
            kept.reduce(2 * (kept.count - 1)) { sum, i in
                sum + (truncatable[i] ? min(natural[i], max(cap, headers[i], 2)) : natural[i])
            }
        }
        var cap = kept.map { natural[$0] }.max() ?? 0
        while cap > 1 && total(cap) > width { cap -= 1 }
        for i in kept where truncatable[i] { widths[i] = min(natural[i], max(cap, headers[i], 2)) }
        return (kept, widths)
    }

    /// `s` in at most `width` characters, the last one `…` when some were cut (the first one with
    /// `keepingEnd`). Cuts fall on character boundaries, never inside a character's bytes.
    package static func truncated(_ s: String, to width: Int, keepingEnd: Bool = false) -> String {
        guard Self.width(s) > width else { return s }
        guard width > 1 else { return width == 1 ? "…" : "" }
        return keepingEnd ? "…" + s.suffix(width - 1) : s.prefix(width - 1) + "…"
    }

    /// Writes `text` as lines of at most `width` characters, broken between words (a word longer
    /// than a line is cut into pieces); nil writes it on one line.
    static func appendWrapped(_ text: String, width: Int?, indent: String, into out: ByteBuffer) {
        guard let width, Self.width(indent + text) > width else { out.append(indent + text); out.append(0x0A); return }
        let room = max(width - indent.count, 1)
        var line = ""
        func flush() { out.append(indent + line); out.append(0x0A); line = "" }
        for word in text.split(separator: " ", omittingEmptySubsequences: true) {
            var word = Substring(word)
            if !line.isEmpty && line.count + 1 + word.count > room { flush() }
            while word.count > room {
                if !line.isEmpty { flush() }
                line = String(word.prefix(room)); flush()
                word = word.dropFirst(room)
            }
            if word.isEmpty { continue }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty { flush() }
    }

    public static func json(_ t: ResultTable, into out: ByteBuffer) {
        let keys = t.columns.map { c -> [UInt8] in
            let b = ByteBuffer(capacity: c.utf8.count + 4)
            JSON.string(c, b)
            b.append(0x3A)
            return b.bytes
        }
        out.append(0x5B)
        for (r, row) in t.rows.enumerated() {
            if r > 0 { out.append(0x2C); out.append(0x0A) }
            out.append(0x7B)
            for (i, value) in row.enumerated() where i < keys.count {
                if i > 0 { out.append(0x2C) }
                out.append(keys[i])
                jsonValue(value, out)
            }
            out.append(0x7D)
        }
        out.append(0x5D)
    }

    public static func json(_ t: ResultTable) -> String {
        let out = ByteBuffer()
        json(t, into: out)
        return out.string
    }

    package static func jsonValue(_ v: SQLValue, _ out: ByteBuffer) {
        switch v {
        case .null: out.append("null")
        case let .int(i): out.append(String(i))
        case let .double(d): out.append(d.isFinite ? String(d) : "null")
        case let .text(s): JSON.string(s, out)
        case let .blob(b): JSON.string(b.map { String(format: "%02x", $0) }.joined(), out)
        }
    }

    public static func csv(_ t: ResultTable, into out: inout String) {
        let b = ByteBuffer()
        csv(t, into: b)
        out += b.string
    }

    public static func csv(_ t: ResultTable, into out: ByteBuffer) {
        func field(_ text: String) {
            // Control bytes shown as in the text table; line ends kept, in quotes.
            let s = TerminalText.visible(text, keepingNewlines: true)
            var plain = s
            let quote = plain.withUTF8 { p in p.contains { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D } }
            if quote {
                out.append(0x22)
                out.append(s.replacingOccurrences(of: "\"", with: "\"\""))
                out.append(0x22)
            } else {
                out.append(s)
            }
        }
        func line(_ values: [String]) {
            for (i, v) in values.enumerated() {
                if i > 0 { out.append(0x2C) }
                field(v)
            }
            out.append(0x0D); out.append(0x0A)
        }
        line(t.columns)
        for row in t.rows {
            line(row.map { v in if case let .text(s) = v { return s } else { return display(v) } })
        }
    }

    /// Prints tables in a style: text tables one after another, CSV sections separated by a blank
    /// line, JSON as one array (one table) or one object keyed by table name.
    /// Text tables fit in `width` when one is given (see `text`); JSON and CSV ignore it.
    public static func render(_ tables: [(key: String, table: ResultTable)], style: OutputStyle, width: Int? = nil, into out: ByteBuffer) {
        switch style {
        case .text:
            for (i, t) in tables.enumerated() {
                if i > 0 { out.append(0x0A) }
                text(t.table, width: width, into: out)
            }
        case .csv:
            for (i, t) in tables.enumerated() {
                if i > 0 { out.append(0x0D); out.append(0x0A) }
                csv(t.table, into: out)
            }
        case .json:
            if tables.count == 1 {
                json(tables[0].table, into: out)
            } else {
                out.append(0x7B)
                for (i, t) in tables.enumerated() {
                    if i > 0 { out.append(",\n") }
                    JSON.string(t.key, out)
                    out.append(0x3A)
                    json(t.table, into: out)
                }
                out.append(0x7D)
            }
            out.append(0x0A)
        }
    }

    public static func render(_ tables: [(key: String, table: ResultTable)], style: OutputStyle, width: Int? = nil) -> String {
        let out = ByteBuffer()
        render(tables, style: style, width: width, into: out)
        return out.string
    }

    /// `--columns`: each table with only the named columns, in the order named; a table with none
    /// of them is left out. A name no table has is an error that lists the columns there are.
    public static func choosing(_ names: [String], from tables: [(key: String, table: ResultTable)]) throws
        -> [(key: String, table: ResultTable)] {
        for name in names where !tables.contains(where: { $0.table.columns.contains(name) }) {
            throw UnknownColumn(name: name, tables: tables.map { ($0.key, $0.table.columns) })
        }
        return tables.compactMap { t in
            let table = t.table.keeping(names)
            return table.columns.isEmpty ? nil : (t.key, table)
        }
    }
}
