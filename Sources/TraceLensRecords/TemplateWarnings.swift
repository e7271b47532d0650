import TraceLensInput

/// Shapes of a template that work but cost much to match or cannot match as meant. `plugins
/// check` reports them as warnings (the template still loads).
extension Template {
    /// A run of this many text fields with only blanks between them is reported.
    package static let textRunWarning = 3
    /// This many optional groups is reported: matching may try each combination of them.
    package static let optionalGroupsWarning = 8

    public var warnings: [String] {
        var out: [String] = []
        func label(_ slot: Int) -> String { slot >= 0 ? "{\(fieldNames[slot])}" : "{}" }

        // Text fields with only blanks between them: which word goes to which field is a guess,
        // and each field is retried at every blank of the line.
        var run: [Int] = []
        func endRun() {
            if run.count >= Self.textRunWarning {
                out.append("\(run.count) text fields with only blanks between them (\(run.map(label).joined(separator: " "))): "
                           + "each is retried at every blank, and which word goes where is a guess; give them a kind "
                           + "(word, int, ident, ...) or put literal text between them")
            }
            run = []
        }
        for op in ops {
            switch op {
            case let .field(slot, .text): run.append(slot)
            case .space, .groupEnd, .optional: continue
            default: endRun()
            }
        }
        endRun()

        // A greedy field directly followed by a field that starts with bytes the first one takes:
        // the first leaves nothing for the second.
        let first = FirstBytes(ops: ops, literals: literals, choices: choices, timeFormats: timeFormats, caseInsensitive: caseInsensitive)
        for (k, op) in ops.enumerated() where k + 1 < ops.count {
            guard case let .field(slot, kind) = op, let takes = Self.bytesTakenGreedily(kind) else { continue }
            guard case let .field(nextSlot, _) = ops[k + 1] else { continue }
            // A field that may match nothing (`rest`, text) leaves the first its bytes.
            let (next, canBeEmpty) = first.set(from: k + 1)
            if !canBeEmpty, (0...255).contains(where: { takes.contains(UInt8($0)) && next.contains(UInt8($0)) }) {
                out.append("\(label(nextSlot)) directly follows the greedy field \(label(slot)), which takes what it could match: "
                           + "put literal text or a blank between them, or bound the first (hex(N), one(A|B))")
            }
        }

        let groups = ops.filter { if case .optional = $0 { return true } else { return false } }.count
        if groups >= Self.optionalGroupsWarning {
            out.append("\(groups) optional groups: a line may be tried against each combination of them "
                       + "(a line that needs too many tries is given up on and reported); fewer groups or literal text inside them keeps matching fast")
        }
        return out
    }

    /// The bytes a greedy field keeps taking (nil for kinds that stop on their own).
    private static func bytesTakenGreedily(_ kind: Kind) -> ByteSet? {
        var s = ByteSet()
        switch kind {
        case .rest, .msgtext: return .all
        case .word: s.insert(where: { !isBlank($0) })
        case .int: s.insert(where: isDigit)
        case let .hex(_, maxCount) where maxCount == Int.max: s.insert(where: { hexValue($0) != nil })
        case .ident: s.insert(where: { isDigit($0) || lowerASCII($0) &- 0x61 < 26 || [0x5F, 0x24, 0x23, 0x40, 0x2E, 0x2D].contains($0) })
        default: return nil
        }
        return s
    }
}
