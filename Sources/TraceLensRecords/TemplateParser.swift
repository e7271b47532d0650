/// Compiles template source text into ops.
package struct TemplateParser {
    package let source: String
    package let chars: [Character]
    package var ops: [Template.Op] = []
    package var literals: [UInt8] = []
    package var choices: [[[UInt8]]] = []
    package var timeFormats: [TimeFormat] = []
    package var names: [String] = []
    package var slotKinds: [Template.Kind] = []
    package var i = 0

    package init(source: String) { self.source = source; self.chars = Array(source) }

    package func fail(_ problem: String, at column: Int? = nil) -> TemplateError {
        TemplateError(template: source, column: (column ?? i) + 1, problem: problem)
    }

    package mutating func parse() throws(TemplateError) {
        if source.isEmpty { throw fail("the template is empty") }
        var groupStarts: [(op: Int, slot: Int, column: Int)] = []
        var pendingLiteral: [UInt8] = []
        func flush(_ p: inout TemplateParser, _ lit: inout [UInt8]) {
            guard !lit.isEmpty else { return }
            p.ops.append(.literal(offset: p.literals.count, count: lit.count))
            p.literals += lit
            lit = []
        }
        while i < chars.count {
            let c = chars[i]
            switch c {
            case "\\":
                guard i + 1 < chars.count else { throw fail("a backslash at the end escapes nothing") }
                pendingLiteral += Array(String(chars[i + 1]).utf8)
                i += 2
            case " ", "\t":
                flush(&self, &pendingLiteral)
                if ops.last != .space { ops.append(.space) }
                while i < chars.count && (chars[i] == " " || chars[i] == "\t") { i += 1 }
            case "{" where i + 1 < chars.count && chars[i + 1] == "?":
                flush(&self, &pendingLiteral)
                groupStarts.append((ops.count, names.count, i))
                ops.append(.groupEnd)  // placeholder, patched at the closing brace
                i += 2
            case "{":
                flush(&self, &pendingLiteral)
                try parseField()
            case "}":
                flush(&self, &pendingLiteral)
                guard let g = groupStarts.popLast() else { throw fail("'}' without a matching '{' (write \\} for a literal brace)") }
                ops.append(.groupEnd)
                ops[g.op] = .optional(skipTo: ops.count, firstSlot: g.slot, slotCount: names.count - g.slot)
                i += 1
            default:
                pendingLiteral += Array(String(c).utf8)
                i += 1
            }
        }
        flush(&self, &pendingLiteral)
        if let g = groupStarts.last { throw fail("'{?' is never closed", at: g.column) }
        // A text field must be followed by literal text, a blank or the end of the template.
        for (k, op) in ops.enumerated() {
            guard case let .field(_, kind) = op, kind == .text || kind == .token else { continue }
            var n = k + 1
            while n < ops.count, ops[n] == .groupEnd { n += 1 }
            if n >= ops.count && kind == .token { throw fail("a token field must be followed by literal text", at: 0) }
            if n < ops.count {
                switch ops[n] {
                case .literal: break
                case .space where kind == .text: break
                default: throw fail(kind == .token ? "a token field must be followed by literal text" : "a text field must be followed by literal text, a space or the end; give the field a kind (int, word, hex, ...)", at: 0)
                }
            }
        }
    }

    package mutating func parseField() throws(TemplateError) {
        let open = i
        i += 1
        var body = ""
        var depth = 0
        while i < chars.count {
            let c = chars[i]
            if c == "(" { depth += 1 }
            if c == ")" { depth -= 1 }
            if c == "}" && depth <= 0 { break }
            body.append(c)
            i += 1
        }
        guard i < chars.count else { throw fail("'{' is never closed", at: open) }
        i += 1
        let name: String, kindText: String
        if let colon = body.firstIndex(of: ":") {
            name = String(body[..<colon]).trimmingBlanks()
            kindText = String(body[body.index(after: colon)...]).trimmingBlanks()
        } else {
            name = body.trimmingBlanks(); kindText = "text"
        }
        if !name.isEmpty, !name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
            throw fail("field name '\(name)' may hold only letters, digits and _", at: open)
        }
        let kind = try parseKind(kindText, at: open)
        var slot = -1
        if !name.isEmpty {
            if names.contains(name) { throw fail("field '\(name)' appears twice", at: open) }
            slot = names.count
            names.append(name)
            slotKinds.append(kind)
        }
        ops.append(.field(slot: slot, kind: kind))
    }

    package mutating func parseKind(_ text: String, at column: Int) throws(TemplateError) -> Template.Kind {
        var base = text, arg: String? = nil
        if let paren = text.firstIndex(of: "("), text.hasSuffix(")") {
            base = String(text[..<paren])
            arg = String(text[text.index(after: paren)..<text.index(before: text.endIndex)])
        }
        switch base {
        case "text" where arg == nil: return .text
        case "token" where arg == nil: return .token
        case "rest" where arg == nil: return .rest
        case "int" where arg == nil, "dec" where arg == nil: return .int
        case "word" where arg == nil: return .word
        case "ident" where arg == nil: return .ident
        case "msgid" where arg == nil: return .msgid
        case "msgtext" where arg == nil: return .msgtext
        case "jobid" where arg == nil: return .jobid
        case "ipv4" where arg == nil: return .ipv4
        case "hex":
            guard let arg else { return .hex(min: 1, max: Int.max) }
            let parts = arg.split(separator: "-").map { Int(String($0).trimmingBlanks()) }
            if parts.count == 1, let n = parts[0], n > 0 { return .hex(min: n, max: n) }
            if parts.count == 2, let a = parts[0], let b = parts[1], a > 0, b >= a { return .hex(min: a, max: b) }
            throw fail("hex takes a count or a range, as hex(8) or hex(2-4)", at: column)
        case "one":
            guard let arg, !arg.isEmpty else { throw fail("one(...) needs choices, as one(ENTRY|EXIT)", at: column) }
            choices.append(arg.split(separator: "|", omittingEmptySubsequences: false).map { Array($0.utf8) })
            if choices.last!.contains(where: \.isEmpty) { throw fail("one(...) has an empty choice", at: column) }
            return .oneOf(choices.count - 1)
        case "time":
            guard let arg, !arg.isEmpty else { throw fail("time(...) needs a format, as time(MM/DD/YYYY-hh:mm:ss)", at: column) }
            do {
                timeFormats.append(try TimeFormat(arg))
            } catch {
                throw fail("time format '\(arg)': \(error.problem)", at: column)
            }
            return .time(timeFormats.count - 1)
        default:
            throw fail("unknown field kind '\(text)' (kinds: text, token, rest, int, hex, hex(N), word, ident, ipv4, msgid, msgtext, jobid, one(A|B), time(FORMAT))", at: column)
        }
    }
}

extension String {
    package func trimmingBlanks() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
