import Foundation
import XCTest
@testable import TraceLensInput
@testable import TraceLensRecords
@testable import TraceLensDecode
@testable import TraceLensPlugins
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
            XCTAssertTrue(rsa.lines.contains { $0.0 == "signed with" && $0.1.hasPrefix("ecdsa-with-SHA384 (GSK_TLS_SIG_ALG_PAIRS 0503") })
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
}
