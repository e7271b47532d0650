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

/// System SSL return codes carried by other products' messages are decoded as `ssl`, from the gsk
/// plugin's patterns; a number that is not a System SSL return code is left alone.
final class CarriedCodeTests: XCTestCase {
    func codes(_ text: String, named name: String = "carried.txt") throws -> [String] {
        let (records, _) = try Fixtures.records(Fixtures.write(text, named: name))
        return records.flatMap(Fixtures.codes)
    }

    func testCICSSocketsDomainMessage() throws {
        let one = "DFHSO0123 CICSQA2 Return code 401 received from function 'gsk_secure_socket_init' of System SSL. Reason: Expired certificate.\n"
        XCTAssertEqual(try codes(one), ["zos:DFHSO0123", "ssl:401"])
        // Wrapped by the console: the function is on the next line, the message id on the first.
        let wrapped = """
            DFHSO0123 CICSQA2 Return code 435 received from function
               'gsk_secure_socket_init' of System SSL. Reason: Untrusted CA.

            """
        XCTAssertEqual(try codes(wrapped), ["zos:DFHSO0123", "ssl:435"])
        let wrappedEarly = """
            DFHSO0123 CICSQA2 Return code 407 received
               from function 'gsk_secure_socket_init' of System SSL. Reason: Key label not found.

            """
        XCTAssertEqual(try codes(wrappedEarly, named: "early.txt"), ["zos:DFHSO0123", "ssl:407"])
    }

    func testTN3270DebugMessageWithTheCodeInHex() throws {
        let text = """
            EZZ6035I TELNET DEBUG CLIENT
            IPADDR..PORT 10.44.3.17..40211
            512
            RCODE: 6002-00
            SSL/TLS handshake failed.
            PARM1: 0000019A PARM2:
            PARM3: GSK_SECURE_SOCKET_INIT

            """
        XCTAssertEqual(try codes(text), ["zos:EZZ6035I", "ssl:410"])
    }

    func testTN3270ParmThatIsNoSystemSSLCodeIsNotDecoded() throws {
        // A timeout: PARM1 is -22 in hex, not a System SSL return code.
        let text = """
            EZZ6035I TELNET DEBUG CLIENT
            RCODE: 600E-00 SSL handshake Timed
            out.
            PARM1: FFFFFFEA PARM2: 00000000 PARM3: 00000000

            """
        XCTAssertEqual(try codes(text), ["zos:EZZ6035I"])
    }

    func testApplicationPrintfs() throws {
        let text = """
            srv -> tls -> init: gsk_environment_open=0
            srv -> tls -> init: gsk_environment_init=202
            srv -> tls -> connect: gsk_secure_socket_init=1

            """
        XCTAssertEqual(try codes(text), ["ssl:0", "ssl:202", "ssl:1"])
        let (records, summary) = try Fixtures.records(Fixtures.write(text, named: "app.log"))
        XCTAssertEqual(records.count, 3)
        XCTAssertEqual(summary.failureCodes, 2, "0 is success; 202 and 1 are failures")
    }

    func testZoweServerMessageWithTheCodeAndItsText() throws {
        let text = "2024-02-11 08:14:55.120 <ZWED:83886> ZWESVR ZWES1060W Failed to init TLS environment, rc=202(Error detected while opening the key database.)\n"
        XCTAssertEqual(try codes(text), ["zos:ZWES1060W", "ssl:202"])
        XCTAssertEqual(try codes("failed to init tls environment, rc = 7 (No certificates available.)\n"), ["ssl:7"])
    }

    func testAFailureIsMarkedInJSONWhereverItIsFound() throws {
        let path = Fixtures.write("DFHSO0123 CICSP1 Return code 435 received from function 'gsk_secure_socket_init' of System SSL.\n", named: "cics.txt")
        let run = try Fixtures.runTool(["format", "--json", path])
        XCTAssertEqual(run.status, 0)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let ssl = try XCTUnwrap((object["codes"] as? [[String: Any]])?.first { $0["kind"] as? String == "ssl" })
        XCTAssertEqual(ssl["code"] as? String, "435")
        XCTAssertEqual(ssl["failure"] as? Bool, true)
    }

    /// Negative: product reason codes, return codes of other functions and port numbers.
    func testAProductsOwnCodeIsNotASystemSSLCode() throws {
        // Each case in a file of its own: none may borrow another's context.
        let cases: [(String, [String])] = [
            ("IGD17272I VOLUME SELECTION HAS FAILED FOR INSUFFICIENT SPACE RC=8 REASON=0x0000002c\n", []),
            ("DFHFC0301 CICSQA2 Return code 8 received from function OPEN of file PAYFILE.\n", ["zos:DFHFC0301"]),
            ("PARM1: 00000191 PARM2: 00000000 PARM3: 00000000\n", []),
            ("Return code 9999 received from function 'gsk_secure_socket_init' of System SSL.\n", []),
            ("listening on 10.1.2.3 port 4031, gsk_handle size=16384\n", []),
            ("RC: 431 from the batch step\n", []),
        ]
        for (n, (text, expected)) in cases.enumerated() {
            XCTAssertEqual(try codes(text, named: "negative\(n).txt"), expected, text)
        }
    }

    func testTextWithoutCodesGivesNoFailures() throws {
        let text = """
            Connected to the directory at 10.9.8.7 port 636.
            Search returned 12 entries in 0.3 seconds.

            """
        let (records, summary) = try Fixtures.records(Fixtures.write(text, named: "quiet.txt"))
        XCTAssertEqual(records.flatMap(Fixtures.codes), [])
        XCTAssertEqual(summary.failureCodes, 0)
    }

    /// AT-TLS RC: in the console form, right-aligned, with the console message number after it.
    func testATTLSReturnCodeInTheConsoleForm() throws {
        XCTAssertEqual(try codes("EZD1287I TTLS Error RC:  413 Initial Handshake 052    \n"), ["ezd:EZD1287I", "ssl:413"])
    }

    func testAContextLiteralMustNotBeEmpty() throws {
        let problems = try Fixtures.loadProblems(withPlugin: """
            [[code]]
            find = 'reason {code:int}'
            catalogue = "ssl"
            context = [""]
            """)
        XCTAssertTrue(problems.contains("'context' entry is empty"), problems)
    }
}
