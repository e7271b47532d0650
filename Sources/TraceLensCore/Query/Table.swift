import Foundation

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
}

/// How query results are printed.
public enum OutputStyle: String, Sendable, CaseIterable {
    case text, json, csv
}

/// Writes result tables. JSON keys are the column names; a command with several tables
/// (`summary`) writes one object with a key per table.
public enum TableWriter {
    public static func text(_ t: ResultTable, into out: inout String) {
        if !t.title.isEmpty { out += t.title + "\n" }
        if t.rows.isEmpty {
            out += "  (none)\n"
            if let note = t.note { out += "  " + note + "\n" }
            return
        }
        let cells = t.rows.map { $0.map(display) }
        var widths = t.columns.map(\.count)
        for row in cells { for (i, c) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
        let numeric = t.columns.indices.map { i in t.rows.allSatisfy { row in i < row.count && { if case .int = row[i] { return true }; if case .null = row[i] { return true }; return false }() } }
        func line(_ values: [String]) -> String {
            var s = ""
            for (i, v) in values.enumerated() {
                let pad = String(repeating: " ", count: max(widths[i] - v.count, 0))
                let cell = numeric[i] ? pad + v : v + pad
                s += (i == 0 ? "" : "  ") + cell
            }
            while s.hasSuffix(" ") { s.removeLast() }
            return s + "\n"
        }
        out += line(t.columns)
        out += line(widths.map { String(repeating: "-", count: $0) })
        for row in cells { out += line(row) }
        if let note = t.note { out += note + "\n" }
    }

    public static func display(_ v: SQLValue) -> String {
        switch v {
        case .null: return ""
        case let .int(i): return String(i)
        case let .double(d): return String(d)
        case let .text(s): return s.replacingOccurrences(of: "\n", with: "⏎")
        case let .blob(b): return "x'" + b.map { String(format: "%02x", $0) }.joined() + "'"
        }
    }

    public static func json(_ t: ResultTable) -> String {
        let keys = t.columns.map(JSON.quote)
        var objects: [String] = []
        for row in t.rows {
            var fields: [String] = []
            for (key, value) in zip(keys, row) { fields.append(key + ":" + jsonValue(value)) }
            objects.append("{" + fields.joined(separator: ",") + "}")
        }
        return "[" + objects.joined(separator: ",\n") + "]"
    }

    static func jsonValue(_ v: SQLValue) -> String {
        switch v {
        case .null: return "null"
        case let .int(i): return String(i)
        case let .double(d): return d.isFinite ? String(d) : "null"
        case let .text(s): return JSON.quote(s)
        case let .blob(b): return JSON.quote(b.map { String(format: "%02x", $0) }.joined())
        }
    }

    public static func csv(_ t: ResultTable, into out: inout String) {
        func field(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        out += t.columns.map(field).joined(separator: ",") + "\r\n"
        for row in t.rows {
            out += row.map { v -> String in
                if case let .text(s) = v { return field(s) }
                return field(display(v))
            }.joined(separator: ",") + "\r\n"
        }
    }

    /// Prints tables in a style: text tables one after another, CSV sections separated by a blank
    /// line, JSON as one array (one table) or one object keyed by table name.
    public static func render(_ tables: [(key: String, table: ResultTable)], style: OutputStyle) -> String {
        var out = ""
        switch style {
        case .text:
            for (i, t) in tables.enumerated() {
                if i > 0 { out += "\n" }
                text(t.table, into: &out)
            }
        case .csv:
            for (i, t) in tables.enumerated() {
                if i > 0 { out += "\r\n" }
                csv(t.table, into: &out)
            }
        case .json:
            if tables.count == 1 { out = json(tables[0].table) + "\n" } else {
                out = "{" + tables.map { JSON.quote($0.key) + ":" + json($0.table) }.joined(separator: ",\n") + "}\n"
            }
        }
        return out
    }
}
