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

/// `tracelens cert` on hand-made CRLs: damaged entry extensions are passed over (they used to
/// trap the tool), and an issuer DN holding control characters is shown, not sent.
final class CRLEntryTests: XCTestCase {
    /// DER: tag, length, content.
    static func tlv(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] {
        let n = content.count
        let length: [UInt8] = n < 0x80 ? [UInt8(n)] : n < 0x100 ? [0x81, UInt8(n)] : [0x82, UInt8(n >> 8), UInt8(n & 0xFF)]
        return [tag] + length + content
    }
    static func seq(_ parts: [UInt8]...) -> [UInt8] { tlv(0x30, parts.flatMap { $0 }) }
    static func utcTime(_ s: String) -> [UInt8] { tlv(0x17, Array(s.utf8)) }
    static let ecdsaWithSHA256: [UInt8] = seq(tlv(0x06, [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02]))
    static let reasonCodeOID: [UInt8] = tlv(0x06, [0x55, 0x1D, 0x15])  // 2.5.29.21

    /// A CertificateList whose issuer is `CN=<cn>` and whose revoked entries are `entries`.
    static func crl(issuerCN cn: [UInt8], entries: [[UInt8]]) -> [UInt8] {
        let issuer = seq(tlv(0x31, seq(tlv(0x06, [0x55, 0x04, 0x03]), tlv(0x0C, cn))))
        let tbs = seq(tlv(0x02, [0x01]), ecdsaWithSHA256, issuer, utcTime("240101000000Z"), utcTime("491231000000Z"),
                      tlv(0x30, entries.flatMap { $0 }))
        return seq(tbs, ecdsaWithSHA256, tlv(0x03, [0x00, 0x00]))
    }

    /// Runs of spaces as one (the columns' widths do not matter here).
    static func squeezed(_ s: String) -> String {
        s.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }.joined(separator: "\n")
    }

    static func entry(serial: UInt8, extensions: [UInt8]?) -> [UInt8] {
        seq(tlv(0x02, [serial]), utcTime("240301120000Z"), extensions ?? [])
    }

    func testEntryExtensionsThatAreEmptyOrDamagedAreSkipped() throws {
        let entries = [
            Self.entry(serial: 0x0A, extensions: Self.seq(Self.seq())),  // one extension, an empty SEQUENCE: trapped
            Self.entry(serial: 0x0B, extensions: Self.seq()),  // no extension at all
            Self.entry(serial: 0x0C, extensions: Self.seq(Self.seq(Self.reasonCodeOID))),  // an OID and no value
            Self.entry(serial: 0x0D, extensions: Self.seq(Self.seq(Self.reasonCodeOID, Self.tlv(0x04, Self.tlv(0x0A, [0x01]))))),
        ]
        let path = Fixtures.write(Self.crl(issuerCN: Array("Test CA".utf8), entries: entries), named: "damaged.crl")
        let run = try Fixtures.runTool(["cert", path])
        XCTAssertFalse(run.crashed, "cert trapped on an empty extension")
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("damaged.crl: CRL"), run.stdout)
        let text = Self.squeezed(run.stdout)
        XCTAssertTrue(text.contains("\nrevoked 4\n"), run.stdout)
        for serial in ["0A", "0B", "0C"] { XCTAssertTrue(text.contains("\nserial \(serial) revoked 2024-03-01T12:00:00Z\n"), run.stdout) }
        XCTAssertTrue(text.contains("\nserial 0D revoked 2024-03-01T12:00:00Z, reason keyCompromise"), run.stdout)
        // As a PEM block too, and given with --crl.
        let pem = "-----BEGIN X509 CRL-----\n" + Data(Self.crl(issuerCN: Array("Test CA".utf8), entries: entries)).base64EncodedString(options: .lineLength64Characters)
            + "\n-----END X509 CRL-----\n"
        let pemPath = Fixtures.write(pem, named: "damaged.pem")
        let withCRL = try Fixtures.runTool(["cert", Fixtures.sample("certs/client-ecec.pem"), "--crl", pemPath])
        XCTAssertFalse(withCRL.crashed)
        XCTAssertNotEqual(withCRL.status, 2, withCRL.stderr)
    }

    func testIssuerWithControlCharactersIsShownVisibly() throws {
        let cn = Array("Evil".utf8) + [0x1B] + Array("[2J".utf8) + [0x07, 0xC2, 0x9B] + Array("CA".utf8)
        let path = Fixtures.write(Self.crl(issuerCN: cn, entries: [Self.entry(serial: 0x01, extensions: nil)]), named: "evil.crl")
        let run = try Fixtures.runTool(["cert", path])
        XCTAssertFalse(run.crashed)
        XCTAssertTrue(Self.squeezed(run.stdout).contains("\nissuer (openssl) CN = Evil^[[2J^G\\x9bCA\n"), run.stdout)
        XCTAssertTrue(Self.squeezed(run.stdout).contains("\nissuer (trace, LDAP) CN=Evil^[[2J^G\\x9bCA\n"), run.stdout)
        for s in run.stdout.unicodeScalars where (s.value < 0x20 && s != "\n") || (0x7F...0x9F).contains(s.value) {
            XCTFail("raw U+\(String(s.value, radix: 16)) in cert's output")
        }
        let json = try Fixtures.runTool(["cert", "--json", path])
        XCTAssertTrue(json.stdout.contains(#"CN = Evil\u001b[2J\u0007\u009bCA"#), json.stdout)
    }
}
