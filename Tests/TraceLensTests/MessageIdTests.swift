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

/// A z/OS message id is recognised wherever the message starts, as a whole token; catalogued
/// families are decoded, the others named by product from the zos plugin's family table.
final class MessageIdTests: XCTestCase {
    /// Each line a different wrapper in front of the message (written for this test).
    static let wrappers = """
        GLD1106E LDBM backend initialization failed for backend named LDBM-0002.
        BPXM023I (DIRSRV) GLD1007I LDAP server is stopping.
        Jun  7 09:12:44 SYSC DIRSRV[50397202]: GLD1004I LDAP server is ready for requests.
        N 0000000 SYSC     23158 09:12:44.31 STC07712 00000090  IEF404I DIRSRV - ENDED - TIME=09.12.44
        2023-06-07T09:12:45.118Z SYSC ICH408I USER(PAYUSR ) GROUP(PAYGRP ) NAME(PAYROLL SERVICE   )
        230607 09:12:46.502210 GLD2003I Directory Server configuration utility has ended.
        > $HASP395 PAYRL07  ENDED - RC=0000
        >> DFHSO0001 CICSQA2 An attempt to create a socket has failed.
        EZZ6035I TELNET DEBUG CONN
        CSQX209E +MQA1 CSQXRESP Connection unexpectedly terminated
        DSNL511I -DBA1 DSNLIENO TCP/IP CONVERSATION FAILED
        IZUG349E The z/OSMF server could not be reached.
        ZWES1013I ZSS Server has started. Version '2.11.0' '64-bit'
        ZWEAM000I APIML Gateway started in 31.2 seconds
        IEA995I SYMPTOM DUMP OUTPUT
        EZA1735I FTP Server started
        EZYFT47I Internal tracing is now off

        """

    func testAMessageIdIsFoundAfterEveryWrapper() throws {
        let (records, _) = try Fixtures.records(Fixtures.write(Self.wrappers, named: "console.txt"))
        let codes = records.flatMap(Fixtures.codes)
        for expected in ["gld:GLD1106E", "gld:GLD1007I", "gld:GLD1004I", "gld:GLD2003I", "racf:ICH408I",
                         "zos:$HASP395", "zos:DFHSO0001", "zos:EZZ6035I", "zos:CSQX209E", "zos:DSNL511I",
                         "zos:IZUG349E", "zos:ZWES1013I", "zos:ZWEAM000I", "zos:IEA995I", "zos:EZA1735I", "zos:EZYFT47I"] {
            XCTAssertTrue(codes.contains(expected), "\(expected) not found in \(codes)")
        }
        XCTAssertTrue(codes.contains { $0.hasPrefix("racf:IEF404I") || $0 == "zos:IEF404I" }, "\(codes)")
        XCTAssertFalse(codes.contains { $0.contains("STC07712") }, "a job id is never a message id: \(codes)")
    }

    func testAnIdOfAFamilyWithoutTextIsNamedByItsProduct() throws {
        let run = try Fixtures.runTool(["format", "--color", "never", Fixtures.write("CSQX209E +MQA1 CSQXRESP Connection unexpectedly terminated\n", named: "mq.txt")])
        XCTAssertEqual(run.status, 0)
        XCTAssertTrue(run.stdout.contains("CSQX209E [CSQX209E: IBM MQ for z/OS message]"), run.stdout)
    }

    func testAnIdMustBeAWholeTokenWithTheZOSShape() throws {
        let text = """
            XIEF453I is part of a longer word, so is IEF453IX and PROD_DFHSO0123.
            The volume IEF453 has no severity letter; neither has ZWES1013.
            abcCSQX209E and DSNL511Iq are glued to other letters.

            """
        let (records, _) = try Fixtures.records(Fixtures.write(text, named: "words.txt"))
        XCTAssertEqual(records.flatMap(Fixtures.codes), [])
    }

    func testTheFamilyTableIsPluginData() throws {
        let zos = try XCTUnwrap(Fixtures.plugins.catalogue("zos"))
        XCTAssertTrue(zos.byPrefix)
        XCTAssertEqual(zos.entry(.text("DFHSO0123"))?.name, "CICS")
        XCTAssertEqual(zos.entry(.text("$HASP100"))?.name, "JES2")
        XCTAssertNil(zos.entry(.text("GLX1234I")), "a prefix nobody listed is not a family")
        // A specific row (racf catalogue) wins over the family row.
        let (records, _) = try Fixtures.records(Fixtures.write("the console shows BPXM023I before each message of the server\n", named: "one.txt"))
        XCTAssertEqual(records.flatMap(Fixtures.codes), ["racf:BPXM023I"])
    }

    func testPrefixNeedsATextCatalogue() throws {
        let problems = try Fixtures.loadProblems(withPlugin: """
            [[catalogue]]
            id = "mine"
            radix = "decimal"
            prefix = true
            """)
        XCTAssertTrue(problems.contains("prefix = true"), problems)
    }
}
