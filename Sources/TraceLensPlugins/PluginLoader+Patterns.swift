import TraceLensRecords
import TraceLensDecode

/// Reading `[[code]]`, `[[list]]` and `[[secret]]` tables. Code patterns and lists name
/// catalogues that may come from a later plugin, so they are resolved after everything loaded.
extension PluginLoader {
    /// A `[[code]]` entry waiting for its catalogues.
    package struct PendingCode {
        package var file: String
        package var entry: String
        package var template: Template
        package var catalogues: [String]
        package var formats: [String]
        package var context: [String]
        package var knownOnly: Bool
        package var byName: Bool
        package var wholeLine: Bool
    }

    /// A `[[list]]` entry waiting for its catalogue.
    package struct PendingList {
        package var file: String
        package var entry: String
        package var variable: String
        package var width: Int
        package var catalogue: String
    }

    package static func readCode(_ node: TOMLNode, index: Int, file: String, _ problems: inout [PluginProblem]) -> PendingCode? {
        guard var t = TableReader(node, file: file, entry: "[[code]] \(index + 1)") else { return nil }
        let find = t.string("find", &problems, required: true)
        let catalogues = t.strings("catalogue", &problems)
        let formats = t.strings("formats", &problems)
        let context = t.strings("context", &problems)
        let knownOnly = t.bool("known", &problems) ?? false
        let by = t.string("by", &problems) ?? "code"
        let wholeLine = t.bool("whole-line", &problems) ?? false
        problems += t.unknownKeys(known: ["find", "catalogue", "formats", "context", "known", "by", "whole-line"])
        guard by == "code" || by == "name" else {
            problems.append(t.problem("by '\(by)' is not one of code, name: 'name' looks the matched text up in the rows' names and texts"))
            return nil
        }
        if context.contains(where: \.isEmpty) {
            problems.append(t.problem("a 'context' entry is empty: give the literal text the message must also hold, such as a function name's prefix"))
            return nil
        }
        guard let find else { return nil }
        guard !catalogues.isEmpty else {
            problems.append(t.problem("'catalogue' is required: the catalogue id (or a list of ids) that decodes the code"))
            return nil
        }
        let entry = "[[code]] '\(find)'"
        do {
            let template = try Template(find)
            guard template.startsWithLiteral || wholeLine else {
                problems.append(PluginProblem(file: file, entry: entry, message: "must start with literal text, so it can be searched for fast (or match whole lines: whole-line = true)"))
                return nil
            }
            return PendingCode(file: file, entry: entry, template: template, catalogues: catalogues, formats: formats,
                               context: context, knownOnly: knownOnly, byName: by == "name", wholeLine: wholeLine)
        } catch {
            problems.append(PluginProblem(file: file, entry: entry, message: error.description))
            return nil
        }
    }

    /// The code pattern for a pending `[[code]]`: its catalogues found, the kind of its code field
    /// checked against them (a numeric catalogue needs an int or hex field).
    package static func resolve(_ p: PendingCode, in set: PluginSet.Builder, _ problems: inout [PluginProblem]) -> CodePattern? {
        if let missing = p.catalogues.first(where: { set.catalogueIndex[$0] == nil }) {
            problems.append(PluginProblem(file: p.file, entry: p.entry, message: "names catalogue '\(missing)', which no plugin defines"))
            return nil
        }
        let indices = p.catalogues.compactMap { set.catalogueIndex[$0] }
        let slot = p.template.slot(named: "code")
        let kind: CodePattern.CodeKind
        switch slot.map({ p.template.slotKinds[$0] }) {
        case .hex?: kind = .hex
        case .int?: kind = .decimal
        default: kind = .text
        }
        if kind == .text, !p.byName, let numeric = indices.first(where: { set.catalogues[$0].radix != .text }) {
            problems.append(PluginProblem(file: p.file, entry: p.entry, message: "catalogue '\(set.catalogues[numeric].id)' has numeric codes: give the pattern a {code:int} or {code:hex} field"))
            return nil
        }
        return CodePattern(template: p.template, catalogues: indices, codeSlot: slot, codeKind: kind, leading: p.template.leadingLiteral, formats: Set(p.formats),
                           context: p.context.map { Array($0.utf8) }, knownOnly: p.knownOnly || p.byName, byName: p.byName, wholeLine: p.wholeLine)
    }

    package static func readList(_ node: TOMLNode, index: Int, file: String, _ problems: inout [PluginProblem]) -> PendingList? {
        guard var t = TableReader(node, file: file, entry: "[[list]] \(index + 1)") else { return nil }
        let variable = t.string("variable", &problems, required: true)
        let width = t.int("element", &problems)
        let catalogue = t.string("catalogue", &problems, required: true)
        problems += t.unknownKeys(known: ["variable", "element", "catalogue"])
        guard let variable, let catalogue else { return nil }
        guard let width, width > 0 else {
            problems.append(t.problem("'element' must be the width of one code in characters, e.g. 4"))
            return nil
        }
        return PendingList(file: file, entry: "[[list]] \(variable)", variable: variable.uppercased(), width: width, catalogue: catalogue)
    }

    package static func readSecret(_ node: TOMLNode, index: Int, file: String, _ problems: inout [PluginProblem]) -> SecretRule? {
        guard var t = TableReader(node, file: file, entry: "[[secret]] \(index + 1)") else { return nil }
        let find = t.string("find", &problems, required: true)
        let ignoreCase = t.bool("ignore-case", &problems) ?? false
        let wordStart = t.bool("word-start", &problems) ?? false
        let followingText = t.string("following", &problems)
        let sample = t.string("sample", &problems)
        let masked = t.string("masked", &problems)
        problems += t.unknownKeys(known: ["find", "ignore-case", "word-start", "following", "sample", "masked"])
        guard let find else { return nil }
        var following: SecretRule.Following?
        if let followingText {
            following = SecretRule.Following(rawValue: followingText)
            if following == nil { problems.append(t.problem("following '\(followingText)' is not one of: dump, folded")); return nil }
        }
        if (sample == nil) != (masked == nil) {
            problems.append(t.problem("give 'sample' and 'masked' together: the line as written and as it must be shown"))
            return nil
        }
        do {
            let template = try Template(find, caseInsensitive: ignoreCase)
            let slot = template.slot(named: "secret")
            guard template.startsWithLiteral, slot != nil || following != nil else {
                problems.append(t.problem("'\(find)' must start with literal text and have a {secret} field (or say what it announces with 'following')"))
                return nil
            }
            return SecretRule(template: template, slot: slot, wordStart: wordStart, following: following,
                              sample: sample.flatMap { s in masked.map { (s, $0) } }, file: file, entry: "[[secret]] \(index + 1)")
        } catch {
            problems.append(t.problem(error.description))
            return nil
        }
    }
}

extension PluginLoader {
    /// A `[[redact]]` entry: a template whose fields are named after the class of value they hold.
    package static func readRedact(_ node: TOMLNode, index: Int, file: String, _ problems: inout [PluginProblem]) -> RedactRule? {
        guard var t = TableReader(node, file: file, entry: "[[redact]] \(index + 1)") else { return nil }
        let find = t.string("find", &problems, required: true)
        let ignoreCase = t.bool("ignore-case", &problems) ?? false
        problems += t.unknownKeys(known: ["find", "ignore-case"])
        guard let find else { return nil }
        do {
            let template = try Template(find, caseInsensitive: ignoreCase)
            var fields: [RedactRule.Field] = []
            for (slot, name) in template.fieldNames.enumerated() where !name.isEmpty {
                guard let kind = Redactor.Kind(rawValue: name) else {
                    problems.append(t.problem("field '\(name)' is not a class of value to redact: name it one of \(Redactor.Kind.allCases.map(\.rawValue).joined(separator: ", "))"))
                    return nil
                }
                fields.append(RedactRule.Field(slot: slot, kind: kind))
            }
            guard template.startsWithLiteral, !fields.isEmpty else {
                problems.append(t.problem("'\(find)' must start with literal text and have a field naming what it holds ({user}, {ring}, {host}, {dn}, {serial}, {ip}, {word})"))
                return nil
            }
            return RedactRule(template: template, fields: fields, file: file, entry: "[[redact]] \(index + 1)")
        } catch {
            problems.append(t.problem(error.description))
            return nil
        }
    }
}
