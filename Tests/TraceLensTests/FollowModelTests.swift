import Foundation
import XCTest
import CZlib
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

/// Model-based test of the follower, in the manner of Vector's file source tests: random
/// sequences of writes, partial writes, rotations (rename, copytruncate), truncation, deletion,
/// gzip of rotated files, graceful restarts and crashes, run against real files and a real
/// store, and checked against a model of what was written.
///
/// Invariant: every complete line written is stored exactly once, and a last line without its
/// line end is stored once, whole, at shutdown. Lines may be missing only when the file holding
/// them was destroyed (truncated, or deleted with every copy) before the follower had a cycle to
/// read them, or when a copytruncate's writer added them between the copy and the truncation
/// (they are then in neither file: copytruncate's own loss, which no follower can avoid).
///
/// CI runs 200 sequences. For 10,000:
///     TRACELENS_FOLLOW_SEQUENCES=10000 swift test --filter FollowModelTests
/// A failing sequence prints its seed; rerun just that one with TRACELENS_FOLLOW_SEED=<seed>.
final class FollowModelTests: XCTestCase {
    func testRandomSequencesStoreEveryLineExactlyOnce() throws {
        let env = ProcessInfo.processInfo.environment
        if let seed = env["TRACELENS_FOLLOW_SEED"].flatMap(UInt64.init) {
            try runSequence(seed: seed, steps: Int(env["TRACELENS_FOLLOW_STEPS"] ?? "") ?? 40)
            return
        }
        let count = Int(env["TRACELENS_FOLLOW_SEQUENCES"] ?? "") ?? 200
        let base = UInt64(env["TRACELENS_FOLLOW_BASE"] ?? "") ?? 0x7A11_5EED
        var totals = FollowModel.Totals()
        for i in 0..<count {
            let seed = base &+ UInt64(i)
            let totalsOfOne = try runSequence(seed: seed, steps: 40)
            totals.add(totalsOfOne)
            if testRun?.failureCount ?? 0 > 0 { return }
        }
        // The sequences must actually exercise what they claim to.
        XCTAssertGreaterThan(totals.operations["rotate"] ?? 0, count / 2)
        XCTAssertGreaterThan(totals.operations["copytruncate"] ?? 0, count / 4)
        XCTAssertGreaterThan(totals.operations["gzip"] ?? 0, count / 4)
        XCTAssertGreaterThan(totals.operations["gzip-keep"] ?? 0, count / 10)
        XCTAssertGreaterThan(totals.operations["crash"] ?? 0, count / 4)
        XCTAssertGreaterThan(totals.requiredLines, count * 20)
        XCTAssertGreaterThan(totals.operations["copytruncate-window"] ?? 0, count / 10)
        print("follow model: \(count) sequences, \(totals.requiredLines) lines required, \(totals.optionalLines) optional (\(totals.copytruncateWindowLines) of them written between a copytruncate's copy and truncation), operations \(totals.operations.sorted { $0.key < $1.key })")
    }

    @discardableResult
    func runSequence(seed: UInt64, steps: Int) throws -> FollowModel.Totals {
        let model = try FollowModel(seed: seed)
        defer { model.cleanUp() }
        for _ in 0..<steps { try model.randomStep() }
        try model.finish()
        let problems = try model.check()
        if !problems.isEmpty {
            XCTFail("seed \(seed) (rerun: TRACELENS_FOLLOW_SEED=\(seed)):\n  " + problems.prefix(10).joined(separator: "\n  ")
                    + "\n  operations: " + model.history.joined(separator: "; "))
        }
        return model.totals
    }
}

/// Small, fast, seedable generator (SplitMix64), so a failing seed replays exactly.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The files on disk, what each holds (as segments of lines), and the follower under test.
final class FollowModel {
    struct Totals {
        var requiredLines = 0, optionalLines = 0, copytruncateWindowLines = 0
        var operations: [String: Int] = [:]
        mutating func add(_ o: Totals) {
            requiredLines += o.requiredLines
            optionalLines += o.optionalLines
            copytruncateWindowLines += o.copytruncateWindowLines
            for (k, v) in o.operations { operations[k, default: 0] += v }
        }
    }

    /// Bytes written between two truncations of one file: the unit lines belong to. A copy or a
    /// .gz of a rotated file holds the same segment.
    final class Segment {
        var content: [UInt8] = []
        /// Content length at the last cycle the follower ran while the segment was on disk.
        var readable = 0
        var destroyed = false
    }

    struct FileObject {
        var segment: Segment
        var gzip = false
    }

    let dir: String
    let dbPath: String
    var rng: SeededRandom
    var files: [String: FileObject] = [:]
    let writers = ["a.log", "b.log"]
    /// The rotated file a writer that has not reopened yet still appends to.
    var oldFile: [String: String] = [:]
    var generation = 0
    var counter = 0
    var now: Double = 1000
    var follower: FollowRun?
    /// Fragments taken at a graceful shutdown, which a later read replaces unless the file is
    /// destroyed first.
    var provisional = Set<String>()
    /// Lines written between a copytruncate's copy and its truncation.
    var lostInCopytruncate = Set<String>()
    var history: [String] = []
    var totals = Totals()

    init(seed: UInt64) throws {
        rng = SeededRandom(seed: seed)
        dir = Fixtures.tempDir()
        dbPath = dir + "/store.db"
        for w in writers { try create(w) }
        try start()
    }

    func cleanUp() {
        follower = nil
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func path(_ name: String) -> String { dir + "/" + name }

    private func create(_ name: String) throws {
        _ = FileManager.default.createFile(atPath: path(name), contents: Data())
        files[name] = FileObject(segment: newSegment())
    }

    private func append(_ name: String, _ text: String) {
        let fd = open(path(name), O_WRONLY | O_APPEND)
        precondition(fd >= 0, "cannot open \(name)")
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        files[name]!.segment.content += bytes
    }

    private func note(_ op: String, _ detail: String = "") {
        totals.operations[op, default: 0] += 1
        history.append(detail.isEmpty ? op : "\(op) \(detail)")
    }

    private func start() throws {
        let store = try Store.openForWriting(dbPath)
        var options = FollowOptions()
        options.patterns = writers.map { path($0) + "*" }
        options.linkInterval = 0
        let verbose = ProcessInfo.processInfo.environment["TRACELENS_FOLLOW_LOG"] != nil
        follower = try FollowRun(plugins: Fixtures.plugins, store: store, options: options,
                                 log: verbose ? FollowLog(level: .debug) : FollowLog(level: .error, write: { _ in }),
                                 clock: { [unowned self] in now })
    }

    private func tick(_ seconds: Double) {
        guard let follower else { return }
        now += seconds
        follower.cycle()
        markReadable()
    }

    /// Every segment on disk has been looked at by a cycle: what it held then must be stored.
    private func markReadable() {
        for f in files.values { f.segment.readable = f.segment.content.count }
    }

    private func destroyIfUnheld(_ segment: Segment) {
        if !files.values.contains(where: { $0.segment === segment }) { segment.destroyed = true }
    }

    private func rotatedNames(plainOnly: Bool) -> [String] {
        files.keys.filter { !writers.contains($0) && (!plainOnly || !files[$0]!.gzip) }.sorted()
    }

    private func nextLine(_ w: String) -> String {
        counter += 1
        return "L\(counter)-\(w)-\(String(rng.next() % 100_000, radix: 36))\n"
    }

    func randomStep() throws {
        let w = writers[Int(rng.next() % UInt64(writers.count))]
        switch rng.next() % 100 {
        case 0..<30:
            let n = 1 + Int(rng.next() % 5)
            for _ in 0..<n { append(w, nextLine(w)) }
            note("write", "\(w) \(n)")
        case 30..<38:
            counter += 1
            append(w, "F\(counter)-")
            note("partial", w)
        case 38..<58:
            tick(rng.next() % 3 == 0 ? 3 : 0.1)
            note("tick")
        case 58..<65:
            generation += 1
            let rotated = "\(w).\(generation)"
            rename(path(w), path(rotated))
            files[rotated] = files[w]
            try create(w)
            oldFile[w] = rotated
            note("rotate", "\(w) -> \(rotated)")
        case 65..<69:
            // A writer that has not reopened yet: one more line into the rotated file.
            guard let old = oldFile[w], files[old] != nil, !files[old]!.gzip else { return }
            append(old, nextLine(w))
            note("write-old", old)
        case 69..<74:
            generation += 1
            let copy = "\(w).\(generation)"
            try FileManager.default.copyItem(atPath: path(w), toPath: path(copy))
            files[copy] = files[w]
            // Sometimes the writer adds lines between the copy and the truncation: they are in
            // neither file afterwards. That is copytruncate's own loss, and the only one allowed
            // here: those lines may be missing (never stored twice).
            if files[w]!.segment.fragment == nil && rng.next() % 2 == 0 {
                var window = ""
                for _ in 0..<(1 + Int(rng.next() % 3)) {
                    let line = nextLine(w)
                    window += line
                    lostInCopytruncate.insert(String(line.dropLast()))
                }
                let fd = open(path(w), O_WRONLY | O_APPEND)
                _ = Array(window.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                close(fd)
                note("copytruncate-window", w)
            }
            truncate(path(w), 0)
            files[w] = FileObject(segment: newSegment())
            oldFile[w] = nil
            note("copytruncate", "\(w) -> \(copy)")
        case 74..<77:
            let segment = files[w]!.segment
            truncate(path(w), 0)
            files[w] = FileObject(segment: newSegment())
            destroyIfUnheld(segment)
            note("truncate", w)
        case 77..<82:
            // logrotate's compress (the original removed), or `gzip -k` (both kept for a while).
            let plain = rotatedNames(plainOnly: true).filter { files[$0 + ".gz"] == nil }
            guard !plain.isEmpty else { return }
            let name = plain[Int(rng.next() % UInt64(plain.count))]
            let keep = rng.next() % 3 == 0
            let gz = name + ".gz"
            let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path(name))))
            let handle = gzopen(path(gz), "wb")!
            _ = bytes.withUnsafeBytes { gzwrite(handle, $0.baseAddress, UInt32($0.count)) }
            gzclose(handle)
            files[gz] = FileObject(segment: files[name]!.segment, gzip: true)
            if keep {
                // The writer must not add to a file whose .gz is already made.
                for (k, v) in oldFile where v == name { oldFile[k] = nil }
                note("gzip-keep", name)
                return
            }
            unlink(path(name))
            files[name] = nil
            for (k, v) in oldFile where v == name { oldFile[k] = nil }
            note("gzip", name)
        case 82..<86:
            let rotated = rotatedNames(plainOnly: false)
            guard !rotated.isEmpty else { return }
            let name = rotated[Int(rng.next() % UInt64(rotated.count))]
            let segment = files[name]!.segment
            unlink(path(name))
            files[name] = nil
            for (k, v) in oldFile where v == name { oldFile[k] = nil }
            destroyIfUnheld(segment)
            note("delete", name)
        case 86..<91:
            if follower != nil {
                // A graceful stop takes the partial last lines as they are.
                for f in files.values { if let fragment = f.segment.fragment { provisional.insert(fragment) } }
                now += 0.1
                follower!.shutdown()
                markReadable()
                follower = nil
                note("stop")
            } else {
                try start()
                tick(0.1)
                note("start")
            }
        default:
            if follower != nil {
                // kill -9 between commits: nothing more is written, in-memory state is lost.
                follower = nil
                note("crash")
            } else {
                try start()
                tick(0.1)
                note("start")
            }
        }
    }

    func finish() throws {
        if follower == nil { try start() }
        tick(3)
        tick(3)
        follower!.shutdown()
        markReadable()
        follower = nil
    }

    /// Compares the store with the model; returns the problems found.
    func check() throws -> [String] {
        var required: [String] = []
        var optional = provisional.union(lostInCopytruncate)
        totals.copytruncateWindowLines += lostInCopytruncate.count
        var segments: [ObjectIdentifier: Segment] = [:]
        for f in files.values { segments[ObjectIdentifier(f.segment)] = f.segment }
        for s in allSegments { segments[ObjectIdentifier(s)] = s }
        for s in segments.values {
            var start = 0
            let c = s.content
            while start < c.count {
                let end = c[start...].firstIndex(of: 0x0A)
                let text = String(decoding: c[start..<(end ?? c.count)], as: UTF8.self)
                let complete = end != nil
                if s.destroyed && (!complete || end! >= s.readable) {
                    optional.insert(text)
                } else {
                    required.append(text)
                }
                start = (end ?? c.count) + 1
            }
        }
        totals.requiredLines += required.count
        totals.optionalLines += optional.count
        let store = try Store.openForReading(dbPath)
        let q = try store.db.prepare("SELECT text FROM records")
        var stored: [String: Int] = [:]
        while try q.step() { stored[q.string(0) ?? "", default: 0] += 1 }
        var problems: [String] = []
        for text in required where stored[text] != 1 {
            problems.append("\(stored[text] ?? 0) times: \(text)")
        }
        let expected = Set(required).union(optional)
        for (text, n) in stored where !expected.contains(text) || n > 1 {
            if !Set(required).contains(text) { problems.append("stored \(n) times but never written whole: \(text)") }
        }
        return problems
    }

    /// Segments no file holds any more (destroyed), kept for the check.
    private var allSegments: [Segment] = []
    private func newSegment() -> Segment {
        let s = Segment()
        allSegments.append(s)
        return s
    }
}

extension FollowModel.Segment {
    /// The last line, when it has no line end yet.
    var fragment: String? {
        guard let last = content.last, last != 0x0A else { return nil }
        let start = (content.lastIndex(of: 0x0A).map { $0 + 1 }) ?? 0
        return String(decoding: content[start...], as: UTF8.self)
    }
}
