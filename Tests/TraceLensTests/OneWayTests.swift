import Foundation
import XCTest
@testable import TraceLensInput
@testable import TraceLensPlugins
@testable import TraceLensHandshake
@testable import TraceLensStore
@testable import TraceLensRender
@testable import TraceLensQuery
@testable import TraceLensFollow
@testable import TraceLensDiagnose
@testable import TraceLensCommands

/// One way to do each thing: one JSON writer, one wording of a primary error.
final class OneWayTests: XCTestCase {
    // MARK: the JSON writer

    func testJSONValueEscapesControlsC1AndBadUTF8() throws {
        let damaged = String(decoding: [0x61, 0xFF, 0xC0, 0x80, 0x62], as: UTF8.self)
        let value = JSON.Value.sorted([
            "text": .string("tab\there \"q\" back\\slash/ nl\n esc\u{1B} del\u{7F} csi\u{9B} é ✓"),
            "damaged": .string(damaged),
            "nested": .array([.int(-3), .null, .bool(true), .bool(false), .sorted(["absent": .string(nil), "line": .int(nil)])]),
            "ordered": .object([(key: "z", value: .int(1)), (key: "a", value: .int(2))]),
        ])
        XCTAssertEqual(value.text, #"{"damaged":"a\#u{FFFD}\#u{FFFD}\#u{FFFD}b","nested":[-3,null,true,false,{"absent":null,"line":null}],"#
            + #""ordered":{"z":1,"a":2},"text":"tab\there \"q\" back\\slash/ nl\n esc\u001b del\u007f csi\u009b é ✓"}"#)
        let parsed = try JSONSerialization.jsonObject(with: Data(value.text.utf8)) as! [String: Any]
        XCTAssertEqual(parsed["text"] as? String, "tab\there \"q\" back\\slash/ nl\n esc\u{1B} del\u{7F} csi\u{9B} é ✓")
        // Bytes that never were a String: the writer itself turns them into U+FFFD.
        let out = ByteBuffer()
        JSON.bytes([0x61, 0xED, 0xA0, 0x80, 0xC2, 0x85][...], out)
        XCTAssertEqual(out.string, "\"a\u{FFFD}\u{FFFD}\u{FFFD}\\u0085\"")
    }

    /// doctor, cert and lint sorted their keys with JSONSerialization: the writer keeps its order.
    func testSortedKeysAreInJSONSerializationsOrder() throws {
        let keys = ["subject (openssl)", "subject (RACDCERT MAP SDNFILTER)", "subject (trace, LDAP)", "a10", "a9", "Zeta", "alpha",
                    "key usage", "key", "keyUsage", "SHA-256", "sha-1", "_x", "x_", "é", "e", "f"]
        let members = Dictionary(uniqueKeysWithValues: keys.map { ($0, JSON.Value.string($0)) })
        let old = try JSONSerialization.data(withJSONObject: Dictionary(uniqueKeysWithValues: keys.map { ($0, $0) }),
                                             options: [.sortedKeys, .withoutEscapingSlashes])
        XCTAssertEqual(JSON.Value.sorted(members).text, String(decoding: old, as: UTF8.self))
    }

    /// Each line of doctor, cert and lint JSON parses, and is byte for byte what JSONSerialization
    /// made of the same object (these outputs hold no control characters).
    func testDoctorCertAndLintJSONAreValidAndUnchanged() throws {
        func check(_ lines: String, _ what: String) throws {
            XCTAssertFalse(lines.isEmpty, what)
            for line in lines.split(separator: "\n") {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
                let old = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
                XCTAssertEqual(String(line), String(decoding: old, as: UTF8.self), what)
            }
        }
        let db = Fixtures.tempDir() + "/s.db"
        let run = try IngestRun(plugins: Fixtures.plugins, store: try Store.openForWriting(db), options: IngestOptions())
        XCTAssertEqual(run.run([Fixtures.sample("revoked-client-cert")]), 0)
        let diagnoses = try Doctor(plugins: Fixtures.plugins).diagnose(try Store.openForReading(db))
        XCTAssertFalse(diagnoses.flatMap(\.findings).flatMap(\.evidence).isEmpty)
        try check(DoctorReport.jsonLines(diagnoses), "doctor")

        let inspector = CertificateInspector(plugins: Fixtures.plugins)
        var reports = try ["ca-without-crlsign.pem", "ca.pem", "client-ecec.pem", "client-rsaca384.pem", "client-without-aki.pem", "ca.crl"]
            .map { try inspector.inspect(path: Fixtures.sample("certs/" + $0)) }
        inspector.checkRevocation(&reports, against: reports.flatMap(\.items).filter { $0.kind == "CRL" })
        try check(CertificateInspector.jsonLines(reports), "cert")

        let dir = Fixtures.tempDir()
        try "GSK_LDAP_USER_PW=hunter2\nGSK_V3_CIPHER_SPECS_EXPANDED=00O5\nGSK_PROTOCOL_TLSV1=ON\n".write(toFile: dir + "/env", atomically: true, encoding: .utf8)
        try check(LintRun(plugins: Fixtures.plugins).run([dir + "/env"], json: true).output, "lint")
    }

    // MARK: the primary error

    /// A `watch --errors` verdict words a connection's error as `connections` does.
    func testWatchVerdictAndConnectionsWordThePrimaryErrorAlike() throws {
        let h = try FollowHarness(patterns: ["gskssl.*.trc"]) { $0.errorsOnly = true }
        h.append("gskssl.65567.trc", try String(contentsOfFile: Fixtures.sample("revoked-client-cert/gskssl.65567.trc"), encoding: .utf8))
        h.cycle()
        h.cycle(advance: 3)
        let verdicts = h.printed.split(separator: "\n").filter { $0.hasPrefix("== FAILED 10.1.0.2:42514 ") }
        XCTAssertEqual(verdicts.count, 1, h.printed)

        var failed = ConnectionFilter()
        failed.failedOnly = true
        let table = try Fixtures.queries(h.db).connections(failed)
        let peer = try XCTUnwrap(table.columns.firstIndex(of: "peer")), error = try XCTUnwrap(table.columns.firstIndex(of: "error"))
        let row = try XCTUnwrap(table.rows.first { $0[peer] == .text("10.1.0.2:42514") })
        guard case let .text(wording) = row[error] else { return XCTFail("no error for \(row)") }
        XCTAssertEqual(wording, "CMS 03353041: Certificate is revoked. (with TLS alert 44, SSL 431)")
        XCTAssertTrue(verdicts[0].hasSuffix("  " + wording), String(verdicts[0]))
    }
}
