import Foundation
import TOMLKit

/// A parsed TOML value, detached from TOMLKit so the rest of the loader works on plain Swift.
package indirect enum TOMLNode: Sendable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case double(Double)
    case array([TOMLNode])
    case table([String: TOMLNode], keys: [String])
    case other(String)

    package static func parse(_ text: String) throws -> TOMLNode {
        if let bad = TOMLHeaderCheck.unnamedHeader(text) { throw bad }
        return convert(try TOMLTable(string: text))
    }

    package static func convert(_ v: TOMLValueConvertible) -> TOMLNode {
        if let s = v.string { return .string(s) }
        if let b = v.bool { return .bool(b) }
        if let i = v.int { return .int(i) }
        if let d = v.double { return .double(d) }
        if let a = v.array { return .array(a.map { convert($0) }) }
        if let t = v.table {
            var out: [String: TOMLNode] = [:]
            for k in t.keys { if let child = t[k] { out[k] = convert(child) } }
            return .table(out, keys: t.keys)
        }
        return .other(v.debugDescription)
    }

    package var typeName: String {
        switch self {
        case .string: return "a string"
        case .int: return "an integer"
        case .bool: return "true or false"
        case .double: return "a number"
        case .array: return "a list"
        case .table: return "a table"
        case .other: return "a date or time"
        }
    }
}

/// Text on which toml++, under TOMLKit, asserts instead of reporting an error (the process
/// aborts): a table header whose name starts with a character no key can start with (`[}`, `[`
/// at the end of a line), a `}` where an array expects a value (`a = ["",}`), and the Unicode line
/// separators U+0085, U+2028, U+2029 outside strings and comments. None of these is valid TOML,
/// so they are refused before toml++ sees them. Found by the `plugin` fuzz target.
package struct TOMLHeaderCheck: Error, CustomStringConvertible {
    package let line: Int
    package let column: Int
    package let saw: String

    package let problem: String

    package var description: String { "line \(line), column \(column): \(problem), saw \(saw)" }

    /// Scans statements the way toml++ does (strings, comments and bracketed values skipped) and
    /// checks the first character of every `[table]` and `[[array]]` header name.
    package static func unnamedHeader(_ text: String) -> TOMLHeaderCheck? {
        let s = Array(text.unicodeScalars)
        var i = 0, line = 1, lineStart = 0
        var open: [Unicode.Scalar] = []  // brackets and braces of the values being read
        var atStatementStart = true
        func skipSpace(_ j: inout Int) { while j < s.count && isHorizontalSpace(s[j]) { j += 1 } }
        func shown(_ k: Unicode.Scalar) -> String { k.value < 0x21 || (0x7F...0xA0).contains(k.value) || k.value == 0x2028 || k.value == 0x2029 ? String(format: "U+%04X", k.value) : "'\(k)'" }
        func refuse(_ at: Int, _ problem: String) -> TOMLHeaderCheck { TOMLHeaderCheck(line: line, column: at - lineStart + 1, saw: shown(s[at]), problem: problem) }
        while i < s.count {
            let c = s[i]
            if c == "\u{85}" || c == "\u{2028}" || c == "\u{2029}" { return refuse(i, "only LF or CRLF may end a line") }
            if isLineBreak(c) {
                if c != "\r" || i + 1 >= s.count || s[i + 1] != "\n" { line += 1; lineStart = i + 1 }
                if open.isEmpty { atStatementStart = true }
                i += 1
                continue
            }
            if isHorizontalSpace(c) { i += 1; continue }
            switch c {
            case "#":
                while i < s.count && s[i] != "\n" && s[i] != "\r" { i += 1 }
            case "\"", "'":
                atStatementStart = false
                if i + 2 < s.count && s[i + 1] == c && s[i + 2] == c {
                    i += 3
                    while i < s.count {
                        if c == "\"" && s[i] == "\\" { i += 2; continue }
                        if i + 2 < s.count && s[i] == c && s[i + 1] == c && s[i + 2] == c {
                            i += 3
                            while i < s.count && s[i] == c { i += 1 }  // up to two quotes may end the text
                            break
                        }
                        if s[i] == "\n" { line += 1; lineStart = i + 1 }
                        i += 1
                    }
                } else {
                    i += 1
                    while i < s.count && s[i] != c && s[i] != "\n" && s[i] != "\r" { i += c == "\"" && s[i] == "\\" ? 2 : 1 }
                    if i < s.count && s[i] == c { i += 1 }
                }
            case "[" where atStatementStart && open.isEmpty:
                atStatementStart = false
                var j = i + 1
                skipSpace(&j)
                if j < s.count && s[j] == "[" {
                    if j > i + 1 { i = j + 1; continue }  // `[ [`: toml++ reports that itself
                    j += 1
                    skipSpace(&j)
                }
                if j < s.count {
                    let k = s[j]
                    let fine = (k.isASCII && (k.properties.isAlphabetic || ("0"..."9").contains(k) || k == "_" || k == "-")) || k == "\"" || k == "'" || k == "]"
                    if !fine { return refuse(j, "a table header needs a name (bare or quoted)") }
                }
                i = j
            case "[", "{":
                atStatementStart = false
                open.append(c)
                i += 1
            case "}" where open.last == "[":
                return refuse(i, "an array needs a value or ']' here")
            case "]", "}":
                _ = open.popLast()
                i += 1
            default:
                atStatementStart = false
                i += 1
            }
        }
        return nil
    }

    /// Spaces toml++ skips, generously (skipping more than it does only changes which error an
    /// already invalid file gets).
    package static func isHorizontalSpace(_ c: Unicode.Scalar) -> Bool {
        c == " " || c == "\t" || (c.value >= 0xA0 && (c.properties.isWhitespace || [0x180E, 0x200B, 0x2060, 0xFEFF].contains(c.value)) && !isLineBreak(c))
    }

    package static func isLineBreak(_ c: Unicode.Scalar) -> Bool {
        c == "\n" || c == "\r" || c == "\u{0B}" || c == "\u{0C}" || c == "\u{85}" || c == "\u{2028}" || c == "\u{2029}"
    }
}

/// Reads one TOML table of a plugin, remembering which keys were read so that unknown (usually
/// misspelt) keys can be reported with the likely intended one.
package struct TableReader {
    package let values: [String: TOMLNode]
    package let file: String
    package let entry: String
    package private(set) var used: Set<String> = []

    package init?(_ node: TOMLNode?, file: String, entry: String) {
        guard case let .table(values, _)? = node else { return nil }
        self.values = values; self.file = file; self.entry = entry
    }

    package func problem(_ message: String) -> PluginProblem { PluginProblem(file: file, entry: entry, message: message) }

    package mutating func node(_ key: String) -> TOMLNode? { used.insert(key); return values[key] }

    package mutating func string(_ key: String, _ problems: inout [PluginProblem], required: Bool = false) -> String? {
        switch node(key) {
        case let .string(s)?: return s
        case nil: if required { problems.append(problem("'\(key)' is required")) }; return nil
        case let other?: problems.append(problem("'\(key)' must be a string, not \(other.typeName)")); return nil
        }
    }

    package mutating func int(_ key: String, _ problems: inout [PluginProblem]) -> Int? {
        switch node(key) {
        case let .int(i)?: return i
        case nil: return nil
        case let other?: problems.append(problem("'\(key)' must be an integer, not \(other.typeName)")); return nil
        }
    }

    package mutating func bool(_ key: String, _ problems: inout [PluginProblem]) -> Bool? {
        switch node(key) {
        case let .bool(b)?: return b
        case nil: return nil
        case let other?: problems.append(problem("'\(key)' must be true or false, not \(other.typeName)")); return nil
        }
    }

    /// A list of strings; a single string is accepted as a list of one.
    package mutating func strings(_ key: String, _ problems: inout [PluginProblem]) -> [String] {
        switch node(key) {
        case nil: return []
        case let .string(s)?: return [s]
        case let .array(items)?:
            var out: [String] = []
            for (i, item) in items.enumerated() {
                if case let .string(s) = item { out.append(s) } else { problems.append(problem("'\(key)' item \(i + 1) must be a string, not \(item.typeName)")) }
            }
            return out
        case let other?: problems.append(problem("'\(key)' must be a list of strings, not \(other.typeName)")); return []
        }
    }

    /// An array of tables (`[[format.continuation]]`).
    package mutating func tables(_ key: String, _ problems: inout [PluginProblem]) -> [TOMLNode] {
        switch node(key) {
        case nil: return []
        case let .array(items)?: return items
        case let other?: problems.append(problem("'\(key)' must be a list of tables ([[...]]), not \(other.typeName)")); return []
        }
    }

    package func unknownKeys(known: [String]) -> [PluginProblem] {
        values.keys.filter { !used.contains($0) }.sorted().map { key in
            let guess = known.min { editDistance($0, key) < editDistance($1, key) }
            let hint = guess.flatMap { editDistance($0, key) <= 3 ? " (did you mean '\($0)'?)" : nil } ?? " (known keys: \(known.joined(separator: ", ")))"
            return problem("unknown key '\(key)'" + hint)
        }
    }
}

/// Levenshtein distance, for "did you mean" hints.
package func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.lowercased()), b = Array(b.lowercased())
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var prev = Array(0...b.count)
    var cur = prev
    for i in 1...a.count {
        cur[0] = i
        for j in 1...b.count {
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&prev, &cur)
    }
    return prev[b.count]
}
