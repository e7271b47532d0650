import Foundation

/// A duration as users write it: `5s`, `250ms`, `2m`, `1h`, `-3600s`; a bare number is seconds.
/// (Named so that it does not shadow `Swift.Duration`.)
///
/// Every duration the tool takes (`--window`, `--offset`, `--poll-interval`, `--quiet`, the
/// daemon's `poll-interval`, `quiet`, `link-interval`) is at most `maximumSeconds` either way;
/// a larger one is an error that says so, never an overflow trap.
public enum TimeSpan {
    /// 100 years: far beyond any trace, and small enough that a time plus or minus it stays
    /// well inside Int64 microseconds.
    public static let maximumSeconds: Int64 = 100 * 365 * 86_400
    public static let maximumMicros: Int64 = maximumSeconds * 1_000_000
    /// The same limit for `retention-days`.
    public static let maximumDays: Int64 = 100 * 365

    public enum Problem: Error, Equatable, CustomStringConvertible {
        case notADuration
        case tooLarge

        public var description: String {
            switch self {
            case .notADuration: return "not a duration (5s, 500ms, 2m, 1h)"
            case .tooLarge: return "too large (at most 100 years, \(TimeSpan.maximumSeconds)s)"
            }
        }
    }

    /// Microseconds, or nil when the text is not a duration or is too large.
    public static func micros(_ text: String) -> Int64? {
        if case let .success(us) = parse(text) { return us }
        return nil
    }

    /// Microseconds, or why the text is not a usable duration.
    public static func parse(_ text: String) -> Result<Int64, Problem> {
        var t = Substring(text.trimmingCharacters(in: .whitespaces))
        var negative = false
        if t.hasPrefix("+") { t = t.dropFirst() } else if t.hasPrefix("-") { negative = true; t = t.dropFirst() }
        let units: [(suffix: String, micros: Int64)] = [("ms", 1_000), ("us", 1), ("s", 1_000_000), ("m", 60_000_000), ("h", 3_600_000_000)]
        var scale: Int64 = 1_000_000
        for unit in units where t.hasSuffix(unit.suffix) {
            scale = unit.micros
            t = t.dropLast(unit.suffix.count)
            break
        }
        // Digits with at most one decimal point: no exponents, hex, inf or nan.
        let dots = t.filter { $0 == "." }.count
        guard !t.isEmpty, t != ".", dots <= 1, t.allSatisfy({ $0 == "." || ("0"..."9").contains($0) }) else { return .failure(.notADuration) }
        let magnitude: Int64
        if dots == 0 {
            // Whole numbers exactly, with every step checked for overflow.
            guard let n = Int64(t) else { return .failure(.tooLarge) }
            let (product, overflow) = n.multipliedReportingOverflow(by: scale)
            guard !overflow else { return .failure(.tooLarge) }
            magnitude = product
        } else {
            guard let n = Double(t) else { return .failure(.notADuration) }
            let product = (n * Double(scale)).rounded()
            guard product <= Double(maximumMicros) else { return .failure(.tooLarge) }
            magnitude = Int64(product)
        }
        guard magnitude <= maximumMicros else { return .failure(.tooLarge) }
        return .success(negative ? -magnitude : magnitude)
    }
}
