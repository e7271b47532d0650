import CZlib

/// Inflates gzip data read chunk by chunk from a file descriptor, including files made of several
/// gzip members one after another (`cat a.gz b.gz`). Works on pipes, which `gzdopen` plus a
/// peek with `pread` would not.
final class GzipStream {
    private let stream: UnsafeMutablePointer<z_stream>
    private let input: UnsafeMutablePointer<UInt8>
    private let inputSize = 256 * 1024
    private var atMemberEnd = false
    private var sawInput = false
    let path: String

    /// `initial` holds bytes already read from the descriptor (the start of the file).
    init(path: String, initial: UnsafeBufferPointer<UInt8>) throws {
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
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
        input.deallocate()
    }

    /// Fills `out` with `max` inflated bytes, or fewer at the end of the data; returns the count.
    /// `readMore` reads raw bytes into a buffer and returns the count (0 at end of file).
    func read(into out: UnsafeMutablePointer<UInt8>, max: Int, readMore: (UnsafeMutablePointer<UInt8>, Int) throws -> Int) throws -> Int {
        stream.pointee.next_out = out
        stream.pointee.avail_out = UInt32(max)
        while stream.pointee.avail_out > 0 {
            if stream.pointee.avail_in == 0 {
                let n = try readMore(input, inputSize)
                if n == 0 {
                    if atMemberEnd || !sawInput { break }
                    // Hand out what was inflated first; the next call reports the damage.
                    if stream.pointee.avail_out != UInt32(max) { break }
                    throw InputError.readFailed(path: path, reason: "gzip data is cut short; the lines before that were read")
                }
                sawInput = true
                stream.pointee.next_in = input
                stream.pointee.avail_in = UInt32(n)
            }
            if atMemberEnd {
                // Another member follows the one that ended.
                inflateReset(stream)
                atMemberEnd = false
            }
            let status = inflate(stream, Z_NO_FLUSH)
            switch status {
            case Z_OK, Z_BUF_ERROR:
                continue
            case Z_STREAM_END:
                atMemberEnd = true
            default:
                let msg = stream.pointee.msg.map { String(cString: $0) } ?? "error \(status)"
                throw InputError.readFailed(path: path, reason: "gzip data is damaged (\(msg)); the lines before that were read")
            }
        }
        return max - Int(stream.pointee.avail_out)
    }
}
