import TraceLensInput
import TraceLensRecords

extension TextRenderer {
    /// A record of a layout with `print = "as-written"` (console, SYSLOG, utility output): its
    /// lines exactly as read, each code's decode in brackets right after the code.
    package mutating func renderAsWritten(_ r: Record, _ b: UnsafeBufferPointer<UInt8>, _ out: ByteBuffer) {
        appendDecoded(r, b, 0..<b.count, out, keepingNewlines: true)
        out.append(0x0A)
        if !r.dumpText.isEmpty { renderDumpText(r, out) }
        renderAnnotations(r, out)
    }
}
