import TraceLensRecords
import TraceLensDecode
import TraceLensPlugins

/// The one wording of a connection's primary error and the failure codes that came with it, so
/// summary, connections, show, doctor and `watch` verdicts say it alike:
/// `CMS 03353041: Certificate is revoked. (with TLS alert 44, SSL 431)`.
package enum PrimaryError {
    /// A code in its catalogue's label: `CMS 03353041: Certificate is revoked.`
    package static func label(_ catalogue: Catalogue, _ value: CodeValue) -> String {
        catalogue.render(catalogue.label, value: value, entry: catalogue.entry(value) ?? catalogue.rangeEntry(value))
    }

    /// The label up to the code, `SSL 431`: related codes are named, the primary one explains.
    package static func shortLabel(_ catalogue: Catalogue, _ value: CodeValue) -> String {
        guard let end = catalogue.label.range(of: "{code}") else { return label(catalogue, value) }
        return catalogue.render(String(catalogue.label[..<end.upperBound]), value: value, entry: catalogue.entry(value) ?? catalogue.rangeEntry(value))
    }

    /// The primary error's label, then the related codes' short labels in brackets.
    package static func text(_ primary: (catalogue: Catalogue, value: CodeValue), related: [(catalogue: Catalogue, value: CodeValue)]) -> String {
        withRelated(label(primary.catalogue, primary.value), related.map { shortLabel($0.catalogue, $0.value) })
    }

    /// As stored: `cms:03353041`, related references space-separated. A reference no loaded
    /// catalogue reads is shown as written.
    package static func text(_ ref: String, related: String?, plugins: PluginSet) -> String {
        let main = resolve(ref, plugins).map { label($0.catalogue, $0.value) } ?? ref
        let others = (related ?? "").split(separator: " ").map { ref -> String in
            guard let code = resolve(String(ref), plugins) else { return String(ref) }
            return shortLabel(code.catalogue, code.value)
        }
        return withRelated(main, others)
    }

    private static func withRelated(_ main: String, _ related: [String]) -> String {
        related.isEmpty ? main : main + " (with " + related.joined(separator: ", ") + ")"
    }

    private static func resolve(_ ref: String, _ plugins: PluginSet) -> (catalogue: Catalogue, value: CodeValue)? {
        guard let r = CodeRef(Substring(ref)), let (catalogue, value, _) = plugins.resolve(r) else { return nil }
        return (catalogue, value)
    }
}
