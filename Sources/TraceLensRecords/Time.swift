import TraceLensInput

/// The date and time pieces a `time(...)` field found. A piece not in the format stays unset.
public struct TimeParts: Equatable, Sendable {
    public var year = -1, month = -1, day = -1
    /// `DDD` (z/OS `yyddd`): turned into month and day once the whole time is read.
    public var dayOfYear = -1
    public var hour = -1, minute = -1, second = -1
    public var micros = 0
    /// How many fraction digits the source wrote (0 when none), kept for faithful display.
    public var fractionDigits = 0
    /// The text has the format's shape but names no real time (`02/30/2022`, month 13, hour 25).
    /// Such a time is kept as text and never turned into another date.
    public var impossible = false
    public var hasDate: Bool { year >= 0 && month >= 0 && day >= 0 }
    public var hasTime: Bool { hour >= 0 && minute >= 0 }
    package init() {
    }
}

/// A time format such as `MM/DD/YYYY-hh:mm:ss[.f]` or `DD MON YYYY`.
///
/// Tokens: `YYYY` `YY` `MM` (month) `DD` `DDD` (day of the year) `MON` (Jan..Dec) `hh` `mm` (minute) `ss` `f` (1 to 9
/// fraction digits) `TZ` (a zone word such as `GMT`, `BST` or `+0100`, skipped: sources are
/// lined up by a clock offset, not by zone names); `[...]` is optional; a space matches one or
/// more blanks; anything else matches itself. `MM`, `DD` and `hh` take one or two digits.
public struct TimeFormat: Sendable, Equatable {
    /// Tokens in a flat list (no ARC on the hot path); `optional(n)` covers the next n tokens.
    package enum Token: Equatable { case year4, year2, month, day, dayOfYear, monthName, hour, minute, second, fraction, zone, space, literal(UInt8), optional(Int) }
    package let tokens: [Token]

    package struct FormatError: Error { let problem: String }

    package init(_ text: String) throws(FormatError) {
        var i = text.startIndex
        func parse(_ closing: Bool) throws(FormatError) -> [Token] {
            var out: [Token] = []
            while i < text.endIndex {
                let rest = text[i...]
                func take(_ s: String, _ t: Token) -> Bool {
                    if rest.hasPrefix(s) { out.append(t); i = text.index(i, offsetBy: s.count); return true }
                    return false
                }
                if take("YYYY", .year4) || take("YY", .year2) || take("MON", .monthName) || take("MM", .month) || take("DDD", .dayOfYear) || take("DD", .day)
                    || take("hh", .hour) || take("mm", .minute) || take("ss", .second) || take("TZ", .zone) { continue }
                let c = text[i]
                i = text.index(after: i)
                switch c {
                case "f": out.append(.fraction)
                case " ": if out.last != .space { out.append(.space) }
                case "[":
                    let inner = try parse(true)
                    out.append(.optional(inner.count))
                    out += inner
                case "]":
                    if closing { return out }
                    throw FormatError(problem: "']' without '['")
                default:
                    guard let a = c.asciiValue else { throw FormatError(problem: "'\(c)' is not ASCII") }
                    out.append(.literal(a))
                }
            }
            if closing { throw FormatError(problem: "'[' is never closed") }
            return out
        }
        tokens = try parse(false)
        if tokens.isEmpty { throw FormatError(problem: "empty") }
    }

    /// Matches at `pos`, filling `parts`; returns the end of the match or nil.
    /// A field whose digits are out of range (`13` as a month) still matches: the line keeps its
    /// layout and the time is marked `impossible` rather than read as another date.
    package func scan(_ line: UnsafeBufferPointer<UInt8>, _ pos: Int, into parts: inout TimeParts) -> Int? {
        guard let end = tokens.withUnsafeBufferPointer({ Self.scan($0, 0, $0.count, line, pos, &parts) }) else { return nil }
        if parts.dayOfYear >= 0 { Self.resolveDayOfYear(&parts) }
        if parts.month > 12 || parts.month == 0 || parts.hour > 23 || parts.minute > 59 || parts.second > 60 || parts.day == 0
            || parts.day > Self.daysIn(month: parts.month, year: parts.year) {
            parts.impossible = true
        }
        return end
    }

    /// Day 83 of 2022 is March 24. Day 0, day 366 of a common year, or a day of the year with
    /// no year to count it in (month 0: impossible) names no date.
    package static func resolveDayOfYear(_ parts: inout TimeParts) {
        parts.month = 0
        parts.day = 1
        guard parts.year >= 0, parts.dayOfYear >= 1 else { return }
        var left = parts.dayOfYear
        for month in 1...12 {
            let days = daysIn(month: month, year: parts.year)
            if left <= days { parts.month = month; parts.day = left; return }
            left -= days
        }
    }

    /// Days in a month (31 when the month is unknown; February has 29 when the year is unknown).
    package static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 4, 6, 9, 11: return 30
        case 2: return year < 0 || (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28
        default: return 31
        }
    }

    private static func scan(_ tokens: UnsafeBufferPointer<Token>, _ first: Int, _ last: Int, _ line: UnsafeBufferPointer<UInt8>, _ start: Int, _ parts: inout TimeParts) -> Int? {
        var p = start
        let n = line.count
        var k = first
        func digits(_ minCount: Int, _ maxCount: Int) -> Int? {
            var v = 0, k = 0
            while k < maxCount && p < n && isDigit(line[p]) { v = v * 10 + Int(line[p] &- 0x30); p += 1; k += 1 }
            return k >= minCount ? v : nil
        }
        while k < last {
            let t = tokens[k]
            k += 1
            switch t {
            case .year4: guard let v = digits(4, 4) else { return nil }; parts.year = v
            case .year2: guard let v = digits(2, 2) else { return nil }; parts.year = v < 70 ? 2000 + v : 1900 + v
            // Out-of-range values are checked by the caller (see `scan(_:_:into:)`).
            case .month: guard let v = digits(1, 2) else { return nil }; parts.month = v
            case .day: guard let v = digits(1, 2) else { return nil }; parts.day = v
            // Day of the year (z/OS `yyddd`): kept in `day` with month 0 until the year is known.
            case .dayOfYear: guard let v = digits(3, 3) else { return nil }; parts.dayOfYear = v
            case .hour: guard let v = digits(1, 2) else { return nil }; parts.hour = v
            case .minute: guard let v = digits(2, 2) else { return nil }; parts.minute = v
            case .second: guard let v = digits(2, 2) else { return nil }; parts.second = v
            case .fraction:
                let s = p
                guard let v = digits(1, 9) else { return nil }
                let count = p - s
                var micros = v
                if count < 6 { for _ in count..<6 { micros *= 10 } } else { for _ in 6..<count { micros /= 10 } }
                parts.micros = micros
                parts.fractionDigits = min(count, 6)
            case .zone:
                let s = p
                while p < n, isAlpha(line[p]) || isDigit(line[p]) || line[p] == 0x2B || line[p] == 0x2D || line[p] == 0x3A { p += 1 }
                guard p > s else { return nil }
            case .monthName:
                guard p + 3 <= n else { return nil }
                let key = (Int(lowerASCII(line[p])) << 16) | (Int(lowerASCII(line[p + 1])) << 8) | Int(lowerASCII(line[p + 2]))
                guard let m = monthKeys.firstIndex(of: key) else { return nil }
                parts.month = m + 1
                p += 3
            case .space:
                guard p < n, isBlank(line[p]) else { return nil }
                while p < n && isBlank(line[p]) { p += 1 }
            case let .literal(b):
                guard p < n, line[p] == b else { return nil }
                p += 1
            case let .optional(count):
                var trial = parts
                if let end = scan(tokens, k, k + count, line, p, &trial) { parts = trial; p = end }
                k += count
            }
        }
        return p
    }

    private static let monthKeys: [Int] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"].map {
        let u = Array($0.utf8); return (Int(u[0]) << 16) | (Int(u[1]) << 8) | Int(u[2])
    }
}

/// A point in time as the trace wrote it: microseconds since 1970-01-01 in the trace's own local
/// time (z/OS traces carry no zone), plus how many fraction digits to show.
public struct Timestamp: Comparable, Hashable, Sendable {
    public var micros: Int64
    public var fractionDigits: Int
    /// False when the trace gave only a time of day and nothing said which day: `micros` is then
    /// the time of day and the date is not shown.
    public var hasDate: Bool

    public init(micros: Int64, fractionDigits: Int = 0, hasDate: Bool = true) {
        self.micros = micros; self.fractionDigits = fractionDigits; self.hasDate = hasDate
    }

    /// A time of day with no known date.
    package init(timeOfDay p: TimeParts) {
        micros = Int64(max(p.hour, 0) * 3600 + max(p.minute, 0) * 60 + max(p.second, 0)) * 1_000_000 + Int64(p.micros)
        fractionDigits = p.fractionDigits
        hasDate = false
    }

    public init?(_ p: TimeParts) {
        guard p.hasDate, !p.impossible else { return nil }
        let days = Self.daysFromCivil(p.year, p.month, p.day)
        let secs = Int64(days) * 86_400 + Int64(max(p.hour, 0) * 3600 + max(p.minute, 0) * 60 + max(p.second, 0))
        micros = secs * 1_000_000 + Int64(p.micros)
        fractionDigits = p.fractionDigits
        hasDate = true
    }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.micros < b.micros }
    public static func == (a: Timestamp, b: Timestamp) -> Bool { a.micros == b.micros }
    public func hash(into h: inout Hasher) { h.combine(micros) }

    public var dayNumber: Int64 { micros >= 0 ? micros / 86_400_000_000 : (micros - 86_399_999_999) / 86_400_000_000 }
    public var microsOfDay: Int64 { micros - dayNumber * 86_400_000_000 }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    package static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    package static func civilFromDays(_ z0: Int) -> (year: Int, month: Int, day: Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp + (mp < 10 ? 3 : -9)
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// Writes `MM/DD/YYYY-hh:mm:ss[.ffffff]` (gsktrace style) or ISO 8601 `YYYY-MM-DDThh:mm:ss[.ffffff]`.
    /// Writes `MM/DD/YYYY-hh:mm:ss[.ffffff]` (gsktrace style) or ISO 8601 `YYYY-MM-DDThh:mm:ss[.ffffff]`
    /// at `b` (at most 27 bytes); returns the count.
    package func write(iso: Bool, at b: UnsafeMutablePointer<UInt8>) -> Int {
        var i = 0
        @inline(__always) func put(_ c: UInt8) { b[i] = c; i += 1 }
        @inline(__always) func two(_ v: Int) { put(0x30 + UInt8(v / 10)); put(0x30 + UInt8(v % 10)) }
        let t = Int(hasDate ? microsOfDay : micros)
        let secs = t / 1_000_000
        if hasDate {
            let (y, m, d) = Self.civilFromDays(Int(dayNumber))
            if iso {
                two(y / 100 % 100); two(y % 100); put(0x2D); two(m); put(0x2D); two(d); put(0x54)
            } else {
                two(m); put(0x2F); two(d); put(0x2F); two(y / 100 % 100); two(y % 100); put(0x2D)
            }
        }
        two(secs / 3600); put(0x3A); two(secs / 60 % 60); put(0x3A); two(secs % 60)
        if fractionDigits > 0 {
            put(0x2E)
            var divisor = 100_000
            let frac = t % 1_000_000
            for _ in 0..<fractionDigits { put(0x30 + UInt8(frac / divisor % 10)); divisor /= 10 }
        }
        return i
    }

    public func write(iso: Bool, to out: ByteBuffer) {
        out.write(max: 32) { write(iso: iso, at: $0) }
    }

    public func write(iso: Bool, to out: inout [UInt8]) {
        var buf = [UInt8](repeating: 0, count: 32)
        let n = buf.withUnsafeMutableBufferPointer { write(iso: iso, at: $0.baseAddress!) }
        out.append(contentsOf: buf[0..<n])
    }

    public func string(iso: Bool) -> String {
        var b: [UInt8] = []
        write(iso: iso, to: &b)
        return String(decoding: b, as: UTF8.self)
    }

    /// Parses a user's `--since`/`--until` value: `YYYY-MM-DD[(T| )hh:mm[:ss]]`, `MM/DD/YYYY[-hh:mm[:ss]]`.
    public static func parseUser(_ text: String) -> Timestamp? {
        for format in ["YYYY-MM-DD[T]hh:mm[:ss][.f]", "YYYY-MM-DD hh:mm[:ss][.f]", "MM/DD/YYYY-hh:mm[:ss][.f]", "YYYY-MM-DD", "MM/DD/YYYY"] {
            guard let f = try? TimeFormat(format) else { continue }
            var parts = TimeParts()
            let bytes = Array(text.utf8)
            let end = bytes.withUnsafeBufferPointer { f.scan($0, 0, into: &parts) }
            if end == bytes.count, parts.hasDate { return Timestamp(parts) }
        }
        return nil
    }
}
