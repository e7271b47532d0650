/// HTML text for the report: everything that comes from a trace is escaped (`&<>"'`), and
/// control characters are shown as `TerminalText` shows them.
package enum HTML {
    /// `text` safe inside an element or a quoted attribute.
    package static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\n", "\t": out.unicodeScalars.append(c)
            default:
                if c.value < 0x20 || (0x7F...0x9F).contains(c.value) {
                    out += "\\x" + String(c.value, radix: 16, uppercase: true).leftPadded(2)
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        return out
    }
}

private extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
