/// The bytes of hex dump lines, in the forms traces print them: an offset, groups of hex digits,
/// then the same bytes as text (`00000000: 16030100 9b010000  *........*`), or byte pairs alone
/// (`    16 03 01 00 d1`, as `openssl s_client -msg` prints them).
public enum DumpBytes {
    /// Appends the bytes of one dump line to `out`; false when the line holds no hex bytes.
    @discardableResult
    public static func append(_ line: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) -> Bool {
        var i = 0
        let n = line.count
        func blank(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }
        while i < n && blank(line[i]) { i += 1 }
        // An offset: hex digits followed by a colon.
        var j = i
        while j < n && hexValue(line[j]) != nil { j += 1 }
        let hasOffset = j < n && j > i && line[j] == 0x3A
        if hasOffset { i = j + 1 }
        // Without an offset (byte pairs alone) every word must be a byte, or the line is text.
        let start = out.count
        var found = false
        while i < n {
            var gap = 0
            while i < n && blank(line[i]) { i += 1; gap += 1 }
            // Two blanks or more after the bytes start the text column (when it has no `*`).
            if i >= n || (found && gap >= 2) { break }
            var end = i
            while end < n && !blank(line[end]) { end += 1 }
            let token = end - i
            guard token >= 2, token % 2 == 0, hasOffset || token == 2, (i..<end).allSatisfy({ hexValue(line[$0]) != nil }) else {
                if !hasOffset { out.removeSubrange(start...); return false }
                break
            }
            var k = i
            while k < end {
                out.append(hexValue(line[k])! << 4 | hexValue(line[k + 1])!)
                k += 2
            }
            found = true
            i = end
        }
        return found
    }

    @inline(__always) static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }
}
