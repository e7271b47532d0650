#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TraceLensInput

/// Finds where any of a set of literal strings occurs in a line, in one pass. Each literal is
/// looked for by its rarest byte (its anchor: `K` in `Master-Key:`, `w` in `password`), so few
/// positions of a line are candidates; a 256-entry table says which bytes are anchors, a 65,536
/// entry one which anchor-and-next-byte pairs are, and only those positions are compared. Code
/// patterns and secret patterns start with literals ("Exit status 0x", "alert ",
/// "GSK_LDAP_PASSWORD"), and most lines hold none, so this is the whole cost of decoding them.
/// A literal may match in any ASCII case (`ignoringCase`): both cases of its letters are anchors.
///
/// Storage is allocated once and never changes, so the scan does no reference counting.
package final class LiteralPrefilter: @unchecked Sendable {  // owns raw tables (allocated in init, never written after)
    package let count: Int
    /// With few distinct anchor bytes, `memchr` (vectorised) finds the candidates for each of
    /// them faster than a byte-by-byte table scan.
    private let anchorBytes: [Int32]
    private let anchors: UnsafeMutablePointer<UInt8>   // 256 flags: bytes that anchor a literal
    /// 65,536 flags: an anchor byte and the byte after it (a literal anchored on its last byte sets all).
    private let pairs: UnsafeMutablePointer<UInt8>
    private let bytes: UnsafeMutablePointer<UInt8>
    private let offsets: UnsafeMutablePointer<Int>
    private let lengths: UnsafeMutablePointer<Int>
    /// Where in literal i its anchor byte is.
    private let anchorAt: UnsafeMutablePointer<Int>
    /// Per literal: 1 when it matches in any ASCII case (kept lowercase in `bytes`).
    private let folded: UnsafeMutablePointer<UInt8>
    /// The literals each byte anchors, in literal order: `bucketItems[bucketStart[b] ..<
    /// bucketStart[b + 1]]`. A candidate is compared with those only.
    private let bucketStart: UnsafeMutablePointer<Int>
    private let bucketItems: UnsafeMutablePointer<Int>

    /// `ignoringCase[i]`: literal i matches in any ASCII case (`Password=`, `PASSWORD=`).
    package init(_ literals: [[UInt8]], ignoringCase: [Bool] = []) {
        count = literals.count
        anchors = .allocate(capacity: 256)
        anchors.initialize(repeating: 0, count: 256)
        pairs = .allocate(capacity: 65_536)
        pairs.initialize(repeating: 0, count: 65_536)
        let total = max(literals.reduce(0) { $0 + $1.count }, 1)
        bytes = .allocate(capacity: total)
        offsets = .allocate(capacity: max(count, 1))
        lengths = .allocate(capacity: max(count, 1))
        anchorAt = .allocate(capacity: max(count, 1))
        folded = .allocate(capacity: max(count, 1))
        func fold(_ i: Int) -> Bool { i < ignoringCase.count && ignoringCase[i] }
        // Both cases of a letter are candidates for a literal that ignores case.
        let folds = literals.indices.map(fold)
        func variants(_ b: UInt8, _ i: Int) -> (UInt8, UInt8) {
            guard folds[i], lowerASCII(b) &- 0x61 < 26 else { return (b, b) }
            return (lowerASCII(b), lowerASCII(b) - 0x20)
        }
        var at = 0
        for (i, lit) in literals.enumerated() {
            offsets[i] = at
            lengths[i] = lit.count
            folded[i] = fold(i) ? 1 : 0
            for b in lit { bytes[at] = fold(i) ? lowerASCII(b) : b; at += 1 }
            anchorAt[i] = 0
        }
        // Anchors: greedily the byte (both cases of a letter, for a literal that ignores case)
        // that lets the most literals not yet anchored be found, per unit of commonness. Few
        // distinct anchors let the scan use memchr; rare ones give few candidates.
        // A unit: one byte, or both cases of a letter (high byte: lowercase, low byte: uppercase).
        var unitIndex: [UInt16: Int] = [:]
        var units: [UInt16] = []
        var members: [[(literal: Int, at: Int)]] = []
        for (i, lit) in literals.enumerated() {
            for k in lit.indices {
                let v = variants(lit[k], i)
                let unit = UInt16(v.0) << 8 | UInt16(v.1)
                let u: Int
                if let known = unitIndex[unit] { u = known } else { u = units.count; unitIndex[unit] = u; units.append(unit); members.append([]) }
                if members[u].last?.literal != i { members[u].append((i, k)) }
            }
        }
        var pending = literals.map { !$0.isEmpty }
        var left = pending.filter { $0 }.count
        var chosen = [Bool](repeating: false, count: 256)
        var buckets = [[Int]](repeating: [], count: 256)
        while left > 0 {
            var best = -1, bestScore = 0.0
            for u in units.indices {
                var covered = 0
                for m in members[u] where pending[m.literal] { covered += 1 }
                guard covered > 0 else { continue }
                let lo = UInt8(units[u] >> 8), hi = UInt8(units[u] & 0xFF)
                var cost = chosen[Int(lo)] ? 0 : Self.commonness(lo)
                if hi != lo && !chosen[Int(hi)] { cost += Self.commonness(hi) }
                let score = Double(covered) / Double(max(cost, 1))
                if score > bestScore || (score == bestScore && best >= 0 && units[u] < units[best]) { best = u; bestScore = score }
            }
            guard best >= 0 else { break }
            chosen[Int(units[best] >> 8)] = true
            chosen[Int(units[best] & 0xFF)] = true
            for (i, a) in members[best] where pending[i] {
                pending[i] = false
                left -= 1
                anchorAt[i] = a
                let lit = literals[i]
                let (lo, hi) = variants(lit[a], i)
                for v in lo == hi ? [lo] : [lo, hi] {
                    anchors[Int(v)] = 1
                    buckets[Int(v)].append(i)
                    if a + 1 < lit.count {
                        let (nlo, nhi) = variants(lit[a + 1], i)
                        pairs[Int(v) << 8 | Int(nlo)] = 1
                        pairs[Int(v) << 8 | Int(nhi)] = 1
                    } else {
                        for b in 0..<256 { pairs[Int(v) << 8 | b] = 1 }
                    }
                }
            }
        }
        for b in 0..<256 { buckets[b].sort() }
        let used = (0..<256).filter { !buckets[$0].isEmpty }
        anchorBytes = used.count <= 6 ? used.map(Int32.init) : []
        bucketStart = .allocate(capacity: 257)
        bucketItems = .allocate(capacity: max(buckets.reduce(0) { $0 + $1.count }, 1))
        var item = 0
        for b in 0..<256 {
            bucketStart[b] = item
            for i in buckets[b] { bucketItems[item] = i; item += 1 }
        }
        bucketStart[256] = item
    }

    /// True when the scan uses memchr (few distinct anchor bytes).
    package var usesMemchr: Bool { !anchorBytes.isEmpty }
    /// The anchor bytes, as text (for test messages).
    package var anchorSet: String { String(decoding: (0..<256).filter { anchors[$0] != 0 }.map(UInt8.init), as: UTF8.self) }

    /// A rough rank of how often a byte appears in trace and log text (higher: more often), to
    /// pick each literal's anchor: blanks and lowercase vowels are everywhere, `K` and `W` rare.
    package static func commonness(_ b: UInt8) -> Int {
        switch b {
        case 0x20, 0x09: return 100
        case 0x61...0x7A: return 90 - 3 * letterRank[Int(b - 0x61)]
        case 0x41...0x5A: return 50 - letterRank[Int(b - 0x41)] * 3 / 2
        case 0x30...0x39: return 70
        case 0x2D, 0x2E, 0x2F, 0x3A, 0x5F, 0x28, 0x29: return 60   // - . / : _ ( )
        case 0x3D, 0x2C, 0x22, 0x27, 0x3C, 0x3E: return 30          // = , " ' < >
        default: return 20
        }
    }

    /// Each letter's place in "etaoinsrhldcumfpgwybvkxjqz" (English letters by frequency).
    private static let letterRank: [Int] = {
        var rank = [Int](repeating: 25, count: 26)
        for (n, c) in "etaoinsrhldcumfpgwybvkxjqz".utf8.enumerated() { rank[Int(c - 0x61)] = n }
        return rank
    }()

    deinit {
        anchors.deallocate(); pairs.deallocate(); bytes.deallocate(); offsets.deallocate(); lengths.deallocate()
        anchorAt.deallocate(); folded.deallocate(); bucketStart.deallocate(); bucketItems.deallocate()
    }

    /// Literal i starts at `p`.
    @inline(__always)
    private func matches(_ i: Int, _ base: UnsafePointer<UInt8>, _ p: Int, _ n: Int) -> Bool {
        let len = lengths[i], o = offsets[i]
        guard p >= 0, p + len <= n else { return false }
        if folded[i] == 0 { return bytes[o] == base[p] && memcmp(base + p, bytes + o, len) == 0 }
        for k in 0..<len where lowerASCII(base[p + k]) != bytes[o + k] { return false }
        return true
    }

    /// Calls `hit(literalIndex, position)` for every occurrence, in line order; `hit` returns the
    /// position to resume scanning from (at least position + 1).
    @inline(__always)
    package func scan(_ line: UnsafeBufferPointer<UInt8>, _ hit: (Int, Int) -> Int) {
        guard count > 0, let base = line.baseAddress, line.count > 0 else { return }
        // Candidates, merged in line order (few per line, usually none).
        var found: [(position: Int, literal: Int)] = []
        var single: (position: Int, literal: Int)?   // the usual case, kept off the heap
        let n = line.count
        @inline(__always) func candidate(_ q: Int) {
            guard q + 1 >= n || pairs[Int(base[q]) << 8 | Int(base[q + 1])] != 0 else { return }
            let b = Int(base[q])
            for k in bucketStart[b]..<bucketStart[b + 1] {
                let i = bucketItems[k]
                let start = q - anchorAt[i]
                guard matches(i, base, start, n) else { continue }
                if single == nil && found.isEmpty { single = (start, i) } else {
                    if let s = single { found.append(s); single = nil }
                    found.append((start, i))
                }
            }
        }
        if anchorBytes.isEmpty {
            for p in 0..<n where anchors[Int(base[p])] != 0 { candidate(p) }
        } else {
            for anchor in anchorBytes {
                var p = 0
                while p < n, let h = memchr(base + p, anchor, n - p) {
                    let q = base.distance(to: h.assumingMemoryBound(to: UInt8.self))
                    candidate(q)
                    p = q + 1
                }
            }
        }
        if let s = single { _ = hit(s.literal, s.position); return }
        if found.isEmpty { return }
        // By position, then literal order (as the literals were given) at one position.
        if found.count > 1 { found.sort { ($0.position, $0.literal) < ($1.position, $1.literal) } }
        // Every literal found at one position is offered; then scanning resumes where they say.
        var resume = 0, i = 0
        while i < found.count {
            let p = found[i].position
            var next = max(resume, p + 1)
            while i < found.count && found[i].position == p {
                if p >= resume { next = max(next, hit(found[i].literal, p)) }
                i += 1
            }
            resume = next
        }
    }
}
