import ArgumentParser
import Foundation
import TraceLensInput
import TraceLensCommands

struct RedactCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redact",
        abstract: "Write copies of traces and logs safe to share: addresses, names, user ids and key rings replaced by stand-ins.",
        discussion: """
            Each file is copied into DIR under its own name, with IP addresses, host names, DN \
            values, user ids, key ring names, certificate serials and the words given with \
            --word or --words replaced by stand-ins: the same value gets the same stand-in in \
            every file (10.1.0.2 → 198.18.0.1, START1 → USER01, CN=ecec → CN=NAME), so the \
            copies still link up. Secrets are masked. Codes, times, thread ids, function names \
            and the lines themselves stay; stand-ins keep the value's length where they can \
            (addresses do not). Values in hex dumps are replaced byte for byte. What is a user \
            id or a key ring in each layout comes from the plugins ([[redact]]). The mapping \
            from stand-ins back to the values is written beside DIR (DIR.mapping.tsv, readable \
            by you only) or to --mapping FILE: keep it, do not send it. A file that is missing \
            or not text (binary, .gz) stops the run before anything is written (exit 2). Example:

              tracelens redact samples/revoked-client-cert -o safe --word ACME
            """
    )
    @OptionGroup var plugins: PluginOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("The folder to write the copies to (made if missing).", valueName: "dir"))
    var output: String

    @Option(help: ArgumentHelp("Where to write the mapping back to the original values (default: DIR.mapping.tsv beside DIR).", valueName: "file"))
    var mapping: String?

    @Option(help: ArgumentHelp("A word to replace everywhere too (a company or system name). Repeatable.", valueName: "word"))
    var word: [String] = []

    @Option(help: ArgumentHelp("A file of words to replace, one a line (# starts a comment).", valueName: "file"))
    var words: String?

    @Argument(help: ArgumentHelp("Trace and log files, or folders of them.", valueName: "file"))
    var files: [String]

    func run() throws {
        let set = try plugins.load()
        let report: RedactRun.Report
        do {
            var all = word
            if let words { all += try RedactRun.words(file: words) }
            report = try RedactRun(plugins: set).run(inputs: files, output: output, mapping: mapping, words: all)
        } catch let problem as RedactRun.Problem {
            Diagnostics.warn(problem.description)
            throw ExitCode(2)
        }
        for f in report.files {
            print("wrote \(TerminalText.visible(f.copy)) (\(f.lines) line\(f.lines == 1 ? "" : "s"))")
        }
        var counts: [String] = []
        for kind in ["ip", "host", "dn", "user", "ring", "serial", "word"] {
            let n = report.entries.filter { $0.kind.rawValue == kind }.count
            if n > 0 { counts.append("\(n) \(kind)") }
        }
        let total = report.entries.count
        print("\(total) value\(total == 1 ? "" : "s") replaced\(counts.isEmpty ? "" : " (" + counts.joined(separator: ", ") + ")")")
        print("mapping: \(TerminalText.visible(report.mapping)) (owner only; keep it, do not share it)")
    }
}
