import Foundation
import TraceLensInput
import TraceLensRecords
import TraceLensPlugins
import TraceLensFollow

/// `tracelens daemon --config tracelens.toml`: what to follow and where to store it.
///
///     db = "/var/lib/tracelens/tracelens.db"
///     paths = ["/u/traces/gskssl.*.trc", "/u/logs/gldsrv.joblog"]
///     plugins = ["/etc/tracelens/plugins"]
///     retention-days = 14
///     log-level = "info"
///     poll = false
///     max-record = "1MiB"
///
/// Relative paths are taken from the configuration file's folder. Unknown keys are errors, with
/// the likely intended key named, so that a typo does not silently follow nothing.
public struct DaemonConfig: Sendable, Equatable {
    public var db: String
    public var paths: [String]
    public var plugins: [String] = []
    public var retentionDays: Double?
    public var logLevel: LogLevel = .info
    public var poll = false
    public var pollInterval: Double = 1
    public var quiet: Double = 2
    public var linkInterval: Double = 30
    public var layout: String?
    /// The longest record line (`max-record`); longer ones are cut with a marker.
    public var maxRecord = TextReader.defaultMaxRecord

    package static let keys = ["db", "paths", "plugins", "retention-days", "log-level", "poll", "poll-interval", "quiet", "link-interval", "layout", "max-record"]

    public struct Problem: Error, CustomStringConvertible {
        public var path: String
        public var messages: [String]
        public var description: String { messages.map { "\(path): \($0)" }.joined(separator: "\n") }
    }

    /// Reads and checks a configuration file.
    public static func load(_ path: String) throws -> DaemonConfig {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw Problem(path: path, messages: ["cannot read the configuration file"])
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws -> DaemonConfig {
        let root: TOMLNode
        do { root = try TOMLNode.parse(text) } catch {
            throw Problem(path: path, messages: ["not valid TOML: \(error)"])
        }
        var problems: [PluginProblem] = []
        guard var t = TableReader(root, file: path, entry: "configuration") else { throw Problem(path: path, messages: ["not a TOML table"]) }
        let base = (IngestRun.absolute(path) as NSString).deletingLastPathComponent
        func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : (base as NSString).appendingPathComponent(p) }
        // Every duration is checked against TimeSpan's limit here, so that nothing later
        // (retention cut-offs, poll timeouts) can overflow on it.
        func seconds(_ key: String, limit: Int64 = TimeSpan.maximumSeconds, unit: String = "s") -> Double? {
            func checked(_ value: Double, _ shown: String) -> Double? {
                guard value.isFinite, value >= 0 else {
                    problems.append(t.problem("'\(key)': \(shown) must be 0 or more")); return nil
                }
                guard value <= Double(limit) else {
                    problems.append(t.problem("'\(key)': \(shown) is too large (at most 100 years, \(limit)\(unit))")); return nil
                }
                return value
            }
            switch t.node(key) {
            case nil: return nil
            case let .int(i)?: return checked(Double(i), "\(i)")
            case let .double(d)?: return checked(d, "\(d)")
            case let .string(s)?:
                switch TimeSpan.parse(s) {
                case let .success(us) where us >= 0 && us / 1_000_000 <= limit: return Double(us) / 1e6
                case .success where s.trimmingCharacters(in: .whitespaces).hasPrefix("-"):
                    problems.append(t.problem("'\(key)': '\(s)' must be 0 or more"))
                case .success, .failure(.tooLarge):
                    problems.append(t.problem("'\(key)': '\(s)' is too large (at most 100 years, \(limit)\(unit))"))
                case .failure(.notADuration):
                    problems.append(t.problem("'\(key)': '\(s)' is not a duration (5s, 500ms, 2m)"))
                }
                return nil
            case let other?:
                problems.append(t.problem("'\(key)' must be a duration, not \(other.typeName)"))
                return nil
            }
        }
        let db = t.string("db", &problems, required: true)
        let paths = t.strings("paths", &problems)
        if paths.isEmpty && !problems.contains(where: { $0.message.contains("'paths'") }) {
            problems.append(t.problem("'paths' is required: the files or glob patterns to follow"))
        }
        var config = DaemonConfig(db: resolve(db ?? "tracelens.db"), paths: paths.map(resolve))
        config.plugins = t.strings("plugins", &problems).map(resolve)
        if let days = seconds("retention-days", limit: TimeSpan.maximumDays, unit: " days") {
            if days <= 0 { problems.append(t.problem("'retention-days' must be more than 0")) } else { config.retentionDays = days }
        }
        if let name = t.string("log-level", &problems) {
            if let l = LogLevel(name: name) { config.logLevel = l } else {
                problems.append(t.problem("'log-level': '\(name)' is not one of \(LogLevel.allCases.map(\.name).joined(separator: ", "))"))
            }
        }
        config.poll = t.bool("poll", &problems) ?? false
        config.pollInterval = seconds("poll-interval") ?? 1
        config.quiet = seconds("quiet") ?? 2
        config.linkInterval = seconds("link-interval") ?? 30
        config.layout = t.string("layout", &problems)
        switch t.node("max-record") {
        case nil: break
        case let .int(i)?:
            if let bytes = RecordLimit.parse(String(i)) { config.maxRecord = bytes } else {
                problems.append(t.problem("'max-record': \(i) is not \(RecordLimit.expected)"))
            }
        case let .string(text)?:
            if let bytes = RecordLimit.parse(text) { config.maxRecord = bytes } else {
                problems.append(t.problem("'max-record': '\(text)' is not \(RecordLimit.expected)"))
            }
        case let other?:
            problems.append(t.problem("'max-record' must be a size such as \"1MiB\", not \(other.typeName)"))
        }
        problems += t.unknownKeys(known: keys)
        if !problems.isEmpty { throw Problem(path: path, messages: problems.map(\.message)) }
        return config
    }

    public var followOptions: FollowOptions {
        var o = FollowOptions()
        o.patterns = paths
        o.forcedFormat = layout
        o.quiet = quiet
        o.linkInterval = linkInterval
        o.retentionDays = retentionDays
        o.maxRecord = maxRecord
        return o
    }
}
