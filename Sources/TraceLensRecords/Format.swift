#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TraceLensInput

/// The standard fields every record can carry. Plugins name them in templates; any other field
/// name is kept as an extra field of the record.
public enum StandardField: Int, CaseIterable, Sendable {
    case thread, process, level, function, message, job

    public var name: String {
        switch self {
        case .thread: return "thread"
        case .process: return "process"
        case .level: return "level"
        case .function: return "function"
        case .message: return "message"
        case .job: return "job"
        }
    }

    public init?(name: String) {
        guard let f = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = f
    }
}

/// The normalised level of a record.
public enum Level: UInt8, CaseIterable, Sendable {
    case entry, exit, info, error, warning, dump, other

    public var name: String {
        switch self {
        case .entry: return "ENTRY"
        case .exit: return "EXIT"
        case .info: return "INFO"
        case .error: return "ERROR"
        case .warning: return "WARNING"
        case .dump: return "DUMP"
        case .other: return "OTHER"
        }
    }

    public init?(name: String) {
        guard let l = Self.allCases.first(where: { $0.name == name.uppercased() }) else { return nil }
        self = l
    }
}

/// What a line template's field slots mean for the record being built.
/// (No payloads that need reference counting: this is read for every record line.)
package struct SlotRoles {
    package enum Role { case standard(StandardField), time, extra, ignored }
    package let roles: [Role]

    package init(_ t: Template) {
        roles = t.fieldNames.enumerated().map { i, name in
            if case .time = t.slotKinds[i] { return .time }
            if let std = StandardField(name: name) { return .standard(std) }
            return name.isEmpty ? .ignored : .extra
        }
    }
}

/// A template with what its slots mean, ready for the record reader.
package struct LineRule {
    package let template: Template
    package let roles: SlotRoles
    /// True when the template starts with a blank, i.e. it demands indentation.
    package let needsIndent: Bool

    package init(_ t: Template) {
        template = t
        roles = SlotRoles(t)
        needsIndent = t.source.first == " " || t.source.first == "\t"
    }
}

/// What a continuation line adds to the record above it.
public enum ContinuationRole: String, Sendable {
    /// Text: appended to the record's message (a line of its own).
    case text
    /// Fields only: captured fields fill those the record lacks; the line adds no text.
    case fields
    /// A data dump line: kept with the record, shown as is, not searched for codes.
    case dump
}

/// A continuation line that names the message it belongs to (see `Format.continuationKeys`).
public struct ContinuationKey: Sendable {
    /// The template slot holding the number.
    package let slot: Int
    /// The line ends its message.
    package let ends: Bool
    package init(slot: Int, ends: Bool) {
        self.slot = slot
        self.ends = ends
    }
}

/// Which dump records of a layout hold the bytes of a TLS connection and which way they went:
/// a record whose field matches one of `sent` holds bytes its writer sent, one of `received`
/// bytes it received (`function = *write*`, `direction = >>>`).
public struct WireBytes: Sendable {
    public struct Match: Sendable, Equatable {
        public var field: String
        /// `*` matches any run of characters; the rest literally, case-insensitively.
        public var pattern: String
        public init(field: String, pattern: String) { self.field = field; self.pattern = pattern }

        public func matches(_ value: String) -> Bool { Self.glob(Array(pattern.lowercased().utf8), Array(value.lowercased().utf8)) }

        static func glob(_ p: [UInt8], _ s: [UInt8]) -> Bool {
            // Iterative `*` matching: linear in practice, never exponential.
            var pi = 0, si = 0, star = -1, mark = 0
            while si < s.count {
                if pi < p.count && p[pi] != 0x2A && p[pi] == s[si] { pi += 1; si += 1 }
                else if pi < p.count && p[pi] == 0x2A { star = pi; mark = si; pi += 1 }
                else if star >= 0 { pi = star + 1; mark += 1; si = mark }
                else { return false }
            }
            while pi < p.count && p[pi] == 0x2A { pi += 1 }
            return pi == p.count
        }
    }
    public var sent: [Match]
    public var received: [Match]
    /// When set, each dump holds one message body (not records), of the content type this field
    /// names (`Handshake`, `Alert`: `openssl s_client -msg`).
    public var contentField: String?
    /// Each dump holds whole records (the writer dumps a record once it has all of it): a
    /// record left unfinished at the end of a dump was cut.
    public var wholeRecords = false

    public init(sent: [Match], received: [Match], contentField: String? = nil, wholeRecords: Bool = false) {
        self.sent = sent; self.received = received; self.contentField = contentField; self.wholeRecords = wholeRecords
    }
}

/// A TLS message a trace line tells of, where the layout dumps no bytes (`[[format.step]]`): a
/// record whose field matches `match` is the message `message`, which its writer sent or
/// received (`direction`), sent by the TLS `from` end (client, server). `catalogue`: the record's
/// code in that catalogue names it (an alert's number and name).
public struct LineStep: Sendable {
    public var match: WireBytes.Match
    public var message: String
    public var direction: String
    public var from: String
    public var catalogue: String?
    public init(match: WireBytes.Match, message: String, direction: String, from: String, catalogue: String?) {
        self.match = match; self.message = message; self.direction = direction; self.from = from; self.catalogue = catalogue
    }
}

/// How the bytes of a layout's data dump lines are text, when they are (the LDAP server's dumps
/// are IBM-1047 EBCDIC: `c3f0f2c3` is "C02C").
public enum DumpText: String, Sendable { case ascii, ebcdic }

/// A dump whose text is a list of codes: the record's message says what the dump holds
/// (`SSL Cipher Specs`), the text is cut into `element`-character codes of `catalogue`.
public struct DumpList: Sendable {
    public let message: Template
    public let catalogue: String
    public let element: Int
    package init(message: Template, catalogue: String, element: Int) {
        self.message = message
        self.catalogue = catalogue
        self.element = element
    }
}

/// Advice for a file that is not text but whose name says it is of a layout's kind (a trace
/// still in its binary form): `text` with `{file}` standing for the file's name.
public struct BinaryHint: Sendable {
    public let fileNames: [Template]
    public let text: String

    /// The advice for `path`, when its name is one of `fileNames`.
    public func advice(for path: String) -> String? {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard fileNames.contains(where: { $0.match(name) != nil }) else { return nil }
        return text.replacing("{file}", with: name)
    }
    package init(fileNames: [Template], text: String) {
        self.fileNames = fileNames
        self.text = text
    }
}

/// A record layout from a plugin: the lines that start a record, continue it, set context, or are
/// headers to skip.
public final class Format: Sendable {
    public let name: String
    public let title: String
    public let plugin: String
    package let records: [LineRule]
    package let continuations: [(rule: LineRule, role: ContinuationRole)]
    /// Per continuation: the field holding the number of the message it belongs to (a SYSLOG
    /// `D`/`E` line's message number), and whether it is the message's last line; nil: the line
    /// continues the record above it.
    package let continuationKeys: [ContinuationKey?]
    /// Per continuation: the most lines a record may span for it to apply (`max-lines`). A
    /// catch-all continuation (a console's wrapped lines) would otherwise take a whole page of
    /// prose after one message id as that message.
    package let continuationMaxLines: [Int]
    /// First lines of records that take their number from the first keyed continuation line
    /// after them (a SYSLOG `M` line): later lines with that number join them even when other
    /// records came between.
    package let keyedRecords: [LineRule]
    /// Where one physical line holds several of the layout's lines (JSON pasted on one line, line
    /// breaks written `\r` inside a string): cut before each `splitBefore` text and after each
    /// `splitAfter` text; each piece is then read as a line.
    package let splitBefore: [[UInt8]]
    package let splitAfter: [[UInt8]]
    package var splits: Bool { !splitBefore.isEmpty || !splitAfter.isEmpty }
    /// Lines that set the date for the records that follow (`**** 11/14/2005`).
    package let contexts: [LineRule]
    /// Lines that belong to the file's layout but carry no record (titles, column headings).
    package let headers: [LineRule]
    /// Raw level text to normalised level (`SSL_ERROR` → ERROR); unmapped text is tried as a level name.
    package let levels: [String: Level]
    /// Where to find a process id in the file name (`gskssl.{process:int}.trc`).
    package let fileName: Template?
    /// For records without a level field: the level given by the last letter of the message id,
    /// in the function field or else the message's first word (`GLD1116E` → E → ERROR).
    package let idLevels: [UInt8: Level]
    /// The level of records whose layout has no level at all (terminal transcripts).
    package let defaultLevel: Level?
    /// Decode dump bytes as text (nil: dumps are shown as they are).
    public let dumpText: DumpText?
    public let dumpLists: [DumpList]
    /// Which dump records hold TLS bytes, and which way they went (`[format.tls]`).
    public let wireBytes: WireBytes?
    /// `print = "as-written"`: records are shown as their lines were written, decodes appended.
    public let printAsWritten: Bool
    /// How the other records print (`render`; the generic look when the layout gives none).
    public let render: RenderTemplate
    /// What to tell someone who gives a binary file of this layout's kind (`binary-hint`).
    public let binaryHint: BinaryHint?
    /// `message = "whole-line"`: a record's message is its whole first line (codes, connection
    /// captures and selectors read all of it), whatever part the template captured.
    public let wholeLineMessage: Bool
    /// Who writes traces of this layout (`party = "LDAP server"`): a column of the ladder
    /// `show --ladder` draws. Nil: the layout's title.
    public let party: String?
    /// TLS messages told by trace lines (`[[format.step]]`), for the ladder.
    public let steps: [LineStep]

    package init(name: String, title: String, plugin: String, records: [Template], continuations: [(Template, ContinuationRole)],
         contexts: [Template], headers: [Template], levels: [String: Level], fileName: Template?, idLevels: [UInt8: Level] = [:],
         dumpText: DumpText? = nil, dumpLists: [DumpList] = [], defaultLevel: Level? = nil, printAsWritten: Bool = false,
         render: RenderTemplate = .standard, binaryHint: BinaryHint? = nil,
         continuationKeys: [ContinuationKey?] = [], continuationMaxLines: [Int] = [], keyedRecords: [Template] = [], splitBefore: [String] = [], splitAfter: [String] = [], wholeLineMessage: Bool = false,
         wireBytes: WireBytes? = nil, party: String? = nil, steps: [LineStep] = []) {
        self.party = party
        self.steps = steps
        self.wireBytes = wireBytes
        self.splitBefore = splitBefore.map { Array($0.utf8) }.filter { !$0.isEmpty }
        self.splitAfter = splitAfter.map { Array($0.utf8) }.filter { !$0.isEmpty }
        self.continuationKeys = continuationKeys.count == continuations.count ? continuationKeys : continuations.map { _ in nil }
        self.keyedRecords = keyedRecords.map(LineRule.init)
        self.continuationMaxLines = continuationMaxLines.count == continuations.count ? continuationMaxLines : continuations.map { _ in Int.max }
        self.printAsWritten = printAsWritten
        self.render = render
        self.binaryHint = binaryHint
        self.wholeLineMessage = wholeLineMessage
        self.defaultLevel = defaultLevel
        self.idLevels = idLevels
        self.dumpText = dumpText
        self.dumpLists = dumpLists
        self.name = name; self.title = title; self.plugin = plugin
        self.records = records.map(LineRule.init)
        self.continuations = continuations.map { (LineRule($0.0), $0.1) }
        self.contexts = contexts.map(LineRule.init)
        self.headers = headers.map(LineRule.init)
        self.levels = levels
        self.fileName = fileName
        levelWords = Level.allCases.filter { $0 != .other }.map { (Array($0.name.utf8), $0) } + levels.map { (Array($0.key.utf8), $0.value) }
    }

    /// Level words as bytes, checked before falling back to a String lookup (the hot path sees
    /// the same four or five words on nearly every line).
    private let levelWords: [([UInt8], Level)]

    package func level(for raw: UnsafeBufferPointer<UInt8>) -> Level {
        for (word, level) in levelWords where word.count == raw.count {
            if word.withUnsafeBufferPointer({ memcmp($0.baseAddress!, raw.baseAddress!, raw.count) == 0 }) { return level }
        }
        return .other
    }

    /// Where `line` is cut into pieces (see `splitBefore`): the start of each piece after the
    /// first, in order; empty when the line is one piece.
    package func cuts(_ line: UnsafeBufferPointer<UInt8>) -> [Int] {
        var out: [Int] = []
        guard let base = line.baseAddress, line.count > 1 else { return out }
        func each(_ texts: [[UInt8]], _ body: (Int, Int) -> Void) {
            for t in texts {
                var p = 0
                while p + t.count <= line.count, let hit = memchr(base + p, Int32(t[0]), line.count - p - t.count + 1) {
                    let q = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                    if memcmp(base + q, t, t.count) == 0 { body(q, t.count); p = q + t.count } else { p = q + 1 }
                }
            }
        }
        var indent = 0
        while indent < line.count && isBlank(line[indent]) { indent += 1 }
        // Not before the line's own first text: its indentation stays with it.
        each(splitBefore) { q, _ in if q > indent { out.append(q) } }
        each(splitAfter) { q, n in if q + n < line.count { out.append(q + n) } }
        // A line of nothing but separators is not cut into a million pieces.
        guard !out.isEmpty, out.count <= Self.maxCuts else { return [] }
        out.sort()
        var unique: [Int] = []
        for c in out where unique.last != c { unique.append(c) }
        return unique
    }

    package static let maxCuts = 65_536

    /// Calls `body` with each piece of `line` (the line itself when it has no cut), and whether
    /// the piece follows a `splitAfter` text (a line break written inside a string: the piece
    /// goes on with the record the piece before it is in).
    package func forEachPiece(_ line: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>, Bool) throws -> Void) rethrows {
        let cuts = splits ? self.cuts(line) : []
        if cuts.isEmpty { try body(line, false); return }
        var start = 0
        for c in cuts + [line.count] {
            try body(UnsafeBufferPointer(rebasing: line[start..<c]), start > 0 && endsWithSplitAfter(line, start))
            start = c
        }
    }

    private func endsWithSplitAfter(_ line: UnsafeBufferPointer<UInt8>, _ end: Int) -> Bool {
        splitAfter.contains { t in
            end >= t.count && t.indices.allSatisfy { line[end - t.count + $0] == t[$0] }
        }
    }

    /// True when `line` is a record line of this layout (see `RecordStream`: a layout that first
    /// appears after the detection sample).
    package func readsAsRecord(_ line: UnsafeBufferPointer<UInt8>, captures: inout Captures) -> Bool {
        var indent = 0
        while indent < line.count && isBlank(line[indent]) { indent += 1 }
        guard indent < line.count else { return false }
        for r in records where r.template.match(line, from: r.needsIndent ? 0 : indent, captures: &captures) != nil { return true }
        return false
    }

    /// The process id from a file name, if the format says where it is.
    public func process(fromFileName path: String) -> String? {
        guard let fileName else { return nil }
        var base = Substring(path.split(separator: "/").last ?? Substring(path))
        for suffix in [".gz", ".txt", ".out"] where base.hasSuffix(suffix) { base = base.dropLast(suffix.count) }
        return fileName.match(String(base))?["process"]
    }
}
