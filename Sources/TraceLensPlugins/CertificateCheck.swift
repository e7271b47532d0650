import TraceLensDecode

/// One check `tracelens cert` makes, in plain X.509 terms (the contract between the checks in
/// Diagnose and the plugins that word them): its stable id, how serious a hit is,
/// the values a hit carries (dates, serials, names) and a generic sentence. Plugins word it for
/// their product with a `[[cert-check]]` entry naming the id; without one this sentence is shown.
public struct CertificateCheck: Sendable {
    public let id: String
    public let severity: Severity
    /// The values a hit fills in, by the `{name}` a message template uses.
    public let values: [String]
    public let message: String
    public let action: String?

    /// Values every certificate check carries.
    package static let certificateValues = ["subject", "issuer", "serial", "not_before", "not_after", "algorithm", "key"]
    /// Values every CRL check carries.
    package static let crlValues = ["issuer", "this_update", "next_update"]

    package init(_ id: String, _ severity: Severity, values: [String], _ message: String, action: String? = nil) {
        self.id = id; self.severity = severity; self.values = values; self.message = message; self.action = action
    }

    public static let all: [CertificateCheck] = [
        .init("expired", .error, values: certificateValues, "expired on {not_after}"),
        .init("not-yet-valid", .error, values: certificateValues, "not valid before {not_before}: check the clocks"),
        .init("expires-soon", .warning, values: certificateValues + ["days"], "expires on {not_after}, in {days} days"),
        .init("ca-without-keycertsign", .error, values: certificateValues,
              "a CA whose key usage lacks keyCertSign: certificates it signs are not accepted"),
        .init("ca-without-crlsign", .error, values: certificateValues, "a CA whose key usage lacks cRLSign: CRLs it signs may be refused",
              action: "recreate it with keyUsage = critical, keyCertSign, digitalSignature, cRLSign"),
        .init("ca-without-key-usage", .warning, values: certificateValues,
              "a CA without a key usage extension: give it keyCertSign and cRLSign explicitly"),
        .init("ca-without-ski", .warning, values: certificateValues,
              "a CA without subjectKeyIdentifier: the certificates it signs cannot carry a matching authorityKeyIdentifier (openssl: subjectKeyIdentifier=hash)"),
        .init("no-authority-key-identifier", .error, values: certificateValues, "no authorityKeyIdentifier: TLS 1.3 peers may refuse it",
              action: "issue it again with authorityKeyIdentifier=keyid:always,issuer:always"),
        .init("no-digital-signature", .error, values: certificateValues,
              "key usage without digitalSignature: it cannot sign a TLS handshake (ECDHE ciphers, TLS 1.3, client authentication)"),
        .init("no-key-encipherment", .info, values: certificateValues,
              "an RSA key without keyEncipherment: RSA key exchange ciphers (TLS_RSA_WITH_*) cannot use it; ECDHE ones can"),
        .init("no-tls-extended-key-usage", .warning, values: certificateValues,
              "its extended key usage names neither serverAuth nor clientAuth: TLS peers may refuse it"),
        .init("signature-pair", .info, values: certificateValues + ["oid", "pair", "pair_name"],
              "its signature ({algorithm}) is TLS signature scheme {pair} ({pair_name}): the side that checks it must allow that scheme"),
        .init("crl-out-of-date", .warning, values: crlValues,
              "its next update ({next_update}) has passed: generate and publish a new CRL; a stale one may be refused"),
        .init("revoked", .error, values: ["serial", "issuer", "date", "reason"],
              "revoked: serial {serial} is on the CRL of {issuer}[ (reason {reason})]"),
        .init("not-revoked", .info, values: ["serial", "issuer"], "not on the CRL of {issuer}"),
    ]

    package static let byID: [String: CertificateCheck] = Dictionary(all.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })

    /// The `{name}` placeholders of a message template (the `[...]` around optional parts aside).
    package static func placeholders(_ template: String) -> [String] {
        var names: [String] = []
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            names.append(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return names
    }
}
