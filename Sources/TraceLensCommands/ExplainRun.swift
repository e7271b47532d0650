import TraceLensInput
import TraceLensDecode
import TraceLensPlugins
import TraceLensRender

/// What the user asked `explain` for.
public struct ExplainRequest: Sendable {
    public var codes: [String] = []
    public var kind: String?
    public var long = false
    public var json = false
    public var search: String?
    public init() {}
}

/// The outcome of `explain`: what to print, what to warn about, and the exit status
/// (1 when a code had no reading or a search found nothing).
public struct ExplainResult: Sendable {
    public var output: [String] = []
    public var warnings: [String] = []
    public var status: Int32 = 0
}

/// `tracelens explain`: groups the arguments into queries, looks each up (or decodes a list
/// variable), and renders text or JSON.
public struct ExplainRun {
    public let plugins: PluginSet
    package let explainer: Explainer
    /// A query may be a line pasted with its password (`GSK_KEYRING_PW=...`): echo it masked.
    package let masker: SecretMasker

    public init(plugins: PluginSet) {
        self.plugins = plugins
        explainer = Explainer(plugins: plugins)
        masker = SecretMasker(plugins: plugins)
    }

    /// Joins words the user typed apart: `alert 42` and `key type 13` become one query when the
    /// joined words have a reading (longest first); anything else stands alone.
    public func queries(_ words: [String], kind: String? = nil) -> [String] {
        var out: [String] = []
        var i = 0
        while i < words.count {
            var taken = 1
            for n in stride(from: min(3, words.count - i), through: 2, by: -1) {
                let group = words[i..<(i + n)]
                guard !group.contains(where: { $0.contains("=") }) else { continue }
                if !explainer.readings(group.joined(separator: " "), kind: kind).isEmpty { taken = n; break }
            }
            out.append(words[i..<(i + taken)].joined(separator: " "))
            i += taken
        }
        return out
    }

    public func run(_ request: ExplainRequest) -> ExplainResult {
        var result = ExplainResult()
        let presenter = ExplainPresenter(plugins: plugins, long: request.long)
        var jsonItems: [JSON.Value] = []
        if let search = request.search.map(masker.masked) {
            let found = explainer.search(search, kind: request.kind)
            if request.json {
                jsonItems.append(.object([("search", .string(search)), ("readings", .array(found.map(presenter.jsonValue)))]))
            } else if found.isEmpty {
                result.warnings.append("nothing matches '\(search)'")
                result.status = 1
            } else {
                result.output += found.map(presenter.text)
            }
        }
        let queries = self.queries(request.codes, kind: request.kind)
        for query in queries {
            let shown = masker.masked(query)
            if let list = explainer.decodeList(query) {
                if request.json { jsonItems.append(listJSON(list, presenter)) } else { result.output += listText(list) }
                if let p = list.problem { result.warnings.append("\(list.decoder.variable): \(p)") }
                continue
            }
            if !request.json, let flags = explainer.decodeFlags(query, kind: request.kind) {
                let names = flags.bits.compactMap { $0.entry?.name }.joined(separator: "+")
                // Debug levels count levels; other bit masks (a verify status) count bits.
                let unit = flags.catalogue.title.lowercased().hasSuffix("level") ? "level" : "bit"
                result.output.append("\(flags.catalogue.title) \(shown) = \(flags.value) (x\(String(flags.value, radix: 16, uppercase: true))): \(flags.bits.count) \(unit)\(flags.bits.count == 1 ? "" : "s") \(names)")
                result.output += flags.bits.map { "  " + presenter.text($0) }
                continue
            }
            // NAME=VALUE of a variable that is not a list: explain the variable.
            let q = query.firstIndex(of: "=").map { String(query[..<$0]) } ?? query
            let readings = explainer.readings(q, kind: request.kind)
            if request.json {
                jsonItems.append(.object([("query", .string(shown)), ("readings", .array(readings.map(presenter.jsonValue)))]))
                continue
            }
            if readings.isEmpty {
                result.warnings.append("'\(shown)': no catalogue knows this code" + (request.kind.map { " as a \($0)" } ?? "") + " (try --search WORDS)")
                result.status = 1
                continue
            }
            let grouped = queries.count > 1 || readings.count > 1
            if grouped { result.output.append("\(shown):" + (readings.count > 1 ? " \(readings.count) readings" : "")) }
            result.output += readings.map { (grouped ? "  " : "") + presenter.text($0) }
        }
        if request.json && !jsonItems.isEmpty {
            result.output.append((jsonItems.count == 1 ? jsonItems[0] : .array(jsonItems)).text)
        }
        return result
    }

    package typealias DecodedList = (decoder: ListDecoder, elements: [(text: String, reading: Reading?)], problem: String?)

    package func listText(_ list: DecodedList) -> [String] {
        let c = plugins.catalogues[list.decoder.catalogue]
        var lines = ["\(list.decoder.variable): \(list.elements.count) \(c.title.lowercased()) entries, in order of preference"]
        let width = list.elements.map(\.text.count).max() ?? 4
        for (n, el) in list.elements.enumerated() {
            let desc: String
            if let r = el.reading, let e = r.entry, !r.fromRange {
                desc = (e.name.isEmpty ? e.text : e.name)
                    + (e.details.first { $0.column == "tls_versions" }.map { "  (\($0.value))" } ?? "")
                    + (e.verified ? "" : " [unverified]")
            } else {
                desc = "not in the \(c.title.lowercased()) catalogue"
            }
            let number = String(n + 1)
            lines.append(String(repeating: " ", count: max(0, 3 - number.count)) + number + "  "
                         + el.text.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + desc)
        }
        return lines
    }

    package func listJSON(_ list: DecodedList, _ presenter: ExplainPresenter) -> JSON.Value {
        let items = list.elements.map { el in el.reading.map(presenter.jsonValue) ?? .object([("code", .string(el.text)), ("unknown", .bool(true))]) }
        var fields: [(key: String, value: JSON.Value)] = [("variable", .string(list.decoder.variable)), ("elements", .array(items))]
        if let problem = list.problem { fields.append(("problem", .string(problem))) }
        return .object(fields)
    }
}
