import ArgumentParser
import Foundation
import TraceLensInput
import TraceLensRecords
import TraceLensStore
import TraceLensDiagnose
import TraceLensCommands
import TraceLensCorrelate


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

    @Flag(help: "JSON Lines: one JSON object per finding, a line each.")
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

struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Say why connections failed and what to do: cause, evidence (records with file and line), action.",
        discussion: """
            Diagnoses failed connections of the store (named by id, or --all), or of trace files \
            given on the command line (read into a temporary store first, with every source \
            linked; exit status 2 when a named file cannot be read). Each finding comes from a [[diagnosis]] rule in the plugins and names a page \
            under docs/findings/. With --env the actions use the environment file's own values. \
            Examples:

              tracelens doctor --all
              tracelens doctor 23
              tracelens doctor --env gldsrv.envvars samples/sigalg-missing-0503/
            """
    )

    @OptionGroup var store: StoreOptions
    @OptionGroup var plugins: PluginOptions

    @Flag(help: "Every failed connection in the store.")
    var all = false

    @Option(help: ArgumentHelp("The System SSL environment file the server used, for actions in its terms.", valueName: "file"))
    var env: String?

    @Flag(help: "JSON Lines: one JSON object per connection, a line each.")
    var json = false

    @Option(help: ArgumentHelp("A source's clock is off when reading files (as for ingest): 'ec-cert-rsa-cipher/client.txt=-3600s'. Repeatable.", valueName: "file=duration"))
    var offset: [String] = []

    @Flag(help: "Let an --offset name that matches several of the files shift them all.")
    var allMatching = false

    @Argument(help: ArgumentHelp("Connection ids, or trace files and folders to read.", valueName: "conn-or-file"))
    var targets: [String] = []

    func run() throws {
        let set = try plugins.load()
        var environment: [String: String] = [:]
        if let env {
            guard let data = FileManager.default.contents(atPath: env) else { throw ValidationError("--env \(env): cannot read it") }
            environment = DoctorRun.environment(fromText: String(decoding: data, as: UTF8.self))
        }
        let ids = targets.compactMap { Int64($0) }
        let files = targets.filter { Int64($0) == nil }
        guard all || !targets.isEmpty else { throw ValidationError("name connections (tracelens connections --failed lists them), --all, or trace files") }
        var link = LinkOptions()
        link.offsets = try LinkingOptions.offsets(offset)
        link.allMatching = allMatching
        let doctor = DoctorRun(plugins: set, environment: environment)
        let diagnoses: [Diagnosis]
        // Non-zero when a named file could not be read: the verdict then covers only the rest.
        var readStatus: Int32 = 0
        do {
            if !files.isEmpty {
                (diagnoses, readStatus) = try doctor.diagnose(files: files, connections: ids, link: link)
            } else {
                diagnoses = try doctor.diagnose(storePath: store.path, connections: all ? [] : ids)
            }
        } catch let e as ValidationError { throw e } catch { throw storeFailure(error) }
        if readStatus != 0 && diagnoses.isEmpty {
            // "no failed connections" would be a verdict on files it never read.
            Diagnostics.warn("could not read every file named (see above); nothing to diagnose")
            throw ExitCode(2)
        }
        let out = json ? DoctorReport.jsonLines(diagnoses) : (diagnoses.isEmpty ? "no failed connections\n" : DoctorReport.text(diagnoses, plugins: set))
        FileHandle.standardOutput.write(Data(out.utf8))
        if readStatus != 0 { throw ExitCode(2) }
    }
}

struct CertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cert",
        abstract: "Check certificates, chains and CRLs (PEM or DER) for what TLS peers need.",
        discussion: """
            For a CA: basicConstraints, keyCertSign and cRLSign (without cRLSign its CRLs may \
            be refused), subjectKeyIdentifier. For other certificates: \
            authorityKeyIdentifier (TLS 1.3 peers may want it), key usage for TLS, key type and \
            size, and the TLS signature scheme its signature algorithm needs. Dates against now. \
            For a CRL: issuer, this and next update, revoked serials with reasons; with --crl, \
            whether each certificate is on it. DNs are shown as openssl prints them, in RFC 4514 \
            form and in the DN forms the plugins define; findings are worded, and name the codes \
            a product reports for them, as the plugins say. Exit status: 0 nothing to report, \
            1 errors or warnings, 2 a file could not be read. Examples:

              tracelens cert samples/certs/client-ecec.pem --crl samples/certs/ca.crl
              tracelens cert samples/certs/ca-without-crlsign.pem
            """
    )
    @OptionGroup var plugins: PluginOptions

    @Option(help: ArgumentHelp("A CRL to look each certificate up in. Repeatable.", valueName: "file"))
    var crl: [String] = []

    @Flag(help: "JSON Lines: one JSON object per certificate or CRL, a line each.")
    var json = false

    @Argument(help: ArgumentHelp("Certificate, chain or CRL files.", valueName: "file"))
    var files: [String]

    func run() throws {
        let inspector = CertificateInspector(plugins: try plugins.load())
        var reports: [CertificateReport] = []
        var unreadable = false
        for path in files {
            do { reports.append(try inspector.inspect(path: path)) } catch { Diagnostics.warn("\(error)"); unreadable = true }
        }
        var lists: [CertificateReport.Item] = []
        for path in crl {
            do { lists += try inspector.inspect(path: path).items.filter { $0.kind == "CRL" } } catch { Diagnostics.warn("\(error)"); unreadable = true }
        }
        inspector.checkRevocation(&reports, against: lists)
        let out = json ? CertificateInspector.jsonLines(reports) : CertificateInspector.text(reports)
        FileHandle.standardOutput.write(Data(out.utf8))
        if unreadable { throw ExitCode(2) }
        if reports.contains(where: { $0.items.contains { $0.findings.contains { $0.severity != .info } } }) { throw ExitCode(1) }
    }
}
