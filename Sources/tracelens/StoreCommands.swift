import ArgumentParser
import Foundation
import TraceLensInput
import TraceLensRecords
import TraceLensStore
import TraceLensRender
import TraceLensQuery
import TraceLensCommands
import TraceLensCorrelate


/// The store every store command uses.
struct StoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The SQLite store (default: TRACELENS_DB, else ./tracelens.db).", valueName: "path"))
    var db: String?

    var path: String { Store.defaultPath(explicit: db) }
}

/// `--json` / `--csv` for the query commands.
struct QueryOutputOptions: ParsableArguments {
    @Flag(help: "One JSON document: each table an array of objects (summary: an object of tables).")
    var json = false

    @Flag(help: "CSV output (RFC 4180).")
    var csv = false

    func style() throws -> OutputStyle {
        if json && csv { throw ValidationError("choose one of --json and --csv") }
        return json ? .json : csv ? .csv : .text
    }
}

/// `--wide` and `--columns` for the commands that print tables (not `show`, which prints records).
struct TableOptions: ParsableArguments {
    @Flag(help: "Every column in full, however wide the terminal (as in a pipe or a file).")
    var wide = false

    @Option(help: ArgumentHelp("Only these columns, in this order, for text, JSON and CSV (for example conn,outcome,peer,error).", valueName: "a,b,..."))
    var columns: String?

    /// The tables as asked: only the `--columns` named, when given.
    func chosen(_ tables: [(key: String, table: ResultTable)]) throws -> [(key: String, table: ResultTable)] {
        guard let columns else { return tables }
        var names: [String] = []
        for name in columns.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty && !names.contains(name) {
            names.append(name)
        }
        guard !names.isEmpty else { throw ValidationError("--columns: name at least one column") }
        do { return try TableWriter.choosing(names, from: tables) } catch { throw ValidationError("--columns: \(error)") }
    }

    /// No limit with --wide; else the terminal's width (`Output.tableWidth`).
    var width: Int? { wide ? nil : Output.tableWidth(environment: ProcessInfo.processInfo.environment) }
}

/// Prints a message for a store or input problem and exits 2 (the command could not run), or
/// 130/143 when a signal stopped a wait for the store lock.
func storeFailure(_ error: Error) -> ExitCode {
    Diagnostics.warn("\(error)")
    return ExitCode((error as? StoreError)?.exitStatus ?? 2)
}

struct IngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Read traces into the store, one row per record, linked into connections.",
        discussion: """
            Ingesting a file again adds nothing; a file that has grown adds only its new part; a \
            different file under the same name is a new source. Each batch of records is committed \
            with the file's read offset, so an interrupted ingest resumes where it stopped; Ctrl-C \
            commits what was read, then stops. After the files are in, the connections of \
            different sources (GSK trace, LDAP job log and debug trace, AT-TLS syslog, client \
            session) are linked into one story each; --offset corrects a source's clock. Lines \
            longer than --max-record are cut with a marker. A damaged .gz stores every line \
            before the damage, then says where it starts (exit 1). Folders give their regular \
            files; a FIFO named here is read once, and Ctrl-C stops a wait for its writer. Examples:

              tracelens ingest samples/
              tracelens ingest --db /tmp/case42.db gskssl.65567.trc joblog.txt.gz
              tracelens ingest --offset 'ec-cert-rsa-cipher/client.txt=-3600s' samples/ec-cert-rsa-cipher/
            """
    )

    @OptionGroup var store: StoreOptions
    @OptionGroup var plugins: PluginOptions

    @Option(name: .customLong("layout"), help: ArgumentHelp("Read every file with this layout instead of detecting it.", valueName: "name"))
    var layout: String?

    @Option(help: ArgumentHelp("Records per transaction.", valueName: "n"))
    var batch: Int = 50_000

    @Option(name: .customLong("max-record"), help: maxRecordHelp)
    var maxRecord: String = "1MiB"

    @Flag(help: "Print nothing but problems.")
    var quiet = false

    @OptionGroup var linking: LinkingOptions

    @Argument(help: ArgumentHelp("Trace files or folders; - reads standard input.", valueName: "file"))
    var files: [String]

    func run() throws {
        let set = try plugins.load()
        var options = IngestOptions()
        options.link = try linking.options()
        options.forcedFormat = layout
        options.batchRecords = batch
        options.maxRecord = try recordLimit(maxRecord)
        options.progress = !quiet && Platform.isTerminal(2)
        // Ctrl-C or SIGTERM: commit what was read, then stop (a second one stops at once).
        options.stop = StopSignal.install { _ in Diagnostics.warn("stopping after the current batch (again to stop at once)") }
        let run: IngestRun
        do {
            run = try IngestRun(plugins: set, store: try Store.openForWriting(store.path), options: options)
        } catch { throw storeFailure(error) }
        let status = run.run(files)
        if !quiet {
            for r in run.results {
                let mbps = r.seconds > 0 ? Double(r.bytes) / 1_048_576 / r.seconds : 0
                let path = TerminalText.visible(r.path)  // a folder's file names are not ours to trust
                switch r.kind {
                case .unchanged:
                    print("\(path): unchanged, nothing to add")
                case .skipped:
                    break
                default:
                    let what = r.kind == .resumed ? "grew: added" : r.kind == .replaced ? "replaced: new source," : "added"
                    var line = String(format: "%@: %@ %d records (%d unparsed), %d connection%@, %.1f MB in %.2f s (%.0f MB/s)",
                                      path, what, r.records, r.unparsed, r.connections, r.connections == 1 ? "" : "s",
                                      Double(r.bytes) / 1_048_576, r.seconds, mbps)
                    // Which layout read it and how sure that is; the lines nothing explained.
                    line += "; layout " + r.detection.description
                    if r.unparsed > 0, !r.unexplainedLines.isEmpty {
                        let more = r.unparsed - r.unexplainedLines.count
                        line += "; line\(r.unparsed == 1 ? "" : "s") nothing explained: " + r.unexplainedLines.map(String.init).joined(separator: ", ")
                            + (more > 0 ? " (and \(more) more)" : "")
                    }
                    print(line)
                }
            }
        }
        if !quiet, run.mayHaveChangedLinks, let report = run.linkReport { printLinks(report) }
        if status != 0 { throw ExitCode(status) }
    }
}

/// `--window` and `--offset`, for `ingest` and `link`.
struct LinkingOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Link connections of different sources up to this far apart in time (default: each plugin rule's own, 2s or 5s).", valueName: "duration"))
    var window: String?

    @Option(help: ArgumentHelp("A source's clock is off: add this to its times when linking (repeatable): 'ec-cert-rsa-cipher/client.txt=-3600s', '*.joblog=+2s'. A name (not a glob) that matches several sources is refused, with their paths; NAME=0 clears an offset kept from before.", valueName: "file=duration"))
    var offset: [String] = []

    @Flag(help: "Let an --offset name that matches several sources shift them all.")
    var allMatching = false

    func options() throws -> LinkOptions {
        var o = LinkOptions()
        if let window {
            switch TimeSpan.parse(window) {
            case let .success(us) where us >= 0: o.window = us
            case .failure(.tooLarge): throw ValidationError("--window '\(window)': \(TimeSpan.Problem.tooLarge)")
            default: throw ValidationError("--window '\(window)': give a duration such as 5s, 500ms or 2m")
            }
        }
        o.offsets = try Self.offsets(offset)
        o.allMatching = allMatching
        return o
    }

    /// `--offset` values (for `ingest`, `link` and `doctor`), each checked.
    static func offsets(_ texts: [String]) throws -> [(pattern: String, micros: Int64)] {
        try texts.map { text in
            guard let parsed = LinkOptions.parseOffset(text) else {
                if let eq = text.lastIndex(of: "="), case .failure(.tooLarge) = TimeSpan.parse(String(text[text.index(after: eq)...])) {
                    throw ValidationError("--offset '\(text)': \(TimeSpan.Problem.tooLarge)")
                }
                throw ValidationError("--offset '\(text)': give FILE=DURATION, such as 'ec-cert-rsa-cipher/client.txt=-3600s' or 'gldsrv.joblog=+2s'")
            }
            return parsed
        }
    }
}

/// One line per link rule that had anything to link.
func printLinks(_ report: LinkReport) {
    for (pattern, count) in report.offsetsApplied where count == 0 {
        Diagnostics.warn("--offset '\(pattern)': no source in the store matches")
    }
    for r in report.rules where r.candidates > 0 {
        var s = "linked \(r.linked) of \(r.candidates) connections by \(r.rule)"
        if r.ambiguous > 0 { s += "; \(r.ambiguous) could match several (give their source's clock with --offset, or a narrower --window)" }
        print(s)
    }
}

struct LinkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "link",
        abstract: "Link the connections of different sources again, with another window or clock offsets.",
        discussion: """
            ingest links sources by itself; run link when the clocks of two sources disagree or \
            the default window is too narrow. Offsets are kept in the store for later runs \
            (NAME=0 clears one). A name that matches several sources (client.txt of seven \
            folders) is refused with their paths unless --all-matching. The store must exist \
            (ingest makes it). Example:

              tracelens link --offset 'samples/ec-cert-rsa-cipher/client.txt=-3600s' --window 5s
            """
    )
    @OptionGroup var store: StoreOptions
    @OptionGroup var plugins: PluginOptions
    @OptionGroup var linking: LinkingOptions

    func run() throws {
        let set = try plugins.load()
        let options = try linking.options()
        do {
            // Like the query commands, link needs a store that exists (it would create an empty one).
            guard FileManager.default.fileExists(atPath: store.path) else { throw StoreError.missing(path: store.path) }
            let db = try Store.openForWriting(store.path)
            let stop = StopSignal.install()
            try db.lockForIngest(stop: stop) { holder in
                Diagnostics.warn("\(store.path): an ingest (\(holder)) is writing to this store; waiting for it to finish (Ctrl-C stops)")
            }
            printLinks(try Linker(store: db, plugins: set).run(options))
        } catch { throw storeFailure(error) }
    }
}

/// Opens the store read-only with the plugins, for the query commands.
func openQueries(_ store: StoreOptions, _ plugins: PluginOptions) throws -> StoreQueries {
    let set = try plugins.load()
    do { return StoreQueries(store: try Store.openForReading(store.path), plugins: set) } catch { throw storeFailure(error) }
}

func emit(_ tables: [(key: String, table: ResultTable)], _ style: OutputStyle, _ layout: TableOptions) throws {
    let chosen = try layout.chosen(tables)
    let out = Output()
    TableWriter.render(chosen, style: style, width: layout.width, into: out.buffer)
    out.flush()
}

struct SummaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "summary",
        abstract: "What the store holds: sources, codes seen, failed connections, peers that fail most."
    )
    @OptionGroup var store: StoreOptions
    @OptionGroup var plugins: PluginOptions
    @OptionGroup var output: QueryOutputOptions
    @OptionGroup var layout: TableOptions

    @Option(help: ArgumentHelp("Rows per table.", valueName: "n"))
    var limit: Int = 20

    func run() throws {
        let style = try output.style()
        let queries = try openQueries(store, plugins)
        let tables: [(key: String, table: ResultTable)]
        do { tables = try queries.summary(limit: limit) } catch { throw storeFailure(error) }
        try emit(tables, style, layout)
    }
}

struct ConnectionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connections",
        abstract: "List connections (TLS sessions), one row per story: peer, thread, protocol, cipher, DNs, outcome, primary error, linked sources.",
        discussion: """
            Examples:

              tracelens connections --failed
              tracelens connections --peer 10.1.0.2 --since 2022-03-24T10:00 --json
            """
    )
    @OptionGroup var store: StoreOptions
    @OptionGroup var plugins: PluginOptions
    @OptionGroup var output: QueryOutputOptions
    @OptionGroup var layout: TableOptions

    @OptionGroup var filtering: ConnectionFilterOptions

    func run() throws {
        let filter = try filtering.filter()
        let style = try output.style()
        let queries = try openQueries(store, plugins)
        let table: ResultTable
        do { table = try queries.connections(filter) } catch { throw storeFailure(error) }
        try emitConnections(table, filter, style, layout)
    }
}

/// What `connections` and `fleet connections` filter on.
struct ConnectionFilterOptions: ParsableArguments {
    @Flag(help: "Only connections that failed.")
    var failed = false

    @Option(help: ArgumentHelp("Only connections with this peer: an IP address or IP:port (10.1.0.2, 10.1.0.2:42514, 2001:db8::1, [2001:db8::1]:636; 10.1.0.2 also matches ::ffff:10.1.0.2).", valueName: "ip"))
    var peer: String?

    @Option(help: ArgumentHelp("Only connections still running at or after this time (2022-03-24T10:07, 03/24/2022-10:07 or 10:07).", valueName: "time"))
    var since: String?

    @Option(help: ArgumentHelp("Only connections started at or before this time.", valueName: "time"))
    var until: String?

    @Option(help: ArgumentHelp("At most this many rows.", valueName: "n"))
    var limit: Int?

    @Flag(help: "List the connections of every source on their own, not one row per linked story.")
    var eachSource = false

    func filter() throws -> ConnectionFilter {
        var filter = ConnectionFilter()
        filter.eachSource = eachSource
        filter.failedOnly = failed
        if let peer {
            do { _ = try PeerAddress.parse(peer) } catch { throw ValidationError("\(error)") }
        }
        filter.peer = peer
        filter.limit = limit
        filter.since = try timeBound("--since", since)
        filter.until = try timeBound("--until", until)
        return filter
    }
}

/// A connections table as `connections` prints it: "no failed connections" for none, and in
/// text the columns empty for every row left out, unless the columns were named.
func emitConnections(_ table: ResultTable, _ filter: ConnectionFilter, _ style: OutputStyle, _ layout: TableOptions) throws {
    if style == .text && table.rows.isEmpty { print(filter.nothingFound); return }
    var table = table
    if style == .text && layout.columns == nil {
        // A trace that shows no DNs leaves those columns empty.
        let empty = table.columns.indices.dropFirst().filter { i in !table.rows.contains { $0[i] != .null && $0[i] != .text("") } }
        for name in empty.map({ table.columns[$0] }) { table.drop(column: name) }
    }
    try emit([("connections", table)], style, layout)
}

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print one connection's records from every source, in time order, with codes decoded."
    )
    @OptionGroup var store: StoreOptions
    @OptionGroup var plugins: PluginOptions
    @OptionGroup var output: QueryOutputOptions

    @Option(help: ArgumentHelp("Colour: auto, always, never.", valueName: "when"))
    var color: String = "auto"

    @Flag(help: "Only the ladder: the story as a sequence diagram, one column per party (the text output shows it above the records).")
    var ladder = false

    @Argument(help: ArgumentHelp("The connection id (the conn column of `tracelens connections`).", valueName: "conn"))
    var connection: Int64

    func run() throws {
        let style = try output.style()
        let colour = try colourWanted(color, text: style == .text)
        let queries = try openQueries(store, plugins)
        // The ladder fits 80 columns, or a narrower terminal.
        let width = min(80, max(40, Output.tableWidth(environment: ProcessInfo.processInfo.environment) ?? 80))
        do { try ConnectionStory(queries: queries).show(connection, style: style, colour: colour, output: Output(), ladderOnly: ladder, width: width) } catch { throw storeFailure(error) }
    }
}

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Ship the store's decoded rows to ClickHouse or an ndjson file, or write TLS bytes as a pcap file.",
        discussion: """
            --clickhouse URL and --ndjson FILE send what the store holds that the sink has not \
            acknowledged yet: the records (time, host, source, layout, level, thread, message, \
            codes with their names), the connections (peer, outcome, primary error, protocol, \
            cipher, DNs, the doctor's findings) and their links, each row with the host name. \
            Each sink keeps a cursor in the store, moved only once the engine has acknowledged a \
            batch, so running it again sends only what is new, and a run cut short sends nothing \
            twice. The daemon does the same continuously (`[[export]]`). ClickHouse's tables are \
            made by `tracelens fleet init`; the password comes from --password-file or \
            --password-env, never the command line. docs/fleet.md has the tables and how the \
            ndjson file plugs into Fluent Bit, Vector or Filebeat.

              tracelens fleet init --clickhouse http://ch.example:8123
              tracelens export --clickhouse http://ch.example:8123 --user tracelens --password-env CH_PASSWORD
              tracelens export --ndjson /var/log/tracelens/export.ndjson

            --pcap FILE writes connections' dumped TLS bytes as TCP conversations instead. Each \
            connection whose trace dumps the bytes it sent and received (the GSK trace's \
            record read and write dumps, a client's openssl s_client -msg transcript) becomes \
            one TCP conversation over IPv4: an opening, one segment per dump (cut at 1400 bytes), \
            a closing, times from the records. The client is the side that sent the ClientHello; \
            addresses and ports come from the connection, and where the trace has none (or an \
            IPv6 address or a host name) made-up ones are used: 192.0.2.1 and 40000+conn for the \
            client, 198.51.100.1 and 443 for the server, said on the connection's line. A \
            connection named stands for its story: it and each connection linked to it are \
            written as conversations of their own; a named one without TLS bytes is listed as \
            skipped, with why, linked ones without are named on one line. With no connection named, every connection with TLS messages in the store. \
            No connection with bytes: nothing is written, exit 1. Open the file with Wireshark, \
            or tshark; a port Wireshark does not take for TLS by itself (LDAP's 1389) needs -d:

              tracelens export --pcap failed.pcap 58
              wireshark failed.pcap
              tshark -r failed.pcap -d tcp.port==1389,tls -V
            """
    )
    @OptionGroup var store: StoreOptions
    @OptionGroup var plugins: PluginOptions

    @Option(help: ArgumentHelp("The pcap file to write (replaced if it exists).", valueName: "file"))
    var pcap: String?

    @Option(help: ArgumentHelp("Send to ClickHouse's HTTP interface at this URL (http://host:8123).", valueName: "url"))
    var clickhouse: String?

    @Option(help: ArgumentHelp("With --clickhouse: the database `fleet init` made.", valueName: "name"))
    var database = "tracelens"

    @Option(help: ArgumentHelp("With --clickhouse: the user.", valueName: "name"))
    var user: String?

    @Option(help: ArgumentHelp("With --clickhouse: a file holding the password (its first line).", valueName: "file"))
    var passwordFile: String?

    @Option(help: ArgumentHelp("With --clickhouse: the environment variable holding the password.", valueName: "name"))
    var passwordEnv: String?

    @Option(help: ArgumentHelp("Append rows to this newline-delimited JSON file, for a log shipper.", valueName: "file"))
    var ndjson: String?

    @Option(help: ArgumentHelp("With --ndjson: rename the file to FILE.1 once it is this big (default 100MiB).", valueName: "size"))
    var maxSize: String?

    @Option(help: ArgumentHelp("With --ndjson: how many renamed files to keep (default 5).", valueName: "n"))
    var keep: Int?

    @Option(help: ArgumentHelp("The sink's name: its cursor in the store (default clickhouse or ndjson, as the daemon's).", valueName: "name"))
    var sink: String?

    @Option(help: ArgumentHelp("The host name rows carry (default this machine's).", valueName: "name"))
    var host: String?

    @Argument(help: ArgumentHelp("With --pcap: connection ids (the conn column of `tracelens connections`); none: every connection with TLS bytes.", valueName: "conn"))
    var connections: [Int64] = []

    func validate() throws {
        let chosen = [pcap != nil, clickhouse != nil, ndjson != nil].filter { $0 }.count
        if chosen != 1 { throw ValidationError("give one of --pcap FILE, --clickhouse URL or --ndjson FILE") }
        if pcap == nil && !connections.isEmpty { throw ValidationError("connection ids go with --pcap; --clickhouse and --ndjson send everything new") }
    }

    func run() throws {
        if let pcap { return try writePcap(pcap) }
        let target: SinkExportRun.Target = clickhouse.map {
            .clickhouse(url: $0, database: database, user: user, passwordFile: passwordFile, passwordEnvironment: passwordEnv)
        } ?? .ndjson(path: ndjson ?? "", maxSize: maxSize, keep: keep)
        let export: SinkExportRun
        do { export = try SinkExportRun(target: target, sinkName: sink, storePath: store.path, host: host) } catch {
            throw ValidationError("\(error)")
        }
        let set = try plugins.load()
        let report: SinkExportRun.Report
        do { report = try export.run(plugins: set, stop: StopSignal.install()) } catch { throw storeFailure(error) }
        // The file as the user named it; the sink keeps its absolute path.
        let shown = TerminalText.visible(ndjson ?? report.target)
        if report.restarted { print("sink \(report.sink) now sends to \(shown): starting again from the first row") }
        if report.records == 0 && report.connections == 0 {
            print("nothing new for \(shown) (sink \(report.sink))")
        } else {
            print("exported \(report.records) records and \(report.connections) connection rows to \(shown) in \(report.batches) batch\(report.batches == 1 ? "" : "es") (sink \(report.sink))")
        }
    }

    private func writePcap(_ pcap: String) throws {
        let queries = try openQueries(store, plugins)
        let report: ExportRun.Report
        do { report = try ExportRun(queries: queries).pcap(to: pcap, connections: connections) } catch { throw storeFailure(error) }
        for line in report.lines { print(TerminalText.visible(line)) }
        let file = TerminalText.visible(pcap)
        guard report.written > 0 else {
            print("nothing written: no connection with TLS bytes\(connections.isEmpty ? " in the store" : "")")
            throw ExitCode(1)
        }
        print("wrote \(file): \(report.written) connection\(report.written == 1 ? "" : "s"), \(report.packets) packets")
        let ports = report.otherPorts.map { "-d tcp.port==\($0),tls" }.joined(separator: " ")
        print("open it: wireshark \(file)" + (ports.isEmpty ? "" : ", or tshark -r \(file) \(ports) (a port Wireshark does not read as TLS by itself)"))
    }
}

struct SQLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sql",
        abstract: "Run read-only SQL against the store.",
        discussion: """
            Tables: sources, records, codes, code_counts, connections, conn_keys, links, follows, catalogue. Views: \
            failed_connections, decoded_codes. The store is opened read-only and only reading is \
            allowed: one statement, SQLite's own scalar, aggregate, window, date, math and JSON \
            functions (others, such as fts3_tokenizer or load_extension, are refused). Times are \
            microseconds since 1970 in the trace's local time. As in the sqlite3 shell, .tables \
            lists the tables and views and .schema [TABLE] prints their CREATE statements. Examples:

              tracelens sql "SELECT peer_ip, count(*) FROM connections WHERE outcome = 'failed' GROUP BY 1"
              tracelens sql ".schema connections"
            """
    )
    @OptionGroup var store: StoreOptions
    @OptionGroup var plugins: PluginOptions
    @OptionGroup var output: QueryOutputOptions
    @OptionGroup var layout: TableOptions

    // Optional so that `sql ""` (which the parser counts as no argument) gets the message
    // below rather than a bare "missing argument".
    @Argument(help: ArgumentHelp("One SQL statement, or .tables or .schema [TABLE].", valueName: "sql"))
    var query: String?

    func run() throws {
        let style = try output.style()
        guard let query, !query.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw ValidationError("\(SQLTextProblem.noStatement)") }
        let queries = try openQueries(store, plugins)
        let rows: ResultTable
        do {
            if let shell = try queries.shellCommand(query) {
                // As the sqlite3 shell prints them: one name or statement a line, no table around them.
                if style == .text {
                    // Statements keep their line ends; control bytes in a crafted store are shown, not sent.
                    for row in shell.rows { if case let .text(line)? = row.first { print(TerminalText.visible(line, keepingNewlines: true)) } }
                } else { try emit([("rows", shell)], style, layout) }
                return
            }
            rows = try queries.sql(query)
        } catch let e as SQLTextProblem {
            throw ValidationError("\(e)")
        } catch { throw storeFailure(error) }
        // An empty result says so in text; JSON and CSV stay empty for the programs reading them.
        if style == .text && rows.rows.isEmpty { print("(no rows)"); return }
        try emit([("rows", rows)], style, layout)
    }
}

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write an HTML report of failed connections: sources, failures by finding, a timeline, and per connection its diagnosis, ladder and records.",
        discussion: """
            One self-contained file (inline CSS and SVG, nothing fetched from the network) that \
            prints cleanly to PDF. Each failed connection gets its diagnosis with evidence \
            (file:line), its ladder and its records (at most --records of them, collapsed). \
            Connections named: their stories; none (or --all): every failed connection.

              tracelens report --all -o report.html
            """
    )
    @OptionGroup var store: StoreOptions
    @OptionGroup var plugins: PluginOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("The HTML file to write (replaced if it exists).", valueName: "file"))
    var output: String

    @Flag(help: "Every failed connection (the default when no connection is named).")
    var all = false

    @Option(help: ArgumentHelp("At most this many records shown per connection.", valueName: "n"))
    var records: Int = 200

    @Flag(help: "Replace addresses, host names, DNs, user ids, key rings and serials with stand-ins, as `redact` does; the mapping back goes to FILE.mapping.tsv (owner only), beside the report.")
    var redact = false

    @Option(name: .customLong("word"), help: ArgumentHelp("With --redact: a word to replace too. Repeatable.", valueName: "word"))
    var words: [String] = []

    @Argument(help: ArgumentHelp("Connection ids (the conn column of `tracelens connections`).", valueName: "conn"))
    var connections: [Int64] = []

    func validate() throws {
        if all && !connections.isEmpty { throw ValidationError("--all and connection ids exclude each other") }
        if !words.isEmpty && !redact { throw ValidationError("--word needs --redact") }
        if records < 1 { throw ValidationError("--records must be 1 or more") }
    }

    func run() throws {
        let queries = try openQueries(store, plugins)
        let summary: ReportRun.Summary
        var run = ReportRun(queries: queries, recordLimit: records)
        let mapping = output + ".mapping.tsv"
        if redact { run.redaction = (words, mapping) }
        do { summary = try run.write(to: output, connections: connections) } catch { throw storeFailure(error) }
        print("Wrote \(TerminalText.visible(output)): \(summary.failed) failed connection\(summary.failed == 1 ? "" : "s") described.")
        if redact { print("mapping: \(TerminalText.visible(mapping)) (owner only; keep it, do not share it)") }
    }
}
