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

/// The client families read besides the OpenLDAP tools' own errors: ldapsearch -d 1 with the
/// OpenSSL backend, gnutls-cli, Go programs (crypto/tls, crypto/x509, go-ldap) and Node.js. Each
/// line is written for these tests in the layout the tool prints.
final class ClientFamiliesTests: XCTestCase {
    /// `kind:code`, with ` F` when the code is marked a failure.
    func codes(_ text: String) throws -> [String] {
        let (records, _) = try Fixtures.records(Fixtures.write(text, named: "client.txt"))
        return records.flatMap { r in
            r.codes.map { c in
                let cat = Fixtures.plugins.catalogues[c.catalogue]
                return "\(cat.id):\(cat.display(c.value))" + (cat.isFailure(c.value) ? " F" : "")
            }
        }
    }

    /// The rules that fire on each failed connection, its summary and first cause.
    func findings(_ text: String) throws -> [(summary: String, rules: [String], cause: String)] {
        let path = Fixtures.write(text, named: "client.txt")
        let db = Fixtures.tempDir() + "/s.db"
        let run = try IngestRun(plugins: Fixtures.plugins, store: try Store.openForWriting(db), options: IngestOptions())
        XCTAssertEqual(run.run([path]), 0)
        return try Doctor(plugins: Fixtures.plugins).diagnose(try Store.openForReading(db)).map { d in
            (String(d.summary.split(separator: ",", maxSplits: 1).first ?? ""), d.findings.map(\.rule), d.findings.first?.cause ?? "")
        }
    }

    // MARK: ldapsearch -d 1 with OpenSSL

    func testOpenSSLBackendVerifyLinesAndAlertsAreRecordsWithCodes() throws {
        let text = """
            ops@relay4:~$ ldapsearch -x -d 1 -H ldaps://dir.lab.example:2636 -b o=lab
            ldap_connect_to_host: TCP dir.lab.example:2636
            TLS trace: SSL_connect:SSLv3/TLS read server hello
            TLS certificate verification: depth: 1, err: 0, subject: /CN=Lab Root, issuer: /CN=Lab Root
            TLS certificate verification: depth: 0, err: 10, subject: /CN=dir.lab.example, issuer: /CN=Lab Root
            TLS certificate verification: Error, certificate has expired
            TLS trace: SSL3 alert write:fatal:certificate expired
            ldap_sasl_bind(SIMPLE): Can't contact LDAP server (-1)

            """
        let (records, summary) = try Fixtures.records(Fixtures.write(text, named: "client.txt"))
        XCTAssertEqual(summary.counts.unparsed, 0)
        XCTAssertEqual(records.map { $0.field(.function) ?? "" }, ["ldapsearch", "ldap_connect_to_host", "TLS", "TLS", "TLS", "TLS", "TLS", "ldap_sasl_bind"])
        XCTAssertEqual(try codes(text), ["x509verify:0", "x509verify:10 F", "x509verify:10 F", "alert:45 F", "ldaprc:-1 F"])
    }

    func testAnAlertReceivedIsTheServersRefusalAndOneSentIsNot() throws {
        let text = """
            ops@relay4:~$ ldapwhoami -x -d 1 -H ldaps://dir.lab.example:2637
            TLS trace: SSL_connect:SSLv3/TLS write client hello
            TLS trace: SSL3 alert read:fatal:handshake failure
            ldap_sasl_bind(SIMPLE): Can't contact LDAP server (-1)
            ops@relay4:~$ ldapwhoami -x -d 1 -H ldaps://dir.lab.example:2638
            TLS trace: SSL3 alert write:fatal:unknown CA
            ldap_sasl_bind(SIMPLE): Can't contact LDAP server (-1)
            ops@relay4:~$ ldapwhoami -x -d 1 -H ldaps://dir.lab.example:2639
            TLS certificate verification: depth: 0, err: 20, subject: /CN=dir.lab.example, issuer: /CN=Lab Issuing
            TLS certificate verification: Error, unable to get local issuer certificate
            TLS trace: SSL3 alert write:fatal:unknown CA
            ldap_sasl_bind(SIMPLE): Can't contact LDAP server (-1)

            """
        let got = try findings(text)
        // Received: the server ended it. Sent alone: no finding claims the server refused it (nor
        // that it was never reached). Sent after a verify failure: the verify failure's finding.
        XCTAssertEqual(got.map(\.rules), [["client-tls-alert"], [], ["client-untrusted-ca"]], "\(got)")
        XCTAssertTrue(got[0].cause.contains("TLS alert 40"), got[0].cause)
        XCTAssertTrue(got[2].cause.contains("verify 20"), got[2].cause)
    }

    // MARK: gnutls-cli

    func testGnutlsCliStatusSentencesAndItsServer() throws {
        let text = """
            [ops@relay5 ~]$ gnutls-cli -p 3636 dir.lab.example
            Processed 140 CA certificate(s).
            Connecting to '192.0.2.140:3636'...
            - Status: The certificate is NOT trusted. The name in the certificate does not match the expected. 
            *** PKI verification of server certificate failed...
            *** Fatal error: Error in the certificate.
            [ops@relay5 ~]$ gnutls-cli -p 3637 dir.lab.example
            Connecting to '192.0.2.140:3637'...
            *** Received alert [70]: Error in protocol version
            *** Fatal error: A TLS fatal alert has been received.
            [ops@relay5 ~]$ gnutls-cli -p 3638 dir.lab.example
            Connecting to '192.0.2.140:3638'...
            - Status: The certificate is trusted. 
            - Description: (TLS1.3-X.509)-(ECDHE-SECP256R1)-(RSA-PSS-RSAE-SHA256)-(AES-256-GCM)

            """
        XCTAssertEqual(try codes(text), ["gnutls:0x2 F", "gnutls:0x4000 F", "gnutlserr:-43 F", "alert:70 F", "gnutlserr:-12 F"])
        let got = try findings(text)
        XCTAssertEqual(got.map(\.summary), ["connection 1: server dir.lab.example:3636", "connection 2: server dir.lab.example:3637"])
        XCTAssertEqual(got.map(\.rules), [["hostname-mismatch"], ["protocol-mismatch"]], "\(got)")
    }

    // MARK: Go

    func testGoErrorsInAnApplicationLog() throws {
        let text = """
            time=2025-04-07T06:30:01.100Z level=error msg="ldap login failed" err="LDAP Result Code 200 \\"Network Error\\": tls: failed to verify certificate: x509: certificate signed by unknown authority"
            time=2025-04-07T06:30:02.100Z level=error msg="ldap login failed" err="LDAP Result Code 200 \\"Network Error\\": tls: failed to verify certificate: x509: certificate is valid for ldap-a.lab.example, not ldap.lab.example"
            time=2025-04-07T06:30:03.100Z level=error msg="ldap login failed" err="LDAP Result Code 200 \\"Network Error\\": tls: first record does not look like a TLS handshake"
            time=2025-04-07T06:30:04.100Z level=error msg="ldap login failed" err="LDAP Result Code 200 \\"Network Error\\": remote error: tls: handshake failure"
            time=2025-04-07T06:30:05.100Z level=error msg="ldap login failed" err="LDAP Result Code 200 \\"Network Error\\": dial tcp 192.0.2.141:636: connect: connection refused"
            time=2025-04-07T06:30:06.100Z level=error msg="ldap login failed" err="LDAP Result Code 200 \\"Network Error\\": remote error: tls: protocol version not supported"
            time=2025-04-07T06:30:07.100Z level=info msg="ldap login ok" user=svc-gitea entries=1

            """
        let got = try findings(text)
        XCTAssertEqual(got.map(\.rules), [["client-untrusted-ca"], ["hostname-mismatch"], ["no-tls-session"], ["client-tls-alert"],
                                          ["server-not-reached"], ["protocol-mismatch"]], "\(got)")
        XCTAssertTrue(got[1].cause.contains("(ldap.lab.example)"), got[1].cause)
        XCTAssertEqual(got[4].summary, "connection 5: server 192.0.2.141:636")
    }

    func testGoLdapCodesAndNoCodeInASuccessLine() throws {
        let text = """
            2025/04/07 06:31:00 LDAP Result Code 49 "Invalid Credentials": 80090308: LdapErr: DSID-0C09042F
            2025/04/07 06:31:01 LDAP Result Code 206 "Empty password not allowed by the client": ldap: empty password not allowed by the client
            2025/04/07 06:31:02 x509: cannot validate certificate for 192.0.2.142 because it doesn't contain any IP SANs
            2025/04/07 06:31:03 tls: handshake complete with 192.0.2.142:636 in 40ms, 200 entries

            """
        XCTAssertEqual(try codes(text), ["ldaprc:49 F", "goldap:206 F", "go:NO_IP_SANS F"])
    }

    // MARK: Node.js

    func testNodeErrorsAndTheirCodeLines() throws {
        let text = """
            deploy@web7:~/svc$ node bind.js
            Error: self-signed certificate
                at TLSSocket.onConnectSecure (node:_tls_wrap:1677:34) {
              code: 'DEPTH_ZERO_SELF_SIGNED_CERT'
            }
            deploy@web7:~/svc$ node bind.js
            Error [ERR_TLS_CERT_ALTNAME_INVALID]: Hostname/IP does not match certificate's altnames: Host: ldap.lab.example. is not in the cert's altnames: DNS:ldap-b.lab.example
              code: 'ERR_TLS_CERT_ALTNAME_INVALID'
            deploy@web7:~/svc$ node bind.js
            Error: connect ETIMEDOUT 192.0.2.143:636
              code: 'ETIMEDOUT'
            deploy@web7:~/svc$ node bind.js
            Error: write EPROTO 40B7E1F2:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/ssl/record/ssl3_record.c:355:
              code: 'EPROTO'
            deploy@web7:~/svc$ node bind.js
            bound: 1 entry, code 0

            """
        XCTAssertEqual(try codes(text), ["x509verify:18 F", "node:DEPTH_ZERO_SELF_SIGNED_CERT F",
                                         "node:ERR_TLS_CERT_ALTNAME_INVALID F", "node:ERR_TLS_CERT_ALTNAME_INVALID F",
                                         "node:ETIMEDOUT F", "node:ETIMEDOUT F",
                                         "node:EPROTO F", "opensslreason:WRONG_VERSION_NUMBER F", "node:EPROTO F"])
        let got = try findings(text)
        XCTAssertEqual(got.map(\.rules), [["client-untrusted-ca"], ["hostname-mismatch"], ["server-not-reached"], ["no-tls-session"]], "\(got)")
        XCTAssertEqual(got[2].summary, "connection 3: server 192.0.2.143:636")
    }

    func testAnUnrelatedErrorOrCodeIsNoClientCode() throws {
        let text = """
            Error: config file /etc/svc/app.yaml not found
              code: 'MODULE_NOT_FOUND'
            tls: 3 handshakes, 0 failures
            x509: loaded 12 certificates

            """
        XCTAssertEqual(try codes(text), [])
    }
}
