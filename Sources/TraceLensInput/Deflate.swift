import CZlib

/// One-shot zlib compression of a block of bytes (the store keeps record text this way), and
/// its inverse, which checks everything it is given: a stored block may be damaged.
public enum Deflate {
    /// The largest block `inflate` accepts: more than any block the store writes (about 64 KB
    /// plus one record), far less than what a damaged size could make it allocate.
    public static let maxInflated = 256 << 20

    /// zlib level 1: measured on a generated gsktrace, 225 MB/s at 8.8:1, against 81 MB/s at
    /// 13:1 for level 6 (docs/architecture.md). Ingest cannot wait for level 6.
    public static func compress(_ bytes: UnsafeRawBufferPointer, level: Int32 = 1) -> [UInt8] {
        let bound = Int(compressBound(uLong(bytes.count)))
        var out = [UInt8](repeating: 0, count: bound)
        var length = uLongf(bound)
        let rc = out.withUnsafeMutableBytes { o in
            CZlib.compress2(o.baseAddress!.assumingMemoryBound(to: Bytef.self), &length,
                            bytes.baseAddress?.assumingMemoryBound(to: Bytef.self), uLong(bytes.count), level)
        }
        // compress2 fails only for lack of memory or room, and the room is its own bound.
        precondition(rc == Z_OK, "zlib compress2 failed (\(rc))")
        out.removeSubrange(Int(length)...)
        return out
    }

    /// The bytes of a block that `compress` made, when they inflate to exactly `size` bytes;
    /// nil for anything else (damaged data, a wrong size, a size past `maxInflated`).
    public static func inflate(_ bytes: UnsafeRawBufferPointer, size: Int, into out: inout [UInt8]) -> Bool {
        guard size >= 0, size <= maxInflated, let source = bytes.baseAddress else { return false }
        // One spare byte: uncompress wants room even for an empty block, and a block that
        // inflates to more than `size` then fails instead of fitting. (A new zeroed array: filling
        // the old one through `append(contentsOf:)` costs more than the inflating in a debug build.)
        out = [UInt8](repeating: 0, count: size + 1)
        var length = uLongf(size + 1)
        let rc = out.withUnsafeMutableBytes { o in
            uncompress(o.baseAddress!.assumingMemoryBound(to: Bytef.self), &length, source.assumingMemoryBound(to: Bytef.self), uLong(bytes.count))
        }
        out.removeLast()
        return rc == Z_OK && Int(length) == size
    }
}
