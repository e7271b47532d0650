import Foundation
import TraceLensInput

/// Where a password comes from: never the command line or the configuration itself, which
/// end up in shell histories, process lists and copies of the file.
package enum PasswordSource: Sendable, Equatable {
    case none
    /// A file holding the password (its first line), readable by its owner only.
    case file(String)
    /// An environment variable's name.
    case environment(String)

    package struct Problem: Error, CustomStringConvertible {
        package var description: String
    }

    package func read(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String? {
        switch self {
        case .none: return nil
        case let .environment(name):
            guard let value = environment[name], !value.isEmpty else {
                throw Problem(description: "the password's environment variable \(name) is not set")
            }
            return value
        case let .file(path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw Problem(description: "cannot read the password file \(path)")
            }
            let text = String(decoding: data, as: UTF8.self)
            let first = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let password = first.hasSuffix("\r") ? String(first.dropLast()) : first
            guard !password.isEmpty else { throw Problem(description: "the password file \(path) is empty") }
            return password
        }
    }
}

/// One export sink as configured (`[[export]]` in the daemon's file, or `export`'s options):
/// plain values, so it crosses to the exporter's thread, which makes the sink there.
package struct SinkSpec: Sendable, Equatable {
    package enum Kind: Sendable, Equatable {
        case clickhouse(url: String, database: String, user: String?, password: PasswordSource)
        case ndjson(path: String, maxSize: Int64, keep: Int)
    }
    package var name: String
    package var kind: Kind
    package var options = ExportOptions()

    package init(name: String, kind: Kind) {
        self.name = name
        self.kind = kind
    }

    /// The sink, with its password read now (so a missing one is said at start, once).
    package func makeSink() throws -> ExportSink {
        switch kind {
        case let .clickhouse(url, database, user, password):
            let client = try ClickHouseClient(url: url, database: database, user: user, password: try password.read())
            return ClickHouseSink(name: name, client: client)
        case let .ndjson(path, maxSize, keep):
            return NDJSONSink(name: name, path: path, maxSize: maxSize, keep: keep)
        }
    }
}

