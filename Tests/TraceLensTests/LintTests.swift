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

/// `tracelens lint`: configuration files checked with the plugins' [[config]] and [[lint]] data.
final class LintTests: XCTestCase {
    let linter = ConfigLinter(plugins: Fixtures.plugins)
    var gskEnv: ConfigKind { Fixtures.plugins.configKinds.first { $0.name == "gsk-env" }! }
    var ldapConf: ConfigKind { Fixtures.plugins.configKinds.first { $0.name == "ldap-conf" }! }

    func rules(_ text: String, _ kind: ConfigKind) -> [String] { linter.lint(text, kind: kind).findings.map(\.rule) }

    func testEveryBuiltInRuleHasSamplesThatWereChecked() {
        XCTAssertGreaterThanOrEqual(Fixtures.plugins.lintRules.count, 17)
        for rule in Fixtures.plugins.lintRules {
            let kind = Fixtures.plugins.configKinds.first { $0.name == rule.config }!
            XCTAssertTrue(rules(rule.bad!, kind).contains(rule.id), "\(rule.id): bad sample")
            XCTAssertFalse(rules(rule.good!, kind).contains(rule.id), "\(rule.id): good sample")
        }
        XCTAssertTrue(Fixtures.loaded.1.isEmpty, "\(Fixtures.loaded.1)")
    }

    func testTheSeedNotesEnvironmentFile() {
        // The TLS 1.3 set-up from the seed notes, with the mistakes a user makes on the way.
        let text = """
            # LDAP server environment
            GSK_TRACE=0xff
            GSK_TRACE_FILE=/tmp/gsktrace.ldap
            GSK_PROTOCOL_TLSV1_1=on
            GSK_PROTOCOL_TLSV1_3=on
            GSK_SERVER_TLS_KEY_SHARES=00300029002500240019
            GSK_V3_CIPHER_SPECS_EXPANDED=0035C02CC02BC030C02FC024C023
            GSK_TLS_SIG_ALG_PAIRS=060105010401030105030403
            GSK_KEYRNG_FILE=LDAPSRV/LDAPRING
            LIBPATH=/usr/lib
            """
        let findings = linter.lint(text, kind: gskEnv).findings
        let byRule = Dictionary(findings.map { ($0.rule, $0) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(byRule["trace-on"]?.line, 2)
        XCTAssertEqual(byRule["tls11-on"]?.line, 4)
        XCTAssertEqual(byRule["tls13-server-key-share-refused"]?.line, 6)
        XCTAssertTrue(byRule["tls13-server-key-share-refused"]!.message.contains("0019 secp192r1"))
        XCTAssertEqual(byRule["tls13-without-tls13-ciphers"]?.line, 7)
        XCTAssertEqual(byRule["rsa-key-exchange-before-ecdhe"]?.line, 7)
        XCTAssertTrue(byRule["rsa-key-exchange-before-ecdhe"]!.message.contains("0035 TLS_RSA_WITH_AES_256_CBC_SHA before C02C"))
        XCTAssertEqual(byRule["tls13-without-rsa-pss"]?.line, 8)
        XCTAssertEqual(byRule["unknown-keyword"]?.line, 9)
        XCTAssertTrue(byRule["unknown-keyword"]!.message.contains("did you mean GSK_KEYRING_FILE?"))
        XCTAssertFalse(findings.contains { $0.keyword == "LIBPATH" }, "only GSK_ names are checked")
        XCTAssertEqual(findings.count, 7, "\(findings.map(\.rule))")
    }

    func testAGoodEnvironmentFileIsClean() {
        let text = """
            GSK_PROTOCOL_TLSV1_1=off
            GSK_PROTOCOL_TLSV1_2=on
            export GSK_PROTOCOL_TLSV1_3=ON
            GSK_SERVER_TLS_KEY_SHARES=00300029002500240023
            GSK_V3_CIPHER_SPECS_EXPANDED="130213011303C02CC02BC030C02F"
            GSK_TLS_SIG_ALG_PAIRS=060105010401050304030806 0805 0804
            GSK_TRACE=0
            """
        XCTAssertEqual(linter.lint(text, kind: gskEnv).findings, [])
    }

    func testListsMustBeWholeHexCodes() {
        XCTAssertEqual(rules("GSK_V3_CIPHER_SPECS_EXPANDED=C02CC02", gskEnv), ["list-length"])
        let notHex = linter.lint("GSK_TLS_SIG_ALG_PAIRS=0601O501", kind: gskEnv).findings
        XCTAssertEqual(notHex.map(\.rule), ["list-not-hex"])
        XCTAssertTrue(notHex[0].message.contains("'O' at character 5"), notHex[0].message)
        // Copied from a web page: typographic quotes around the value are not part of it.
        XCTAssertEqual(rules("GSK_V3_CIPHER_SPECS_EXPANDED=\u{201D}130213011303C02BC02C\u{201D}", gskEnv), [])
    }

    func testPasswordsAreNamedNeverShown() throws {
        let dir = Fixtures.tempDir()
        try "GSK_LDAP_USER_PW=hunter2\nGSK_KEYRING_PW=s3cr3t\n".write(toFile: dir + "/env", atomically: true, encoding: .utf8)
        try "adminDN cn=admin\nadminPW passw0rd\nsslKeyRingFilePW k3y\n".write(toFile: dir + "/ds.conf", atomically: true, encoding: .utf8)
        for json in [false, true] {
            let r = LintRun(plugins: Fixtures.plugins).run([dir + "/env", dir + "/ds.conf"], json: json)
            for secret in ["hunter2", "s3cr3t", "passw0rd", "k3y"] { XCTAssertFalse(r.output.contains(secret), "\(secret) shown") }
            XCTAssertTrue(r.output.contains("crl-password-in-clear"))
            XCTAssertTrue(r.output.contains("keyring-password-in-clear"))
            XCTAssertTrue(r.output.contains("admin-password-in-clear"))
            XCTAssertTrue(r.output.contains("keyring-file-password-in-clear"))
            XCTAssertEqual(r.status, 1)
        }
    }

    func testLDAPConfigurationKeywords() {
        let text = """
            listen ldap://:389
            listen ldaps://:1389
            sslKeyRingFile START1/MQRING
            sslCipherSpecs GSK_V3_CIPHER_SPECS_EXPANDED
            # TLS 1.3 only supports sslFipsState off
            slFipsState off
            SSLAUTH serverClientAuth
            database sdbm GLDBSD31/GLDBSD64
            suffix o=myracf
            readOnly on
            database ldbm GLDBLD31/GLDBLD64
            suffix o=other
            readOnly off
            readOnly on
            """
        let findings = linter.lint(text, kind: ldapConf).findings
        XCTAssertEqual(findings.map(\.rule), ["unknown-keyword", "set-twice"])
        XCTAssertEqual(findings[0].line, 6)
        XCTAssertTrue(findings[0].message.contains("slFipsState is not a keyword the z/OS LDAP server knows; did you mean sslFipsState?"), findings[0].message)
        XCTAssertEqual(findings[1].line, 14, "readOnly twice in the second backend; once per backend is fine, and listen may repeat")
        XCTAssertEqual(rules("sslFipsState on", ldapConf), ["fips-with-tls13-cipher-list"])
    }

    func testFilesAreRecognised() {
        XCTAssertEqual(linter.recognise("GSK_TRACE=0\nLIBPATH=/usr/lib\n")?.name, "gsk-env")
        XCTAssertEqual(linter.recognise("listen ldap://:389\nsuffix o=x\n")?.name, "ldap-conf")
        XCTAssertNil(linter.recognise("root:x:0:0:root:/root:/bin/bash\n"))
        XCTAssertNil(linter.recognise(""))
    }

    func testExitStatusAndUnreadableFiles() throws {
        let dir = Fixtures.tempDir()
        try "GSK_TRACE=0\n".write(toFile: dir + "/clean.env", atomically: true, encoding: .utf8)
        try "GSK_TRACE=0xff\n".write(toFile: dir + "/traced.env", atomically: true, encoding: .utf8)
        try "hello\n".write(toFile: dir + "/other.txt", atomically: true, encoding: .utf8)
        let run = LintRun(plugins: Fixtures.plugins)
        XCTAssertEqual(run.run([dir + "/clean.env"]).status, 0)
        XCTAssertTrue(run.run([dir + "/clean.env"]).output.contains("no findings"))
        XCTAssertEqual(run.run([dir + "/traced.env"]).status, 1)
        let unknown = run.run([dir + "/traced.env", dir + "/other.txt"])
        XCTAssertEqual(unknown.status, 2)
        XCTAssertTrue(unknown.problems[0].contains("other.txt: not a configuration file TraceLens knows"), unknown.problems[0])
        XCTAssertTrue(unknown.output.contains("trace-on"), "the other files are still checked")
        let missing = run.run([dir + "/nope"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertEqual(missing.problems, [dir + "/nope: No such file or directory"])
        XCTAssertEqual(run.run([dir]).problems, [dir + ": Is a directory"])
        XCTAssertEqual(run.run([dir + "/other.txt"], kind: "gsk-env").status, 0, "--kind reads it as that kind")
    }

    func testJSONHasOneObjectPerFinding() throws {
        let dir = Fixtures.tempDir()
        try "GSK_TRACE=0xff\nGSK_PROTOCOL_SSLV3=ON\n".write(toFile: dir + "/e", atomically: true, encoding: .utf8)
        let lines = LintRun(plugins: Fixtures.plugins).run([dir + "/e"], json: true).output.split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        let objects = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(objects.map { $0["rule"] as? String }, ["trace-on", "sslv3-on"])
        XCTAssertEqual(objects[1]["line"] as? Int, 2)
        XCTAssertEqual(objects[1]["severity"] as? String, "error")
        XCTAssertEqual(objects[1]["keyword"] as? String, "GSK_PROTOCOL_SSLV3")
    }

    func testTheSampleStoriesEnvironmentFiles() {
        let run = LintRun(plugins: Fixtures.plugins)
        let ec = run.run([Fixtures.sample("ec-cert-rsa-cipher/gldsrv.envvars")]).output
        XCTAssertTrue(ec.contains("[default-cipher-list]"), ec)
        let tls13 = run.run([Fixtures.sample("tls13-missing-aki/ds.conf")]).output
        XCTAssertTrue(tls13.contains("did you mean sslFipsState?"), tls13)
        XCTAssertTrue(run.run([Fixtures.sample("revoked-client-cert/ds.conf")]).output.contains("no findings"))
    }

    func testBrokenRulesAreReportedWhenPluginsLoad() throws {
        let text = try Fixtures.loadProblems(withPlugin: """
            [[lint]]
            id = "never-fires"
            config = "gsk-env"
            on = "GSK_PROTOCOL_TLSV1_2"
            message = "x"
            action = "y"
            bad = "GSK_PROTOCOL_TLSV1_2=OFF"
            good = "GSK_PROTOCOL_TLSV1_2=OFF"

            [[lint]]
            id = "two-checks"
            config = "gsk-env"
            on = "A"
            nonzero = "B"
            message = "x"
            action = "y"

            [[lint]]
            id = "no-samples"
            config = "nosuch"
            on = "A"
            message = "x"
            action = "y"
            severity = "fatal"
            """)
        XCTAssertTrue(text.contains("[[lint]] never-fires: its bad sample does not trigger it"), text)
        XCTAssertTrue(text.contains("[[lint]] two-checks: gives 2 checks; a rule has one"), text)
        XCTAssertTrue(text.contains("[[lint]] no-samples: severity 'fatal' is not one of error, warning, info"), text)
    }
}
