import Foundation
import TOMLKit

/// The files of one plugin folder: `plugin.toml` plus the catalogues it names.
public struct PluginSource: Sendable {
    public var name: String
    public var origin: PluginOrigin
    /// File texts keyed by path relative to the plugin folder.
    public var files: [String: String]
    /// Files refused while reading the folder (a link that leads outside it), reported on load.
    public var problems: [PluginProblem] = []

    public init(name: String, origin: PluginOrigin, files: [String: String]) {
        self.name = name; self.origin = origin; self.files = files
    }

    package func displayPath(_ file: String) -> String {
        switch origin {
        case .builtIn: return "Plugins/\(name)/\(file)"
        case let .directory(dir): return (dir as NSString).appendingPathComponent(file)
        }
    }
}

/// A sample from a plugin, checked when the plugin loads.
package struct PluginSample: Sendable {
    package enum Kind: Sendable {
        case lines(format: String, text: String)
        case explain(query: String, readings: [String])
    }
    package var kind: Kind
    package var expect: [String: TOMLNode]
    package var file: String
    package var entry: String
}

/// Loads plugin folders into a `PluginSet`: built-ins first, then user folders, each entry of a
/// later plugin replacing an entry of the same key (format name, catalogue id and code, ...).
public enum PluginLoader {
    package static let manifest = "plugin.toml"

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

    package static func source(at dir: String) throws -> PluginSource {
        var files: [String: String] = [:]
        var refused: [PluginProblem] = []
        let fm = FileManager.default
        let root = URL(fileURLWithPath: dir).standardizedFileURL.path
        // Plugin files must stay inside the plugin folder: every file is followed through its
        // links to where it really is (the folder itself may be a link; that is fine).
        let realRoot = resolvedPath(root) ?? root
        if let walker = fm.enumerator(atPath: realRoot) {
            for case let rel as String in walker {
                let full = (realRoot as NSString).appendingPathComponent(rel)
                var isDir: ObjCBool = false
                guard fm.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue, !rel.hasPrefix(".") else { continue }
                guard rel == manifest || rel.hasSuffix(".tsv") || rel.hasSuffix(".toml") else { continue }
                guard let real = resolvedPath(full), real.hasPrefix(realRoot.hasSuffix("/") ? realRoot : realRoot + "/") else {
                    let target = resolvedPath(full) ?? "an unreadable place"
                    refused.append(PluginProblem(file: (root as NSString).appendingPathComponent(rel), entry: "",
                                                 message: "is a link to \(target), outside the plugin folder \(realRoot); not loaded (copy the file into the folder)"))
                    continue
                }
                guard let data = fm.contents(atPath: real), let text = String(data: data, encoding: .utf8) else {
                    throw PluginProblem(file: full, entry: "", message: "cannot be read as UTF-8 text")
                }
                files[rel] = text
            }
        }
        let name = (root as NSString).lastPathComponent
        var source = PluginSource(name: name, origin: .directory(root), files: files)
        source.problems = refused
        return source
    }

    /// The path with every link followed (realpath), or nil when it cannot be resolved.
    package static func resolvedPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
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

    /// Warnings about the layout templates of a checked plugin (see `Template.warnings`).
    package static func templateWarnings(_ info: PluginInfo, in set: PluginSet, sources: [PluginSource]) -> [PluginProblem] {
        let file = sources.first { $0.origin == info.origin }?.displayPath(manifest) ?? info.name
        var out: [PluginProblem] = []
        for format in set.formats where format.plugin == info.name {
            let rules = format.records.map { ("record", $0) } + format.continuations.map { ("continuation", $0.rule) }
                + format.contexts.map { ("context", $0) } + format.headers.map { ("header", $0) }
            for (role, rule) in rules {
                for w in rule.template.warnings {
                    out.append(PluginProblem(file: file, entry: "[[format]] \(format.name), \(role) '\(rule.template.source)'", message: w, isWarning: true))
                }
            }
        }
        return out
    }

    /// Loads plugins in order. Entries that refer to other plugins (code patterns, lists,
    /// related codes) are resolved once every plugin is in; then every sample is run.
    public static func load(_ sources: [PluginSource]) -> (PluginSet, [PluginProblem]) {
        var set = PluginSet.Builder()
        var problems: [PluginProblem] = []
        var pendingCodes: [PendingCode] = []
        var pendingLists: [PendingList] = []

        for source in sources {
            problems += source.problems
            let file = source.displayPath(manifest)
            guard let root = parseManifest(source, file: file, &problems), var top = TableReader(root, file: file, entry: "") else { continue }
            var info = readPluginTable(&top, source: source, file: file, &problems)
            for (i, node) in top.tables("format", &problems).enumerated() {
                guard let format = readFormat(node, index: i, plugin: info.name, file: file, &problems) else { continue }
                if let old = set.formats.firstIndex(where: { $0.name == format.name }) {
                    set.formats[old] = format
                    info.overrides.append("format \(format.name)")
                } else {
                    set.formats.append(format)
                }
                info.formats.append(format.name)
            }
            for (i, node) in top.tables("catalogue", &problems).enumerated() {
                if let id = readCatalogue(node, index: i, source: source, file: file, into: &set, info: &info, &problems) {
                    info.catalogues.append(id)
                }
            }
            for (i, node) in top.tables("code", &problems).enumerated() {
                if let code = readCode(node, index: i, file: file, &problems) { pendingCodes.append(code); info.codePatterns += 1 }
            }
            for (i, node) in top.tables("list", &problems).enumerated() {
                if let list = readList(node, index: i, file: file, &problems) { pendingLists.append(list) }
            }
            for (i, node) in top.tables("secret", &problems).enumerated() {
                if let secret = readSecret(node, index: i, file: file, &problems) {
                    set.secretRules.removeAll { $0.template.source == secret.template.source }
                    set.secretRules.append(secret)
                }
            }
            for (i, node) in top.tables("redact", &problems).enumerated() {
                if let rule = readRedact(node, index: i, file: file, &problems) {
                    set.redactRules.removeAll { $0.template.source == rule.template.source }
                    set.redactRules.append(rule)
                }
            }
            for (i, node) in top.tables("connection", &problems).enumerated() {
                guard let rule = readConnectionRule(node, index: i, plugin: info.name, file: file, &problems) else { continue }
                set.connectionRules.removeAll { $0.name == rule.name }
                set.connectionRules.append(rule)
                info.connectionRules += 1
            }
            if let node = top.node("wire") {
                if case let .table(map, _) = node {
                    for (kind, value) in map {
                        if case let .string(id) = value { set.wireCatalogues[kind] = id } else {
                            problems.append(PluginProblem(file: file, entry: "[wire]", message: "\(kind) must name a catalogue"))
                        }
                    }
                } else {
                    problems.append(PluginProblem(file: file, entry: "[wire]", message: "must be a table of value kind = \"catalogue\""))
                }
            }
            for (i, node) in top.tables("link", &problems).enumerated() {
                guard let rule = readLinkRule(node, index: i, plugin: info.name, file: file, &problems) else { continue }
                set.linkRules.removeAll { $0.name == rule.name }
                set.linkRules.append(rule)
                info.linkRules += 1
            }
            for (i, node) in top.tables("config", &problems).enumerated() {
                guard let kind = readConfigKind(node, index: i, plugin: info.name, file: file, &problems) else { continue }
                set.configKinds.removeAll { $0.name == kind.name }
                set.configKinds.append(kind)
            }
            for (i, node) in top.tables("lint", &problems).enumerated() {
                guard let rule = readLintRule(node, index: i, plugin: info.name, file: file, &problems) else { continue }
                set.lintRules.removeAll { $0.id == rule.id }
                set.lintRules.append(rule)
            }
            for (i, node) in top.tables("diagnosis", &problems).enumerated() {
                guard let rule = readDiagnosisRule(node, index: i, plugin: info.name, file: file, &problems) else { continue }
                set.diagnosisRules.removeAll { $0.id == rule.id }
                set.diagnosisRules.append(rule)
            }
            readEntries("cert-check", of: &top, into: &set.certCheckRules, sameAs: { $0.check == $1.check }, &problems) {
                readCertCheckRule($0, index: $1, plugin: info.name, file: file, &$2)
            }
            readEntries("dn-form", of: &top, into: &set.dnForms, sameAs: { $0.id == $1.id }, &problems) {
                readDNForm($0, index: $1, plugin: info.name, file: file, &$2)
            }
            for (i, node) in top.tables("sample", &problems).enumerated() {
                if let sample = readSample(node, index: i, file: file, &problems) {
                    set.samples.append(sample)
                    info.samples += 1
                }
            }
            problems += top.unknownKeys(known: ["plugin", "format", "catalogue", "code", "list", "secret", "redact", "connection", "link", "config", "lint", "diagnosis", "cert-check", "dn-form", "sample", "wire"])
            if let old = set.plugins.firstIndex(where: { $0.name == info.name }) { set.plugins.remove(at: old) }
            set.plugins.append(info)
        }

        for code in pendingCodes {
            guard let pattern = resolve(code, in: set, &problems) else { continue }
            // A later plugin's pattern replaces an earlier one for the same layouts only: the
            // payroll example's `rc=` must not take the LDAP debug trace's `rc=` away.
            set.codePatterns.removeAll { $0.template.source == pattern.template.source && $0.formats == pattern.formats }
            set.codePatterns.append(pattern)
        }
        for list in pendingLists {
            guard let index = set.catalogueIndex[list.catalogue] else {
                problems.append(PluginProblem(file: list.file, entry: list.entry, message: "names catalogue '\(list.catalogue)', which no plugin defines"))
                continue
            }
            set.lists.removeAll { $0.variable == list.variable }
            set.lists.append(ListDecoder(variable: list.variable, width: list.width, catalogue: index))
        }
        let plugins = PluginSet(set)
        problems += checkReferences(plugins)
        return (plugins, problems)
    }

    package static func parseManifest(_ source: PluginSource, file: String, _ problems: inout [PluginProblem]) -> TOMLNode? {
        guard let text = source.files[manifest] else {
            problems.append(PluginProblem(file: file, entry: "", message: "missing"))
            return nil
        }
        do { return try TOMLNode.parse(text) } catch let e as TOMLParseError {
            problems.append(PluginProblem(file: file, entry: "line \(e.source.begin.line), column \(e.source.begin.column)", message: "not valid TOML: \(e.description)"))
        } catch {
            problems.append(PluginProblem(file: file, entry: "", message: "not valid TOML: \(error)"))
        }
        return nil
    }

    package static func readPluginTable(_ top: inout TableReader, source: PluginSource, file: String, _ problems: inout [PluginProblem]) -> PluginInfo {
        var info = PluginInfo(name: source.name, description: "", origin: source.origin, formats: [], catalogues: [], codePatterns: 0, connectionRules: 0, linkRules: 0, samples: 0, overrides: [])
        guard var meta = TableReader(top.node("plugin"), file: file, entry: "[plugin]") else {
            problems.append(PluginProblem(file: file, entry: "", message: "a [plugin] table with name and description is required"))
            return info
        }
        info.name = meta.string("name", &problems) ?? source.name
        info.description = meta.string("description", &problems) ?? ""
        _ = meta.string("version", &problems)
        problems += meta.unknownKeys(known: ["name", "description", "version"])
        return info
    }

    /// Every related code a catalogue row names must exist; every format needs a sample.
    package static func checkReferences(_ set: PluginSet) -> [PluginProblem] {
        var problems: [PluginProblem] = []
        for catalogue in set.catalogues {
            for entry in catalogue.entries.values {
                for ref in entry.related where set.resolve(ref) == nil {
                    problems.append(PluginProblem(file: entry.origin, entry: "code \(entry.code)", message: "related code '\(ref)' is in no catalogue"))
                }
            }
        }
        for rule in set.connectionRules {
            let tested = set.samples.contains { sample in
                if case let .lines(format, _) = sample.kind, rule.formats.contains(format), sample.expect["connections"] != nil { return true }
                return false
            }
            if !tested {
                problems.append(PluginProblem(file: "plugin \(rule.plugin)", entry: "[[connection]] \(rule.name)", message: "has no [[sample]] with expect.connections; every connection rule needs one"))
            }
            for id in rule.consequences where set.catalogue(id) == nil {
                problems.append(PluginProblem(file: "plugin \(rule.plugin)", entry: "[[connection]] \(rule.name)", message: "consequences names catalogue '\(id)', which no plugin defines"))
            }
            for (field, id) in rule.decode where set.catalogue(id) == nil {
                problems.append(PluginProblem(file: "plugin \(rule.plugin)", entry: "[[connection]] \(rule.name)", message: "decode.\(field) names catalogue '\(id)', which no plugin defines"))
            }
            for name in rule.formats where set.format(named: name) == nil {
                problems.append(PluginProblem(file: "plugin \(rule.plugin)", entry: "[[connection]] \(rule.name)", message: "names layout '\(name)', which no plugin defines"))
            }
        }
        for link in set.linkRules {
            for name in [link.from, link.to] where !set.connectionRules.contains(where: { $0.name == name }) {
                problems.append(PluginProblem(file: "plugin \(link.plugin)", entry: "[[link]] \(link.name)", message: "names connection rule '\(name)', which no plugin defines"))
            }
            for (rule, layouts) in [(link.from, link.fromFormats), (link.to, link.toFormats)] {
                guard let formats = set.connectionRules.first(where: { $0.name == rule })?.formats else { continue }
                for layout in layouts where !formats.isEmpty && !formats.contains(layout) {
                    problems.append(PluginProblem(file: "plugin \(link.plugin)", entry: "[[link]] \(link.name)", message: "names layout '\(layout)', which connection rule '\(rule)' does not read"))
                }
            }
            for id in link.codes where set.catalogue(id) == nil {
                problems.append(PluginProblem(file: "plugin \(link.plugin)", entry: "[[link]] \(link.name)", message: "codes names catalogue '\(id)', which no plugin defines"))
            }
        }
        for (kind, id) in set.wireCatalogues.sorted(by: { $0.key < $1.key }) where set.catalogue(id) == nil {
            problems.append(PluginProblem(file: "plugins", entry: "[wire]", message: "\(kind) names catalogue '\(id)', which no plugin defines"))
        }
        for kind in set.configKinds where set.catalogue(kind.keywords) == nil {
            problems.append(PluginProblem(file: "plugin \(kind.plugin)", entry: "[[config]] \(kind.name)", message: "keywords names catalogue '\(kind.keywords)', which no plugin defines"))
        }
        for rule in set.lintRules {
            let entry = "[[lint]] \(rule.id)"
            if !set.configKinds.contains(where: { $0.name == rule.config }) {
                problems.append(PluginProblem(file: "plugin \(rule.plugin)", entry: entry, message: "config names '\(rule.config)', which no [[config]] defines"))
            }
            // Every rule shows a file that triggers it and one that does not (CheckedPlugins runs them).
            if rule.bad == nil || rule.good == nil {
                problems.append(PluginProblem(file: "plugin \(rule.plugin)", entry: entry, message: "needs bad and good: a sample that must trigger it and one that must not"))
            }
        }
        for rule in set.diagnosisRules {
            let entry = "[[diagnosis]] \(rule.id)"
            for name in rule.from where !set.connectionRules.contains(where: { $0.name == name }) {
                problems.append(PluginProblem(file: "plugin \(rule.plugin)", entry: entry, message: "from names '\(name)', which is no connection rule"))
            }
            for ref in rule.when where ref.isWildcard ? set.catalogue(ref.catalogue) == nil : set.resolve(ref) == nil {
                problems.append(PluginProblem(file: "plugin \(rule.plugin)", entry: entry, message: "when names '\(ref)', which is in no catalogue"))
            }
            if set.format(named: rule.sampleLayout) == nil {
                problems.append(PluginProblem(file: "plugin \(rule.plugin)", entry: entry, message: "sample-layout names '\(rule.sampleLayout)', which no plugin defines"))
            }
            for c in rule.compares where c.switches.isEmpty && !c.allowed.contains(where: { $0.hasPrefix("tls.") }) && !set.lists.contains(where: { $0.variable == c.list }) {
                problems.append(PluginProblem(file: "plugin \(rule.plugin)", entry: entry, message: "compare \(c.name): list names '\(c.list)', which no [[list]] defines"))
            }
        }
        problems += checkCertCheckReferences(set)
        for format in set.formats where !set.samples.contains(where: { if case .lines(format.name, _) = $0.kind { return true } else { return false } }) {
            problems.append(PluginProblem(file: "plugin \(format.plugin)", entry: "[[format]] \(format.name)", message: "has no [[sample]]; every format needs at least one"))
        }
        return problems
    }
}
