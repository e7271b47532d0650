import Foundation
import TraceLensInput
import TraceLensDecode
import TraceLensPlugins

/// What `lint` found in one file.
public struct LintFinding: Sendable, Equatable {
    public var rule: String
    public var severity: Severity
    public var line: Int?
    public var keyword: String?
    public var message: String
    public var action: String
}

/// A configuration file read into keyword entries with their line numbers.
public struct ConfigFile: Sendable {
    public struct Entry: Sendable {
        public var keyword: String
        public var value: String
        public var line: Int
    }
    public var entries: [Entry] = []
    /// Lines that are neither comments, blank, nor entries of this syntax.
    public var strayLines: [Int] = []
    /// Stray lines read leniently (`NAME = value`, `NAME: value`): a password written so is in
    /// clear all the same, though the product may not read it.
    public var looseEntries: [Entry] = []

    public init(text: String, syntax: ConfigKind.Syntax) {
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = raw.trimmingCharacters(in: .whitespaces.union(CharacterSet(charactersIn: "\r")))
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix("*") { continue }
            switch syntax {
            case .assignment:
                if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
                guard let eq = line.firstIndex(of: "="), eq != line.startIndex,
                      !line[..<eq].contains(where: { $0 == " " || $0 == "\t" }) else { stray(line, i + 1); continue }
                entries.append(Entry(keyword: String(line[..<eq]), value: Self.unquoted(String(line[line.index(after: eq)...])), line: i + 1))
            case .keyword:
                let parts = line.split(maxSplits: 1, whereSeparator: { $0 == " " || $0 == "\t" })
                guard let first = parts.first, first.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { stray(line, i + 1); continue }
                entries.append(Entry(keyword: String(first), value: parts.count > 1 ? Self.unquoted(String(parts[1])) : "", line: i + 1))
            }
        }
    }

    private mutating func stray(_ line: String, _ number: Int) {
        strayLines.append(number)
        // NAME, blanks and/or one '=' or ':', then the value.
        let name = line.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
        var rest = line.dropFirst(name.count)
        let blanks = rest.prefix { $0 == " " || $0 == "\t" }.count
        rest = rest.dropFirst(blanks)
        var separated = blanks > 0
        if let f = rest.first, f == "=" || f == ":" { rest = rest.dropFirst(); separated = true }
        let value = Self.unquoted(String(rest))
        guard !name.isEmpty, separated, !value.isEmpty else { return }
        looseEntries.append(Entry(keyword: String(name), value: value, line: number))
    }

    /// Without surrounding quotes (straight or typographic, as copied from a web page).
    package static func unquoted(_ s: String) -> String {
        var v = s.trimmingCharacters(in: .whitespaces)
        let quotes: Set<Character> = ["\"", "'", "\u{201C}", "\u{201D}"]
        if let f = v.first, quotes.contains(f) { v.removeFirst() }
        if let l = v.last, quotes.contains(l) { v.removeLast() }
        return v
    }
}

/// Checks configuration files with the plugins' `[[config]]` kinds and `[[lint]]` rules.
public struct ConfigLinter {
    public let plugins: PluginSet
    public init(plugins: PluginSet) { self.plugins = plugins }

    public struct Report: Sendable {
        public var kind: ConfigKind
        public var findings: [LintFinding]
    }

    /// The kind of file `text` is: the one whose known keywords it uses most (nil: none).
    public func recognise(_ text: String) -> ConfigKind? {
        var best: (ConfigKind, Int)?
        for kind in plugins.configKinds {
            let file = ConfigFile(text: text, syntax: kind.syntax)
            guard let catalogue = plugins.catalogue(kind.keywords) else { continue }
            let known = file.entries.filter { knownKeyword($0.keyword, kind, catalogue) != nil }.count
            if known > 0 && known > (best?.1 ?? 0) { best = (kind, known) }
        }
        return best?.0
    }

    /// The catalogue's spelling of a keyword, if it knows it.
    package func knownKeyword(_ keyword: String, _ kind: ConfigKind, _ catalogue: Catalogue) -> String? {
        if kind.caseSensitive { return catalogue.value(fromCatalogueText: keyword).flatMap { catalogue.entry($0) }?.code }
        return catalogue.entries.values.first { $0.code.caseInsensitiveCompare(keyword) == .orderedSame }?.code
    }

    public func lint(_ text: String, kind: ConfigKind) -> Report {
        let file = ConfigFile(text: text, syntax: kind.syntax)
        var findings: [LintFinding] = []
        let catalogue = plugins.catalogue(kind.keywords)
        func key(_ k: String) -> String { kind.caseSensitive ? k : k.lowercased() }
        var last: [String: ConfigFile.Entry] = [:]
        var inSection: [String: ConfigFile.Entry] = [:]
        let repeatable = Set(kind.repeatable.map(key))
        for e in file.entries {
            if let start = kind.sectionStart, key(e.keyword) == key(start) { inSection = [:] }
            defer { last[key(e.keyword)] = e; inSection[key(e.keyword)] = e }
            guard !repeatable.contains(key(e.keyword)) else { continue }
            if let earlier = inSection[key(e.keyword)] {
                findings.append(LintFinding(rule: "set-twice", severity: .warning, line: e.line, keyword: e.keyword,
                                            message: "\(e.keyword) is set again (first on line \(earlier.line)); the later value is the one used",
                                            action: "Keep one \(e.keyword) line."))
            }
        }
        // Unknown keywords, with the one most likely meant.
        if let catalogue {
            for e in file.entries where kind.checkedPrefixes.isEmpty || kind.checkedPrefixes.contains(where: { e.keyword.uppercased().hasPrefix($0.uppercased()) }) {
                guard knownKeyword(e.keyword, kind, catalogue) == nil else { continue }
                let guess = catalogue.entries.values.map(\.code).min { editDistance($0, e.keyword) < editDistance($1, e.keyword) }
                let close = guess.flatMap { editDistance($0, e.keyword) <= 3 ? $0 : nil }
                findings.append(LintFinding(rule: "unknown-keyword", severity: .error, line: e.line, keyword: e.keyword,
                                            message: "\(e.keyword) is not a keyword \(kind.title) knows" + (close.map { "; did you mean \($0)?" } ?? ".") + " It is ignored as written.",
                                            action: close.map { "Write \($0)." } ?? "Check the spelling against the product documentation."))
            }
        }
        // List values: hex, whole elements.
        for e in last.values.sorted(by: { $0.line < $1.line }) {
            guard let list = plugins.list(forVariable: e.keyword) else { continue }
            let compact = e.value.filter { !$0.isWhitespace && $0 != "," }
            if let bad = compact.firstIndex(where: { !$0.isHexDigit }) {
                findings.append(LintFinding(rule: "list-not-hex", severity: .error, line: e.line, keyword: e.keyword,
                                            message: "\(e.keyword) holds '\(compact[bad])' at character \(compact.distance(from: compact.startIndex, to: bad) + 1): a list of \(list.width)-character hexadecimal codes has only 0-9 and A-F",
                                            action: "Write the codes back to back, such as \(String(repeating: "0", count: list.width - 2))2F\(String(repeating: "0", count: list.width - 2))35."))
            } else if compact.count % list.width != 0 {
                findings.append(LintFinding(rule: "list-length", severity: .error, line: e.line, keyword: e.keyword,
                                            message: "\(e.keyword) is \(compact.count) characters long, not a multiple of \(list.width): a code is cut short or has a character too many",
                                            action: "Check each \(list.width)-character code; `tracelens explain \(e.keyword)=...` shows how the value splits."))
            }
        }
        for rule in plugins.lintRules where rule.config == kind.name {
            findings += evaluate(rule, last: last, caseSensitive: kind.caseSensitive, file: file)
        }
        findings.sort { ($0.line ?? 0, $0.rule) < ($1.line ?? 0, $1.rule) }
        return Report(kind: kind, findings: findings)
    }

    package static func isOn(_ v: String) -> Bool { ["on", "yes", "true", "enabled", "1"].contains(v.lowercased()) }

    package static func number(_ v: String) -> Int? {
        let t = v.trimmingCharacters(in: .whitespaces).lowercased()
        if t.hasPrefix("0x") { return Int(t.dropFirst(2), radix: 16) }
        if t.count > 1 && t.hasPrefix("0") { return Int(t.dropFirst(), radix: 8) }
        return Int(t)
    }

    package func evaluate(_ rule: LintRule, last: [String: ConfigFile.Entry], caseSensitive: Bool, file: ConfigFile? = nil) -> [LintFinding] {
        func entry(_ k: String) -> ConfigFile.Entry? { last[caseSensitive ? k : k.lowercased()] }
        if let gate = rule.whenOn, !(entry(gate).map { Self.isOn($0.value) } ?? false) { return [] }
        func finding(_ e: ConfigFile.Entry?, _ keyword: String, _ fill: [String: String] = [:]) -> [LintFinding] {
            var message = rule.message.replacingOccurrences(of: "{keyword}", with: keyword)
            var action = rule.action.replacingOccurrences(of: "{keyword}", with: keyword)
            for (k, v) in fill {
                message = message.replacingOccurrences(of: "{\(k)}", with: v)
                action = action.replacingOccurrences(of: "{\(k)}", with: v)
            }
            return [LintFinding(rule: rule.id, severity: rule.severity, line: e?.line, keyword: keyword, message: message, action: action)]
        }
        func elements(_ e: ConfigFile.Entry) -> [(code: String, entry: CatalogueEntry?)] {
            guard let list = plugins.list(forVariable: e.keyword) else { return [] }
            let compact = e.value.filter { !$0.isWhitespace && $0 != "," }.uppercased()
            guard compact.allSatisfy(\.isHexDigit) else { return [] }
            let chars = Array(compact)
            let catalogue = plugins.catalogues[list.catalogue]
            return stride(from: 0, to: chars.count - chars.count % list.width, by: list.width).map { i in
                let code = String(chars[i..<(i + list.width)])
                return (code, catalogue.value(fromCatalogueText: code).flatMap { catalogue.entry($0) })
            }
        }
        func names(_ items: [(code: String, entry: CatalogueEntry?)]) -> String {
            items.map { item in item.entry.map { "\(item.code) \($0.name)" } ?? item.code }.joined(separator: ", ")
        }
        switch rule.check {
        case let .on(k):
            guard let e = entry(k), Self.isOn(e.value) else { return [] }
            return finding(e, k)
        case let .nonzero(k):
            guard let e = entry(k), (Self.number(e.value) ?? (e.value.isEmpty ? 0 : 1)) != 0 else { return [] }
            return finding(e, k)
        case let .secret(k):
            // Every line that gives it a value, in any case and spaced (`adminpw = x`): the
            // password is in clear even where the product would not read it.
            let lines = ((file?.entries ?? Array(last.values)) + (file?.looseEntries ?? []))
                .filter { $0.keyword.caseInsensitiveCompare(k) == .orderedSame && !$0.value.isEmpty }
                .sorted { $0.line < $1.line }
            return lines.flatMap { finding($0, k) }
        case let .equals(k, values):
            guard let e = entry(k), values.contains(where: { $0.caseInsensitiveCompare(e.value.filter { !$0.isWhitespace }) == .orderedSame }) else { return [] }
            return finding(e, k)
        case let .lacksAny(k, codes):
            guard let e = entry(k) else { return [] }
            let have = Set(elements(e).map(\.code))
            return codes.contains { have.contains($0.uppercased()) } ? [] : finding(e, k)
        case let .lacks(k, selector):
            guard let e = entry(k) else { return [] }
            return elements(e).contains { selector.matches($0.entry, code: $0.code) } ? [] : finding(e, k)
        case let .containsAny(k, codes):
            guard let e = entry(k) else { return [] }
            let hits = elements(e).filter { item in codes.contains { $0.caseInsensitiveCompare(item.code) == .orderedSame } }
            return hits.isEmpty ? [] : finding(e, k, ["elements": names(hits)])
        case let .contains(k, selector):
            guard let e = entry(k) else { return [] }
            let hits = elements(e).filter { selector.matches($0.entry, code: $0.code) }
            return hits.isEmpty ? [] : finding(e, k, ["elements": names(hits)])
        case let .before(k, first, then):
            guard let e = entry(k) else { return [] }
            let items = elements(e)
            guard let cut = items.firstIndex(where: { then.matches($0.entry, code: $0.code) }) else { return [] }
            let early = items[..<cut].filter { first.matches($0.entry, code: $0.code) }
            return early.isEmpty ? [] : finding(e, k, ["elements": names(early), "then": names([items[cut]])])
        }
    }
}

/// `lint --json`: one object per finding.
public enum LintJSON {
    public static func line(_ f: LintFinding, file: String, kind: String) -> String {
        JSON.Value.sorted(["file": .string(file), "kind": .string(kind), "line": .int(f.line), "rule": .string(f.rule),
                           "severity": .string(f.severity.rawValue), "keyword": .string(f.keyword),
                           "message": .string(f.message), "action": .string(f.action)]).text
    }
}

