/// How a layout's records print (`render = "..."` in a `[[format]]`): literal text and record
/// fields, with optional parts left out when their fields are empty.
///
///     {?{time} }{?Thd-{thread} }{level} {function}():{? {message}}
///
/// `{name}` prints a field: `time`, `level`, a standard field (`thread`, `process`, `job`,
/// `function`, `message`) or a field the layout's own templates capture. `{?...}` prints what it
/// holds only when every field written directly inside it has a value. `\{`, `\}` and `\\` are
/// the characters themselves.
///
/// Compiled once when the plugin loads into a flat list of parts whose payloads are plain
/// numbers (no reference counting while records print). A class: a record's layout hands it to
/// the renderer with one reference, not one per array.
public final class RenderTemplate: Sendable {
    /// What a field part prints.
    package enum Field: Equatable, Sendable {
        case time, level
        case standard(StandardField)
        /// Index into `extraNames`.
        case extra(Int)
    }

    package enum Part: Sendable {
        /// `literals[range]`.
        case text(Range<Int>)
        case field(Field)
        /// The start of an optional part: printed when every field in `needs[fields]` has a
        /// value, else printing goes on at part `end`.
        case optional(fields: Range<Int>, end: Int)
    }

    public let source: String
    package let parts: [Part]
    package let literals: [UInt8]
    package let needs: [Field]
    package let extraNames: [String]

    /// The look of a layout that gives no `render`: nothing but generic fields.
    public static let standard = try! RenderTemplate("{?{time} }{?{thread} }{level}{? {function}}{? {message}}", fields: [])

    /// `fields`: the names the layout's templates capture (besides the standard ones).
    public convenience init(_ source: String, fields: Set<String>) throws {
        var parser = RenderTemplateParser(source: source, fields: fields)
        try parser.parseAll()
        self.init(source: source, parser)
    }

    private init(source: String, _ parser: RenderTemplateParser) {
        self.source = source
        parts = parser.parts
        literals = parser.literals
        needs = parser.needs
        extraNames = parser.extraNames
    }
}

public struct RenderTemplateError: Error, CustomStringConvertible, Equatable {
    public let template: String
    public let column: Int
    public let problem: String
    public var description: String { "render '\(template)', column \(column): \(problem)" }
}

/// Reads a render template into parts (see `RenderTemplate`).
private struct RenderTemplateParser {
    let source: [UInt8]
    let text: String
    let fields: Set<String>
    var pos = 0
    var parts: [RenderTemplate.Part] = []
    var literals: [UInt8] = []
    var needs: [RenderTemplate.Field] = []
    var extraNames: [String] = []

    init(source: String, fields: Set<String>) {
        self.source = Array(source.utf8)
        text = source
        self.fields = fields
    }

    func error(_ problem: String, at column: Int? = nil) -> RenderTemplateError {
        RenderTemplateError(template: text, column: (column ?? pos) + 1, problem: problem)
    }

    mutating func parseAll() throws {
        _ = try parseSequence(inOptional: false)
    }

    /// Parses up to the `}` closing an optional part (or the end); returns the fields named
    /// directly in the sequence.
    mutating func parseSequence(inOptional: Bool) throws -> [RenderTemplate.Field] {
        var direct: [RenderTemplate.Field] = []
        var literalStart = literals.count
        func flushLiteral() {
            if literals.count > literalStart { parts.append(.text(literalStart..<literals.count)) }
        }
        while pos < source.count {
            let c = source[pos]
            switch c {
            case UInt8(ascii: "\\"):
                guard pos + 1 < source.count, [UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "\\")].contains(source[pos + 1]) else {
                    throw error("'\\' must be followed by {, } or \\")
                }
                literals.append(source[pos + 1])
                pos += 2
            case UInt8(ascii: "}"):
                guard inOptional else { throw error("'}' closes nothing (write \\} for the character)") }
                flushLiteral()
                return direct
            case UInt8(ascii: "{"):
                flushLiteral()
                let open = pos
                pos += 1
                if pos < source.count && source[pos] == UInt8(ascii: "?") {
                    pos += 1
                    let at = parts.count
                    parts.append(.text(0..<0))  // replaced once the part's end is known
                    let inner = try parseSequence(inOptional: true)
                    guard pos < source.count else { throw error("'{?' is never closed", at: open) }
                    pos += 1
                    guard !inner.isEmpty else { throw error("an optional part must name a field: it is left out when its fields are empty", at: open) }
                    let first = needs.count
                    needs += inner
                    parts[at] = .optional(fields: first..<needs.count, end: parts.count)
                } else {
                    let field = try parseField(open: open)
                    parts.append(.field(field))
                    direct.append(field)
                }
                literalStart = literals.count
            default:
                literals.append(c)
                pos += 1
            }
        }
        if inOptional { return direct }
        flushLiteral()
        return direct
    }

    mutating func parseField(open: Int) throws -> RenderTemplate.Field {
        let start = pos
        while pos < source.count && source[pos] != UInt8(ascii: "}") && source[pos] != UInt8(ascii: "{") { pos += 1 }
        guard pos < source.count, source[pos] == UInt8(ascii: "}") else { throw error("'{' is never closed", at: open) }
        let name = String(decoding: source[start..<pos], as: UTF8.self)
        pos += 1
        switch name {
        case "": throw error("'{}' names no field", at: open)
        case "time": return .time
        case "level": return .level
        default:
            if let standard = StandardField(name: name) { return .standard(standard) }
            guard fields.contains(name) else {
                let known = (["time", "level"] + StandardField.allCases.map(\.name) + fields.sorted()).joined(separator: ", ")
                throw error("no field '\(name)' (the fields are \(known))", at: open)
            }
            if let i = extraNames.firstIndex(of: name) { return .extra(i) }
            extraNames.append(name)
            return .extra(extraNames.count - 1)
        }
    }
}
