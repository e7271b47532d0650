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

    public init(title: String = "", columns: [String], rows: [[SQLValue]] = [], note: String? = nil) {
        self.title = title; self.columns = columns; self.rows = rows; self.note = note
    }

    /// Removes a column (one that says nothing for this store).
    public mutating func drop(column name: String) {
        guard let i = columns.firstIndex(of: name) else { return }
        columns.remove(at: i)
        for r in rows.indices where i < rows[r].count { rows[r].remove(at: i) }
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

    public static func text(_ t: ResultTable, into out: ByteBuffer) {
        if !t.title.isEmpty { out.append(t.title); out.append(0x0A) }
        if t.rows.isEmpty {
            out.append("  (none)\n")
            if let note = t.note { out.append("  " + note + "\n") }
            return
        }
        let cells = t.rows.map { $0.map(display) }
        let columns = t.columns.map { TerminalText.visible($0) }
        var widths = columns.map(width)
        var cellWidths: [[Int]] = []
        cellWidths.reserveCapacity(cells.count)
        for row in cells {
            let w = row.map(width)
            for (i, c) in w.enumerated() where i < widths.count { widths[i] = max(widths[i], c) }
            cellWidths.append(w)
        }
        let numeric = t.columns.indices.map { i in
            t.rows.allSatisfy { row in
                guard i < row.count else { return true }
                switch row[i] { case .int, .null: return true; default: return false }
            }
        }
        let spaces = [UInt8](repeating: 0x20, count: (widths.max() ?? 0) + 2)
        func line(_ values: [String], _ w: [Int]) {
            let last = values.count - 1
            for (i, v) in values.enumerated() {
                if i > 0 { out.append(0x20); out.append(0x20) }
                let pad = max(widths[i] - w[i], 0)
                if numeric[i] { out.append(spaces[0..<pad]) }
                out.append(v)
                if !numeric[i] && i < last { out.append(spaces[0..<pad]) }
            }
            while out.count > 0 && out.base[out.count - 1] == 0x20 { out.removeLast() }
            out.append(0x0A)
        }
        line(columns, columns.map(width))
        line(widths.map { String(repeating: "-", count: $0) }, widths)
        for (row, w) in zip(cells, cellWidths) { line(row, w) }
        if let note = t.note { out.append(note); out.append(0x0A) }
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
    public static func render(_ tables: [(key: String, table: ResultTable)], style: OutputStyle, into out: ByteBuffer) {
        switch style {
        case .text:
            for (i, t) in tables.enumerated() {
                if i > 0 { out.append(0x0A) }
                text(t.table, into: out)
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

    public static func render(_ tables: [(key: String, table: ResultTable)], style: OutputStyle) -> String {
        let out = ByteBuffer()
        render(tables, style: style, into: out)
        return out.string
    }
}
