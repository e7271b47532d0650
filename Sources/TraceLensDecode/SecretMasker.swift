#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TraceLensRecords
import TraceLensInput

/// A plugin's `[[secret]]`: where a secret is in a line, or a line that announces a data dump
/// holding one (`following = "dump"`).
public struct SecretRule: Sendable {
    public enum Following: String, Sendable {
        /// The hex dump lines after the matched line (`00000000: 979781a2 ... *pass...*`).
        case dump
        /// The folded lines after the matched one, each starting with one blank (an LDIF value
        /// such as `userPassword:: <base64>` wrapped at 76 columns).
        case folded
    }
    package let template: Template
    /// The `{secret}` field, if the rule has one.
    package let slot: Int?
    /// The match must begin a word (`-w` is a client's password option, `key-word` is not).
    package let wordStart: Bool
    package let following: Following?
    /// The rule's own proof: a line as written and as it must come out (checked at load).
    package let sample: (text: String, masked: String)?
    package let file: String
    package let entry: String
    package init(template: Template, slot: Int?, wordStart: Bool, following: Following?, sample: (text: String, masked: String)?, file: String, entry: String) {
        self.template = template
        self.slot = slot
        self.wordStart = wordStart
        self.following = following
        self.sample = sample
        self.file = file
        self.entry = entry
    }
}

/// Overwrites secrets in record text with `*` before anything is printed or stored:
/// `GSK_LDAP_PASSWORD=passwr0d` becomes `GSK_LDAP_PASSWORD=********`. The rules come from
/// plugins (`[[secret]]`); the masked bytes keep their length so field ranges stay valid.
public final class SecretMasker: Sendable {
    package let rules: [SecretRule]
    package let prefilter: LiteralPrefilter

    /// What one line leaves for the next: a dump announced and not yet over. A stream of
    /// records keeps one, so a dump read as separate unparsed lines is masked too.
    public struct Carry: Sendable {
        package var dumpPending = false
        package var dumpStarted = false
        package var foldPending = false
        public init() {}

        /// As kept in a resume point (`ResumePoint.maskState`).
        public init(state: Int64) { dumpPending = state & 1 != 0; dumpStarted = state & 2 != 0; foldPending = state & 4 != 0 }
        public var state: Int64 { (dumpPending ? 1 : 0) | (dumpStarted ? 2 : 0) | (foldPending ? 4 : 0) }
    }

    public init(rules: [SecretRule]) {
        self.rules = rules
        prefilter = LiteralPrefilter(rules.map(\.template.leadingLiteral), ignoringCase: rules.map(\.template.caseInsensitive))
    }

    /// Masks every secret in `bytes` (one or more lines); returns how many were masked.
    @discardableResult
    public func mask(_ bytes: inout [UInt8]) -> Int {
        var caps = Captures()
        var carry = Carry()
        return mask(&bytes, captures: &caps, carry: &carry)
    }

    /// `text` with its secrets masked (for text the user typed, such as `explain`'s query).
    public func masked(_ text: String) -> String {
        var bytes = Array(text.utf8)
        guard mask(&bytes) > 0 else { return text }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// As `mask(_:)`, reusing the caller's scratch captures and carrying dump state across calls.
    @discardableResult
    public func mask(_ bytes: inout [UInt8], captures caps: inout Captures, carry: inout Carry) -> Int {
        guard !rules.isEmpty, !bytes.isEmpty else { return 0 }
        var masked = 0
        bytes.withUnsafeMutableBufferPointer { buf in
            var lineStart = 0
            while lineStart < buf.count {
                var lineEnd = buf.count
                if let nl = memchr(buf.baseAddress! + lineStart, 0x0A, buf.count - lineStart) {
                    lineEnd = buf.baseAddress!.distance(to: nl.assumingMemoryBound(to: UInt8.self))
                }
                defer { lineStart = lineEnd + 1 }
                if carry.foldPending {
                    // A folded line: one blank, then more of the value.
                    if lineEnd - lineStart > 1 && buf[lineStart] == 0x20 && !isBlank(buf[lineStart + 1]) {
                        for k in (lineStart + 1)..<lineEnd where buf[k] != 0x0D { buf[k] = 0x2A }
                        continue
                    }
                    carry.foldPending = false
                }
                if carry.dumpPending {
                    if Self.maskDumpLine(buf, lineStart, lineEnd) {
                        if !carry.dumpStarted { masked += 1; carry.dumpStarted = true }
                        continue
                    }
                    carry.dumpPending = false
                }
                let line = UnsafeBufferPointer(rebasing: UnsafeBufferPointer(buf)[lineStart..<lineEnd])
                prefilter.scan(line) { i, hit in
                    let rule = rules[i]
                    if rule.wordStart && hit > 0 && !Self.endsWord(line[hit - 1]) { return hit + 1 }
                    guard let end = rule.template.match(line, from: hit, wholeLine: false, captures: &caps) else { return hit + 1 }
                    if rule.following == .dump { carry.dumpPending = true; carry.dumpStarted = false }
                    if rule.following == .folded { carry.foldPending = true }
                    // A rule that only announces a dump leaves the rest of its line to the others.
                    guard let slot = rule.slot, var r = caps.range(slot) else { return rule.following != nil ? hit + 1 : max(end, hit + 1) }
                    r = Self.throughClosingQuote(line, r, matchStart: hit)
                    for k in r { buf[lineStart + k] = 0x2A }
                    if !r.isEmpty { masked += 1 }
                    return max(end, r.upperBound, hit + 1)
                }
            }
        }
        return masked
    }

    /// A byte after which a word starts: a blank, a quote, `=` or `(`.
    @inline(__always) package static func endsWord(_ b: UInt8) -> Bool {
        isBlank(b) || b == 0x22 || b == 0x27 || b == 0x3D || b == 0x28
    }

    /// A value that opens with a quote runs to its closing quote, blanks included
    /// (`-w "two words"`, `"bindPassword":"x","port":636` ends after `"x"`); without one, to the
    /// end of the line. A value inside a quote opened
    /// earlier in its word (`-u "admin:two words"`, `"-Dx.keyStorePassword=two words"`) runs to
    /// that quote's closing one, which stays. Inside double quotes `\"` does not close them.
    package static func throughClosingQuote(_ line: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, matchStart: Int = 0) -> Range<Int> {
        guard !r.isEmpty else { return r }
        if line[r.lowerBound] == 0x22 || line[r.lowerBound] == 0x27 {
            let quote = line[r.lowerBound]
            let close = closingQuote(line, quote, from: r.lowerBound + 1)
            return r.lowerBound..<min(close + 1, line.count)
        }
        // A quote left open between the start of the matched word and the value (the word is
        // looked back into for at most `quoteLookBack` bytes: a line of one long word with many
        // secrets in it stays linear).
        var p = min(matchStart, r.lowerBound)
        let floor = max(0, p - Self.quoteLookBack)
        while p > floor && !isBlank(line[p - 1]) { p -= 1 }
        var open: UInt8? = nil
        while p < r.lowerBound {
            let b = line[p]
            if let q = open {
                if b == 0x5C && q == 0x22 { p += 2; continue }
                if b == q { open = nil }
            } else if b == 0x22 || b == 0x27 {
                open = b
            }
            p += 1
        }
        guard let quote = open else { return r }
        return r.lowerBound..<max(r.lowerBound, closingQuote(line, quote, from: r.lowerBound))
    }

    package static let quoteLookBack = 256

    /// Where `quote` closes from `p` on (the line's end when it never does); `\"` is skipped.
    package static func closingQuote(_ line: UnsafeBufferPointer<UInt8>, _ quote: UInt8, from start: Int) -> Int {
        var p = start
        while p < line.count && line[p] != quote {
            p += quote == 0x22 && line[p] == 0x5C ? 2 : 1
        }
        return min(p, line.count)
    }

    /// Masks a hex dump line (`    00000000: 979781a2 a2f0999d  *passw0rd*`): every hex digit
    /// after the offset and the whole text column, keeping the blanks between groups and the
    /// column's `*` or `|` delimiters. False (and nothing changed) when it is no dump line.
    package static func maskDumpLine(_ buf: UnsafeMutableBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        var p = start
        while p < end && isBlank(buf[p]) { p += 1 }
        let offset = p
        while p < end && hexValue(buf[p]) != nil { p += 1 }
        // At least 4 offset digits: `10:07:19` is a time, not a dump offset.
        guard p - offset >= 4, p < end, buf[p] == 0x3A else { return false }
        p += 1
        while p < end, isBlank(buf[p]) || hexValue(buf[p]) != nil {
            if !isBlank(buf[p]) { buf[p] = 0x2A }
            p += 1
        }
        guard p < end else { return true }
        var textStart = p, textEnd = end
        let delimiter = buf[p]
        if delimiter == 0x2A || delimiter == 0x7C {
            textStart = p + 1
            var close = end - 1
            while close > p && buf[close] != delimiter { close -= 1 }
            if close > p { textEnd = close }
        }
        for k in textStart..<max(textStart, textEnd) { buf[k] = 0x2A }
        return true
    }
}
