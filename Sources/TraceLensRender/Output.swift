import Foundation
import TraceLensInput

/// Buffered output to a file descriptor. Writes in large blocks; notices a closed pipe
/// (`tracelens format x | head`) so the caller can stop quietly instead of dying on SIGPIPE.
public final class Output {
    public let fd: Int32
    public let buffer: ByteBuffer
    public private(set) var closed = false
    private let limit: Int

    public init(fd: Int32 = 1, bufferSize: Int = 256 * 1024) {
        self.fd = fd
        limit = bufferSize
        buffer = ByteBuffer(capacity: bufferSize + 64 * 1024)
        Platform.ignoreBrokenPipe()
    }

    deinit { flush() }

    /// True when standard output is a terminal and the user has not asked for no colour.
    public static func wantsColour(fd: Int32 = 1, environment: [String: String]) -> Bool {
        Platform.isTerminal(fd) && environment["NO_COLOR"].map(\.isEmpty) ?? true && environment["TERM"] != "dumb"
    }

    /// How wide a text table may be: `COLUMNS` when it is set to a number (the user said so, even
    /// in a pipe), else the terminal's width when `fd` is a terminal; nil, no limit, otherwise
    /// (a pipe or a file gets every column in full).
    public static func tableWidth(fd: Int32 = 1, environment: [String: String]) -> Int? {
        if let columns = environment["COLUMNS"].flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }), columns > 0 { return columns }
        return Platform.isTerminal(fd) ? Platform.terminalColumns(fd) : nil
    }

    /// Call after appending to `buffer` directly.
    @inline(__always) public func maybeFlush() { if buffer.count >= limit { flush() } }

    public func flush() {
        guard buffer.count > 0 else { return }
        if closed { buffer.removeAll(); return }
        var offset = 0
        while offset < buffer.count {
            let n = Platform.write(fd, buffer.base + offset, count: buffer.count - offset)
            if n < 0 {
                if Platform.lastError == Platform.interruptedError { continue }
                closed = true  // EPIPE and friends: the reader went away
                break
            }
            offset += n
        }
        buffer.removeAll()
    }
}

