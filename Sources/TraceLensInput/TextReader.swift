#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib

/// Why an input file could not be read. Every case names the file.
public enum InputError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(path: String, reason: String)
    case notText(path: String, hint: String)
    case readFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): return "\(path): cannot open: \(reason)"
        case let .notText(path, hint): return "\(path): not a text trace (\(hint))"
        case let .readFailed(path, reason): return "\(path): read failed: \(reason)"
        }
    }
}

/// Reads a file (plain or gzip, ASCII or EBCDIC) and hands out its lines as UTF-8 bytes.
///
/// This is the hot input path: one reused buffer, `memchr` for line ends, no `String` per line.
/// EBCDIC is translated chunk by chunk; a trailing CR is dropped so CRLF files read like LF ones,
/// and a file whose first line end is a lone CR (old Mac, some z/OS transfers) is split at CRs.
///
/// Memory stays bounded: a line longer than `maxRecord` keeps its first bytes plus a visible cut
/// marker, and the rest of it is dropped while the reader scans for its end (one warning per
/// file). NUL bytes (accepted when they are rare, see `EncodingDetector`) are handed out as `␀`.
/// Damaged gzip data ends the input: every line inflated before the damage is handed out, and
/// `damage` says where it starts. Pipes and FIFOs are read with `poll`, so a stop request is
/// seen while no data comes.
public final class TextReader {
    /// The default longest record (`--max-record`): 1 MiB.
    public static let defaultMaxRecord = 1 << 20
    /// The smallest cap accepted (room for some text and the cut marker).
    public static let minimumMaxRecord = 256
    /// Bytes kept free at the end of a cut line for the marker.
    package static let markerRoom = 64

    /// The longest line handed out, marker included; longer lines are cut. Set before reading.
    public var maxRecord = TextReader.defaultMaxRecord
    /// Lines cut because they were longer than `maxRecord`.
    public private(set) var cutLines = 0
    /// Where the input is damaged (truncated or corrupt gzip), set once reading has stopped there.
    public private(set) var damage: String?
    /// Asked while waiting on a pipe or FIFO: true ends the input as if the writer had closed it.
    public var stopRequested: (() -> Bool)?
    /// Where the warning about a cut line goes (standard error; a test collects it).
    public var warn: (String) -> Void = Diagnostics.warn
    /// True when reading ended because `stopRequested` said so.
    public private(set) var interrupted = false

    public let path: String
    public private(set) var detected = DetectedText(encoding: .ascii, gzip: false, lineEnd: "none")
    /// Decoded bytes handed out so far; equals the file offset for plain ASCII input.
    public private(set) var bytesRead: Int = 0

    private var fd: Int32 = -1
    private var ownsDescriptor = true
    private var gz: GzipStream?
    private let chunkSize: Int
    private var raw: UnsafeMutablePointer<UInt8>
    private var buf: UnsafeMutablePointer<UInt8>
    private var bufCapacity: Int
    private var start = 0, end = 0
    private var eof = false
    private var rawPending = 0  // bytes read for detection but not yet decoded
    /// Not a regular file (pipe, FIFO, terminal): reads wait in `poll` so a stop can be seen.
    private var streaming = false
    /// Line ends are lone CRs (decided by the first line end seen).
    private var crLineEnds = false
    private var lineEndDecided = false
    /// The last line ended with a CR in CR mode: an LF right after it belongs to that line end.
    private var skipLF = false
    /// CR mode was just decided: bytes already scanned for LF must be scanned again for CR.
    private var rescan = false
    /// Some chunk held a NUL byte: lines are checked and NULs handed out as `␀`.
    private var sawNUL = false
    private var nulScratch: UnsafeMutablePointer<UInt8>?
    private var nulScratchCapacity = 0
    /// While cutting an over-long line: where its kept bytes end and how much was dropped.
    private var cutAt = -1
    private var dropped = 0

    /// The name standard input is shown under; pass "-" as the path to read it.
    public static let standardInputName = "(standard input)"

    /// Opens `path` ("-" is standard input).
    /// `stopRequested` is asked while a pipe or FIFO has no data yet (see the property).
    public convenience init(path: String, chunkSize: Int = 1 << 20, stopRequested: (() -> Bool)? = nil) throws {
        try self.init(name: path, descriptor: nil, chunkSize: chunkSize, stopRequested: stopRequested)
    }

    /// Reads an open descriptor (a pipe, standard input); the caller keeps ownership of it.
    public convenience init(fileDescriptor: Int32, name: String, chunkSize: Int = 1 << 20, stopRequested: (() -> Bool)? = nil) throws {
        try self.init(name: name, descriptor: fileDescriptor, chunkSize: chunkSize, stopRequested: stopRequested)
    }

    private init(name: String, descriptor: Int32?, chunkSize: Int, stopRequested: (() -> Bool)?) throws {
        self.path = name
        self.chunkSize = chunkSize
        self.stopRequested = stopRequested
        raw = .allocate(capacity: chunkSize)
        bufCapacity = chunkSize * 2 + 1
        buf = .allocate(capacity: bufCapacity)
        try open(descriptor: descriptor)
    }

    deinit {
        gz = nil
        if fd >= 0 && ownsDescriptor { Platform.close(fd) }
        raw.deallocate()
        buf.deallocate()
        nulScratch?.deallocate()
    }

    private func open(descriptor: Int32?) throws {
        if let descriptor {
            fd = descriptor
            ownsDescriptor = false
        } else if path == "-" {
            fd = 0
            ownsDescriptor = false
        } else {
            // O_NONBLOCK: opening a FIFO must not wait for a writer (reads wait in `poll`).
            fd = Platform.openForReading(path)
            if fd < 0 { throw InputError.cannotOpen(path: path, reason: Platform.errorText(Platform.lastError)) }
            if Platform.status(descriptor: fd)?.kind == .directory {
                throw InputError.cannotOpen(path: path, reason: "is a directory")
            }
            Platform.setBlocking(fd, true)
        }
        streaming = Platform.status(descriptor: fd).map { $0.kind != .regular } ?? false
        // The first raw chunk tells gzip from text; gzip data then goes through the inflater,
        // which starts with the bytes already read (so pipes work too).
        var got = try readFile(into: raw, max: chunkSize, minimum: 64 * 1024)
        if got >= 2 && raw[0] == 0x1F && raw[1] == 0x8B {
            let stream = try GzipStream(path: displayName, initial: UnsafeBufferPointer(start: raw, count: got))
            gz = stream
            detected.gzip = true
            got = try readRaw(into: raw, max: chunkSize)
        }
        rawPending = got
        guard let enc = EncodingDetector.detect(UnsafeBufferPointer(start: raw, count: min(got, 64 * 1024))) else {
            // What the file may be and how to make it text is the plugins' to say (the caller's).
            throw InputError.notText(path: displayName, hint: Self.notTextReason)
        }
        detected.encoding = enc
    }

    package var displayName: String { path == "-" ? Self.standardInputName : path }

    /// Takes the damage the gzip reader found, once reading has stopped there.
    private func noteGzipDamage() {
        if damage == nil, let gz, let found = gz.damage { damage = found }
    }

    /// Gzip data after the last valid member that is not another member (padding, junk).
    public var trailingJunk: String? { gz?.trailingJunk }

    /// Why a file is not read as text, when no plugin knows better (`InputError.notText`).
    public static let notTextReason = "it holds many NUL bytes or other non-text bytes"

    /// How the lines of a chunk end. CR (old Mac, some z/OS transfers) only when the chunk has
    /// no LF at all: a lone CR inside LF lines (a progress bar) does not change how lines end.
    private static func lineEnd(_ s: UnsafeBufferPointer<UInt8>, _ enc: TextEncoding) -> String {
        if enc == .ascii, let base = s.baseAddress, memchr(base, 0x0A, s.count) == nil {
            if let cr = memchr(base, 0x0D, s.count), base.distance(to: cr.assumingMemoryBound(to: UInt8.self)) + 1 < s.count { return "CR" }
            return "none"
        }
        for (i, b) in s.enumerated() {
            switch enc {
            case .ascii where b == 0x0A: return i > 0 && s[i - 1] == 0x0D ? "CRLF" : "LF"
            case .ebcdic where b == 0x15: return "NL (0x15)"
            case .ebcdic where b == 0x25: return "LF (0x25)"
            default: continue
            }
        }
        return "none"
    }

    /// Reads decompressed bytes (or plain ones).
    private func readRaw(into p: UnsafeMutablePointer<UInt8>, max: Int) throws -> Int {
        guard let gz else { return try readFile(into: p, max: max) }
        return try gz.read(into: p, max: max) { try readFile(into: $0, max: $1) }
    }

    /// Reads bytes as they are in the file: at least `minimum` unless the file ends first (a pipe
    /// hands data out in small pieces; detection wants a fair sample).
    private func readFile(into p: UnsafeMutablePointer<UInt8>, max: Int, minimum: Int = 1) throws -> Int {
        var total = 0
        while total < min(minimum, max) {
            if streaming, try !waitForData() { break }
            let n = Platform.read(fd, into: p + total, count: max - total)
            if n == 0 { break }
            if n < 0 {
                let error = Platform.lastError
                if error == Platform.interruptedError { continue }
                throw InputError.readFailed(path: displayName, reason: Platform.errorText(error))
            }
            total += n
        }
        return total
    }

    /// Waits until the pipe has data or has closed; false when a stop was requested first.
    private func waitForData() throws -> Bool {
        while true {
            if interrupted { return false }
            if let stopRequested, stopRequested() { interrupted = true; return false }
            switch Platform.wait(readable: fd, timeout: 0.2) {
            case .ready: return true
            case .timedOut, .interrupted: continue
            case let .failed(reason): throw InputError.readFailed(path: displayName, reason: reason)
            }
        }
    }

    /// Appends up to one chunk of decoded bytes at `end`. Returns false at end of file.
    private func fill() throws -> Bool {
        let got: Int
        if rawPending > 0 { got = rawPending; rawPending = 0 } else { got = try readRaw(into: raw, max: chunkSize) }
        if got == 0 { noteGzipDamage(); return false }
        if detected.lineEnd == "none" { detected.lineEnd = Self.lineEnd(UnsafeBufferPointer(start: raw, count: got), detected.encoding) }
        if !lineEndDecided && detected.lineEnd != "none" {
            lineEndDecided = true
            crLineEnds = detected.lineEnd == "CR"
            rescan = crLineEnds
        }
        if !sawNUL && detected.encoding == .ascii && memchr(raw, 0, got) != nil { sawNUL = true }
        // Room for the worst case: EBCDIC expanding every byte to two UTF-8 bytes.
        ensureCapacity(end + got * 2)
        switch detected.encoding {
        case .ascii:
            (buf + end).update(from: raw, count: got)
            end += got
        case .ebcdic:
            end += Self.translateEBCDIC(raw, got, into: buf + end)
        }
        return true
    }

    private func ensureCapacity(_ needed: Int) {
        guard needed > bufCapacity else { return }
        var cap = bufCapacity
        while cap < needed { cap *= 2 }
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: cap)
        bigger.update(from: buf + start, count: end - start)
        buf.deallocate()
        buf = bigger
        end -= start
        start = 0
        bufCapacity = cap
    }

    /// IBM-1047 to UTF-8. Control characters other than tab and line end become '.'.
    package static func translateEBCDIC(_ src: UnsafePointer<UInt8>, _ count: Int, into dst: UnsafeMutablePointer<UInt8>) -> Int {
        var o = 0
        EBCDIC.toLatin1.withUnsafeBufferPointer { table in
            for i in 0..<count {
                let c = table[Int(src[i])]
                if c < 0x80 {
                    dst[o] = (c < 0x20 && c != 0x0A && c != 0x09 && c != 0x0D) || c == 0x7F ? 0x2E : c
                    o += 1
                } else if c < 0xA0 {
                    dst[o] = 0x2E; o += 1
                } else {
                    dst[o] = 0xC0 | (c >> 6); dst[o + 1] = 0x80 | (c & 0x3F); o += 2
                }
            }
        }
        return o
    }

    /// Lines handed out so far.
    public private(set) var lineNumber = 0
    /// Offset (in decoded bytes) of the line last handed out.
    public private(set) var lineStart = 0
    /// True once the last line has been handed out without a line end (a file still being
    /// written may complete it later).
    public private(set) var lastLineUnterminated = false
    /// When set, a last line without its line end is not handed out: a file being followed may
    /// still complete it. `heldBytes` then says how long it is.
    public var holdsPartialLine = false
    public private(set) var heldBytes = 0

    /// Continues from an earlier read that stopped after `line` lines, `offset` decoded bytes in.
    /// Call before reading. A plain file seeks there; gzip and EBCDIC input is decoded from the
    /// start and the lines before are skipped (their decoded length is not their size on disk).
    public func resume(offset: Int, line: Int) throws {
        guard offset > 0 else { return }
        if gz == nil && detected.encoding == .ascii && Platform.status(descriptor: fd)?.kind == .regular
            && Platform.seek(fd, to: Int64(offset)) {
            rawPending = 0
            start = 0; end = 0
            bytesRead = offset
            lineNumber = line
            return
        }
        try forEachLine { _, _ in bytesRead < offset }
        if bytesRead != offset || lineNumber != line {
            throw InputError.readFailed(path: displayName, reason: "cannot resume at line \(line) (offset \(offset)): the file changed before that point")
        }
    }

    /// Calls `body` with each line (without its line end) and its 1-based number.
    public func forEachLine(_ body: (UnsafeBufferPointer<UInt8>, Int) throws -> Void) throws {
        try forEachLine { line, number in try body(line, number); return true }
    }

    /// Calls `body` with each line until it returns false; a later call goes on with the next line.
    public func forEachLine(_ body: (UnsafeBufferPointer<UInt8>, Int) throws -> Bool) throws {
        var scan = start
        while true {
            if skipLF && start < end {
                // CR mode: the LF of a CRLF is part of the line end before it.
                skipLF = false
                if buf[start] == 0x0A { start += 1; bytesRead += 1; if scan < start { scan = start } }
            }
            if scan < end, let endIndex = crLineEnds ? findCROrLF(from: scan) : memchr(buf + scan, 0x0A, end - scan).map({ buf.distance(to: $0.assumingMemoryBound(to: UInt8.self)) }) {
                var lineEnd = endIndex
                if !crLineEnds && lineEnd > start && buf[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                if crLineEnds && buf[endIndex] == 0x0D { skipLF = true }
                let consumed = endIndex + 1 - start + dropped
                let line = handOut(lineEnd)
                lineNumber += 1
                lineStart = bytesRead
                bytesRead += consumed
                start = endIndex + 1
                scan = start
                if try !body(line, lineNumber) { return }
                continue
            }
            // No line end in what we hold: keep the partial line (up to the cap), make room, read more.
            scan = end
            if cutAt < 0 && end - start > maxRecord { startCut() }
            if cutAt >= 0 {
                // Past the cap: drop what came after the kept part, keep looking for the line end.
                let keepTo = cutAt + Self.markerRoom
                if end > keepTo { dropped += end - keepTo; end = keepTo }
                scan = end
            }
            if eof { break }
            if start > 0 {
                let keep = end - start
                if keep > 0 { memmove(buf, buf + start, keep) }
                scan -= start
                if cutAt >= 0 { cutAt -= start }
                end = keep
                start = 0
            }
            if try !fill() { eof = true }
            if rescan { rescan = false; scan = cutAt >= 0 ? scan : start }
        }
        if end > start && holdsPartialLine {
            heldBytes = end - start + dropped
            return
        }
        if end > start || dropped > 0 {  // last line without a line end
            lastLineUnterminated = true
            var lineEnd = end
            if cutAt < 0 && buf[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            let consumed = end - start + dropped
            let line = handOut(lineEnd)
            lineNumber += 1
            lineStart = bytesRead
            bytesRead += consumed
            start = end
            _ = try body(line, lineNumber)
        }
    }

    /// CR mode: the next CR or LF (a CR file may still hold LF or CRLF line ends further on).
    private func findCROrLF(from i: Int) -> Int? {
        var i = i
        while i < end {
            let b = buf[i]
            if b == 0x0D || b == 0x0A { return i }
            i += 1
        }
        return nil
    }

    /// Marks the line being read as over-long: its first bytes are kept, the rest dropped.
    private func startCut() {
        cutAt = start + maxRecord - Self.markerRoom
        dropped = 0
    }

    /// The line from `start` to `lineEnd`, cut to `maxRecord` and with NULs made visible.
    /// Resets the cut state.
    private func handOut(_ lineEnd: Int) -> UnsafeBufferPointer<UInt8> {
        var length = lineEnd - start
        if cutAt < 0 && length > maxRecord { startCut() }
        if cutAt >= 0 {
            // Bytes between the cut and the line end are dropped too (the marker goes there).
            let cutBytes = dropped + max(lineEnd - cutAt, 0)
            if cutLines == 0 {
                warn("\(displayName): line \(lineNumber + 1) is longer than the record limit of \(maxRecord) bytes (--max-record): "
                     + "kept its first \(cutAt - start) bytes and cut \(cutBytes), marked \"\(Self.cutMarkerPrefix) \(cutBytes) bytes cut]\" "
                     + "(later long lines of this file are cut and marked alike)")
            }
            cutLines += 1
            let marker = Array(" \(Self.cutMarkerPrefix) \(cutBytes) bytes cut]".utf8)
            (buf + cutAt).update(from: marker, count: marker.count)
            length = cutAt - start + marker.count
            cutAt = -1
            dropped = 0
        }
        let line = UnsafeBufferPointer(start: buf + start, count: length)
        guard sawNUL, memchr(buf + start, 0, length) != nil else { return line }
        if nulScratchCapacity < length * 3 {
            nulScratch?.deallocate()
            nulScratchCapacity = length * 3
            nulScratch = .allocate(capacity: nulScratchCapacity)
        }
        let out = nulScratch!
        var o = 0
        for b in line {
            if b == 0 { out[o] = 0xE2; out[o + 1] = 0x90; out[o + 2] = 0x80; o += 3 } else { out[o] = b; o += 1 }
        }
        return UnsafeBufferPointer(start: out, count: o)
    }

    /// What a cut line ends with, before the count of bytes cut.
    public static let cutMarkerPrefix = "[…"
}
