import TraceLensInput
import TraceLensPlugins

/// Shows `explain` results: one line per reading by default, the explanation, action, related
/// codes and extra columns with `long`, or JSON.
public struct ExplainPresenter {
    public let plugins: PluginSet
    public let long: Bool

    public init(plugins: PluginSet, long: Bool) { self.plugins = plugins; self.long = long }

    public func line(_ r: Reading) -> String {
        let c = r.catalogue
        var s = "\(c.title) \(c.display(r.value))"
        if let alt = c.alternate(r.value) { s += " (\(alt))" }
        s += ": "
        guard let e = r.entry else { return s + "not in the catalogue" }
        if r.fromRange { return s + "not listed one by one; " + (e.text.isEmpty ? "within the range \(e.code)" : e.text + " (range \(e.code))") }
        // A name that only repeats the code as shown (`GSK_TRACE`) is not said twice.
        let name = e.name == c.display(r.value) ? "" : e.name
        if !name.isEmpty && !e.text.isEmpty && name != e.text { s += "\(name) - \(e.text)" } else { s += e.text.isEmpty ? name : e.text }
        if !e.verified { s += " [unverified]" }
        return s
    }

    public func text(_ r: Reading) -> String {
        var out = line(r)
        guard long, let e = r.entry else { return out }
        func add(_ label: String, _ value: String) {
            guard !value.isEmpty else { return }
            out += "\n    \(label): \(value)"
        }
        add("Explanation", e.explanation)
        add("Action", e.action)
        for (column, value) in e.details {
            add(column.replacingOccurrences(of: "_", with: " ").capitalizedFirst, value)
        }
        for ref in e.related {
            if let (c, v, entry) = plugins.resolve(ref) {
                add("Related", "\(c.title) \(c.display(v)): \(entry.map { $0.text.isEmpty ? $0.name : $0.text } ?? "?")")
            }
        }
        if e.verified {
            add("Checked against", e.source)
        } else {
            add("Based on", e.source)
            add("Not confirmed", "no published page confirming this code and its text was found; treat the text as likely and check the vendor's documentation for your release")
        }
        add("Defined in", e.origin)
        return out
    }

    public func json(_ r: Reading) -> String { jsonValue(r).text }

    /// One reading as a JSON object, its keys in the order `explain --json` has always had.
    public func jsonValue(_ r: Reading) -> JSON.Value {
        let c = r.catalogue
        var fields: [(key: String, value: JSON.Value)] = [("kind", .string(c.id)), ("title", .string(c.title)), ("code", .string(c.display(r.value)))]
        if case let .number(n) = r.value {
            fields.append(("decimal", .int(Int(n))))
            if n >= 0 { fields.append(("hex", .string("0x" + String(n, radix: 16, uppercase: true)))) }
        }
        if let e = r.entry {
            fields += [
                ("name", .string(e.name)), ("text", .string(e.text)), ("explanation", .string(e.explanation)),
                ("action", .string(e.action)), ("verified", .bool(e.verified)), ("source", .string(e.source)), ("range", .bool(r.fromRange)),
                ("related", .array(e.related.map { .string($0.description) })),
                ("details", .object(e.details.map { (key: $0.column, value: .string($0.value)) })),
            ]
        }
        return .object(fields)
    }
}

extension String {
    package var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
}
