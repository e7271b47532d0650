import Foundation
import TraceLensInput
import TraceLensRecords
import TraceLensPlugins
import TraceLensFollow
import TraceLensExport

/// `tracelens daemon --config tracelens.toml`: what to follow and where to store it.
///
///     db = "/var/lib/tracelens/tracelens.db"
///     paths = ["/u/traces/gskssl.*.trc", "/u/logs/gldsrv.joblog"]
///     plugins = ["/etc/tracelens/plugins"]
///     retention-days = 14
///     log-level = "info"
///     poll = false
///     max-record = "1MiB"
///     host = "LPAR1"                # the name export rows carry (default: this machine's)
///
///     [[export]]                    # any number: each its own cursor in the store
///     type = "clickhouse"           # or "ndjson"
///     url = "http://clickhouse.example:8123"
///     database = "tracelens"
///     user = "tracelens"
///     password-file = "/etc/tracelens/clickhouse.password"   # or password-env = "VAR"
///
///     [[export]]
///     type = "ndjson"
///     path = "/var/log/tracelens/export.ndjson"
///     max-size = "100MiB"           # then renamed .1 (.2 ...), keep = 5 of them
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
    /// The host name export rows carry.
    public var host = Platform.hostName
    /// Where decoded rows are shipped (`[[export]]`).
    package var exports: [SinkSpec] = []

    package static let keys = ["db", "paths", "plugins", "retention-days", "log-level", "poll", "poll-interval", "quiet", "link-interval", "layout", "max-record",
                               "host", "export"]
    package static let exportKeys = ["name", "type", "url", "database", "user", "password-file", "password-env", "path", "max-size", "keep",
                                     "batch-records", "interval", "max-backoff"]

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
        if let host = t.string("host", &problems) {
            if host.isEmpty || host.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
                problems.append(t.problem("'host' must be a name without control characters"))
            } else {
                config.host = host
            }
        }
        for (i, node) in t.tables("export", &problems).enumerated() {
            if let spec = exportSpec(node, index: i, path: path, resolve: resolve, &problems) {
                if config.exports.contains(where: { $0.name == spec.name }) {
                    problems.append(t.problem("[[export]] \(i + 1): the name '\(spec.name)' is taken by another export; give each a name"))
                } else {
                    config.exports.append(spec)
                }
            }
        }
        problems += t.unknownKeys(known: keys)
        if !problems.isEmpty { throw Problem(path: path, messages: problems.map(\.message)) }
        return config
    }

    /// One `[[export]]` table, checked.
    private static func exportSpec(_ node: TOMLNode, index: Int, path: String, resolve: (String) -> String,
                                   _ problems: inout [PluginProblem]) -> SinkSpec? {
        guard var e = TableReader(node, file: path, entry: "[[export]] \(index + 1)") else {
            problems.append(PluginProblem(file: path, entry: "[[export]] \(index + 1)", message: "must be a table"))
            return nil
        }
        let before = problems.count
        let type = e.string("type", &problems, required: true)
        if e.node("password") != nil {
            problems.append(e.problem("'password' is not read from the configuration: use password-file (a file only its owner reads) or password-env"))
        }
        var spec: SinkSpec?
        switch type {
        case "clickhouse"?:
            let url = e.string("url", &problems, required: true) ?? ""
            let database = e.string("database", &problems) ?? "tracelens"
            let user = e.string("user", &problems)
            var password = PasswordSource.none
            let file = e.string("password-file", &problems), env = e.string("password-env", &problems)
            if file != nil && env != nil { problems.append(e.problem("give password-file or password-env, not both")) }
            if let file { password = .file(resolve(file)) } else if let env { password = .environment(env) }
            if !url.isEmpty {
                do { _ = try HTTPEndpoint(parsing: url) } catch { problems.append(e.problem("'url': \(error)")) }
            }
            spec = SinkSpec(name: e.string("name", &problems) ?? "clickhouse", kind: .clickhouse(url: url, database: database, user: user, password: password))
        case "ndjson"?:
            let file = e.string("path", &problems, required: true) ?? ""
            var maxSize: Int64 = 100 << 20
            switch e.node("max-size") {
            case nil: break
            case let .string(text)?:
                if let n = RecordLimit.parseSize(text) { maxSize = Int64(n) } else { problems.append(e.problem("'max-size': '\(text)' is not a size such as \"100MiB\"")) }
            case let .int(n)? where n > 0: maxSize = Int64(n)
            case let other?: problems.append(e.problem("'max-size' must be a size such as \"100MiB\", not \(other.typeName)"))
            }
            let keep = e.int("keep", &problems) ?? 5
            if keep < 1 || keep > 1000 { problems.append(e.problem("'keep' must be 1 to 1000")) }
            spec = SinkSpec(name: e.string("name", &problems) ?? "ndjson", kind: .ndjson(path: resolve(file), maxSize: maxSize, keep: keep))
        case let other?:
            problems.append(e.problem("'type': '\(other)' is not clickhouse or ndjson"))
        case nil:
            break
        }
        if let n = e.int("batch-records", &problems) {
            if n < 1 || n > 1_000_000 { problems.append(e.problem("'batch-records' must be 1 to 1000000")) } else { spec?.options.batchRecords = n }
        }
        // How often a caught-up sink looks for new rows, and its longest wait between tries.
        for (key, limit) in [("interval", 3600.0), ("max-backoff", 86_400.0)] {
            let value: Double?
            switch e.node(key) {
            case nil: continue
            case let .int(i)?: value = Double(i)
            case let .double(d)?: value = d
            case let .string(text)?:
                if case let .success(us) = TimeSpan.parse(text) { value = Double(us) / 1e6 } else { value = nil }
            case .some: value = nil
            }
            guard let value, value.isFinite, value > 0, value <= limit else {
                problems.append(e.problem("'\(key)' must be a duration from 1ms to \(Int(limit))s, such as \"1s\" or \"500ms\""))
                continue
            }
            if key == "interval" { spec?.options.interval = value } else { spec?.options.maxBackoff = value }
        }
        problems += e.unknownKeys(known: exportKeys)
        return problems.count == before ? spec : nil
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
