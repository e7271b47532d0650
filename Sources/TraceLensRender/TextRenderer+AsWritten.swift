import TraceLensInput
import TraceLensRecords

extension TextRenderer {
    /// A record of a layout with `print = "as-written"` (console, SYSLOG, utility output): its
    /// lines exactly as read, each code's decode in brackets right after the code.
    package mutating func renderAsWritten(_ r: Record, _ b: UnsafeBufferPointer<UInt8>, _ out: ByteBuffer) {
        var pos = 0
        for code in r.codes where code.end >= pos {
            TerminalText.append(slice(b, pos..<code.end), to: out, keepingNewlines: true)
            pos = code.end
            appendLabel(code, out, before: slice(b, 0..<code.end))
        }
        TerminalText.append(slice(b, pos..<b.count), to: out, keepingNewlines: true)
        out.append(0x0A)
        if !r.dumpText.isEmpty { renderDumpText(r, out) }
    }
}
