import Foundation

/// The record size cap (`--max-record`, daemon key `max-record`): a line longer than this is cut,
/// keeping its first bytes and a marker saying how many were cut, so that no single line can
/// make the tool hold gigabytes (or hand SQLite a value it refuses).
public enum RecordLimit {
    public static let minimum = TextReader.minimumMaxRecord
    /// Larger caps buy nothing a trace needs and let one line cost that much memory.
    public static let maximum = 256 << 20

    /// `4096`, `4K`, `4KiB`, `4KB`, `1M`, `1MiB` (K and M are 1024 and 1024², as for files);
    /// nil when it is not a size in the allowed range.
    public static func parse(_ text: String) -> Int? {
        guard let bytes = parseSize(text), bytes >= minimum, bytes <= maximum else { return nil }
        return bytes
    }

    /// A size in bytes as written (`100MiB`, `1G`), K, M and G being powers of 1024; nil when
    /// it is not one or overflows.
    public static func parseSize(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces)
        let digits = t.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let n = Int(digits) else { return nil }
        let unit: Int
        switch t.dropFirst(digits.count).lowercased() {
        case "", "b": unit = 1
        case "k", "kb", "kib": unit = 1 << 10
        case "m", "mb", "mib": unit = 1 << 20
        case "g", "gb", "gib": unit = 1 << 30
        default: return nil
        }
        let (bytes, overflow) = n.multipliedReportingOverflow(by: unit)
        return overflow ? nil : bytes
    }

    /// What a valid value looks like, for error messages.
    public static let expected = "a size from 256 bytes to 256MiB, such as 4KiB or 1MiB"
}
