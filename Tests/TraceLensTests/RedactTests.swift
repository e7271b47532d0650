import Foundation
import XCTest
@testable import TraceLensInput
@testable import TraceLensDecode
@testable import TraceLensPlugins
@testable import TraceLensStore
@testable import TraceLensQuery
@testable import TraceLensDiagnose
@testable import TraceLensCommands

/// `tracelens redact`: copies that read, link and diagnose as the originals do, with none of the
/// originals' addresses, names, user ids or key rings in them.
final class RedactTests: XCTestCase {
    /// Values of the samples that must never reach a copy or what TraceLens prints about one.
    static let secrets: [String: [String]] = [
        "revoked-client-cert": ["10.1.0.2", "10.1.0.7", "10.1.1.2", "10.1.1.3", "START1", "MQRING", "ecec", "rsaca256", "cpwebuser",
                                "SSCA256", "SSCARSA1024", "SERVEREC", "LDAPID", "IBMUSER", "Your Company", "GLDSRV", "myracf", "colinpaice"],
        "attls-revoked": ["10.1.0.2", "10.1.0.9", "10.1.1.2", "SSCA256", "Your Company", "GLDSRV"],
    ]

    struct Copy {
        let dir: String
        let mapping: String
        let stdout: String
        /// Copy file name → original file name.
        let names: [String: String]
    }

    func redact(_ scenario: String, _ extra: [String] = []) throws -> Copy {
        let dir = Fixtures.tempDir() + "/" + scenario
        let run = try Fixtures.runTool(["redact", Fixtures.sample(scenario), "-o", dir] + extra)
        XCTAssertEqual(run.status, 0, run.stderr)
        var names: [String: String] = [:]
        for line in run.stdout.split(separator: "\n") where line.hasPrefix("wrote ") {
            let copy = String(line.dropFirst(6).prefix { $0 != " " })
            names[(copy as NSString).lastPathComponent] = ""
        }
        // Copies are written in the originals' (sorted) order.
        let originals = try FileManager.default.contentsOfDirectory(atPath: Fixtures.sample(scenario)).filter { !$0.hasPrefix(".") }.sorted()
        let copies = run.stdout.split(separator: "\n").filter { $0.hasPrefix("wrote ") }.map { String($0.dropFirst(6).prefix { $0 != " " }) }
        XCTAssertEqual(copies.count, originals.count)
        for (c, o) in zip(copies, originals) { names[(c as NSString).lastPathComponent] = o }
        return Copy(dir: dir, mapping: dir + ".mapping.tsv", stdout: run.stdout, names: names)
    }

    /// The connections, links and findings of a folder, said without addresses or names: each
    /// connection by its file (as the original is named), first line, outcome and error.
    func shape(_ folder: String, names: [String: String] = [:]) throws -> (connections: [String], links: [String], findings: [String]) {
        let db = Fixtures.tempDir() + "/s.db"
        let run = try IngestRun(plugins: Fixtures.plugins, store: try Store.openForWriting(db), options: IngestOptions())
        XCTAssertEqual(run.run([folder]), 0)
        func name(_ path: String) -> String { let n = (path as NSString).lastPathComponent; return names[n] ?? n }
        var connections: [String] = []
        let q = try run.store.db.prepare("SELECT s.path, c.first_line, c.outcome, coalesce(c.error, '') FROM connections c JOIN sources s ON s.id = c.source")
        while try q.step() { connections.append("\(name(q.string(0)!)):\(q.int(1)) \(q.string(2) ?? "") \(q.string(3) ?? "")") }
        var links: [String] = []
        let l = try run.store.db.prepare("""
            SELECT s.path, c.first_line, s2.path, g.first_line, k.rule FROM links k
            JOIN connections c ON c.id = k.conn JOIN sources s ON s.id = c.source
            JOIN connections g ON g.id = k.story JOIN sources s2 ON s2.id = g.source
            """)
        while try l.step() { links.append("\(name(l.string(0)!)):\(l.int(1)) → \(name(l.string(2)!)):\(l.int(3)) by \(l.string(4)!)") }
        let findings = try Doctor(plugins: Fixtures.plugins).diagnose(run.store).flatMap { d in d.findings.map(\.rule) }
        return (connections.sorted(), links.sorted(), findings.sorted())
    }

    /// (a) The copies give the same connections, outcomes, errors, links and doctor findings.
    func testCopiesReadLinkAndDiagnoseAsTheOriginals() throws {
        let scenarios = try FileManager.default.contentsOfDirectory(atPath: Fixtures.root + "/samples")
            .filter { FileManager.default.fileExists(atPath: Fixtures.sample($0 + "/expected-links.tsv")) }.sorted()
        XCTAssertGreaterThanOrEqual(scenarios.count, 8)
        for scenario in scenarios {
            let copy = try redact(scenario)
            let original = try shape(Fixtures.sample(scenario))
            let redacted = try shape(copy.dir, names: copy.names)
            XCTAssertFalse(original.connections.isEmpty, scenario)
            XCTAssertEqual(redacted.connections, original.connections, scenario)
            XCTAssertEqual(redacted.links, original.links, scenario)
            if Self.secrets[scenario] != nil {
                XCTAssertFalse(original.links.isEmpty, scenario)
                XCTAssertFalse(original.findings.isEmpty, scenario)
            }
            XCTAssertEqual(redacted.findings, original.findings, scenario)
        }
    }

    /// (b) None of the values appears in a copy, a copy's name, or what summary, connections,
    /// show and doctor print about the copies; the mapping (outside the folder) holds them, mode 0600.
    func testNoOriginalValueInCopiesOrOutput() throws {
        for (scenario, values) in Self.secrets.sorted(by: { $0.key < $1.key }) {
            let copy = try redact(scenario)
            var texts: [(String, String)] = []
            for name in try FileManager.default.contentsOfDirectory(atPath: copy.dir) {
                texts.append((name, name))
                texts.append((name, try String(contentsOfFile: copy.dir + "/" + name, encoding: .utf8)))
            }
            let db = Fixtures.tempDir() + "/r.db"
            XCTAssertEqual(try Fixtures.runTool(["ingest", "--db", db, copy.dir]).status, 0)
            for args in [["summary"], ["connections"], ["show", "1"], ["show", "3"], ["doctor", "--all"], ["connections", "--json"]] {
                let run = try Fixtures.runTool(args + ["--db", db])
                texts.append((args.joined(separator: " "), run.stdout + run.stderr))
            }
            texts.append(("redact output", copy.stdout))
            for (what, text) in texts {
                for v in values { XCTAssertFalse(text.lowercased().contains(v.lowercased()), "\(scenario): \(v) in \(what)") }
            }
            // The mapping: beside the folder, not in it, owner only, and it maps back.
            XCTAssertFalse(FileManager.default.fileExists(atPath: copy.dir + "/" + (copy.mapping as NSString).lastPathComponent))
            let attributes = try FileManager.default.attributesOfItem(atPath: copy.mapping)
            XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
            let mapping = try String(contentsOfFile: copy.mapping, encoding: .utf8)
            for v in values { XCTAssertTrue(mapping.contains("\t" + v + "\n") || mapping.lowercased().contains("\t" + v.lowercased() + "\n"), "\(scenario): \(v) mapped") }
            XCTAssertTrue(copy.stdout.contains("mapping: " + copy.mapping))
        }
    }

    /// `report --redact`: the report of the original store names none of the values, keeps the
    /// codes, and leaves its mapping beside it, owner only.
    func testTheReportRedactedNamesNoOriginalValue() throws {
        for (scenario, values) in Self.secrets.sorted(by: { $0.key < $1.key }) {
            let dir = Fixtures.tempDir()
            let db = dir + "/o.db"
            XCTAssertEqual(try Fixtures.runTool(["ingest", "--db", db, Fixtures.sample(scenario)]).status, 0)
            let run = try Fixtures.runTool(["report", "--db", db, "--all", "--redact", "--word", "SSCA256", "-o", dir + "/r.html"])
            XCTAssertEqual(run.status, 0, run.stderr)
            let html = try String(contentsOfFile: dir + "/r.html", encoding: .utf8)
            for v in values + ["SSCA256"] { XCTAssertFalse(html.lowercased().contains(v.lowercased()), "\(scenario): \(v) in the report") }
            XCTAssertTrue(html.contains("SSL 431") || html.contains("CMS 03353041"), "the codes stay")
            let attributes = try FileManager.default.attributesOfItem(atPath: dir + "/r.html.mapping.tsv")
            XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
            XCTAssertTrue(run.stdout.contains("mapping: " + dir + "/r.html.mapping.tsv"))
        }
        let bad = try Fixtures.runTool(["report", "--word", "x", "-o", Fixtures.tempDir() + "/r.html"])
        XCTAssertEqual(bad.status, 64, "--word needs --redact")
    }

    /// The tokens that must not change: times, message ids, hex codes, return codes and ports.
    static func fixedTokens(_ line: Substring) -> [String] {
        let patterns: [String] = [#"\b\d\d[:.]\d\d[:.]\d\d(\.\d+)?\b"#, #"\b\d\d/\d\d/\d{4}\b"#, #"\b[A-Z]{3}\d{4}[IEWAS]\b"#, #"0x[0-9A-Fa-f]+"#,
                        #"\bThd-\d+\b"#, #"\b(alert|code|rc=?|port) ?\d+\b"#, #"\b[a-z_0-9]+\(\)"#]
        var out: [String] = []
        for p in patterns {
            let re = try! NSRegularExpression(pattern: p)
            let s = String(line)
            for m in re.matches(in: s, range: NSRange(s.startIndex..., in: s)) { out.append(String(s[Range(m.range, in: s)!])) }
        }
        return out
    }

    /// (c) Line by line, the copies keep every line, and its times and codes; (d) one value has
    /// one stand-in in every file, and the same run gives the same stand-ins.
    func testTimesCodesAndLinesStayAndStandInsAreConsistent() throws {
        let copy = try redact("revoked-client-cert")
        for (copyName, originalName) in copy.names {
            let original = try String(contentsOfFile: Fixtures.sample("revoked-client-cert/" + originalName), encoding: .utf8)
            let redacted = try String(contentsOfFile: copy.dir + "/" + copyName, encoding: .utf8)
            let a = original.split(separator: "\n", omittingEmptySubsequences: false)
            let b = redacted.split(separator: "\n", omittingEmptySubsequences: false)
            XCTAssertEqual(a.count, b.count, originalName)
            for (x, y) in zip(a, b) { XCTAssertEqual(Self.fixedTokens(x), Self.fixedTokens(y), "\(originalName): \(x)") }
        }
        let mapping = try String(contentsOfFile: copy.mapping, encoding: .utf8)
        func standIn(_ value: String) -> String? {
            for line in mapping.split(separator: "\n") {
                let cols: [Substring] = line.split(separator: "\t", omittingEmptySubsequences: false)
                if cols.count == 3 && cols[2] == value { return String(cols[1]) }
            }
            return nil
        }
        let ip = try XCTUnwrap(standIn("10.1.0.2"))
        XCTAssertTrue(ip.hasPrefix("198.18."))
        let ring = try XCTUnwrap(standIn("MQRING"))
        let user = try XCTUnwrap(standIn("START1"))
        XCTAssertEqual(user.count, 6, "user ids keep their length")
        // The same stand-in in the job log, the SDSF capture, the GSK trace and the client's transcript.
        for name in ["gldsrv.joblog", "gldsrv-sdsf.txt", "gskssl.65567.trc"] {
            let copyName = try XCTUnwrap(copy.names.first { $0.value == name }?.key)
            let text = try String(contentsOfFile: copy.dir + "/" + copyName, encoding: .utf8)
            XCTAssertTrue(text.contains(ip + ":") || text.contains(ip + "["), name)
        }
        // A user id cut at the SDSF screen's edge (`USER GLDSR`) gets the start of the whole one's stand-in.
        let gldsrv = try XCTUnwrap(standIn("GLDSRV"))
        let sdsf = try String(contentsOfFile: copy.dir + "/" + XCTUnwrap(copy.names.first { $0.value == "gldsrv-sdsf.txt" }?.key), encoding: .utf8)
        XCTAssertTrue(sdsf.contains("IS ASSIGNED TO USER \(gldsrv.prefix(5))\n"), sdsf)
        XCTAssertNil(standIn("GLDSR"))
        let trace = try String(contentsOfFile: copy.dir + "/gskssl.65567.trc", encoding: .utf8)
        XCTAssertTrue(trace.contains("key ring \(user)/\(ring)"))
        // The key ring's EBCDIC bytes in the GSK_KEYRING_FILE dump: hex and text column both.
        let ebcdic = (user + "/" + ring).utf8.map { String(format: "%02x", EBCDIC.toLatin1.firstIndex(of: $0)!) }.joined()
        let dumpLine = try XCTUnwrap(trace.split(separator: "\n").first { $0.contains("*\(user)/\(ring)*") })
        XCTAssertEqual(dumpLine.split(separator: ":")[1].split(separator: "*")[0].replacingOccurrences(of: " ", with: ""), ebcdic)
        // A second run: the same stand-ins.
        let again = try redact("revoked-client-cert")
        XCTAssertEqual(try String(contentsOfFile: again.mapping, encoding: .utf8), mapping)
    }

    /// (f) Words the user lists go everywhere, from --word and --words.
    func testExtraWords() throws {
        let dir = Fixtures.tempDir()
        let input = dir + "/in"
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        try "10.07.19 STC04588  ACME payroll GLD1116E on ACMEHOST and acme\nthe Widget Corp box\n".write(toFile: input + "/log.txt", atomically: true, encoding: .utf8)
        try "# words\nWidget\n".write(toFile: dir + "/words.txt", atomically: true, encoding: .utf8)
        let run = try Fixtures.runTool(["redact", input + "/log.txt", "-o", dir + "/out", "--word", "ACME", "--words", dir + "/words.txt", "--mapping", dir + "/map.tsv"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let text = try String(contentsOfFile: dir + "/out/log.txt", encoding: .utf8)
        XCTAssertFalse(text.lowercased().contains("acme "))
        XCTAssertFalse(text.contains("Widget"))
        XCTAssertEqual(text, "10.07.19 STC04588  W001 payroll GLD1116E on ACMEHOST and w001\nthe WORD02 Corp box\n")
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/map.tsv"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out.mapping.tsv"))
    }

    /// (e) A missing file, an output that is a file, a binary file: said, exit 2, nothing written.
    func testBadInput() throws {
        let dir = Fixtures.tempDir()
        var run = try Fixtures.runTool(["redact", dir + "/nope.trc", "-o", dir + "/out"])
        XCTAssertEqual(run.status, 2)
        XCTAssertTrue(run.stderr.contains("nope.trc: no such file"), run.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out"))
        let file = Fixtures.write("x 10.1.0.2\n", named: "plain.trc")
        run = try Fixtures.runTool(["redact", Fixtures.sample("attls-revoked"), "-o", file])
        XCTAssertEqual(run.status, 2)
        XCTAssertTrue(run.stderr.contains("is a file"), run.stderr)
        let binary = Fixtures.write([0x41, 0x00, 0x42, 0x0A], named: "b.bin")
        run = try Fixtures.runTool(["redact", file, binary, "-o", dir + "/out2"])
        XCTAssertEqual(run.status, 2)
        XCTAssertTrue(run.stderr.contains("b.bin: not a text file"), run.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out2"))
        // Copies never replace their originals.
        run = try Fixtures.runTool(["redact", file, "-o", (file as NSString).deletingLastPathComponent])
        XCTAssertEqual(run.status, 2)
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), "x 10.1.0.2\n")
    }

    /// The reusable type: any text, the same stand-ins; addresses in their forms; secrets masked;
    /// OIDs, versions and times left alone.
    func testRedactorOnText() {
        let r = Redactor(plugins: Fixtures.plugins)
        let text = """
            from 10.1.0.2[42514] and ::FFFF:10.1.0.2 and 10.1.0.2.42514 and 10.1.0.2..1389
            oid 2.5.29.15 and 1.2.840.113549.1.1.11, version 2.4, time 10:07:19.102334, 08.24.06
            IPv6 2001:0db8:85a3::8a2e:370:7334 and fe80::1 but ::1 and 127.0.0.1 stay
            bindDN='CN=Colin Smith,OU=Dept,O=Acme Ltd,C=GB', rc=0
            GSK_LDAP_PASSWORD=passw0rd
            """
        let out = r.redacted(text)
        let ip = r.entries.first { $0.original == "10.1.0.2" }!.pseudonym
        XCTAssertEqual(out.split(separator: "\n").first, "from \(ip)[42514] and ::FFFF:\(ip) and \(ip).42514 and \(ip)..1389")
        XCTAssertTrue(out.contains("oid 2.5.29.15 and 1.2.840.113549.1.1.11, version 2.4, time 10:07:19.102334, 08.24.06\n"), out)
        XCTAssertFalse(out.contains("2001:0db8:85a3"))
        XCTAssertFalse(out.contains("fe80::1 "))
        XCTAssertTrue(out.contains("but ::1 and 127.0.0.1 stay"))
        XCTAssertTrue(out.contains("GSK_LDAP_PASSWORD=********"), out)
        XCTAssertFalse(out.contains("Colin Smith"))
        XCTAssertFalse(out.contains("Acme Ltd"))
        XCTAssertFalse(out.contains(",OU=Dept,"), out)
        XCTAssertTrue(out.contains(",C=GB', rc=0\n"), out)
        XCTAssertEqual(r.redacted("again 10.1.0.2"), "again \(ip)")
        XCTAssertEqual(out.split(separator: "\n").count, 5)
    }
}
