/// What was read from one source file.
public struct SourceSummary: Sendable {
    public var path: String
    public var detected: DetectedText
    public var format: String?
    /// Process id taken from the file name (`gskssl.65567.trc`), when the format says where.
    public var process: String?
    public var counts = RecordReader.Counts()
    public var codes = 0
    public var failureCodes = 0
    public var secretsMasked = 0
    public var bytes = 0
}

/// The pipeline of one file: text lines → records → decoded records (secrets masked, codes
/// found). The format path and the store both consume it, so they see the same records.
public final class RecordStream {
    public let plugins: PluginSet
    let finder: CodeFinder
    let masker: SecretMasker
    /// How many leading lines are used to pick the format of a file.
    public var detectionLines = 200

    public init(plugins: PluginSet) {
        self.plugins = plugins
        finder = CodeFinder(plugins: plugins)
        masker = SecretMasker(plugins: plugins)
    }

    /// Reads `path`, calling `body` with each record in file order. `forcedFormat` skips detection.
    /// `started` is called once the layout is known, before the first record.
    public func read(_ path: String, source: Int, forcedFormat: Format? = nil, started: (SourceSummary) -> Void = { _ in },
                     body: (inout Record) throws -> Void) throws -> SourceSummary {
        let reader = try TextReader(path: path)
        var summary = SourceSummary(path: path, detected: reader.detected)

        // The first lines pick the layout (unless one is forced); they are kept and fed first.
        var sample: [([UInt8], Int)] = []
        if forcedFormat == nil {
            try reader.forEachLine { line, number in
                sample.append((Array(line), number))
                return sample.count < detectionLines
            }
        }
        let format = forcedFormat ?? detect(sample.map(\.0))
        let records = RecordReader(format: format, source: source)
        summary.format = format?.name
        summary.process = format?.process(fromFileName: path)
        started(summary)

        var scratch = Captures()
        let formatName = format?.name
        func emit(_ r: inout Record) throws {
            summary.secretsMasked += masker.mask(&r.bytes, captures: &scratch)
            if !r.isUnparsed {
                finder.decode(&r, format: formatName, captures: &scratch)
                summary.codes += r.codes.count
                for c in r.codes where plugins.catalogues[c.catalogue].isFailure(c.value) { summary.failureCodes += 1 }
            }
            try body(&r)
        }
        for (line, number) in sample {
            try line.withUnsafeBufferPointer { try records.feed($0, number: number, emit: emit) }
        }
        sample = []
        try reader.forEachLine { line, number in try records.feed(line, number: number, emit: emit) }
        try records.flush(emit: emit)
        summary.counts = records.counts
        summary.detected = reader.detected
        summary.bytes = reader.bytesRead
        return summary
    }

    /// Picks the format whose record, context and header lines match most of the sample lines.
    public func detect(_ lines: [[UInt8]]) -> Format? {
        var best: (format: Format, score: Int)?
        var caps = Captures()
        for format in plugins.formats {
            var score = 0
            let rules = format.records + format.contexts + format.headers
            for line in lines {
                line.withUnsafeBufferPointer { l in
                    var indent = 0
                    while indent < l.count && isBlank(l[indent]) { indent += 1 }
                    guard indent < l.count else { return }
                    for rule in rules where rule.template.match(l, from: rule.needsIndent ? 0 : indent, captures: &caps) != nil {
                        score += 1
                        return
                    }
                }
            }
            if score > 0 && score > (best?.score ?? 0) { best = (format, score) }
        }
        return best?.format
    }
}
