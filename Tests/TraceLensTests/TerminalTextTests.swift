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

/// Control bytes in traces, logs, certificates and configuration files never reach the terminal
/// raw: every text output shows them (`^[`, `^G`, `\x9b`, `\xff`); JSON escapes them.
final class TerminalTextTests: XCTestCase {
    /// ESC[2J (clear the screen), BEL, a C1 CSI written as UTF-8, a raw C1 byte, a byte that is
    /// not UTF-8.
    static let hostile: [UInt8] = [0x1B] + Array("[2J".utf8) + [0x07, 0x20, 0xC2, 0x9B, 0x41, 0x20, 0x9B, 0x42, 0x20, 0xFF]
    static let shown = "^[[2J^G \\x9bA \\x9bB \\xff"

    /// No C0 control but line ends and tabs, no DEL, no C1 control in `text`.
    func assertNothingRaw(_ text: String, allowing: Set<Unicode.Scalar> = ["\n", "\t"], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        for s in text.unicodeScalars where (s.value < 0x20 && !allowing.contains(s)) || (0x7F...0x9F).contains(s.value) {
            XCTFail("\(what): raw U+\(String(s.value, radix: 16)) in its output", file: file, line: line)
            return
        }
    }

    // MARK: the helper

    func testControlBytesAreShownAndTextIsKept() {
        XCTAssertEqual(TerminalText.visible(bytes: Self.hostile), Self.shown)
        XCTAssertEqual(TerminalText.visible("a\u{1B}[31mred\u{07}\u{7F}\u{0}\r\tend"), "a^[[31mred^G^?^@^M\tend")
        XCTAssertEqual(TerminalText.visible("two\nlines\u{1B}", keepingNewlines: true), "two\nlines^[")
        XCTAssertEqual(TerminalText.visible("two\nlines"), "two^Jlines")
        // Text in other scripts, symbols and emoji are text.
        for plain in ["Grüße, 日本語, Ελληνικά, — €, 🔒", "plain ASCII with\ttabs", ""] {
            XCTAssertEqual(TerminalText.visible(plain), plain)
            XCTAssertTrue(TerminalText.isPlain(plain))
        }
        XCTAssertEqual(TerminalText.visible("x\u{9B}y\u{85}z\u{A0}"), "x\\x9by\\x85z\u{A0}", "C1 controls shown, NBSP kept")
        // Not UTF-8: lone continuation bytes, overlong forms, surrogates, sequences cut short.
        XCTAssertEqual(TerminalText.visible(bytes: [0x80, 0xC0, 0xAF, 0xE0, 0x80, 0x80, 0xED, 0xA0, 0x80, 0xF4, 0x90, 0x80, 0x80, 0x61, 0xE2, 0x82]),
                       "\\x80\\xc0\\xaf\\xe0\\x80\\x80\\xed\\xa0\\x80\\xf4\\x90\\x80\\x80a\\xe2\\x82")
        XCTAssertEqual(TerminalText.visible(bytes: Array("€".utf8) + [0xE2, 0x82]), "€\\xe2\\x82")
    }

    /// The eight-bytes-at-a-time scan finds every special byte wherever it falls: the output
    /// equals a plain byte-by-byte rendering on random mixes of text and hostile bytes.
    func testFastScanAgreesWithByteByByteRendering() {
        var rng = TerminalTextRandom(seed: 12)
        let pieces: [[UInt8]] = [Array("abcdefgh".utf8), Array("0123456789 ".utf8), [0x09], [0x1B], [0x07], [0x7F], [0x00], [0x0A], [0x0D],
                                 [0xC2, 0x9B], [0xC2, 0xA0], [0x9B], [0xFF], [0xC3, 0xA9], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x94, 0x92],
                                 [0xE2, 0x82], [0xED, 0xA0, 0x80], [0xC0, 0x80]]
        for _ in 0..<3000 {
            var input: [UInt8] = []
            for _ in 0..<Int(rng.next() % 24) { input += pieces[Int(rng.next() % UInt64(pieces.count))] }
            let out = ByteBuffer(capacity: 16)
            TerminalText.append(input, to: out)
            XCTAssertEqual(out.string, Self.reference(input), "input \(input)")
            XCTAssertEqual(TerminalText.visible(String(decoding: input, as: UTF8.self)),
                           Self.reference(Array(String(decoding: input, as: UTF8.self).utf8)))
        }
    }

    /// The rule, one byte at a time, with Foundation's UTF-8 decoding as the judge of validity.
    static func reference(_ bytes: [UInt8]) -> String {
        var out = ""
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x09 || (b >= 0x20 && b < 0x7F) { out.append(Character(Unicode.Scalar(b))); i += 1; continue }
            if b < 0x20 || b == 0x7F { out += "^" + String(Unicode.Scalar(b ^ 0x40)); i += 1; continue }
            var decoded: String?
            var length = 0
            for n in 2...4 where i + n <= bytes.count {
                if let s = String(bytes: bytes[i..<i + n], encoding: .utf8), s.unicodeScalars.count == 1 { decoded = s; length = n; break }
            }
            if let decoded, let scalar = decoded.unicodeScalars.first {
                out += scalar.value < 0xA0 ? "\\x" + String(format: "%02x", scalar.value) : decoded
                i += length
            } else {
                out += "\\x" + String(format: "%02x", b)
                i += 1
            }
        }
        return out
    }

    // MARK: each command, through the binary

    /// One gsktrace line with the hostile bytes in its message.
    func hostileTrace() -> String {
        Fixtures.write(Array("03/24/2022-10:07:19 Thd-3 ERROR check_revoked(): before ".utf8) + Self.hostile
                       + Array(" after: Error 0x03353041\n".utf8), named: "hostile.trc")
    }

    func testFormatShowsControlBytesWithColourOffAndOn() throws {
        let path = hostileTrace()
        let plain = try Fixtures.runTool(["format", path])
        XCTAssertEqual(plain.status, 0)
        XCTAssertTrue(plain.stdout.contains("before \(Self.shown) after"), plain.stdout)
        XCTAssertTrue(plain.stdout.contains("[CMS 03353041: Certificate is revoked.]"))
        assertNothingRaw(plain.stdout, "format (no colour)")
        XCTAssertFalse(plain.stdout.contains("\u{FFFD}"), "a byte that is not UTF-8 shows as \\xff")

        let coloured = try Fixtures.runTool(["format", "--color", "always", path])
        XCTAssertTrue(coloured.stdout.contains("before \(Self.shown) after"), coloured.stdout)
        XCTAssertTrue(coloured.stdout.contains("\u{1B}[1;31m"), "its own colours stay")
        assertNothingRaw(coloured.stdout.replacingOccurrences(of: "\u{1B}[", with: ""), "format --color always")
        XCTAssertFalse(coloured.stdout.contains("\u{1B}[2J"))

        // JSON escapes them: C0 and C1 as \u00XX, the stray byte as U+FFFD; still valid JSON.
        let json = try Fixtures.runTool(["format", "--json", path])
        XCTAssertTrue(json.stdout.contains(#"before \u001b[2J\u0007 \u009bA \uFFFDB \uFFFD after"#.replacingOccurrences(of: #"\uFFFD"#, with: "\u{FFFD}")), json.stdout)
        assertNothingRaw(json.stdout, "format --json")
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        XCTAssertEqual((object?["message"] as? String)?.hasPrefix("before \u{1B}[2J\u{07} \u{9B}A"), true)
    }

    /// A GSK trace whose failed connection quotes the hostile bytes in a record that doctor
    /// also gives as evidence.
    func hostileStory() throws -> String {
        let sample = try String(contentsOfFile: Fixtures.sample("revoked-client-cert/gskssl.65567.trc"), encoding: .utf8)
        var bytes: [UInt8] = []
        for (i, line) in sample.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if i > 0 { bytes.append(0x0A) }
            if i == 82 {  // line 83: `RFC 2459 Revoked certificate check failed: Error 0x03353041`
                XCTAssertTrue(line.contains("RFC 2459 Revoked"))
                let parts = line.components(separatedBy: "RFC 2459 ")
                bytes += Array((parts[0] + "RFC 2459 ").utf8) + Self.hostile + Array((" " + parts[1]).utf8)
            } else {
                bytes += Array(line.utf8)
            }
        }
        return Fixtures.write(bytes, named: "gskssl.65567.trc")
    }

    func testStoredTextIsShownVisiblyBySQLShowAndConnections() throws {
        let trace = try hostileStory()
        let db = Fixtures.tempDir() + "/t.db"
        XCTAssertEqual(try Fixtures.runTool(["ingest", "--db", db, trace]).status, 0)
        let like = "WHERE text LIKE '%RFC 2459%'"

        let sql = try Fixtures.runTool(["sql", "--db", db, "SELECT line, text FROM records \(like)"])
        XCTAssertEqual(sql.status, 0)
        XCTAssertTrue(sql.stdout.contains("RFC 2459 ^[[2J^G \\x9bA"), sql.stdout)
        assertNothingRaw(sql.stdout, "sql")
        let csv = try Fixtures.runTool(["sql", "--db", db, "--csv", "SELECT line, text FROM records \(like)"])
        XCTAssertTrue(csv.stdout.contains("RFC 2459 ^[[2J^G \\x9bA"), csv.stdout)
        assertNothingRaw(csv.stdout, allowing: ["\n", "\r", "\t"], "sql --csv")
        let json = try Fixtures.runTool(["sql", "--db", db, "--json", "SELECT text FROM records \(like)"])
        XCTAssertTrue(json.stdout.contains(#"RFC 2459 \u001b[2J\u0007 \u009bA"#), json.stdout)
        assertNothingRaw(json.stdout, "sql --json")
        // A column named by the query is shown the same way.
        let named = try Fixtures.runTool(["sql", "--db", db, "SELECT 1 AS \"a\u{1B}[2Jb\""])
        XCTAssertTrue(named.stdout.contains("a^[[2Jb"), named.stdout)

        let show = try Fixtures.runTool(["show", "--db", db, "1"])
        XCTAssertEqual(show.status, 0, show.stderr)
        XCTAssertTrue(show.stdout.contains("RFC 2459 \(Self.shown) Revoked certificate check failed"), show.stdout)
        assertNothingRaw(show.stdout, "show")
        let coloured = try Fixtures.runTool(["show", "--db", db, "--color", "always", "1"])
        XCTAssertFalse(coloured.stdout.contains("\u{1B}[2J"))
        XCTAssertTrue(coloured.stdout.contains("RFC 2459 \(Self.shown)"))
        let showCSV = try Fixtures.runTool(["show", "--db", db, "--csv", "1"])
        XCTAssertTrue(showCSV.stdout.contains("RFC 2459 ^[[2J^G \\x9bA"), showCSV.stdout)
        assertNothingRaw(showCSV.stdout, allowing: ["\n", "\r", "\t"], "show --csv")
        let showJSON = try Fixtures.runTool(["show", "--db", db, "--json", "1"])
        XCTAssertTrue(showJSON.stdout.contains(#"RFC 2459 \u001b[2J\u0007 \u009bA"#), showJSON.stdout)
        assertNothingRaw(showJSON.stdout, "show --json")

        let connections = try Fixtures.runTool(["connections", "--db", db])
        assertNothingRaw(connections.stdout, "connections")
    }

    func testDoctorQuotesEvidenceVisibly() throws {
        let trace = try hostileStory()
        let doctor = try Fixtures.runTool(["doctor", trace])
        XCTAssertTrue(doctor.stdout.contains("[revoked-certificate]"), doctor.stdout)
        XCTAssertTrue(doctor.stdout.contains("gskssl.65567.trc:83  03/24/2022-10:07:19 Thd-3 ERROR check_revoked(): RFC 2459 ^[[2J^G \\x9bA"), doctor.stdout)
        assertNothingRaw(doctor.stdout, "doctor")
        let json = try Fixtures.runTool(["doctor", "--json", trace])
        XCTAssertTrue(json.stdout.contains(#"RFC 2459 \u001b[2J\u0007 \u009bA"#), json.stdout)
        assertNothingRaw(json.stdout, "doctor --json")
    }

    func testLintQuotesTheFileVisibly() throws {
        let env = Fixtures.write(Array("GSK_PROTOCL_TLSV1_2\u{1B}[2J\u{07}=ON\nGSK_V3_CIPHER_SPECS_EXPANDED=C02C\u{9B}XYZ\n".utf8), named: "gldsrv.envvars")
        let lint = try Fixtures.runTool(["lint", env])
        XCTAssertEqual(lint.status, 1)
        XCTAssertTrue(lint.stdout.contains("GSK_PROTOCL_TLSV1_2^[[2J^G is not a keyword"), lint.stdout)
        XCTAssertTrue(lint.stdout.contains("holds '\\x9b'"), lint.stdout)
        assertNothingRaw(lint.stdout, "lint")
        let json = try Fixtures.runTool(["lint", "--json", env])
        XCTAssertTrue(json.stdout.contains(#"GSK_PROTOCL_TLSV1_2\u001b[2J\u0007"#), json.stdout)
        XCTAssertTrue(json.stdout.contains(#"holds '\u009b'"#), json.stdout)
        assertNothingRaw(json.stdout, "lint --json")
    }

    /// `plugins check` quotes plugin text and `daemon --check` the configured paths (TOML
    /// escapes such as `\u001B` put control bytes in them): shown.
    func testPluginsCheckAndDaemonCheckShowControlBytesVisibly() throws {
        let dir = Fixtures.tempDir() + "/mine"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "[plugin]\nname = \"mine\"\ndescription = \"test\"\n\n[[format]]\nname = \"bad\\u001B[2J\"\nrecord = \"{x:nosuchkind}\"\n"
            .write(toFile: dir + "/plugin.toml", atomically: true, encoding: .utf8)
        let check = try Fixtures.runTool(["plugins", "check", dir])
        XCTAssertEqual(check.status, 1, check.stdout)
        XCTAssertTrue(check.stdout.contains("bad^[[2J"), check.stdout)
        assertNothingRaw(check.stdout, "plugins check")
        let config = Fixtures.tempDir() + "/d.toml"
        try "db = \"d.db\"\npaths = [\"x\\u001B[2J\\u0007*.trc\"]\n".write(toFile: config, atomically: true, encoding: .utf8)
        let daemon = try Fixtures.runTool(["daemon", "--config", config, "--check"])
        XCTAssertEqual(daemon.status, 0, daemon.stderr)
        XCTAssertTrue(daemon.stdout.contains("x^[[2J^G*.trc"), daemon.stdout)
        assertNothingRaw(daemon.stdout, "daemon --check")
    }

    /// Warnings quote file names: a name holding ESC[2J is shown, not obeyed.
    func testWarningsShowFileNamesVisibly() throws {
        let dir = Fixtures.tempDir()
        let missing = dir + "/gone\u{1B}[2J\u{07}.trc"
        let format = try Fixtures.runTool(["format", missing])
        XCTAssertEqual(format.status, 1)
        XCTAssertTrue(format.stderr.contains("gone^[[2J^G.trc"), format.stderr)
        assertNothingRaw(format.stderr, "format's warning")
        let lint = try Fixtures.runTool(["lint", missing])
        XCTAssertTrue(lint.stderr.contains("gone^[[2J^G.trc: No such file"), lint.stderr)
        assertNothingRaw(lint.stderr, "lint's warning")
        let cert = try Fixtures.runTool(["cert", missing])
        XCTAssertEqual(cert.status, 2)
        XCTAssertTrue(cert.stderr.contains("gone^[[2J^G.trc"), cert.stderr)
        assertNothingRaw(cert.stderr, "cert's warning")
        // A folder's file names are printed by ingest.
        _ = FileManager.default.createFile(atPath: dir + "/ev\u{1B}[2Jil.trc", contents: Data("03/24/2022-10:07:19 Thd-3 INFO f(): x\n".utf8))
        let ingest = try Fixtures.runTool(["ingest", "--db", dir + "/s.db", dir])
        XCTAssertEqual(ingest.status, 0, ingest.stderr)
        XCTAssertTrue(ingest.stdout.contains("ev^[[2Jil.trc: added 1 records"), ingest.stdout)
        assertNothingRaw(ingest.stdout, "ingest")
    }

    /// `watch` prints records as they come, and logs file names, with control bytes shown.
    func testWatchShowsControlBytes() throws {
        let dir = Fixtures.tempDir()
        let trace = dir + "/ev\u{1B}[2Jil.trc"
        _ = FileManager.default.createFile(atPath: trace, contents: Data(Array("03/24/2022-10:07:19 Thd-3 ERROR check_revoked(): before ".utf8)
                                                                             + Self.hostile + Array(" after: Error 0x03353041\n".utf8)))
        let db = dir + "/w.db"
        let run = try Fixtures.runWatch(["watch", "--verbose", "--db", db, dir + "/*.trc"]) { out, _ in out.contains("after") }
        XCTAssertEqual(run.status, 0)
        XCTAssertTrue(run.stdout.contains("ev^[[2Jil.trc:1 03/24/2022-10:07:19 Thd-3 ERROR check_revoked(): before \(Self.shown) after"), run.stdout)
        assertNothingRaw(run.stdout, "watch")
        XCTAssertTrue(run.stderr.contains("ev^[[2Jil.trc"), run.stderr)
        assertNothingRaw(run.stderr, "watch's log")
    }
}

/// A small deterministic generator (SplitMix64) for repeatable random inputs.
struct TerminalTextRandom {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
