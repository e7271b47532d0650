import TraceLensRecords
import TraceLensInput

/// A reference to a code in a named catalogue, written `kind:code` (e.g. `cms:03353041`).
public struct CodeRef: Hashable, Sendable, CustomStringConvertible {
    public var catalogue: String
    public var code: String
    public var description: String { "\(catalogue):\(code)" }
    /// `alert:*` in a diagnosis rule: any code of the catalogue.
    public var isWildcard: Bool { code == "*" }

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
    /// What the row was checked against (an address or a named document); empty for rows
    /// nobody could confirm. Every row marked verified names one.
    public var source: String
    /// Further columns of the row, in file order (`tls_versions`, `default`, ...).
    public var details: [(column: String, value: String)]
    /// Where the row came from, for messages: `file:line`.
    public var origin: String
    /// False (the row's `bare` column says `no`) when a code typed without the catalogue's word
    /// does not read this row: `explain 0023` is the group secp256r1, `explain cipher 0023` the
    /// Kerberos suite no z/OS product writes in that form.
    public var bare: Bool
    package init(value: CodeValue, code: String, name: String, text: String, explanation: String, action: String, verified: Bool, related: [CodeRef], source: String = "", details: [(column: String, value: String)], origin: String, bare: Bool = true) {
        self.value = value
        self.code = code
        self.name = name
        self.text = text
        self.explanation = explanation
        self.action = action
        self.verified = verified
        self.related = related
        self.source = source
        self.details = details
        self.origin = origin
        self.bare = bare
    }
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

/// What a catalogue's rows are (`kind` in its `[[catalogue]]` table).
public enum CatalogueKind: String, Sendable {
    /// Codes: a row's text says what the code means (the default).
    case code
    /// Message ids: a row's text is the message as printed, its variable parts in `<...>`. Where
    /// the id is followed by that text, the inline label is only the row's `severity` (the text
    /// is on the line already); a bare id keeps the whole label.
    case message
}

/// A code table from a plugin: how its codes are written and read, and its rows. Built from
/// its `Rows`, then read-only (so plainly Sendable).
public final class Catalogue: Sendable {
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
    public let flags: Bool
    /// How often a bare number (`explain 20`) means this catalogue: readings of one value are
    /// listed highest rank first (ties in plugin order).
    public let rank: Int
    /// False when a code typed without the catalogue's word is not read here (`explain 43` is not
    /// an extension; `explain extension 43` is): small numbers every TLS registry reuses.
    public let bare: Bool
    /// Codes or message ids (see `CatalogueKind`).
    public let kind: CatalogueKind
    /// Rows by their code, name, text and older wordings (`text_*` columns), normalised by
    /// `nameKey`: for `[[code]]` patterns with `by = "name"` (`tlsv1 alert unknown ca`,
    /// `certificate_unknown`, `unable to get local issuer certificate`).
    public let names: [String: CodeValue]
    /// The longest name or text indexed, in bytes: how far `longestName(in:)` looks.
    package let longestNameBytes: Int

    public let entries: [CodeValue: CatalogueEntry]
    /// Rows that cover a range (`03353001-03353FFF`), used when no exact row exists.
    public let ranges: [(low: Int64, high: Int64, entry: CatalogueEntry)]

    package init(id: String, title: String, plugin: String, radix: Radix, digits: Int, label: String, failure: FailurePolicy, words: [String], accepts: [Template],
                 flags: Bool = false, byPrefix: Bool = false, rank: Int = 0, bare: Bool = true, kind: CatalogueKind = .code, rows: Rows) {
        self.id = id; self.title = title; self.plugin = plugin; self.radix = radix; self.digits = digits
        self.label = label; self.failure = failure; self.words = words; self.accepts = accepts
        self.flags = flags; self.byPrefix = byPrefix && radix == .text; self.rank = rank; self.bare = bare; self.kind = kind
        names = rows.names; longestNameBytes = rows.longestNameBytes; entries = rows.entries; ranges = rows.ranges
    }

    /// A catalogue's rows while its plugins are read (later plugins add and replace rows); the
    /// catalogue is made from them once they are complete.
    package struct Rows {
        package let radix: Radix
        package private(set) var names: [String: CodeValue] = [:]
        package private(set) var longestNameBytes = 0
        package private(set) var entries: [CodeValue: CatalogueEntry] = [:]
        package private(set) var ranges: [(low: Int64, high: Int64, entry: CatalogueEntry)] = []

        package init(radix: Radix) { self.radix = radix }

        /// Adds or replaces a row (a later plugin overrides an earlier one).
        package mutating func add(_ entry: CatalogueEntry) {
            entries[entry.value] = entry
            var keys = [entry.name, entry.text] + entry.details.filter { $0.column.hasPrefix("text") }.map(\.value)
            if radix == .text { keys.append(entry.code) }
            for key in keys {
                let k = Catalogue.nameKey(key)
                if !k.isEmpty && names[k] == nil { names[k] = entry.value }
                longestNameBytes = max(longestNameBytes, key.utf8.count)
            }
            if radix == .text { names[Catalogue.nameKey(entry.code)] = entry.value }
        }

        package mutating func addRange(low: Int64, high: Int64, entry: CatalogueEntry) {
            ranges.removeAll { $0.low == low && $0.high == high }
            ranges.append((low, high, entry))
        }
    }

    /// A name or text as looked up by `value(forName:)`: ASCII letters in lower case, `_`, `-`
    /// and runs of blanks as one space, no blanks or full stops at either end.
    public static func nameKey<S: StringProtocol>(_ text: S) -> String { nameKey(bytes: text.utf8) }

    package static func nameKey<C: Collection>(bytes text: C) -> String where C.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var gap = false
        for b in text {
            if b == 0x20 || b == 0x09 || b == 0x5F || b == 0x2D {
                gap = !out.isEmpty
                continue
            }
            if gap { out.append(0x20); gap = false }
            out.append(b >= 0x41 && b <= 0x5A ? b + 0x20 : b)
        }
        while let last = out.last, last == 0x2E || last == 0x20 { out.removeLast() }
        return String(decoding: out, as: UTF8.self)
    }

    /// The row whose code, name or text (any case, `_` `-` and blanks alike) is `text`.
    public func value<S: StringProtocol>(forName text: S) -> CodeValue? {
        names[Self.nameKey(text)]
    }

    /// The longest start of `field` that is a row's name or text and ends where a word ends
    /// (`certificate verify failed` in `certificate verify failed:../ssl/statem...`), and how many
    /// bytes it takes. Looks no further than the longest name, so a long line costs little.
    package func longestName(in field: UnsafeBufferPointer<UInt8>) -> (value: CodeValue, length: Int)? {
        guard !names.isEmpty else { return nil }
        let limit = min(field.count, longestNameBytes + 16)
        var best: (CodeValue, Int)?
        var i = 1
        while i <= limit {
            let ends = i == field.count || !CodeFinder.isWordByte(field[i])
            if ends, !isBlank(field[i - 1]), let v = names[Self.nameKey(bytes: field[0..<i])] { best = (v, i) }
            i += 1
        }
        return best
    }

    /// Parses a code as this catalogue writes it in its file.
    public func value(fromCatalogueText text: String) -> CodeValue? { Self.value(fromCatalogueText: text, radix: radix) }

    /// Parses a code as a catalogue of `radix` writes it in its file.
    package static func value(fromCatalogueText text: String, radix: Radix) -> CodeValue? {
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
    public let byPrefix: Bool

    public func entry(_ value: CodeValue) -> CatalogueEntry? {
        if let e = entries[value] { return e }
        if flags, case let .number(n) = value { return flagsEntry(n) }
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
    @inline(__always) package func hasEntry(_ value: CodeValue) -> Bool {
        if entries.index(forKey: value) != nil { return true }
        return (byPrefix || flags) && entry(value) != nil
    }

    /// A set of bits in a `flags` catalogue with no row of its own: one made of the rows of its
    /// single bits (`INVALID+SIGNER_NOT_FOUND`), when every bit set has one.
    package func flagsEntry(_ n: Int64) -> CatalogueEntry? {
        guard n > 0 else { return nil }
        var parts: [CatalogueEntry] = []
        var rest = n
        while rest != 0 {
            let bit = rest & -rest
            guard let e = entries[.number(bit)] else { return nil }
            parts.append(e)
            rest &= rest - 1
        }
        guard parts.count > 1 else { return parts.first }
        return CatalogueEntry(value: .number(n), code: display(.number(n)), name: parts.map(\.name).joined(separator: "+"),
                              text: parts.map(\.text).joined(separator: "; "), explanation: parts.map(\.explanation).filter { !$0.isEmpty }.joined(separator: " "),
                              action: parts.map(\.action).filter { !$0.isEmpty }.joined(separator: " "), verified: parts.allSatisfy(\.verified),
                              related: parts.flatMap(\.related),
                              source: parts.map(\.source).reduce(into: [String]()) { if !$1.isEmpty && !$0.contains($1) { $0.append($1) } }.joined(separator: " ; "),
                              details: [], origin: parts.map(\.origin).joined(separator: ", "))
    }

    /// The row written for exactly this value (no prefix row).
    package func exactEntry(_ value: CodeValue) -> CatalogueEntry? { entries[value] }

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
        // A hex catalogue with no fixed width (a status bit mask) shows the 0x: `0x42`.
        case let (.number(n), .hex): return digits == 0 && n >= 0 ? "0x" + String(n, radix: 16, uppercase: true) : pad(String(n, radix: 16, uppercase: true))
        case let (.number(n), _): return n < 0 ? String(n) : pad(String(n))
        }
    }

    /// The other base, for `explain`: `0x1AF` for decimal codes, the decimal value for hex ones.
    public func alternate(_ value: CodeValue) -> String? {
        guard case let .number(n) = value else { return nil }
        switch radix {
        // No hex form for a negative code (`-1`, `-8179`): nobody writes them so.
        case .decimal: return n < 0 ? nil : "0x" + String(n, radix: 16, uppercase: true)
        case .hex: return String(n)
        case .text: return nil
        }
    }

    private func pad(_ s: String) -> String { s.count < digits ? String(repeating: "0", count: digits - s.count) + s : s }

    /// Inline label bytes for a value (`SSL 431: Certificate is revoked.`, shown in brackets).
    /// The renderer caches them, so each is made once per run.
    package func labelBytes(_ value: CodeValue) -> [UInt8] {
        Array(render(label, value: value, entry: entry(value) ?? rangeEntry(value)).utf8)
    }

    // MARK: message ids

    /// The beginning of a message row's text as a pattern for `messageFollows`: lower case, runs
    /// of blanks as one, each `<placeholder>` as `messageAny`. It ends after the third word that
    /// holds a fixed letter or digit (`unable to initialize`), or with the text: enough to tell
    /// the message from prose, and lenient with later wording that varies between releases.
    /// Nil when the catalogue holds no messages or the value has no row.
    package func messageOpening(_ value: CodeValue) -> [UInt8]? {
        guard kind == .message, let e = entry(value), !e.text.isEmpty else { return nil }
        var out: [UInt8] = []
        var words = 0, wordHasFixed = false, inPlaceholder = false
        for b in e.text.utf8 {
            if inPlaceholder { if b == 0x3E { inPlaceholder = false }; continue }
            if b == 0x3C { inPlaceholder = true; if out.last != Self.messageAny { out.append(Self.messageAny) }; continue }
            if b == 0x20 || b == 0x09 {
                if wordHasFixed { words += 1; wordHasFixed = false; if words == 3 { break } }
                if !out.isEmpty && out.last != 0x20 { out.append(0x20) }
                continue
            }
            if CodeFinder.isWordByte(b) { wordHasFixed = true }
            out.append(lowerASCII(b))
        }
        while out.last == 0x20 { out.removeLast() }
        return out.isEmpty ? nil : out
    }

    /// A placeholder in a `messageOpening`: one byte or more of the line.
    package static let messageAny: UInt8 = 0

    /// True when `text` (what follows the id on its line) starts, after blanks, with the message
    /// `opening`: any case, runs of blanks as one, a placeholder standing for one byte or more.
    /// Linear in practice: one backtracking point (the last placeholder), as for `*` globs.
    package static func messageFollows(_ opening: [UInt8], _ text: UnsafeBufferPointer<UInt8>) -> Bool {
        var t = 0
        while t < text.count && isBlank(text[t]) { t += 1 }
        guard t > 0 else { return false }
        var p = 0
        var star = -1, starT = 0
        while p < opening.count {
            if opening[p] == messageAny {
                guard t < text.count, text[t] != 0x0A else { return false }
                star = p; t += 1; starT = t; p += 1
                continue
            }
            if t < text.count, text[t] != 0x0A {
                let c = lowerASCII(text[t])
                if opening[p] == 0x20, isBlank(c) {
                    while t < text.count && isBlank(text[t]) { t += 1 }
                    p += 1
                    continue
                }
                if c == opening[p] { t += 1; p += 1; continue }
            }
            // Back to the last placeholder, which takes one more byte.
            guard star >= 0, starT < text.count, text[starT] != 0x0A else { return false }
            starT += 1; t = starT; p = star + 1
        }
        return true
    }

    /// The inline label of a message id followed by its own text: the row's `severity` column
    /// (`error`), or nothing.
    package func messageLabelBytes(_ value: CodeValue) -> [UInt8] {
        guard let e = entry(value), let severity = e.details.first(where: { $0.column == "severity" })?.value else { return [] }
        return Array(severity.utf8)
    }

    /// The label as a table shows what a code means (`summary`): for a message id, its text up to
    /// the first variable part (`GLD1116E: Unable to initialize an SSL connection with …`),
    /// whole when that leaves less than two words; other codes' labels as they are.
    public func meaning(_ value: CodeValue) -> String {
        let found = entry(value) ?? rangeEntry(value)
        guard kind == .message, var e = found, let open = e.text.firstIndex(of: "<") else { return render(label, value: value, entry: found) }
        var head = e.text[..<open]
        while let last = head.last, last == " " || last == "(" || last == ":" || last == "," || last == "=" { head = head.dropLast() }
        if head.split(separator: " ").count >= 2 { e.text = String(head) + " …" }
        return render(label, value: value, entry: e)
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
            case "hex": if case let .number(n) = value, n >= 0 { out += "0x" + String(n, radix: 16, uppercase: true) } else { out += display(value) }
            case "title": out += title
            default: out += "{" + key + "}"
            }
            rest = rest[rest.index(after: close)...]
        }
        out += rest
        return out
    }
}
