import ArgumentParser
import Foundation
import TraceLensInput
import TraceLensRecords
import TraceLensPlugins
import TraceLensRender
import TraceLensStore
import TraceLensQuery
import TraceLensDiagnose
import TraceLensCommands
import TraceLensBench


@main
struct TraceLens: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tracelens",
        abstract: "Read z/OS System SSL (GSK) and LDAP traces decoded, store and follow them, find the connections that failed and say why.",
        discussion: """
            Every code in a trace is decoded inline from the plugin catalogues. Built-in plugins are \
            part of the binary; add your own with --plugins DIR, TRACELENS_PLUGINS or \
            ~/.config/tracelens/plugins/.
            """,
        version: TraceLensVersion.text,
        subcommands: [FormatCommand.self, ExplainCommand.self, IngestCommand.self, SummaryCommand.self, ConnectionsCommand.self, ShowCommand.self, ReportCommand.self, ExportCommand.self, FleetCommand.self, RedactCommand.self, DoctorCommand.self, LinkCommand.self, SQLCommand.self, WatchCommand.self, DaemonCommand.self, StatusCommand.self, LintCommand.self, CertCommand.self, PluginsCommand.self, BenchCommand.self, FuzzChildCommand.self]
    )

    /// As the parser's own `main`, except that a usage error a command finds while running (a bad
    /// `--level`, an empty `sql`) shows that command's usage: the parser shows the top level's
    /// for errors thrown from `run()`, since only `validate()` errors know their command.
    static func main() {
        var command: ParsableCommand
        do { command = try parseAsRoot() } catch { exit(withError: error) }
        do { try command.run() } catch let usage as ValidationError {
            let subcommand = type(of: command)
            let names = commandNames(of: subcommand).joined(separator: " ")
            FileHandle.standardError.write(Data("Error: \(usage.message)\nUsage: \(usageString(for: subcommand))\n  See '\(names) --help' for more information.\n".utf8))
            exit(withError: ExitCode.validationFailure)
        } catch { exit(withError: error) }
    }

    /// `tracelens plugins check`: the names leading to a command, from the top.
    static func commandNames(of target: ParsableCommand.Type) -> [String] {
        func path(from command: ParsableCommand.Type) -> [String]? {
            let name = command._commandName
            if command == target { return [name] }
            for sub in command.configuration.subcommands {
                if let rest = path(from: sub) { return [name] + rest }
            }
            return nil
        }
        return path(from: self) ?? ["tracelens"]
    }
}

/// The levels `--level` takes, said the same way in its help and in its error.
let levelNames = Level.allCases.map(\.name).joined(separator: ", ")

/// A `--since` / `--until` value, or a usage error that shows the accepted forms.
func timeBound(_ option: String, _ value: String?) throws -> TimeBound? {
    guard let value else { return nil }
    guard let b = TimeBound.parse(value) else { throw ValidationError("\(option) '\(value)' is not a time (2022-03-24T10:07:19, 03/24/2022-10:07 or 10:07)") }
    return b
}

/// `--color auto|always|never`: colour only for text output, and on `auto` only on a terminal
/// without NO_COLOR.
func colourWanted(_ choice: String, text: Bool) throws -> Bool {
    switch choice {
    case "auto": return text && Output.wantsColour(environment: ProcessInfo.processInfo.environment)
    case "always": return text
    case "never": return false
    default: throw ValidationError("--color takes auto, always or never")
    }
}

/// `--max-record`: the size a record line is cut at.
func recordLimit(_ value: String) throws -> Int {
    guard let bytes = RecordLimit.parse(value) else { throw ValidationError("--max-record '\(value)': give \(RecordLimit.expected)") }
    return bytes
}

/// What `--max-record` says in every command's help.
let maxRecordHelp = ArgumentHelp("Cut record lines longer than this (4KiB, 2MiB, 1048576): the first bytes are kept and end in a '[… N bytes cut]' marker, with one warning per file.", valueName: "size")

/// Options every command that loads plugins takes.
struct PluginOptions: ParsableArguments {
    @Option(name: .customLong("plugins"), help: ArgumentHelp("A plugin folder (or a folder of plugin folders) to load after the built-in ones. Repeatable.", valueName: "dir"))
    var directories: [String] = []

    /// Loads the plugins. Problems are printed and the broken entries left out; the rest is used
    /// (a typo in a user plugin must not stop the user reading a trace).
    func load() throws -> PluginSet {
        let (set, problems) = CheckedPlugins.loadAll(userDirectories: PluginLoader.userDirectories(explicit: directories))
        for p in problems { Diagnostics.warn("plugin problem: \(p)") }
        return set
    }
}

struct FormatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "format",
        abstract: "Print traces in their own look, with every code decoded inline.",
        discussion: """
            Reads gsktrace output, GSKSRVR component traces and any layout a plugin defines; plain \
            text, .gz, CRLF, CR or EBCDIC (IBM-1047) as downloaded in binary. Lines no layout \
            recognises are printed as they are. Lines longer than --max-record are cut with a \
            marker. A damaged .gz prints every line before the damage, then says where it \
            starts (exit 1). Folders give their regular files; a FIFO named here is read once, \
            until its writer closes it. Examples:

              tracelens format gskssl.65567.trc
              tracelens format --errors --thread 3 gskssl.65567.trc
              tracelens format --level ERROR --level EXIT --since 10:07 trace.gz
              tracelens format --json gskssl.65567.trc | jq .codes
              tracelens format --db case42.db gskssl.65567.trc
            """
    )

    @OptionGroup var plugins: PluginOptions

    @Option(help: ArgumentHelp("Only records of this thread (3, 00000003, or as the trace writes it). Repeatable.", valueName: "id"))
    var thread: [String] = []

    @Option(help: ArgumentHelp("Only records of this level: \(levelNames). Repeatable or comma-separated.", valueName: "level"))
    var level: [String] = []

    @Option(help: ArgumentHelp("Only records whose text contains this (case-sensitive).", valueName: "text"))
    var grep: String?

    @Option(help: ArgumentHelp("Only records at or after this time: 2022-03-24T10:07, 03/24/2022-10:07:19 or a time of day 10:07.", valueName: "time"))
    var since: String?

    @Option(help: ArgumentHelp("Only records at or before this time (same forms as --since).", valueName: "time"))
    var until: String?

    @Flag(help: "Only records that carry a failure code or are at level ERROR, with the ENTRY and EXIT records around them on the same thread.")
    var errors = false

    @Flag(help: "JSON Lines: one JSON object per record, a line each, instead of text.")
    var json = false

    @Option(help: ArgumentHelp("Colour: auto (on a terminal, unless NO_COLOR is set), always, never.", valueName: "when"))
    var color: String = "auto"

    @Option(name: .customLong("layout"), help: ArgumentHelp("Read every file with this layout instead of detecting it (see `tracelens plugins list`).", valueName: "name"))
    var layout: String?

    @Flag(help: "Print per-file counts (records, unparsed lines, codes) to standard error.")
    var stats = false

    @Flag(help: "Say which encoding and layout was used for each file.")
    var verbose = false

    @Option(name: .customLong("max-record"), help: maxRecordHelp)
    var maxRecord: String = "1MiB"

    @Option(help: ArgumentHelp("Threads per file: 1, or 2 (one parses records, the other decodes, renders and writes them, in order). Default: 2 when the machine has more than one core.", valueName: "n"))
    var threads: Int?

    @Option(help: ArgumentHelp("Print what a store holds instead of reading files: the stored records of the sources named (a number, path or file name as `summary` lists them; all when none), as their files would print.", valueName: "path"))
    var db: String?

    @Argument(help: ArgumentHelp("Trace files or folders; - reads standard input (plain or gzip). With --db: stored sources.", valueName: "file"))
    var files: [String] = []

    func validate() throws {
        if db == nil && files.isEmpty { throw ValidationError("name a trace file (or - for standard input), or a store with --db") }
    }

    func run() throws {
        var options = FormatOptions()
        if let threads {
            guard threads == 1 || threads == 2 else { throw ValidationError("--threads must be 1 or 2") }
            options.twoThreads = threads == 2
        }
        options.filter.threads = Set(thread.flatMap { $0.split(separator: ",") }.map { RecordFilter.normaliseThread(String($0)) })
        for name in level.flatMap({ $0.split(separator: ",") }) {
            guard let l = Level(name: String(name)) else {
                throw ValidationError("unknown level '\(name)'; levels: \(levelNames)")
            }
            options.filter.levels.insert(l)
        }
        options.filter.grep = grep.map { Array($0.utf8) }
        options.filter.since = try timeBound("--since", since)
        options.filter.until = try timeBound("--until", until)
        options.errorsOnly = errors
        options.json = json
        options.colour = try colourWanted(color, text: !json)
        options.forcedFormat = layout
        options.stats = stats
        options.verbose = verbose
        options.maxRecord = try recordLimit(maxRecord)
        let set = try plugins.load()
        let run = FormatRun(plugins: set, options: options, output: Output())
        if let db {
            let story: ConnectionStory
            do { story = ConnectionStory(queries: StoreQueries(store: try Store.openForReading(db), plugins: set)) } catch { throw storeFailure(error) }
            let status = run.runStored(story, sources: files)
            if status != 0 { throw ExitCode(status) }
            return
        }
        let status = run.run(files)
        if status != 0 { throw ExitCode(status) }
    }
}

struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Explain codes offline: return codes, status codes, alerts, ciphers, groups, variables.",
        discussion: """
            Accepts codes as they are written: decimal (431, -1), hex with or without 0x \
            (0x1AF, 1af, 0x0000001F), a kind word before the code (alert 42, cipher 35, \
            curl 60), or a name (a variable, an alert or error name). A value with several \
            readings lists each one with its kind, most likely first (a bare number is read \
            in every catalogue); --kind picks one, and so does a kind word before the code. \
            Negative numbers are codes, not options.

            A variable holding a list (as the plugins declare) is decoded element by element:

              tracelens explain NAME=ELEMENTS
            """
    )

    @OptionGroup var plugins: PluginOptions

    @Option(help: ArgumentHelp("Read codes as this kind only: ssl, cms, alert, cipher, sigalg, group, keytype, env, ldaprc, x509verify, nss, curl, gnutls, gnutlserr, opensslreason, jsse, tlsversion (or any catalogue id).", valueName: "kind"))
    var kind: String?

    @Flag(help: "Add the explanation, the action, related codes and extra details.")
    var long = false

    @Flag(help: "One JSON document: an array with one object per code asked about.")
    var json = false

    @Option(help: ArgumentHelp("Find catalogue rows whose code, name or text contain all these words.", valueName: "words"))
    var search: String?

    // Negative codes (`-1`, `-8179`) are codes, not options: whatever the parser does not know
    // as an option comes here.
    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("Codes or NAME=VALUE lists.", valueName: "code"))
    var codes: [String] = []

    func run() throws {
        let codes = self.codes.filter { $0 != "--" }
        if let option = codes.first(where: { $0.hasPrefix("-") && Explainer.bareNumber($0) == nil }) {
            throw ValidationError("unknown option '\(option)'")
        }
        let set = try plugins.load()
        let run = ExplainRun(plugins: set)
        if let kind, Explainer(plugins: set).catalogue(forWord: kind) == nil {
            throw ValidationError("unknown kind '\(kind)'; kinds: \(set.catalogues.map(\.id).joined(separator: ", "))")
        }
        if codes.isEmpty && search == nil { throw ValidationError("give at least one code, or --search WORDS") }
        var request = ExplainRequest()
        request.codes = codes
        request.kind = kind
        request.long = long
        request.json = json
        request.search = search
        let result = run.run(request)
        result.output.forEach { print($0) }
        result.warnings.forEach { Diagnostics.warn($0) }
        if result.status != 0 { throw ExitCode(result.status) }
    }
}

struct PluginsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins",
        abstract: "List the loaded plugins, or check a plugin folder.",
        subcommands: [List.self, Check.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the loaded plugins, where each came from, and what it defines.")
        @OptionGroup var plugins: PluginOptions

        func run() throws {
            let set = try plugins.load()
            for p in set.plugins {
                print("\(p.name)  (\(p.origin))  \(p.description)")
                if !p.formats.isEmpty { print("    layouts: \(p.formats.joined(separator: ", "))") }
                if !p.catalogues.isEmpty {
                    print("    catalogues: " + p.catalogues.compactMap { id in set.catalogue(id).map { "\(id) (\($0.entries.count) codes)" } }.joined(separator: ", "))
                }
                if p.codePatterns > 0 { print("    code patterns: \(p.codePatterns)") }
                let rules = set.connectionRules.filter { $0.plugin == p.name }
                if !rules.isEmpty { print("    connection rules: " + rules.map { "\($0.name) (\($0.formats.joined(separator: ", ")))" }.joined(separator: "; ")) }
                let kinds = set.configKinds.filter { $0.plugin == p.name }.map(\.name)
                if !kinds.isEmpty { print("    configuration files (lint): " + kinds.joined(separator: ", ")) }
                let lint = set.lintRules.filter { $0.plugin == p.name }.count
                if lint > 0 { print("    lint rules: \(lint)") }
                let diagnoses = set.diagnosisRules.filter { $0.plugin == p.name }.map(\.id)
                if !diagnoses.isEmpty { print("    diagnoses (doctor): " + diagnoses.joined(separator: ", ")) }
                print("    samples: \(p.samples)")
                if !p.overrides.isEmpty { print("    overrides: \(p.overrides.joined(separator: "; "))") }
            }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a plugin folder and run its samples (with the built-in plugins loaded first).",
            discussion: "Exit status 0 when the folder is clean, 1 when it has problems, each printed with its file, entry and what is wrong. Warnings (templates that may be slow to match or cannot match as meant) are printed with 'warning:' and leave the status 0."
        )
        @Argument(help: ArgumentHelp("The plugin folder (holding plugin.toml), or a folder of them.", valueName: "dir"))
        var directory: String

        func run() throws {
            let (summary, problems) = CheckedPlugins.check(directory: directory)
            // Problems quote plugin text (names, templates, samples): shown, never obeyed.
            problems.forEach { print(TerminalText.visible("\($0)")) }
            summary.forEach { print(TerminalText.visible($0)) }
            // Warnings (a template that may be slow) leave the folder passing.
            if problems.contains(where: { !$0.isWarning }) { throw ExitCode(1) }
        }
    }
}

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure format and ingest throughput, query times and correlation accuracy on generated traces.",
        discussion: """
            Writes a multi-thread gsktrace file whose connections are known to a temporary folder \
            (or --file), formats it to /dev/null next to grep -c ERROR, then ingests it into a new \
            store (or --db), times summary and connections --failed, and scores correlation \
            against the generator's truth. --only runs one part.

            --vs-lnav measures the speed goals in one run on one generated trace (--size-mb) and \
            prints each next to its target: tracelens ingest plus the first summary (each run as \
            the tracelens command itself) against lnav's first answer (counting the ERROR lines, \
            with a format file written to a temporary HOME, never ~/.lnav), ingest MB/s and peak \
            memory, store size against trace size, and format time against grep -c ERROR. With \
            --records it also times the queries on a store of that many records, as --only \
            queries does (summary, connections --failed, show of one failed connection, best of \
            three each; the goal is under 1 s on 10M records, about 880 MB of trace).

            --only export starts a ClickHouse server of its own (if clickhouse-server is \
            installed) on free loopback ports in a temporary folder and times export --ndjson \
            and export --clickhouse of a generated store, ClickHouse's size on disk, the fleet \
            queries, and the lag of a running daemon from an appended line to ClickHouse.
            """
    )

    @Option(help: ArgumentHelp("Run one part: format, ingest, links (linking across sources: precision and recall), follow (watch: latency, idle CPU, four busy files, memory over a day of traffic), queries (query times on a store of --records records), export (export --ndjson and --clickhouse throughput, ClickHouse size, fleet query times and the daemon's export lag, on a server of its own; --size-mb, default 50; only when asked for) or fuzz (random inputs to every parser; only when asked for).", valueName: "part"))
    var only: String?

    @Flag(name: .customLong("vs-lnav"), help: "Measure the speed goals in one run, lnav's first answer on the same file among them, and print each against its target.")
    var versusLnav = false

    @Option(help: ArgumentHelp("Records in the store the queries are timed on (--only queries, or --vs-lnav); default 10000000 for --only queries.", valueName: "n"))
    var records: Int?

    @Option(help: ArgumentHelp("Keep the benchmark store here (it is replaced).", valueName: "path"))
    var db: String?

    @Option(help: ArgumentHelp("Size of the generated trace in MB (default 200; 50 for --only export).", valueName: "mb"))
    var sizeMb: Int?

    /// What --size-mb says, else the part's default.
    var size: Int { sizeMb ?? (only == "export" ? 50 : 200) }

    @Option(help: ArgumentHelp("Where to write the generated trace (kept afterwards).", valueName: "path"))
    var file: String?

    @OptionGroup var fuzz: FuzzOptions

    @OptionGroup var plugins: PluginOptions

    /// This binary, run as a child for the commands whose own time and memory are measured.
    var tool: GoalBenchmark.Tool {
        let path = Bundle.main.executablePath ?? CommandLine.arguments[0]
        return GoalBenchmark.Tool(path: path, pluginArguments: plugins.directories.flatMap { ["--plugins", $0] })
    }

    func validate() throws {
        if let records, records < 1 { throw ValidationError("--records takes a positive number") }
        if let sizeMb, sizeMb < 1 { throw ValidationError("--size-mb takes a positive number") }
        if versusLnav && only != nil { throw ValidationError("--vs-lnav runs its own parts; leave out --only") }
    }

    func run() throws {
        if only == "fuzz" { return try fuzz.run() }
        let set = try plugins.load()
        if versusLnav {
            return print(try GoalBenchmark.runVersusLnav(sizeMB: size, path: file, dbPath: db, records: records, tool: tool, plugins: set))
        }
        guard only == nil || ["format", "ingest", "links", "follow", "queries", "export"].contains(only!) else {
            throw ValidationError("--only takes format, ingest, links, follow, queries, export or fuzz")
        }
        if only == nil || only == "format" { print(try Benchmark.runFormat(sizeMB: size, path: file, plugins: set)) }
        if only == nil || only == "ingest" { print(try Benchmark.runIngest(sizeMB: size, dbPath: db, plugins: set)) }
        if only == nil || only == "links" { print(try Benchmark.runLinks(sizeMB: size, dbPath: only == "links" ? db : nil, plugins: set)) }
        if only == nil || only == "follow" { print(try FollowBenchmark.run(plugins: set, dayMB: size)) }
        if only == "queries" { print(try GoalBenchmark.runQueries(records: records ?? 10_000_000, tool: tool, plugins: set)) }
        if only == "export" { print(try ExportBenchmark.run(sizeMB: size, tool: tool)) }
    }
}
