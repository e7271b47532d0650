#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds `needle` in `hay[from...]`: `memchr` for the first byte, `memcmp` for the rest.
/// (glibc's `memmem` is not visible to Swift without _GNU_SOURCE.)
@inline(__always)
package func findBytes(_ needle: UnsafeBufferPointer<UInt8>, in hay: UnsafeBufferPointer<UInt8>, from: Int) -> Int? {
    let n = needle.count
    guard n > 0, let h = hay.baseAddress, let nb = needle.baseAddress else { return n == 0 ? from : nil }
    let first = Int32(nb[0])
    var p = from
    while p + n <= hay.count {
        guard let hit = memchr(h + p, first, hay.count - p - n + 1) else { return nil }
        let q = h.distance(to: hit.assumingMemoryBound(to: UInt8.self))
        if n == 1 || memcmp(h + q + 1, nb + 1, n - 1) == 0 { return q }
        p = q + 1
    }
    return nil
}

package func findBytes(_ needle: [UInt8], in hay: UnsafeBufferPointer<UInt8>, from: Int) -> Int? {
    needle.withUnsafeBufferPointer { findBytes($0, in: hay, from: from) }
}
