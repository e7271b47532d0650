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

/// `connections --peer`: empty values are usage errors (they trapped), IPv6 peers parse and match.
final class PeerTests: XCTestCase {
    func testParse() throws {
        XCTAssertEqual(try PeerAddress.parse("10.1.0.2"), PeerAddress(host: "10.1.0.2"))
        XCTAssertEqual(try PeerAddress.parse("10.1.0.2:42514"), PeerAddress(host: "10.1.0.2", port: 42514))
        XCTAssertEqual(try PeerAddress.parse("2001:db8::1"), PeerAddress(host: "2001:db8::1"))
        XCTAssertEqual(try PeerAddress.parse("[2001:db8::1]:636"), PeerAddress(host: "2001:db8::1", port: 636))
        XCTAssertEqual(try PeerAddress.parse("[2001:db8::1]"), PeerAddress(host: "2001:db8::1"))
        XCTAssertEqual(try PeerAddress.parse("::ffff:10.1.0.2"), PeerAddress(host: "::ffff:10.1.0.2"))
        for bad in ["", " ", ":", ":636", "10.1.0.2:", "10.1.0.2:http", "10.1.0.2:70000", "[2001:db8::1", "[]:636", "[2001:db8::1]x", "2001:db8:::zz"] {
            XCTAssertThrowsError(try PeerAddress.parse(bad), bad) { error in
                XCTAssertTrue("\(error)".hasPrefix("--peer '\(bad)': "), "\(error)")
            }
        }
    }

    func testSpellingsMatchMappedAndCanonicalForms() throws {
        XCTAssertTrue(try PeerAddress.parse("10.1.0.2").spellings.contains("::ffff:10.1.0.2"))
        XCTAssertTrue(try PeerAddress.parse("::FFFF:10.1.0.2").spellings.contains("10.1.0.2"))
        XCTAssertTrue(try PeerAddress.parse("2001:DB8:0:0::1").spellings.contains("2001:db8::1"))
    }

    func testEmptyPeerIsAUsageErrorNotACrash() throws {
        let db = try Fixtures.ingest([Fixtures.sample("revoked-client-cert/gskssl.65567.trc")]).0
        for bad in ["", ":", "[", "10.1.0.2:x"] {
            let run = try Fixtures.runTool(["connections", "--db", db, "--peer", bad])
            XCTAssertFalse(run.crashed, bad)
            XCTAssertEqual(run.status, 64, bad)
            XCTAssertTrue(run.stderr.contains("--peer '\(bad)'") && run.stderr.contains("give an IP address"), run.stderr)
        }
    }

    /// IPv6 peers as a trace may hold them, found by every spelling a user may type.
    func testIPv6PeersMatch() throws {
        let db = try Fixtures.ingest([Fixtures.sample("revoked-client-cert/gskssl.65567.trc")]).0
        do {
            let store = try Store.openForWriting(db)
            let ids = try store.db.prepare("SELECT id FROM connections ORDER BY id").rows().compactMap { row -> Int64? in
                if case let .int(id) = row[0] { return id } else { return nil }
            }
            XCTAssertGreaterThanOrEqual(ids.count, 3)
            try store.db.execute("UPDATE connections SET peer_ip = '2001:db8::1', peer_port = 636 WHERE id = \(ids[0])")
            try store.db.execute("UPDATE connections SET peer_ip = '::ffff:10.9.9.9', peer_port = 4000 WHERE id = \(ids[1])")
        }
        func peers(_ text: String) throws -> [String] {
            let run = try Fixtures.runTool(["connections", "--db", db, "--each-source", "--json", "--peer", text])
            XCTAssertEqual(run.status, 0, "\(text): \(run.stderr)")
            let rows = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[String: Any]] ?? []
            return rows.compactMap { $0["peer"] as? String }
        }
        XCTAssertEqual(try peers("2001:db8::1"), ["[2001:db8::1]:636"])
        XCTAssertEqual(try peers("[2001:db8::1]:636"), ["[2001:db8::1]:636"])
        XCTAssertEqual(try peers("[2001:DB8:0::1]:636"), ["[2001:db8::1]:636"])
        XCTAssertEqual(try peers("[2001:db8::1]:637"), [])
        XCTAssertEqual(try peers("::ffff:10.9.9.9"), ["[::ffff:10.9.9.9]:4000"])
        XCTAssertEqual(try peers("10.9.9.9:4000"), ["[::ffff:10.9.9.9]:4000"], "an IPv4 address finds its IPv4-mapped form")
    }
}
