#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds where any of a set of literal strings occurs in a line, in one pass: a 256-entry table
/// says which bytes can start a literal, and only those positions are compared. Code patterns and
/// secret patterns start with literals ("Exit status 0x", "alert ", "GSK_LDAP_PASSWORD="), and
/// most lines hold none, so this is the whole cost of decoding them.
///
/// Storage is allocated once and never changes, so the scan does no reference counting.
final class LiteralPrefilter: @unchecked Sendable {
    let count: Int
    /// With few distinct first bytes, `memchr` (vectorised) finds the candidates for each of them
    /// faster than a byte-by-byte table scan.
    private let firstBytes: [Int32]
    private let starts: UnsafeMutablePointer<UInt8>   // 256 flags: bytes that start a literal
    /// 65,536 flags: byte pairs that start a literal (a literal of one byte sets all its pairs).
    private let pairs: UnsafeMutablePointer<UInt8>
    private let bytes: UnsafeMutablePointer<UInt8>
    private let offsets: UnsafeMutablePointer<Int>
    private let lengths: UnsafeMutablePointer<Int>
    /// Per literal: 1 when it matches in any ASCII case (kept lowercase in `bytes`).
    private let folded: UnsafeMutablePointer<UInt8>

    /// `ignoringCase[i]`: literal i matches in any ASCII case (`Password=`, `PASSWORD=`).
    init(_ literals: [[UInt8]], ignoringCase: [Bool] = []) {
        count = literals.count
        starts = .allocate(capacity: 256)
        starts.initialize(repeating: 0, count: 256)
        pairs = .allocate(capacity: 65_536)
        pairs.initialize(repeating: 0, count: 65_536)
        let total = max(literals.reduce(0) { $0 + $1.count }, 1)
        bytes = .allocate(capacity: total)
        offsets = .allocate(capacity: max(count, 1))
        lengths = .allocate(capacity: max(count, 1))
        folded = .allocate(capacity: max(count, 1))
        func fold(_ i: Int) -> Bool { i < ignoringCase.count && ignoringCase[i] }
        // Both cases of a letter are candidates for a literal that ignores case.
        func variants(_ b: UInt8, _ i: Int) -> [UInt8] {
            guard fold(i), lowerASCII(b) &- 0x61 < 26 else { return [b] }
            return [lowerASCII(b), lowerASCII(b) - 0x20]
        }
        var firsts = Set<UInt8>()
        for (i, lit) in literals.enumerated() { if let f = lit.first { firsts.formUnion(variants(f, i)) } }
        firstBytes = firsts.count <= 6 ? firsts.sorted().map(Int32.init) : []
        var at = 0
        for (i, lit) in literals.enumerated() {
            offsets[i] = at
            lengths[i] = lit.count
            folded[i] = fold(i) ? 1 : 0
            for b in lit { bytes[at] = fold(i) ? lowerASCII(b) : b; at += 1 }
            if let first = lit.first {
                for f in variants(first, i) {
                    starts[Int(f)] = 1
                    if lit.count >= 2 {
                        for second in variants(lit[1], i) { pairs[Int(f) << 8 | Int(second)] = 1 }
                    } else {
                        for b in 0..<256 { pairs[Int(f) << 8 | b] = 1 }
                    }
                }
            }
        }
    }

    /// Literal i is at `p` (which the caller keeps inside the line).
    @inline(__always)
    private func matches(_ i: Int, _ base: UnsafePointer<UInt8>, _ p: Int, _ n: Int) -> Bool {
        let len = lengths[i], o = offsets[i]
        guard p + len <= n else { return false }
        if folded[i] == 0 { return bytes[o] == base[p] && memcmp(base + p, bytes + o, len) == 0 }
        for k in 0..<len where lowerASCII(base[p + k]) != bytes[o + k] { return false }
        return true
    }

    deinit {
        starts.deallocate(); pairs.deallocate(); bytes.deallocate(); offsets.deallocate(); lengths.deallocate(); folded.deallocate()
    }

    /// Calls `hit(literalIndex, position)` for every occurrence, in line order; `hit` returns the
    /// position to resume scanning from (at least position + 1).
    @inline(__always)
    func scan(_ line: UnsafeBufferPointer<UInt8>, _ hit: (Int, Int) -> Int) {
        guard count > 0, let base = line.baseAddress, line.count > 0 else { return }
        if firstBytes.isEmpty { tableScan(base, line.count, hit); return }
        // Candidates for each first byte, merged in line order (few per line, usually none).
        var found: [(position: Int, literal: Int)] = []
        var single: (position: Int, literal: Int)?   // the usual case, kept off the heap
        let n = line.count
        for first in firstBytes {
            var p = 0
            while p < n, let h = memchr(base + p, first, n - p) {
                let q = base.distance(to: h.assumingMemoryBound(to: UInt8.self))
                if q + 1 >= n || pairs[Int(base[q]) << 8 | Int(base[q + 1])] != 0 {
                    for i in 0..<count where matches(i, base, q, n) {
                        if single == nil && found.isEmpty { single = (q, i) } else {
                            if let s = single { found.append(s); single = nil }
                            found.append((q, i))
                        }
                    }
                }
                p = q + 1
            }
        }
        if let s = single { _ = hit(s.literal, s.position); return }
        if found.isEmpty { return }
        if found.count > 1 { found.sort { $0.position < $1.position } }
        var resume = 0
        for f in found where f.position >= resume {
            resume = max(resume, hit(f.literal, f.position))
        }
    }

    private func tableScan(_ base: UnsafePointer<UInt8>, _ n: Int, _ hit: (Int, Int) -> Int) {
        var p = 0
        while p < n {
            let b = base[p]
            if starts[Int(b)] == 0 { p += 1; continue }
            if p + 1 < n && pairs[Int(b) << 8 | Int(base[p + 1])] == 0 { p += 1; continue }
            var next = p + 1
            for i in 0..<count where matches(i, base, p, n) {
                next = max(next, hit(i, p))
            }
            p = next
        }
    }
}
