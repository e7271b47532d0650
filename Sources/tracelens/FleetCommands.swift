import ArgumentParser
import Foundation
import TraceLensInput
import TraceLensRender
import TraceLensQuery
import TraceLensCommands

/// Where the fleet's ClickHouse is, for every `fleet` command.
struct ClickHouseOptions: ParsableArguments {
    @Option(help: ArgumentHelp("ClickHouse's HTTP interface (default: TRACELENS_CLICKHOUSE, else http://127.0.0.1:8123).", valueName: "url"))
    var clickhouse: String?

    @Option(help: ArgumentHelp("The database the sinks write to.", valueName: "name"))
    var database = "tracelens"

    @Option(help: ArgumentHelp("The user.", valueName: "name"))
    var user: String?

    @Option(help: ArgumentHelp("A file holding the password (its first line).", valueName: "file"))
    var passwordFile: String?

    @Option(help: ArgumentHelp("The environment variable holding the password.", valueName: "name"))
    var passwordEnv: String?

    func connection() throws -> FleetRun.Connection {
        let url = clickhouse ?? ProcessInfo.processInfo.environment["TRACELENS_CLICKHOUSE"] ?? "http://127.0.0.1:8123"
        do {
            return try FleetRun.Connection(url: url, database: database, user: user, passwordFile: passwordFile, passwordEnvironment: passwordEnv)
        } catch { throw ValidationError("\(error)") }
    }
}

struct FleetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet",
        abstract: "Ask the ClickHouse tables that every host's export sinks fill: summary, connections, show; init makes the tables.",
        discussion: """
            The same questions as the local commands, across hosts, in the same forms (text, \
            --json, --csv), with a host column; --host (repeatable) keeps some hosts. Hosts send \
            rows with the daemon's [[export]] or `tracelens export --clickhouse`. docs/fleet.md \
            shows the tables and dashboard queries.

              tracelens fleet init --clickhouse http://ch.example:8123
              tracelens fleet connections --failed --since 2026-12-05T08:00 --clickhouse http://ch.example:8123
              tracelens fleet show lpar1:58
            """,
        subcommands: [FleetInitCommand.self, FleetSummaryCommand.self, FleetConnectionsCommand.self, FleetShowCommand.self]
    )
}

struct FleetInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the fleet's database and tables in ClickHouse (again is harmless)."
    )
    @OptionGroup var clickhouse: ClickHouseOptions

    func run() throws {
        let connection = try clickhouse.connection()
        do { print(TerminalText.visible(try FleetRun(connection).initialize())) } catch { throw storeFailure(error) }
    }
}

/// `--host` for the fleet's questions.
struct HostOptions: ParsableArguments {
    @Option(name: .customLong("host"), help: ArgumentHelp("Only this host (repeat for more).", valueName: "name"))
    var hosts: [String] = []
}

struct FleetSummaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "summary",
        abstract: "What the fleet's tables hold: sources per host, codes seen, failed connections, peers that fail most."
    )
    @OptionGroup var clickhouse: ClickHouseOptions
    @OptionGroup var hosts: HostOptions
    @OptionGroup var plugins: PluginOptions
    @OptionGroup var output: QueryOutputOptions
    @OptionGroup var layout: TableOptions

    @Option(help: ArgumentHelp("Rows per table.", valueName: "n"))
    var limit: Int = 20

    func run() throws {
        let style = try output.style()
        let queries = try FleetRun(try clickhouse.connection()).queries(plugins: try plugins.load(), hosts: hosts.hosts)
        let tables: [(key: String, table: ResultTable)]
        do { tables = try queries.summary(limit: limit) } catch { throw storeFailure(error) }
        try emit(tables, style, layout)
    }
}

struct FleetConnectionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connections",
        abstract: "List the fleet's connections, one row per story, with their host.",
        discussion: """
            Examples:

              tracelens fleet connections --failed --since 08:00
              tracelens fleet connections --peer 10.1.0.2 --host lpar1 --json
            """
    )
    @OptionGroup var clickhouse: ClickHouseOptions
    @OptionGroup var hosts: HostOptions
    @OptionGroup var plugins: PluginOptions
    @OptionGroup var output: QueryOutputOptions
    @OptionGroup var layout: TableOptions

    @OptionGroup var filtering: ConnectionFilterOptions

    func run() throws {
        let filter = try filtering.filter()
        let style = try output.style()
        let queries = try FleetRun(try clickhouse.connection()).queries(plugins: try plugins.load(), hosts: hosts.hosts)
        let table: ResultTable
        do { table = try queries.connections(filter) } catch { throw storeFailure(error) }
        try emitConnections(table, filter, style, layout)
    }
}

struct FleetShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "One connection's story from the fleet's tables: its connections, then their records with codes decoded."
    )
    @OptionGroup var clickhouse: ClickHouseOptions
    @OptionGroup var hosts: HostOptions
    @OptionGroup var plugins: PluginOptions
    @OptionGroup var output: QueryOutputOptions
    @OptionGroup var layout: TableOptions

    @Argument(help: ArgumentHelp("HOST:CONN (the host and conn columns of `fleet connections`), or CONN when one host has it.", valueName: "connection"))
    var connection: String

    func run() throws {
        let style = try output.style()
        let queries = try FleetRun(try clickhouse.connection()).queries(plugins: try plugins.load(), hosts: hosts.hosts)
        let story: (connections: ResultTable, records: ResultTable)
        do { story = try queries.show(connection) } catch { throw storeFailure(error) }
        try emit([("connections", story.connections), ("records", story.records)], style, layout)
    }
}
