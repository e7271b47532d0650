/// A code value: numeric for return codes, ciphers and alerts; text for message ids and names.
public enum CodeValue: Hashable, Sendable, Comparable {
    case number(Int64)
    case text(String)

    public static func < (a: CodeValue, b: CodeValue) -> Bool {
        switch (a, b) {
        case let (.number(x), .number(y)): return x < y
        case let (.text(x), .text(y)): return x < y
        case (.number, .text): return true
        case (.text, .number): return false
        }
    }
}
