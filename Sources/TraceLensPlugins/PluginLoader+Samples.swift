/// Reading `[[sample]]` tables (checked by SampleChecker once every plugin is loaded).
extension PluginLoader {
    package static func readSample(_ node: TOMLNode, index: Int, file: String, _ problems: inout [PluginProblem]) -> PluginSample? {
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
