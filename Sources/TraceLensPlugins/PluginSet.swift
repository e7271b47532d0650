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

/// Everything the loaded plugins define, merged in load order (later overrides earlier). Made
/// by the loader from a `Builder`, then read-only: every stored property is a `let` of a
/// Sendable type, so the set is shared between threads without a lock.
public final class PluginSet: Sendable {
    public let plugins: [PluginInfo]
    public let formats: [Format]
    public let catalogues: [Catalogue]
    public let codePatterns: [CodePattern]
    public let lists: [ListDecoder]
    /// Where connections start and end in each layout, and what is captured about them.
    public let connectionRules: [ConnectionRule]
    /// Which connections of one source are the same session as connections of another.
    public let linkRules: [LinkRule]
    /// Rules whose `{secret}` field is masked in every line (`GSK_LDAP_PASSWORD={secret:word}`),
    /// or whose match announces a data dump to mask.
    public let secretRules: [SecretRule]
    /// Where layouts write values `redact` hides (`[[redact]]`: key rings, user ids, hosts).
    public let redactRules: [RedactRule]
    /// Kinds of configuration file `lint` reads, and its checks.
    public let configKinds: [ConfigKind]
    public let lintRules: [LintRule]
    /// What `doctor` says about failed connections.
    public let diagnosisRules: [DiagnosisRule]
    /// How `cert` words its checks for each product, by check id (a later plugin's entry wins).
    public let certCheckRules: [CertCheckRule]
    /// Ways products write distinguished names.
    public let dnForms: [DNForm]
    /// Which catalogue names each kind of value read from TLS bytes (`cipher`, `group`, `sig_alg`,
    /// `alert`, `version`, `extension`, `handshake`, `content`): the `[wire]` table.
    public let wireCatalogues: [String: String]
    package let catalogueIndex: [String: Int]
    package let samples: [PluginSample]

    /// The set while plugins are loaded, one after another.
    package struct Builder {
        package var plugins: [PluginInfo] = []
        package var formats: [Format] = []
        package var catalogues: [Catalogue] = []
        package var codePatterns: [CodePattern] = []
        package var lists: [ListDecoder] = []
        package var connectionRules: [ConnectionRule] = []
        package var linkRules: [LinkRule] = []
        package var secretRules: [SecretRule] = []
        package var redactRules: [RedactRule] = []
        package var configKinds: [ConfigKind] = []
        package var lintRules: [LintRule] = []
        package var diagnosisRules: [DiagnosisRule] = []
        package var certCheckRules: [CertCheckRule] = []
        package var dnForms: [DNForm] = []
        package var wireCatalogues: [String: String] = [:]
        package var catalogueIndex: [String: Int] = [:]
        package var samples: [PluginSample] = []

        package init() {}

        package func catalogue(_ id: String) -> Catalogue? { catalogueIndex[id].map { catalogues[$0] } }
    }

    package init(_ b: Builder) {
        plugins = b.plugins; formats = b.formats; catalogues = b.catalogues; codePatterns = b.codePatterns; lists = b.lists
        connectionRules = b.connectionRules; linkRules = b.linkRules; secretRules = b.secretRules; redactRules = b.redactRules; configKinds = b.configKinds
        lintRules = b.lintRules; diagnosisRules = b.diagnosisRules; certCheckRules = b.certCheckRules; dnForms = b.dnForms
        wireCatalogues = b.wireCatalogues
        catalogueIndex = b.catalogueIndex; samples = b.samples
    }

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
