#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TraceLensInput

/// What makes a file the same source as before: its device and inode, and a hash of its first
/// bytes. A file replaced by another under the same name (new inode, or different first bytes)
/// is a new source; a file that only grew is the same one.
public struct SourceIdentity: Sendable, Equatable {
    public var device: Int64
    public var inode: Int64
    public var size: Int64
    /// How many leading bytes were hashed (the whole file when it is shorter than `headLimit`).
    public var headLength: Int
    public var headHash: String

    public static let headLimit = 4096

    /// Reads the identity of `path`; nil for standard input and other non-files.
    public static func of(_ path: String, headLength wanted: Int = headLimit) -> SourceIdentity? {
        guard path != "-" else { return nil }
        // Only regular files: opening a FIFO would wait for a writer, and take its data.
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return of(descriptor: fd, headLength: wanted)
    }

    /// The identity of an open file (a followed file keeps its descriptor across renames).
    public static func of(descriptor fd: Int32, headLength wanted: Int = headLimit) -> SourceIdentity? {
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        var head = [UInt8](repeating: 0, count: wanted)
        var got = 0
        while got < wanted {
            let n = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + got, wanted - got, off_t(got)) }
            if n <= 0 { break }
            got += n
        }
        return SourceIdentity(device: Int64(st.st_dev), inode: Int64(st.st_ino), size: Int64(st.st_size),
                              headLength: got, headHash: hash(head[0..<got]))
    }

    /// The first `length` bytes of what a gzip file holds once inflated (nil: not gzip, or
    /// damaged). A rotated segment compressed by logrotate is known by these bytes: they are
    /// the head of the file it was.
    package static func inflatedHead(descriptor fd: Int32, length: Int) -> [UInt8]? {
        var magic = [UInt8](repeating: 0, count: 2)
        guard magic.withUnsafeMutableBytes({ pread(fd, $0.baseAddress!, 2, 0) }) == 2, magic == [0x1F, 0x8B] else { return nil }
        guard let stream = try? GzipStream(path: "", initial: UnsafeBufferPointer(start: nil, count: 0)) else { return nil }
        var out = [UInt8](repeating: 0, count: length)
        var position: off_t = 0
        let got = try? out.withUnsafeMutableBufferPointer { o in
            try stream.read(into: o.baseAddress!, max: length) { p, limit in
                let n = pread(fd, p, limit, position)
                if n > 0 { position += off_t(n) }
                return Swift.max(n, 0)
            }
        }
        guard let got, stream.damage == nil || got == length else { return nil }
        return Array(out[0..<got])
    }

    /// FNV-1a, 64 bits, as hex: enough to tell two trace files apart, not a security measure.
    package static func hash(_ bytes: ArraySlice<UInt8>) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        let s = String(h, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
