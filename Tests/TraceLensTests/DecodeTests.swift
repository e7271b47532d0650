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

final class DecodeTests: XCTestCase {
    func decodeLine(_ line: String) throws -> Record {
        let (records, _) = try Fixtures.records(Fixtures.write(line + "\n"), format: "gsktrace")
        return try XCTUnwrap(records.first)
    }

    func render(_ line: String) throws -> String {
        var r = TextRenderer(plugins: Fixtures.plugins, colour: false)
        return String(decoding: r.render(try decodeLine(line)), as: UTF8.self)
    }

    func testKnownValuesDecodeInline() throws {
        XCTAssertTrue(try render("Thd-3 ERROR check_revoked(): failed: Error 0x03353041").contains("Error 0x03353041 [CMS 03353041: Certificate is revoked.]"))
        XCTAssertTrue(try render("Thd-3 EXIT gsk_secure_socket_init(): <--- Exit status 0x000001af (431)").contains("Exit status 0x000001af (431) [SSL 431: Certificate is revoked.]"))
        XCTAssertTrue(try render("Thd-3 ERROR read_v3_alert(): SSL V3 alert 46 received from 10.1.0.2").contains("alert 46 [TLS alert 46 certificate_unknown] received"))
        let keyType = try render("Thd-2 ERROR read_v3_certificate(): Client certificate key type 13 not allowed for SSL V3 cipher 0x0035")
        XCTAssertTrue(keyType.contains("key type 13 [x509 ecPublicKey]"), keyType)
        XCTAssertTrue(keyType.contains("cipher 0x0035 [TLS_RSA_WITH_AES_256_CBC_SHA]"), keyType)
        XCTAssertTrue(try render("Thd-1 EXIT send_v3_alert(): <--- Exit status 0x00000000 (0)").contains("[SSL 0: Success.]"))
    }

    func testExitStatusCarryingACMSCodeIsDecodedAsCMS() throws {
        let r = try decodeLine("Thd-3 EXIT check_revoked(): <--- Exit status 0x0335306f (53817455)")
        XCTAssertEqual(Fixtures.codes(r), ["cms:0335306F"])
        XCTAssertTrue(try render("Thd-3 EXIT f(): <--- Exit status 0x03353041 (53817409)").hasSuffix("(53817409) [CMS 03353041: Certificate is revoked.]\n"))
    }

    func testUnknownCodesAreShownAsUnknown() throws {
        XCTAssertTrue(try render("Thd-3 EXIT f(): <--- Exit status 0x00000fff (4095)").contains("[SSL 4095: not in the system ssl return code catalogue]"))
        // A CMS code not listed one by one is decoded by its range row.
        let r = try decodeLine("Thd-3 ERROR f(): Error 0x03353FFE")
        XCTAssertEqual(Fixtures.codes(r), ["cms:03353FFE"])
    }

    func testCodesInEveryMessageLineButNotInDumps() throws {
        let text = """
            Thd-1 ERROR f(): first Error 0x03353041
                then alert 42 on a wrapped line
            Thd-1 ASCII f(): dump
                00000000: 616c6572 74203432                    *alert 42*
            """
        let (records, _) = try Fixtures.records(Fixtures.write(text), format: "gsktrace")
        XCTAssertEqual(Fixtures.codes(records[0]), ["cms:03353041", "alert:42"])
        XCTAssertEqual(Fixtures.codes(records[1]), [])
    }

    func testSecretsAreMaskedEverywhere() throws {
        let text = """
            Thd-1 INFO read_environment_variables(): Environment variable GSK_LDAP_PASSWORD=passwr0d
            GSK_KEYRING_PW=hunter2 in an unparsed line
            """
        let (out, _) = Fixtures.format([Fixtures.write(text)])
        XCTAssertFalse(out.contains("passwr0d"))
        XCTAssertFalse(out.contains("hunter2"))
        XCTAssertTrue(out.contains("GSK_LDAP_PASSWORD=********"))
        let (json, _) = Fixtures.format([Fixtures.write(text)]) { $0.json = true }
        XCTAssertFalse(json.contains("passwr0d"))
    }
}

final class ExplainTests: XCTestCase {
    let explainer = Explainer(plugins: Fixtures.plugins)

    func refs(_ q: String, kind: String? = nil) -> [String] { explainer.readings(q, kind: kind).map(\.ref) }

    func testEveryCodeForm() {
        XCTAssertEqual(refs("431"), ["ssl:431"])
        XCTAssertEqual(refs("0x1AF"), ["ssl:431"])
        XCTAssertEqual(refs("1af"), ["ssl:431"])
        XCTAssertEqual(refs("134CC1AF"), ["ssl:431"])
        XCTAssertEqual(refs("03353041"), ["cms:03353041"])
        XCTAssertEqual(refs("0x0335306f"), ["cms:0335306F"])
        // A bare number: every catalogue that has it, most likely first (GSK's 2-character cipher specs lead).
        XCTAssertEqual(refs("35"), ["cipher:0035", "x509verify:35", "ldaprc:35", "curl:35"])
        XCTAssertEqual(refs("0035"), ["cipher:0035"])
        XCTAssertEqual(refs("C02C"), ["cipher:C02C"])
        XCTAssertEqual(refs("0804"), ["sigalg:0804"])
        XCTAssertEqual(refs("0023"), ["group:0023"])
        XCTAssertEqual(refs("alert 42"), ["alert:42"])
        XCTAssertEqual(refs("42", kind: "alert"), ["alert:42"])
        XCTAssertEqual(refs("GSK_TRACE"), ["env:GSK_TRACE"])
        XCTAssertEqual(refs("key type 13"), ["keytype:13"])
        XCTAssertEqual(refs("no-such-code-xyz"), [])
    }

    func testAmbiguousValuesListEveryReading() {
        let r = refs("0601")
        XCTAssertTrue(r.contains("sigalg:0601"), "\(r)")
        XCTAssertTrue(r.contains("ssl:601"), "\(r)")
        XCTAssertEqual(refs("0601", kind: "sigalg"), ["sigalg:0601"])
        let eight = refs("8")
        XCTAssertTrue(eight.contains("ssl:8"))
    }

    func testSearchAndUnverifiedMarking() throws {
        let found = explainer.search("revoked").map(\.ref)
        XCTAssertTrue(found.contains("ssl:431"))
        XCTAssertTrue(found.contains("cms:03353041"))
        let presenter = ExplainPresenter(plugins: Fixtures.plugins, long: true)
        let r = try XCTUnwrap(explainer.readings("431").first)
        let text = presenter.text(r)
        XCTAssertTrue(text.hasPrefix("System SSL return code 431 (0x1AF): Certificate is revoked."), text)
        XCTAssertTrue(text.contains("[unverified]"), "431 comes from an unverified row: \(text)")
        XCTAssertTrue(text.contains("Related: CMS status code 03353041"), text)
        XCTAssertTrue(text.contains("Related: TLS alert 44"), text)
        let json = presenter.json(r)
        XCTAssertTrue(json.contains("\"decimal\":431") && json.contains("\"hex\":\"0x1AF\"") && json.contains("\"verified\":false"), json)
    }

    func testLongExplainSaysWhatARowWasCheckedAgainst() throws {
        let presenter = ExplainPresenter(plugins: Fixtures.plugins, long: true)
        let checked = try XCTUnwrap(explainer.readings("435").first { $0.catalogue.id == "ssl" })
        let text = presenter.text(checked)
        XCTAssertFalse(text.contains("[unverified]"), text)
        XCTAssertTrue(text.contains("\n    Checked against: http://www.ibm.com/support/docview.wss?uid=swg21285004"), text)
        XCTAssertFalse(text.contains("Not confirmed"), text)
        XCTAssertTrue(presenter.json(checked).contains("\"source\":\"http://www.ibm.com/"), presenter.json(checked))

        let unconfirmed = try XCTUnwrap(explainer.readings("03353041").first { $0.catalogue.id == "cms" })
        let long = presenter.text(unconfirmed)
        XCTAssertTrue(long.contains("[unverified]"), long)
        XCTAssertTrue(long.contains("\n    Not confirmed: no published page confirming this code and its text was found;"), long)
        XCTAssertFalse(long.contains("Checked against"), long)
        XCTAssertFalse(long.lowercased().contains("memory") || long.lowercased().contains("seed"), long)
        XCTAssertEqual(ExplainPresenter(plugins: Fixtures.plugins, long: false).text(unconfirmed),
                       "CMS status code 03353041 (53817409): Certificate is revoked. [unverified]")
    }

    func testEnvironmentListsDecodeElementByElement() throws {
        let ciphers = try XCTUnwrap(explainer.decodeList("GSK_V3_CIPHER_SPECS_EXPANDED=C02CC02BC030C02F130313011302"))
        XCTAssertEqual(ciphers.elements.map(\.text), ["C02C", "C02B", "C030", "C02F", "1303", "1301", "1302"])
        XCTAssertEqual(ciphers.elements.first?.reading?.entry?.name, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384")
        XCTAssertNil(ciphers.problem)
        let groups = try XCTUnwrap(explainer.decodeList("GSK_SERVER_TLS_KEY_SHARES=00300029002500240023"))
        XCTAssertEqual(groups.elements.compactMap { $0.reading?.entry?.name }, ["x448", "x25519", "secp521r1", "secp384r1", "secp256r1"])
        let sig = try XCTUnwrap(explainer.decodeList("gsk_tls_sig_alg_pairs=\"0601050104010301\""))
        XCTAssertEqual(sig.elements.count, 4)
        XCTAssertEqual(sig.elements[0].reading?.entry?.code, "0601")
        let short = try XCTUnwrap(explainer.decodeList("GSK_V3_CIPHER_SPECS_EXPANDED=C02CC0"))
        XCTAssertNotNil(short.problem)
        XCTAssertNil(explainer.decodeList("GSK_TRACE=0xff"), "not a list variable")
        let two = try XCTUnwrap(explainer.decodeList("GSK_V3_CIPHER_SPECS=3538"))
        XCTAssertEqual(two.elements.map { $0.reading?.entry?.code }, ["0035", "0038"])
    }
}
