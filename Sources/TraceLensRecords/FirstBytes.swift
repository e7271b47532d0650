import TraceLensInput

/// A set of byte values (256 bits, no allocation).
package struct ByteSet: Equatable {
    package var bits: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    package static var all: ByteSet { ByteSet(bits: (~0, ~0, ~0, ~0)) }

    package static func == (a: ByteSet, b: ByteSet) -> Bool { a.bits == b.bits }

    @inline(__always) package func contains(_ b: UInt8) -> Bool {
        let bit = UInt64(1) << UInt64(b & 63)
        switch b >> 6 {
        case 0: return bits.0 & bit != 0
        case 1: return bits.1 & bit != 0
        case 2: return bits.2 & bit != 0
        default: return bits.3 & bit != 0
        }
    }

    package mutating func insert(_ b: UInt8) {
        let bit = UInt64(1) << UInt64(b & 63)
        switch b >> 6 {
        case 0: bits.0 |= bit
        case 1: bits.1 |= bit
        case 2: bits.2 |= bit
        default: bits.3 |= bit
        }
    }

    package mutating func formUnion(_ o: ByteSet) {
        bits = (bits.0 | o.bits.0, bits.1 | o.bits.1, bits.2 | o.bits.2, bits.3 | o.bits.3)
    }

    package mutating func insert(where test: (UInt8) -> Bool) { for b in 0...255 where test(UInt8(b)) { insert(UInt8(b)) } }
}

/// Works out which bytes can begin a match of a template (its "first set").
package struct FirstBytes {
    package let ops: [Template.Op]
    package let literals: [UInt8]
    package let choices: [[[UInt8]]]
    package let timeFormats: [TimeFormat]
    package let caseInsensitive: Bool

    package func withCase(_ b: UInt8) -> [UInt8] {
        guard caseInsensitive else { return [b] }
        return [b, lowerASCII(b), b &- 0x61 < 26 ? b - 0x20 : b]
    }

    /// The first set of the ops from `pc` to the end, and whether they can match nothing.
    package func set(from pc: Int) -> (set: ByteSet, empty: Bool) {
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
                case .word, .token: acc.insert(where: { !isBlank($0) })
                case .ident: acc.insert(where: { isDigit($0) || lowerASCII($0) &- 0x61 < 26 || [0x5F, 0x24, 0x23, 0x40, 0x2E, 0x2D].contains($0) })
                case .ipv4: acc.insert(where: isDigit)
                case .jobid: acc.insert(0x4A); acc.insert(0x53); acc.insert(0x54)
                case .msgid, .msgtext: acc.insert(where: { $0 &- 0x41 < 26 || $0 == 0x24 || $0 == 0x23 || $0 == 0x40 })
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
