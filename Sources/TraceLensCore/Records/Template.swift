#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A line layout written in TraceLens's template language and compiled to a byte matcher.
///
///     {?{time:time(MM/DD/YYYY-hh:mm:ss[.f])} }Thd-{thread:int} {level:word} {function}():{? {message}}
///
/// - literal text matches itself (brackets included); one or more spaces match one or more blanks;
/// - `{name}` or `{name:kind}` captures a field (`{:kind}` matches without capturing);
/// - `{? ... }` is optional; `\` escapes the next character.
///
/// Kinds: `text` (the default: as little as possible up to the literal that follows, or the rest
/// of the line), `rest`, `int`, `hex`, `hex(N)`, `hex(N-M)`, `word`, `ident`, `ipv4`,
/// `one(A|B|C)` and `time(FORMAT)`. See docs/plugins.md.
///
/// Matching is a small backtracking machine over bytes. Only `text` fields and optional groups
/// backtrack; every other kind is greedy. Swift `Regex` was measured at 6 MB/s here, this runs at
/// hundreds of MB/s.
public final class Template: @unchecked Sendable {
    public let source: String
    /// Names of the captured fields, in slot order (slot = index into `Captures`).
    public let fieldNames: [String]
    /// True when the template begins with literal text (required to search for it in a line).
    public var startsWithLiteral: Bool { ops.first.map { if case .literal = $0 { return true } else { return false } } ?? false }
    /// The literal text a match must contain at its start, if any (used to find codes fast).
    let leadingLiteral: [UInt8]

    enum Kind: Equatable {
        case text, rest, int, hex(min: Int, max: Int), word, ident, ipv4
        case oneOf(Int)   // index into `choices`
        case time(Int)    // index into `timeFormats`
    }

    enum Op: Equatable {
        case literal(offset: Int, count: Int)
        case space
        case field(slot: Int, kind: Kind)
        /// Start of an optional group; `skipTo` is the op after its end.
        case optional(skipTo: Int, firstSlot: Int, slotCount: Int)
        case groupEnd
    }

    let ops: [Op]
    let literals: [UInt8]
    let choices: [[[UInt8]]]
    let timeFormats: [TimeFormat]
    let caseInsensitive: Bool
    /// Kind of each captured slot.
    let slotKinds: [Kind]

    public init(_ source: String, caseInsensitive: Bool = false) throws(TemplateError) {
        var parser = TemplateParser(source: source)
        try parser.parse()
        self.source = source
        self.ops = parser.ops
        self.literals = parser.literals
        self.choices = parser.choices
        self.timeFormats = parser.timeFormats
        self.fieldNames = parser.names
        self.slotKinds = parser.slotKinds
        self.caseInsensitive = caseInsensitive
        if case let .literal(o, c)? = parser.ops.first { leadingLiteral = Array(parser.literals[o..<(o + c)]) } else { leadingLiteral = [] }
        let opsStorage = UnsafeMutablePointer<Op>.allocate(capacity: max(parser.ops.count, 1))
        opsStorage.initialize(from: parser.ops, count: parser.ops.count)
        opsBuffer = UnsafeMutableBufferPointer(start: opsStorage, count: parser.ops.count)
        let literalStorage = UnsafeMutablePointer<UInt8>.allocate(capacity: max(parser.literals.count, 1))
        literalStorage.initialize(from: parser.literals, count: parser.literals.count)
        literalBuffer = UnsafeMutableBufferPointer(start: literalStorage, count: parser.literals.count)
        firstBytes = FirstBytes(ops: parser.ops, literals: parser.literals, choices: parser.choices,
                                timeFormats: parser.timeFormats, caseInsensitive: caseInsensitive).set(from: 0).set
    }

    public func slot(named name: String) -> Int? { fieldNames.firstIndex(of: name) }

    /// Matches the template at `from`. With `wholeLine`, the match must reach the end of the line
    /// (trailing blanks allowed). Returns where the match ends, with the fields in `captures`.
    public func match(_ line: UnsafeBufferPointer<UInt8>, from: Int = 0, wholeLine: Bool = true, captures: inout Captures) -> Int? {
        // Most lines fail on their first byte: reject them before any other work.
        if from < line.count && !firstBytes.contains(line[from]) { return nil }
        captures.reset(count: fieldNames.count)
        var m = Matcher(t: self, ops: UnsafeBufferPointer(opsBuffer), lits: UnsafeBufferPointer(literalBuffer), line: line, wholeLine: wholeLine)
        return m.run(0, from, &captures)
    }

    /// The ops and literals again, in buffers owned by the template (matching reads them through
    /// pointers, with no closure and no reference counting per line).
    private let opsBuffer: UnsafeMutableBufferPointer<Op>
    private let literalBuffer: UnsafeMutableBufferPointer<UInt8>
    /// Bytes a match can start with.
    let firstBytes: ByteSet

    deinit {
        opsBuffer.baseAddress?.deallocate()
        literalBuffer.baseAddress?.deallocate()
    }

    /// Convenience for tests and cold paths: match a whole string, returning field values by name.
    public func match(_ text: String) -> [String: String]? {
        var caps = Captures()
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBufferPointer { buf -> [String: String]? in
            let line = UnsafeBufferPointer(buf)
            guard match(line, captures: &caps) != nil else { return nil }
            var out: [String: String] = [:]
            for (i, name) in fieldNames.enumerated() where !name.isEmpty {
                if let r = caps.range(i) { out[name] = String(decoding: line[r], as: UTF8.self) }
            }
            return out
        }
    }

    /// The time captured in `slot` (which must be a `time(...)` field), parsed while matching.
    func time(in line: UnsafeBufferPointer<UInt8>, slot: Int, captures: Captures) -> TimeParts? {
        guard case .time = slotKinds[slot], captures.range(slot) != nil else { return nil }
        return captures.times[slot]
    }

    /// Index of the first time field, if the template has one.
    lazy var timeSlots: [Int] = slotKinds.indices.filter { if case .time = slotKinds[$0] { return true } else { return false } }
}

/// Where each captured field lies in the line (`start == -1`: not captured).
/// A set of byte values (256 bits, no allocation).
struct ByteSet: Equatable {
    var bits: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    static var all: ByteSet { ByteSet(bits: (~0, ~0, ~0, ~0)) }

    static func == (a: ByteSet, b: ByteSet) -> Bool { a.bits == b.bits }

    @inline(__always) func contains(_ b: UInt8) -> Bool {
        let bit = UInt64(1) << UInt64(b & 63)
        switch b >> 6 {
        case 0: return bits.0 & bit != 0
        case 1: return bits.1 & bit != 0
        case 2: return bits.2 & bit != 0
        default: return bits.3 & bit != 0
        }
    }

    mutating func insert(_ b: UInt8) {
        let bit = UInt64(1) << UInt64(b & 63)
        switch b >> 6 {
        case 0: bits.0 |= bit
        case 1: bits.1 |= bit
        case 2: bits.2 |= bit
        default: bits.3 |= bit
        }
    }

    mutating func formUnion(_ o: ByteSet) {
        bits = (bits.0 | o.bits.0, bits.1 | o.bits.1, bits.2 | o.bits.2, bits.3 | o.bits.3)
    }

    mutating func insert(where test: (UInt8) -> Bool) { for b in 0...255 where test(UInt8(b)) { insert(UInt8(b)) } }
}

/// Works out which bytes can begin a match of a template (its "first set").
struct FirstBytes {
    let ops: [Template.Op]
    let literals: [UInt8]
    let choices: [[[UInt8]]]
    let timeFormats: [TimeFormat]
    let caseInsensitive: Bool

    func withCase(_ b: UInt8) -> [UInt8] {
        guard caseInsensitive else { return [b] }
        return [b, lowerASCII(b), b &- 0x61 < 26 ? b - 0x20 : b]
    }

    /// The first set of the ops from `pc` to the end, and whether they can match nothing.
    func set(from pc: Int) -> (set: ByteSet, empty: Bool) {
        var acc = ByteSet()
        var i = pc
        while i < ops.count {
            switch ops[i] {
            case let .literal(o, _):
                withCase(literals[o]).forEach { acc.insert($0) }
                return (acc, false)
            case .space:
                acc.insert(0x20); acc.insert(0x09)
                return (acc, false)
            case .groupEnd:
                i += 1
            case let .optional(skipTo, _, _):
                let inside = set(from: i + 1), skipped = set(from: skipTo)
                acc.formUnion(inside.set); acc.formUnion(skipped.set)
                return (acc, inside.empty || skipped.empty)
            case let .field(_, kind):
                switch kind {
                case .text, .rest: return (.all, true)
                case .int: acc.insert(where: { isDigit($0) || $0 == 0x2D })
                case .hex: acc.insert(where: { hexValue($0) != nil })
                case .word: acc.insert(where: { !isBlank($0) })
                case .ident: acc.insert(where: { isDigit($0) || lowerASCII($0) &- 0x61 < 26 || [0x5F, 0x24, 0x23, 0x40, 0x2E, 0x2D].contains($0) })
                case .ipv4: acc.insert(where: isDigit)
                case let .oneOf(index): for c in choices[index] { if let f = c.first { withCase(f).forEach { acc.insert($0) } } }
                case let .time(index):
                    switch timeFormats[index].tokens.first {
                    case .literal(let b)?: acc.insert(b)
                    case .monthName?: acc.insert(where: { lowerASCII($0) &- 0x61 < 26 })
                    case .space?: acc.insert(0x20); acc.insert(0x09)
                    case .optional?, nil: return (.all, true)
                    default: acc.insert(where: isDigit)
                    }
                }
                return (acc, false)
            }
        }
        return (acc, true)
    }
}

/// Where each captured field lies in the line. Reuse one value across lines: its storage only
/// grows, and writes go through pointers, so the hot path neither allocates nor checks uniqueness.
/// Copies share storage: it is scratch space, not a value to keep.
public struct Captures {
    final class Storage {
        var capacity = 0
        var starts: UnsafeMutablePointer<Int> = .allocate(capacity: 1)
        var ends: UnsafeMutablePointer<Int> = .allocate(capacity: 1)
        var times: UnsafeMutablePointer<TimeParts> = .allocate(capacity: 1)

        func grow(_ n: Int) {
            starts.deallocate(); ends.deallocate(); times.deallocate()
            starts = .allocate(capacity: n); ends = .allocate(capacity: n)
            times = .allocate(capacity: n); times.initialize(repeating: TimeParts(), count: n)
            capacity = n
        }

        deinit { starts.deallocate(); ends.deallocate(); times.deallocate() }
    }

    let storage = Storage()
    var count = 0

    public init() {}

    var starts: UnsafeMutablePointer<Int> { storage.starts }
    var ends: UnsafeMutablePointer<Int> { storage.ends }
    var times: UnsafeMutablePointer<TimeParts> { storage.times }

    mutating func reset(count: Int) {
        if storage.capacity < count { storage.grow(max(count, 8)) }
        self.count = count
        for i in 0..<count { storage.starts[i] = -1 }
    }

    public func range(_ slot: Int) -> Range<Int>? {
        guard slot >= 0, slot < count, storage.starts[slot] >= 0 else { return nil }
        return storage.starts[slot]..<storage.ends[slot]
    }
}

public struct TemplateError: Error, CustomStringConvertible, Equatable {
    public let template: String
    public let column: Int
    public let problem: String
    public var description: String { "template '\(template)', column \(column): \(problem)" }
}

@inline(__always) func isBlank(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }
@inline(__always) func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }
@inline(__always) func hexValue(_ b: UInt8) -> UInt8? {
    if b &- 0x30 < 10 { return b &- 0x30 }
    let l = b | 0x20
    if l &- 0x61 < 6 { return l &- 0x61 &+ 10 }
    return nil
}
@inline(__always) func lowerASCII(_ b: UInt8) -> UInt8 { b &- 0x41 < 26 ? b | 0x20 : b }

private struct Matcher {
    unowned(unsafe) let t: Template
    let ops: UnsafeBufferPointer<Template.Op>
    let lits: UnsafeBufferPointer<UInt8>
    let line: UnsafeBufferPointer<UInt8>
    let wholeLine: Bool

    init(t: Template, ops: UnsafeBufferPointer<Template.Op>, lits: UnsafeBufferPointer<UInt8>, line: UnsafeBufferPointer<UInt8>, wholeLine: Bool) {
        self.t = t; self.ops = ops; self.lits = lits; self.line = line; self.wholeLine = wholeLine
    }

    @inline(__always) func literalMatches(_ offset: Int, _ count: Int, at pos: Int) -> Bool {
        if pos + count > line.count { return false }
        if t.caseInsensitive {
            for k in 0..<count where lowerASCII(line[pos + k]) != lowerASCII(lits[offset + k]) { return false }
            return true
        }
        return memcmp(line.baseAddress! + pos, lits.baseAddress! + offset, count) == 0
    }

    /// Next position at or after `pos` where the literal starts, or nil.
    func findLiteral(_ offset: Int, _ count: Int, from pos: Int) -> Int? {
        var p = pos
        let first = lits[offset]
        while p + count <= line.count {
            if t.caseInsensitive {
                if lowerASCII(line[p]) == lowerASCII(first) && literalMatches(offset, count, at: p) { return p }
                p += 1
                continue
            }
            guard let hit = memchr(line.baseAddress! + p, Int32(first), line.count - p) else { return nil }
            let q = line.baseAddress!.distance(to: hit.assumingMemoryBound(to: UInt8.self))
            if q + count > line.count { return nil }
            if memcmp(line.baseAddress! + q, lits.baseAddress! + offset, count) == 0 { return q }
            p = q + 1
        }
        return nil
    }

    mutating func run(_ start: Int, _ startPos: Int, _ caps: inout Captures) -> Int? {
        var pc = start, pos = startPos
        while pc < ops.count {
            switch ops[pc] {
            case let .literal(o, c):
                guard literalMatches(o, c, at: pos) else { return nil }
                pos += c
            case .space:
                guard pos < line.count, isBlank(line[pos]) else { return nil }
                pos += 1
                while pos < line.count && isBlank(line[pos]) { pos += 1 }
            case .groupEnd:
                break
            case let .optional(skipTo, firstSlot, slotCount):
                if let end = run(pc + 1, pos, &caps) { return end }
                for s in firstSlot..<(firstSlot + slotCount) { caps.starts[s] = -1 }
                pc = skipTo
                continue
            case let .field(slot, kind):
                if kind == .text { return lazyText(pc, slot, pos, &caps) }
                if case let .time(index) = kind {
                    var parts = TimeParts()
                    guard let end = t.timeFormats[index].scan(line, pos, into: &parts) else { return nil }
                    if slot >= 0 { caps.starts[slot] = pos; caps.ends[slot] = end; caps.times[slot] = parts }
                    pos = end
                    break
                }
                guard let end = scan(kind, pos) else { return nil }
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
    mutating func lazyText(_ pc: Int, _ slot: Int, _ pos: Int, _ caps: inout Captures) -> Int? {
        var next = pc + 1
        while next < ops.count, ops[next] == .groupEnd { next += 1 }
        if next >= ops.count {
            var end = line.count
            if !wholeLine { end = line.count }
            while end > pos && isBlank(line[end - 1]) { end -= 1 }
            if slot >= 0 { caps.starts[slot] = pos; caps.ends[slot] = end }
            return line.count
        }
        switch ops[next] {
        case let .literal(o, c):
            var from = pos
            while let q = findLiteral(o, c, from: from) {
                if slot >= 0 { caps.starts[slot] = pos; caps.ends[slot] = q }
                if let end = run(next, q, &caps) { return end }
                from = q + 1
            }
            return nil
        case .space:
            var q = pos
            while q < line.count {
                if isBlank(line[q]) {
                    if slot >= 0 { caps.starts[slot] = pos; caps.ends[slot] = q }
                    if let end = run(next, q, &caps) { return end }
                }
                q += 1
            }
            return nil
        default:
            return nil  // rejected when the template is compiled
        }
    }

    /// Greedy scan of a non-text field; returns its end or nil.
    func scan(_ kind: Template.Kind, _ pos: Int) -> Int? {
        var p = pos
        let n = line.count
        switch kind {
        case .text:
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

/// Compiles template source text into ops.
struct TemplateParser {
    let source: String
    let chars: [Character]
    var ops: [Template.Op] = []
    var literals: [UInt8] = []
    var choices: [[[UInt8]]] = []
    var timeFormats: [TimeFormat] = []
    var names: [String] = []
    var slotKinds: [Template.Kind] = []
    var i = 0

    init(source: String) { self.source = source; self.chars = Array(source) }

    func fail(_ problem: String, at column: Int? = nil) -> TemplateError {
        TemplateError(template: source, column: (column ?? i) + 1, problem: problem)
    }

    mutating func parse() throws(TemplateError) {
        if source.isEmpty { throw fail("the template is empty") }
        var groupStarts: [(op: Int, slot: Int, column: Int)] = []
        var pendingLiteral: [UInt8] = []
        func flush(_ p: inout TemplateParser, _ lit: inout [UInt8]) {
            guard !lit.isEmpty else { return }
            p.ops.append(.literal(offset: p.literals.count, count: lit.count))
            p.literals += lit
            lit = []
        }
        while i < chars.count {
            let c = chars[i]
            switch c {
            case "\\":
                guard i + 1 < chars.count else { throw fail("a backslash at the end escapes nothing") }
                pendingLiteral += Array(String(chars[i + 1]).utf8)
                i += 2
            case " ", "\t":
                flush(&self, &pendingLiteral)
                if ops.last != .space { ops.append(.space) }
                while i < chars.count && (chars[i] == " " || chars[i] == "\t") { i += 1 }
            case "{" where i + 1 < chars.count && chars[i + 1] == "?":
                flush(&self, &pendingLiteral)
                groupStarts.append((ops.count, names.count, i))
                ops.append(.groupEnd)  // placeholder, patched at the closing brace
                i += 2
            case "{":
                flush(&self, &pendingLiteral)
                try parseField()
            case "}":
                flush(&self, &pendingLiteral)
                guard let g = groupStarts.popLast() else { throw fail("'}' without a matching '{' (write \\} for a literal brace)") }
                ops.append(.groupEnd)
                ops[g.op] = .optional(skipTo: ops.count, firstSlot: g.slot, slotCount: names.count - g.slot)
                i += 1
            default:
                pendingLiteral += Array(String(c).utf8)
                i += 1
            }
        }
        flush(&self, &pendingLiteral)
        if let g = groupStarts.last { throw fail("'{?' is never closed", at: g.column) }
        // A text field must be followed by literal text, a blank or the end of the template.
        for (k, op) in ops.enumerated() {
            guard case .field(_, .text) = op else { continue }
            var n = k + 1
            while n < ops.count, ops[n] == .groupEnd { n += 1 }
            if n < ops.count {
                switch ops[n] {
                case .literal, .space: break
                default: throw fail("a text field must be followed by literal text, a space or the end; give the field a kind (int, word, hex, ...)", at: 0)
                }
            }
        }
    }

    mutating func parseField() throws(TemplateError) {
        let open = i
        i += 1
        var body = ""
        var depth = 0
        while i < chars.count {
            let c = chars[i]
            if c == "(" { depth += 1 }
            if c == ")" { depth -= 1 }
            if c == "}" && depth <= 0 { break }
            body.append(c)
            i += 1
        }
        guard i < chars.count else { throw fail("'{' is never closed", at: open) }
        i += 1
        let name: String, kindText: String
        if let colon = body.firstIndex(of: ":") {
            name = String(body[..<colon]).trimmingBlanks()
            kindText = String(body[body.index(after: colon)...]).trimmingBlanks()
        } else {
            name = body.trimmingBlanks(); kindText = "text"
        }
        if !name.isEmpty, !name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
            throw fail("field name '\(name)' may hold only letters, digits and _", at: open)
        }
        let kind = try parseKind(kindText, at: open)
        var slot = -1
        if !name.isEmpty {
            if names.contains(name) { throw fail("field '\(name)' appears twice", at: open) }
            slot = names.count
            names.append(name)
            slotKinds.append(kind)
        }
        ops.append(.field(slot: slot, kind: kind))
    }

    mutating func parseKind(_ text: String, at column: Int) throws(TemplateError) -> Template.Kind {
        var base = text, arg: String? = nil
        if let paren = text.firstIndex(of: "("), text.hasSuffix(")") {
            base = String(text[..<paren])
            arg = String(text[text.index(after: paren)..<text.index(before: text.endIndex)])
        }
        switch base {
        case "text" where arg == nil: return .text
        case "rest" where arg == nil: return .rest
        case "int" where arg == nil, "dec" where arg == nil: return .int
        case "word" where arg == nil: return .word
        case "ident" where arg == nil: return .ident
        case "ipv4" where arg == nil: return .ipv4
        case "hex":
            guard let arg else { return .hex(min: 1, max: Int.max) }
            let parts = arg.split(separator: "-").map { Int(String($0).trimmingBlanks()) }
            if parts.count == 1, let n = parts[0], n > 0 { return .hex(min: n, max: n) }
            if parts.count == 2, let a = parts[0], let b = parts[1], a > 0, b >= a { return .hex(min: a, max: b) }
            throw fail("hex takes a count or a range, as hex(8) or hex(2-4)", at: column)
        case "one":
            guard let arg, !arg.isEmpty else { throw fail("one(...) needs choices, as one(ENTRY|EXIT)", at: column) }
            choices.append(arg.split(separator: "|", omittingEmptySubsequences: false).map { Array($0.utf8) })
            if choices.last!.contains(where: \.isEmpty) { throw fail("one(...) has an empty choice", at: column) }
            return .oneOf(choices.count - 1)
        case "time":
            guard let arg, !arg.isEmpty else { throw fail("time(...) needs a format, as time(MM/DD/YYYY-hh:mm:ss)", at: column) }
            do {
                timeFormats.append(try TimeFormat(arg))
            } catch {
                throw fail("time format '\(arg)': \(error.problem)", at: column)
            }
            return .time(timeFormats.count - 1)
        default:
            throw fail("unknown field kind '\(text)' (kinds: text, rest, int, hex, hex(N), word, ident, ipv4, one(A|B), time(FORMAT))", at: column)
        }
    }
}

extension String {
    func trimmingBlanks() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
