/// One record of a trace: a record line with its continuation lines, or one unparsed line.
///
/// The text is kept as bytes with fields as ranges into it, so the format path never builds a
/// `String` it does not print. `Record` values are reused by the reader: copy what you keep.
public struct Record: Sendable {
    /// Index of the source (file) in the run.
    public var source: Int = 0
    /// Line number of the first line (1-based), and how many lines the record spans.
    public var line: Int = 0
    public var lineCount: Int = 0
    public var time: Timestamp?
    /// The time text when it names no real time (`02/30/2022-10:00:00`): `time` is then nil and
    /// outputs show this text marked as bad instead of another date.
    public var badTime: Range<Int>?
    public var level: Level = .other
    /// True for a line no layout recognised; `bytes` then holds the line as it was.
    public var isUnparsed = false
    /// The layout that read the record (nil for an unparsed line). In a mixed file records of
    /// several layouts alternate: renderers, codes and connection rules follow this one.
    public var layout: Format?
    /// The record's lines, as read (continuation lines follow the first, each after a LF).
    public var bytes: [UInt8] = []
    package var standard = StandardRanges()
    public var extras: [(name: String, range: Range<Int>)] = []
    /// Lines of message text (the first one from the record line, when it has one).
    public var messageLines: [Range<Int>] = []
    /// Data dump lines kept with the record.
    public var dumpLines: [Range<Int>] = []
    /// Codes found in the message text, in order. Codes read from a dump's text (a cipher list)
    /// come last, with `end` -1: they have no place in the message.
    public var codes: [FoundCode] = []
    /// The dump lines' bytes as text, when the layout says how (`dump-text`); empty otherwise.
    public var dumpText: [UInt8] = []
    /// Raw level text as written (for levels the plugin did not map).
    public var rawLevel: Range<Int>?
    /// Shown as its lines were written, with the decodes after the codes (the layout's
    /// `print = "as-written"`), rather than rebuilt from its fields as its layout's `render` says.
    public var asWritten = false
    /// What a later stage read from the record and shows under it (the TLS messages in its dump).
    public var annotations: [Annotation] = []

    public init() {}

    public func range(_ f: StandardField) -> Range<Int>? { standard[f] }

    public func string(_ r: Range<Int>) -> String { String(decoding: bytes[r], as: UTF8.self) }

    public func field(_ f: StandardField) -> String? { range(f).map(string) }

    public func extra(_ name: String) -> String? { extras.first { $0.name == name }.map { string($0.range) } }

    /// All message lines joined with newlines.
    public var message: String { messageLines.map(string).joined(separator: "\n") }

    /// The level as shown: the normalised name, or the raw word for levels nobody mapped.
    public var levelName: String {
        if level == .other, let r = rawLevel { return string(r) }
        return level.name
    }

    package mutating func reset(source: Int, line: Int) {
        self.source = source
        self.line = line
        lineCount = 1
        time = nil
        badTime = nil
        level = .other
        isUnparsed = false
        bytes.removeAll(keepingCapacity: true)
        standard = StandardRanges()
        if !extras.isEmpty { extras.removeAll(keepingCapacity: true) }
        if !messageLines.isEmpty { messageLines.removeAll(keepingCapacity: true) }
        if !dumpLines.isEmpty { dumpLines.removeAll(keepingCapacity: true) }
        if !codes.isEmpty { codes.removeAll(keepingCapacity: true) }
        if !dumpText.isEmpty { dumpText.removeAll(keepingCapacity: true) }
        rawLevel = nil
        asWritten = false
        if !annotations.isEmpty { annotations.removeAll(keepingCapacity: true) }
    }

    /// Appends a line to `bytes` (after a LF when not the first) and returns the offset it starts at.
    package mutating func appendLine(_ line: UnsafeBufferPointer<UInt8>) -> Int {
        if !bytes.isEmpty { bytes.append(0x0A) }
        let at = bytes.count
        bytes.append(contentsOf: line)
        return at
    }

    package mutating func set(_ f: StandardField, _ r: Range<Int>) { standard[f] = r }
}

/// A line a later stage adds under a record: `text` for people (`ClientHello TLS 1.2 ...`), the
/// same as named values for JSON and the store. `kind` says which stage (`tls`).
public struct Annotation: Sendable, Equatable {
    public var kind: String
    public var text: String
    public var fields: [Field]

    public struct Field: Sendable, Equatable {
        public var name: String
        public var values: [String]
        /// The catalogue that names the values (codes such as `C02C`), when they are codes.
        public var catalogue: String?
        public init(_ name: String, _ values: [String], catalogue: String? = nil) { self.name = name; self.values = values; self.catalogue = catalogue }
    }

    public init(kind: String, text: String, fields: [Field] = []) {
        self.kind = kind; self.text = text; self.fields = fields
    }

    public func values(_ name: String) -> [String] { fields.first { $0.name == name }?.values ?? [] }
}

/// The standard fields' ranges, stored inline (no array to allocate, copy or check per record).
package struct StandardRanges: Sendable {
    package var thread, process, level, function, message, job: Range<Int>?

    package subscript(_ f: StandardField) -> Range<Int>? {
        get {
            switch f {
            case .thread: return thread
            case .process: return process
            case .level: return level
            case .function: return function
            case .message: return message
            case .job: return job
            }
        }
        set {
            switch f {
            case .thread: thread = newValue
            case .process: process = newValue
            case .level: level = newValue
            case .function: function = newValue
            case .message: message = newValue
            case .job: job = newValue
            }
        }
    }
}

/// A code found in a record's message, with the catalogue that decodes it.
public struct FoundCode: Sendable {
    /// Index of the catalogue in `PluginSet.catalogues`.
    public var catalogue: Int
    public var value: CodeValue
    /// Offset in the record's bytes just after the code's text: where the decoded label goes.
    public var end: Int
    package init(catalogue: Int, value: CodeValue, end: Int) {
        self.catalogue = catalogue
        self.value = value
        self.end = end
    }
}
