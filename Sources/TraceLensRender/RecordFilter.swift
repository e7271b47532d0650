#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TraceLensInput
import TraceLensRecords
import TraceLensPlugins

/// A bound for `--since` / `--until`: a full date and time, or a time of day (any day).
public enum TimeBound: Sendable, Equatable {
    case instant(Timestamp)
    case timeOfDay(Int64)

    public static func parse(_ text: String) -> TimeBound? {
        if let t = Timestamp.parseUser(text) { return .instant(t) }
        for f in ["hh:mm:ss.f", "hh:mm:ss", "hh:mm"] {
            guard let format = try? TimeFormat(f) else { continue }
            var parts = TimeParts()
            let bytes = Array(text.utf8)
            if bytes.withUnsafeBufferPointer({ format.scan($0, 0, into: &parts) }) == bytes.count {
                return .timeOfDay(Timestamp(timeOfDay: parts).micros)
            }
        }
        return nil
    }

    package func compare(_ t: Timestamp) -> Int64 {
        switch self {
        case let .instant(b): return t.hasDate ? t.micros - b.micros : t.micros - b.microsOfDay
        case let .timeOfDay(m): return (t.hasDate ? t.microsOfDay : t.micros) - m
        }
    }
}

/// Which records the user wants to see. Records without a time pass the time filters (nothing
/// says they fall outside); unparsed lines pass only filters they can be judged by (`--grep`).
public struct RecordFilter: Sendable {
    public var threads: Set<String> = [] { didSet { threadBytes = threads.map { Array($0.utf8) } } }
    private var threadBytes: [[UInt8]] = []
    public var levels: Set<Level> = []
    public var grep: [UInt8]?
    public var since: TimeBound?
    public var until: TimeBound?

    public init() {}

    public var isEmpty: Bool { threads.isEmpty && levels.isEmpty && grep == nil && since == nil && until == nil }

    /// `Thd-3`, `3` and `00000003` all name thread 3.
    public static func normaliseThread(_ s: String) -> String {
        var t = Substring(s)
        if t.lowercased().hasPrefix("thd-") { t = t.dropFirst(4) }
        let trimmed = t.drop { $0 == "0" }
        return trimmed.isEmpty ? (t.isEmpty ? "" : "0") : String(trimmed).uppercased()
    }

    /// Compares a normalised thread id with a record's, ignoring leading zeros and case, on bytes
    /// (this runs for every record when `--thread` is given).
    package static func sameThread(_ wanted: [UInt8], _ raw: ArraySlice<UInt8>) -> Bool {
        var s = raw.startIndex
        if raw.count > 4, lowerASCII(raw[s]) == 0x74, lowerASCII(raw[s + 1]) == 0x68, lowerASCII(raw[s + 2]) == 0x64, raw[s + 3] == 0x2D { s += 4 }
        while s < raw.endIndex - 1 && raw[s] == 0x30 { s += 1 }
        guard raw.endIndex - s == wanted.count else { return false }
        for (k, b) in wanted.enumerated() where lowerASCII(raw[s + k]) != lowerASCII(b) { return false }
        return true
    }

    public func accepts(_ r: Record) -> Bool {
        if r.isUnparsed {
            if !threads.isEmpty || !levels.isEmpty { return false }
            return grep.map { contains(r.bytes, $0) } ?? true
        }
        if !threads.isEmpty {
            guard let t = r.range(.thread), threadBytes.contains(where: { Self.sameThread($0, r.bytes[t]) }) else { return false }
        }
        if !levels.isEmpty && !levels.contains(r.level) { return false }
        if let t = r.time {
            if let since, since.compare(t) < 0 { return false }
            if let until, until.compare(t) > 0 { return false }
        }
        if let grep, !contains(r.bytes, grep) { return false }
        return true
    }

    package func contains(_ hay: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty else { return true }
        return hay.withUnsafeBufferPointer { findBytes(needle, in: $0, from: 0) != nil }
    }
}

/// `--errors`: keeps the records that carry a failure (a non-zero error code, or level ERROR)
/// plus the ENTRY records still open on the same thread when it happened and their EXITs, so the
/// failure is shown inside the calls that led to it. Memory is bounded by the call depth.
public struct ErrorContext {
    package struct Frame { var record: Record; var shown: Bool; var function: String }
    private var stacks: [String: [Frame]] = [:]
    package let plugins: PluginSet
    package static let maxDepth = 256

    public init(plugins: PluginSet) { self.plugins = plugins }

    public func isFailure(_ r: Record) -> Bool {
        if r.level == .error { return true }
        return r.codes.contains { plugins.catalogues[$0.catalogue].isFailure($0.value) }
    }

    /// Feeds a record; `show` is called for each record to print, in an order that keeps every
    /// thread's records in file order.
    public mutating func process(_ r: inout Record, show: (inout Record) throws -> Void) rethrows {
        if r.isUnparsed {
            // A line no layout read belongs to no call: shown when it carries a failure code.
            if isFailure(r) { try show(&r) }
            return
        }
        let key = (r.field(.process) ?? "") + "/" + (r.field(.thread) ?? "")
        let function = r.field(.function) ?? ""
        let failing = isFailure(r)
        switch r.level {
        case .entry:
            var stack = stacks[key, default: []]
            if stack.count >= Self.maxDepth { stack.removeFirst() }
            stack.append(Frame(record: r, shown: false, function: function))
            stacks[key] = stack
            if failing { try showOpenFrames(key, show); try show(&r) }
        case .exit:
            let opened = stacks[key]?.lastIndex(where: { $0.function == function })
            if failing { try showOpenFrames(key, show, upTo: opened.map { $0 + 1 }) }
            var show_ = failing
            if let i = opened {
                show_ = show_ || stacks[key]![i].shown
                stacks[key]!.removeSubrange(i...)
            }
            if show_ { try show(&r) }
        default:
            if failing { try showOpenFrames(key, show); try show(&r) }
        }
    }

    private mutating func showOpenFrames(_ key: String, _ show: (inout Record) throws -> Void, upTo limit: Int? = nil) rethrows {
        guard var stack = stacks[key] else { return }
        for i in 0..<min(limit ?? stack.count, stack.count) where !stack[i].shown {
            stack[i].shown = true
            try show(&stack[i].record)
        }
        stacks[key] = stack
    }
}
