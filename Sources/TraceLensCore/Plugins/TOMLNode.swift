import TOMLKit

/// A parsed TOML value, detached from TOMLKit so the rest of the loader works on plain Swift.
indirect enum TOMLNode {
    case string(String)
    case int(Int)
    case bool(Bool)
    case double(Double)
    case array([TOMLNode])
    case table([String: TOMLNode], keys: [String])
    case other(String)

    static func parse(_ text: String) throws -> TOMLNode {
        convert(try TOMLTable(string: text))
    }

    static func convert(_ v: TOMLValueConvertible) -> TOMLNode {
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

    var typeName: String {
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

/// Reads one TOML table of a plugin, remembering which keys were read so that unknown (usually
/// misspelt) keys can be reported with the likely intended one.
struct TableReader {
    let values: [String: TOMLNode]
    let file: String
    let entry: String
    private(set) var used: Set<String> = []

    init?(_ node: TOMLNode?, file: String, entry: String) {
        guard case let .table(values, _)? = node else { return nil }
        self.values = values; self.file = file; self.entry = entry
    }

    func problem(_ message: String) -> PluginProblem { PluginProblem(file: file, entry: entry, message: message) }

    mutating func node(_ key: String) -> TOMLNode? { used.insert(key); return values[key] }

    mutating func string(_ key: String, _ problems: inout [PluginProblem], required: Bool = false) -> String? {
        switch node(key) {
        case let .string(s)?: return s
        case nil: if required { problems.append(problem("'\(key)' is required")) }; return nil
        case let other?: problems.append(problem("'\(key)' must be a string, not \(other.typeName)")); return nil
        }
    }

    mutating func int(_ key: String, _ problems: inout [PluginProblem]) -> Int? {
        switch node(key) {
        case let .int(i)?: return i
        case nil: return nil
        case let other?: problems.append(problem("'\(key)' must be an integer, not \(other.typeName)")); return nil
        }
    }

    mutating func bool(_ key: String, _ problems: inout [PluginProblem]) -> Bool? {
        switch node(key) {
        case let .bool(b)?: return b
        case nil: return nil
        case let other?: problems.append(problem("'\(key)' must be true or false, not \(other.typeName)")); return nil
        }
    }

    /// A list of strings; a single string is accepted as a list of one.
    mutating func strings(_ key: String, _ problems: inout [PluginProblem]) -> [String] {
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
    mutating func tables(_ key: String, _ problems: inout [PluginProblem]) -> [TOMLNode] {
        switch node(key) {
        case nil: return []
        case let .array(items)?: return items
        case let other?: problems.append(problem("'\(key)' must be a list of tables ([[...]]), not \(other.typeName)")); return []
        }
    }

    func unknownKeys(known: [String]) -> [PluginProblem] {
        values.keys.filter { !used.contains($0) }.sorted().map { key in
            let guess = known.min { editDistance($0, key) < editDistance($1, key) }
            let hint = guess.flatMap { editDistance($0, key) <= 3 ? " (did you mean '\($0)'?)" : nil } ?? " (known keys: \(known.joined(separator: ", ")))"
            return problem("unknown key '\(key)'" + hint)
        }
    }
}

/// Levenshtein distance, for "did you mean" hints.
func editDistance(_ a: String, _ b: String) -> Int {
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
