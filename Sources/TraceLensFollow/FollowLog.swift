import Foundation
import Synchronization
import TraceLensInput

/// How much `watch` and `daemon` say on standard error.
public enum LogLevel: Int, Comparable, Sendable, CaseIterable {
    case error, warn, info, debug

    public init?(name: String) {
        guard let l = Self.allCases.first(where: { $0.name == name.lowercased() || (name.lowercased() == "warning" && $0 == .warn) }) else { return nil }
        self = l
    }
    public var name: String { ["error", "warn", "info", "debug"][rawValue] }
    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
}

/// Plain, greppable log lines: a UTC time, the level, an event word, then key=value pairs
/// (values with spaces quoted). One line per event, so `grep event=rotated` finds them all.
///
///     2026-11-30T10:15:02.123Z info rotated path=/u/traces/gskssl.65567.trc source=3 new_inode=1234
public final class FollowLog: Sendable {
    /// Changed by a reload while other threads log: an atomic, so the level test of every
    /// call (most are below the level) takes no lock.
    public var level: LogLevel {
        get { LogLevel(rawValue: levelValue.load(ordering: .relaxed)) ?? .info }
        set { levelValue.store(newValue.rawValue, ordering: .relaxed) }
    }
    private let levelValue: Atomic<Int>
    /// Held while a line is written, so lines from two threads never interleave.
    private let write: Mutex<@Sendable (String) -> Void>

    public init(level: LogLevel = .info, write: @escaping @Sendable (String) -> Void = FollowLog.standardError) {
        levelValue = Atomic(level.rawValue)
        self.write = Mutex(write)
    }

    public static let standardError: @Sendable (String) -> Void = { line in
        let bytes = Array(line.utf8)
        Platform.writeAll(2, bytes)
    }

    public func callAsFunction(_ level: LogLevel, _ event: String, _ fields: KeyValuePairs<String, Any?> = [:]) {
        guard level <= self.level else { return }
        var line = Self.timestamp() + " " + level.name + " " + event
        for (key, value) in fields {
            guard let value else { continue }
            // Paths and errors may hold control bytes (a file named with an ESC in it).
            line += " " + key + "=" + Self.quoted(TerminalText.visible("\(value)", keepingNewlines: true))
        }
        write.withLock { $0(line + "\n") }
    }

    package static func quoted(_ s: String) -> String {
        if !s.isEmpty && !s.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\n" }) { return s }
        return "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }

    package static func timestamp() -> String {
        let now = Platform.wallClockUTC()
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", now.year, now.month, now.day, now.hour, now.minute, now.second, now.millisecond)
    }
}
