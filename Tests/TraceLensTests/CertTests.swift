import Foundation
import XCTest
@testable import TraceLensInput
@testable import TraceLensRecords
@testable import TraceLensDecode
@testable import TraceLensPlugins
@testable import TraceLensHandshake
@testable import TraceLensCorrelate
@testable import TraceLensStore
@testable import TraceLensRender
@testable import TraceLensQuery
@testable import TraceLensFollow
@testable import TraceLensDiagnose
@testable import TraceLensCommands
@testable import TraceLensBench

/// `tracelens cert` on the certificates of the sample stories, made by samples/certs/make-certs.sh
/// with openssl (committed, and made again here).
final class CertTests: XCTestCase {
    let inspector = CertificateInspector(plugins: Fixtures.plugins)

    /// Checked a minute from now: certificates made during the test start "now", to the second.
    func checks(_ path: String) throws -> [String] {
        try CertificateInspector(plugins: Fixtures.plugins, now: Date(timeIntervalSinceNow: 60)).inspect(path: path).items
            .flatMap { $0.findings.filter { $0.severity != .info }.map(\.check) }
    }

    /// The fixture script, run again: openssl makes the same kinds of certificates.
    func freshCertificates(checks: Bool = false) throws -> String {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") else { throw XCTSkip("openssl is not installed") }
        let dir = Fixtures.tempDir()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [Fixtures.root + "/samples/certs/make-certs.sh", dir] + (checks ? ["checks"] : [])
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        return dir
    }

    func testEachStoryCertificateShowsItsProblem() throws {
        for dir in [Fixtures.root + "/samples/certs", try freshCertificates()] {
            XCTAssertEqual(try checks(dir + "/ca.pem"), [], "a CA as it should be")
            XCTAssertEqual(try checks(dir + "/ca-without-crlsign.pem"), ["ca-without-crlsign"])
            XCTAssertEqual(try checks(dir + "/client-without-aki.pem"), ["no-authority-key-identifier"])
            XCTAssertEqual(try checks(dir + "/client-ecec.pem"), [])
            let rsa = try inspector.inspect(path: dir + "/client-rsaca384.pem").items[0]
            XCTAssertTrue(rsa.findings.contains { $0.check == "signature-pair" && $0.message.contains("needs 0503 in GSK_TLS_SIG_ALG_PAIRS") })
            XCTAssertTrue(rsa.lines.contains { $0 == ("key", "RSA 2048 bits") })
            // The pair comes from the signature scheme catalogue's x509_oid column.
            XCTAssertTrue(rsa.lines.contains { $0 == ("signed with", "ecdsa-with-SHA384 (TLS signature algorithm pair 0503: ecdsa_secp384r1_sha384)") }, "\(rsa.lines)")
            XCTAssertEqual(rsa.findings.first { $0.check == "signature-pair" }?.codes.map(\.ref), ["ssl:467"])
        }
    }

    /// Every other check, each on a certificate made to trigger it; the story certificates above
    /// are the ones that must not.
    func testEveryCheckHasACertificateThatTriggersIt() throws {
        let dir = try freshCertificates(checks: true)
        XCTAssertEqual(try checks(dir + "/ca-without-ski.pem"), ["ca-without-ski"])
        XCTAssertEqual(try checks(dir + "/ca-without-key-usage.pem"), ["ca-without-key-usage"])
        XCTAssertEqual(try checks(dir + "/ca-without-keycertsign.pem"), ["ca-without-keycertsign"])
        XCTAssertEqual(try checks(dir + "/client-no-digital-signature.pem"), ["no-digital-signature"])
        XCTAssertEqual(try checks(dir + "/client-code-signing.pem"), ["no-tls-extended-key-usage"])
        XCTAssertThrowsError(try checks(dir + "/client-rsa1024.pem")) { error in
            XCTAssertTrue("\(error)".contains("an X.509 certificate that cannot be used"), "\(error)")
        }
        XCTAssertEqual(try checks(dir + "/client-expires-soon.pem"), ["expires-soon"])
        let info = try inspector.inspect(path: dir + "/client-rsa-no-key-encipherment.pem").items[0].findings.map(\.check)
        XCTAssertTrue(info.contains("no-key-encipherment"), "\(info)")
        // And the ones that must not: an RSA certificate with keyEncipherment, an EC one without.
        XCTAssertFalse(try inspector.inspect(path: dir + "/client-rsaca384.pem").items[0].findings.contains { $0.check == "no-key-encipherment" })
        XCTAssertFalse(try inspector.inspect(path: dir + "/client-ecec.pem").items[0].findings.contains { $0.check == "no-key-encipherment" })
    }

    func testDistinguishedNamesInEveryForm() throws {
        let item = try inspector.inspect(path: Fixtures.sample("certs/client-ecec.pem")).items[0]
        let lines = Dictionary(item.lines, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(lines["subject (openssl)"], "C = GB, O = cpwebuser, CN = ecec")
        XCTAssertEqual(lines["subject (trace, LDAP)"], "CN=ecec,O=cpwebuser,C=GB")
        XCTAssertEqual(lines["subject (RACDCERT MAP SDNFILTER)"], "CN=ecec.O=cpwebuser.C=GB")
        XCTAssertEqual(lines["issuer (RACDCERT MAP IDNFILTER)"], "CN=SSCA256.OU=CA.O=SSS.C=GB")
        XCTAssertEqual(lines["serial"], "0A")
        XCTAssertEqual(lines["key"], "EC P-256 (secp256r1)")
    }

    func testTheCRLAndWhetherACertificateIsOnIt() throws {
        let crl = try inspector.inspect(path: Fixtures.sample("certs/ca.crl")).items[0]
        XCTAssertEqual(crl.kind, "CRL")
        XCTAssertEqual(crl.issuer, "CN=SSCA256,OU=CA,O=SSS,C=GB")
        XCTAssertEqual(crl.revoked.map(\.serial), ["0A"])
        XCTAssertEqual(crl.revoked.first?.reason, "keyCompromise")
        var reports = [try inspector.inspect(path: Fixtures.sample("certs/client-ecec.pem")),
                       try inspector.inspect(path: Fixtures.sample("certs/client-rsaca384.pem")),
                       try inspector.inspect(path: Fixtures.sample("certs/ca-without-crlsign.pem"))]
        inspector.checkRevocation(&reports, against: [crl])
        XCTAssertTrue(reports[0].items[0].findings.contains { $0.check == "revoked" && $0.message.contains("serial 0A") && $0.message.contains("keyCompromise") })
        XCTAssertTrue(reports[1].items[0].findings.contains { $0.check == "not-revoked" })
        XCTAssertFalse(reports[2].items[0].findings.contains { $0.check == "revoked" || $0.check == "not-revoked" }, "another issuer's CRL says nothing about it")
        // A CRL whose next update has passed.
        let later = CertificateInspector(plugins: Fixtures.plugins, now: Date(timeIntervalSinceNow: 200 * 365 * 86400))
        XCTAssertEqual(try later.inspect(path: Fixtures.sample("certs/ca.crl")).items[0].findings.map(\.check), ["crl-out-of-date"])
        XCTAssertTrue(try later.inspect(path: Fixtures.sample("certs/ca.pem")).items[0].findings.contains { $0.check == "expired" })
    }

    func testJSONHasOneObjectPerCertificateOrCRL() throws {
        let reports = [try inspector.inspect(path: Fixtures.sample("certs/ca-without-crlsign.pem")), try inspector.inspect(path: Fixtures.sample("certs/ca.crl"))]
        let lines = CertificateInspector.jsonLines(reports).split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        let ca = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
        XCTAssertEqual(ca["kind"] as? String, "CA certificate")
        XCTAssertEqual((ca["facts"] as? [String: String])?["subject (RACDCERT MAP SDNFILTER)"], "CN=SSCANOCRL.OU=CA.O=SSS.C=GB")
        XCTAssertTrue((ca["findings"] as? [[String: String]])?.contains { $0["check"] == "ca-without-crlsign" } ?? false)
        let crl = try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as! [String: Any]
        XCTAssertEqual((crl["revoked"] as? [[String: Any]])?.first?["reason"] as? String, "keyCompromise")
    }

    func testDERChainsAndBadFiles() throws {
        let pem = try String(contentsOfFile: Fixtures.sample("certs/client-ecec.pem"), encoding: .utf8)
        let base64 = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        let der = Fixtures.write(Array(Data(base64Encoded: base64)!), named: "client.der")
        XCTAssertEqual(try inspector.inspect(path: der).items[0].serial, "0A")
        // A chain: several PEM blocks in one file, in order.
        let chain = try String(contentsOfFile: Fixtures.sample("certs/client-ecec.pem"), encoding: .utf8)
            + String(contentsOfFile: Fixtures.sample("certs/ca.pem"), encoding: .utf8)
        XCTAssertEqual(try inspector.inspect(path: Fixtures.write(chain, named: "chain.pem")).items.map(\.kind), ["certificate", "CA certificate"])
        XCTAssertThrowsError(try inspector.inspect(path: Fixtures.write("hello, not a certificate\n", named: "x.pem"))) {
            XCTAssertTrue("\($0)".contains("not an X.509 certificate or CRL"), "\($0)")
        }
        XCTAssertThrowsError(try inspector.inspect(path: "/nonexistent.pem")) { XCTAssertTrue("\($0)".contains("cannot read it")) }
    }

    // MARK: What plugins say about the checks

    /// A plugin folder made of `entries` (TOML after [plugin]).
    func pluginFolder(_ entries: String) throws -> String {
        let dir = Fixtures.tempDir() + "/mine"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try ("[plugin]\nname = \"mine\"\ndescription = \"test\"\n\n" + entries).write(toFile: dir + "/plugin.toml", atomically: true, encoding: .utf8)
        return dir
    }

    /// Loads the built-ins plus a plugin folder made of `entries`.
    func pluginsWith(_ entries: String) throws -> (PluginSet, [PluginProblem]) {
        PluginLoader.loadAll(userDirectories: [try pluginFolder(entries)])
    }

    /// The command itself, given a plugin folder, prints the folder's wording and codes; `plugins
    /// check` names a bad entry.
    func testTheCommandTakesItsWordingFromAPluginFolder() throws {
        let dir = try pluginFolder("""
            [[cert-check]]
            check = "no-authority-key-identifier"
            message = "our TLS 1.3 servers refuse {subject}: it has no authorityKeyIdentifier"
            codes = ["alert:42"]
            """)
        let run = try Fixtures.runTool(["cert", "--plugins", dir, Fixtures.sample("certs/client-without-aki.pem")])
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.stdout.contains("  error: our TLS 1.3 servers refuse CN=ecec,O=cpwebuser,C=GB: it has no authorityKeyIdentifier [no-authority-key-identifier]\n"
            + "    what to do: issue it again with authorityKeyIdentifier=keyid:always,issuer:always\n"
            + "    codes: TLS alert 42 bad_certificate\n"), run.stdout)
        XCTAssertFalse(run.stdout.contains("0335306F"), "the folder's codes replace the built-in ones")
        let bad = try Fixtures.runTool(["plugins", "check", try pluginFolder("[[cert-check]]\ncheck = \"expird\"\n")])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue((bad.stdout + bad.stderr).contains("[[cert-check]] expird: check 'expird' is not a check cert makes"), bad.stdout + bad.stderr)
    }

    func testTheBuiltInPluginsWordChecksForSystemSSL() throws {
        let ca = try inspector.inspect(path: Fixtures.sample("certs/ca-without-crlsign.pem")).items[0]
        let finding = try XCTUnwrap(ca.findings.first { $0.check == "ca-without-crlsign" })
        XCTAssertEqual(finding.message, "a CA whose key usage lacks cRLSign: System SSL rejects the CRLs it signs")
        XCTAssertEqual(finding.action, "recreate it with keyUsage = critical, keyCertSign, digitalSignature, cRLSign")
        XCTAssertEqual(finding.codes.map(\.ref), ["cms:03353026"])
        let text = CertificateInspector.text([try inspector.inspect(path: Fixtures.sample("certs/ca-without-crlsign.pem"))])
        XCTAssertTrue(text.contains("  error: a CA whose key usage lacks cRLSign: System SSL rejects the CRLs it signs [ca-without-crlsign]\n"
            + "    what to do: recreate it with keyUsage = critical, keyCertSign, digitalSignature, cRLSign\n"
            + "    codes: CMS 03353026: "), text)
        let json = CertificateInspector.jsonLines([try inspector.inspect(path: Fixtures.sample("certs/client-without-aki.pem"))])
        XCTAssertTrue(json.contains(#""codes":"cms:0335306F alert:42""#), json)
    }

    func testAPluginEntryChangesHowACheckReads() throws {
        let (set, problems) = try pluginsWith("""
            [[cert-check]]
            check = "ca-without-crlsign"
            severity = "warning"
            message = "{subject} may not sign CRLs here (serial {serial})"
            action = "ask the PKI team"
            codes = ["ssl:401"]

            [[dn-form]]
            id = "dotted"
            subject-label = "dotted, widest first"
            order = "encoded"
            separator = "."
            """)
        XCTAssertEqual(problems.map(\.description), [])
        let item = try CertificateInspector(plugins: set).inspect(path: Fixtures.sample("certs/ca-without-crlsign.pem")).items[0]
        let finding = try XCTUnwrap(item.findings.first { $0.check == "ca-without-crlsign" })
        XCTAssertEqual(finding.severity, .warning)
        XCTAssertEqual(finding.message, "CN=SSCANOCRL,OU=CA,O=SSS,C=GB may not sign CRLs here (serial \(item.serial!))")
        XCTAssertEqual(finding.action, "ask the PKI team")
        XCTAssertEqual(finding.codes.map(\.ref), ["ssl:401"])
        XCTAssertTrue(finding.codes[0].label.hasPrefix("SSL 401: "), finding.codes[0].label)
        let lines = Dictionary(item.lines, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(lines["subject (dotted, widest first)"], "C=GB.O=SSS.OU=CA.CN=SSCANOCRL")
        XCTAssertEqual(lines["subject (RACDCERT MAP SDNFILTER)"], "CN=SSCANOCRL.OU=CA.O=SSS.C=GB", "the built-in form stays")
    }

    func testWithoutPluginsEveryCheckReadsGenerically() throws {
        let (bare, problems) = PluginLoader.load([])
        XCTAssertEqual(problems.map(\.description), [])
        let plain = CertificateInspector(plugins: bare)
        let ca = try plain.inspect(path: Fixtures.sample("certs/ca-without-crlsign.pem")).items[0]
        let finding = try XCTUnwrap(ca.findings.first { $0.check == "ca-without-crlsign" })
        XCTAssertEqual(finding.message, "a CA whose key usage lacks cRLSign: CRLs it signs may be refused")
        XCTAssertEqual(finding.codes, [])
        XCTAssertFalse(ca.lines.contains { $0.0.contains("RACDCERT") }, "no DN forms without plugins")
        // No catalogue maps signature algorithms: the algorithm alone, and no signature-pair finding.
        let rsa = try plain.inspect(path: Fixtures.sample("certs/client-rsaca384.pem")).items[0]
        XCTAssertTrue(rsa.lines.contains { $0 == ("signed with", "ecdsa-with-SHA384") })
        XCTAssertFalse(rsa.findings.contains { $0.check == "signature-pair" })
        var reports = [try plain.inspect(path: Fixtures.sample("certs/client-ecec.pem"))]
        plain.checkRevocation(&reports, against: try plain.inspect(path: Fixtures.sample("certs/ca.crl")).items)
        XCTAssertEqual(reports[0].items[0].findings.first { $0.check == "revoked" }?.message,
                       "revoked: serial 0A is on the CRL of CN=SSCA256,OU=CA,O=SSS,C=GB (reason keyCompromise)")
        let text = CertificateInspector.text(reports)
        XCTAssertFalse(text.contains("System SSL") || text.contains("codes:"), text)
    }

    func testBadCertCheckAndDNFormEntriesAreProblems() throws {
        let problems = try pluginsWith("""
            [[cert-check]]
            check = "no-such-check"

            [[cert-check]]
            check = "expired"
            codes = ["ssl:99999", "nosuch:1", "ssl401"]
            mesage = "typo"

            [[cert-check]]
            check = "revoked"
            severity = "fatal"
            message = "revoked {when}"

            [[dn-form]]
            id = "sideways"
            order = "sideways"
            """).1.map(\.description)
        let file = "mine/plugin.toml"
        func has(_ entry: String, _ text: String) -> Bool {
            problems.contains { $0.contains(file) && $0.contains(entry) && $0.contains(text) }
        }
        XCTAssertTrue(has("[[cert-check]] no-such-check", "check 'no-such-check' is not a check cert makes"), "\(problems)")
        XCTAssertTrue(has("[[cert-check]] expired", "codes 'ssl401' must be catalogue:code"), "\(problems)")
        XCTAssertTrue(has("[[cert-check]] expired", "unknown key 'mesage' (did you mean 'message'?)"), "\(problems)")
        XCTAssertTrue(has("[[cert-check]] revoked", "severity 'fatal' is not one of error, warning, info"), "\(problems)")
        XCTAssertTrue(has("[[cert-check]] revoked", "message names {when}, which check revoked does not give"), "\(problems)")
        XCTAssertTrue(has("[[dn-form]] sideways", "order 'sideways' is not one of encoded, reversed"), "\(problems)")
        XCTAssertTrue(has("[[dn-form]] sideways", "'separator' is required"), "\(problems)")
        // Codes are checked once every plugin is in.
        let codes = try pluginsWith("[[cert-check]]\ncheck = \"expired\"\ncodes = [\"ssl:99999\", \"nosuch:1\"]\n").1.map(\.description)
        XCTAssertTrue(codes.contains { $0.contains("mine/plugin.toml: [[cert-check]] expired: codes names 'ssl:99999', which catalogue ssl has no row for") }, "\(codes)")
        XCTAssertTrue(codes.contains { $0.contains("[[cert-check]] expired: codes names 'nosuch:1', which is in no catalogue") }, "\(codes)")
    }

    func testOneDNHelperReadsAndWritesEveryForm() {
        let dn = DistinguishedNameText(rfc4514: #"CN=Smith\, J, O="A, B", C=GB"#)
        XCTAssertEqual(dn.components.map(\.type), ["C", "O", "CN"])
        XCTAssertEqual(dn.rfc4514, #"CN=Smith\, J,O="A, B",C=GB"#)
        XCTAssertEqual(dn.openssl, #"C = GB, O = "A, B", CN = Smith\, J"#)
        XCTAssertEqual(dn.written(order: .reversed, separator: "."), #"CN=Smith\, J.O="A, B".C=GB"#)
        XCTAssertEqual(DistinguishedNameText(rfc4514: "CN=ecec,O=cpwebuser,C=GB").written(order: .encoded, separator: "/"), "C=GB/O=cpwebuser/CN=ecec")
    }

    func testTheSignatureSchemeCatalogueNamesEachAlgorithmsOID() throws {
        let sigalg = try XCTUnwrap(Fixtures.plugins.catalogue("sigalg"))
        let rows = sigalg.entries.values.filter { $0.details.contains { $0.column == "x509_oid" } }
        XCTAssertEqual(Set(rows.map(\.code)), ["0101", "0201", "0202", "0203", "0301", "0302", "0303", "0401", "0402", "0403", "0501", "0503", "0601", "0603", "0708", "0807", "0808", "0904", "0905", "0906"])
        XCTAssertEqual(sigalg.entries[.number(0x0401)]?.details.first { $0.column == "x509_oid" }?.value, "1.2.840.113549.1.1.11")
    }
}
