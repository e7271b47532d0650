import ArgumentParser
import Foundation
import TraceLensDiagnose
import TraceLensBench


/// `bench --only fuzz` options: how long, from which seed, which targets, where the corpus is.
struct FuzzOptions: ParsableArguments {
    @Option(help: ArgumentHelp("fuzz: seconds to run, shared among the targets.", valueName: "n"))
    var seconds: Double = 60

    @Option(help: ArgumentHelp("fuzz: seed of the first batch (the same seed gives the same inputs).", valueName: "n"))
    var seed: UInt64 = 1

    @Option(name: .customLong("fuzz-target"), help: ArgumentHelp("fuzz: run this target only (template, gzip, ebcdic, records, plugin, cert). Repeatable.", valueName: "name"))
    var fuzzTargets: [String] = []

    @Option(help: ArgumentHelp("fuzz: corpus folder (a sub-folder per target); inputs that crash or hang are saved there. Default: Tests/TraceLensTests/FuzzCorpus when run in the source tree, else a temporary folder.", valueName: "dir"))
    var corpus: String?

    @Option(help: ArgumentHelp("fuzz: seconds one input may take before it counts as a hang.", valueName: "n"))
    var hangSeconds: Int = 2

    func run() throws {
        var o = FuzzCampaign.Options()
        o.seconds = seconds
        o.seed = seed
        o.targets = fuzzTargets
        o.budgetSeconds = hangSeconds
        let inTree = "Tests/TraceLensTests/FuzzCorpus"
        o.corpus = corpus ?? (FileManager.default.fileExists(atPath: inTree) ? inTree : nil)
        let tool = Bundle.main.executablePath ?? CommandLine.arguments[0]
        let (report, found) = try FuzzCampaign.run(o, tool: tool)
        print(report)
        if found { throw ExitCode(1) }
    }
}

/// Runs fuzz inputs of one target in this process, for `bench --only fuzz` and the tests, which
/// start it as a child so that a crash or hang cannot take them down.
struct FuzzChildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fuzz-child", abstract: "Run fuzz inputs of one target (used by bench --only fuzz).", shouldDisplay: false)

    @Option var target: String
    @Option var seed: UInt64 = 1
    @Option var iterations: Int = 1000
    @Option var work: String
    @Option var corpus: String?
    @Flag var replay = false
    @Option var budget: Double = 2
    @Option(name: .customLong("stop-after")) var stopAfter: Double = 0

    func run() throws {
        var o = FuzzChild.Options()
        o.target = target
        o.seed = seed
        o.iterations = iterations
        o.work = work
        o.corpus = corpus
        o.replay = replay
        o.budgetSeconds = budget
        o.stopAfterSeconds = stopAfter
        // Built-in plugins only: a user's plugin folder must not change what a seed means.
        let plugins = CheckedPlugins.loadAll(userDirectories: []).0
        print(try FuzzChild.run(o, plugins: plugins))
    }
}
