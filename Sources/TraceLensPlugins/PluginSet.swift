import TraceLensRecords
import TraceLensDecode

/// Where a plugin came from.
public enum PluginOrigin: Sendable, Equatable, CustomStringConvertible {
    case builtIn
    case directory(String)

    public var description: String {
        switch self {
        case .builtIn: return "built-in"
        case let .directory(path): return path
        }
    }
}

/// What `plugins list` shows of one loaded plugin.
public struct PluginInfo: Sendable {
    public var name: String
    public var description: String
    public var origin: PluginOrigin
    public var formats: [String]
    public var catalogues: [String]
    public var codePatterns: Int
    public var connectionRules: Int
    public var linkRules: Int
    public var samples: Int
    /// Entries of earlier plugins this one replaced (`format gsktrace`, `catalogue ssl: 3 rows`).
    public var overrides: [String]
}

/// A GSK environment variable whose value is a list of fixed-width codes.
public struct ListDecoder: Sendable {
    public var variable: String
    public var width: Int
    public var catalogue: Int
}

/// A problem found while loading a plugin, naming the file, the entry and what is wrong.
public struct PluginProblem: Error, Sendable, CustomStringConvertible, Equatable {
    public var file: String
    public var entry: String
    public var message: String
    /// A warning leaves the entry loaded and `plugins check` passing (a template that may be slow);
    /// every other problem is an error.
    public var isWarning = false
    public init(file: String, entry: String, message: String, isWarning: Bool = false) {
        self.file = file; self.entry = entry; self.message = message; self.isWarning = isWarning
    }
    public var description: String {
        let text = isWarning ? "warning: " + message : message
        return entry.isEmpty ? "\(file): \(text)" : "\(file): \(entry): \(text)"
    }
}

/// Everything the loaded plugins define, merged in load order (later overrides earlier).
public final class PluginSet: @unchecked Sendable {
    public internal(set) var plugins: [PluginInfo] = []
    public internal(set) var formats: [Format] = []
    public internal(set) var catalogues: [Catalogue] = []
    public internal(set) var codePatterns: [CodePattern] = []
    public internal(set) var lists: [ListDecoder] = []
    /// Where connections start and end in each layout, and what is captured about them.
    public internal(set) var connectionRules: [ConnectionRule] = []
    /// Which connections of one source are the same session as connections of another.
    public internal(set) var linkRules: [LinkRule] = []
    /// Rules whose `{secret}` field is masked in every line (`GSK_LDAP_PASSWORD={secret:word}`),
    /// or whose match announces a data dump to mask.
    public internal(set) var secretRules: [SecretRule] = []
    /// Kinds of configuration file `lint` reads, and its checks.
    public internal(set) var configKinds: [ConfigKind] = []
    public internal(set) var lintRules: [LintRule] = []
    /// What `doctor` says about failed connections.
    public internal(set) var diagnosisRules: [DiagnosisRule] = []
    /// How `cert` words its checks for each product, by check id (a later plugin's entry wins).
    public internal(set) var certCheckRules: [CertCheckRule] = []
    /// Ways products write distinguished names.
    public internal(set) var dnForms: [DNForm] = []
    package var catalogueIndex: [String: Int] = [:]
    package var samples: [PluginSample] = []

    public func catalogue(_ id: String) -> Catalogue? { catalogueIndex[id].map { catalogues[$0] } }
    public func catalogueIndex(_ id: String) -> Int? { catalogueIndex[id] }
    public func format(named name: String) -> Format? { formats.first { $0.name == name } }
    public func certCheckRule(_ check: String) -> CertCheckRule? { certCheckRules.last { $0.check == check } }
    /// The layout a user named with `--layout`, or a message listing the known ones.
    public func forcedLayout(_ name: String?) -> Result<Format?, UnknownLayout> {
        guard let name else { return .success(nil) }
        guard let f = format(named: name) else { return .failure(UnknownLayout(name: name, known: formats.map(\.name))) }
        return .success(f)
    }

    public func connectionRule(forFormat name: String) -> ConnectionRule? { connectionRules.last { $0.formats.contains(name) } }

    public func list(forVariable name: String) -> ListDecoder? {
        let upper = name.uppercased()
        return lists.first { $0.variable == upper }
    }

    /// Looks a `kind:code` reference up: the catalogue, the parsed value and the row if present.
    public func resolve(_ ref: CodeRef) -> (catalogue: Catalogue, value: CodeValue, entry: CatalogueEntry?)? {
        guard let c = catalogue(ref.catalogue), let v = c.value(fromCatalogueText: ref.code) else { return nil }
        return (c, v, c.entry(v))
    }
}

/// `--layout NAME` names no loaded layout.
public struct UnknownLayout: Error, CustomStringConvertible {
    public var name: String
    public var known: [String]
    public var description: String { "no layout named '\(name)' (known: \(known.joined(separator: ", ")))" }
}
