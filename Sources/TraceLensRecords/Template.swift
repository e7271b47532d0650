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
/// of the line), `rest`, `int`, `hex`, `hex(N)`, `hex(N-M)`, `word`, `ident`, `ipv4`, `msgid`,
/// `msgtext` (the rest of the line, starting with a message id), `jobid`, `one(A|B|C)` and `time(FORMAT)`. See docs/plugins.md.
///
/// Matching is a small backtracking machine over bytes. Only `text` fields and optional groups
/// backtrack; every other kind is greedy. Swift `Regex` was measured at 6 MB/s here, this runs at
/// hundreds of MB/s.
public final class Template: @unchecked Sendable {  // owns raw op and literal buffers (filled in init, read-only after)
    public let source: String
    /// Names of the captured fields, in slot order (slot = index into `Captures`).
    public let fieldNames: [String]
    /// True when the template begins with literal text (required to search for it in a line).
    public var startsWithLiteral: Bool { ops.first.map { if case .literal = $0 { return true } else { return false } } ?? false }
    /// The literal text a match must contain at its start, if any (used to find codes fast).
    package let leadingLiteral: [UInt8]

    package enum Kind: Equatable {
        case text, token, rest, int, hex(min: Int, max: Int), word, ident, ipv4, msgid, msgtext, jobid
        case oneOf(Int)   // index into `choices`
        case time(Int)    // index into `timeFormats`
    }

    package enum Op: Equatable {
        case literal(offset: Int, count: Int)
        case space
        case field(slot: Int, kind: Kind)
        /// Start of an optional group; `skipTo` is the op after its end.
        case optional(skipTo: Int, firstSlot: Int, slotCount: Int)
        case groupEnd
    }

    package let ops: [Op]
    package let literals: [UInt8]
    package let choices: [[[UInt8]]]
    package let timeFormats: [TimeFormat]
    package let caseInsensitive: Bool
    /// Kind of each captured slot.
    package let slotKinds: [Kind]

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
        backtracks = Self.backtracks(parser.ops)
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
        captures.gaveUp = false
        // Most lines fail on their first byte: reject them before any other work.
        if from < line.count && !firstBytes.contains(line[from]) { return nil }
        captures.reset(count: fieldNames.count)
        // Generous: a template without optional groups never needs more than ops × (length + 1)
        // tries (see `Matcher`); only a pathological template reaches it.
        let budget = Self.baseStepBudget + ops.count &* (line.count &+ 1)
        let opsView = UnsafeBufferPointer(opsBuffer), lits = UnsafeBufferPointer(literalBuffer)
        guard backtracks else {
            var m = Matcher(t: self, ops: opsView, lits: lits, line: line, wholeLine: wholeLine, failedFrom: nil, budget: budget)
            let end = m.run(0, from, &captures)
            captures.gaveUp = m.gaveUp
            return end
        }
        // The memo lives on the stack: no allocation per line.
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: opsView.count) { memo in
            memo.initialize(repeating: Int.max)
            var m = Matcher(t: self, ops: opsView, lits: lits, line: line, wholeLine: wholeLine, failedFrom: memo.baseAddress, budget: budget)
            let end = m.run(0, from, &captures)
            captures.gaveUp = m.gaveUp
            return end
        }
    }

    /// Matches at `from` for a caller that tries the template at many starts of one line (a code
    /// finder, at every occurrence of its leading literal). What one start learns holds for every
    /// start in the same line, so `memo` (`memoSize` ints, set to `Int.max` by the caller once per
    /// line) keeps it: where each text field failed from and the run each greedy field scanned. A
    /// later start then skips what an earlier one proved, and `allowance`, the work left for this
    /// template on this line (tries and bytes scanned), is spent across all the starts: the work
    /// per line stays near linear in its length, whatever the line holds. When it runs out, the
    /// match fails with `captures.gaveUp` set.
    package func match(_ line: UnsafeBufferPointer<UInt8>, from: Int, captures: inout Captures,
               memo: UnsafeMutablePointer<Int>, allowance: inout Int) -> Int? {
        captures.gaveUp = false
        if from < line.count && !firstBytes.contains(line[from]) { return nil }
        if allowance < 0 { captures.gaveUp = true; return nil }
        captures.reset(count: fieldNames.count)
        var m = Matcher(t: self, ops: UnsafeBufferPointer(opsBuffer), lits: UnsafeBufferPointer(literalBuffer), line: line,
                        wholeLine: false, failedFrom: memo, budget: allowance, shared: true)
        let end = m.run(0, from, &captures)
        allowance = m.budget
        captures.gaveUp = m.gaveUp
        return end
    }

    /// Ints `match(_:from:captures:memo:allowance:)` needs for its memo.
    package var memoSize: Int { 3 * ops.count }

    /// Tries every match may spend on top of ops × line length before it gives up.
    package static let baseStepBudget = 100_000

    /// True when a text field is followed by more template: only then can matching backtrack
    /// over where the field ends.
    private let backtracks: Bool

    private static func backtracks(_ ops: [Op]) -> Bool {
        ops.indices.contains { k in
            guard case let .field(_, kind) = ops[k], kind == .text || kind == .token else { return false }
            var next = k + 1
            while next < ops.count, ops[next] == .groupEnd { next += 1 }
            return next < ops.count
        }
    }

    /// The ops and literals again, in buffers owned by the template (matching reads them through
    /// pointers, with no closure and no reference counting per line).
    private let opsBuffer: UnsafeMutableBufferPointer<Op>
    private let literalBuffer: UnsafeMutableBufferPointer<UInt8>
    /// Bytes a match can start with.
    package let firstBytes: ByteSet

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
    package func time(in line: UnsafeBufferPointer<UInt8>, slot: Int, captures: Captures) -> TimeParts? {
        guard case .time = slotKinds[slot], captures.range(slot) != nil else { return nil }
        return captures.times[slot]
    }

    /// Index of the first time field, if the template has one.
    package lazy var timeSlots: [Int] = slotKinds.indices.filter { if case .time = slotKinds[$0] { return true } else { return false } }
}

public struct TemplateError: Error, CustomStringConvertible, Equatable {
    public let template: String
    public let column: Int
    public let problem: String
    public var description: String { "template '\(template)', column \(column): \(problem)" }
}
