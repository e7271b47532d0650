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

/// The code finder's work on hostile lines: every pattern tries its template at each occurrence of
/// its leading literal, and the templates' memo and work allowance are shared by all the starts of
/// one line, so the work per line grows with its length, not with its square. These tests count
/// the work (tries and bytes scanned), never the time.
final class CodeFinderWorkTests: XCTestCase {
    struct Outcome { var work: Int; var gaveUp: Int; var codes: [String] }

    /// Finds the codes of one line, read as a line no layout recognised or as a layout's message.
    func find(_ line: String, layout: String? = nil) -> Outcome {
        let plugins = Fixtures.plugins
        let finder = CodeFinder(plugins: plugins)
        var record = Record()
        record.bytes = Array(line.utf8)
        record.messageLines = [0..<record.bytes.count]
        record.isUnparsed = layout == nil
        var caps = Captures()
        let format = layout.flatMap(plugins.format(named:))
        if layout != nil { XCTAssertNotNil(format) }
        finder.decode(&record, layout: format, captures: &caps)
        let codes = record.codes.map { c in "\(plugins.catalogues[c.catalogue].id):\(plugins.catalogues[c.catalogue].display(c.value))" }
        return Outcome(work: caps.storage.finderWork, gaveUp: caps.storage.finderGaveUp, codes: codes)
    }

    /// Hostile shapes of a line about `n` bytes long.
    static func shapes(_ n: Int) -> [(String, String)] {
        func repeated(_ s: String) -> String { String(repeating: s, count: n / s.utf8.count) }
        return [
            ("libldap error shape", repeated("ldap_a: b (c)")),
            ("many ldap_", repeated("ldap_")),
            ("many (", repeated("(")),
            ("many ( and blanks", repeated("( ")),
            ("blank run after a literal", "ldap_a: " + String(repeating: " ", count: n) + "x"),
            ("repeated error word", repeated("error ")),
            ("repeated TLS text", repeated("TLS: error:0A000086:SSL routines:")),
            ("repeated result", repeated("result: 1 ")),
        ]
    }

    func testWorkPerLineGrowsLinearlyOnHostileLines() {
        let small = 10_000, large = 40_000
        for ((name, a), (_, b)) in zip(Self.shapes(small), Self.shapes(large)) {
            for layout in [nil, "client-transcript"] {
                let x = find(a, layout: layout), y = find(b, layout: layout)
                // Four times the line, at most about four times the work (plus the fixed floor
                // each pattern may spend on any line): quadratic work would be sixteen times.
                XCTAssertLessThanOrEqual(y.work, 5 * x.work + 1_000_000, "\(name) \(layout ?? "unparsed"): \(x.work) then \(y.work)")
                // ... and a small multiple of the line's length.
                XCTAssertLessThanOrEqual(y.work, 200 * large, "\(name) \(layout ?? "unparsed"): \(y.work)")
                XCTAssertEqual(y.gaveUp, 0, "\(name) \(layout ?? "unparsed")")
            }
        }
    }

    func testACodeAfterHostileTextOnTheSameLineIsStillFound() {
        let junk = String(repeating: "ldap_a: b (c) ", count: 5_000)
        XCTAssertEqual(find(junk + "ldap_bind: Invalid credentials (49)").codes, ["ldaprc:49"])
        let parens = String(repeating: "(", count: 50_000)
        XCTAssertEqual(find(parens + " ldap_sasl_bind(SIMPLE): Can't contact LDAP server (-1)").codes, ["ldaprc:-1"])
    }

    func testNormalLinesSpendLittle() {
        let o = find("ldap_sasl_bind(SIMPLE): Can't contact LDAP server (-1)", layout: "client-transcript")
        XCTAssertEqual(o.codes, ["ldaprc:-1"])
        XCTAssertEqual(o.gaveUp, 0)
        XCTAssertLessThan(o.work, 1_000)
    }

    /// Optional groups are not memoised: each start still tries them. The allowance is spent
    /// across the starts of the line, and once it is gone every later start gives up at once.
    func testAllowanceIsSharedByTheStartsOfALine() throws {
        let t = try Template("x{?{?a}{?a}{?a}}{:text}y")
        let line = Array(String(repeating: "xa", count: 1_000).utf8)
        let memo = UnsafeMutablePointer<Int>.allocate(capacity: t.memoSize)
        defer { memo.deallocate() }
        memo.initialize(repeating: Int.max, count: t.memoSize)
        var caps = Captures()
        var allowance = 2_000
        var gaveUp = 0
        line.withUnsafeBufferPointer { buf in
            for at in buf.indices where buf[at] == 0x78 {
                XCTAssertNil(t.match(buf, from: at, captures: &caps, memo: memo, allowance: &allowance))
                if caps.gaveUp { gaveUp += 1 }
            }
        }
        XCTAssertLessThan(allowance, 0)
        XCTAssertGreaterThan(gaveUp, 500, "the starts after the allowance ran out give up")
        XCTAssertGreaterThan(allowance, -100, "a start stops soon after the allowance runs out")
    }
}
