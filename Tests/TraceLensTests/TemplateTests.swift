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

final class TemplateTests: XCTestCase {
    func testGsktraceLayoutCapturesFields() throws {
        let t = try Template("{?{time:time(MM/DD/YYYY-hh:mm:ss[.f])} }Thd-{thread:int} {level:word} {function}():{? {message}}")
        let f = try XCTUnwrap(t.match("05/21/2021-13:45:12 Thd-3 ERROR check_revoked(): RFC 2459 check failed: Error 0x03353041"))
        XCTAssertEqual(f["thread"], "3")
        XCTAssertEqual(f["level"], "ERROR")
        XCTAssertEqual(f["function"], "check_revoked")
        XCTAssertEqual(f["message"], "RFC 2459 check failed: Error 0x03353041")
        XCTAssertEqual(f["time"], "05/21/2021-13:45:12")
        // The optional time may be absent; the message may be absent.
        XCTAssertEqual(t.match("Thd-12 INFO f(): x")?["thread"], "12")
        XCTAssertNil(t.match("Thd-12 INFO f(): x")?["time"])
        XCTAssertEqual(t.match("Thd-1 EXIT g():")?["function"], "g")
    }

    func testLazyTextFindsTheFirstLiteralThatLetsTheRestMatch() throws {
        let t = try Template("{a}.{b:int}.end")
        XCTAssertEqual(t.match("x.y.12.end")?["a"], "x.y")
        XCTAssertEqual(t.match("x.y.12.end")?["b"], "12")
        XCTAssertNil(t.match("x.y.z.end"))
    }

    func testATokenIsLazyTextThatNeverCrossesABlank() throws {
        let t = try Template("ldap{?s}://{user:token}:{pw:token}@{host:rest}")
        let f = try XCTUnwrap(t.match("ldaps://cn=admin:pa:ss@host:636"))
        XCTAssertEqual(f["user"], "cn=admin")
        XCTAssertEqual(f["pw"], "pa:ss")
        // A URL without credentials: the @ further on, past a blank, is not reached.
        XCTAssertNil(t.match("ldap://host:389/ o=x mail=a@example.com"))
        XCTAssertEqual(t.match("ldap://u:p@h")?["host"], "h")
        // A later start past a blank is still tried (a failed token says nothing of it).
        let find = try Template("x{v:token}@")
        var bytes = Array("xa b xc@".utf8)
        var caps = Captures()
        let end = bytes.withUnsafeMutableBufferPointer { b in find.match(UnsafeBufferPointer(b), from: 5, wholeLine: false, captures: &caps) }
        XCTAssertEqual(end, 8)
        // A token must be followed by literal text.
        XCTAssertThrowsError(try Template("{a:token} {b:word}"))
        XCTAssertThrowsError(try Template("{a:token}"))
    }

    func testBlanksMatchOneOrMore() throws {
        let t = try Template("Job {job:word} Process {process:hex}")
        XCTAssertEqual(t.match("Job TCP341     Process 00020032")?["process"], "00020032")
        XCTAssertNil(t.match("JobTCP341 Process 1"))
    }

    func testKinds() throws {
        XCTAssertEqual(try Template("{x:hex(8)}").match("0335306F")?["x"], "0335306F")
        XCTAssertNil(try Template("{x:hex(8)}").match("0335306"))
        XCTAssertEqual(try Template("{x:hex(2-4)}z").match("C02Cz")?["x"], "C02C")
        XCTAssertEqual(try Template("{ip:ipv4}.{port:int}").match("192.168.50.80.1360")?["port"], "1360")
        XCTAssertNil(try Template("{ip:ipv4}").match("300.1.1.1"))
        XCTAssertEqual(try Template("{k:one(MESSAGE|DUMP)} x").match("DUMP x")?["k"], "DUMP")
        XCTAssertNil(try Template("{k:one(MESSAGE|DUMP)} x").match("OTHER x"))
        XCTAssertEqual(try Template("({n:int})").match("(-1)")?["n"], "-1")
        XCTAssertEqual(try Template("{f:ident} rest").match("gsk_read_v3_record rest")?["f"], "gsk_read_v3_record")
    }

    func testBracketsAreLiteralText() throws {
        let t = try Template("{ip:ipv4}[{port:int}]")
        XCTAssertEqual(t.match("10.1.0.2[42514]")?["port"], "42514")
        XCTAssertEqual(try Template("[{thread:int}] {m}").match("[7] x")?["thread"], "7")
    }

    func testEscapesAndCaseInsensitiveLiterals() throws {
        XCTAssertNotNil(try Template("\\{literal\\} {x:int}").match("{literal} 5"))
        let ci = try Template("0x{code:hex}", caseInsensitive: true)
        XCTAssertEqual(ci.match("0X1AF")?["code"], "1AF")
    }

    func testCompileErrorsSayWhereAndWhat() {
        func problem(_ s: String) -> String? {
            do { _ = try Template(s); return nil } catch { return error.description }
        }
        XCTAssertTrue(problem("{a")?.contains("never closed") ?? false)
        XCTAssertTrue(problem("{a:bogus}")?.contains("unknown field kind 'bogus'") ?? false)
        XCTAssertTrue(problem("{a}{b:int}")?.contains("must be followed by literal text") ?? false)
        XCTAssertTrue(problem("{?x")?.contains("never closed") ?? false)
        XCTAssertTrue(problem("x}")?.contains("without a matching") ?? false)
        XCTAssertTrue(problem("{a} {a}")?.contains("appears twice") ?? false)
        XCTAssertTrue(problem("{t:time(YYYY[)}")?.contains("time format") ?? false)
        XCTAssertTrue(problem("{x:hex(0)}")?.contains("hex takes") ?? false)
        XCTAssertEqual((try? Template("{a:bogus}")) == nil, true)
    }

    func testFindModeStopsAtTheEndOfTheMatch() throws {
        let t = try Template("Exit status 0x{code:hex(1-8)}{? ({:int})}")
        var caps = Captures()
        let line = Array("<--- Exit status 0x000001af (431) and more".utf8)
        let end = line.withUnsafeBufferPointer { t.match($0, from: 5, wholeLine: false, captures: &caps) }
        XCTAssertEqual(end, 5 + "Exit status 0x000001af (431)".utf8.count)
    }
}

final class TimeTests: XCTestCase {
    func testCivilDaysRoundTrip() {
        for (y, m, d) in [(1970, 1, 1), (2000, 2, 29), (2021, 11, 14), (2022, 3, 24), (1999, 12, 31)] {
            let days = Timestamp.daysFromCivil(y, m, d)
            let back = Timestamp.civilFromDays(days)
            XCTAssertEqual(back.year, y); XCTAssertEqual(back.month, m); XCTAssertEqual(back.day, d)
        }
        XCTAssertEqual(Timestamp.daysFromCivil(1970, 1, 2), 1)
    }

    func testFormatsParseAndRender() throws {
        let t = try Template("{t:time(DD MON YYYY)}")
        var caps = Captures()
        let line = Array("24 MAR 2022".utf8)
        let parts = line.withUnsafeBufferPointer { l -> TimeParts? in
            _ = t.match(l, captures: &caps)
            return t.time(in: l, slot: 0, captures: caps)
        }
        XCTAssertEqual(parts?.year, 2022); XCTAssertEqual(parts?.month, 3); XCTAssertEqual(parts?.day, 24)
        let stamp = try XCTUnwrap(Timestamp.parseUser("2022-03-24T10:07:19.5"))
        XCTAssertEqual(stamp.string(iso: true), "2022-03-24T10:07:19.5")
        XCTAssertEqual(stamp.string(iso: false), "03/24/2022-10:07:19.5")
        XCTAssertNil(Timestamp.parseUser("yesterday"))
        XCTAssertEqual(TimeBound.parse("10:07"), .timeOfDay(Int64(10 * 3600 + 7 * 60) * 1_000_000))
    }
}
