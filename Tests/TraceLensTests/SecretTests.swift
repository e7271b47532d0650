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

/// Secrets are masked before anything prints or stores them, from the plugins' `[[secret]]` data:
/// every form a password is written in, GSK trace dumps of a key ring password, and every way
/// out (format, show, sql, explain, the store file itself).
final class SecretTests: XCTestCase {
    let masker = SecretMasker(plugins: Fixtures.plugins)

    func masked(_ line: String) -> String { masker.masked(line) }

    // MARK: - Forms

    func testPasswordFormsInFreeText() {
        let cases: [(String, String)] = [
            ("bind as cn=admin password=s3cret ok", "bind as cn=admin password=****** ok"),
            ("bind as cn=admin password = s3cret ok", "bind as cn=admin password = ****** ok"),
            ("Password: s3cret", "Password: ******"),
            ("PASSWORD:s3cret", "PASSWORD:******"),
            ("userPassword: {SSHA}abcdef", "userPassword: ************"),
            ("password = \"two words\" then", "password = *********** then"),
            ("db_password='two words'", "db_password=***********"),
            // A sentence about a password holds none.
            ("Invalid password for cn=admin", "Invalid password for cn=admin"),
        ]
        for (line, want) in cases { XCTAssertEqual(masked(line), want, line) }
    }

    func testGSKVariablesSpacedAndInAnyCase() {
        let cases: [(String, String)] = [
            ("Environment variable GSK_KEYRING_PW=passw0rd", "Environment variable GSK_KEYRING_PW=********"),
            ("GSK_KEYRING_PW = passw0rd", "GSK_KEYRING_PW = ********"),
            ("gsk_keyring_pw: passw0rd", "gsk_keyring_pw: ********"),
            ("export GSK_LDAP_PASSWORD=\"two words\"", "export GSK_LDAP_PASSWORD=***********"),
            ("Gsk_Ldap_User_Pw =x", "Gsk_Ldap_User_Pw =*"),
            // The attribute's name alone is no secret.
            ("gsk_attribute_set_buffer(): GSK_KEYRING_PW (length 8)", "gsk_attribute_set_buffer(): GSK_KEYRING_PW (length 8)"),
        ]
        for (line, want) in cases { XCTAssertEqual(masked(line), want, line) }
    }

    func testLDAPServerConfigurationPasswords() {
        let cases: [(String, String)] = [
            ("adminPW secret", "adminPW ******"),
            ("adminPW\ttwo words", "adminPW\t*********"),
            ("adminpw = secret", "adminpw = ******"),
            ("ADMINPW: secret", "ADMINPW: ******"),
            ("sslKeyRingFilePW k3y", "sslKeyRingFilePW ***"),
            ("sslkeyringfilepw=k3y", "sslkeyringfilepw=***"),
            ("dbUserPW passw0rd", "dbUserPW ********"),
            ("adminDN \"cn=admin\"", "adminDN \"cn=admin\""),
        ]
        for (line, want) in cases { XCTAssertEqual(masked(line), want, line) }
    }

    func testClientCommandLines() {
        let cases: [(String, String)] = [
            ("$ ldapsearch -x -D cn=admin -w \"two words\" -b o=x", "$ ldapsearch -x -D cn=admin -w *********** -b o=x"),
            ("$ ldapsearch -x -D cn=admin -w 'two words' -b o=x", "$ ldapsearch -x -D cn=admin -w *********** -b o=x"),
            ("$ ldapsearch -x -D cn=admin -w s3cret -b o=x", "$ ldapsearch -x -D cn=admin -w ****** -b o=x"),
            ("$ ldapsearch -x -wGlued -b o=x", "$ ldapsearch -x -w***** -b o=x"),
            ("$ ldapwhoami --password=s3cret", "$ ldapwhoami --password=******"),
            ("$ ldapwhoami --password s3cret", "$ ldapwhoami --password ******"),
            ("$ openssl pkcs12 -passin pass:s3cret -passout pass:0ther", "$ openssl pkcs12 -passin pass:****** -passout pass:*****"),
            ("$ openssl enc -pass pass:s3cret", "$ openssl enc -pass pass:******"),
            ("$ curl -u admin:s3cret https://h/", "$ curl -u admin:****** https://h/"),
            ("$ curl --user admin@example.com:s3cret https://h/", "$ curl --user admin@example.com:****** https://h/"),
            // Not an option: a word that holds -w.
            ("Thd-1 INFO f(): key-word and e-waste", "Thd-1 INFO f(): key-word and e-waste"),
            // openssl names where the password is: nothing to mask.
            ("$ openssl pkcs12 -passin env:PW", "$ openssl pkcs12 -passin env:PW"),
        ]
        for (line, want) in cases { XCTAssertEqual(masked(line), want, line) }
    }

    /// Every form a user pastes a password in (issue 14): options in every quoting, openssl,
    /// Java system properties, curl, keytool, environment variables, JSON, LDIF, URLs.
    static let pastedForms: [(String, String)] = [
        ("$ ldapsearch -x -D cn=admin -w s3cretA -b o=x", "$ ldapsearch -x -D cn=admin -w ******* -b o=x"),
        ("$ ldapsearch -x -D cn=admin -w \"sec retB\" -b o=x", "$ ldapsearch -x -D cn=admin -w ********** -b o=x"),
        ("$ ldapsearch -x -D cn=admin -w 'sec retC' -b o=x", "$ ldapsearch -x -D cn=admin -w ********** -b o=x"),
        ("$ ldapsearch -x -wGluedD -b o=x", "$ ldapsearch -x -w****** -b o=x"),
        ("$ openssl enc -aes256 -pass pass:OsslE1 -in a", "$ openssl enc -aes256 -pass pass:****** -in a"),
        ("$ openssl pkcs12 -passin pass:OsslF1 -passout 'pass:two wordsF2'", "$ openssl pkcs12 -passin pass:****** -passout 'pass:***********'"),
        ("$ openssl enc --pass pass:OsslG1 -in a", "$ openssl enc --pass pass:****** -in a"),
        ("$ openssl pkcs12 -password pass:OsslH1 -in k.p12", "$ openssl pkcs12 -password pass:****** -in k.p12"),
        ("$ java -Djavax.net.ssl.keyStorePassword=JksI1 -jar c.jar", "$ java -Djavax.net.ssl.keyStorePassword=***** -jar c.jar"),
        ("$ java \"-Djavax.net.ssl.trustStorePassword=two wordsJ\" -jar c.jar", "$ java \"-Djavax.net.ssl.trustStorePassword=**********\" -jar c.jar"),
        ("$ java -Djavax.net.ssl.trustStorePassword='two wordsK' -jar c.jar", "$ java -Djavax.net.ssl.trustStorePassword=************ -jar c.jar"),
        ("$ curl -u admin:CurlL1 https://h/", "$ curl -u admin:****** https://h/"),
        ("$ curl -u \"admin:two wordsM\" https://h/", "$ curl -u \"admin:**********\" https://h/"),
        ("$ curl --user 'admin@example.com:CurlN1' https://h/", "$ curl --user 'admin@example.com:******' https://h/"),
        ("$ keytool -list -keystore t.p12 -storepass KtO1 -keypass KtO2", "$ keytool -list -keystore t.p12 -storepass **** -keypass ****"),
        ("$ keytool -importkeystore -srcstorepass KtP1 -deststorepass \"two wordsP\"", "$ keytool -importkeystore -srcstorepass **** -deststorepass ************"),
        ("$ LDAP_PASSWORD=EnvQ1 python3 bind.py", "$ LDAP_PASSWORD=***** python3 bind.py"),
        ("export LDAP_PASSWORD=\"two wordsR\"", "export LDAP_PASSWORD=************"),
        ("{\"user\": \"cn=admin\", \"password\": \"x yS\"}", "{\"user\": \"cn=admin\", \"password\": ******}"),
        ("{\"bindPassword\":\"JsonT1\",\"port\":636}", "{\"bindPassword\":********,\"port\":636}"),
        ("{\"password\" : \"a\\\"quotedU\\\" b\", \"n\": 1}", "{\"password\" : ****************, \"n\": 1}"),
        ("{'host': 'h', 'password': 'two wordsV'}", "{'host': 'h', 'password': ************}"),
        ("userPassword: LdifW1", "userPassword: ******"),
        ("userPassword:: TGRpZlgxLWJhc2U2NA==", "userPassword:: ********************"),
        ("olcRootPW: {SSHA}RootY1", "olcRootPW: ************"),
        ("olcRootPW:: e1NTSEF9Um9vdFoy", "olcRootPW:: ****************"),
        ("rootpw   secretZ3", "rootpw   ********"),
        ("$ ldapsearch -H ldaps://cn=admin:UrlA1@ldap.example.com:636 -b o=x", "$ ldapsearch -H ldaps://cn=admin:*****@ldap.example.com:636 -b o=x"),
        ("GET https://admin:UrlB1@zosmf.example.com/zosmf/", "GET https://admin:*****@zosmf.example.com/zosmf/"),
    ]

    /// Lines that hold no password and must come out as written.
    static let noSecretForms = [
        "$ ldapsearch -x -D cn=admin -W -b o=x",
        "$ ldapsearch -x -D cn=admin -y /etc/ldap/bind.pw -b o=x",
        "$ ldapwhoami -x -D cn=admin -y/etc/ldap/bind.pw",
        "Enter LDAP Password:",
        "Password:",
        "the password policy of the directory locks an account after 3 failures",
        "$ keytool -list -keystore t.p12 -storepass:env KSPW",
        "$ openssl pkcs12 -passin file:/etc/pki/p12.pw -in k.p12",
        "$ ldapsearch -H ldaps://ldap.example.com:636 -b o=x cn=user@example.com",
        "userPassword:",
    ]

    func testEveryPastedFormIsMasked() {
        for (line, want) in Self.pastedForms { XCTAssertEqual(masked(line), want, line) }
        for line in Self.noSecretForms { XCTAssertEqual(masked(line), line, line) }
    }

    func testALongWordOfManyCredentialsIsMaskedInLinearTime() {
        // One 240 KB word holding 20,000 URL passwords: each is masked, and the look back for
        // an open quote and a token's reach are bounded, so this stays linear, not quadratic.
        let line = String(repeating: "ldap://u:pw@", count: 20_000)
        let started = Date()
        let out = masked(line)
        XCTAssertLessThan(Date().timeIntervalSince(started), 20)
        XCTAssertFalse(out.contains(":pw@"))
        XCTAssertTrue(out.hasPrefix("ldap://u:**@ldap://u:**@"), String(out.prefix(40)))
        // An open quote far back in a long word: the value is masked to the end of the line.
        let quoted = "\"" + String(repeating: "a", count: 1_000) + " x -w s3cret"
        XCTAssertEqual(masked(quoted), "\"" + String(repeating: "a", count: 1_000) + " x -w ******")
    }

    func testAFoldedLDIFPasswordIsMaskedOnItsFoldedLinesToo() throws {
        let ldif = """
            dn: uid=jdoe,ou=people,o=example
            userPassword:: e1NTSEF9Rm9sZGVkUGFzc3dvcmRIYXNoV2l0aFNhbHRWYWx1ZUxvbmdFbm91Z2hUb1dy
             YXBGb2xkZWQx
            mail: jdoe@example.com
             continued mail is no password
            """
        let out = masked(ldif).split(separator: "\n").map(String.init)
        XCTAssertEqual(out[1], "userPassword:: " + String(repeating: "*", count: 68))
        XCTAssertEqual(out[2], " " + String(repeating: "*", count: 12))
        XCTAssertEqual(out[3], "mail: jdoe@example.com")
        XCTAssertEqual(out[4], " continued mail is no password")
        // Read as a file, one line at a time, the folded line is masked too.
        let (records, _) = try Fixtures.records(Fixtures.write(ldif, named: "people.ldif"))
        let all = records.map { String(decoding: $0.bytes, as: UTF8.self) }.joined(separator: "\n")
        XCTAssertFalse(all.contains("YXBGb2xkZWQx") || all.contains("e1NTSEF9"), all)
        XCTAssertTrue(all.contains("continued mail is no password"), all)
    }

    /// The pasted forms as one session file: none of their secrets is printed (text and JSON)
    /// or stored, and the lines without secrets come out whole.
    func testPastedFormsNeverReachOutputOrTheStore() throws {
        let dir = Fixtures.tempDir()
        let path = dir + "/pasted.txt"
        let text = (Self.pastedForms.map(\.0) + Self.noSecretForms).joined(separator: "\n") + "\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let secrets = ["s3cretA", "retB", "retC", "GluedD", "OsslE1", "OsslF1", "wordsF2", "OsslG1", "OsslH1", "JksI1", "wordsJ",
                       "wordsK", "CurlL1", "wordsM", "CurlN1", "KtO1", "KtO2", "KtP1", "wordsP", "EnvQ1", "wordsR", "x yS", "JsonT1",
                       "quotedU", "wordsV", "LdifW1", "TGRpZlgx", "RootY1", "e1NTSEF9Um9v", "secretZ3", "UrlA1", "UrlB1"]
        for args in [["format", path], ["format", "--json", path]] {
            let run = try Fixtures.runTool(args)
            XCTAssertEqual(run.status, 0, args.joined(separator: " "))
            assertNoSecret(run.stdout + run.stderr, secrets, args.joined(separator: " "))
            XCTAssertTrue(run.stdout.contains("-y /etc/ldap/bind.pw"), run.stdout)
            XCTAssertTrue(run.stdout.contains("password policy of the directory"), run.stdout)
            XCTAssertTrue(run.stdout.contains("-storepass:env KSPW"), run.stdout)
        }
        let db = dir + "/t.db"
        let ingest = try Fixtures.runTool(["ingest", "--db", db, path])
        XCTAssertEqual(ingest.status, 0, ingest.stderr)
        assertNoSecret(ingest.stdout + ingest.stderr, secrets, "ingest")
        for suffix in ["", "-wal", "-shm", "-journal"] {
            guard let data = FileManager.default.contents(atPath: db + suffix) else { continue }
            for s in secrets { XCTAssertNil(data.range(of: Data(s.utf8)), "\(s) is in the store file\(suffix)") }
        }
        let sql = try Fixtures.runTool(["sql", "--db", db, "select text from records"])
        XCTAssertEqual(sql.status, 0)
        assertNoSecret(sql.stdout, secrets, "sql")
        XCTAssertTrue(sql.stdout.contains("-W -b o=x"), sql.stdout)
        XCTAssertTrue(sql.stdout.contains("ldaps://cn=admin:*****@ldap.example.com:636"), sql.stdout)
    }

    func testKeyLogLinesWithAnySeparator() {
        let random = String(repeating: "5a", count: 32)
        let secret = String(repeating: "9f", count: 48)
        let stars = String(repeating: "*", count: 96)
        let cases: [(String, String)] = [
            ("CLIENT_RANDOM \(random) \(secret)", "CLIENT_RANDOM \(random) \(stars)"),
            ("CLIENT_RANDOM\t\(random)\t\(secret)", "CLIENT_RANDOM\t\(random)\t\(stars)"),
            ("CLIENT_RANDOM  \(random)  \(secret)", "CLIENT_RANDOM  \(random)  \(stars)"),
            ("CLIENT_RANDOM:\(random):\(secret)", "CLIENT_RANDOM:\(random):\(stars)"),
            ("CLIENT_RANDOM=\(random),\(secret)", "CLIENT_RANDOM=\(random),\(stars)"),
            // Without any space: the random is 64 hex digits, the secret follows it.
            ("CLIENT_RANDOM\(random)\(secret)", "CLIENT_RANDOM\(random)\(stars)"),
            ("SERVER_TRAFFIC_SECRET_0 \(random) \(secret)", "SERVER_TRAFFIC_SECRET_0 \(random) \(stars)"),
            ("EARLY_EXPORTER_SECRET \(random) \(secret)", "EARLY_EXPORTER_SECRET \(random) \(stars)"),
            ("    Master-Key:ABCDEF0123", "    Master-Key:**********"),
            ("    Master-Key: ABCDEF0123", "    Master-Key: **********"),
        ]
        for (line, want) in cases { XCTAssertEqual(masked(line), want, line) }
    }

    // MARK: - GSK trace dumps

    static let gskDump = """
        03/24/2022-08:24:07 Thd-1 ENTRY gsk_attribute_set_buffer(): ---> Handle 0x2A4F1018
        03/24/2022-08:24:07 Thd-1 EBCDIC gsk_attribute_set_buffer(): GSK_KEYRING_PW (length 20)
            00000000: 9781a2a2 a6f09984 40a2e3d9 d6d5c7a9  *passw0rd sTRONGz*
            00000010: f1f2f3f4                             *1234*
        03/24/2022-08:24:07 Thd-1 EXIT gsk_attribute_set_buffer(): <--- Exit status 0x00000000 (0)
        03/24/2022-08:24:07 Thd-1 ENTRY gsk_attribute_set_buffer(): ---> Handle 0x2A4F1018
        03/24/2022-08:24:07 Thd-1 ASCII gsk_attribute_set_buffer(): GSK_LDAP_PASSWORD (length 9)
            00000000: 6c646170 5061737331                  *ldapPass1*
        03/24/2022-08:24:07 Thd-1 EXIT gsk_attribute_set_buffer(): <--- Exit status 0x00000000 (0)
        03/24/2022-08:24:07 Thd-1 ENTRY gsk_attribute_set_buffer(): ---> Handle 0x2A4F1018
        03/24/2022-08:24:07 Thd-1 EBCDIC gsk_attribute_set_buffer(): GSK_KEYRING_FILE (length 13)
            00000000: e2e3c1d9 e3f161d4 d8d9c9d5 c7        *START1/MQRING*
        03/24/2022-08:24:07 Thd-1 EXIT gsk_attribute_set_buffer(): <--- Exit status 0x00000000 (0)

        """

    /// Pieces of the two passwords, as hex and as text.
    static let dumpSecrets = ["passw0rd", "sTRONGz", "1234", "9781a2a2", "a6f09984", "f1f2f3f4", "ldapPass1", "6c646170", "5061737331"]

    func testKeyRingPasswordDumpIsMaskedInHexAndText() throws {
        let path = Fixtures.write(Self.gskDump, named: "gskssl.1.trc")
        let (records, summary) = try Fixtures.records(path)
        XCTAssertEqual(summary.format, "gsktrace")
        let all = records.map { String(decoding: $0.bytes, as: UTF8.self) }.joined(separator: "\n")
        for s in Self.dumpSecrets { XCTAssertFalse(all.contains(s), "\(s) left in \(all)") }
        XCTAssertTrue(all.contains("    00000000: ******** ******** ******** ********  ******************"), all)
        XCTAssertTrue(all.contains("    00000010: ********                             ******"), all)
        XCTAssertTrue(all.contains("    00000000: ******** **********                  ***********"), all)
        // The key ring's name is no secret: its dump stays, and decodes.
        XCTAssertTrue(all.contains("e2e3c1d9 e3f161d4 d8d9c9d5 c7        *START1/MQRING*"), all)
        XCTAssertEqual(summary.secretsMasked, 2)
        for r in records { XCTAssertFalse(String(decoding: r.dumpText, as: UTF8.self).contains("passw0rd")) }
    }

    func testDumpLinesReadAsSeparateUnparsedLinesAreMaskedToo() throws {
        // No layout recognises these lines, so each is its own unparsed record: the masker
        // carries the announced dump from one to the next.
        let text = """
            note: gsk_attribute_set_buffer(): GSK_KEYRING_PW (length 8)
            00000000: 70617373 77307264  |passw0rd|
            0010: 3132                   |12|
            10:07:19 the next line is no dump: 0123abcd
            """
        let (records, _) = try Fixtures.records(Fixtures.write(text, named: "notes.txt"))
        let lines = records.map { String(decoding: $0.bytes, as: UTF8.self) }
        XCTAssertEqual(lines, [
            "note: gsk_attribute_set_buffer(): GSK_KEYRING_PW (length 8)",
            "00000000: ******** ********  |********|",
            "0010: ****                   |**|",
            "10:07:19 the next line is no dump: 0123abcd",
        ])
    }

    func testAWholeEBCDICTraceFileIsMasked() throws {
        let path = Fixtures.write(Fixtures.ebcdic(Self.gskDump), named: "gskssl.2.trc")
        let (records, _) = try Fixtures.records(path)
        let all = records.map { String(decoding: $0.bytes, as: UTF8.self) }.joined(separator: "\n")
        XCTAssertTrue(all.contains("GSK_KEYRING_PW (length 20)"), all)
        for s in Self.dumpSecrets { XCTAssertFalse(all.contains(s), "\(s) left") }
    }

    // MARK: - Every way out

    /// A trace and a transcript holding every kind of secret, and the secrets themselves.
    func secretFiles() -> (paths: [String], secrets: [String]) {
        let dir = Fixtures.tempDir()
        let trace = Self.gskDump + """
            03/24/2022-08:24:08 Thd-1 INFO read_environment_variables(): Environment variable GSK_LDAP_USER_PW = Userpw99
            03/24/2022-08:24:08 Thd-1 INFO f(): CLIENT_RANDOM\t\(String(repeating: "5a", count: 32))\tdeadbeefcafe0123
            03/24/2022-08:24:08 Thd-1 INFO f(): password: hunter22
            """
        let transcript = """
            $ ldapsearch -H ldaps://ldap.example.com -D cn=admin -w "correct horse" -b o=x
            $ ldapsearch -x -wGlued77 -b o=x
            $ openssl pkcs12 -in k.p12 -passin pass:Pkcs12pw -out k.pem
            $ curl -u admin:Curlpw55 https://ldap.example.com/
            """
        let conf = "adminDN cn=admin\nadminPW Adminpw42\nsslKeyRingFilePW = Ringpw43\ndbuserpw: Dbpw44\n"
        try! trace.write(toFile: dir + "/gskssl.3.trc", atomically: true, encoding: .utf8)
        try! transcript.write(toFile: dir + "/session.txt", atomically: true, encoding: .utf8)
        try! conf.write(toFile: dir + "/ds.conf", atomically: true, encoding: .utf8)
        let secrets = Self.dumpSecrets + ["Userpw99", "deadbeefcafe0123", "hunter22", "correct horse", "horse", "Glued77", "Pkcs12pw",
                                          "Curlpw55", "Adminpw42", "Ringpw43", "Dbpw44"]
        return ([dir + "/gskssl.3.trc", dir + "/session.txt", dir + "/ds.conf"], secrets)
    }

    func assertNoSecret(_ text: String, _ secrets: [String], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        for s in secrets { XCTAssertFalse(text.contains(s), "\(what) shows \(s)", file: file, line: line) }
    }

    func testFormatNeverPrintsASecret() throws {
        let (paths, secrets) = secretFiles()
        for args in [["format"] + paths, ["format", "--json"] + paths] {
            let run = try Fixtures.runTool(args)
            XCTAssertEqual(run.status, 0, args.joined(separator: " "))
            XCTAssertTrue(run.stdout.contains("adminPW *********"), run.stdout)
            assertNoSecret(run.stdout + run.stderr, secrets, args.prefix(2).joined(separator: " "))
        }
    }

    func testTheStoreFileNeverHoldsASecretAndNoQueryShowsOne() throws {
        let (paths, secrets) = secretFiles()
        let db = Fixtures.tempDir() + "/t.db"
        let ingest = try Fixtures.runTool(["ingest", "--db", db] + paths)
        XCTAssertEqual(ingest.status, 0)
        assertNoSecret(ingest.stdout + ingest.stderr, secrets, "ingest")
        // The bytes of the store and its journal files: no secret in any page, indexes included.
        for suffix in ["", "-wal", "-shm", "-journal"] {
            guard let data = FileManager.default.contents(atPath: db + suffix) else { continue }
            for s in secrets { XCTAssertNil(data.range(of: Data(s.utf8)), "\(s) is in the store file\(suffix)") }
        }
        let sql = try Fixtures.runTool(["sql", "--db", db, "select text from records"])
        XCTAssertEqual(sql.status, 0)
        XCTAssertTrue(sql.stdout.contains("adminPW *********"), sql.stdout)
        assertNoSecret(sql.stdout, secrets, "sql")
        let show = try Fixtures.runTool(["show", "--db", db, "1"])
        assertNoSecret(show.stdout + show.stderr, secrets, "show")
        let search = try Fixtures.runTool(["sql", "--db", db, "select count(*) from records where text like '%hunter22%' or text like '%Adminpw42%'"])
        XCTAssertEqual(search.stdout.split(separator: "\n").last?.trimmingCharacters(in: .whitespaces), "0", search.stdout)
    }

    func testExplainNeverEchoesAPassword() throws {
        for args in [["explain", "GSK_KEYRING_PW=s3cretpw"], ["explain", "GSK_KEYRING_PW=s3cretpw", "431"],
                     ["explain", "--json", "GSK_KEYRING_PW=s3cretpw"], ["explain", "password=s3cretpw"],
                     ["explain", "--search", "password=s3cretpw"]] {
            let run = try Fixtures.runTool(args)
            XCTAssertFalse(run.stdout.contains("s3cretpw") || run.stderr.contains("s3cretpw"), args.joined(separator: " "))
        }
        let grouped = try Fixtures.runTool(["explain", "GSK_KEYRING_PW=s3cretpw", "431"])
        XCTAssertTrue(grouped.stdout.contains("GSK_KEYRING_PW=********:"), grouped.stdout)
    }

    func testWatchPrintsAndStoresTheDumpMaskedWhenItArrivesLater() throws {
        let h = try FollowHarness(patterns: ["gskssl.7.trc"])
        let lines = Self.gskDump.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // The announcing line first; its dump lines are written a moment later.
        h.append("gskssl.7.trc", lines[0...1].joined(separator: "\n") + "\n")
        h.cycle()
        h.append("gskssl.7.trc", lines[2...].joined(separator: "\n"))
        h.cycle()
        h.cycle(advance: 0.5)
        let stored = try h.records().joined(separator: "\n")
        XCTAssertTrue(stored.contains("00000010: ********"), stored)
        assertNoSecret(stored, Self.dumpSecrets, "the store")
        assertNoSecret(h.printed, Self.dumpSecrets, "watch")
        XCTAssertTrue(h.printed.contains("********"), h.printed)
    }

    func testWatchMasksADumpOfUnparsedLinesThatArrivesLater() throws {
        let h = try FollowHarness(patterns: ["notes.txt"])
        h.append("notes.txt", "note: gsk_attribute_set_buffer(): GSK_KEYRING_PW (length 8)\n")
        h.cycle()
        h.append("notes.txt", "00000000: 70617373 77307264  |passw0rd|\nnext line\n")
        h.cycle()
        h.cycle(advance: 0.5)
        let stored = try h.records()
        XCTAssertEqual(stored.count, 3, "\(stored)")
        XCTAssertEqual(stored.last, "next line")
        assertNoSecret(stored.joined(separator: "\n") + h.printed, ["passw0rd", "70617373"], "watch")
    }

    /// `ingest` of a file that grew between two runs: the first run ends on the line announcing
    /// the dump, the second reads the dump lines; they are masked (the state is in the ledger).
    func testIngestOfAGrownFileMasksADumpAnnouncedInTheEarlierRun() throws {
        let dir = Fixtures.tempDir(), file = dir + "/notes.txt", db = dir + "/t.db"
        try "note: gsk_attribute_set_buffer(): GSK_KEYRING_PW (length 8)\n".write(toFile: file, atomically: false, encoding: .utf8)
        XCTAssertEqual(try Fixtures.runTool(["ingest", "--db", db, file]).status, 0)
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: file))
        handle.seekToEndOfFile()
        handle.write(Data("00000000: 70617373 77307264  |passw0rd|\nnext line\n".utf8))
        try handle.close()
        let second = try Fixtures.runTool(["ingest", "--db", db, file])
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stdout.contains("grew: added 2 records"), second.stdout)
        let stored = try Fixtures.runTool(["sql", "--db", db, "select text from records order by id"])
        XCTAssertTrue(stored.stdout.contains("next line"), stored.stdout)
        assertNoSecret(stored.stdout, ["passw0rd", "70617373"], "the store")
        for suffix in ["", "-wal"] {
            guard let data = FileManager.default.contents(atPath: db + suffix) else { continue }
            XCTAssertNil(data.range(of: Data("passw0rd".utf8)), "the store file\(suffix)")
        }
    }

    func testThePrefilterOfTheBuiltInRulesStaysOnTheMemchrPath() {
        // Anchors are picked so that few distinct bytes find every rule's literal (w/W, R, K ...).
        XCTAssertTrue(masker.prefilter.usesMemchr, "\(masker.prefilter.anchorSet)")
    }

    func testPrefilterFindsLiteralsInAnyCaseAndEveryLiteralAtOnePosition() {
        let p = LiteralPrefilter([Array("password".utf8), Array("rc=".utf8), Array("rc=".utf8), Array("Key".utf8)], ignoringCase: [true, false, false, false])
        var hits: [String] = []
        let line = Array("PassWord rc=4 key Key".utf8)
        line.withUnsafeBufferPointer { b in p.scan(b) { i, at in hits.append("\(i)@\(at)"); return at + 1 } }
        XCTAssertEqual(hits, ["0@0", "1@9", "2@9", "3@18"])
    }

    // MARK: - lint

    func testLintReportsSpacedAndLowercaseForms() {
        let linter = ConfigLinter(plugins: Fixtures.plugins)
        let gskEnv = Fixtures.plugins.configKinds.first { $0.name == "gsk-env" }!
        let ldapConf = Fixtures.plugins.configKinds.first { $0.name == "ldap-conf" }!
        func findings(_ text: String, _ kind: ConfigKind, _ rule: String) -> [Int?] {
            linter.lint(text, kind: kind).findings.filter { $0.rule == rule }.map(\.line)
        }
        XCTAssertEqual(findings("GSK_KEYRING_PW = s3cret\n", gskEnv, "keyring-password-in-clear"), [1])
        XCTAssertEqual(findings("gsk_keyring_pw=s3cret\n", gskEnv, "keyring-password-in-clear"), [1])
        XCTAssertEqual(findings("export gsk_ldap_password: s3cret\n", gskEnv, "crl-password-in-clear-ldap-password"), [1])
        XCTAssertEqual(findings("GSK_TRACE=0\nGSK_KEYRING_PW=\n", gskEnv, "keyring-password-in-clear"), [], "no value, no password")
        XCTAssertEqual(findings("adminDN cn=admin\nadminpw s3cret\n", ldapConf, "admin-password-in-clear"), [2])
        XCTAssertEqual(findings("adminDN cn=admin\nadminPW: s3cret\n", ldapConf, "admin-password-in-clear"), [2])
        XCTAssertEqual(findings("adminDN cn=admin\nsslKeyRingFilePW = s3cret\n", ldapConf, "keyring-file-password-in-clear"), [2])
        let report = linter.lint("GSK_KEYRING_PW = s3cret\ngsk_keyring_pw=0ther\n", kind: gskEnv)
        XCTAssertEqual(report.findings.filter { $0.rule == "keyring-password-in-clear" }.map(\.line), [1, 2])
        XCTAssertFalse(report.findings.map { $0.message + $0.action }.joined().contains("s3cret"))
    }

    // MARK: - Samples

    func testEverySecretRuleOfTheBuiltInPluginsHasAPassingSample() {
        XCTAssertTrue(Fixtures.loaded.1.isEmpty, "\(Fixtures.loaded.1)")
        let rules = Fixtures.plugins.secretRules
        XCTAssertGreaterThanOrEqual(rules.count, 25)
        for rule in rules { XCTAssertNotNil(rule.sample, "\(rule.file) \(rule.entry) '\(rule.template.source)' has no sample") }
        XCTAssertTrue(rules.contains { $0.following == .dump })
    }

    func testASecretSampleThatIsNotMaskedIsReported() throws {
        let wrong = try Fixtures.loadProblems(withPlugin: """
            [[secret]]
            find = 'keystore password={secret:word}'
            sample = 'keystore password=abc def'
            masked = 'keystore password=*** ***'
            """)
        XCTAssertTrue(wrong.contains("[[secret]] 1: sample 'keystore password=abc def': expected 'keystore password=*** ***', got 'keystore password=*** def'"), wrong)
        let same = try Fixtures.loadProblems(withPlugin: """
            [[secret]]
            find = 'storepass {secret:word}'
            sample = 'no secret here'
            masked = 'no secret here'
            """)
        XCTAssertTrue(same.contains("the sample shows no secret being masked"), same)
        let half = try Fixtures.loadProblems(withPlugin: "[[secret]]\nfind = 'pin={secret:word}'\nsample = 'pin=1'\n")
        XCTAssertTrue(half.contains("give 'sample' and 'masked' together"), half)
        let following = try Fixtures.loadProblems(withPlugin: "[[secret]]\nfind = 'PIN follows'\nfollowing = \"lines\"\n")
        XCTAssertTrue(following.contains("following 'lines' is not one of: dump"), following)
        let good = try Fixtures.loadProblems(withPlugin: """
            [[secret]]
            find = 'storepass{? }{:one(=|:)}{? }{secret:word}'
            ignore-case = true
            sample = 'STOREPASS = s3cret'
            masked = 'STOREPASS = ******'

            [[secret]]
            find = 'PIN follows:'
            following = "dump"
            sample = "PIN follows:\\n  0000: 31323334 *1234*"
            masked = "PIN follows:\\n  0000: ******** ******"
            """)
        XCTAssertEqual(good, "")
    }
}
