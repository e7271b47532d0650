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

/// Client output in the shapes people paste it: any shell prompt or none, a lone libldap error,
/// libldap lines in an application's log, `ldapsearch -d 1` traces, `openssl s_client` sessions
/// and fragments, curl, Java and Python lines. Each attempt is one connection, named by the server
/// it went to, failed when anything in it failed, and linked to the server's AT-TLS connection by
/// address and port. All lines here are made up in the real layouts.
final class ClientTranscriptTests: XCTestCase {
    /// Reads `text` as a file of its own, with detection.
    func read(_ text: String, named name: String = "client.txt") throws -> ([Record], SourceSummary) {
        try Fixtures.records(Fixtures.write(text, named: name))
    }

    /// An attempt as the store keeps it.
    struct Attempt: Equatable, CustomStringConvertible {
        var outcome: String
        var error: String?
        var server: String?
        var records: Int
        var description: String { "\(outcome) \(error ?? "-") \(server ?? "-") \(records)" }
    }

    /// Ingests files (name, text) kept together in one folder; returns the store.
    func ingest(_ files: [(String, String)]) throws -> Store {
        let dir = Fixtures.tempDir()
        for (name, text) in files { try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8) }
        let run = try IngestRun(plugins: Fixtures.plugins, store: try Store.openForWriting(dir + "/t.db"), options: IngestOptions())
        XCTAssertEqual(run.run(files.map { dir + "/" + $0.0 }), 0)
        return run.store
    }

    /// The client attempts of a store, in order: outcome, primary error, server host or ip and port.
    func attempts(_ store: Store) throws -> [Attempt] {
        let q = try store.db.prepare("""
            SELECT c.outcome, c.error, c.records,
                   coalesce((SELECT value FROM conn_keys k WHERE k.conn = c.id AND k.name = 'server_host'),
                            (SELECT value FROM conn_keys k WHERE k.conn = c.id AND k.name = 'server_ip')),
                   (SELECT value FROM conn_keys k WHERE k.conn = c.id AND k.name = 'server_port')
            FROM connections c WHERE c.rule = 'client-attempt' ORDER BY c.id
            """)
        var out: [Attempt] = []
        while try q.step() {
            let host = q.string(3), port = q.string(4)
            let server: String? = host == nil && port == nil ? nil : "\(host ?? ""):\(port ?? "")"
            out.append(Attempt(outcome: q.string(0) ?? "", error: q.string(1), server: server, records: q.int(2)))
        }
        return out
    }

    func attempts(_ text: String) throws -> [Attempt] { try attempts(ingest([("client.txt", text)])) }

    // MARK: layout

    func testEveryPromptFormReadsTheCommand() throws {
        let prompts = [
            "operator@dirclient:~/probe$ ", "root@dirclient:/etc/openldap# ", "[root@lab07 ~]# ", "[kim@lab07 certs]$ ",
            "kim@raspi:~ $ ", "raspi:~ $ ", "PS C:\\Users\\kim> ", "kim@mac ~ % ", "$ ", "",
        ]
        for prompt in prompts {
            let (records, summary) = try read(prompt + "ldapsearch -x -H ldaps://dir.example.org:10636 -b o=acme\nldap_sasl_bind(SIMPLE): Can't contact LDAP server (-1)\n")
            XCTAssertEqual(summary.detection.layouts, ["client-transcript"], "prompt '\(prompt)'")
            XCTAssertEqual(summary.counts.unparsed, 0, "prompt '\(prompt)'")
            XCTAssertEqual(records.first?.field(.function), "ldapsearch", "prompt '\(prompt)'")
            XCTAssertEqual(records.flatMap(Fixtures.codes), ["ldaprc:-1"], "prompt '\(prompt)'")
        }
        // Other clients, with sudo or a variable before them.
        for line in ["kim@lab07:~$ sudo openssl s_client -connect 192.0.2.7:636", "[kim@lab07 ~]$ LDAPTLS_REQCERT=never ldapwhoami -H ldap://192.0.2.7 -ZZ",
                     "curl -v https://192.0.2.7:8443/", "PS C:\\> java -jar probe.jar", "kim@lab07:~$ wget https://192.0.2.7/", "kim@lab07:~$ python3 check.py", "gnutls-cli -p 636 dir.example.org"] {
            let (records, summary) = try read(line + "\n")
            XCTAssertEqual(summary.counts.unparsed, 0, line)
            XCTAssertEqual(records.count, 1, line)
        }
    }

    func testBareLibldapErrorAloneIsATranscript() throws {
        for line in ["ldap_sasl_bind(SIMPLE): Can't contact LDAP server (-1)", "ldap_start_tls: Connect error (-11)", "ldap_bind: Invalid credentials (49)",
                     "PHP Warning:  ldap_start_tls(): Unable to start TLS: Connect error in /srv/app/Ldap.php on line 88"] {
            let (records, summary) = try read(line + "\n")
            XCTAssertEqual(summary.detection.layouts, ["client-transcript"], line)
            XCTAssertEqual(records.count, 1, line)
            XCTAssertEqual(summary.counts.unparsed, 0, line)
        }
        XCTAssertEqual(try attempts("ldap_sasl_bind(SIMPLE): Can't contact LDAP server (-1)\n"), [Attempt(outcome: "failed", error: "ldaprc:-1", server: nil, records: 1)])
    }

    func testProseAloneIsNoTranscript() throws {
        let (records, summary) = try read("""
            We moved the directory to the new host last week.
            Since then the nightly export fails; it worked before the move.
            Any idea what changed?

            """)
        XCTAssertNil(summary.format, summary.detection.description)
        XCTAssertEqual(records.filter { !$0.isUnparsed }.count, 0)
        XCTAssertEqual(summary.counts.unparsed, 3)
    }

    func testScriptsAndCertificatesAreNoTranscripts() throws {
        // A script that makes certificates, a help text naming a command, a PEM file: no client ran.
        for (name, text) in [
            ("make.sh", "#!/bin/sh\nset -e\nopenssl req -new -x509 -key ca.key -subj /CN=Acme -out ca.pem\nopenssl x509 -in ca.pem -noout -text\necho done\n"),
            ("tool.py", "\"\"\"Makes the sample trace.\n\n    python3 tools/make_trace.py\n\nWrites next to itself.\"\"\"\nimport sys\n"),
            ("ca.pem", "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUBadc0ffee\n-----END CERTIFICATE-----\n"),
        ] {
            let (_, summary) = try read(text, named: name)
            XCTAssertFalse(summary.detection.layouts.contains("client-transcript"), "\(name): \(summary.detection.description)")
        }
    }

    func testProseBetweenOutputAndTrailingBlanks() throws {
        let text = """
            Here is what I get from the client box:

            kim@lab07:~$ ldapsearch -x -H ldaps://dir.example.org -b o=acme\("   ")
            ldap_sasl_bind(SIMPLE): Can't contact LDAP server (-1)\("        ")

            and with openssl:

            openssl s_client -connect dir.example.org:636\("     ")
            CONNECTED(00000004)\("                    ")
            depth=0\(" ")
            verify error:num=20:unable to get local issuer certificate\("      ")
            verify return:1\("   ")

            """
        let (records, summary) = try read(text)
        XCTAssertEqual(summary.detection.layouts, ["client-transcript"], summary.detection.description)
        // The first line comes before any client line: it stays as written. Everything the
        // clients printed is read.
        XCTAssertEqual(summary.unexplainedLines, [1])
        XCTAssertEqual(records.flatMap(Fixtures.codes), ["ldaprc:-1", "x509verify:20"])
        XCTAssertEqual(try attempts(text), [
            Attempt(outcome: "failed", error: "ldaprc:-1", server: "dir.example.org:636", records: 2),
            Attempt(outcome: "failed", error: "x509verify:20", server: "dir.example.org:636", records: 5),
        ])
    }

    func testApplicationLogWithLibldapLines() throws {
        let text = """
            TLS: can't connect: (unknown error code).
            LDAP - Bind error -1  (Can't contact LDAP server)
            res_errno: 1, res_error: <bind failed>, res_matched: <>
            TLS: can't connect: (unknown error code).
            LDAP - Search error -1  (Can't contact LDAP server)

            """
        let (_, summary) = try read(text, named: "app.log")
        XCTAssertEqual(summary.detection.layouts, ["client-transcript"])
        XCTAssertEqual(summary.counts.unparsed, 0)
        // Each report of libldap's result ends an attempt; the next TLS: line opens the next.
        XCTAssertEqual(try attempts(ingest([("app.log", text)])), [
            Attempt(outcome: "failed", error: "ldaprc:-1", server: nil, records: 2),
            Attempt(outcome: "failed", error: "ldaprc:-1", server: nil, records: 2),
        ])
    }

    func testIPv6Servers() throws {
        let text = """
            $ ldapsearch -x -H ldaps://[2001:db8::5]:1636 -b o=acme
            ldap_sasl_bind(SIMPLE): Can't contact LDAP server (-1)
            $ ldapsearch -x -H ldap://[2001:db8:10::7] -b o=acme
            ldap_sasl_bind(SIMPLE): Can't contact LDAP server (-1)
            $ ldapsearch -d1 -x -H ldaps://localhost -b o=acme
            ldap_connect_to_host: TCP localhost:636
            ldap_connect_to_host: Trying ::1 636
            ldap_pvt_connect: fd: 3 tm: -1 async: 0
            ldap_sasl_bind(SIMPLE): Can't contact LDAP server (-1)

            """
        let store = try ingest([("client.txt", text)])
        let q = try store.db.prepare("""
            SELECT (SELECT value FROM conn_keys k WHERE k.conn = c.id AND k.name = 'server_ip'),
                   (SELECT value FROM conn_keys k WHERE k.conn = c.id AND k.name = 'server_port')
            FROM connections c WHERE c.rule = 'client-attempt' ORDER BY c.id
            """)
        var got: [String] = []
        while try q.step() { got.append("\(q.string(0) ?? "-") \(q.string(1) ?? "-")") }
        XCTAssertEqual(got, ["2001:db8::5 1636", "2001:db8:10::7 389", "::1 636"])
    }

    func testLdapsearchDebugTrace() throws {
        let text = """
            [kim@lab07 ~]# ldapsearch -d1 -x -H ldaps://192.0.2.33 -b ou=people,o=acme
            ldap_url_parse_ext(ldaps://192.0.2.33)
            ldap_initialize( ldaps://192.0.2.33:636/??base )
            ldap_create
            ldap_sasl_bind
            ldap_send_initial_request
            ldap_new_connection 1 1 0
            ldap_int_open_connection
            ldap_connect_to_host: TCP 192.0.2.33:636
            ldap_new_socket: 3
            ldap_prepare_socket: 3
            ldap_connect_to_host: Trying 192.0.2.33:636
            ldap_pvt_connect: fd: 3 tm: -1 async: 0
            attempting to connect:
            connect success
            TLSMC: MozNSS compatibility interception begins.
            tlsmc_convert: INFO: trying to open NSS DB with CACertDir = `(null)'.
            TLS: certificate [CN=dir,O=Acme] is not valid - error -8179:Peer's Certificate issuer is not recognized..
            TLS: error: connect - force handshake failure: errno 0 - moznss error -8179
            ldap_sasl_bind(SIMPLE): Can't contact LDAP server (-1)

            """
        let (records, summary) = try read(text)
        XCTAssertEqual(summary.counts.unparsed, 0, "\(summary.unexplainedLines)")
        XCTAssertEqual(records.flatMap(Fixtures.codes), ["nss:-8179", "nss:-8179", "ldaprc:-1"])
        // One attempt: the numbers of the debug steps (1 1 0, fd: 3, -1) are no codes.
        XCTAssertEqual(try attempts(text), [Attempt(outcome: "failed", error: "nss:-8179", server: "192.0.2.33:636", records: records.count)])
    }

    func testSClientSessions() throws {
        // Verify errors fail the attempt though s_client goes on.
        XCTAssertEqual(try attempts("""
            openssl s_client -connect 10.9.8.7:636 -CAfile /tmp/ca.pem
            CONNECTED(00000003)
            depth=0
            verify error:num=20:unable to get local issuer certificate
            verify return:1
            depth=0
            verify error:num=21:unable to verify the first certificate
            verify return:1
            Certificate chain
             0 s:
               i:/DC=org/DC=acme/CN=Acme Issuing CA
            Server certificate
            -----BEGIN CERTIFICATE-----
            MIIBszCCAVmgAwIBAgIUBadc0ffee

            """), [Attempt(outcome: "failed", error: "x509verify:20", server: "10.9.8.7:636", records: 10)])
        // A port that never spoke TLS: failed, though the verify result says 0 (ok).
        let noTLS = """
            kim@lab07:~$ openssl s_client -showcerts -connect dir.example.org:389
            verify depth is 2
            CONNECTED(00000003)
            write:errno=0
            ---
            no peer certificate available
            ---
            No client certificate CA names sent
            ---
            SSL handshake has read 0 bytes and written 312 bytes
            Verification: OK
            ---
            New, (NONE), Cipher is (NONE)
            Secure Renegotiation IS NOT supported
            Verify return code: 0 (ok)

            """
        XCTAssertEqual(try attempts(noTLS).map(\.description), ["failed sclient:NONE dir.example.org:389 9"])
        let (records, _) = try read(noTLS)
        XCTAssertEqual(records.flatMap(Fixtures.codes), ["sclient:NONE", "x509verify:0"])
        // A session that worked stays ok.
        XCTAssertEqual(try attempts("""
            $ openssl s_client -connect dir.example.org:636 -servername dir.example.org
            CONNECTED(00000003)
            depth=1 C = GB, O = Acme, CN = Acme Issuing CA
            verify return:1
            depth=0 CN = dir.example.org
            verify return:1
            ---
            Certificate chain
             0 s:CN = dir.example.org
               i:C = GB, O = Acme, CN = Acme Issuing CA
            ---
            SSL handshake has read 2811 bytes and written 389 bytes
            Verification: OK
            ---
            New, TLSv1.3, Cipher is TLS_AES_128_GCM_SHA256
            SSL-Session:
                Protocol  : TLSv1.3
                Verify return code: 0 (ok)

            """).map(\.outcome), ["ok"])
    }

    func testDoctorSaysNothingSpokeTLS() throws {
        let path = Fixtures.write("""
            kim@lab07:~$ openssl s_client -connect dir.example.org:389
            CONNECTED(00000003)
            write:errno=0
            ---
            no peer certificate available
            ---
            SSL handshake has read 0 bytes and written 300 bytes
            ---
            New, (NONE), Cipher is (NONE)
            Verify return code: 0 (ok)

            """, named: "client.txt")
        let run = try Fixtures.runTool(["doctor", path])
        XCTAssertTrue(run.stdout.contains("connection 1: server dir.example.org:389"), run.stdout)
        XCTAssertTrue(run.stdout.contains("[no-tls-session]"), run.stdout)
        XCTAssertTrue(run.stdout.contains("read 0 bytes of handshake"), run.stdout)
    }

    func testSClientMsgAlertAndFragments() throws {
        let msg = """
            openssl s_client -msg -connect 192.0.2.90:4636
            CONNECTED(00000003)
            >>> TLS 1.2, Handshake [length 00c8], ClientHello
                01 00 00 c4 03 03 02 2f 6a 10 02 28 77 01
            <<< TLS 1.2, Alert [length 0002], fatal unknown_ca
                02 30
            140031221786432:error:14094418:SSL routines:ssl3_read_bytes:tlsv1 alert unknown ca:../ssl/record/rec_layer_s3.c:1543:SSL alert number 48

            """
        let (records, summary) = try read(msg)
        XCTAssertEqual(summary.counts.unparsed, 0)
        // The alert's bytes (30 = 48) and the error queue line agree; the ClientHello's bytes are no alert.
        XCTAssertEqual(records.flatMap(Fixtures.codes), ["alert:48", "opensslreason:TLSV1_ALERT_UNKNOWN_CA", "alert:48"])
        XCTAssertEqual(try attempts(msg), [Attempt(outcome: "failed", error: "alert:48", server: "192.0.2.90:4636", records: 5)])
        // Fragments without CONNECTED( or the command: each starts an attempt of its own lines.
        for fragment in ["depth=0 CN = dir.example.org\nverify error:num=10:certificate has expired\nverify return:1\n",
                         "Certificate chain\n 0 s:CN = dir.example.org\n   i:CN = Acme CA\n---\nServer certificate\n",
                         "---\nno peer certificate available\n---\nNew, (NONE), Cipher is (NONE)\n"] {
            let (_, summary) = try read(fragment)
            XCTAssertEqual(summary.detection.layouts, ["client-transcript"], fragment)
            XCTAssertLessThanOrEqual(summary.counts.unparsed, 1, fragment)  // a leading `---` alone
        }
        XCTAssertEqual(try attempts("depth=0 CN = dir.example.org\nverify error:num=10:certificate has expired\nverify return:1\n"),
                       [Attempt(outcome: "failed", error: "x509verify:10", server: nil, records: 3)])
    }

    func testCurlJavaPythonLines() throws {
        let text = """
            kim@lab07:~$ curl -v https://dir.example.org:9443/status
            *   Trying 192.0.2.51:9443...
            * Connected to dir.example.org (192.0.2.51) port 9443 (#0)
            * TLSv1.3 (OUT), TLS handshake, Client hello (1):
            * TLSv1.3 (IN), TLS alert, unknown CA (560):
            curl: (35) error:0A000418:SSL routines::tlsv1 alert unknown ca
            kim@lab07:~$ java -jar probe.jar dir.example.org 636
            Exception in thread "main" javax.net.ssl.SSLHandshakeException: PKIX path building failed
            \tat java.base/sun.security.ssl.Alert.createSSLException(Alert.java:131)
            \tat java.base/sun.security.ssl.TransportContext.fatal(TransportContext.java:371)
            Caused by: sun.security.validator.ValidatorException: PKIX path building failed
            \t... 23 more
            kim@lab07:~$ python3 probe.py
            Traceback (most recent call last):
              File "/home/kim/probe.py", line 9, in <module>
                sock.connect(("dir.example.org", 636))
            ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate (_ssl.c:1006)

            """
        let (_, summary) = try read(text)
        XCTAssertEqual(summary.detection.layouts, ["client-transcript"])
        XCTAssertEqual(summary.counts.unparsed, 0, "\(summary.unexplainedLines)")
        let found = try attempts(text)
        XCTAssertEqual(found.count, 3, "\(found)")
        XCTAssertEqual(found.first?.server, "dir.example.org:9443")
    }

    func testNumbersThatAreNoCodes() throws {
        let (records, _) = try read("""
            openssl s_client -connect 192.0.2.4:636
            CONNECTED(00000031)
            verify depth is 49
            SSL handshake has read 49 bytes and written 32 bytes
            write:errno=32
            ldap_new_connection 1 1 0
            ldap_pvt_connect: fd: 3 tm: -1 async: 0

            """)
        XCTAssertEqual(records.flatMap(Fixtures.codes), [])
    }

    func testHostileLinesStayBounded() throws {
        // Many prompt marks and URL starts in one line: read quickly, kept as one record.
        let line = "kim@lab07:~$ " + String(repeating: "$ # > % ldaps:// -connect ", count: 4000) + "ldapsearch"
        let start = Date()
        let (records, summary) = try read(line + "\n" + String(repeating: "\u{1}\u{7f}", count: 100) + "\n")
        XCTAssertLessThan(Date().timeIntervalSince(start), 20)
        XCTAssertEqual(records.reduce(0) { $0 + $1.lineCount }, 2, "no line lost")
        XCTAssertEqual(summary.counts.records + summary.counts.unparsed, records.count)
    }

    // MARK: linking

    func testAttemptLinksToTheATTLSConnectionOfItsServerAddressAndPort() throws {
        let client = """
            $ date
            Thu Mar 24 10:07:19 GMT 2022
            kim@lab07:~$ ldapsearch -H ldaps://10.20.1.5:636 -x -b o=acme "(uid=kim)"
            ldap_sasl_bind(SIMPLE): Can't contact LDAP server (-1)
            \tadditional info: A TLS fatal alert has been received.

            """
        // Two AT-TLS failures in the same second on the same address: only the port tells them apart.
        let attls = """
            Mar 24 10:07:19 ZOS2 TCPIP[67174433]: EZD1286I TTLS Error GRPID: 0000001B ENVID: 0000000B CONNID: 00000A3D LOCAL: 10.20.1.5..389 REMOTE: 10.20.9.45..50212 JOBNAME: LDAPSRV USERID: LDAPSRV RULE: LdapPlain RC:  402 Initial Handshake
            Mar 24 10:07:19 ZOS2 TCPIP[67174433]: EZD1286I TTLS Error GRPID: 0000001B ENVID: 0000000B CONNID: 00000A3C LOCAL: 10.20.1.5..636 REMOTE: 10.20.9.44..50211 JOBNAME: LDAPSRV USERID: LDAPSRV RULE: LdapSecure RC:  431 Initial Handshake

            """
        let store = try ingest([("client.txt", client), ("attls.log", attls)])
        let q = try store.db.prepare("""
            SELECT l.rule, (SELECT value FROM conn_keys k WHERE k.conn = l.story AND k.name = 'connid'), l.evidence
            FROM links l JOIN connections c ON c.id = l.conn WHERE c.rule = 'client-attempt'
            """)
        XCTAssertTrue(try q.step(), "the attempt is linked")
        XCTAssertEqual(q.string(0), "client-attls")
        XCTAssertEqual(q.string(1), "A3C")
        XCTAssertTrue(q.string(2)?.contains("server_port=local_port 636") ?? false, q.string(2) ?? "")

        // The console form (message id in column 1, no time) links the same way, by zos-messages.
        let console = """
            EZD1287I TTLS Error RC:  402 Initial Handshake
               LOCAL: ::FFFF:10.20.1.5..389
               REMOTE: ::FFFF:10.20.9.45..50212
               USERID: LDAPSRV GRPID: 00000002 ENVID: 00000004 CONNID: 00000B01
            EZD1287I TTLS Error RC:  431 Initial Handshake
               LOCAL: ::FFFF:10.20.1.5..636
               REMOTE: ::FFFF:10.20.9.44..50211
               USERID: LDAPSRV GRPID: 00000002 ENVID: 00000004 CONNID: 00000B02

            """
        let store2 = try ingest([("client.txt", client), ("console.txt", console)])
        let q2 = try store2.db.prepare("""
            SELECT l.rule, (SELECT value FROM conn_keys k WHERE k.conn = l.story AND k.name = 'connid')
            FROM links l JOIN connections c ON c.id = l.conn WHERE c.rule = 'client-attempt'
            """)
        XCTAssertTrue(try q2.step(), "the attempt is linked")
        XCTAssertEqual(q2.string(0), "client-zos")
        XCTAssertEqual(q2.string(1), "B02")
    }

    func testAttemptOnAnotherPortIsNotLinked() throws {
        let client = """
            $ date
            Thu Mar 24 10:07:19 GMT 2022
            $ ldapsearch -H ldaps://10.20.1.5:1636 -x -b o=acme
            ldap_sasl_bind(SIMPLE): Can't contact LDAP server (-1)

            """
        let attls = "Mar 24 10:07:19 ZOS2 TCPIP[67174433]: EZD1286I TTLS Error GRPID: 0000001B ENVID: 0000000B CONNID: 00000A3C LOCAL: 10.20.1.5..636 REMOTE: 10.20.9.44..50211 JOBNAME: LDAPSRV USERID: LDAPSRV RULE: LdapSecure RC:  431 Initial Handshake\n"
        let store = try ingest([("client.txt", client), ("attls.log", attls)])
        XCTAssertEqual(try store.db.scalar("SELECT count(*) FROM links"), 0)
    }

    func testPeerFilterFindsTheServerOfAnAttempt() throws {
        let dir = Fixtures.tempDir()
        try "$ ldapsearch -H ldaps://dir.example.org:10636 -x -b o=acme\nldap_sasl_bind(SIMPLE): Can't contact LDAP server (-1)\n"
            .write(toFile: dir + "/client.txt", atomically: true, encoding: .utf8)
        XCTAssertEqual(try Fixtures.runTool(["ingest", "--db", dir + "/t.db", dir + "/client.txt"]).status, 0)
        let hit = try Fixtures.runTool(["connections", "--db", dir + "/t.db", "--peer", "dir.example.org:10636"])
        XCTAssertTrue(hit.stdout.contains("dir.example.org:10636"), hit.stdout)
        let miss = try Fixtures.runTool(["connections", "--db", dir + "/t.db", "--peer", "dir.example.org:636"])
        XCTAssertFalse(miss.stdout.contains("dir.example.org"), miss.stdout)
    }

    // MARK: mixed

    func testConsoleLinesThenClientOutputReadMixed() throws {
        let text = """
            EZD1287I TTLS Error RC:  431 Initial Handshake
               LOCAL: ::FFFF:10.20.1.5..636
               REMOTE: ::FFFF:10.20.9.44..50211
               USERID: LDAPSRV GRPID: 00000002 ENVID: 00000004 CONNID: 00000B02
            GLD1116E Unable to initialize an SSL connection with 10.20.9.44: 431 - Certificate is revoked.
            kim@lab07:~$ ldapsearch -H ldaps://10.20.1.5:636 -x -b o=acme
            ldap_sasl_bind(SIMPLE): Can't contact LDAP server (-1)
            TLS: peer certificate was revoked.

            """
        let (records, summary) = try read(text, named: "pasted.txt")
        XCTAssertEqual(Set(summary.detection.layouts), ["zos-console", "client-transcript"], summary.detection.description)
        XCTAssertEqual(summary.counts.unparsed, 0)
        let byLine = Dictionary(uniqueKeysWithValues: records.map { ($0.line, $0) })
        XCTAssertEqual(byLine[1]?.layout?.name, "zos-console")
        XCTAssertEqual(byLine[1]?.lineCount, 4)
        XCTAssertEqual(byLine[6]?.layout?.name, "client-transcript")
        XCTAssertEqual(byLine[7]?.layout?.name, "client-transcript")
    }
}
