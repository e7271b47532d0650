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

/// `tracelens doctor`: the plugins' [[diagnosis]] rules applied to failed connections.
final class DoctorTests: XCTestCase {
    var doctor: Doctor { Doctor(plugins: Fixtures.plugins) }

    /// A folder ingested and linked, as `tracelens ingest DIR` does.
    func ingestFolder(_ path: String) throws -> String {
        let db = Fixtures.tempDir() + "/s.db"
        let run = try IngestRun(plugins: Fixtures.plugins, store: try Store.openForWriting(db), options: IngestOptions())
        XCTAssertEqual(run.run([path]), 0)
        return db
    }

    func testEveryRuleFiresOnItsBadSampleAndNotOnItsGoodOne() throws {
        XCTAssertGreaterThanOrEqual(Fixtures.plugins.diagnosisRules.count, 15)
        for rule in Fixtures.plugins.diagnosisRules {
            let layout = try XCTUnwrap(Fixtures.plugins.format(named: rule.sampleLayout))
            let bad = doctor.apply(rule, doctor.story(sample: rule.bad, layout: layout))
            XCTAssertNotNil(bad, rule.id)
            XCTAssertEqual(bad?.unknownFacts, 0, "\(rule.id): \(bad?.cause ?? "")")
            XCTAssertFalse(bad?.evidence.isEmpty ?? true, "\(rule.id) quotes its evidence")
            XCTAssertNil(doctor.apply(rule, doctor.story(sample: rule.good, layout: layout)), rule.id)
            XCTAssertTrue(FileManager.default.fileExists(atPath: Fixtures.root + "/" + rule.doc), "\(rule.id): \(rule.doc) exists")
        }
        XCTAssertTrue(Fixtures.loaded.1.isEmpty, "\(Fixtures.loaded.1)")
    }

    /// Every failed connection of every sample story gets a cause; each folder's story the right one.
    func testEveryFailedSampleConnectionIsDiagnosed() throws {
        let dir = Fixtures.tempDir()
        let store = try Store.openForWriting(dir + "/s.db")
        var options = IngestOptions()
        options.link.offsets = [LinkOptions.parseOffset("ec-cert-rsa-cipher/client.txt=-3600s")!]
        let run = try IngestRun(plugins: Fixtures.plugins, store: store, options: options)
        _ = run.run([Fixtures.root + "/samples"])
        let diagnoses = try doctor.diagnose(store)
        XCTAssertGreaterThanOrEqual(diagnoses.count, 15)
        for d in diagnoses { XCTAssertFalse(d.findings.isEmpty, "no finding for \(d.summary)") }
        func rules(_ file: String) -> Set<String> {
            Set(diagnoses.filter { $0.summary.contains(file) }.flatMap { $0.findings.map(\.rule) })
        }
        XCTAssertEqual(rules("gskssl.65567.trc"), ["revoked-certificate"])
        XCTAssertEqual(rules("gskssl.65570.trc"), ["crl-issuer-without-crlsign"])
        XCTAssertEqual(rules("gskssl.83951642.trc"), ["tls13-missing-authority-key-identifier"])
        XCTAssertEqual(rules("gskssl.50331688.trc"), ["ec-certificate-with-rsa-cipher"])
        XCTAssertEqual(rules("gskssl.67174481.trc"), ["signature-algorithm-not-allowed"])
        XCTAssertEqual(rules("gsksrvr-ctrace.txt"), ["revoked-certificate"])
        XCTAssertEqual(rules("client.txt"), ["server-not-reached"], "the wrong-host attempts; the others are linked to their server stories")
        // The busy trace's failures of five kinds.
        // 402 is read from the ClientHello in the dumps: the offer against the server's list.
        XCTAssertEqual(rules("gskssl.33554467.trc"), ["revoked-certificate", "no-common-cipher-offered", "tls13-missing-authority-key-identifier",
                                                       "ec-certificate-with-rsa-cipher", "certificate-expired"])
        XCTAssertEqual(rules("gskssl.50331713.trc"), ["no-common-cipher-offered"], "samples/no-common-cipher")
    }

    func testTheRevokedStoryNamesCertificateSerialCRLSourceAndQuotesEverySource() throws {
        let db = try ingestFolder(Fixtures.sample("revoked-client-cert"))
        let d = try doctor.diagnose(try Store.openForReading(db)).first { $0.summary.contains(":42514") }!
        let f = d.findings[0]
        XCTAssertEqual(f.rule, "revoked-certificate")
        XCTAssertEqual(f.cause, "The certificate CN=ecec,O=cpwebuser,C=GB (issued by CN=SSCA256,OU=CA,O=SSS,C=GB) that 10.1.0.2 sent is revoked: its serial number 0A is on the CA's revocation list, reason keyCompromise; System SSL read that list from the LDAP server 127.0.0.1[389].")
        XCTAssertTrue(Set(f.evidence.map(\.file)).isSuperset(of: ["gskssl.65567.trc", "gldsrv.joblog", "gldsrv.dsout"]), "\(f.evidence)")
        XCTAssertTrue(f.evidence.contains { $0.file == "gldsrv.joblog" && $0.text.contains("GLD1116E") && $0.line == 11 }, "\(f.evidence)")
        XCTAssertTrue(f.evidence.contains { $0.file == "gskssl.65567.trc" && $0.line == 82 })
        XCTAssertEqual(f.doc, "docs/findings/revoked-certificate.md")
    }

    func testTheEnvironmentFileMakesTheActionConcrete() throws {
        let db = try ingestFolder(Fixtures.sample("sigalg-missing-0503"))
        var withEnv = doctor
        let text = try String(contentsOfFile: Fixtures.sample("sigalg-missing-0503/gldsrv.envvars"), encoding: .utf8)
        for e in ConfigFile(text: text, syntax: .assignment).entries { withEnv.environment[e.keyword] = e.value }
        let plain = try doctor.diagnose(try Store.openForReading(db)).first { $0.findings.first?.rule == "signature-algorithm-not-allowed" }!
        let concrete = try withEnv.diagnose(try Store.openForReading(db)).first { $0.findings.first?.rule == "signature-algorithm-not-allowed" }!
        XCTAssertEqual(plain.findings[0].action, "Add 0503 to GSK_TLS_SIG_ALG_PAIRS in the environment file and restart the server; `tracelens explain 0503` names the pair.")
        XCTAssertEqual(concrete.findings[0].action, "Add 0503 to GSK_TLS_SIG_ALG_PAIRS: it is 0601050104010301080608050804 now; 06010501040103010806080508040503 allows it. Restart the server.")
    }

    func testCertificateLogonsRefusedAfterTheHandshake() throws {
        let lines = [
            "220324 10:07:19.100000 2A10A000 CONNS srv_accept_connection()412: connID=3 accepted on socket 7",
            "220324 10:07:19.312501 2A10A000 LDAPBE srv_process_bind_request()939: do_return_bind msgID=1, connID=3, bindDN='CN=SECP521R,O=CPWEBUSER,C=GB', safUserID='USERX', dnList=0x0, grpList=0x0, rc=49",
            "220324 10:07:19.412501 2A10A000 CONNS srv_close_connection()1088: connID=3 closed",
        ]
        func rules(_ text: String) throws -> [Diagnosis.Finding] {
            let (db, _) = try Fixtures.ingest([Fixtures.write(text, named: "gldsrv.dsout")])
            return try doctor.diagnose(try Store.openForReading(db)).flatMap(\.findings)
        }
        let mapped = try rules(lines.joined(separator: "\n") + "\n")
        XCTAssertEqual(mapped.map(\.rule), ["mapped-user-cannot-log-on"])
        XCTAssertTrue(mapped[0].action.contains("LISTUSER USERX"), mapped[0].action)
        let unmapped = try rules(lines.joined(separator: "\n").replacingOccurrences(of: "'USERX'", with: "''") + "\n")
        XCTAssertEqual(unmapped.map(\.rule), ["certificate-not-mapped"])
        XCTAssertTrue(unmapped[0].action.contains("SDNFILTER('CN=SECP521R.O=CPWEBUSER.C=GB')"), unmapped[0].action)
        XCTAssertTrue(try rules(lines.joined(separator: "\n").replacingOccurrences(of: "rc=49", with: "rc=0") + "\n").isEmpty)
    }

    func testOptionalPartsAndMissingFacts() {
        let fields = ["a": "A", "empty": ""]
        XCTAssertEqual(Doctor.fillCounting("x {a}[ and {b}][ or {a}].", fields).text, "x A or A.")
        XCTAssertEqual(Doctor.fillCounting("x {a}[ and {b}].", fields).missing, 0, "optional parts do not count")
        let missing = Doctor.fillCounting("{b} and {empty} and {env.GSK_X}", fields)
        XCTAssertEqual(missing.text, "(not in the trace) and (not in the trace) and (not set in the environment file)")
        XCTAssertEqual(missing.missing, 3)
    }

    func testAFailureNoRuleKnowsSaysSo() throws {
        let text = "03/24/2022-10:07:19 Thd-3 ENTRY gsk_secure_socket_init(): ---> Handle 0x2A4F1018\n03/24/2022-10:07:19 Thd-3 ERROR gsk_secure_socket_init(): SSL V3 server handshake failed with 10.1.0.2[42514]\n03/24/2022-10:07:19 Thd-3 EXIT gsk_secure_socket_init(): <--- Exit status 0x000001a0 (416)\n"
        let (db, _) = try Fixtures.ingest([Fixtures.write(text, named: "gskssl.1.trc")])
        let diagnoses = try doctor.diagnose(try Store.openForReading(db))
        XCTAssertEqual(diagnoses.count, 1)
        XCTAssertTrue(diagnoses[0].findings.isEmpty)
        let report = DoctorReport.text(diagnoses, plugins: Fixtures.plugins)
        // Worded as `connections` words it (PrimaryError), then the command that says more.
        XCTAssertTrue(report.contains("no diagnosis rule fits this one; primary error: SSL 416: Permission denied.; `tracelens explain ssl:416 --long` says more"), report)
        let json = DoctorReport.jsonLines(diagnoses)
        let obj = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        XCTAssertEqual(obj["error"] as? String, "ssl:416")
        XCTAssertEqual((obj["findings"] as? [Any])?.count, 0)
    }

    func testBrokenDiagnosisRulesAreReportedWhenPluginsLoad() throws {
        let text = try Fixtures.loadProblems(withPlugin: """
            [[diagnosis]]
            id = "wrong-sample"
            title = "t"
            when = ["ssl:431"]
            facts = ["Serial number {serial:word} found"]
            cause = "serial {serial}"
            action = "a"
            doc = "docs/findings/x.md"
            sample-layout = "gsktrace"
            bad = "03/24/2022-10:07:19 Thd-3 EXIT read_v3_certificate(): <--- Exit status 0x000001af (431)"
            good = "03/24/2022-10:07:19 Thd-3 EXIT read_v3_certificate(): <--- Exit status 0x000001af (431)"

            [[diagnosis]]
            id = "unknown-code"
            title = "t"
            when = ["nosuch:1"]
            cause = "c"
            action = "a"
            doc = "d"
            sample-layout = "gsktrace"
            bad = "x"
            good = "y"
            """)
        XCTAssertTrue(text.contains("[[diagnosis]] wrong-sample: its bad sample leaves facts of the cause unfilled: serial (not in the trace)"), text)
        XCTAssertTrue(text.contains("[[diagnosis]] wrong-sample: its good sample produces the finding"), text)
        XCTAssertTrue(text.contains("[[diagnosis]] unknown-code: when names 'nosuch:1', which is in no catalogue"), text)
    }
}
