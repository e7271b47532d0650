import TraceLensRecords
import TraceLensDecode
import TraceLensPlugins

/// One way to read a code the user typed: a catalogue, the value, and the row if there is one.
public struct Reading {
    public var catalogue: Catalogue
    public var value: CodeValue
    public var entry: CatalogueEntry?
    /// True when no row has this exact code and the row is the range that covers it.
    public var fromRange: Bool

    public var ref: String { "\(catalogue.id):\(catalogue.display(value))" }
}

/// Looks codes up the way users type them: `431`, `0x1AF`, `134CC1AF`, `03353041`, `C02C`,
/// `alert 42`, `cipher 35`; lists every reading when a value is ambiguous.
public struct Explainer {
    public let plugins: PluginSet

    public init(plugins: PluginSet) { self.plugins = plugins }

    /// The catalogue a kind word names (`alert`, `cipher`, `ssl`, ...), if any.
    public func catalogue(forWord word: String) -> Catalogue? {
        let w = word.lowercased()
        return plugins.catalogues.first { $0.id == w || $0.words.contains(w) }
    }

    /// A flag set (`ERROR+CONNS+LDAPBE`, `x8008`, `ANY-BER`) read by a `flags` catalogue: its
    /// value and one reading per single bit set, lowest first.
    public func decodeFlags(_ query: String, kind: String? = nil) -> (catalogue: Catalogue, value: Int64, bits: [Reading])? {
        var text = query.trimmingBlanks()
        var only = kind.flatMap(catalogue(forWord:))
        if only == nil, let space = text.firstIndex(of: " "), let c = catalogue(forWord: String(text[..<space])) {
            only = c
            text = String(text[space...]).trimmingBlanks()
        }
        for c in plugins.catalogues where c.flags && (only == nil || only === c) {
            guard let value = flagValue(text, c, bareNumbers: only != nil) else { continue }
            let bits = c.entries.values
                .compactMap { e -> (Int64, CatalogueEntry)? in
                    guard case let .number(n) = e.value, n > 0, n & (n - 1) == 0, value & n == n else { return nil }
                    return (n, e)
                }
                .sorted { $0.0 < $1.0 }
                .map { Reading(catalogue: c, value: .number($0.0), entry: $0.1, fromRange: false) }
            return (c, value, bits)
        }
        return nil
    }

    /// Terms joined by `+` (add the bits) and `-` (remove them): names of rows, `x1F`, `0x1F`, or
    /// decimal numbers. A lone `0x1F` or decimal number counts only when the catalogue was named
    /// (`explain debug 32776`): alone, they are read as other codes.
    package func flagValue(_ text: String, _ c: Catalogue, bareNumbers: Bool) -> Int64? {
        var value: Int64 = 0
        var sign: Character = "+"
        var term = ""
        var sawName = false, sawOperator = false, sawHex = false
        func apply() -> Bool {
            let t = term.trimmingBlanks()
            guard !t.isEmpty else { return false }
            var n: Int64?
            let lower = t.lowercased()
            if lower.hasPrefix("0x") { n = Int64(lower.dropFirst(2), radix: 16) }
            else if lower.hasPrefix("x") { n = Int64(lower.dropFirst(), radix: 16); sawHex = true }
            else if let d = Int64(t) { n = d }
            else if let e = c.entries.values.first(where: { $0.name.caseInsensitiveCompare(t) == .orderedSame }), case let .number(v) = e.value { n = v; sawName = true }
            guard let n else { return false }
            if sign == "+" { value |= n } else { value &= ~n }
            return true
        }
        for ch in text {
            if ch == "+" || ch == "-" {
                guard apply() else { return nil }
                sign = ch; term = ""; sawOperator = true
            } else {
                term.append(ch)
            }
        }
        guard apply() else { return nil }
        return sawName || sawOperator || sawHex || bareNumbers ? value : nil
    }

    /// Every reading of `query`. `kind` restricts it to one catalogue (by id or word).
    public func readings(_ query: String, kind: String? = nil) -> [Reading] {
        if let flags = decodeFlags(query, kind: kind) { return flags.bits }
        var text = query.trimmingBlanks()
        var only: Catalogue? = kind.flatMap(catalogue(forWord:))
        // "alert 42": a leading kind word picks the catalogue.
        if only == nil, let space = text.firstIndex(of: " "), let c = catalogue(forWord: String(text[..<space])) {
            only = c
            text = String(text[space...]).trimmingBlanks()
        }
        let candidates = only.map { [$0] } ?? plugins.catalogues.enumerated().sorted { ($0.element.rank, -$0.offset) > ($1.element.rank, -$1.offset) }.map(\.element)
        let bare = Self.bareNumber(text)
        var out: [Reading] = []
        var seen: Set<String> = []
        let bytes = Array(text.utf8)
        for c in candidates {
            var values: [CodeValue] = []
            var caps = Captures()
            // A catalogue with `bare = false` reads typed codes only after its word or `--kind`.
            let typed = c.bare || only != nil
            bytes.withUnsafeBufferPointer { line in
                for t in c.accepts where typed && t.match(line, captures: &caps) != nil {
                    guard let slot = t.slot(named: "code"), let r = caps.range(slot) else { continue }
                    let digits = UnsafeBufferPointer(rebasing: line[r])
                    switch t.slotKinds[slot] {
                    case .hex: if let v = CodeFinder.number(digits, hex: true) { values.append(.number(v)) }
                    case .int: if let v = CodeFinder.number(digits, hex: false) { values.append(.number(v)) }
                    default:
                        let s = String(decoding: digits, as: UTF8.self)
                        if let v = c.value(fromCatalogueText: s) { values.append(v) }
                    }
                }
            }
            if values.isEmpty, only != nil, let v = c.value(fromCatalogueText: text) { values.append(v) }
            // A name or text as tools print it: `certificate_unknown`, `TLSv1.2`, `wrong version number`.
            var byName = false
            if values.isEmpty, bare == nil, let v = c.value(forName: text) { values.append(v); byName = true }
            // A bare decimal number (`20`, `-1`, `-8179`; not `0023`) is read in every decimal
            // catalogue, whatever forms it accepts: `explain` lists every reading.
            if only == nil, c.bare, c.radix == .decimal, let n = bare, !values.contains(.number(n)) { values.append(.number(n)) }
            var known: [Reading] = []
            for v in values {
                // A flags catalogue reads an unnamed value as a set of bits only when its bits are
                // failures (a status word such as GnuTLS's 0x42, met in messages), not for a
                // setting such as a debug level, typed with its kind word.
                if c.flags, only == nil, c.failure == .none, c.exactEntry(v) == nil { continue }
                // A row marked `bare = no` is read from a typed code only with its kind given.
                let readable = { (e: CatalogueEntry) in e.bare || only != nil || byName }
                if let e = c.entry(v) { if readable(e) { known.append(Reading(catalogue: c, value: v, entry: e, fromRange: false)) } }
                else if let e = c.rangeEntry(v), readable(e) { known.append(Reading(catalogue: c, value: v, entry: e, fromRange: true)) }
            }
            // With the kind given, say so even when the catalogue has no row for the value.
            if known.isEmpty, only != nil, let v = values.first { known.append(Reading(catalogue: c, value: v, entry: nil, fromRange: false)) }
            for reading in known where seen.insert(reading.ref).inserted { out.append(reading) }
        }
        return out
    }

    /// A plain decimal number: digits with an optional `-`, no leading zero (`0023` is a
    /// 4-digit code form, not the number 23).
    public static func bareNumber(_ text: String) -> Int64? {
        let digits = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
        guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
              digits == "0" || !digits.hasPrefix("0") else { return nil }
        return Int64(text)
    }

    /// Rows whose code, name, text or explanation contain every word of `words`.
    public func search(_ words: String, kind: String? = nil) -> [Reading] {
        let terms = words.lowercased().split(separator: " ").map(String.init)
        let only = kind.flatMap(catalogue(forWord:))
        var out: [Reading] = []
        for c in plugins.catalogues where only == nil || only === c {
            for e in c.entries.values.sorted(by: { $0.value < $1.value }) {
                let hay = [e.code, e.name, e.text, e.explanation].joined(separator: " ").lowercased()
                if terms.allSatisfy({ hay.contains($0) }) { out.append(Reading(catalogue: c, value: e.value, entry: e, fromRange: false)) }
            }
        }
        return out
    }

    /// Decodes `VARIABLE=VALUE` for variables whose value is a list of codes, element by element.
    /// Returns nil when the variable is not such a list.
    public func decodeList(_ assignment: String) -> (decoder: ListDecoder, elements: [(text: String, reading: Reading?)], problem: String?)? {
        guard let eq = assignment.firstIndex(of: "=") else { return nil }
        let name = String(assignment[..<eq]).trimmingBlanks()
        guard let decoder = plugins.list(forVariable: name) else { return nil }
        var value = String(assignment[assignment.index(after: eq)...]).trimmingBlanks()
        if value.count >= 2, let f = value.first, f == "\"" || f == "'", value.last == f { value = String(value.dropFirst().dropLast()) }
        let c = plugins.catalogues[decoder.catalogue]
        var elements: [(String, Reading?)] = []
        var chars = Substring(value)
        while !chars.isEmpty {
            let piece = String(chars.prefix(decoder.width))
            chars = chars.dropFirst(decoder.width)
            let reading = c.value(fromCatalogueText: piece).map { v in
                Reading(catalogue: c, value: v, entry: c.entry(v) ?? c.rangeEntry(v), fromRange: c.entry(v) == nil)
            }
            elements.append((piece, reading))
        }
        var problem: String?
        if value.count % decoder.width != 0 {
            problem = "the value has \(value.count) characters, not a multiple of \(decoder.width): the last element is incomplete"
        }
        return (decoder, elements, problem)
    }
}
