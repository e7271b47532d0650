import TraceLensRecords
import TraceLensInput

/// A plugin's `[[redact]]`: where a layout writes a value to hide (`key ring {user:token}/{ring:word}`).
/// Each field named after a class (`ip`, `host`, `dn`, `user`, `ring`, `serial`, `word`) is one.
public struct RedactRule: Sendable {
    package let template: Template
    package let fields: [Field]
    package let file: String
    package let entry: String
    package struct Field: Sendable {
        package let slot: Int
        package let kind: Redactor.Kind
        package init(slot: Int, kind: Redactor.Kind) { self.slot = slot; self.kind = kind }
    }
    package init(template: Template, fields: [Field], file: String, entry: String) {
        self.template = template; self.fields = fields; self.file = file; self.entry = entry
    }
}

/// Replaces addresses, host names, DN values, user ids, key ring names, serials and words the
/// user lists with stand-ins, the same stand-in for the same value everywhere (`10.1.0.2` →
/// `198.18.0.1`, `START1` → `USER01`), and masks secrets. Codes, times, thread ids and the line
/// structure stay. Two passes: `learn` every text first (so a value seen only later in another
/// file is known where it comes first), then `redact` each.
///
/// Stand-ins keep the length of the value (so columns and hex dumps stay aligned), except IP
/// addresses (198.18.0.0/15, the benchmarking range; IPv6 2001:db8::/32) and values too short for
/// a numbered stand-in. Values in hex dumps (ASCII or EBCDIC bytes of a known value, a DN value in
/// a certificate) are replaced byte for byte, hex and text column alike.
public final class Redactor {
    public enum Kind: String, Sendable, CaseIterable {
        case ip, host, dn, user, ring, serial, word
    }

    /// One value and its stand-in.
    public struct Entry: Sendable, Equatable {
        public let kind: Kind
        public let original: String
        public let pseudonym: String
    }

    public private(set) var entries: [Entry] = []
    private var index: [String: Int] = [:]
    private var counters: [Kind: Int] = [:]
    private let rules: [RedactRule]
    private let masker: SecretMasker
    private let prefilter: LiteralPrefilter
    private var caps = Captures()
    /// Entries replaced wherever they appear as a whole word, longest first (rebuilt when stale).
    private var tokens: [(key: [UInt8], entry: Int)] = []
    private var tokensStale = true
    private var tokenBuckets: [[Int]] = Array(repeating: [], count: 256)

    /// `words`: extra values to hide everywhere (`--word ACME`), as kind `word`.
    public init(rules: [RedactRule], masker: SecretMasker, words: [String] = []) {
        self.rules = rules
        self.masker = masker
        prefilter = LiteralPrefilter(rules.map(\.template.leadingLiteral), ignoringCase: rules.map(\.template.caseInsensitive))
        for w in words where !w.isEmpty { _ = add(.word, w) }
    }

    // MARK: learning

    /// Learns the values in `text` (one or more lines) without changing it.
    public func learn(_ text: [UInt8]) {
        forEachLine(text) { line in
            let end = Self.contentEnd(line)
            // A value the line ends with may have been cut at a screen's edge (`USER GLDSR` in an
            // SDSF capture): kept aside until every file is learned, then taken only when no
            // longer value starts with it.
            func take(_ kind: Kind, _ r: Range<Int>) {
                let value = String(decoding: line[r], as: UTF8.self)
                if r.upperBound == end && kind != .ip { pending.append((kind, value)) } else { _ = add(kind, value) }
            }
            for r in ruleHits(line) { take(r.kind, r.range) }
            for r in Self.ipv4Ranges(line) { take(.ip, r) }
            for r in Self.ipv6Ranges(line) { take(.ip, r) }
            for r in Self.dnValueRanges(line) {
                // A value cut at a blank (no comma or quote closed it) may be the start of a known one.
                if r.cut { pending.append((.dn, String(decoding: line[r.range], as: UTF8.self))) } else { take(.dn, r.range) }
            }
        }
    }

    private var pending: [(kind: Kind, value: String)] = []

    /// The values kept aside by `learn` (a line's last word), now that the others are known.
    private func settle() {
        for p in pending where cutFrom(p.value) == nil { _ = add(p.kind, p.value) }
        pending.removeAll()
    }

    /// The stand-in's start for a value that is the start of a longer known one (a value cut at a
    /// screen's edge), of the same length.
    private func cutFrom(_ value: String) -> String? {
        let key = value.lowercased()
        guard index[key] == nil, key.count >= 3 else { return nil }
        guard let e = entries.first(where: { $0.kind != .ip && $0.original.count > key.count && $0.original.lowercased().hasPrefix(key) }) else { return nil }
        return String(e.pseudonym.prefix(value.count))
    }

    /// Where a line's text ends (before a CR).
    static func contentEnd(_ line: [UInt8]) -> Int { line.last == 0x0D ? line.count - 1 : line.count }

    public func learn(_ text: String) { learn(Array(text.utf8)) }

    /// The stand-in for a value, made (and remembered) on first sight; nil for a value kept as it
    /// is (a loopback address, one too short or all digits to be worth hiding).
    @discardableResult
    public func add(_ kind: Kind, _ value: String) -> String? {
        let key = value.lowercased()
        if let i = index[key] { return entries[i].pseudonym }
        var kind = kind
        if kind == .host || kind == .word, Self.isIPv4(Array(value.utf8)) { kind = .ip }
        switch kind {
        case .ip:
            if value.hasPrefix("127.") || value == "0.0.0.0" || value == "::1" || value == "::" || value == "255.255.255.255" { return nil }
        case .serial:
            // A serial is hex digits, perhaps in pairs with colons.
            if value.isEmpty || !value.utf8.allSatisfy({ Self.isHex($0) || $0 == 0x3A }) { return nil }
        case .word: if value.isEmpty { return nil }
        default:
            if value.count < 3 || value.allSatisfy({ $0.isNumber }) { return nil }
        }
        let n = (counters[kind] ?? 0) + 1
        counters[kind] = n
        let pseudonym: String
        let length = value.utf8.count
        switch kind {
        case .ip:
            pseudonym = value.contains(":") ? "2001:db8::" + String(n, radix: 16) : "198.\(18 + (n >> 16) & 1).\((n >> 8) & 255).\(n & 255)"
        case .host: pseudonym = Self.sameLength("host", n, suffix: ".example", length)
        case .dn: pseudonym = Self.sameLength("NAME", n, length)
        case .user: pseudonym = Self.sameLength("USER", n, length)
        case .ring: pseudonym = Self.sameLength("RING", n, length)
        case .word: pseudonym = Self.sameLength("WORD", n, length)
        case .serial:
            let hex = String(n, radix: 16, uppercase: true)
            pseudonym = hex.count >= length ? hex : String(repeating: "0", count: length - hex.count) + hex
        }
        index[key] = entries.count
        entries.append(Entry(kind: kind, original: value, pseudonym: pseudonym))
        tokensStale = true
        return pseudonym
    }

    /// `prefix` + number (+ `suffix`), zero-padded to `length` where it fits; a shorter prefix
    /// (its first letter), then no suffix, before giving up the length.
    static func sameLength(_ prefix: String, _ n: Int, suffix: String = "", _ length: Int) -> String {
        let digits = String(n)
        for (p, s) in [(prefix, suffix), (String(prefix.prefix(1)), suffix), (prefix, ""), (String(prefix.prefix(1)), "")] {
            let room = length - p.count - s.count
            if room >= digits.count { return p + String(repeating: "0", count: room - digits.count) + digits + s }
        }
        return String(prefix.prefix(1)) + digits
    }

    // MARK: redacting

    /// `text` with every known value replaced and secrets masked; lines and line ends stay.
    /// Values not learned before are learned as they are met.
    public func redact(_ text: [UInt8]) -> [UInt8] {
        learn(text)
        settle()
        var carry = SecretMasker.Carry()
        var out: [UInt8] = []
        out.reserveCapacity(text.count + text.count / 8)
        var block: [[UInt8]] = []
        func flush() {
            guard !block.isEmpty else { return }
            for line in redactDump(block) { out += line; out.append(0x0A) }
            block.removeAll()
        }
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        for (i, b) in text.enumerated() where b == 0x0A { lines.append(text[start..<i]); start = i + 1 }
        let lastHasEnd = start == text.count
        if !lastHasEnd { lines.append(text[start...]) }
        for raw in lines {
            var line = Array(raw)
            masker.mask(&line, captures: &caps, carry: &carry)
            if Self.dumpBytes(line) != nil { block.append(line); continue }
            flush()
            out += redactLine(line)
            out.append(0x0A)
        }
        flush()
        if !lastHasEnd, out.last == 0x0A { out.removeLast() }
        return out
    }

    /// `text` redacted (for text made elsewhere, such as a report).
    public func redacted(_ text: String) -> String { String(decoding: redact(Array(text.utf8)), as: UTF8.self) }

    private func redactLine(_ line: [UInt8]) -> [UInt8] {
        var edits: [(range: Range<Int>, with: [UInt8])] = []
        func stand(_ kind: Kind, _ r: Range<Int>) {
            let value = String(decoding: line[r], as: UTF8.self)
            if r.upperBound == Self.contentEnd(line), kind != .ip, let cut = cutFrom(value) {
                edits.append((r, Self.cased(Array(cut.utf8), like: line[r])))
                return
            }
            guard let p = add(kind, value) else { return }
            edits.append((r, Self.cased(Array(p.utf8), like: line[r])))
        }
        line.withUnsafeBufferPointer { buf in
            for r in ruleHits(buf) { stand(r.kind, r.range) }
        }
        for r in Self.ipv4Ranges(line) { stand(.ip, r) }
        for r in Self.ipv6Ranges(line) { stand(.ip, r) }
        for r in Self.dnValueRanges(line) where !(r.cut && cutFrom(String(decoding: line[r.range], as: UTF8.self)) != nil) {
            // (A cut value that starts a known one is left to the whole-word pass: `o=Your Company`.)
            stand(.dn, r.range)
        }
        rebuildTokens()
        let lower = line.map(Self.lowered)
        // Whole words only: a candidate starts after a boundary, with a first byte some value has.
        for i in lower.indices where Self.isBoundary(lower, i - 1) {
            for t in tokenBuckets[Int(lower[i])] {
                let key = tokens[t].key
                guard i + key.count <= lower.count, Self.isBoundary(lower, i + key.count),
                      lower[i..<(i + key.count)].elementsEqual(key) else { continue }
                let r = i..<(i + key.count)
                edits.append((r, Self.cased(Array(entries[tokens[t].entry].pseudonym.utf8), like: line[r])))
            }
        }
        guard !edits.isEmpty else { return line }
        // Earlier first, and of two at one place the longer; overlapping ones are dropped.
        edits.sort { $0.range.lowerBound != $1.range.lowerBound ? $0.range.lowerBound < $1.range.lowerBound : $0.range.count > $1.range.count }
        var out: [UInt8] = []
        var at = 0
        for e in edits where e.range.lowerBound >= at {
            out += line[at..<e.range.lowerBound]
            out += e.with
            at = e.range.upperBound
        }
        out += line[at...]
        return out
    }

    private func rebuildTokens() {
        guard tokensStale else { return }
        tokens = entries.indices.compactMap { i in
            let e = entries[i]
            guard !e.original.isEmpty, e.kind != .ip, e.kind != .serial, !(e.kind == .dn && Self.commonWords.contains(e.original.lowercased())) else { return nil }
            return (Array(e.original.lowercased().utf8), i)
        }.sorted { $0.key.count > $1.key.count }
        tokenBuckets = Array(repeating: [], count: 256)
        for (t, token) in tokens.enumerated() { tokenBuckets[Int(token.key[0])].append(t) }
        tokensStale = false
    }

    // MARK: rules

    private func ruleHits(_ line: [UInt8]) -> [(kind: Kind, range: Range<Int>)] {
        line.withUnsafeBufferPointer { ruleHits($0) }
    }

    private func ruleHits(_ line: UnsafeBufferPointer<UInt8>) -> [(kind: Kind, range: Range<Int>)] {
        var hits: [(kind: Kind, range: Range<Int>)] = []
        prefilter.scan(line) { i, p in
            let rule = rules[i]
            guard rule.template.match(line, from: p, wholeLine: false, captures: &caps) != nil else { return p + 1 }
            for f in rule.fields {
                guard var r = caps.range(f.slot) else { continue }
                // Quotes and punctuation around a word are not the value (`127.0.0.1",`).
                while !r.isEmpty, Self.edgePunctuation.contains(line[r.upperBound - 1]) { r = r.lowerBound..<(r.upperBound - 1) }
                while !r.isEmpty, Self.edgePunctuation.contains(line[r.lowerBound]) { r = (r.lowerBound + 1)..<r.upperBound }
                if !r.isEmpty { hits.append((f.kind, r)) }
            }
            return p + 1
        }
        return hits
    }

    /// `"`, `'`, `,`, `;`, `)`, `(`, `]`, `[`, `.`, `:`: never the first or last byte of a value a rule captures.
    static let edgePunctuation: Set<UInt8> = [0x22, 0x27, 0x2C, 0x3B, 0x29, 0x28, 0x5D, 0x5B, 0x2E, 0x3A]

    // MARK: generic scans

    @inline(__always) static func lowered(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b + 0x20 : b }
    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    @inline(__always) static func isAlnum(_ b: UInt8) -> Bool { isDigit(b) || (lowered(b) >= 0x61 && lowered(b) <= 0x7A) }
    @inline(__always) static func isHex(_ b: UInt8) -> Bool { isDigit(b) || (lowered(b) >= 0x61 && lowered(b) <= 0x66) }
    static func isBoundary(_ s: [UInt8], _ i: Int) -> Bool { i < 0 || i >= s.count || !(isAlnum(s[i]) || s[i] == 0x5F) }

    static func find(_ needle: [UInt8], in hay: [UInt8], from: Int) -> Range<Int>? {
        guard !needle.isEmpty, hay.count >= needle.count else { return nil }
        var i = from
        while i + needle.count <= hay.count {
            if hay[i] == needle[0] && hay[i..<(i + needle.count)].elementsEqual(needle) { return i..<(i + needle.count) }
            i += 1
        }
        return nil
    }

    /// The stand-in in the case of the value it replaces: all lower case for a lower-case value,
    /// all upper for an upper-case one.
    static func cased(_ p: [UInt8], like original: ArraySlice<UInt8>) -> [UInt8] {
        let hasLower = original.contains { $0 >= 0x61 && $0 <= 0x7A }
        let hasUpper = original.contains { $0 >= 0x41 && $0 <= 0x5A }
        if hasLower && !hasUpper { return p.map(lowered) }
        if hasUpper && !hasLower { return p.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 } }
        return p
    }

    static func isIPv4(_ s: [UInt8]) -> Bool { ipv4Ranges(s).first == 0..<s.count }

    /// Dotted IPv4 addresses (four numbers to 255), not inside a longer dotted run (an OID).
    static func ipv4Ranges(_ s: [UInt8]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var i = 0
        while i < s.count {
            guard isDigit(s[i]), i == 0 || !(isAlnum(s[i - 1]) || s[i - 1] == 0x2E) else { i += 1; continue }
            var p = i, parts = 0, ok = true
            while parts < 4 {
                let st = p
                var v = 0
                while p < s.count, isDigit(s[p]), p - st < 3 { v = v * 10 + Int(s[p] - 0x30); p += 1 }
                if p == st || v > 255 || (p < s.count && isDigit(s[p])) { ok = false; break }
                parts += 1
                if parts < 4 { guard p < s.count, s[p] == 0x2E else { ok = false; break }; p += 1 }
            }
            // A port after a dot (`10.1.0.2.42514`) ends the address; a longer dotted run is no
            // address (an OID), nor are four numbers starting 0, 1 or 2 (`2.5.29.15` is an OID).
            var portEnd = p
            if ok, p + 1 < s.count, s[p] == 0x2E, isDigit(s[p + 1]) {
                portEnd = p + 1
                while portEnd < s.count, isDigit(s[portEnd]) { portEnd += 1 }
                if portEnd - p - 1 > 5 || (portEnd < s.count && (isAlnum(s[portEnd]) || (s[portEnd] == 0x2E && portEnd + 1 < s.count && isDigit(s[portEnd + 1])))) { ok = false }
            }
            if ok, s[i] > 0x32 || isDigit(s[i + 1]), !(portEnd == p && p < s.count && isAlnum(s[p])) {
                out.append(i..<p); i = portEnd
            } else {
                while i < s.count && (isDigit(s[i]) || s[i] == 0x2E) { i += 1 }
            }
        }
        return out
    }

    /// IPv6 addresses: hex groups and colons with `::` or eight groups; the IPv4-mapped form
    /// (`::FFFF:10.1.0.2`) is left to the IPv4 scan, so it maps as the plain address does.
    static func ipv6Ranges(_ s: [UInt8]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var i = 0
        while i < s.count {
            guard isHex(s[i]) || s[i] == 0x3A, i == 0 || !(isAlnum(s[i - 1]) || s[i - 1] == 0x3A || s[i - 1] == 0x5F) else { i += 1; continue }
            var p = i
            while p < s.count, isHex(s[p]) || s[p] == 0x3A { p += 1 }
            defer { i = max(p, i + 1) }
            if p < s.count && (isAlnum(s[p]) || s[p] == 0x2E || s[p] == 0x5F) { continue }
            let run = s[i..<p]
            let colons = run.filter { $0 == 0x3A }.count
            let double = run.indices.contains { $0 + 1 < p && s[$0] == 0x3A && s[$0 + 1] == 0x3A }
            guard colons >= 2, colons <= 7, double || colons == 7 else { continue }
            let groups = run.split(separator: 0x3A, omittingEmptySubsequences: true)
            guard !groups.isEmpty, groups.allSatisfy({ $0.count <= 4 }) else { continue }
            // `::` alone, or a trailing colon (`host::`): not an address.
            guard s[p - 1] != 0x3A || double && s[p - 2] == 0x3A else { continue }
            out.append(i..<p)
        }
        return out
    }

    /// DN values that are ordinary words (`O=SERVER`, `OU=TEST`): replaced where they are a DN's
    /// value and in dumps, not wherever the word appears (`LDAP server is ready` stays).
    static let commonWords: Set<String> = [
        "server", "servers", "client", "clients", "test", "tests", "testing", "user", "users", "your", "company", "admin", "root",
        "ldap", "ssl", "tls", "system", "systems", "security", "certificate", "certificates", "web", "mail", "default",
        "local", "internet", "org", "inc", "ltd", "corp", "department", "unit", "group", "groups", "example", "demo",
        "production", "prod", "dev", "development", "the", "and", "for", "services", "service", "network", "host",
        "authority", "trust", "issuing", "intermediate", "signing", "people", "accounts", "domain",
    ]

    static let dnTypes: Set<String> = ["cn", "ou", "o", "c", "l", "st", "dc", "uid", "e", "email", "emailaddress", "street", "sn", "givenname", "serialnumber"]
    /// Types whose values stay: the country.
    static let keptTypes: Set<String> = ["c"]

    /// The values of DN parts (`CN=ecec,O=cpwebuser,C=GB` gives `ecec`, `cpwebuser`). A value
    /// runs to a comma, quote, bracket or the like, blanks included (`o=Your Company`); one running
    /// to the line's end without stops at its first blank.
    static func dnValueRanges(_ s: [UInt8]) -> [(range: Range<Int>, cut: Bool)] {
        var out: [(range: Range<Int>, cut: Bool)] = []
        var i = 0
        let stops: Set<UInt8> = [0x3A, 0x2C, 0x3B, 0x2B, 0x22, 0x27, 0x3C, 0x3E, 0x28, 0x29, 0x2A, 0x7C, 0x09, 0x0D, 0x5B, 0x5D]
        while i < s.count {
            guard isAlnum(s[i]), i == 0 || !(isAlnum(s[i - 1]) || s[i - 1] == 0x5F || s[i - 1] == 0x2D || s[i - 1] == 0x2E) else { i += 1; continue }
            var p = i
            while p < s.count, isAlnum(s[p]) { p += 1 }
            let type = String(decoding: s[i..<p].map(lowered), as: UTF8.self)
            var q = p
            while q < s.count, s[q] == 0x20 { q += 1 }
            guard dnTypes.contains(type), q < s.count, s[q] == 0x3D else { i = p; continue }
            q += 1
            while q < s.count, s[q] == 0x20 { q += 1 }
            let vs = q
            // A blank before the next part (`CN=a O=b`) ends a value, as does one before the
            // line's end when no comma or quote closes the value (`CN=x = Thd-5 success`).
            while q < s.count, !stops.contains(s[q]) {
                if s[q] == 0x20, startsPart(s, q + 1) { break }
                q += 1
            }
            var ve = q
            var cut = false
            if q == s.count, let blank = s[vs..<q].firstIndex(of: 0x20) { ve = blank; cut = true }
            while ve > vs, s[ve - 1] == 0x20 { ve -= 1 }
            // A single part with no comma after it is only taken for the types that name things.
            let single = !(q < s.count && s[q] == 0x2C) && !(vs > 1 && (s[i - 1] == 0x2C || (i > 1 && s[i - 1] == 0x20 && s[i - 2] == 0x2C)))
            if ve > vs, !keptTypes.contains(type), !single || ["cn", "o", "ou", "dc", "uid"].contains(type) { out.append((vs..<ve, cut)) }
            i = max(ve, i + 1)
        }
        return out
    }

    /// Whether a DN part (`O=`, `cn =`) starts at `p`.
    static func startsPart(_ s: [UInt8], _ p: Int) -> Bool {
        var e = p
        while e < s.count, isAlnum(s[e]) { e += 1 }
        guard e > p, dnTypes.contains(String(decoding: s[p..<e].map(lowered), as: UTF8.self)) else { return false }
        while e < s.count, s[e] == 0x20 { e += 1 }
        return e < s.count && s[e] == 0x3D
    }

    // MARK: dumps

    /// Where a hex dump line's bytes are (`    00000000: e2e3c1d9 e3f161d4  *START1/M*`): the
    /// index of each byte's first hex digit, and the text column's range when it has one byte per
    /// byte. Nil for a line that is no dump.
    static func dumpBytes(_ s: [UInt8]) -> (digits: [Int], text: Range<Int>?)? {
        var p = 0
        while p < s.count, s[p] == 0x20 || s[p] == 0x09 { p += 1 }
        let offset = p
        while p < s.count, isHex(s[p]) { p += 1 }
        guard p - offset >= 4, p < s.count, s[p] == 0x3A else { return nil }
        p += 1
        var digits: [Int] = []
        while p < s.count {
            if s[p] == 0x20 { p += 1; continue }
            guard isHex(s[p]) else { break }
            let st = p
            while p < s.count, isHex(s[p]) { p += 1 }
            guard (p - st) % 2 == 0 else { return nil }
            if p < s.count, s[p] != 0x20 { return nil }
            for k in stride(from: st, to: p, by: 2) { digits.append(k) }
        }
        guard !digits.isEmpty else { return nil }
        var text: Range<Int>? = nil
        if p < s.count, s[p] == 0x2A || s[p] == 0x7C, let close = s[(p + 1)...].lastIndex(of: s[p]), close - p - 1 >= digits.count {
            text = (p + 1)..<(p + 1 + digits.count)
        }
        return (digits, text)
    }

    private static let toEBCDIC: [UInt8] = {
        var t = [UInt8](repeating: 0x6F, count: 256)
        for (e, l) in EBCDIC.toLatin1.enumerated().reversed() { t[Int(l)] = UInt8(e) }
        return t
    }()

    /// A run of dump lines with every known value in its bytes (ASCII or EBCDIC, as a whole word)
    /// replaced by its stand-in where that has the same length.
    private func redactDump(_ lines: [[UInt8]]) -> [[UInt8]] {
        let layout = lines.map { Self.dumpBytes($0)! }
        var bytes: [UInt8] = []
        for (line, l) in zip(lines, layout) {
            for d in l.digits { bytes.append(UInt8(Self.hexValue(line[d]) << 4 | Self.hexValue(line[d + 1]))) }
        }
        var changed = [Bool](repeating: false, count: bytes.count)
        var ascii = [UInt8](repeating: 0, count: bytes.count)
        for encoding in 0..<2 {
            let text = encoding == 0 ? bytes : bytes.map { EBCDIC.toLatin1[Int($0)] }
            let lower = text.map(Self.lowered)
            for e in entries where e.kind != .ip && e.original.utf8.count == e.pseudonym.utf8.count && e.original.utf8.count >= 3 {
                let key = Array(e.original.lowercased().utf8)
                var from = 0
                while let r = Self.find(key, in: lower, from: from) {
                    from = r.lowerBound + 1
                    // A whole word, or a DER string (its length byte before it; a SEQUENCE's `0` may follow).
                    let der = r.lowerBound > 0 && Int(bytes[r.lowerBound - 1]) == key.count
                    guard der || (Self.isBoundary(lower, r.lowerBound - 1) && Self.isBoundary(lower, r.upperBound)), !changed[r].contains(true) else { continue }
                    let p = Self.cased(Array(e.pseudonym.utf8), like: text[r])
                    for (k, c) in zip(r, p) {
                        bytes[k] = encoding == 0 ? c : Self.toEBCDIC[Int(c)]
                        ascii[k] = c
                        changed[k] = true
                    }
                    from = r.upperBound
                }
            }
        }
        guard changed.contains(true) else { return lines }
        var out = lines
        var n = 0
        for (j, l) in layout.enumerated() {
            for (k, d) in l.digits.enumerated() {
                defer { n += 1 }
                guard changed[n] else { continue }
                let upper = out[j][d] >= 0x41 && out[j][d] <= 0x46 || out[j][d + 1] >= 0x41 && out[j][d + 1] <= 0x46
                let digits: [UInt8] = Array((upper ? "0123456789ABCDEF" : "0123456789abcdef").utf8)
                out[j][d] = digits[Int(bytes[n] >> 4)]
                out[j][d + 1] = digits[Int(bytes[n] & 15)]
                if let t = l.text { out[j][t.lowerBound + k] = ascii[n] }
            }
        }
        return out
    }

    @inline(__always) static func hexValue(_ b: UInt8) -> Int {
        isDigit(b) ? Int(b - 0x30) : Int(lowered(b) - 0x61 + 10)
    }

    private func forEachLine(_ text: [UInt8], _ body: ([UInt8]) -> Void) {
        var start = 0
        for (i, b) in text.enumerated() where b == 0x0A { body(Array(text[start..<i])); start = i + 1 }
        if start < text.count { body(Array(text[start...])) }
    }
}
