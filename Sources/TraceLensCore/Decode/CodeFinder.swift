#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a kind of code appears in message text and which catalogues decode it:
/// `Error 0x{code:hex(8)}` → `cms`. With several catalogues, the first that has a row (or a range
/// row) for the value decodes it, and the last one takes values nobody knows: `Exit status` carries
/// a CMS status code on inner functions and a System SSL return code on API functions.
public struct CodePattern: Sendable {
    public let template: Template
    public let catalogues: [Int]
    /// The `{code}` field; nil when the whole match is the code (message ids such as `GLD1116E`).
    let codeSlot: Int?
    let codeKind: CodeKind
    enum CodeKind: Sendable { case decimal, hex, text }
    let leading: [UInt8]
    /// Formats the pattern applies to; empty for all.
    let formats: Set<String>
}

/// Finds codes in the message lines of a record: one prefilter pass per line for all patterns'
/// leading literals, then the pattern's template where a literal occurs.
public final class CodeFinder: @unchecked Sendable {
    let patterns: [CodePattern]
    let catalogues: [Catalogue]
    let prefilter: LiteralPrefilter

    public init(plugins: PluginSet) {
        patterns = plugins.codePatterns
        catalogues = plugins.catalogues
        prefilter = LiteralPrefilter(patterns.map(\.leading))
    }

    public func decode(_ record: inout Record, format: String?) {
        var caps = Captures()
        decode(&record, format: format, captures: &caps)
    }

    /// As `decode(_:format:)`, reusing the caller's scratch captures (no allocation per record).
    public func decode(_ record: inout Record, format: String?, captures caps: inout Captures) {
        let lines = record.messageLines.count
        guard lines > 0 else { return }
        let before = record.codes.count
        // A second reference to the bytes lets the codes be appended while the text is read.
        let bytes = record.bytes
        bytes.withUnsafeBufferPointer { all in
            for li in 0..<lines {
                let lineRange = record.messageLines[li]
                let text = UnsafeBufferPointer(rebasing: all[lineRange])
                prefilter.scan(text) { i, hit in
                    let pattern = patterns[i]
                    if !pattern.formats.isEmpty, let format, !pattern.formats.contains(format) { return hit + 1 }
                    guard let end = pattern.template.match(text, from: hit, wholeLine: false, captures: &caps) else { return hit + 1 }
                    let r = pattern.codeSlot.flatMap { caps.range($0) } ?? (hit..<end)
                    let digits = UnsafeBufferPointer(rebasing: text[r])
                    let v: CodeValue
                    switch pattern.codeKind {
                    case .decimal, .hex:
                        guard let n = Self.number(digits, hex: pattern.codeKind == .hex) else { return hit + 1 }
                        v = .number(n)
                    case .text:
                        v = .text(String(decoding: digits, as: UTF8.self).uppercased())
                    }
                    let c = pattern.catalogues.first { catalogues[$0].entry(v) != nil || catalogues[$0].rangeEntry(v) != nil } ?? pattern.catalogues.last!
                    record.codes.append(FoundCode(catalogue: c, value: v, end: lineRange.lowerBound + end))
                    return end
                }
            }
        }
        if record.codes.count > max(before, 1) { record.codes.sort { $0.end < $1.end } }
    }

    /// Parses decimal (with an optional leading '-') or hex digits; nil on overflow or junk.
    static func number(_ digits: UnsafeBufferPointer<UInt8>, hex: Bool) -> Int64? {
        var v: Int64 = 0
        var any = false, negative = false
        for (i, b) in digits.enumerated() {
            if !hex && i == 0 && b == 0x2D { negative = true; continue }
            let d: UInt8
            if hex { guard let h = hexValue(b) else { return nil }; d = h } else { guard isDigit(b) else { return nil }; d = b &- 0x30 }
            let (m, o) = v.multipliedReportingOverflow(by: hex ? 16 : 10)
            if o { return nil }
            let (a, o2) = m.addingReportingOverflow(Int64(d))
            if o2 { return nil }
            v = a
            any = true
        }
        return any ? (negative ? -v : v) : nil
    }
}
