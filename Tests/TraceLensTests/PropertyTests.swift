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

/// Bad input never crashes and never loses a line: random and mangled input, checked against the
/// line accounting every reader keeps.
final class PropertyTests: XCTestCase {
    /// Lines from the samples, cut, spliced, duplicated and sprinkled with random bytes.
    func mangledInput(seed: UInt64, lines count: Int) throws -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        let sources = try ["revoked-client-cert/gskssl.65567.trc", "attls-revoked/gsksrvr-ctrace.txt", "busy/gskssl.33554467.trc",
                           "revoked-client-cert/gldsrv.joblog", "revoked-client-cert/gldsrv-sdsf.txt", "revoked-client-cert/gldsrv.dsout",
                           "revoked-client-cert/client.txt", "tls13-missing-aki/client.txt", "attls-revoked/syslogd.log"]
            .flatMap { try String(contentsOfFile: Fixtures.sample($0), encoding: .utf8).split(separator: "\n").map { Array($0.utf8) } }
        var out: [UInt8] = []
        for _ in 0..<count {
            var line = sources[Int(rng.next() % UInt64(sources.count))]
            switch rng.next() % 8 {
            case 0: line = Array(line.prefix(Int(rng.next() % UInt64(line.count + 1))))              // truncated
            case 1: line = Array(line.suffix(Int(rng.next() % UInt64(line.count + 1))))              // head cut off
            case 2: for _ in 0..<3 where !line.isEmpty { line[Int(rng.next() % UInt64(line.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            case 3: line = (0..<Int(rng.next() % 120)).map { _ in UInt8(truncatingIfNeeded: rng.next() % 255 + 1) } // noise
            case 4: line += sources[Int(rng.next() % UInt64(sources.count))]                          // two lines glued
            default: break
            }
            out += line.map { $0 == 0 || $0 == 0x0A ? 0x20 : $0 }  // keep one line per line
            out.append(0x0A)
        }
        return out
    }

    func testEveryLineIsAccountedForInEveryLayout() throws {
        var exercised = 0
        for seed in 1...20 {
            let bytes = try mangledInput(seed: UInt64(seed), lines: 500)
            let path = Fixtures.write(bytes, named: "mangled-\(seed).trc")
            for layout in [nil, "gsktrace", "ctrace", "gld-joblog", "gld-sdsf", "gld-debug", "client-transcript", "attls-syslog"] {
                let summary: SourceSummary
                do { summary = try Fixtures.records(path, format: layout).1 } catch let error as InputError {
                    // Random bytes may make the whole file look binary: then it must say so by name.
                    XCTAssertTrue("\(error)".hasPrefix(path)); continue
                }
                exercised += 1
                let c = summary.counts
                XCTAssertEqual(c.lines, 500, "seed \(seed)")
                XCTAssertEqual(c.records + c.continuations + c.unparsed + c.blank + c.headers, c.lines, "seed \(seed), layout \(layout ?? "detected")")
                // Rendering never fails either, as text or JSON.
                let (text, status) = Fixtures.format([path]) { $0.forcedFormat = layout }
                XCTAssertEqual(status, 0)
                XCTAssertFalse(text.isEmpty)
                let (json, _) = Fixtures.format([path]) { $0.forcedFormat = layout; $0.json = true }
                for line in json.split(separator: "\n") {
                    XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(line.utf8)), "seed \(seed): \(line.prefix(80))")
                }
            }
        }
        // Inputs taken for binary are skipped above; most must still be read, or this tests nothing.
        XCTAssertGreaterThanOrEqual(exercised, 20 * 8 * 3 / 4, "mangled inputs read as text")
    }

    /// The store takes the same mangled input: every record stored, counts consistent, every
    /// query answers.
    func testMangledInputIngestsAndQueries() throws {
        var exercised = 0, shown = 0
        for seed in 21...30 {
            let bytes = try mangledInput(seed: UInt64(seed), lines: 400)
            let path = Fixtures.write(bytes, named: "gskssl.\(seed).trc")
            let records: Int
            do { records = try Fixtures.records(path).0.count } catch is InputError { continue }
            exercised += 1
            let (db, results) = try Fixtures.ingest([path], batch: 37)
            XCTAssertEqual(results[0].records, records, "seed \(seed)")
            let store = try Store.openForReading(db)
            XCTAssertEqual(try store.db.scalar("SELECT count(*) FROM records"), Int64(records), "seed \(seed)")
            XCTAssertEqual(try store.db.scalar("SELECT records FROM sources"), Int64(records), "seed \(seed)")
            XCTAssertEqual(try store.db.scalar("SELECT sum(records) FROM connections") ?? 0,
                           try store.db.scalar("SELECT count(*) FROM records WHERE conn IS NOT NULL"), "seed \(seed)")
            let q = try Fixtures.queries(db)
            _ = try q.summary()
            for row in try q.connections(ConnectionFilter()).rows {
                guard case let .int(id) = row[0] else { continue }
                let fd = open("/dev/null", O_WRONLY)
                try ConnectionStory(queries: q).show(id, style: .json, colour: false, output: Output(fd: fd))
                close(fd)
                shown += 1
            }
        }
        XCTAssertGreaterThanOrEqual(exercised, 7, "mangled inputs read as text")
        XCTAssertGreaterThan(shown, 0, "some connection of the mangled input was shown")
    }

    func testRandomTemplatesCompileOrFailCleanly() {
        var rng = SplitMix64(seed: 99)
        let alphabet = Array("{}?:()[]\\|abcT0123 -.time(MM/DD/YYYY hh:mm:ss[.f])hex(8)int word one(A|B) rest text".utf8)
        var compiled = 0
        for _ in 0..<3000 {
            let source = String(decoding: (0..<Int(rng.next() % 40)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }, as: UTF8.self)
            guard let t = try? Template(source) else { continue }
            compiled += 1
            _ = t.match("Thd-3 INFO f(): x 12:34:56 A")
            _ = t.match("")
        }
        XCTAssertGreaterThan(compiled, 100, "the generator should produce some valid templates")
    }

    func testExplainNeverFailsOnOddInput() {
        let explainer = Explainer(plugins: Fixtures.plugins)
        for q in ["", " ", "0x", "134CC", "alert", "alert alert", String(repeating: "9", count: 400), "0xFFFFFFFFFFFFFFFFFFFF", "-1", "GSK_V3_CIPHER_SPECS_EXPANDED=", "=", "é"] {
            _ = explainer.readings(q)
            _ = explainer.search(q)
            _ = explainer.decodeList(q)
        }
        XCTAssertEqual(explainer.decodeList("GSK_V3_CIPHER_SPECS_EXPANDED=")?.elements.count, 0)
    }
}
