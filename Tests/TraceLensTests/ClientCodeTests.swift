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

/// Codes the client side prints when it talks to a z/OS LDAP or AT-TLS server: libldap's result
/// codes, OpenSSL, GnuTLS, NSS, Java, Python and curl. The lines are written for these tests in
/// the layouts those tools use.
final class ClientCodeTests: XCTestCase {
    /// `kind:code`, with ` F` when the code is marked a failure.
    func codes(_ text: String, named name: String = "client.txt") throws -> [String] {
        let (records, _) = try Fixtures.records(Fixtures.write(text, named: name))
        return records.flatMap { r in
            r.codes.map { c in
                let cat = Fixtures.plugins.catalogues[c.catalogue]
                return "\(cat.id):\(cat.display(c.value))" + (cat.isFailure(c.value) ? " F" : "")
            }
        }
    }

    // MARK: Active Directory's detail

    func testActiveDirectoryDataDetailIsDecodedOnlyInItsMessage() throws {
        let text = """
            LDAP - Bind error 49  (Invalid credentials)
            res_errno: 49, res_error: <80090308: LdapErr: DSID-0C090439, comment: AcceptSecurityContext error, data 532, v4f7c>, res_matched: <>
            res_errno: 1, res_error: <000004DC: LdapErr: DSID-0C090A37, comment: In order to perform this operation a successful bind must be completed on the connection., data 0, v4f7c>, res_matched: <>
            backup job: wrote 12 files, data 532, verified

            """
        // 532 (password expired) is a failure; 0 (no detail) is not; the backup line has no LdapErr.
        XCTAssertEqual(try codes(text, named: "app.log"), ["ldaprc:49 F", "addata:532 F", "addata:000"])
    }

    // MARK: libldap and its callers

    func testLibldapErrorFormsAreLDAPResultCodes() throws {
        let text = """
            $ date
            Tue Feb 11 09:14:02 UTC 2025
            $ ldapsearch -x -H ldaps://ldap.example.org:1636 -b o=sample -D cn=reader -w ********
            ldap_sasl_bind(SIMPLE): Can't contact LDAP server (-1)
            $ ldapsearch -ZZ -x -H ldap://10.20.30.40:1389 -b o=sample
            ldap_start_tls: Connect error (-11)
            \tadditional info: (unknown error code)
            $ ldapsearch -LLL -x -H ldap://10.20.30.40:1389 -b ou=gone,o=sample
            No such object (32)
            Matched DN: o=sample
            $ ldapwhoami -x -H ldaps://10.20.30.40:1636 -D cn=reader,o=sample -w ********
            ldap_bind: Invalid credentials (49)
            \tadditional info: R004069 Password is not valid

            """
        XCTAssertEqual(try codes(text, named: "transcript.txt"), ["ldaprc:-1 F", "ldaprc:-11 F", "ldaprc:32 F", "ldaprc:49 F"])
    }

    func testAResultTextAloneOnItsLineIsACodeOnlyWhenTheWholeLineIsOne() throws {
        let text = """
            $ ldapsearch -LLL -x -H ldap://192.0.2.77:389 -D cn=app,o=corp -W -b ou=none,o=corp (objectclass=*)
            Enter LDAP Password:
            Insufficient access (50)
            Matched DN: o=corp
            $ ldapsearch -x -H ldap://192.0.2.77:389 -b o=corp (objectclass=*)
            # numEntries: 2
            (objectclass=*)
            Size limit exceeded (4) more
            Timelimit (3)
            CONNECTED(00000003)

            """
        XCTAssertEqual(try codes(text, named: "transcript2.txt"), ["ldaprc:50 F"])
        // Only in a client transcript: the same line in another file is no code.
        XCTAssertEqual(try codes("Some notes\nNo such object (32)\n", named: "notes.txt"), [])
    }

    func testLibldapHostNameChecksAreCodes() throws {
        let text = """
            $ ldapwhoami -x -H ldaps://dir.corp.example:636 -D cn=app,o=corp -w ********
            TLS: hostname (dir.corp.example) does not match common name in certificate (zos7.corp.example).
            ldap_sasl_bind(SIMPLE): Can't contact LDAP server (-1)
            $ ldapwhoami -x -H ldaps://192.0.2.80:636
            TLS: unable to get CN from peer certificate
            TLS: unable to get common name from peer certificate
            ldap_sasl_bind(SIMPLE): Can't contact LDAP server (-1)

            """
        XCTAssertEqual(try codes(text, named: "hostcheck.txt"),
                       ["libldap:HOSTNAME_MISMATCH F", "ldaprc:-1 F", "libldap:NO_PEER_CN F", "libldap:NO_PEER_CN F", "ldaprc:-1 F"])
        // The same words without libldap's TLS: prefix are no code.
        XCTAssertEqual(try codes("note: the name does not match common name in certificate checks\n", named: "prose.txt"), [])
    }

    func testLDIFResultLinesAreReadByTheirTextInAnyLayout() throws {
        let text = """
            # search result
            search: 3
            result: 32 No such object
            matchedDN: o=sample
            result: 0 Success

            """
        XCTAssertEqual(try codes(text, named: "ldif.txt"), ["ldaprc:32 F", "ldaprc:0"])
        // A result line whose text is not an LDAP result is no code, nor is the search count.
        XCTAssertEqual(try codes("result: 2 rows copied\nsearch: 2\n", named: "other.txt"), [])
    }

    func testApplicationsQuotingLibldap() throws {
        let text = """
            LDAP - Bind error -1  (Can't contact LDAP server)
            PHP Warning:  ldap_start_tls(): Unable to start TLS: Connect error in /srv/app/ldap.php on line 41
            PHP Warning:  ldap_bind(): Unable to bind to server: Invalid credentials in /srv/app/ldap.php on line 52
            ldap.SERVER_DOWN: {'result': -1, 'desc': "Can't contact LDAP server", 'errno': 104, 'ctrls': []}
            javax.naming.AuthenticationException: [LDAP: error code 49 - Invalid Credentials]

            """
        XCTAssertEqual(try codes(text, named: "apps.txt"),
                       ["ldaprc:-1 F", "ldaprc:-11 F", "ldaprc:49 F", "ldaprc:-1 F", "ldaprc:49 F"])
    }

    // MARK: OpenSSL

    func testSClientVerifyResultsAreFailuresExceptOK() throws {
        let failing = """
            CONNECTED(00000005)
            depth=0 CN = ldap.example.org
            verify error:num=20:unable to get local issuer certificate
            verify return:1
            depth=0 CN = ldap.example.org
            verify error:num=21:unable to verify the first certificate
            verify return:1
            ---
            Verification error: unable to verify the first certificate
                Verify return code: 21 (unable to verify the first certificate)

            """
        XCTAssertEqual(try codes(failing, named: "sclient.txt"),
                       ["x509verify:20 F", "x509verify:21 F", "x509verify:21 F", "x509verify:21 F"])
        let fine = """
            CONNECTED(00000005)
            depth=1 CN = Sample Root CA
            verify return:1
            ---
            Verification: OK
                Verify return code: 0 (ok)

            """
        XCTAssertEqual(try codes(fine, named: "sclient-ok.txt"), ["x509verify:0"], "a successful verify is no failure")
    }

    func testOpenSSLErrorStackReasonsAndAlerts() throws {
        let text = """
            80AB12CD34EF0000:error:0A000418:SSL routines:ssl3_read_bytes:tlsv1 alert unknown ca:../ssl/record/rec_layer_s3.c:1586:SSL alert number 48
            140001234567890:error:1409442E:SSL routines:ssl3_read_bytes:tlsv1 alert protocol version:../ssl/record/rec_layer_s3.c:1544:SSL alert number 70
            80AB12CD34EF0000:error:0A00010B:SSL routines::wrong version number:../ssl/record/ssl3_record.c:354:
            80AB12CD34EF0000:error:0A0000C1:SSL routines::no shared cipher:../ssl/statem/statem_srvr.c:2220:
            80AB12CD34EF0000:error:0A000102:SSL routines::unsupported protocol:../ssl/statem/statem_lib.c:1983:

            """
        XCTAssertEqual(try codes(text, named: "stack.txt"), [
            "opensslreason:TLSV1_ALERT_UNKNOWN_CA F", "alert:48 F",
            "opensslreason:TLSV1_ALERT_PROTOCOL_VERSION F", "alert:70 F",
            "opensslreason:WRONG_VERSION_NUMBER F", "opensslreason:NO_SHARED_CIPHER F", "opensslreason:UNSUPPORTED_PROTOCOL F",
        ])
        // A reason OpenSSL has but the catalogue does not is no code; the alert number still is.
        XCTAssertEqual(try codes("error:0A000412:SSL routines::sslv3 alert bad certificate:rec.c:1:SSL alert number 42\nerror:0A0001F4:SSL routines::some new reason:x.c:9:\n",
                                 named: "stack2.txt"), ["opensslreason:SSLV3_ALERT_BAD_CERTIFICATE F", "alert:42 F"])
    }

    func testLibldapOverOpenSSLNamesTheVerifyResultInBrackets() throws {
        let line = "TLS: can't connect: error:0A000086:SSL routines::certificate verify failed (unable to get local issuer certificate).\n"
        XCTAssertEqual(try codes(line, named: "libldap.txt"), ["opensslreason:CERTIFICATE_VERIFY_FAILED F", "x509verify:20 F"])
        // The label goes right after the reason, the verify decode after the verify text.
        let run = try Fixtures.runTool(["format", "--color", "never", Fixtures.write(line, named: "libldap2.txt")])
        XCTAssertTrue(run.stdout.contains("certificate verify failed [OpenSSL: "), run.stdout)
        XCTAssertTrue(run.stdout.contains("(unable to get local issuer certificate [verify 20: "), run.stdout)
    }

    // MARK: GnuTLS

    func testGnuTLSStatusBitsAndErrorTexts() throws {
        let text = """
            TLS: peer cert untrusted or revoked (0x402)
            TLS: can't connect: The TLS connection was non-properly terminated..
            *** Fatal error: A TLS fatal alert has been received.
            *** Received alert [42]: Bad certificate

            """
        XCTAssertEqual(try codes(text, named: "gnutls.txt"), ["gnutls:0x402 F", "gnutlserr:-110 F", "gnutlserr:-12 F", "alert:42 F"])
        let run = try Fixtures.runTool(["format", "--color", "never", Fixtures.write("TLS: peer cert untrusted or revoked (0x42)\n", named: "g2.txt")])
        XCTAssertTrue(run.stdout.contains("GNUTLS_CERT_INVALID+GNUTLS_CERT_SIGNER_NOT_FOUND"), run.stdout)
        // A bit the catalogue does not know: still a status (the line says so), shown as unknown.
        XCTAssertEqual(try codes("TLS: peer cert untrusted or revoked (0x40000000)\n", named: "g3.txt"), ["gnutls:0x40000000 F"])
        // A GnuTLS-like text that is not GnuTLS's is no code.
        XCTAssertEqual(try codes("TLS: can't connect: (unknown error code).\n", named: "g4.txt"), [])
    }

    // MARK: NSS

    func testMozNSSErrors() throws {
        let text = """
            TLS: certificate [CN=ldap.example.org,O=Sample] is not valid - error -8179:Peer's Certificate issuer is not recognized..
            TLS: error: connect - force handshake failure: errno 0 - moznss error -12263
            * NSS error -5938 (PR_END_OF_FILE_ERROR)
            TLS error -8172:Peer's certificate issuer has been marked as not trusted by the user.

            """
        XCTAssertEqual(try codes(text, named: "nss.txt"), ["nss:-8179 F", "nss:-12263 F", "nss:-5938 F", "nss:-8172 F"])
        // A number NSS does not have is not an NSS code.
        XCTAssertEqual(try codes("TLS: error: connect - force handshake failure: errno 0 - moznss error -1234\n", named: "nss2.txt"), [])
    }

    // MARK: curl

    func testCurlExitCodesAndTheirVerifyText() throws {
        let text = """
            curl: (60) SSL certificate problem: self-signed certificate in certificate chain
            curl: (60) SSL certificate problem: self signed certificate in certificate chain
            curl: (6) Could not resolve host: ldap.example.invalid
            curl: (28) Failed to connect to 10.20.30.40 port 636 after 75002 ms: Timeout was reached
            curl: (56) OpenSSL SSL_read: error:0A000412:SSL routines::sslv3 alert bad certificate, errno 0

            """
        XCTAssertEqual(try codes(text, named: "curl.txt"), [
            "curl:60 F", "x509verify:19 F", "curl:60 F", "x509verify:19 F", "curl:6 F", "curl:28 F",
            "curl:56 F", "opensslreason:SSLV3_ALERT_BAD_CERTIFICATE F",
        ])
        // curl's version banner carries numbers that are not exit codes.
        XCTAssertEqual(try codes("curl 8.5.0 (x86_64-pc-linux-gnu) libcurl/8.5.0 OpenSSL/3.0.13 zlib/1.3\n", named: "curl2.txt"), [])
    }

    // MARK: Java

    func testJavaExceptionsAndDebugLines() throws {
        let text = """
            javax.naming.CommunicationException: simple bind failed: ldap.example.org:1636 [Root exception is javax.net.ssl.SSLHandshakeException: PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target]
            javax.net.ssl.SSLHandshakeException: No appropriate protocol (protocol is disabled or cipher suites are inappropriate)
            Caused by: java.security.cert.CertificateException: No name matching ldap.example.org found
            javax.net.ssl.SSLHandshakeException: Remote host terminated the handshake
            javax.net.ssl.SSLException: Unsupported or unrecognized SSL message
            javax.net.ssl|DEBUG|10|main|2025-02-11 09:14:02.331 UTC|Alert.java:238|Received alert message ("level" : "fatal", "description" : "handshake_failure")
            main, RECV TLSv1.2 ALERT:  fatal, bad_certificate
            Cipher Suite: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256

            """
        XCTAssertEqual(try codes(text, named: "java.txt"), [
            "jsse:PKIX_PATH_BUILDING_FAILED F", "jsse:NO_APPROPRIATE_PROTOCOL F", "jsse:NO_NAME_MATCHING F",
            "jsse:REMOTE_HOST_TERMINATED_HANDSHAKE F", "jsse:UNSUPPORTED_SSL_MESSAGE F",
            "alert:40 F", "alert:42 F", "cipher:C02F",
        ])
        // Java 11+ debug output spreads a message over lines; the alert's context is a line before.
        let debug = """
            javax.net.ssl|DEBUG|10|main|2025-02-11 09:14:02.331 UTC|ServerHello.java:1095|Consuming ServerHello handshake message (
              "cipher suite"        : "TLS_AES_128_GCM_SHA256(0x1301)",
            javax.net.ssl|WARNING|10|main|2025-02-11 09:14:02.335 UTC|Alert.java:232|Received alert message (
            "Alert": {
              "level"      : "fatal",
              "description": "certificate_expired"
            }

            """
        XCTAssertEqual(try codes(debug, named: "java11.txt"), ["cipher:1301", "alert:45 F"])
        // "description" outside an alert, and a word that is no alert name, are not codes.
        XCTAssertEqual(try codes("{\"description\" : \"handshake_failure\"}\nReceived fatal alert: something_else\n", named: "java2.txt"), [])
    }

    // MARK: Python

    func testPythonSSLErrors() throws {
        let text = """
            ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired (_ssl.c:1000)
            ssl.SSLError: [SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1000)
            ssl.SSLError: [SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca (_ssl.c:1000)
            ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: IP address mismatch, certificate is not valid for '10.20.30.40'. (_ssl.c:1000)

            """
        XCTAssertEqual(try codes(text, named: "python.txt"), [
            "opensslreason:CERTIFICATE_VERIFY_FAILED F", "x509verify:10 F",
            "opensslreason:WRONG_VERSION_NUMBER F",
            "opensslreason:TLSV1_ALERT_UNKNOWN_CA F", "alert:48 F",
            "opensslreason:CERTIFICATE_VERIFY_FAILED F", "x509verify:64 F",
        ])
        // An unknown bracketed name is no code.
        XCTAssertEqual(try codes("ssl.SSLError: [SSL: SOMETHING_NEW] something new (_ssl.c:1000)\n", named: "py2.txt"), [])
    }

    func testProtocolVersionsAndCipherSuitesByName() throws {
        let text = """
            New, TLSv1.2, Cipher is ECDHE-RSA-AES256-GCM-SHA384
                Protocol  : TLSv1.2
            *** ServerHello, TLSv1.1

            """
        // OpenSSL's own cipher names are not the IANA names the catalogue has: no code for them.
        XCTAssertEqual(try codes(text, named: "versions.txt"), ["tlsversion:0303", "tlsversion:0303", "tlsversion:0302"])
    }

    // MARK: Negative lines

    func testUnrelatedNumbersAreNotCodes() throws {
        let text = """
            search: 2
            Tue Feb 11 09:14:02 UTC 2025
            # numResponses: 3
            # numEntries: 2
            Connecting to 10.20.30.40 (60) ...
            depth=2 CN = Sample Root CA
            verify return:1
            Server Temp Key: X25519, 253 bits

            """
        XCTAssertEqual(try codes(text, named: "quiet.txt"), [])
    }

    func testALongLineOfRepeatedLiteralsIsReadQuickly() throws {
        let line = String(repeating: "SSL routines:x:", count: 7_000) + String(repeating: "[SSL: ", count: 10_000)
            + String(repeating: "Received fatal alert: ", count: 5_000) + "\n"
        let start = Date()
        XCTAssertEqual(try codes(line, named: "hostile.txt"), [])
        XCTAssertLessThan(Date().timeIntervalSince(start), 20)
    }

    // MARK: The engine: names

    func testNameKeysIgnoreCaseUnderscoresAndTrailingStops() {
        XCTAssertEqual(Catalogue.nameKey("TLSV1_ALERT_UNKNOWN_CA"), "tlsv1 alert unknown ca")
        XCTAssertEqual(Catalogue.nameKey("  self-signed  certificate.. "), "self signed certificate")
        XCTAssertEqual(Catalogue.nameKey("Error in the pull function.."), "error in the pull function")
        XCTAssertEqual(Catalogue.nameKey(""), "")
        let alert = Fixtures.plugins.catalogue("alert")!
        XCTAssertEqual(alert.value(forName: "certificate_unknown"), .number(46))
        XCTAssertEqual(alert.value(forName: "CERTIFICATE UNKNOWN"), .number(46))
        XCTAssertNil(alert.value(forName: "certificate"))
        let verify = Fixtures.plugins.catalogue("x509verify")!
        XCTAssertEqual(verify.value(forName: "self signed certificate in certificate chain"), .number(19), "the OpenSSL 1.x wording (text_before_3_0)")
    }

    func testAByNamePatternNeedsAKnownByValue() throws {
        let problems = try Fixtures.loadProblems(withPlugin: """
            [[code]]
            find = 'reason: {code:rest}'
            catalogue = "alert"
            by = "label"
            """)
        XCTAssertTrue(problems.contains("by 'label' is not one of code, name"), problems)
    }
}
