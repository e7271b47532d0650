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
        guard Platform.status(path: path)?.kind == .regular else { return nil }
        let fd = Platform.openForReading(path)
        guard fd >= 0 else { return nil }
        defer { Platform.close(fd) }
        return of(descriptor: fd, headLength: wanted)
    }

    /// The identity of an open file (a followed file keeps its descriptor across renames).
    public static func of(descriptor fd: Int32, headLength wanted: Int = headLimit) -> SourceIdentity? {
        guard let st = Platform.status(descriptor: fd), st.kind == .regular else { return nil }
        var head = [UInt8](repeating: 0, count: wanted)
        var got = 0
        while got < wanted {
            let n = head.withUnsafeMutableBytes { Platform.read(fd, at: Int64(got), into: $0.baseAddress! + got, count: wanted - got) }
            if n <= 0 { break }
            got += n
        }
        return SourceIdentity(device: st.device, inode: st.inode, size: st.size,
                              headLength: got, headHash: hash(head[0..<got]))
    }

    /// The first `length` bytes of what a gzip file holds once inflated (nil: not gzip, or
    /// damaged). A rotated segment compressed by logrotate is known by these bytes: they are
    /// the head of the file it was.
    package static func inflatedHead(descriptor fd: Int32, length: Int) -> [UInt8]? {
        var magic = [UInt8](repeating: 0, count: 2)
        guard magic.withUnsafeMutableBytes({ Platform.read(fd, at: 0, into: $0.baseAddress!, count: 2) }) == 2, magic == [0x1F, 0x8B] else { return nil }
        guard let stream = try? GzipStream(path: "", initial: UnsafeBufferPointer(start: nil, count: 0)) else { return nil }
        var out = [UInt8](repeating: 0, count: length)
        var position: Int64 = 0
        let got = try? out.withUnsafeMutableBufferPointer { o in
            try stream.read(into: o.baseAddress!, max: length) { p, limit in
                let n = Platform.read(fd, at: position, into: p, count: limit)
                if n > 0 { position += Int64(n) }
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
