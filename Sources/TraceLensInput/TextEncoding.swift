/// How the bytes of an input file are to be read as text.
public enum TextEncoding: Sendable, Equatable {
    /// ASCII or UTF-8 (traces formatted on z/OS and downloaded as text).
    case ascii
    /// IBM-1047 EBCDIC, as downloaded in binary from z/OS.
    case ebcdic

    public var name: String {
        switch self {
        case .ascii: return "ASCII/UTF-8"
        case .ebcdic: return "EBCDIC (IBM-1047)"
        }
    }
}

/// What the detector found at the start of a file.
public struct DetectedText: Sendable, Equatable {
    public var encoding: TextEncoding
    public var gzip: Bool
    /// How lines end: "LF", "CRLF", "NL (0x15)" or "LF (0x25)"; "none" for a file of one line.
    public var lineEnd: String

    public var description: String {
        (gzip ? "gzip, " : "") + encoding.name + ", line ends " + lineEnd
    }
    package init(encoding: TextEncoding, gzip: Bool, lineEnd: String) {
        self.encoding = encoding
        self.gzip = gzip
        self.lineEnd = lineEnd
    }
}

/// Decides whether a sample of bytes is ASCII text, EBCDIC text, or not text at all.
///
/// A text trace holds few NUL bytes: at most one in `nulShare` bytes of the sample, and one is
/// always allowed (a stray NUL from
/// a transfer or a crash is text with a flaw; UTF-16 or a binary file is not text). The rule looks
/// at the share, not at where a NUL sits, so a file is judged the same whether its first NUL is
/// near the start or far in. ASCII text is nearly all printable 7-bit bytes; EBCDIC text
/// is nearly all bytes the IBM-1047 code page prints (its letters and digits sit above 0x80), and
/// uses 0x40 for its spaces.
package enum EncodingDetector {
    /// One NUL per this many bytes of the sample, at most, for the file to count as text.
    package static let nulShare = 100
    package static func detect(_ sample: UnsafeBufferPointer<UInt8>) -> TextEncoding? {
        if sample.isEmpty { return .ascii }
        var nul = 0, asciiLike = 0, high = 0, ebcdicText = 0, ebcdicSpace = 0
        for b in sample {
            if b == 0 { nul += 1; continue }
            if (b >= 0x20 && b < 0x7F) || b == 0x0A || b == 0x0D || b == 0x09 || b == 0x0C { asciiLike += 1 }
            if b >= 0x80 { high += 1 }
            if isEBCDICText(b) { ebcdicText += 1 }
            if b == 0x40 { ebcdicSpace += 1 }
        }
        if nul > max(1, sample.count / nulShare) { return nil }
        let n = Double(sample.count - nul)
        if n == 0 { return nil }
        // Mostly printable 7-bit text: ASCII, whatever a few stray bytes are (kept, not judged).
        if Double(asciiLike) / n > 0.9 { return .ascii }
        if Double(ebcdicText) / n > 0.97 && ebcdicSpace > 0 { return .ebcdic }
        // Text heavy in non-ASCII letters: accept it when it is valid UTF-8.
        if Double(asciiLike + high) / n > 0.97 && validUTF8(sample) { return .ascii }
        return nil
    }

    private static func isUTF8Byte(_ b: UInt8) -> Bool { b >= 0x80 && b < 0xF8 }

    /// Bytes IBM-1047 prints, plus its tab (0x05) and line ends NL (0x15), LF (0x25), CR (0x0D).
    package static func isEBCDICText(_ b: UInt8) -> Bool {
        switch b {
        case 0x05, 0x0D, 0x15, 0x25, 0x40...0xFE: return b != 0xFF
        default: return false
        }
    }

    /// True when the bytes are valid UTF-8, allowing a sequence cut off at the end of the sample.
    package static func validUTF8(_ s: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        while i < s.count {
            let b = s[i]
            let len: Int
            if b < 0x80 { i += 1; continue }
            else if b & 0xE0 == 0xC0 { len = 2 } else if b & 0xF0 == 0xE0 { len = 3 } else if b & 0xF8 == 0xF0 { len = 4 } else { return false }
            for k in 1..<len {
                if i + k >= s.count { return true }
                if s[i + k] & 0xC0 != 0x80 { return false }
            }
            i += len
        }
        return true
    }
}
