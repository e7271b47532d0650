import Foundation
import TraceLensInput
import TraceLensRecords
import TraceLensDecode
import TraceLensPlugins
import TraceLensHandshake
import TraceLensRender
import TraceLensQuery

/// What the user asked `format` for.
public struct FormatOptions: Sendable {
    public var filter = RecordFilter()
    public var errorsOnly = false
    public var json = false
    public var colour = false
    public var forcedFormat: String?
    public var stats = false
    public var verbose = false
    /// The longest record line; longer ones are cut with a marker (`--max-record`).
    public var maxRecord = TextReader.defaultMaxRecord
    /// Reads each file on two threads (parsing on one; decoding, rendering and writing on the
    /// other, in order): on by default when the machine has more than one core.
    public var twoThreads = ProcessInfo.processInfo.activeProcessorCount > 1
    public init() {}
}

/// `tracelens format`: reads each file through the record stream, filters, and renders.
/// A file that cannot be read is reported by name and the others are still processed.
public final class FormatRun {
    public let plugins: PluginSet
    public let options: FormatOptions
    package let output: Output
    public private(set) var summaries: [SourceSummary] = []
    public private(set) var failures: [String] = []

    public init(plugins: PluginSet, options: FormatOptions, output: Output) {
        self.plugins = plugins
        self.options = options
        self.output = output
    }

    /// Files named on the command line; folders are expanded to the regular files under them, in
    /// order. Anything else found in a folder (a FIFO, a socket, a device) is skipped with a note:
    /// reading it could wait forever. A FIFO named on the command line is read (once).
    public static func expand(_ paths: [String]) -> [String] {
        var out: [String] = []
        let fm = FileManager.default
        for p in paths {
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: p, isDirectory: &isDir), isDir.boolValue {
                var files: [String] = []
                for relative in fm.enumerator(atPath: p)?.allObjects as? [String] ?? []
                where !relative.split(separator: "/").contains(where: { $0.hasPrefix(".") }) {
                    let file = (p as NSString).appendingPathComponent(relative)
                    guard let st = Platform.status(path: file) else { continue }
                    switch st.kind {
                    case .regular: files.append(file)
                    case .directory: continue
                    default: Diagnostics.warn("\(file): skipped, not a regular file (a FIFO, socket or device; name it to read it)")
                    }
                }
                out += files.sorted()
            } else {
                out.append(p)
            }
        }
        return out
    }

    /// Runs over the files; returns the exit status (0, or 1 when some file could not be read).
    public func run(_ paths: [String]) -> Int32 {
        let forced: Format?
        switch plugins.forcedLayout(options.forcedFormat) {
        case let .success(f): forced = f
        case let .failure(e): Diagnostics.warn("\(e)"); return 2
        }
        let stream = RecordStream.decoding(plugins)
        stream.maxRecord = options.maxRecord
        stream.twoThreads = options.twoThreads
        let sink = FormatSink(plugins: plugins, options: options, output: output)
        for (index, path) in Self.expand(paths).enumerated() {
            if output.closed { break }
            sink.startFile(path)
            do {
                let summary = try stream.read(path, source: index, forcedFormat: forced, started: { sink.current = $0 }) { record in
                    try sink.consume(&record)
                }
                summaries.append(summary)
                if let junk = summary.trailingJunk { Diagnostics.warn(junk) }
                if let damage = summary.damage {
                    Diagnostics.warn(Self.damageReport(damage, lines: summary.lines))
                    failures.append(path)
                }
                if options.verbose { Diagnostics.warn("\(path): \(summary.detected.description); layout \(summary.detection.description)") }
                if summary.format == nil && summary.counts.unparsed > 0 {
                    Diagnostics.warn("\(path): no known layout; its \(summary.counts.unparsed) lines are shown as they are (see `tracelens plugins list`)"
                                     + RecordStream.closestLayoutHint(summary.detection))
                }
            } catch is StopReading {
                break
            } catch {
                failures.append(path)
                Diagnostics.warn("\(error)")
            }
        }
        output.flush()
        if options.stats { printStats() }
        return failures.isEmpty ? 0 : 1
    }

    /// `format --db`: the stored records of the sources named (all when none), each source as
    /// its file would print; returns the exit status.
    public func runStored(_ story: ConnectionStory, sources selectors: [String]) -> Int32 {
        let sink = FormatSink(plugins: plugins, options: options, output: output)
        do {
            for source in try story.storedSources(selectors) {
                if output.closed { break }
                sink.startFile(source.path)
                sink.current.process = source.process
                try story.sourceRecords(source.id) { try sink.consume(&$0) }
            }
        } catch is StopReading {
        } catch {
            output.flush()
            Diagnostics.warn("\(error)")
            return 1
        }
        output.flush()
        return 0
    }

    package struct StopReading: Error {}

    /// Says where damaged input stopped the read and how many lines came before it.
    package static func damageReport(_ damage: String, lines: Int) -> String {
        lines == 0 ? "\(damage); no line could be read before it"
            : "\(damage); the \(lines) line\(lines == 1 ? "" : "s") before it were read (the last may be incomplete)"
    }

    /// The per-record end of `format`: filter, `--errors` context, render. A class, so the record
    /// loop calls methods on one reference instead of a closure that copies its captures.
    package final class FormatSink {
        package let filter: RecordFilter
        package let filtering: Bool
        package let errorsOnly: Bool
        package let json: JSONRenderer?
        package var text: TextRenderer
        package let output: Output
        package var context: ErrorContext
        package var current = SourceSummary(path: "", detected: DetectedText(encoding: .ascii, gzip: false, lineEnd: "none"))

        package init(plugins: PluginSet, options: FormatOptions, output: Output) {
            filter = options.filter
            filtering = !options.filter.isEmpty
            errorsOnly = options.errorsOnly
            json = options.json ? JSONRenderer(plugins: plugins) : nil
            text = TextRenderer(plugins: plugins, colour: options.colour)
            self.output = output
            context = ErrorContext(plugins: plugins)
        }

        package func startFile(_ path: String) {
            current.path = path
            context = ErrorContext(plugins: context.plugins)
        }

        package func consume(_ record: inout Record) throws {
            if output.closed { throw StopReading() }
            if filtering && !filter.accepts(record) { return }
            if errorsOnly { context.process(&record) { self.show(&$0) } } else { show(&record) }
        }

        package func show(_ r: inout Record) {
            if let json { json.render(r, source: current, into: output.buffer) } else { text.render(r, into: output.buffer) }
            output.maybeFlush()
        }
    }

    package func printStats() {
        for s in summaries {
            if options.json { Self.writeError(Self.statsJSON(s)); continue }
            var line = "\(s.path): \(s.counts.records) records, \(s.counts.unparsed) unparsed lines, \(s.codes) codes (\(s.failureCodes) failures)"
            line += ", \(s.counts.lines) lines, layout \(s.detection.description), \(s.detected.description)"
            if s.secretsMasked > 0 { line += ", \(s.secretsMasked) secrets masked" }
            if let lines = Self.unexplainedText(s) { line += "; \(lines)" }
            Diagnostics.warn(line)
        }
        for f in failures { Diagnostics.warn("\(f): not read (see the error above)") }
    }

    /// `lines nothing explained: 3, 9, 12 (and 5 more)`; nil when every line was explained.
    public static func unexplainedText(_ s: SourceSummary) -> String? {
        guard s.counts.unparsed > 0, !s.unexplainedLines.isEmpty else { return nil }
        let more = s.counts.unparsed - s.unexplainedLines.count
        return "line\(s.counts.unparsed == 1 ? "" : "s") nothing explained: "
            + s.unexplainedLines.map(String.init).joined(separator: ", ") + (more > 0 ? " (and \(more) more)" : "")
    }

    /// One JSON object per file (`--stats --json`), on standard error like the text form.
    public static func statsJSON(_ s: SourceSummary) -> String {
        let d = s.detection
        var fields: [(key: String, value: JSON.Value)] = [
            ("path", .string(s.path)), ("records", .int(s.counts.records)), ("unparsed", .int(s.counts.unparsed)), ("codes", .int(s.codes)),
            ("failures", .int(s.failureCodes)), ("lines", .int(s.counts.lines)),
            ("layout", .string(d.layouts.count > 1 ? "mixed" : d.layouts.first)), ("layouts", .array(d.layouts.map { .string($0) })),
            ("forced", .bool(d.forced)), ("sampled", .int(d.sampled)), ("explained", .int(d.explained)), ("sure", .int(d.percent)),
        ]
        if d.layouts.isEmpty, let best = d.best { fields += [("best", .string(best)), ("best_explained", .int(d.bestExplained))] }
        fields += [("unexplained_lines", .array(s.unexplainedLines.map { .int($0) })), ("encoding", .string(s.detected.description))]
        if s.secretsMasked > 0 { fields.append(("secrets_masked", .int(s.secretsMasked))) }
        return JSON.Value.object(fields).text
    }

    package static func writeError(_ line: String) {
        Platform.writeAll(2, Array((line + "\n").utf8))
    }
}
