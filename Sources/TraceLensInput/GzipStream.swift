import CZlib

/// Inflates gzip data read chunk by chunk from a file descriptor, including files made of several
/// gzip members one after another (`cat a.gz b.gz`). Works on pipes, which `gzdopen` plus a
/// peek with `pread` would not.
///
/// Damage never throws away what was inflated: the data read up to it is handed out, then the
/// stream ends and `damage` says where (the offset in the compressed file). Bytes after the last
/// complete member that are not another member (padding, junk) end the stream too, noted in
/// `trailingJunk`.
package final class GzipStream {
    private let stream: UnsafeMutablePointer<z_stream>
    private let input: UnsafeMutablePointer<UInt8>
    private let inputSize = 256 * 1024
    private var atMemberEnd = false
    private var sawInput = false
    /// At least one member ended; nothing of the member after it has been inflated yet.
    private var completedMembers = 0
    private var outputInMember = 0
    /// Compressed bytes handed to zlib so far.
    private var fed = 0
    private var memberEndOffset = 0
    private var finished = false
    /// The bytes after a member start like a gzip member (1F 8B): a failure there is damage.
    private var nextMemberHasMagic = true
    /// Why reading stopped early: truncated or corrupt data (nil when the data was whole).
    package private(set) var damage: String?
    /// Set when bytes after the last whole member were ignored.
    package private(set) var trailingJunk: String?
    package let path: String

    /// `initial` holds bytes already read from the descriptor (the start of the file).
    package init(path: String, initial: UnsafeBufferPointer<UInt8>) throws {
        self.path = path
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        input = .allocate(capacity: max(inputSize, initial.count))
        // 15 + 16: a gzip header and trailer around the deflate data.
        guard inflateInit2_(stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            stream.deallocate(); input.deallocate()
            throw InputError.cannotOpen(path: path, reason: "zlib could not start")
        }
        if let base = initial.baseAddress, initial.count > 0 {
            input.update(from: base, count: initial.count)
            stream.pointee.next_in = input
            stream.pointee.avail_in = UInt32(initial.count)
            sawInput = true
            fed = initial.count
        }
    }

    /// Offset in the compressed data of the next byte zlib has not used.
    private var position: Int { fed - Int(stream.pointee.avail_in) }

    /// Ends the stream. Bytes that cannot start a member, right after a whole one, are junk
    /// (tape padding, a partial copy); anything else is damage in the data itself.
    private func stop(_ problem: String) {
        finished = true
        if completedMembers > 0 && outputInMember == 0 && !nextMemberHasMagic {
            trailingJunk = "\(path): ignored what follows the gzip data from byte \(memberEndOffset) (not a gzip member: \(problem))"
        } else {
            damage = "\(path): gzip data \(problem) at byte \(position) of the file"
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
        input.deallocate()
    }

    /// Fills `out` with `max` inflated bytes, or fewer at the end of the data; returns the count
    /// (0 at the end, or once damage has been met: see `damage`).
    /// `readMore` reads raw bytes into a buffer and returns the count (0 at end of file).
    package func read(into out: UnsafeMutablePointer<UInt8>, max: Int, readMore: (UnsafeMutablePointer<UInt8>, Int) throws -> Int) throws -> Int {
        if finished { return 0 }
        stream.pointee.next_out = out
        stream.pointee.avail_out = UInt32(max)
        while stream.pointee.avail_out > 0 {
            if stream.pointee.avail_in == 0 {
                let n = try readMore(input, inputSize)
                if n == 0 {
                    if atMemberEnd || !sawInput { finished = true; break }
                    stop("is cut short")
                    break
                }
                sawInput = true
                fed += n
                stream.pointee.next_in = input
                stream.pointee.avail_in = UInt32(n)
            }
            if atMemberEnd {
                // Another member follows the one that ended, or junk does.
                inflateReset(stream)
                atMemberEnd = false
                outputInMember = 0
                nextMemberHasMagic = stream.pointee.avail_in < 2 || stream.pointee.next_in[1] == 0x8B
                if stream.pointee.next_in.pointee != 0x1F {
                    finished = true
                    trailingJunk = "\(path): ignored what follows the gzip data from byte \(memberEndOffset) (not gzip data)"
                    break
                }
            }
            let before = stream.pointee.avail_out
            let status = inflate(stream, Z_NO_FLUSH)
            outputInMember += Int(before - stream.pointee.avail_out)
            switch status {
            case Z_OK, Z_BUF_ERROR:
                continue
            case Z_STREAM_END:
                atMemberEnd = true
                completedMembers += 1
                memberEndOffset = position
            default:
                let msg = stream.pointee.msg.map { String(cString: $0) } ?? "error \(status)"
                stop("is damaged (\(msg))")
                return max - Int(stream.pointee.avail_out)
            }
        }
        return max - Int(stream.pointee.avail_out)
    }
}
