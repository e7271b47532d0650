import TraceLensInput
import TraceLensPlugins
import TraceLensStore
import TraceLensQuery
import TraceLensExport

/// `tracelens export --pcap FILE [CONN...]`: the dumped TLS bytes of connections as TCP
/// conversations in a pcap file (`ConnectionExport` reads them, `PcapWriter` makes the packets),
/// for Wireshark or tshark to dissect.
public struct ExportRun {
    public let queries: StoreQueries

    public init(queries: StoreQueries) { self.queries = queries }

    public enum Problem: Error, CustomStringConvertible {
        case cannotWrite(path: String, reason: String)
        public var description: String {
            switch self {
            case let .cannotWrite(path, reason): return "cannot write \(path): \(reason)"
            }
        }
    }

    /// What was done: a line per connection and the total, to print.
    public struct Report {
        public var lines: [String] = []
        public var written = 0
        public var packets = 0
        /// Server ports Wireshark does not read as TLS by itself (`-d tcp.port==N,tls`).
        public var otherPorts: [UInt16] = []
    }

    /// `server address, server port` → `server address and port made up`; a value the trace gave
    /// in a form a pcap cannot hold is named (`client address made up for 2001:db8::1`).
    static func madeUpText(_ items: [String]) -> String {
        var parts: [String] = []
        for side in ["client", "server"] {
            let mine = items.filter { $0.hasPrefix(side + " ") }
            guard !mine.isEmpty else { continue }
            let address = mine.first { $0.hasPrefix(side + " address") }
            let given = address.flatMap { a in a.range(of: ", ").map { String(a[$0.upperBound...]) } }
            var text = side + (address != nil && mine.count > 1 ? " address and port" : address != nil ? " address" : " port") + " made up"
            if let given { text += " for " + given }
            parts.append(text)
        }
        return parts.joined(separator: ", ")
    }

    /// TCP ports Wireshark dissects as TLS without being told.
    static let tlsPorts: Set<UInt16> = [443, 465, 563, 636, 853, 989, 990, 992, 993, 994, 995, 5061, 8443]

    /// Writes the pcap of `connections` (empty: every connection with TLS bytes) to `path`;
    /// when none has bytes, writes nothing (`written` is 0). Throws for a connection the store lacks (before anything is written) and for a file that
    /// cannot be written.
    public func pcap(to path: String, connections: [Int64]) throws -> Report {
        let export = ConnectionExport(queries: queries)
        let targets = try export.targets(connections)
        var writer = PcapWriter()
        var report = Report()
        var used: [String: Int64] = [:]
        // Linked connections without bytes (a job log's, a syslog's): one line per story.
        var quiet: [(story: Int64, ids: [Int64])] = []
        func flushQuiet() {
            for q in quiet {
                report.lines.append("conn \(q.story): linked conn\(q.ids.count == 1 ? "" : "s") \(q.ids.map(String.init).joined(separator: ", ")) without TLS bytes, not written")
            }
            quiet.removeAll()
        }
        for target in targets {
            let id = target.id
            if target.linkedTo == nil { flushQuiet() }
            switch try export.conversation(id) {
            case .skipped where target.linkedTo != nil:
                let story = target.linkedTo!
                if let i = quiet.firstIndex(where: { $0.story == story }) { quiet[i].ids.append(id) } else { quiet.append((story, [id])) }
            case let .skipped(why):
                report.lines.append("conn \(id): skipped, \(why)")
            case let .conversation(conversation, madeUp, notes):
                var c = conversation
                // Two conversations between the same ends would be one TCP stream to Wireshark.
                var notes = notes
                if let other = used[c.client.text + " " + c.server.text] {
                    c.client.port = ConnectionExport.madeUpClientPort(id)
                    notes.append("client port made up: conn \(other) has the same ends")
                }
                used[c.client.text + " " + c.server.text] = id
                let w = writer.add(c)
                report.written += 1
                if !Self.tlsPorts.contains(c.server.port) && !report.otherPorts.contains(c.server.port) { report.otherPorts.append(c.server.port) }
                var line = "conn \(id): \(c.client.text) → \(c.server.text), \(w.clientSegments) segment\(w.clientSegments == 1 ? "" : "s") client→server, \(w.serverSegments) server→client"
                if !madeUp.isEmpty { line += " (" + Self.madeUpText(madeUp) + ")" }
                if !notes.isEmpty { line += "; " + notes.joined(separator: "; ") }
                report.lines.append(line)
            }
        }
        flushQuiet()
        report.packets = writer.packets
        // Nothing to write: no file (an empty capture would only look like a result).
        guard report.written > 0 else { return report }
        let fd = Platform.openForWriting(path, truncate: true, mode: 0o644)
        guard fd >= 0 else { throw Problem.cannotWrite(path: path, reason: Platform.errorText(Platform.lastError)) }
        defer { Platform.close(fd) }
        guard Platform.writeAll(fd, writer.bytes) else { throw Problem.cannotWrite(path: path, reason: Platform.errorText(Platform.lastError)) }
        return report
    }
}

/// `tracelens export --clickhouse URL` / `--ndjson FILE`: what the store holds that the sink has
/// not acknowledged, sent now (the same sinks and cursors as the daemon's `[[export]]`).
public struct SinkExportRun {
    package var spec: SinkSpec
    public var storePath: String
    public var host: String

    public enum Target {
        case clickhouse(url: String, database: String, user: String?, passwordFile: String?, passwordEnvironment: String?)
        case ndjson(path: String, maxSize: String?, keep: Int?)
    }

    public struct Problem: Error, CustomStringConvertible {
        public var description: String
    }

    public init(target: Target, sinkName: String?, storePath: String, host: String?) throws {
        switch target {
        case let .clickhouse(url, database, user, file, env):
            if file != nil && env != nil { throw Problem(description: "give --password-file or --password-env, not both") }
            _ = try HTTPEndpoint(parsing: url)
            let password: PasswordSource = file.map { .file($0) } ?? env.map { .environment($0) } ?? .none
            spec = SinkSpec(name: sinkName ?? "clickhouse", kind: .clickhouse(url: url, database: database, user: user, password: password))
        case let .ndjson(path, maxSize, keep):
            var bytes: Int64 = 100 << 20
            if let maxSize {
                guard let n = RecordLimit.parseSize(maxSize), n > 0 else { throw Problem(description: "--max-size: '\(maxSize)' is not a size such as 100MiB") }
                bytes = Int64(n)
            }
            if let keep, keep < 1 || keep > 1000 { throw Problem(description: "--keep must be 1 to 1000") }
            spec = SinkSpec(name: sinkName ?? "ndjson", kind: .ndjson(path: IngestRun.absolute(path), maxSize: bytes, keep: keep ?? 5))
        }
        self.storePath = storePath
        if let host, host.isEmpty || host.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            throw Problem(description: "--host must be a name without control characters")
        }
        self.host = host ?? Platform.hostName
    }

    /// What was sent, and the sink's words for the summary line.
    public struct Report: Sendable {
        public var records: Int
        public var connections: Int
        public var batches: Int
        public var sink: String
        public var target: String
        public var restarted: Bool
    }

    public func run(plugins: PluginSet, stop: StopSignal? = nil) throws -> Report {
        let exporter = try Exporter(storePath: storePath, plugins: plugins, host: host, sink: try spec.makeSink(), options: spec.options)
        let totals = try exporter.exportAll(stop: stop)
        return Report(records: totals.records, connections: totals.connections, batches: totals.batches, sink: spec.name,
                      target: exporter.sink.target, restarted: exporter.restarted)
    }
}

/// `tracelens fleet ...`: the fleet's ClickHouse, opened once per command.
public struct FleetRun {
    /// Where the fleet's ClickHouse is; the password is read when connecting, never shown.
    public struct Connection {
        package var url: String
        package var database: String
        package var user: String?
        package var password: PasswordSource

        public init(url: String, database: String, user: String?, passwordFile: String?, passwordEnvironment: String?) throws {
            if passwordFile != nil && passwordEnvironment != nil {
                throw SinkExportRun.Problem(description: "give --password-file or --password-env, not both")
            }
            _ = try HTTPEndpoint(parsing: url)
            self.url = url
            self.database = database
            self.user = user
            password = passwordFile.map { .file($0) } ?? passwordEnvironment.map { .environment($0) } ?? .none
        }
    }

    package let client: ClickHouseClient

    public init(_ connection: Connection) throws {
        client = try ClickHouseClient(url: connection.url, database: connection.database, user: connection.user,
                                      password: try connection.password.read())
    }

    /// Creates the tables; says what it did.
    public func initialize() throws -> String {
        try FleetSchema.initialize(client: client)
        return "tables ready in \("http://\(client.server) database \(client.database)"): records, connections, links (a view), tracelens_schema (version \(FleetSchema.version))"
    }

    public func queries(plugins: PluginSet, hosts: [String]) -> FleetQueries {
        let q = FleetQueries(client: client, plugins: plugins)
        q.hosts = hosts
        return q
    }
}
