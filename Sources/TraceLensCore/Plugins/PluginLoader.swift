import Foundation
import TOMLKit

/// The files of one plugin folder: `plugin.toml` plus the catalogues it names.
public struct PluginSource: Sendable {
    public var name: String
    public var origin: PluginOrigin
    /// File texts keyed by path relative to the plugin folder.
    public var files: [String: String]

    public init(name: String, origin: PluginOrigin, files: [String: String]) {
        self.name = name; self.origin = origin; self.files = files
    }

    func displayPath(_ file: String) -> String {
        switch origin {
        case .builtIn: return "Plugins/\(name)/\(file)"
        case let .directory(dir): return (dir as NSString).appendingPathComponent(file)
        }
    }
}

/// A sample from a plugin, checked when the plugin loads.
struct PluginSample {
    enum Kind {
        case lines(format: String, text: String)
        case explain(query: String, readings: [String])
    }
    var kind: Kind
    var expect: [String: TOMLNode]
    var file: String
    var entry: String
}

/// Loads plugin folders into a `PluginSet`: built-ins first, then user folders, each entry of a
/// later plugin replacing an entry of the same key (format name, catalogue id and code, ...).
public enum PluginLoader {
    static let manifest = "plugin.toml"

    /// The plugins embedded in the binary at build time, from the package's `Plugins/` folder.
    public static func builtInSources() -> [PluginSource] {
        var byName: [String: [String: String]] = [:]
        for (path, text) in EmbeddedPluginFiles.files {
            let parts = path.split(separator: "/", maxSplits: 1)
            guard parts.count == 2 else { continue }
            byName[String(parts[0]), default: [:]][String(parts[1])] = text
        }
        return byName.keys.sorted().compactMap { name in
            let files = byName[name]!
            return files[manifest] == nil ? nil : PluginSource(name: name, origin: .builtIn, files: files)
        }
    }

    /// Plugin folders in `dir`: the folder itself when it holds `plugin.toml`, else each
    /// sub-folder that does.
    public static func sources(inDirectory dir: String) throws -> [PluginSource] {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw PluginProblem(file: dir, entry: "", message: "no such plugin folder")
        }
        if fm.fileExists(atPath: (dir as NSString).appendingPathComponent(manifest)) {
            return [try source(at: dir)]
        }
        let children = (try? fm.contentsOfDirectory(atPath: dir)) ?? []
        return try children.sorted().compactMap { child in
            let path = (dir as NSString).appendingPathComponent(child)
            guard fm.fileExists(atPath: (path as NSString).appendingPathComponent(manifest)) else { return nil }
            return try source(at: path)
        }
    }

    static func source(at dir: String) throws -> PluginSource {
        var files: [String: String] = [:]
        let fm = FileManager.default
        let root = URL(fileURLWithPath: dir).standardizedFileURL.path
        if let walker = fm.enumerator(atPath: root) {
            for case let rel as String in walker {
                let full = (root as NSString).appendingPathComponent(rel)
                var isDir: ObjCBool = false
                guard fm.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue, !rel.hasPrefix(".") else { continue }
                guard rel == manifest || rel.hasSuffix(".tsv") || rel.hasSuffix(".toml") else { continue }
                guard let data = fm.contents(atPath: full), let text = String(data: data, encoding: .utf8) else {
                    throw PluginProblem(file: full, entry: "", message: "cannot be read as UTF-8 text")
                }
                files[rel] = text
            }
        }
        let name = (root as NSString).lastPathComponent
        return PluginSource(name: name, origin: .directory(root), files: files)
    }

    /// User plugin folders, lowest precedence first: `~/.config/tracelens/plugins`, then
    /// `TRACELENS_PLUGINS` (colon-separated), then `--plugins` folders.
    public static func userDirectories(explicit: [String], environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        var dirs: [String] = []
        let home = environment["HOME"] ?? NSHomeDirectory()
        let config = environment["XDG_CONFIG_HOME"].map { $0 + "/tracelens/plugins" } ?? home + "/.config/tracelens/plugins"
        if FileManager.default.fileExists(atPath: config) { dirs.append(config) }
        if let env = environment["TRACELENS_PLUGINS"] {
            dirs += env.split(separator: ":").map(String.init).filter { !$0.isEmpty }
        }
        return dirs + explicit
    }

    /// Loads built-ins plus the given user folders. Problems are returned, not thrown: a broken
    /// entry is left out and the rest still loads.
    public static func loadAll(userDirectories: [String] = []) -> (PluginSet, [PluginProblem]) {
        var sources = builtInSources()
        var problems: [PluginProblem] = []
        for dir in userDirectories {
            do { sources += try self.sources(inDirectory: dir) } catch let p as PluginProblem { problems.append(p) } catch {
                problems.append(PluginProblem(file: dir, entry: "", message: "\(error)"))
            }
        }
        let (set, more) = load(sources)
        return (set, problems + more)
    }

    /// `plugins check DIR`: loads the built-ins plus the folder (so it may use built-in catalogues)
    /// and reports the folder's plugins and every problem. Problems of the built-ins are the
    /// binary's, not the folder's, and are left out.
    public static func check(directory: String) -> (summary: [String], problems: [PluginProblem]) {
        let sources: [PluginSource]
        do { sources = try self.sources(inDirectory: directory) } catch let p as PluginProblem {
            return ([], [p])
        } catch {
            return ([], [PluginProblem(file: directory, entry: "", message: "\(error)")])
        }
        guard !sources.isEmpty else {
            return ([], [PluginProblem(file: directory, entry: "", message: "no plugin.toml here or in its sub-folders")])
        }
        let (set, problems) = load(builtInSources() + sources)
        let checked = set.plugins.filter { info in sources.contains { $0.origin == info.origin } }
        let summary = checked.map { info in
            "\(info.name): \(info.formats.count) layouts, \(info.catalogues.count) catalogues, \(info.codePatterns) code patterns, \(info.samples) samples"
                + (problems.isEmpty ? ", all samples pass" : "")
        }
        return (summary, problems)
    }

    public static func load(_ sources: [PluginSource]) -> (PluginSet, [PluginProblem]) {
        let set = PluginSet()
        var problems: [PluginProblem] = []
        var pendingCodes: [(source: PluginSource, file: String, entry: String, template: Template, catalogues: [String], formats: [String])] = []
        var pendingLists: [(file: String, entry: String, variable: String, width: Int, catalogue: String)] = []

        for source in sources {
            let file = source.displayPath(manifest)
            guard let text = source.files[manifest] else {
                problems.append(PluginProblem(file: file, entry: "", message: "missing"))
                continue
            }
            let root: TOMLNode
            do { root = try TOMLNode.parse(text) } catch let e as TOMLParseError {
                problems.append(PluginProblem(file: file, entry: "line \(e.source.begin.line), column \(e.source.begin.column)", message: "not valid TOML: \(e.description)"))
                continue
            } catch {
                problems.append(PluginProblem(file: file, entry: "", message: "not valid TOML: \(error)"))
                continue
            }
            guard var top = TableReader(root, file: file, entry: "") else { continue }
            var info = PluginInfo(name: source.name, description: "", origin: source.origin, formats: [], catalogues: [], codePatterns: 0, samples: 0, overrides: [])
            if var meta = TableReader(top.node("plugin"), file: file, entry: "[plugin]") {
                info.name = meta.string("name", &problems) ?? source.name
                info.description = meta.string("description", &problems) ?? ""
                _ = meta.string("version", &problems)
                problems += meta.unknownKeys(known: ["name", "description", "version"])
            } else {
                problems.append(PluginProblem(file: file, entry: "", message: "a [plugin] table with name and description is required"))
            }

            for (i, node) in top.tables("format", &problems).enumerated() {
                if let format = readFormat(node, index: i, plugin: info.name, file: file, &problems) {
                    if let old = set.formats.firstIndex(where: { $0.name == format.name }) {
                        set.formats[old] = format
                        info.overrides.append("format \(format.name)")
                    } else {
                        set.formats.append(format)
                    }
                    info.formats.append(format.name)
                }
            }
            for (i, node) in top.tables("catalogue", &problems).enumerated() {
                if let id = readCatalogue(node, index: i, source: source, file: file, into: set, info: &info, &problems) {
                    info.catalogues.append(id)
                }
            }
            for (i, node) in top.tables("code", &problems).enumerated() {
                guard var t = TableReader(node, file: file, entry: "[[code]] \(i + 1)") else { continue }
                let find = t.string("find", &problems, required: true)
                let catalogues = t.strings("catalogue", &problems)
                let formats = t.strings("formats", &problems)
                problems += t.unknownKeys(known: ["find", "catalogue", "formats"])
                guard let find else { continue }
                guard !catalogues.isEmpty else { problems.append(t.problem("'catalogue' is required: the catalogue id (or a list of ids) that decodes the code")); continue }
                let entry = "[[code]] '\(find)'"
                do {
                    let template = try Template(find)
                    guard template.startsWithLiteral else {
                        problems.append(PluginProblem(file: file, entry: entry, message: "must start with literal text, so it can be searched for fast"))
                        continue
                    }
                    pendingCodes.append((source, file, entry, template, catalogues, formats))
                    info.codePatterns += 1
                } catch {
                    problems.append(PluginProblem(file: file, entry: entry, message: error.description))
                }
            }
            for (i, node) in top.tables("list", &problems).enumerated() {
                guard var t = TableReader(node, file: file, entry: "[[list]] \(i + 1)") else { continue }
                let variable = t.string("variable", &problems, required: true)
                let width = t.int("element", &problems)
                let catalogue = t.string("catalogue", &problems, required: true)
                problems += t.unknownKeys(known: ["variable", "element", "catalogue"])
                guard let variable, let catalogue else { continue }
                guard let width, width > 0 else {
                    problems.append(t.problem("'element' must be the width of one code in characters, e.g. 4"))
                    continue
                }
                pendingLists.append((file, "[[list]] \(variable)", variable.uppercased(), width, catalogue))
            }
            for (i, node) in top.tables("secret", &problems).enumerated() {
                guard var t = TableReader(node, file: file, entry: "[[secret]] \(i + 1)") else { continue }
                let find = t.string("find", &problems, required: true)
                problems += t.unknownKeys(known: ["find"])
                guard let find else { continue }
                do {
                    let template = try Template(find)
                    if !template.startsWithLiteral || template.slot(named: "secret") == nil {
                        problems.append(t.problem("'\(find)' must start with literal text and have a {secret} field"))
                    } else if !set.secretPatterns.contains(where: { $0.source == find }) {
                        set.secretPatterns.append(template)
                    }
                } catch {
                    problems.append(t.problem(error.description))
                }
            }
            for (i, node) in top.tables("sample", &problems).enumerated() {
                if let sample = readSample(node, index: i, file: file, &problems) {
                    set.samples.append(sample)
                    info.samples += 1
                }
            }
            problems += top.unknownKeys(known: ["plugin", "format", "catalogue", "code", "list", "secret", "sample"])
            if let old = set.plugins.firstIndex(where: { $0.name == info.name }) { set.plugins.remove(at: old) }
            set.plugins.append(info)
        }

        // Cross-plugin references are resolved once every plugin is in.
        for p in pendingCodes {
            let indices = p.catalogues.compactMap { set.catalogueIndex($0) }
            if let missing = p.catalogues.first(where: { set.catalogueIndex($0) == nil }) {
                problems.append(PluginProblem(file: p.file, entry: p.entry, message: "names catalogue '\(missing)', which no plugin defines"))
                continue
            }
            let slot = p.template.slot(named: "code")
            let kind: CodePattern.CodeKind
            switch slot.map({ p.template.slotKinds[$0] }) {
            case .hex?: kind = .hex
            case .int?: kind = .decimal
            default: kind = .text
            }
            if let numeric = indices.first(where: { set.catalogues[$0].radix != .text }), kind == .text {
                problems.append(PluginProblem(file: p.file, entry: p.entry, message: "catalogue '\(set.catalogues[numeric].id)' has numeric codes: give the pattern a {code:int} or {code:hex} field"))
                continue
            }
            set.codePatterns.removeAll { $0.template.source == p.template.source }
            set.codePatterns.append(CodePattern(template: p.template, catalogues: indices, codeSlot: slot, codeKind: kind, leading: p.template.leadingLiteral, formats: Set(p.formats)))
        }
        for l in pendingLists {
            guard let index = set.catalogueIndex(l.catalogue) else {
                problems.append(PluginProblem(file: l.file, entry: l.entry, message: "names catalogue '\(l.catalogue)', which no plugin defines"))
                continue
            }
            set.lists.removeAll { $0.variable == l.variable }
            set.lists.append(ListDecoder(variable: l.variable, width: l.width, catalogue: index))
        }
        for catalogue in set.catalogues {
            for entry in catalogue.entries.values {
                for ref in entry.related where set.resolve(ref) == nil {
                    problems.append(PluginProblem(file: entry.origin, entry: "code \(entry.code)", message: "related code '\(ref)' is in no catalogue"))
                }
            }
        }
        for format in set.formats where !set.samples.contains(where: { if case .lines(format.name, _) = $0.kind { return true } else { return false } }) {
            problems.append(PluginProblem(file: "plugin \(format.plugin)", entry: "[[format]] \(format.name)", message: "has no [[sample]]; every format needs at least one"))
        }
        problems += SampleChecker(plugins: set).checkAll()
        return (set, problems)
    }

    // MARK: - Formats

    static func readFormat(_ node: TOMLNode, index: Int, plugin: String, file: String, _ problems: inout [PluginProblem]) -> Format? {
        guard var t = TableReader(node, file: file, entry: "[[format]] \(index + 1)") else { return nil }
        guard let name = t.string("name", &problems, required: true) else { return nil }
        let entry = "[[format]] \(name)"
        t = TableReader(node, file: file, entry: entry)!
        _ = t.string("name", &problems)
        let title = t.string("title", &problems) ?? name
        var ok = true
        func compile(_ sources: [String], _ what: String) -> [Template] {
            sources.enumerated().compactMap { i, s in
                do { return try Template(s) } catch {
                    problems.append(PluginProblem(file: file, entry: "\(entry), \(what) \(i + 1)", message: (error as? TemplateError)?.description ?? "\(error)"))
                    ok = false
                    return nil
                }
            }
        }
        let records = compile(t.strings("record", &problems), "record")
        if records.isEmpty && ok { problems.append(t.problem("needs at least one 'record' template")); ok = false }
        let contexts = compile(t.strings("context", &problems), "context")
        let headers = compile(t.strings("header", &problems), "header")
        var continuations: [(Template, ContinuationRole)] = []
        for (i, c) in t.tables("continuation", &problems).enumerated() {
            guard var ct = TableReader(c, file: file, entry: "\(entry), continuation \(i + 1)") else { continue }
            let roleText = ct.string("role", &problems) ?? "text"
            guard let role = ContinuationRole(rawValue: roleText) else {
                problems.append(ct.problem("role '\(roleText)' is not one of text, fields, dump")); ok = false; continue
            }
            if let src = ct.string("template", &problems, required: true), let tpl = compile([src], "continuation").first {
                continuations.append((tpl, role))
            }
            problems += ct.unknownKeys(known: ["template", "role"])
        }
        var levels: [String: Level] = [:]
        if case let .table(map, _)? = t.node("levels") {
            for (raw, value) in map {
                guard case let .string(name) = value, let level = Level(name: name) else {
                    problems.append(t.problem("levels: '\(raw)' must map to one of \(Level.allCases.map(\.name).joined(separator: ", "))")); continue
                }
                levels[raw] = level
            }
        }
        var fileName: Template?
        if let src = t.string("file-name", &problems) { fileName = compile([src], "file-name").first }
        problems += t.unknownKeys(known: ["name", "title", "record", "context", "header", "continuation", "levels", "file-name"])
        guard ok else { return nil }
        return Format(name: name, title: title, plugin: plugin, records: records, continuations: continuations,
                      contexts: contexts, headers: headers, levels: levels, fileName: fileName)
    }

    // MARK: - Catalogues

    static func readCatalogue(_ node: TOMLNode, index: Int, source: PluginSource, file: String, into set: PluginSet, info: inout PluginInfo, _ problems: inout [PluginProblem]) -> String? {
        guard var t = TableReader(node, file: file, entry: "[[catalogue]] \(index + 1)") else { return nil }
        guard let id = t.string("id", &problems, required: true) else { return nil }
        let entry = "[[catalogue]] \(id)"
        t = TableReader(node, file: file, entry: entry)!
        _ = t.string("id", &problems)
        let existing = set.catalogue(id)
        let title = t.string("title", &problems) ?? existing?.title ?? id
        let radixText = t.string("radix", &problems)
        var radix = existing?.radix ?? .decimal
        switch radixText {
        case nil: break
        case "decimal"?: radix = .decimal
        case "hex"?: radix = .hex
        case "text"?: radix = .text
        case let other?: problems.append(t.problem("radix '\(other)' is not one of decimal, hex, text"))
        }
        let digits = t.int("digits", &problems) ?? existing?.digits ?? 0
        let label = t.string("label", &problems) ?? existing?.label ?? "\(id) {code}: {text}"
        let failureText = t.string("failure", &problems)
        var failure = existing?.failure ?? .nonzero
        if let failureText {
            if let f = FailurePolicy(rawValue: failureText) { failure = f } else { problems.append(t.problem("failure '\(failureText)' is not one of nonzero, all, none")) }
        }
        let words = t.strings("words", &problems).map { $0.lowercased() }
        var accepts: [Template] = []
        for (i, src) in t.strings("accept", &problems).enumerated() {
            do {
                let tpl = try Template(src, caseInsensitive: true)
                if tpl.slot(named: "code") == nil {
                    problems.append(PluginProblem(file: file, entry: "\(entry), accept \(i + 1)", message: "needs a {code} field"))
                } else {
                    accepts.append(tpl)
                }
            } catch {
                problems.append(PluginProblem(file: file, entry: "\(entry), accept \(i + 1)", message: error.description))
            }
        }
        let files = t.strings("file", &problems)
        problems += t.unknownKeys(known: ["id", "title", "radix", "digits", "label", "failure", "words", "accept", "file"])

        let catalogue = Catalogue(id: id, title: title, plugin: info.name, radix: radix, digits: digits, label: label, failure: failure,
                                  words: words.isEmpty ? (existing?.words ?? [id]) : words,
                                  accepts: accepts.isEmpty ? (existing?.accepts ?? []) : accepts)
        if let existing {
            for e in existing.entries.values { catalogue.add(e) }
            for r in existing.ranges { catalogue.addRange(low: r.low, high: r.high, entry: r.entry) }
        }
        var replaced = 0
        for name in files {
            guard let text = source.files[name] else {
                problems.append(PluginProblem(file: file, entry: entry, message: "catalogue file '\(name)' is not in the plugin folder"))
                continue
            }
            replaced += readTSV(text, file: source.displayPath(name), into: catalogue, hadExisting: existing != nil, &problems)
        }
        if let old = set.catalogueIndex(id) {
            set.catalogues[old] = catalogue
            info.overrides.append("catalogue \(id)" + (replaced > 0 ? ": \(replaced) rows replaced" : ""))
        } else {
            set.catalogueIndex[id] = set.catalogues.count
            set.catalogues.append(catalogue)
        }
        return id
    }

    static let coreColumns = ["code", "name", "text", "explanation", "action", "verified", "related"]

    /// Reads a catalogue TSV. Returns how many rows replaced rows of an earlier plugin.
    static func readTSV(_ text: String, file: String, into catalogue: Catalogue, hadExisting: Bool, _ problems: inout [PluginProblem]) -> Int {
        var header: [String]?
        var replaced = 0
        var seen: Set<CodeValue> = []
        for (n, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            let lineNo = n + 1
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map { String($0).trimmingBlanks() }
            guard let columns = header else {
                header = fields.map { $0.lowercased() }
                if !fields.map({ $0.lowercased() }).contains("code") {
                    problems.append(PluginProblem(file: "\(file):\(lineNo)", entry: "header", message: "needs a 'code' column (columns: \(coreColumns.joined(separator: ", ")), then any extra)"))
                    return replaced
                }
                continue
            }
            guard fields.count == columns.count else {
                problems.append(PluginProblem(file: "\(file):\(lineNo)", entry: "row", message: "has \(fields.count) fields, the header has \(columns.count)"))
                continue
            }
            var row: [String: String] = [:]
            var details: [(String, String)] = []
            for (c, v) in zip(columns, fields) {
                row[c] = v
                if !coreColumns.contains(c) && !v.isEmpty { details.append((c, v)) }
            }
            let code = row["code"] ?? ""
            let verifiedText = (row["verified"] ?? "yes").lowercased()
            var related: [CodeRef] = []
            for word in (row["related"] ?? "").split(separator: " ") {
                if let ref = CodeRef(word) { related.append(ref) } else {
                    problems.append(PluginProblem(file: "\(file):\(lineNo)", entry: "code \(code)", message: "related '\(word)' is not written kind:code"))
                }
            }
            func makeEntry(_ value: CodeValue) -> CatalogueEntry {
                CatalogueEntry(value: value, code: code, name: row["name"] ?? "", text: row["text"] ?? "", explanation: row["explanation"] ?? "",
                               action: row["action"] ?? "", verified: ["yes", "true", "verified", "y"].contains(verifiedText),
                               related: related, details: details, origin: "\(file):\(lineNo)")
            }
            // A range row: 03353001-03353FFF
            if catalogue.radix != .text, let dash = code.firstIndex(of: "-"), dash != code.startIndex,
               case let .number(low)? = catalogue.value(fromCatalogueText: String(code[..<dash])),
               case let .number(high)? = catalogue.value(fromCatalogueText: String(code[code.index(after: dash)...])) {
                catalogue.addRange(low: low, high: high, entry: makeEntry(.number(low)))
                continue
            }
            guard let value = catalogue.value(fromCatalogueText: code) else {
                problems.append(PluginProblem(file: "\(file):\(lineNo)", entry: "code '\(code)'", message: "is not a \(catalogue.radix) code"))
                continue
            }
            if !seen.insert(value).inserted {
                problems.append(PluginProblem(file: "\(file):\(lineNo)", entry: "code \(code)", message: "appears twice in this file"))
                continue
            }
            if hadExisting && catalogue.entry(value) != nil { replaced += 1 }
            catalogue.add(makeEntry(value))
        }
        if header == nil { problems.append(PluginProblem(file: file, entry: "", message: "is empty: a catalogue needs a header line and rows")) }
        return replaced
    }

    // MARK: - Samples

    static func readSample(_ node: TOMLNode, index: Int, file: String, _ problems: inout [PluginProblem]) -> PluginSample? {
        guard var t = TableReader(node, file: file, entry: "[[sample]] \(index + 1)") else { return nil }
        var expect: [String: TOMLNode] = [:]
        if case let .table(e, _)? = t.node("expect") { expect = e }
        defer { problems += t.unknownKeys(known: ["format", "text", "explain", "readings", "expect"]) }
        if let query = t.string("explain", &problems) {
            return PluginSample(kind: .explain(query: query, readings: t.strings("readings", &problems)), expect: expect, file: file, entry: "[[sample]] \(index + 1) (explain '\(query)')")
        }
        guard let format = t.string("format", &problems, required: true), let text = t.string("text", &problems, required: true) else { return nil }
        return PluginSample(kind: .lines(format: format, text: text), expect: expect, file: file, entry: "[[sample]] \(index + 1) (format \(format))")
    }
}
