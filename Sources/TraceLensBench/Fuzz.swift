import Foundation
import Synchronization
import CZlib
import TraceLensDecode
import TraceLensPlugins
import TraceLensHandshake
import TraceLensInput

/// A seeded, deterministic random-mutation fuzzer for TraceLens's parsers.
///
/// A Swift runtime trap kills the process, so inputs run in a child (`tracelens fuzz-child`):
/// the child writes each input to a file before running it, so a crash leaves the crashing input
/// behind; a per-input CPU-time timer (SIGPROF, default action: the child dies) turns a hang into a
/// finding. The parent (`tracelens bench --only fuzz`) restarts the child after a crash, keeps the
/// input in the corpus and reports. The same seed gives the same inputs.
public enum Fuzz {
    /// Bytes that make parsers take unusual branches: NUL, line ends (ASCII and EBCDIC), ESC,
    /// 0xFF, UTF-8 lead bytes, brackets and quotes of the template and TOML languages, gzip magic.
    package static let interesting: [UInt8] = [0x00, 0x0A, 0x0D, 0x1B, 0xFF, 0x7F, 0x80, 0xC3, 0xE2, 0xF0, 0x15, 0x25, 0x40,
                                       0x7B, 0x7D, 0x5B, 0x5D, 0x22, 0x27, 0x3D, 0x5C, 0x3A, 0x2E, 0x30, 0x39, 0x1F, 0x8B, 0x20, 0x09]

    /// Returns a mutated copy of `input`: one to six stacked edits, some of which splice in bytes
    /// from other corpus entries or the target's dictionary.
    package static func mutate(_ input: [UInt8], corpus: [[UInt8]], dictionary: [[UInt8]], random r: inout SplitMix64, maxSize: Int) -> [UInt8] {
        var b = input
        for _ in 0..<(1 + r.below(6)) {
            switch r.below(13) {
            case 0 where !b.isEmpty:  // bit flip
                b[r.below(b.count)] ^= UInt8(1) << UInt8(r.below(8))
            case 1 where !b.isEmpty:  // random byte
                b[r.below(b.count)] = UInt8(truncatingIfNeeded: r.next())
            case 2 where !b.isEmpty:  // interesting byte
                b[r.below(b.count)] = interesting[r.below(interesting.count)]
            case 3:  // insert a few interesting or random bytes
                let at = r.below(b.count + 1)
                let n = 1 + r.below(8)
                b.insert(contentsOf: (0..<n).map { _ in r.below(2) == 0 ? interesting[r.below(interesting.count)] : UInt8(truncatingIfNeeded: r.next()) }, at: at)
            case 4 where !b.isEmpty:  // delete a range
                let at = r.below(b.count)
                b.removeSubrange(at..<min(b.count, at + 1 + r.below(32)))
            case 5 where !corpus.isEmpty:  // splice: a piece of another input inserted here
                let other = corpus[r.below(corpus.count)]
                guard !other.isEmpty else { continue }
                let from = r.below(other.count)
                let piece = other[from..<min(other.count, from + 1 + r.below(256))]
                b.insert(contentsOf: piece, at: r.below(b.count + 1))
            case 6 where !corpus.isEmpty:  // crossover: our head, another input's tail
                let other = corpus[r.below(corpus.count)]
                b = Array(b.prefix(r.below(b.count + 1))) + other.suffix(r.below(other.count + 1))
            case 7 where !b.isEmpty:  // repeated block
                let at = r.below(b.count)
                let block = Array(b[at..<min(b.count, at + 1 + r.below(64))])
                let times = 1 + r.below(r.below(4) == 0 ? 200 : 8)
                b.insert(contentsOf: Array([[UInt8]](repeating: block, count: times).joined()), at: at)
            case 8:  // a long run of one byte
                let n = r.below(4) == 0 ? 1 + r.below(70_000) : 1 + r.below(512)
                let byte = r.below(2) == 0 ? interesting[r.below(interesting.count)] : UInt8(truncatingIfNeeded: r.next())
                b.insert(contentsOf: [UInt8](repeating: byte, count: n), at: r.below(b.count + 1))
            case 9 where !b.isEmpty:  // truncate
                b.removeSubrange(r.below(b.count)...)
            case 10 where b.count > 1:  // copy a block over another place
                let from = r.below(b.count), to = r.below(b.count)
                let n = min(1 + r.below(64), b.count - from, b.count - to)
                let block = Array(b[from..<(from + n)])
                b.replaceSubrange(to..<(to + n), with: block)
            case 11 where !dictionary.isEmpty:  // a token of the target's language
                b.insert(contentsOf: dictionary[r.below(dictionary.count)], at: r.below(b.count + 1))
            case 12 where !b.isEmpty:  // an ASCII digit run turned into a huge or odd number
                let at = r.below(b.count)
                let numbers = ["0", "-1", "99999999999999999999", "9223372036854775807", "-9223372036854775808", "4294967296", "1e308", "nan", "0x"]
                b.insert(contentsOf: Array(numbers[r.below(numbers.count)].utf8), at: at)
            default:
                continue
            }
        }
        if b.count > maxSize { b.removeSubrange(maxSize...) }
        return b
    }

    /// gzip-compresses `bytes` (level 6, one member).
    package static func gzip(_ bytes: [UInt8]) -> [UInt8] {
        var stream = z_stream()
        guard deflateInit2_(&stream, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return [] }
        defer { deflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(bytes.count))) + 32)
        var input = bytes
        let written: Int = input.withUnsafeMutableBufferPointer { inp in
            out.withUnsafeMutableBufferPointer { o in
                stream.next_in = inp.baseAddress
                stream.avail_in = UInt32(inp.count)
                stream.next_out = o.baseAddress
                stream.avail_out = UInt32(o.count)
                _ = deflate(&stream, Z_FINISH)
                return o.count - Int(stream.avail_out)
            }
        }
        return Array(out.prefix(written))
    }

    /// What can be inflated from the start of gzip data (empty when it is not gzip).
    package static func gunzipPrefix(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.count > 2, bytes[0] == 0x1F, bytes[1] == 0x8B else { return [] }
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return [] }
        defer { inflateEnd(&stream) }
        var input = bytes
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        input.withUnsafeMutableBufferPointer { inp in
            stream.next_in = inp.baseAddress
            stream.avail_in = UInt32(inp.count)
            while result.count < 1 << 20 {
                let (status, got): (Int32, Int) = chunk.withUnsafeMutableBufferPointer { c in
                    stream.next_out = c.baseAddress
                    stream.avail_out = UInt32(c.count)
                    let s = inflate(&stream, Z_NO_FLUSH)
                    return (s, c.count - Int(stream.avail_out))
                }
                result += chunk.prefix(got)
                if status != Z_OK || got == 0 { break }
            }
        }
        return result
    }
}

/// A fuzzed result the target itself judges wrong (not a crash): invalid JSON out, say.
package struct FuzzOracleFailure: Error, CustomStringConvertible {
    package let description: String
}

/// What a target gets: the built-in plugins, and the folder its input file lives in.
package final class FuzzContext {
    package let plugins: PluginSet
    package let work: String
    package let stream: RecordStream
    package let finder: CodeFinder
    package let masker: SecretMasker

    package init(plugins: PluginSet, work: String) {
        self.plugins = plugins
        self.work = work
        stream = RecordStream.decoding(plugins)
        finder = CodeFinder(plugins: plugins)
        masker = SecretMasker(plugins: plugins)
    }
}

/// One parser under test.
package struct FuzzTarget: Sendable {
    package let name: String
    package let about: String
    /// Where in the work folder the input is written (the target may read it from there).
    package let inputName: String
    package let maxSize: Int
    /// Tokens of the input's language, spliced in by the mutator.
    package let dictionary: [[UInt8]]
    /// Real small inputs built from the built-in plugins and generators.
    package let seeds: @Sendable (PluginSet) -> [[UInt8]]
    /// Optional reshaping of a mutated input (the gzip target compresses plain text).
    package let shape: (@Sendable ([UInt8], inout SplitMix64) -> [UInt8])?
    /// Runs one input; thrown errors are the parser refusing the input (fine), except
    /// `FuzzOracleFailure`.
    package let run: @Sendable (FuzzContext, [UInt8]) throws -> Void
}

extension SplitMix64 {
    /// A number in 0..<n (n > 0).
    package mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
}

/// The child side: runs inputs of one target and leaves the current one in a file.
public enum FuzzChild {
    public struct Options: Sendable {
        public var target = ""
        public var seed: UInt64 = 1
        public var iterations = 1000
        public var work = ""
        public var corpus: String?
        /// Run every corpus file first.
        public var replay = false
        /// CPU seconds an input may take before the child dies (SIGPROF) and the parent calls it a hang.
        public var budgetSeconds = 2.0
        /// Seconds after which the child stops starting new inputs (0: no limit).
        public var stopAfterSeconds = 0.0
        public init() {}
    }

    /// Exit status of a child whose target judged an output wrong.
    public static let oracleStatus: Int32 = 3

    /// Runs the batch; returns the line the parent reads: `iterations=N replayed=R`.
    public static func run(_ o: Options, plugins: PluginSet) throws -> String {
        guard let target = FuzzTargets.all.first(where: { $0.name == o.target }) else {
            throw FuzzError("unknown fuzz target '\(o.target)'; targets: \(FuzzTargets.all.map(\.name).joined(separator: ", "))")
        }
        try FileManager.default.createDirectory(atPath: o.work, withIntermediateDirectories: true)
        let context = FuzzContext(plugins: plugins, work: o.work)
        let inputPath = o.work + "/" + target.inputName
        try FileManager.default.createDirectory(atPath: (inputPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let fd = Platform.openForWriting(inputPath, truncate: true)
        guard fd >= 0 else { throw FuzzError("\(inputPath): cannot write the input file") }
        defer { Platform.close(fd) }

        let files = o.corpus.map { corpusFiles($0 + "/" + target.name) } ?? []
        var corpus = target.seeds(plugins)
        corpus += files.compactMap { FileManager.default.contents(atPath: $0).map { Array($0) } }
        if corpus.isEmpty { corpus = [[]] }

        var replayed = 0
        func attempt(_ input: [UInt8]) {
            // The input is on disk before it runs: if it kills us, the parent finds it there.
            Platform.write(fd, at: 0, input)
            Platform.truncate(fd, to: Int64(input.count))
            arm(seconds: o.budgetSeconds)
            do { try target.run(context, input) } catch let failure as FuzzOracleFailure {
                FileHandle.standardError.write(Data("fuzz: \(target.name): \(failure.description)\n".utf8))
                exit(oracleStatus)
            } catch {}
            arm(seconds: 0)
        }
        if o.replay {
            for input in corpus { attempt(input); replayed += 1 }
        }
        var random = SplitMix64(seed: o.seed &* 0x9E37_79B9_7F4A_7C15 &+ 1)
        let started = Date()
        var done = 0
        for _ in 0..<o.iterations {
            if o.stopAfterSeconds > 0 && Date().timeIntervalSince(started) > o.stopAfterSeconds { break }
            let base = corpus[random.below(corpus.count)]
            var input = Fuzz.mutate(base, corpus: corpus, dictionary: target.dictionary, random: &random, maxSize: target.maxSize)
            if let shape = target.shape { input = shape(input, &random) }
            attempt(input)
            done += 1
        }
        return "iterations=\(done) replayed=\(replayed)"
    }

    /// Corpus files of one target, sorted, hidden files left out.
    package static func corpusFiles(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { !$0.hasPrefix(".") }.sorted().map { dir + "/" + $0 }
    }

    /// Starts (or, with 0, stops) the per-input timer. It counts CPU time, so a busy machine
    /// does not turn a slow input into a hang; SIGPROF's default action ends the process.
    package static func arm(seconds: Double) { Platform.armProfilingTimer(seconds: seconds) }
}

public struct FuzzError: Error, CustomStringConvertible {
    public let description: String
    package init(_ description: String) { self.description = description }
}

/// The parent side: runs children batch after batch, target after target, until the time is up.
public enum FuzzCampaign {
    public struct Options: Sendable {
        public var seconds = 60.0
        public var seed: UInt64 = 1
        public var targets: [String] = []
        /// Corpus folder (one sub-folder per target); crashing inputs are saved there.
        public var corpus: String?
        public var budgetSeconds = 2
        public init() {}
    }

    public static var targetNames: [String] { FuzzTargets.all.map(\.name) }

    /// Returns the report and whether anything was found.
    public static func run(_ o: Options, tool: String) throws -> (report: String, found: Bool) {
        let names = o.targets.isEmpty ? targetNames : o.targets
        for n in names where !targetNames.contains(n) {
            throw FuzzError("unknown fuzz target '\(n)'; targets: \(targetNames.joined(separator: ", "))")
        }
        let corpus = o.corpus ?? (NSTemporaryDirectory() + "tracelens-fuzz-findings")
        let work = NSTemporaryDirectory() + "tracelens-fuzz-\(Platform.processID)"
        defer { try? FileManager.default.removeItem(atPath: work) }
        var lines = ["fuzzing \(names.count) targets for \(Int(o.seconds)) s from seed \(o.seed); corpus \(corpus); an input over \(o.budgetSeconds) s is a hang"]
        var found = false
        let share = o.seconds / Double(names.count)
        for name in names {
            let target = FuzzTargets.all.first { $0.name == name }!
            var iterations = 0, batch = 0
            var findings: [String] = []
            let start = Date()
            var elapsed: Double { Date().timeIntervalSince(start) }
            while elapsed < share {
                let seed = o.seed &+ UInt64(batch)
                batch += 1
                let dir = work + "/\(name)-\(batch)"
                let remaining = share - elapsed
                let args = ["fuzz-child", "--target", name, "--seed", "\(seed)", "--iterations", "1000000", "--work", dir,
                            "--corpus", corpus, "--budget", "\(o.budgetSeconds)", "--stop-after", String(format: "%.1f", max(remaining, 0.1))]
                            + (batch == 1 ? ["--replay"] : [])  // the corpus first, once
                let result = try runChild(tool, args, killAfter: remaining + Double(o.budgetSeconds) + 10)
                if result.status == 0 && !result.signalled {
                    iterations += result.count("iterations")
                    continue
                }
                // The child died: the input it was running is in its input file.
                let input = FileManager.default.contents(atPath: dir + "/" + target.inputName) ?? Data()
                let kind: String
                if result.signalled && result.status == Platform.Signal.profilingTimer { kind = "hang (over \(o.budgetSeconds) s)" } else if result.signalled {
                    kind = "crash (signal \(result.status))"
                } else if result.status == FuzzChild.oracleStatus {
                    kind = "wrong output: " + (result.stderr.split(separator: "\n").last.map(String.init) ?? "")
                } else {
                    kind = "exit \(result.status): " + (result.stderr.split(separator: "\n").last.map(String.init) ?? "")
                }
                let saved = save(Array(input), target: name, corpus: corpus)
                findings.append("  \(kind), input \(input.count) bytes saved as \(saved), seed \(seed)")
                found = true
                if findings.count >= 20 { break }
            }
            let seconds = max(elapsed, 1e-3)
            lines.append(String(format: "%@: %d inputs in %.1f s, %.0f inputs/s, %d findings", name, iterations, seconds,
                                Double(iterations) / seconds, findings.count))
            lines += findings
        }
        return (lines.joined(separator: "\n"), found)
    }

    package struct ChildResult {
        package var status: Int32
        package var signalled: Bool
        package var stdout: String
        package var stderr: String
        package func count(_ key: String) -> Int {
            for part in stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }) where part.hasPrefix(key + "=") {
                return Int(part.dropFirst(key.count + 1)) ?? 0
            }
            return 0
        }
    }

    package static func runChild(_ tool: String, _ args: [String], killAfter: Double) throws -> ChildResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        // A watchdog besides the child's own timer: a child stuck outside an input is killed too.
        let watchdog = DispatchWorkItem { if p.isRunning { _ = Platform.send(Platform.Signal.kill, to: p.processIdentifier) } }
        DispatchQueue.global().asyncAfter(deadline: .now() + killAfter, execute: watchdog)
        let errData = ReadInBackground(err.fileHandleForReading)
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        watchdog.cancel()
        return ChildResult(status: p.terminationStatus, signalled: p.terminationReason == .uncaughtSignal,
                           stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData.wait(), as: UTF8.self))
    }

    /// Keeps a finding as `crash-<hash>` in the target's corpus folder (the same input once).
    package static func save(_ input: [UInt8], target: String, corpus: String) -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in input { hash = (hash ^ UInt64(b)) &* 0x100_0000_01B3 }
        let dir = corpus + "/" + target
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/crash-" + String(hash, radix: 16)
        _ = FileManager.default.createFile(atPath: path, contents: Data(input))
        return path
    }
}

/// Reads a pipe to its end on another thread (so a chatty child cannot block on a full pipe).
package final class ReadInBackground: Sendable {
    private let data = Mutex(Data())
    /// Signalled once `data` holds everything: `wait` sleeps on it instead of polling the mutex.
    private let done = DispatchSemaphore(value: 0)

    package init(_ handle: FileHandle) {
        DispatchQueue.global().async { [self] in
            let read = handle.readDataToEndOfFile()
            data.withLock { $0 = read }
            done.signal()
        }
    }

    package func wait() -> Data {
        done.wait()
        return data.withLock { $0 }
    }
}
