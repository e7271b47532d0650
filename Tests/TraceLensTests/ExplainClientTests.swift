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

/// `explain` for the codes clients print: negative numbers, bare numbers read in every
/// catalogue (most likely first), hex bit masks, names.
final class ExplainClientTests: XCTestCase {
    let explainer = Explainer(plugins: Fixtures.plugins)

    func refs(_ q: String, kind: String? = nil) -> [String] { explainer.readings(q, kind: kind).map(\.ref) }

    func testNegativeNumbersAreCodes() throws {
        XCTAssertEqual(refs("-1"), ["ldaprc:-1"])
        XCTAssertEqual(refs("-8172"), ["nss:-8172"])
        XCTAssertEqual(refs("-54"), ["gnutlserr:-54"])
        // On the command line too: not taken for options.
        let run = try Fixtures.runTool(["explain", "-1", "-8179"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("LDAP result code -1: LDAP_SERVER_DOWN - Can't contact LDAP server"), run.stdout)
        XCTAssertTrue(run.stdout.contains("Mozilla NSS error -8179: SEC_ERROR_UNKNOWN_ISSUER"), run.stdout)
        XCTAssertFalse(run.stdout.contains("0x-"), "a negative code has no hex form")
        let kinded = try Fixtures.runTool(["explain", "--kind", "ldaprc", "--", "-11"])
        XCTAssertEqual(kinded.stdout, "LDAP result code -11: LDAP_CONNECT_ERROR - Connect error\n")
        // A real option that does not exist is still refused.
        let bad = try Fixtures.runTool(["explain", "--frobnicate", "20"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("unknown option '--frobnicate'"), bad.stderr)
    }

    func testJSONOfANegativeCodeHasNoHex() {
        let presenter = ExplainPresenter(plugins: Fixtures.plugins, long: false)
        let json = presenter.json(explainer.readings("-1")[0])
        XCTAssertTrue(json.contains("\"decimal\":-1"), json)
        XCTAssertFalse(json.contains("\"hex\""), json)
    }

    func testABareNumberListsEveryReadingMostLikelyFirst() {
        XCTAssertEqual(refs("20"), ["alert:20", "x509verify:20", "ldaprc:20"])
        XCTAssertEqual(refs("35"), ["cipher:0035", "x509verify:35", "ldaprc:35", "curl:35"].sorted { rank($0) > rank($1) })
        // The kind narrows it; a code form with leading zeros is that form only.
        XCTAssertEqual(refs("20", kind: "x509verify"), ["x509verify:20"])
        XCTAssertEqual(refs("verify 20"), ["x509verify:20"])
        XCTAssertEqual(refs("curl 60"), ["curl:60"])
        XCTAssertEqual(refs("0035"), ["cipher:0035"])
        // Codes documented with one reading keep it.
        XCTAssertEqual(refs("431"), ["ssl:431"])
        XCTAssertEqual(refs("0x1AF"), ["ssl:431"])
    }

    func rank(_ ref: String) -> Int { Fixtures.plugins.catalogue(String(ref.split(separator: ":")[0]))!.rank }

    func testRanksOrderTheReadings() {
        let r = explainer.readings("20")
        XCTAssertEqual(r.map(\.catalogue.rank), r.map(\.catalogue.rank).sorted(by: >))
    }

    func testAHexBitMaskReadsAsGnuTLSStatus() {
        let readings = explainer.readings("0x42")
        XCTAssertEqual(readings.map(\.ref), ["gnutls:0x42"])
        XCTAssertEqual(readings.first?.entry?.name, "GNUTLS_CERT_INVALID+GNUTLS_CERT_SIGNER_NOT_FOUND")
        XCTAssertTrue(Fixtures.plugins.catalogue("gnutls")!.isFailure(.number(0x42)))
        // A debug level is a setting, not a status: an unnamed 0x value is not read as one.
        XCTAssertFalse(explainer.readings("0x8008").contains { $0.catalogue.id == "ldapdebug" })
        // With the kind named, the bits are listed one by one.
        var request = ExplainRequest()
        request.codes = ["0x42"]
        request.kind = "gnutls"
        let out = ExplainRun(plugins: Fixtures.plugins).run(request).output
        XCTAssertEqual(out.first, "GnuTLS certificate verify status 0x42 = 66 (x42): 2 bits GNUTLS_CERT_INVALID+GNUTLS_CERT_SIGNER_NOT_FOUND")
        XCTAssertEqual(out.count, 3)
    }

    func testNamesAndTextCodes() {
        XCTAssertEqual(refs("certificate_unknown"), ["alert:46"])
        XCTAssertEqual(refs("TLSv1.2"), ["tlsversion:0303"])
        XCTAssertEqual(refs("TLSV1_ALERT_UNKNOWN_CA"), ["opensslreason:TLSV1_ALERT_UNKNOWN_CA"])
        XCTAssertEqual(refs("jsse PKIX_PATH_BUILDING_FAILED"), ["jsse:PKIX_PATH_BUILDING_FAILED"])
        let long = ExplainPresenter(plugins: Fixtures.plugins, long: true).text(explainer.readings("TLSV1_ALERT_UNKNOWN_CA")[0])
        XCTAssertTrue(long.contains("Related: TLS alert 48: "), long)
    }
}
