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

/// `doctor` on what a client alone shows: each common client's way of saying the same failure
/// gets the same finding, with the code that says it.
final class ClientDoctorTests: XCTestCase {
    var doctor: Doctor { Doctor(plugins: Fixtures.plugins) }

    /// The findings of every failed connection, by the server each attempt went to.
    func findings(_ text: String) throws -> [(summary: String, rules: [String], cause: String)] {
        let path = Fixtures.write(text, named: "client.txt")
        let db = Fixtures.tempDir() + "/s.db"
        let run = try IngestRun(plugins: Fixtures.plugins, store: try Store.openForWriting(db), options: IngestOptions())
        XCTAssertEqual(run.run([path]), 0)
        return try doctor.diagnose(try Store.openForReading(db)).map { d in
            (d.summary, d.findings.map(\.rule), d.findings.first?.cause ?? "")
        }
    }

    func testEachClientFamilyGetsItsFinding() throws {
        let text = """
            ops@bastion:~/probe$ curl https://dir.site.example:9443/health
            curl: (60) SSL certificate problem: self-signed certificate in certificate chain
            ops@bastion:~/probe$ curl https://10.44.0.7:389/
            curl: (35) error:0A00010B:SSL routines::wrong version number
            ops@bastion:~/probe$ curl https://10.44.0.8:636/
            curl: (7) Failed to connect to 10.44.0.8 port 636 after 1 ms: Couldn't connect to server
            [root@app07 ~]# java -jar check.jar ldaps://10.44.0.9:636
            javax.net.ssl.SSLHandshakeException: No subject alternative names matching IP address 10.44.0.9 found
            \tat java.base/sun.security.util.HostnameChecker.matchIP(HostnameChecker.java:165)
            [root@app07 ~]# java -jar check.jar ldaps://10.44.0.9:636
            javax.net.ssl.SSLHandshakeException: Received fatal alert: handshake_failure
            [root@app07 ~]# java -jar check.jar ldaps://10.44.0.9:1636
            javax.net.ssl.SSLHandshakeException: No appropriate protocol (protocol is disabled or cipher suites are inappropriate)
            PS C:\\probe> openssl s_client -connect 10.44.0.10:3389
            CONNECTED(000001C4)
            ---
            no peer certificate available
            ---
            SSL handshake has read 0 bytes and written 301 bytes
            New, (NONE), Cipher is (NONE)
                Verify return code: 0 (ok)

            """
        let got = try findings(text)
        XCTAssertEqual(got.map(\.rules), [["client-untrusted-ca"], ["no-tls-session"], ["server-not-reached"], ["hostname-mismatch"],
                                          ["client-tls-alert"], ["protocol-mismatch"], ["no-tls-session"]], "\(got)")
        XCTAssertEqual(got.map(\.summary.prefixUpToComma), ["connection 1: server dir.site.example:9443", "connection 2: server 10.44.0.7:389",
                                                           "connection 3: server 10.44.0.8:636", "connection 4: server 10.44.0.9:636",
                                                           "connection 5: server 10.44.0.9:636", "connection 6: server 10.44.0.9:1636",
                                                           "connection 7: server 10.44.0.10:3389"])
        // Each cause names the client's own code, decoded.
        XCTAssertTrue(got[0].cause.contains("(verify 19: self-signed certificate in certificate chain)"), got[0].cause)
        XCTAssertTrue(got[3].cause.contains("(10.44.0.9)"), got[3].cause)
        XCTAssertTrue(got[4].cause.contains("TLS alert 40"), got[4].cause)
        XCTAssertTrue(got[6].cause.contains("openssl s_client to 10.44.0.10:3389") && got[6].cause.contains("read 0 bytes"), got[6].cause)
    }

    func testLibraryBackendsSayUntrustedInTheirOwnCodes() throws {
        let text = """
            TLS: peer cert untrusted or revoked (0x42)
            TLS: can't connect: The TLS connection was non-properly terminated..
            ldap_sasl_bind(SIMPLE): Can't contact LDAP server (-1)
            [root@legacy6 ~]# ldapsearch -d1 -x -H ldaps://10.44.0.11 -b o=site
            TLS: certificate [CN=dir11,O=Site] is not valid - error -8179:Peer's Certificate issuer is not recognized..
            TLS: error: connect - force handshake failure: errno 0 - moznss error -8179
            ldap_sasl_bind(SIMPLE): Can't contact LDAP server (-1)

            """
        let got = try findings(text)
        XCTAssertEqual(got.map(\.rules), [["client-untrusted-ca"], ["client-untrusted-ca"]], "\(got)")
        XCTAssertTrue(got[1].cause.contains("to ldaps://10.44.0.11"), got[1].cause)
    }

    func testAnExpiredServerCertificateInEachClientsWords() throws {
        let text = """
            ops@bastion:~$ curl https://dir.site.example:9443/health
            curl: (60) SSL certificate problem: certificate has expired
            ops@bastion:~$ ./ldapsync
            2025/02/03 08:00:01 LDAP Result Code 200 "Network Error": tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time 2025-02-03T08:00:01Z is after 2025-01-31T23:59:59Z

            """
        let got = try findings(text)
        XCTAssertEqual(got.map(\.rules), [["client-certificate-expired"], ["client-certificate-expired"]], "\(got)")
        XCTAssertTrue(got[0].cause.contains("verify 10"), got[0].cause)
    }

    func testASuccessfulSessionIsNoFailureAndAFilterErrorNoTLSFinding() throws {
        let text = """
            ops@bastion:~$ openssl s_client -connect 10.44.0.12:636 -CAfile site-ca.pem
            CONNECTED(00000003)
            depth=1 O = Site, CN = Site CA
            verify return:1
            depth=0 CN = dir12.site.example
            verify return:1
            ---
            New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384
                Verify return code: 0 (ok)
            ops@bastion:~$ ldapsearch -x -H ldaps://10.44.0.12:636 -b o=site "(cn=a"
            ldap_search_ext: Bad search filter (-7)

            """
        // The s_client session is not a failure; the search failed on its filter over a TLS session
        // that worked, so no TLS finding is given for it.
        let got = try findings(text)
        XCTAssertEqual(got.map(\.summary.prefixUpToComma), ["connection 2: server 10.44.0.12:636"])
        XCTAssertEqual(got.map(\.rules), [[]])
    }

    /// `from`: a TLS alert counts for the client's fallback only in a client's records; in the
    /// server's own trace the alert is the server's side, which its own rules read.
    func testClientAlertRuleReadsOnlyClientRecords() throws {
        let rule = try XCTUnwrap(Fixtures.plugins.diagnosisRules.first { $0.id == "client-tls-alert" })
        func story(_ rule: String) -> StoryRecords {
            var s = StoryRecords()
            s.items = [.init(file: "x", line: 1, text: "Received fatal alert: bad_certificate", codes: ["alert:42"], rule: rule)]
            return s
        }
        XCTAssertNotNil(doctor.apply(rule, story("client-attempt")))
        XCTAssertNil(doctor.apply(rule, story("gsk-session")))
        XCTAssertEqual(doctor.apply(rule, story("client-attempt"))?.cause.contains("TLS alert 42"), true)
    }

    func testAWhenOrFromNamingNothingIsAPluginProblem() throws {
        let problems = try Fixtures.loadProblems(withPlugin: """
            [[diagnosis]]
            id = "site-alert"
            title = "x"
            when = ["nosuch:*"]
            from = ["no-such-rule"]
            cause = "x"
            action = "x"
            doc = "docs/findings/README.md"
            sample-layout = "client-transcript"
            bad = 'x'
            good = 'y'
            """)
        XCTAssertTrue(problems.contains("when names 'nosuch:*', which is in no catalogue"), problems)
        XCTAssertTrue(problems.contains("from names 'no-such-rule', which is no connection rule"), problems)
    }
}

private extension String {
    var prefixUpToComma: String { split(separator: ",", maxSplits: 1).first.map(String.init) ?? self }
}
