import ArgumentParser
import Foundation
import TraceLensInput
import TraceLensRecords
import TraceLensPlugins
import TraceLensStore
import TraceLensRender
import TraceLensFollow
import TraceLensDiagnose
import TraceLensCommands


/// Options `watch` and `daemon` share on the command line.
struct FollowingOptions: ParsableArguments {
    @Flag(help: "Look at the files every --poll-interval instead of waiting for inotify events (NFS and other file systems that send none).")
    var poll = false

    @Option(help: ArgumentHelp("How often --poll looks.", valueName: "duration"))
    var pollInterval: String = "1s"

    @Option(help: ArgumentHelp("A rotated or deleted file is read until it has been quiet this long, then closed.", valueName: "duration"))
    var quiet: String = "2s"

    func seconds(_ option: String, _ text: String, zeroAllowed: Bool = false) throws -> Double {
        switch TimeSpan.parse(text) {
        case let .success(us) where us > 0 || (zeroAllowed && us == 0): return Double(us) / 1e6
        case .failure(.tooLarge): throw ValidationError("--\(option) '\(text)': \(TimeSpan.Problem.tooLarge)")
        default: throw ValidationError("--\(option) '\(text)': give a duration such as 1s or 500ms")
        }
    }
}

struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Follow trace and log files live: print each record as it arrives, decoded, and store it.",
        discussion: """
            Follows the files and the files that match the patterns later (quote the patterns so \
            the shell leaves them alone). Rotation by rename or copytruncate, truncation, deletion \
            and rotated segments compressed to .gz are handled; every complete line is stored \
            once, also across restarts: run the same command again and it goes on where it \
            stopped. A last line without its line end waits for it. Thousands of files can be \
            followed: a file that stops growing gives back its descriptor (`status` shows it \
            idle) and is opened again when it grows. Ctrl-C commits what was read, then stops. \
            The query commands work on the store meanwhile. Examples:

              tracelens watch '/u/traces/gskssl.*.trc' /u/logs/gldsrv.joblog
              tracelens watch --errors --db case42.db 'traces/*.trc'
              tracelens watch --poll /nfs/zos/gldsrv.joblog
            """
    )

    @OptionGroup var store: StoreOptions
    @OptionGroup var plugins: PluginOptions
    @OptionGroup var following: FollowingOptions

    @Flag(help: "Only records that carry a failure code or are at level ERROR, and a verdict line for each connection that fails.")
    var errors = false

    @Option(help: ArgumentHelp("Only records of this thread. Repeatable.", valueName: "id"))
    var thread: [String] = []

    @Flag(help: "Do not print a verdict line as each connection ends.")
    var noVerdicts = false

    @Option(help: ArgumentHelp("How long a failure's verdict waits for the other files that report the same failure, so that it is one verdict naming them (2s; 0 prints at once).", valueName: "duration"))
    var settle: String = "2s"

    @Option(help: ArgumentHelp("Colour: auto (on a terminal, unless NO_COLOR is set), always, never.", valueName: "when"))
    var color: String = "auto"

    @Option(name: .customLong("layout"), help: ArgumentHelp("Read every file with this layout instead of detecting it.", valueName: "name"))
    var layout: String?

    @Flag(help: "Log what the follower does (new files, rotations) to standard error.")
    var verbose = false

    @Option(name: .customLong("max-record"), help: maxRecordHelp)
    var maxRecord: String = "1MiB"

    @Argument(help: ArgumentHelp("Files or glob patterns to follow.", valueName: "pattern"))
    var patterns: [String]

    func run() throws {
        let set = try plugins.load()
        var printOptions = LivePrinter.Options()
        printOptions.errorsOnly = errors
        printOptions.colour = try colourWanted(color, text: true)
        printOptions.verdicts = !noVerdicts
        printOptions.settle = try following.seconds("settle", settle, zeroAllowed: true)
        printOptions.filter.threads = Set(thread.flatMap { $0.split(separator: ",") }.map { RecordFilter.normaliseThread(String($0)) })
        let printer = LivePrinter(plugins: set, options: printOptions, output: Output())
        var options = FollowOptions()
        options.patterns = patterns
        options.forcedFormat = layout
        options.quiet = try following.seconds("quiet", following.quiet)
        options.maxRecord = try recordLimit(maxRecord)
        let log = FollowLog(level: verbose ? .info : .warn)
        let loop: FollowLoop
        do {
            loop = try FollowSession.start(plugins: set, storePath: store.path, options: options, observer: printer, log: log,
                                           poll: following.poll, pollInterval: try following.seconds("poll-interval", following.pollInterval))
        } catch let e as ValidationError { throw e } catch { throw storeFailure(error) }
        loop.run()
    }
}

struct DaemonCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "Follow files as a service, as the configuration file says; log to standard error.",
        discussion: """
            The configuration (TOML) names the files or patterns to follow, the store, extra \
            plugin folders, how many days of records to keep, and the log level:

              db = "/var/lib/tracelens/tracelens.db"
              paths = ["/u/traces/gskssl.*.trc", "/u/logs/gldsrv.joblog"]
              plugins = ["/etc/tracelens/plugins"]
              retention-days = 14        # records older than this are dropped; connections stay
              log-level = "info"         # error, warn, info, debug
              poll = false               # true for NFS: look every poll-interval
              poll-interval = "1s"
              max-record = "1MiB"        # longer record lines are cut, with a marker

            Durations (poll-interval, quiet, link-interval, retention-days) are at most 100 \
            years; --check rejects larger ones, and a SIGHUP reload with one keeps the running \
            configuration.

            Logs are one line per event: time, level, event, key=value pairs. SIGTERM or SIGINT \
            commit what was read, then stop; SIGHUP reads the configuration again (paths, \
            retention, log level). `tracelens status` shows each file's progress from the store. \
            A systemd unit example is in docs/tracelens.service.
            """
    )

    @Option(help: ArgumentHelp("The configuration file.", valueName: "file"))
    var config: String

    @Flag(help: "Check the configuration and exit.")
    var check = false

    func run() throws {
        let cfg: DaemonConfig
        do { cfg = try DaemonConfig.load(config) } catch {
            Diagnostics.warn("\(error)")
            throw ExitCode(2)
        }
        if check {
            print(TerminalText.visible("\(config): ok; follows \(cfg.paths.joined(separator: ", ")) into \(cfg.db)"))
            return
        }
        let loop: FollowLoop
        do { loop = try DaemonRun.start(configPath: config, config: cfg) } catch { throw storeFailure(error) }
        loop.run()
    }
}

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "What `watch` or `daemon` is following: per file its offset, size, lag, records per second, last error; and each export sink.",
        discussion: """
            Read from the store, so it works from another terminal while the daemon runs. lag is \
            the bytes written but not yet read; process says whether the follower still runs. \
            When export sinks have run, a second table says per sink its state (sending, caught \
            up, retrying, stopped), the records and connections not yet acknowledged by its \
            engine, when it last acknowledged, and the last error while it is failing.
            """
    )
    @OptionGroup var store: StoreOptions
    @OptionGroup var plugins: PluginOptions
    @OptionGroup var output: QueryOutputOptions
    @OptionGroup var layout: TableOptions

    func run() throws {
        let style = try output.style()
        let queries = try openQueries(store, plugins)
        var tables: [(key: String, table: ResultTable)] = []
        do {
            tables.append(("files", try queries.status()))
            if let exports = try queries.exportStatus() { tables.append(("exports", exports)) }
        } catch { throw storeFailure(error) }
        try emit(tables, style, layout)
    }
}
