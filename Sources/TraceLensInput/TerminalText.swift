/// Untrusted text made safe to print. A trace, a log, a certificate or a configuration file may
/// hold ESC, BEL and other control bytes; printed as they are, a line can clear the screen, ring
/// the bell or rewrite the ERROR line above it. Every text output shows them instead:
///
/// - C0 controls and DEL in caret notation, as `cat -v` does: ESC is `^[`, BEL `^G`, DEL `^?`
///   (TAB is kept; so are line ends where the caller asks);
/// - C1 controls (U+0080 to U+009F) and bytes that are not UTF-8 as `\xNN` (`\x9b`, `\xff`).
///
/// Plain text (printable ASCII, TAB, valid UTF-8) is copied unchanged, eight bytes at a time.
public enum TerminalText {
    /// Appends `bytes` to `out`, with control bytes and bytes that are not UTF-8 made visible.
    @inline(__always)
    public static func append(_ bytes: UnsafeBufferPointer<UInt8>, to out: ByteBuffer, keepingNewlines: Bool = false) {
        guard let p = bytes.baseAddress else { return }
        let n = bytes.count
        let first = firstSpecial(p, 0, n)
        if first == n { out.append(bytes); return }
        appendSlow(p, n, from: first, to: out, keepingNewlines: keepingNewlines)
    }

    public static func append(_ bytes: [UInt8], to out: ByteBuffer, keepingNewlines: Bool = false) {
        bytes.withUnsafeBufferPointer { append($0, to: out, keepingNewlines: keepingNewlines) }
    }

    /// `s` as it is safe to print; `s` itself when it holds nothing to show differently.
    public static func visible(_ s: String, keepingNewlines: Bool = false) -> String {
        var s = s
        return s.withUTF8 { p -> String? in
            guard let base = p.baseAddress else { return nil }
            let first = firstChange(base, p.count, keepingNewlines: keepingNewlines)
            if first == p.count { return nil }
            let out = ByteBuffer(capacity: p.count + 16)
            appendSlow(base, p.count, from: first, to: out, keepingNewlines: keepingNewlines)
            return out.string
        } ?? s
    }

    /// Bytes (a file's text, a stored record) as a string safe to print.
    public static func visible(bytes: some Collection<UInt8>) -> String {
        let array = Array(bytes)
        let out = ByteBuffer(capacity: array.count + 16)
        append(array, to: out)
        return out.string
    }

    /// Whether `s` holds nothing that `visible` would change.
    public static func isPlain(_ s: String) -> Bool {
        var s = s
        return s.withUTF8 { p in p.baseAddress.map { firstChange($0, p.count, keepingNewlines: false) == p.count } ?? true }
    }

    // MARK: scanning

    /// The index of the first byte at or after `i` that is not printable ASCII: a control byte,
    /// DEL, TAB, or the start of a multi-byte sequence (which may still be plain UTF-8).
    @inline(__always)
    package static func firstSpecial(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Int {
        let raw = UnsafeRawPointer(p)
        var i = start
        while i + 8 <= end {
            let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let high = w & 0x8080_8080_8080_8080
            // A byte below 0x20, or equal to 0x7F (exact when no high bit is set, checked above).
            let low = (w &- 0x2020_2020_2020_2020) & ~w & 0x8080_8080_8080_8080
            let x = w ^ 0x7F7F_7F7F_7F7F_7F7F
            let del = (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080
            if high | low | del != 0 { break }
            i += 8
        }
        while i < end {
            let b = p[i]
            if b < 0x20 || b >= 0x7F { return i }
            i += 1
        }
        return end
    }

    /// The index of the first byte that `appendSlow` would not copy as it is (`n`: none).
    private static func firstChange(_ p: UnsafePointer<UInt8>, _ n: Int, keepingNewlines: Bool) -> Int {
        var i = 0
        while true {
            i = firstSpecial(p, i, n)
            guard i < n else { return n }
            let b = p[i]
            if b == 0x09 || (b == 0x0A && keepingNewlines) { i += 1; continue }
            if b >= 0x80, let length = printableSequenceLength(p, i, n) { i += length; continue }
            return i
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Copies `p[0..<n]`, showing what must be shown; nothing before `start` needs it (so runs
    /// are copied from 0).
    private static func appendSlow(_ p: UnsafePointer<UInt8>, _ n: Int, from start: Int, to out: ByteBuffer, keepingNewlines: Bool) {
        var run = 0
        var i = start
        @inline(__always) func flush() { if i > run { out.append(UnsafeBufferPointer(start: p + run, count: i - run)) } }
        while true {
            i = firstSpecial(p, i, n)
            if i == n { break }
            let b = p[i]
            if b == 0x09 || (b == 0x0A && keepingNewlines) { i += 1; continue }
            if b >= 0x80 {
                if let length = printableSequenceLength(p, i, n) { i += length; continue }
                flush()
                // A C1 control written as UTF-8 (C2 80 to C2 9F) shows as its code point.
                let shown = b == 0xC2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] < 0xA0 ? p[i + 1] : b
                out.append(0x5C); out.append(0x78)
                out.append(hexDigits[Int(shown >> 4)]); out.append(hexDigits[Int(shown & 15)])
                i += shown == b ? 1 : 2
                run = i
                continue
            }
            // C0 control or DEL: caret notation (0x1B is ^[, 0x7F is ^?).
            flush()
            out.append(0x5E)
            out.append(b ^ 0x40)
            i += 1
            run = i
        }
        flush()
    }

    /// The length of the well-formed UTF-8 sequence at `i` when it encodes a character other
    /// than a C1 control; nil otherwise (a lone byte, an overlong form, a surrogate, too short).
    @inline(__always)
    package static func printableSequenceLength(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> Int? {
        let b = p[i]
        @inline(__always) func cont(_ k: Int, _ lo: UInt8 = 0x80, _ hi: UInt8 = 0xBF) -> Bool {
            i + k < n && p[i + k] >= lo && p[i + k] <= hi
        }
        switch b {
        case 0xC2: return cont(1, 0xA0) ? 2 : nil  // C2 80 to C2 9F are the C1 controls
        case 0xC3...0xDF: return cont(1) ? 2 : nil
        case 0xE0: return cont(1, 0xA0) && cont(2) ? 3 : nil
        case 0xED: return cont(1, 0x80, 0x9F) && cont(2) ? 3 : nil  // not a surrogate
        case 0xE1...0xEF: return cont(1) && cont(2) ? 3 : nil
        case 0xF0: return cont(1, 0x90) && cont(2) && cont(3) ? 4 : nil
        case 0xF1...0xF3: return cont(1) && cont(2) && cont(3) ? 4 : nil
        case 0xF4: return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : nil
        default: return nil
        }
    }
}
