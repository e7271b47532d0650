/// A distinguished name as a list of `type=value` parts, and the ways tools write it: the one
/// place that reads and writes DNs (`cert` from certificates, `doctor` from trace text, the DN
/// forms plugins define). Reading a certificate's name is `init(_: DistinguishedName)` in Diagnose.
public struct DistinguishedNameText: Sendable, Equatable {
    public struct Component: Sendable, Equatable {
        public var type: String
        public var value: String
        public init(type: String, value: String) { self.type = type; self.value = value }
    }

    /// Which way round a DN is written.
    public enum Order: String, Sendable, CaseIterable {
        /// As the certificate encodes it, the widest part first: `C=GB`, `O=...`, `CN=...`.
        case encoded
        /// The most specific part first, as RFC 4514 strings write it: `CN=...`, `O=...`, `C=GB`.
        case reversed
    }

    /// The parts in encoded order (the widest first).
    public var components: [Component]

    public init(components: [Component]) { self.components = components }

    /// A DN as traces and LDAP write it (`CN=ecec, O=cpwebuser, C=GB`): parts split at commas
    /// that are neither escaped (`\,`) nor quoted, blanks around them dropped, values kept as written.
    public init(rfc4514 text: some StringProtocol) {
        var parts: [String] = []
        var current = ""
        var escaped = false, quoted = false
        for c in text {
            if escaped { current.append(c); escaped = false; continue }
            switch c {
            case "\\": escaped = true; current.append(c)
            case "\"": quoted.toggle(); current.append(c)
            case "," where !quoted: parts.append(current); current = ""
            default: current.append(c)
            }
        }
        parts.append(current)
        components = parts.reversed().map { part in
            let trimmed = part.trimmingBlanks()
            guard let equals = trimmed.firstIndex(of: "=") else { return Component(type: "", value: trimmed) }
            return Component(type: String(trimmed[..<equals]).trimmingBlanks(), value: String(trimmed[trimmed.index(after: equals)...]).trimmingBlanks())
        }
    }

    /// The parts written `type=value` (`equals` between them) in `order`, joined by `separator`.
    public func written(order: Order, separator: String, equals: String = "=") -> String {
        let ordered = order == .encoded ? components : components.reversed()
        return ordered.map { $0.type.isEmpty ? $0.value : $0.type + equals + $0.value }.joined(separator: separator)
    }

    /// As `openssl x509 -subject` prints it: `C = GB, O = cpwebuser, CN = ecec`.
    public var openssl: String { written(order: .encoded, separator: ", ", equals: " = ") }
    /// As RFC 4514 writes it, and traces and LDAP with it: `CN=ecec,O=cpwebuser,C=GB`.
    public var rfc4514: String { written(order: .reversed, separator: ",") }

    /// Whether a text looks like a DN written out (`CN=a,O=b`): a part with `=` and a comma.
    public static func looksLikeDN(_ text: String) -> Bool { text.contains("=") && text.contains(",") }
}
