#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Overwrites secrets in record text with `*` before anything is printed or stored:
/// `GSK_LDAP_PASSWORD=passwr0d` becomes `GSK_LDAP_PASSWORD=********`. The patterns come from
/// plugins (`[[secret]]`); the masked bytes keep their length so field ranges stay valid.
public final class SecretMasker: @unchecked Sendable {
    let patterns: [(template: Template, slot: Int, leading: [UInt8])]
    let prefilter: LiteralPrefilter

    public init(plugins: PluginSet) {
        patterns = plugins.secretPatterns.compactMap { t in t.slot(named: "secret").map { (t, $0, t.leadingLiteral) } }
        prefilter = LiteralPrefilter(patterns.map(\.leading))
    }

    /// Masks every secret in `bytes` (one or more lines); returns how many were masked.
    @discardableResult
    public func mask(_ bytes: inout [UInt8]) -> Int {
        var caps = Captures()
        return mask(&bytes, captures: &caps)
    }

    /// As `mask(_:)`, reusing the caller's scratch captures.
    @discardableResult
    public func mask(_ bytes: inout [UInt8], captures caps: inout Captures) -> Int {
        guard !patterns.isEmpty, !bytes.isEmpty else { return 0 }
        var masked = 0
        bytes.withUnsafeMutableBufferPointer { buf in
            var lineStart = 0
            while lineStart < buf.count {
                var lineEnd = buf.count
                if let nl = memchr(buf.baseAddress! + lineStart, 0x0A, buf.count - lineStart) {
                    lineEnd = buf.baseAddress!.distance(to: nl.assumingMemoryBound(to: UInt8.self))
                }
                let line = UnsafeBufferPointer(rebasing: UnsafeBufferPointer(buf)[lineStart..<lineEnd])
                prefilter.scan(line) { i, hit in
                    let p = patterns[i]
                    guard let end = p.template.match(line, from: hit, wholeLine: false, captures: &caps), let r = caps.range(p.slot) else { return hit + 1 }
                    for k in r { buf[lineStart + k] = 0x2A }
                    if !r.isEmpty { masked += 1 }
                    return max(end, hit + 1)
                }
                lineStart = lineEnd + 1
            }
        }
        return masked
    }
}
