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

/// Lines no layout read still get their codes: stored and printed as written, the decodes added.
final class UnparsedCodesTests: XCTestCase {
    /// Notes pasted from a ticket: no layout explains them.
    static let notes = """
        Ticket 4471: payroll client cannot reach the directory after the key ring change.
        The app log says gsk_environment_init=202 right after start.
        Operator saw IEF453I PAYRL07 - JOB FAILED - JCL ERROR this morning.
        Nothing else looked wrong; port 8443 answers.

        """

    func testAFileWithNoLayoutGetsItsCodes() throws {
        let (records, summary) = try Fixtures.records(Fixtures.write(Self.notes, named: "notes.txt"))
        XCTAssertNil(summary.format)
        XCTAssertTrue(records.allSatisfy(\.isUnparsed))
        XCTAssertEqual(records.map(Fixtures.codes), [[], ["ssl:202"], ["zos:IEF453I"], []])
        XCTAssertEqual(summary.codes, 2)
        XCTAssertEqual(summary.failureCodes, 1, "202 is a System SSL failure; an MVS id by itself is not")
    }

    func testFormatPrintsTheLineAsWrittenWithTheDecodeAfterTheCode() throws {
        let run = try Fixtures.runTool(["format", "--color", "never", Fixtures.write(Self.notes, named: "notes.txt")])
        XCTAssertEqual(run.status, 0)
        let lines = run.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 4)
        XCTAssertEqual(lines[0], "Ticket 4471: payroll client cannot reach the directory after the key ring change.")
        XCTAssertTrue(lines[1].hasPrefix("The app log says gsk_environment_init=202 [SSL 202: "), lines[1])
        XCTAssertTrue(lines[1].hasSuffix("] right after start."), lines[1])
        XCTAssertTrue(lines[2].hasPrefix("Operator saw IEF453I [IEF453I: MVS job management message] PAYRL07"), lines[2])
        XCTAssertEqual(lines[3], "Nothing else looked wrong; port 8443 answers.")
    }

    func testJSONGivesUnparsedLinesTheirCodesWithFailures() throws {
        let run = try Fixtures.runTool(["format", "--json", Fixtures.write(Self.notes, named: "notes.txt")])
        XCTAssertEqual(run.status, 0)
        let objects = run.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        XCTAssertEqual(objects.count, 4)
        XCTAssertTrue(objects.allSatisfy { $0["unparsed"] as? Bool == true })
        XCTAssertTrue(objects.allSatisfy { $0["codes"] is [Any] }, "every unparsed line has a codes array")
        let codes = objects.flatMap { ($0["codes"] as? [[String: Any]]) ?? [] }
        XCTAssertEqual(codes.map { "\($0["kind"]!):\($0["code"]!)" }, ["ssl:202", "zos:IEF453I"])
        XCTAssertEqual(codes.map { $0["failure"] as? Bool }, [true, false])
    }

    func testErrorsShowsAnUnparsedLineThatCarriesAFailure() throws {
        let run = try Fixtures.runTool(["format", "--errors", "--color", "never", Fixtures.write(Self.notes, named: "notes.txt")])
        XCTAssertEqual(run.status, 0)
        let lines = run.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 1, run.stdout)
        XCTAssertTrue(lines.first?.hasPrefix("The app log says gsk_environment_init=202 [SSL 202: ") ?? false, run.stdout)
    }

    /// A line in a gsktrace that the layout does not explain keeps its codes.
    func testAnUnparsedLineInsideAKnownLayoutIsDecoded() throws {
        let trace = """
            04/02/2023-08:01:10.000101 Thd-4 ENTRY gsk_secure_socket_init(): ---> 
            GLD1116E Unable to initialize an SSL connection with 10.20.30.41: 414 - Certificate is not valid.
            04/02/2023-08:01:10.000190 Thd-4 EXIT gsk_secure_socket_init(): <--- Exit status 0x0000019e (414)

            """
        let (records, summary) = try Fixtures.records(Fixtures.write(trace, named: "gskssl.812.trc"))
        XCTAssertEqual(summary.format, "gsktrace")
        XCTAssertEqual(records.count, 3)
        XCTAssertTrue(records[1].isUnparsed)
        XCTAssertEqual(Fixtures.codes(records[1]), ["gld:GLD1116E", "ssl:414"])
        XCTAssertEqual(Fixtures.codes(records[2]), ["ssl:414"])
    }

    /// A pattern written for one layout's fields (`(49)` in a client transcript) does not apply
    /// to lines no layout read.
    func testALayoutsOwnPatternDoesNotReadUnparsedLines() throws {
        let (records, _) = try Fixtures.records(Fixtures.write("Review moved to room (49) on the second floor, result: 32 votes\n", named: "memo.txt"))
        XCTAssertEqual(records.count, 1)
        XCTAssertTrue(records[0].isUnparsed)
        XCTAssertEqual(Fixtures.codes(records[0]), [])
    }

    /// Ingest of a file named on the command line with no known layout stores its lines with codes.
    func testIngestKeepsTheCodesOfUnparsedLines() throws {
        let store = Fixtures.tempDir() + "/codes.db"
        let file = Fixtures.write(Self.notes, named: "notes.txt")
        let ingest = try Fixtures.runTool(["ingest", "--db", store, file])
        XCTAssertEqual(ingest.status, 0)
        let db = try Database(path: store, mode: .readOnly)
        var kinds: [String] = []
        let statement = try db.prepare("SELECT codes FROM records WHERE codes IS NOT NULL ORDER BY line")
        while try statement.step() { kinds.append(statement.string(0) ?? "") }
        XCTAssertEqual(kinds.count, 2, "\(kinds)")
        XCTAssertTrue(kinds[0].contains("202"), kinds[0])
        XCTAssertTrue(kinds[1].contains("IEF453I"), kinds[1])
    }
}

/// Client library lines pasted without a prompt (no layout reads them) still give their codes.
final class UnparsedClientCodesTests: XCTestCase {
    func testLibldapAndMozNSSErrorsWithoutACommandLine() throws {
        let text = """
            [admin@ldap02 ~]# ldapwhoami -x -H ldaps://dir.example.net
            TLS: cannot open certdb '/etc/pki/ldap', error -8018:Unknown PKCS #11 error.
            TLS: certificate [CN=dir.example.net] is not valid - error -8179:Peer's Certificate issuer is not recognized..
            TLS: error: connect - force handshake failure: errno 0 - moznss error -8179
            ldap_sasl_bind(SIMPLE): Can't contact LDAP server (-1)

            """
        let (records, _) = try Fixtures.records(Fixtures.write(text, named: "paste.txt"))
        XCTAssertEqual(records.flatMap(Fixtures.codes), ["nss:-8018", "nss:-8179", "nss:-8179", "ldaprc:-1"])
    }

    func testAnApplicationQuotingALibldapError() throws {
        let (records, _) = try Fixtures.records(Fixtures.write("LDAP - Bind error 49  (Invalid credentials)\n", named: "app.txt"))
        XCTAssertEqual(records.flatMap(Fixtures.codes), ["ldaprc:49"])
        let (other, _) = try Fixtures.records(Fixtures.write("Printer - Feed error 49  (Paper jam)\n", named: "printer.txt"))
        XCTAssertEqual(other.flatMap(Fixtures.codes), [], "without LDAP in the line, 49 is not an LDAP result code")
    }

    func testAnErrorNumberOutsideTLSLinesIsNotAnNSSCode() throws {
        let (records, _) = try Fixtures.records(Fixtures.write("backup: error -8179: tape not mounted\n", named: "backup.txt"))
        XCTAssertEqual(records.flatMap(Fixtures.codes), [])
    }
}
