import ArgumentParser
import Foundation
import TraceLensCore

struct LintCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lint",
        abstract: "Check a System SSL environment file or an LDAP server configuration file.",
        discussion: """
            Recognises which of the two each file is (--kind to say), then reports, with line \
            numbers: TLS 1.3 turned on without what it needs (TLS 1.3 ciphers, RSA-PSS signature \
            pairs, accepted key shares), old protocols on, RSA key exchange or weak ciphers ahead \
            of ECDHE ones, the sample file's cipher list left in place, GSK_TRACE left on, \
            passwords in clear (named, never shown), misspelt keywords with the one meant, lists \
            that are not whole hex codes, keywords set twice. The checks are plugin data \
            ([[lint]]). Exit status: 0 clean, 1 findings, 2 a file could not be read or \
            recognised. Examples:

              tracelens lint /etc/ldap/gldsrv.envvars
              tracelens lint --json ds.conf envvars
            """
    )

    @OptionGroup var plugins: PluginOptions

    @Option(help: ArgumentHelp("Read every file as this kind instead of recognising it (see `tracelens plugins list`).", valueName: "kind"))
    var kind: String?

    @Flag(help: "One JSON object per finding.")
    var json = false

    @Argument(help: ArgumentHelp("Configuration files.", valueName: "file"))
    var files: [String]

    func run() throws {
        let set = try plugins.load()
        if let kind, !set.configKinds.contains(where: { $0.name == kind }) {
            throw ValidationError("--kind '\(kind)': known kinds are \(set.configKinds.map(\.name).joined(separator: ", "))")
        }
        let result = LintRun(plugins: set).run(files, kind: kind, json: json)
        FileHandle.standardOutput.write(Data(result.output.utf8))
        for message in result.problems { Diagnostics.warn(message) }
        if result.status != 0 { throw ExitCode(result.status) }
    }
}
