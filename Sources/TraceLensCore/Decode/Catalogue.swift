/// A code value: numeric for return codes, ciphers and alerts; text for message ids and names.
public enum CodeValue: Hashable, Sendable, Comparable {
    case number(Int64)
    case text(String)

    public static func < (a: CodeValue, b: CodeValue) -> Bool {
        switch (a, b) {
        case let (.number(x), .number(y)): return x < y
        case let (.text(x), .text(y)): return x < y
        case (.number, .text): return true
        case (.text, .number): return false
        }
    }
}

/// A reference to a code in a named catalogue, written `kind:code` (e.g. `cms:03353041`).
public struct CodeRef: Hashable, Sendable, CustomStringConvertible {
    public var catalogue: String
    public var code: String
    public var description: String { "\(catalogue):\(code)" }

    public init(catalogue: String, code: String) { self.catalogue = catalogue; self.code = code }

    public init?(_ text: Substring) {
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex, text.index(after: colon) != text.endIndex else { return nil }
        catalogue = String(text[..<colon])
        code = String(text[text.index(after: colon)...])
    }
}

/// One row of a catalogue.
public struct CatalogueEntry: Sendable {
    public var value: CodeValue
    /// The code as the catalogue writes it (`431`, `03353041`, `C02C`, `GSK_TRACE`).
    public var code: String
    public var name: String
    public var text: String
    public var explanation: String
    public var action: String
    public var verified: Bool
    public var related: [CodeRef]
    /// Further columns of the row, in file order (`tls_versions`, `default`, ...).
    public var details: [(column: String, value: String)]
    /// Where the row came from, for messages: `file:line`.
    public var origin: String
}

/// Which values of a catalogue mean that something failed.
public enum FailurePolicy: String, Sendable {
    /// Return codes and alerts: 0 is success (or close_notify), anything else a failure.
    case nonzero
    /// Every value is a failure (error message ids).
    case all
    /// Identifiers, never failures (cipher suites, groups).
    case none
    /// Message ids whose last letter is E (error) or A (action needed): `GLD1116E`.
    case errorIDs = "error-ids"
}

/// A code table from a plugin: how its codes are written and read, and its rows.
public final class Catalogue: @unchecked Sendable {
    public enum Radix: Sendable, Equatable { case decimal, hex, text }

    public let id: String
    public let title: String
    public let plugin: String
    public let radix: Radix
    /// Digits to pad the code to when shown (`03353041`, `0035`, `0023`); 0 for no padding.
    public let digits: Int
    /// How a decoded code is shown inline in a trace line: `SSL {code}: {text}`.
    public let label: String
    public let failure: FailurePolicy
    /// Words a user may type before a code to pick this catalogue (`alert 42`, `cipher 35`).
    public let words: [String]
    /// Forms a user may type a code in, for `explain`.
    public let accepts: [Template]
    /// The codes are bits that combine into a set (`ERROR+CONNS` = x8008): `explain` reads
    /// keyword and number expressions with `+` and `-` and lists the bits set.
    public var flags = false

    public private(set) var entries: [CodeValue: CatalogueEntry] = [:]
    /// Rows that cover a range (`03353001-03353FFF`), used when no exact row exists.
    public private(set) var ranges: [(low: Int64, high: Int64, entry: CatalogueEntry)] = []

    init(id: String, title: String, plugin: String, radix: Radix, digits: Int, label: String, failure: FailurePolicy, words: [String], accepts: [Template]) {
        self.id = id; self.title = title; self.plugin = plugin; self.radix = radix; self.digits = digits
        self.label = label; self.failure = failure; self.words = words; self.accepts = accepts
    }

    /// Adds or replaces a row (a later plugin overrides an earlier one).
    func add(_ entry: CatalogueEntry) {
        entries[entry.value] = entry
    }

    func addRange(low: Int64, high: Int64, entry: CatalogueEntry) {
        ranges.removeAll { $0.low == low && $0.high == high }
        ranges.append((low, high, entry))
    }

    /// Parses a code as this catalogue writes it in its file.
    public func value(fromCatalogueText text: String) -> CodeValue? {
        switch radix {
        case .decimal: return Int64(text).map(CodeValue.number)
        case .hex:
            var t = Substring(text)
            if t.hasPrefix("0x") || t.hasPrefix("0X") { t = t.dropFirst(2) }
            return Int64(t, radix: 16).map(CodeValue.number)
        case .text: return text.isEmpty ? nil : .text(text.uppercased())
        }
    }

    /// True: rows are keyed by the start of a code (`IEF` for `IEF403I`), the longest one that
    /// starts a value decodes it. For families of message ids known by product, not one by one.
    public var byPrefix = false

    public func entry(_ value: CodeValue) -> CatalogueEntry? {
        if let e = entries[value] { return e }
        guard byPrefix, case let .text(t) = value else { return nil }
        var start = Substring(t)
        while start.count > 1 {
            start = start.dropLast()
            if let e = entries[.text(String(start))] { return e }
        }
        return nil
    }

    /// True when a row (exact, or a prefix row) decodes `value`; copies no entry (the finder asks
    /// this for every code it finds).
    @inline(__always) func hasEntry(_ value: CodeValue) -> Bool {
        if entries.index(forKey: value) != nil { return true }
        return byPrefix && entry(value) != nil
    }

    /// The row written for exactly this value (no prefix row).
    func exactEntry(_ value: CodeValue) -> CatalogueEntry? { entries[value] }

    /// The range row covering `value`, when no exact row exists.
    public func rangeEntry(_ value: CodeValue) -> CatalogueEntry? {
        guard case let .number(v) = value else { return nil }
        return ranges.first { v >= $0.low && v <= $0.high }?.entry
    }

    public func isFailure(_ value: CodeValue) -> Bool {
        switch failure {
        case .none: return false
        case .all: return true
        case .nonzero: return value != .number(0)
        case .errorIDs:
            guard case let .text(t) = value, let last = t.last else { return false }
            return last == "E" || last == "A"
        }
    }

    /// The code written the way this catalogue writes it.
    public func display(_ value: CodeValue) -> String {
        switch (value, radix) {
        case let (.text(t), _): return t
        case let (.number(n), .hex): return pad(String(n, radix: 16, uppercase: true))
        case let (.number(n), _): return n < 0 ? String(n) : pad(String(n))
        }
    }

    /// The other base, for `explain`: `0x1AF` for decimal codes, the decimal value for hex ones.
    public func alternate(_ value: CodeValue) -> String? {
        guard case let .number(n) = value else { return nil }
        switch radix {
        case .decimal: return "0x" + String(n, radix: 16, uppercase: true)
        case .hex: return String(n)
        case .text: return nil
        }
    }

    private func pad(_ s: String) -> String { s.count < digits ? String(repeating: "0", count: digits - s.count) + s : s }

    /// Inline label bytes for a value (`SSL 431: Certificate is revoked.`, shown in brackets).
    /// The renderer caches them, so each is made once per run.
    func labelBytes(_ value: CodeValue) -> [UInt8] {
        Array(render(label, value: value, entry: entry(value) ?? rangeEntry(value)).utf8)
    }

    /// Fills a label or line template: `{code}`, `{name}`, `{text}`, `{dec}`, `{hex}`, `{title}`.
    public func render(_ template: String, value: CodeValue, entry: CatalogueEntry?) -> String {
        var out = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            out += rest[..<open]
            guard let close = rest[open...].firstIndex(of: "}") else { break }
            let key = rest[rest.index(after: open)..<close]
            switch key {
            case "code": out += display(value)
            case "name": out += entry.map { $0.name.isEmpty ? $0.text : $0.name } ?? "unknown"
            case "text": out += entry.map { $0.text.isEmpty ? $0.name : $0.text } ?? "not in the \(title.lowercased()) catalogue"
            case "dec": if case let .number(n) = value { out += String(n) } else { out += display(value) }
            case "hex": if case let .number(n) = value { out += "0x" + String(n, radix: 16, uppercase: true) } else { out += display(value) }
            case "title": out += title
            default: out += "{" + key + "}"
            }
            rest = rest[rest.index(after: close)...]
        }
        out += rest
        return out
    }
}
