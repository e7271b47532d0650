#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TraceLensInput
import TraceLensRecords

/// Where a kind of code appears in message text and which catalogues decode it:
/// `Error 0x{code:hex(8)}` → `cms`. With several catalogues, the first that has a row (or a range
/// row) for the value decodes it, and the last one takes values nobody knows: `Exit status` carries
/// a CMS status code on inner functions and a System SSL return code on API functions.
public final class CodePattern: Sendable {
    public let template: Template
    public let catalogues: [Int]
    /// The `{code}` field; nil when the whole match is the code (message ids such as `GLD1116E`).
    package let codeSlot: Int?
    package let codeKind: CodeKind
    package enum CodeKind: Sendable { case decimal, hex, text }
    package let leading: [UInt8]
    /// Formats the pattern applies to; empty for all (and the only ones for lines no layout read).
    package let formats: Set<String>
    /// A carried code counts only where the message also holds one of these literals (any case):
    /// `Return code 435` is System SSL's when the message names a `gsk_` function. Empty: always.
    package let context: [[UInt8]]
    /// True: a value no catalogue row (or range row) knows is not taken for a code at all.
    package let knownOnly: Bool
    /// True (`by = "name"`): the code field (or the whole match) is a row's name or text
    /// (`tlsv1 alert unknown ca`, `certificate_unknown`), looked up with `Catalogue.nameKey`.
    package let byName: Bool
    /// True (`whole-line = true`): the template is matched once against each whole line, from its
    /// first byte to its end, so it may start with a field (`{code:text} ({:int})`).
    package let wholeLine: Bool

    // A class: the finder reads a pattern for every literal it finds, and a struct this size
    // would be copied (a retain per field) each time.
    package init(template: Template, catalogues: [Int], codeSlot: Int?, codeKind: CodeKind, leading: [UInt8], formats: Set<String>,
         context: [[UInt8]] = [], knownOnly: Bool = false, byName: Bool = false, wholeLine: Bool = false) {
        self.template = template
        self.catalogues = catalogues
        self.codeSlot = codeSlot
        self.codeKind = codeKind
        self.leading = leading
        self.formats = formats
        self.context = context
        self.knownOnly = knownOnly
        self.byName = byName
        self.wholeLine = wholeLine
    }
}

/// Finds codes in the message lines of a record: one prefilter pass per line for all patterns'
/// leading literals, then the pattern's template where a literal occurs.
public final class CodeFinder: Sendable {
    /// Patterns searched for by their leading literal.
    package let patterns: [CodePattern]
    /// `whole-line` patterns, tried once per line.
    package let linePatterns: [CodePattern]
    /// Per pattern: where its template's memo starts in the finder's scratch (`Captures`).
    package let memoOffsets: [Int]
    package let memoTotal: Int
    package let catalogues: [Catalogue]
    package let prefilter: LiteralPrefilter
    /// Every context literal of every pattern (at most 64: one bit each in a mask).
    package let contextFilter: LiteralPrefilter
    package let hasContext: Bool
    /// Per pattern: the bits of its context literals in `contextFilter`.
    package let contextMasks: [UInt64]
    package let lineContextMasks: [UInt64]

    package let catalogueIndex: [String: Int]

    /// What the last lines no layout read said, for context that comes a line or two before the
    /// code (a console message wrapped over several lines, each line read on its own).
    public struct RecentLines: Sendable {
        package var masks: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        public init() {}
        package var any: UInt64 { masks.0 | masks.1 | masks.2 | masks.3 }
        package mutating func push(_ m: UInt64) { masks = (m, masks.0, masks.1, masks.2) }
        package mutating func clear() { masks = (0, 0, 0, 0) }
    }

    public init(patterns given: [CodePattern], catalogues: [Catalogue], catalogueIndex: [String: Int]) {
        let patterns = given.filter { !$0.wholeLine }
        linePatterns = given.filter(\.wholeLine)
        var offsets: [Int] = [], total = 0
        for p in patterns { offsets.append(total); total += p.template.memoSize }
        memoOffsets = offsets
        memoTotal = total
        var literals: [[UInt8]] = []
        let all = patterns + linePatterns
        var masks = [UInt64](repeating: 0, count: all.count)
        for i in all.indices {
            for c in all[i].context {
                let lower = c.map(lowerASCII)
                let at = literals.firstIndex(of: lower) ?? { literals.append(lower); return literals.count - 1 }()
                // Past 64 literals a pattern's context could not be told apart: it then never applies.
                masks[i] |= at < 64 ? 1 << UInt64(at) : 0
            }
        }
        self.patterns = patterns
        contextMasks = Array(masks[0..<patterns.count])
        lineContextMasks = Array(masks[patterns.count...])
        self.catalogues = catalogues
        self.catalogueIndex = catalogueIndex
        prefilter = LiteralPrefilter(patterns.map(\.leading))
        contextFilter = LiteralPrefilter(literals, ignoringCase: literals.map { _ in true })
        hasContext = !literals.isEmpty
    }

    public func decode(_ record: inout Record, layout: Format?) {
        var caps = Captures()
        var recent = RecentLines()
        decode(&record, layout: layout, captures: &caps, recent: &recent)
    }

    /// As `decode(_:layout:)`, reusing the caller's scratch captures (no allocation per record).
    public func decode(_ record: inout Record, layout: Format?, captures caps: inout Captures) {
        var recent = RecentLines()
        decode(&record, layout: layout, captures: &caps, recent: &recent)
    }

    /// As `decode(_:layout:captures:)`; `recent` carries the context of the unparsed lines just
    /// before this record (the caller keeps one per file).
    public func decode(_ record: inout Record, layout: Format?, captures caps: inout Captures, recent: inout RecentLines) {
        decodeMessage(&record, layout: layout, captures: &caps, recent: &recent)
        if let layout, layout.dumpText != nil, !record.dumpLines.isEmpty { decodeDump(&record, layout, &caps) }
    }

    /// A dump's bytes as text; a dump of a code list (`SSL Cipher Specs`) also gives its codes.
    package func decodeDump(_ record: inout Record, _ layout: Format, _ caps: inout Captures) {
        var text = DumpBytes.bytes(of: record)
        if layout.dumpText == .ebcdic { for i in text.indices { text[i] = EBCDIC.toLatin1[Int(text[i])] } }
        record.dumpText = text
        guard !layout.dumpLists.isEmpty, let m = record.range(.message) else { return }
        let message = Array(record.bytes[m])
        for list in layout.dumpLists {
            guard message.withUnsafeBufferPointer({ list.message.match($0, captures: &caps) }) != nil,
                  let index = catalogueIndex[list.catalogue] else { continue }
            let catalogue = catalogues[index]
            var start = 0
            // Trailing blanks pad the last dump line; they are not part of the list.
            var end = text.count
            while end > 0 && (text[end - 1] == 0x20 || text[end - 1] == 0) { end -= 1 }
            while start + list.element <= end {
                let piece = String(decoding: text[start..<(start + list.element)], as: UTF8.self)
                if let v = catalogue.value(fromCatalogueText: piece) { record.codes.append(FoundCode(catalogue: index, value: v, end: -1)) }
                start += list.element
            }
            return
        }
    }

    /// The context literals (as bits) found in a record's message lines.
    package func contextMask(_ record: Record, _ all: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var mask: UInt64 = 0
        for lineRange in record.messageLines {
            contextFilter.scan(UnsafeBufferPointer(rebasing: all[lineRange])) { i, hit in
                if i < 64 { mask |= 1 << UInt64(i) }
                return hit + 1
            }
        }
        return mask
    }

    package func decodeMessage(_ record: inout Record, layout: Format?, captures caps: inout Captures, recent: inout RecentLines) {
        let format = layout?.name
        let lines = record.messageLines.count
        guard lines > 0 else { return }
        let before = record.codes.count
        let unparsed = record.isUnparsed
        // A second reference to the bytes lets the codes be appended while the text is read.
        let bytes = record.bytes
        let scratch = caps.storage
        scratch.prepareFinder(patterns: patterns.count, memo: memoTotal)
        // The whole-line patterns that apply to this record's layout (a bit each, at most 64), and
        // whether each pattern does: found again only when the layout changes, not looked up per
        // line or per literal found.
        var lineMask: UInt64 = 0
        let key = unparsed ? nil : layout.map(ObjectIdentifier.init)
        if scratch.lineMaskFinder == ObjectIdentifier(self) && scratch.lineMaskLayout == key {
            lineMask = scratch.lineMask
        } else {
            for (k, p) in linePatterns.enumerated() where k < 64 {
                if p.formats.isEmpty || (!unparsed && format.map { p.formats.contains($0) } == true) { lineMask |= 1 << UInt64(k) }
            }
            for (i, p) in patterns.enumerated() {
                // A pattern of a layout's fields does not apply to lines no layout read.
                scratch.applies[i] = p.formats.isEmpty || (!unparsed && format.map { p.formats.contains($0) } == true)
            }
            scratch.lineMask = lineMask; scratch.lineMaskLayout = key; scratch.lineMaskFinder = ObjectIdentifier(self)
        }
        let applies = scratch.applies
        bytes.withUnsafeBufferPointer { all in
            // Context of this record: found once, when a pattern needs it (or to remember it for
            // the next unparsed lines). Lines no layout read share the context of the few before.
            var context: UInt64? = nil
            if unparsed && hasContext { context = contextMask(record, all) }
            let earlier = unparsed ? recent.any : 0
            // A layout that reads the message id in column 1 as its `job` field (an SDSF capture)
            // still has it decoded: the job field is read first, like a message line.
            let job = record.range(.job)
            for li in (job == nil ? 0 : -1)..<lines {
                let lineRange = li < 0 ? job! : record.messageLines[li]
                let text = UnsafeBufferPointer(rebasing: all[lineRange])
                // A new line: every pattern's memo and work allowance start afresh on first use.
                scratch.line &+= 1
                let serial = scratch.line
                /// What a match found: its code appended; returns where the search goes on.
                func take(_ pattern: CodePattern, _ needs: UInt64, _ hit: Int, _ end: Int) -> Int {
                    if !pattern.context.isEmpty {
                        if context == nil { context = contextMask(record, all) }
                        guard (context! | earlier) & needs != 0 else { return hit + 1 }
                    }
                    let r = pattern.codeSlot.flatMap { caps.range($0) } ?? (hit..<end)
                    let digits = UnsafeBufferPointer(rebasing: text[r])
                    if pattern.byName {
                        // The field's longest start that is a row's name is the code (the field
                        // may run on: `certificate verify failed:../ssl/...`). Its label goes right
                        // after the name, and the scan goes on from the name: it may start a code
                        // of its own (`certificate verify failed (unable to get local issuer
                        // certificate)` after `SSL routines::`).
                        for c in pattern.catalogues {
                            guard let found = catalogues[c].longestName(in: digits),
                                  !pattern.wholeLine || found.length == digits.count else { continue }
                            record.codes.append(FoundCode(catalogue: c, value: found.value, end: lineRange.lowerBound + r.lowerBound + found.length))
                            return max(r.lowerBound, hit + 1)
                        }
                        return hit + 1
                    }
                    let v: CodeValue
                    switch pattern.codeKind {
                    case .decimal, .hex:
                        guard let n = Self.number(digits, hex: pattern.codeKind == .hex) else { return hit + 1 }
                        v = .number(n)
                    case .text:
                        v = .text(String(decoding: digits, as: UTF8.self).uppercased())
                    }
                    let known = pattern.catalogues.first { catalogues[$0].hasEntry(v) || catalogues[$0].rangeEntry(v) != nil }
                    if pattern.knownOnly && known == nil { return hit + 1 }
                    let c = known ?? pattern.catalogues.last!
                    record.codes.append(FoundCode(catalogue: c, value: v, end: lineRange.lowerBound + end))
                    return end
                }
                var pending = lineMask
                while pending != 0 {
                    let k = pending.trailingZeroBitCount
                    pending &= pending - 1
                    let pattern = linePatterns[k]
                    if let end = pattern.template.match(text, from: 0, wholeLine: true, captures: &caps) {
                        _ = take(pattern, lineContextMasks[k], 0, end)
                    }
                }
                prefilter.scan(text) { i, hit in
                    guard applies[i] else { return hit + 1 }
                    let pattern = patterns[i]
                    let memo = scratch.memo + memoOffsets[i]
                    if scratch.stamps[i] != serial {
                        // Most lines hold a pattern's literal once: its first start on a line is
                        // matched on its own (the template's own memo and budget); a second start
                        // sets up the memo and allowance the later starts share.
                        if scratch.stamps[i] != -serial {
                            scratch.stamps[i] = -serial
                            guard let end = pattern.template.match(text, from: hit, wholeLine: false, captures: &caps) else {
                                if caps.gaveUp { scratch.finderGaveUp += 1 }
                                return hit + 1
                            }
                            guard !Self.splitsToken(text, hit, end) else { return hit + 1 }
                            return take(pattern, contextMasks[i], hit, end)
                        }
                        scratch.stamps[i] = serial
                        memo.update(repeating: Int.max, count: pattern.template.memoSize)
                        scratch.allowances[i] = Self.allowance(pattern.template, text.count)
                    }
                    let before = scratch.allowances[i]
                    let found = pattern.template.match(text, from: hit, captures: &caps, memo: memo, allowance: &scratch.allowances[i])
                    scratch.finderWork &+= before - scratch.allowances[i]
                    if caps.gaveUp && before >= 0 { scratch.finderGaveUp += 1 }
                    guard let end = found, !Self.splitsToken(text, hit, end) else { return hit + 1 }
                    return take(pattern, contextMasks[i], hit, end)
                }
            }
            if unparsed { recent.push(context ?? 0) } else { recent.clear() }
        }
        if record.codes.count > max(before, 1) { record.codes.sort { $0.end < $1.end } }
    }

    /// The work (tries and bytes scanned) one pattern may spend on one line, across all the
    /// starts of its leading literal there: room for each part of the template to go over the
    /// line a few times, and a floor for short lines. A line that needs more is hostile; the
    /// pattern then finds nothing more on that line.
    @inline(__always) package static func allowance(_ t: Template, _ length: Int) -> Int {
        Template.baseStepBudget + 4 * t.memoSize * (length + 1)
    }

    /// True when the match `start..<end` would cut a word in two (`0x033530410000` read as
    /// `0x03353041`): a word byte on both sides of either edge. The label goes after the code, so
    /// a code must be a whole token.
    @inline(__always) package static func splitsToken(_ text: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        if end > start, end < text.count, isWordByte(text[end - 1]), isWordByte(text[end]) { return true }
        if start > 0, start < end, isWordByte(text[start - 1]), isWordByte(text[start]) { return true }
        return false
    }

    @inline(__always) package static func isWordByte(_ b: UInt8) -> Bool { isDigit(b) || isAlpha(b) || b == 0x5F }

    /// Parses decimal (with an optional leading '-') or hex digits; nil on overflow or junk.
    package static func number(_ digits: UnsafeBufferPointer<UInt8>, hex: Bool) -> Int64? {
        var v: Int64 = 0
        var any = false, negative = false
        for (i, b) in digits.enumerated() {
            if !hex && i == 0 && b == 0x2D { negative = true; continue }
            let d: UInt8
            if hex { guard let h = hexValue(b) else { return nil }; d = h } else { guard isDigit(b) else { return nil }; d = b &- 0x30 }
            let (m, o) = v.multipliedReportingOverflow(by: hex ? 16 : 10)
            if o { return nil }
            let (a, o2) = m.addingReportingOverflow(Int64(d))
            if o2 { return nil }
            v = a
            any = true
        }
        return any ? (negative ? -v : v) : nil
    }
}

/// The bytes of data dump lines (`00000000: c3f0f2c3 c3f0f2c2  *C02CC02B*`): the hex groups
/// after the offset, up to the character column.
package enum DumpBytes {
    package static func bytes(of r: Record) -> [UInt8] {
        var out: [UInt8] = []
        for line in r.dumpLines {
            var i = line.lowerBound
            while i < line.upperBound && r.bytes[i] != 0x3A { i += 1 }  // past "00000000:"
            i += 1
            var high: UInt8?
            while i < line.upperBound {
                let b = r.bytes[i]
                if b == 0x2A { break }  // the '*' that opens the character column
                if let h = hexValue(b) {
                    if let hi = high { out.append(hi << 4 | h); high = nil } else { high = h }
                } else if !isBlank(b) {
                    break
                }
                i += 1
            }
        }
        return out
    }
}
