#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TraceLensInput

/// Runs a compiled `Template` over a line: a small backtracking machine over bytes. Only `text`
/// fields and optional groups backtrack; every other kind is greedy.
///
/// Bounded work: whether the rest of the template matches from op `pc` at byte `pos` depends only
/// on (pc, pos), and a text field that fails from `pos` fails from every later position too (its
/// candidate ends are a subset). So `failedFrom[pc]` keeps the lowest position a text field failed
/// from, and a later try scans only the ends below it: each text field scans the line at most once,
/// O(fields × line length) in all, where plain backtracking was exponential (25 text fields over 50
/// words). Optional groups are not memoised; `budget` stops a template whose groups still explode.
package struct Matcher {
    unowned(unsafe) let t: Template
    package let ops: UnsafeBufferPointer<Template.Op>
    package let lits: UnsafeBufferPointer<UInt8>
    package let line: UnsafeBufferPointer<UInt8>
    package let wholeLine: Bool
    /// Per op: the lowest position its text field is known to fail from (Int.max: none yet).
    package let failedFrom: UnsafeMutablePointer<Int>?
    /// Tries (of a text field end or an optional group) left before the match gives up.
    package var budget: Int
    /// Shared mode (a code finder trying the template at many starts of one line, see
    /// `Template.match(_:from:captures:memo:allowance:)`): `failedFrom` holds 3 × ops ints, the
    /// memo and then, per op, the last run a greedy field or blanks scanned (start, end), so a
    /// later start inside that run reuses its end; and every byte scanned costs budget too.
    package let shared: Bool

    package init(t: Template, ops: UnsafeBufferPointer<Template.Op>, lits: UnsafeBufferPointer<UInt8>, line: UnsafeBufferPointer<UInt8>,
         wholeLine: Bool, failedFrom: UnsafeMutablePointer<Int>?, budget: Int, shared: Bool = false) {
        self.t = t; self.ops = ops; self.lits = lits; self.line = line; self.wholeLine = wholeLine
        self.failedFrom = failedFrom; self.budget = budget; self.shared = shared
    }

    /// Shared mode: the end of the run that op `pc` scanned from `pos` on an earlier start, if
    /// `pos` lies in it (an `ident`, `word` or digit run, or blanks, ends in the same place from
    /// any byte inside it).
    @inline(__always) package func cachedRun(_ pc: Int, _ pos: Int) -> Int? {
        guard shared, let m = failedFrom else { return nil }
        let n = ops.count
        return pos >= m[n + pc] && pos < m[2 * n + pc] ? m[2 * n + pc] : nil
    }

    /// Shared mode: remembers the run op `pc` scanned, and charges its bytes to the budget.
    @inline(__always) package mutating func scanned(_ pc: Int, _ pos: Int, _ end: Int) {
        guard shared, let m = failedFrom else { return }
        let n = ops.count
        m[n + pc] = pos; m[2 * n + pc] = end
        budget -= end - pos
    }

    /// True once the budget is spent: every pending try then fails at once.
    package var gaveUp: Bool { budget < 0 }

    @inline(__always) package func literalMatches(_ offset: Int, _ count: Int, at pos: Int) -> Bool {
        if pos + count > line.count { return false }
        if t.caseInsensitive {
            for k in 0..<count where lowerASCII(line[pos + k]) != lowerASCII(lits[offset + k]) { return false }
            return true
        }
        return memcmp(line.baseAddress! + pos, lits.baseAddress! + offset, count) == 0
    }

    /// Next position at or after `pos` and before `below` where the literal starts, or nil.
    package func findLiteral(_ offset: Int, _ count: Int, from pos: Int, below: Int) -> Int? {
        var p = pos
        let first = lits[offset]
        // Last start that fits in the line and is below `below` (a failed earlier try covered the rest).
        let lastStart = min(line.count - count, below - 1)
        while p <= lastStart {
            if t.caseInsensitive {
                if lowerASCII(line[p]) == lowerASCII(first) && literalMatches(offset, count, at: p) { return p }
                p += 1
                continue
            }
            guard let hit = memchr(line.baseAddress! + p, Int32(first), lastStart + 1 - p) else { return nil }
            let q = line.baseAddress!.distance(to: hit.assumingMemoryBound(to: UInt8.self))
            if memcmp(line.baseAddress! + q, lits.baseAddress! + offset, count) == 0 { return q }
            p = q + 1
        }
        return nil
    }

    package mutating func run(_ start: Int, _ startPos: Int, _ caps: inout Captures) -> Int? {
        var pc = start, pos = startPos
        while pc < ops.count {
            switch ops[pc] {
            case let .literal(o, c):
                guard literalMatches(o, c, at: pos) else { return nil }
                pos += c
            case .space:
                guard pos < line.count, isBlank(line[pos]) else { return nil }
                if let end = cachedRun(pc, pos) { pos = end; break }
                let from = pos
                pos += 1
                while pos < line.count && isBlank(line[pos]) { pos += 1 }
                scanned(pc, from, pos)
            case .groupEnd:
                break
            case let .optional(skipTo, firstSlot, slotCount):
                budget -= 1
                if gaveUp { return nil }
                if let end = run(pc + 1, pos, &caps) { return end }
                if gaveUp { return nil }
                for s in firstSlot..<(firstSlot + slotCount) { caps.starts[s] = -1 }
                pc = skipTo
                continue
            case let .field(slot, kind):
                if kind == .text || kind == .token { return lazyText(pc, slot, pos, &caps, blanks: kind == .text) }
                if case let .time(index) = kind {
                    var parts = TimeParts()
                    guard let end = t.timeFormats[index].scan(line, pos, into: &parts) else { return nil }
                    if slot >= 0 { caps.starts[slot] = pos; caps.ends[slot] = end; caps.times[slot] = parts }
                    pos = end
                    break
                }
                let end: Int
                switch kind {
                case .ident, .word, .int:
                    // A sign is not part of the digit run: the run is cached from the first digit.
                    let runStart = kind == .int && pos < line.count && line[pos] == 0x2D ? pos + 1 : pos
                    if let e = cachedRun(pc, runStart) {
                        end = e
                    } else {
                        guard let e = scan(kind, pos) else { return nil }
                        end = e
                        scanned(pc, runStart, e)
                    }
                default:
                    guard let e = scan(kind, pos) else { return nil }
                    end = e
                }
                if slot >= 0 { caps.starts[slot] = pos; caps.ends[slot] = end }
                pos = end
            }
            pc += 1
        }
        if wholeLine {
            var p = pos
            while p < line.count && isBlank(line[p]) { p += 1 }
            return p == line.count ? line.count : nil
        }
        return pos
    }

    /// A `text` field: the shortest run after which the rest of the template matches.
    /// The longest `token` field.
    package static let tokenMax = 512

    /// A `token` field (`blanks` false) is the same without blanks: the literal that follows must
    /// start before the first blank after `pos`.
    package mutating func lazyText(_ pc: Int, _ slot: Int, _ pos: Int, _ caps: inout Captures, blanks: Bool = true) -> Int? {
        var next = pc + 1
        while next < ops.count, ops[next] == .groupEnd { next += 1 }
        if next >= ops.count {
            var end = line.count
            while end > pos && isBlank(line[end - 1]) { end -= 1 }
            if shared { budget -= line.count - end }
            if slot >= 0 { caps.starts[slot] = pos; caps.ends[slot] = end }
            return line.count
        }
        // Ends at or after `limit` were all tried by an earlier, failed try of this field.
        var limit = min(failedFrom?[pc] ?? Int.max, line.count + 1)
        if !blanks {
            // A token ends before the first blank, and within `tokenMax` bytes: many tokens in
            // one long word (or a line without the literal) stay linear.
            var b = pos
            let cap = min(line.count, pos + Self.tokenMax)
            while b < cap && !isBlank(line[b]) { b += 1 }
            limit = min(limit, b + 1)
        }
        if pos >= limit { return nil }
        switch ops[next] {
        case let .literal(o, c):
            var from = pos
            while let q = findLiteral(o, c, from: from, below: limit) {
                if shared { budget -= q - from }
                if slot >= 0 { caps.starts[slot] = pos; caps.ends[slot] = q }
                budget -= 1
                if gaveUp { return nil }
                if let end = run(next, q, &caps) { return end }
                if gaveUp { return nil }
                from = q + 1
            }
        case .space:
            var q = pos
            while q < line.count && q < limit {
                if isBlank(line[q]) {
                    if slot >= 0 { caps.starts[slot] = pos; caps.ends[slot] = q }
                    budget -= shared ? 1 + q - pos : 1
                    if gaveUp { return nil }
                    if let end = run(next, q, &caps) { return end }
                    if gaveUp { return nil }
                    if shared { budget += q - pos }
                    // The blank run from q ends where it would from any blank after q in it, and
                    // the rest of the template goes on from there: those ends fail alike.
                    while q + 1 < line.count && q + 1 < limit && isBlank(line[q + 1]) { q += 1 }
                }
                q += 1
            }
            if shared { budget -= q - pos }
        default:
            return nil  // rejected when the template is compiled
        }
        // A token's failure says nothing of ends past its blank, which a later start may reach.
        if blanks { failedFrom?[pc] = pos }
        return nil
    }

    /// Greedy scan of a non-text field; returns its end or nil.
    package func scan(_ kind: Template.Kind, _ pos: Int) -> Int? {
        var p = pos
        let n = line.count
        switch kind {
        case .text, .token:
            return nil
        case .rest:
            return n
        case .int:
            if p < n && line[p] == 0x2D { p += 1 }
            let digitsStart = p
            while p < n && isDigit(line[p]) { p += 1 }
            return p > digitsStart ? p : nil
        case let .hex(minCount, maxCount):
            while p < n && p - pos < maxCount && hexValue(line[p]) != nil { p += 1 }
            return p - pos >= minCount ? p : nil
        case .word:
            while p < n && !isBlank(line[p]) { p += 1 }
            return p > pos ? p : nil
        case .ident:
            while p < n {
                let b = line[p]
                let ok = isDigit(b) || lowerASCII(b) &- 0x61 < 26 || b == 0x5F || b == 0x24 || b == 0x23 || b == 0x40 || b == 0x2E || b == 0x2D
                if !ok { break }
                p += 1
            }
            return p > pos ? p : nil
        case .msgid:
            // An IBM message id: 2 to 5 capitals (or $ # @), 3 to 5 digits, an optional capital
            // (GLD1116E, EZD1286I, $HASP373, IKJ56702I, ICH70001I).
            while p < n && p - pos < 5 && (line[p] &- 0x41 < 26 || line[p] == 0x24 || line[p] == 0x23 || line[p] == 0x40) { p += 1 }
            guard p - pos >= 2 else { return nil }
            let digits = p
            while p < n && p - digits < 5 && isDigit(line[p]) { p += 1 }
            guard p - digits >= 3 else { return nil }
            if p < n && line[p] &- 0x41 < 26 { p += 1 }
            if p < n && !isBlank(line[p]) { return nil }
            return p
        case .msgtext:
            // A message: the rest of the line, which must start with a message id (a layout
            // whose lines start with the id, and that must not read any line at all). A JES job
            // id (STC04588) has a message id's shape but starts a job log's line, not a message.
            return scan(.msgid, pos) == nil || scan(.jobid, pos) != nil ? nil : n
        case .jobid:
            // A JES job id: JOB, STC or TSU and 5 digits, or J, S or T and 7 (never a message
            // id: GLD1116E has a letter at the end, $HASP373 too few digits).
            var letters = 0
            while p < n && p - pos < 3 && line[p] &- 0x41 < 26 { p += 1; letters += 1 }
            let word = letters == 3 ? (Int(line[pos]) << 16) | (Int(line[pos + 1]) << 8) | Int(line[pos + 2]) : 0
            guard (letters == 1 && (line[pos] == 0x4A || line[pos] == 0x53 || line[pos] == 0x54))
                || word == 0x4A4F42 || word == 0x535443 || word == 0x545355 else { return nil }
            while p < n && isDigit(line[p]) { p += 1 }
            guard p - pos == 8, p == n || isBlank(line[p]) else { return nil }
            return p
        case .ipv4:
            for part in 0..<4 {
                if part > 0 { guard p < n, line[p] == 0x2E else { return nil }; p += 1 }
                let s = p
                var value = 0
                while p < n && isDigit(line[p]) && p - s < 3 { value = value * 10 + Int(line[p] - 0x30); p += 1 }
                if p == s || value > 255 { return nil }
            }
            return p
        case let .oneOf(index):
            var best: Int? = nil
            for choice in t.choices[index] where p + choice.count <= n {
                var ok = true
                for (k, b) in choice.enumerated() where (t.caseInsensitive ? lowerASCII(line[p + k]) != lowerASCII(b) : line[p + k] != b) { ok = false; break }
                if ok && (best == nil || p + choice.count > best!) { best = p + choice.count }
            }
            return best
        case let .time(index):
            var parts = TimeParts()
            return t.timeFormats[index].scan(line, p, into: &parts)
        }
    }
}
