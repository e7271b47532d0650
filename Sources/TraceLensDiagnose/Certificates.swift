import Foundation
import SwiftASN1
import X509
import TraceLensInput
import TraceLensDecode
import TraceLensPlugins

/// `tracelens cert`: what a certificate, a chain or a CRL holds, checked in plain X.509 terms (a CA
/// that can sign CRLs, key identifiers, key usage, dates, revocation). Each check that fires is a
/// `CertificateCheck` with its values; plugins word it for their product, name the codes the
/// product reports for it (`[[cert-check]]`), add the DN forms the product wants (`[[dn-form]]`)
/// and map signature algorithms to TLS signature scheme codes (a catalogue's `x509_oid` column).
public struct CertificateReport: Sendable {
    public struct Finding: Sendable, Equatable {
        /// A code the product reports for this problem, and its decoded label.
        public struct Code: Sendable, Equatable {
            public var ref: String
            public var label: String
        }
        public var severity: Severity
        public var check: String
        public var message: String
        public var action: String? = nil
        public var codes: [Code] = []
    }
    public struct Item: Sendable {
        public var kind: String        // "CA certificate", "certificate", "CRL"
        public var lines: [(String, String)]
        public var findings: [Finding]
        /// For CRL membership: issuer (RFC 4514) and serial (hex).
        public var issuer: String
        public var serial: String?
        public var revoked: [(serial: String, date: Date, reason: String?)] = []
    }
    public var path: String
    public var items: [Item]
}

public struct CertificateInspector {
    public let plugins: PluginSet
    public var now: Date
    public init(plugins: PluginSet, now: Date = Date()) { self.plugins = plugins; self.now = now }

    public enum Problem: Error, CustomStringConvertible {
        case unreadable(String, String)
        public var description: String {
            switch self { case let .unreadable(path, why): return "\(path): \(why)" }
        }
    }

    /// The DER blocks of a file: PEM blocks (CERTIFICATE, X509 CRL) in order, or the file as DER.
    package static func blocks(_ data: [UInt8]) -> [(label: String?, der: [UInt8])] {
        let text = String(decoding: data, as: UTF8.self)
        guard text.contains("-----BEGIN ") else { return [(nil, data)] }
        var out: [(String?, [UInt8])] = []
        var label: String?
        var body = ""
        for line in text.split(whereSeparator: \.isNewline) {
            if line.hasPrefix("-----BEGIN ") { label = String(line.dropFirst(11).dropLast(5)); body = ""; continue }
            if line.hasPrefix("-----END ") {
                if let l = label, let bytes = Data(base64Encoded: body) { out.append((l, Array(bytes))) }
                label = nil
                continue
            }
            if label != nil { body += line.trimmingCharacters(in: .whitespaces) }
        }
        return out
    }

    public func inspect(path: String) throws -> CertificateReport {
        guard let data = FileManager.default.contents(atPath: path) else { throw Problem.unreadable(path, "cannot read it") }
        var items: [CertificateReport.Item] = []
        let blocks = Self.blocks(Array(data))
        if blocks.isEmpty { throw Problem.unreadable(path, "no PEM block in it") }
        for block in blocks {
            if block.label == "X509 CRL" {
                items.append(try crl(block.der, path))
            } else if block.label == nil || block.label == "CERTIFICATE" || block.label == "TRUSTED CERTIFICATE" {
                do {
                    items.append(certificate(try Certificate(derEncoded: block.der), der: block.der))
                } catch let certificateError {
                    if block.label == nil, let list = try? crl(block.der, path) {
                        items.append(list)
                    } else if block.label != nil || Self.looksLikeCertificate(block.der) {
                        // A certificate the X.509 library refuses: say why (an RSA key under
                        // 2048 bits is one such case).
                        let why = "\(certificateError)".contains("incorrectParameterSize")
                            ? "its RSA key is shorter than 2048 bits (too short to be safe; issue a new one of 2048 or more)" : "\(certificateError)"
                        throw Problem.unreadable(path, "an X.509 certificate that cannot be used: \(why)")
                    } else {
                        throw Problem.unreadable(path, "not an X.509 certificate or CRL (PEM or DER)")
                    }
                }
            }
        }
        if items.isEmpty { throw Problem.unreadable(path, "no certificate or CRL in it (PEM blocks: \(blocks.compactMap(\.label).joined(separator: ", ")))") }
        return CertificateReport(path: path, items: items)
    }

    /// A DER SEQUENCE of three whose first element is a SEQUENCE starting with the [0] version tag.
    package static func looksLikeCertificate(_ der: [UInt8]) -> Bool {
        guard let root = try? DER.parse(der), case let .constructed(top) = root.content, let tbs = top.first(where: { _ in true }),
              case let .constructed(fields) = tbs.content, let first = fields.first(where: { _ in true }) else { return false }
        return first.identifier.tagClass == .contextSpecific && Array(top).count == 3
    }

    package static func hex(_ bytes: some Collection<UInt8>) -> String {
        var s = bytes.map { String(format: "%02X", $0) }.joined()
        while s.hasPrefix("00") && s.count > 2 { s.removeFirst(2) }
        return s
    }

    /// The name openssl prints for a signature algorithm.
    package static func name(_ alg: Certificate.SignatureAlgorithm) -> String {
        switch alg {
        case .ecdsaWithSHA256: return "ecdsa-with-SHA256"
        case .ecdsaWithSHA384: return "ecdsa-with-SHA384"
        case .ecdsaWithSHA512: return "ecdsa-with-SHA512"
        case .sha1WithRSAEncryption: return "sha1WithRSAEncryption"
        case .sha256WithRSAEncryption: return "sha256WithRSAEncryption"
        case .sha384WithRSAEncryption: return "sha384WithRSAEncryption"
        case .sha512WithRSAEncryption: return "sha512WithRSAEncryption"
        case .ed25519: return "ED25519"
        default: return String(describing: alg).replacingOccurrences(of: "SignatureAlgorithm.", with: "")
        }
    }

    /// The catalogue column that names, per signature scheme row, the X.509 signature algorithm
    /// OID it stands for.
    package static let signatureOIDColumn = "x509_oid"

    /// The OID of the signature algorithm in a certificate's DER (`signatureAlgorithm`, the second
    /// element of the outer SEQUENCE).
    package static func signatureAlgorithmOID(_ der: [UInt8]) -> String? {
        guard let root = try? DER.parse(der), case let .constructed(top) = root.content else { return nil }
        let parts = Array(top)
        guard parts.count == 3, case let .constructed(algorithm) = parts[1].content, let first = algorithm.first(where: { _ in true }),
              let oid = try? ASN1ObjectIdentifier(derEncoded: first) else { return nil }
        return String(describing: oid)
    }

    /// The signature scheme row (of any catalogue with an `x509_oid` column) for a signature
    /// algorithm OID.
    package func signatureScheme(oid: String) -> (catalogue: Catalogue, entry: CatalogueEntry)? {
        for catalogue in plugins.catalogues {
            for entry in catalogue.entries.values.sorted(by: { $0.value < $1.value })
            where entry.details.contains(where: { $0.column == Self.signatureOIDColumn && $0.value == oid }) {
                return (catalogue, entry)
            }
        }
        return nil
    }

    /// A check's finding worded by the plugin entry for it, or generically when there is none.
    package func finding(_ id: String, _ values: [String: String]) -> CertificateReport.Finding {
        guard let check = CertificateCheck.byID[id] else { preconditionFailure("cert check '\(id)' is not in CertificateCheck.all") }
        let rule = plugins.certCheckRule(id)
        let codes = (rule?.codes ?? []).compactMap { ref -> CertificateReport.Finding.Code? in
            guard let r = plugins.resolve(ref) else { return nil }
            return .init(ref: "\(r.catalogue.id):\(r.catalogue.display(r.value))", label: String(decoding: r.catalogue.labelBytes(r.value), as: UTF8.self))
        }
        return .init(severity: rule?.severity ?? check.severity, check: id, message: Doctor.fill(rule?.message ?? check.message, values),
                     action: (rule?.action ?? check.action).map { Doctor.fill($0, values) }, codes: codes)
    }

    package func certificate(_ cert: Certificate, der: [UInt8]) -> CertificateReport.Item {
        let ext = cert.extensions
        let basic = try? ext.basicConstraints
        var isCA = false
        if case .isCertificateAuthority? = basic { isCA = true }
        let keyUsage = try? ext.keyUsage
        let ski = try? ext.subjectKeyIdentifier
        let aki = try? ext.authorityKeyIdentifier
        let eku = try? ext.extendedKeyUsage
        let selfSigned = cert.subject == cert.issuer
        let serial = Self.hex(cert.serialNumber.bytes)
        let subject = DistinguishedNameText(cert.subject), issuer = DistinguishedNameText(cert.issuer)
        var lines: [(String, String)] = [
            ("subject (openssl)", subject.openssl),
            ("subject (trace, LDAP)", subject.rfc4514),
        ]
        lines += plugins.dnForms.compactMap { form in form.subjectLabel.map { ("subject (\($0))", form.write(subject)) } }
        lines.append(("issuer (openssl)", issuer.openssl))
        lines += plugins.dnForms.compactMap { form in form.issuerLabel.map { ("issuer (\($0))", form.write(issuer)) } }
        lines.append(("serial", serial))
        let iso = ISO8601DateFormatter()
        lines.append(("valid", "\(iso.string(from: cert.notValidBefore)) to \(iso.string(from: cert.notValidAfter))"))
        let key = String(describing: cert.publicKey).replacingOccurrences(of: ".PublicKey", with: "")
        let keyText = key.hasPrefix("RSA") ? "RSA \(key.dropFirst(3)) bits" : key == "P256" ? "EC P-256 (secp256r1)" : key == "P384" ? "EC P-384 (secp384r1)" : key == "P521" ? "EC P-521 (secp521r1)" : key
        lines.append(("key", keyText))
        let algorithm = Self.name(cert.signatureAlgorithm)
        let oid = Self.signatureAlgorithmOID(der)
        let scheme = oid.flatMap { signatureScheme(oid: $0) }
        lines.append(("signed with", algorithm + (scheme.map { " (\($0.catalogue.title) \($0.entry.code): \($0.entry.name))" } ?? "")))
        if let keyUsage { lines.append(("key usage", String(describing: keyUsage))) }
        if let eku { lines.append(("extended key usage", String(describing: eku))) }
        lines.append(("basic constraints", basic.map { String(describing: $0) } ?? "(none)"))
        lines.append(("subject key identifier", ski.map { Self.hex($0.keyIdentifier) } ?? "(none)"))
        lines.append(("authority key identifier", aki.flatMap { $0.keyIdentifier.map { Self.hex($0) } } ?? "(none)"))

        // The values every check of this certificate may name.
        let values = ["subject": subject.rfc4514, "issuer": issuer.rfc4514, "serial": serial, "not_before": iso.string(from: cert.notValidBefore),
                      "not_after": iso.string(from: cert.notValidAfter), "algorithm": algorithm, "key": keyText]
        var findings: [CertificateReport.Finding] = []
        func add(_ check: String, _ more: [String: String] = [:]) { findings.append(finding(check, values.merging(more) { _, new in new })) }
        if cert.notValidAfter < now { add("expired") }
        else if cert.notValidBefore > now { add("not-yet-valid") }
        else if cert.notValidAfter.timeIntervalSince(now) < 30 * 86400 {
            add("expires-soon", ["days": "\(Int(cert.notValidAfter.timeIntervalSince(now) / 86400))"])
        }
        if isCA {
            if let ku = keyUsage {
                if !ku.keyCertSign { add("ca-without-keycertsign") }
                if !ku.cRLSign { add("ca-without-crlsign") }
            } else {
                add("ca-without-key-usage")
            }
            if ski == nil { add("ca-without-ski") }
        } else {
            if aki == nil && !selfSigned { add("no-authority-key-identifier") }
            if let ku = keyUsage, !ku.digitalSignature { add("no-digital-signature") }
            if let ku = keyUsage, key.hasPrefix("RSA"), !ku.keyEncipherment { add("no-key-encipherment") }
            if let eku {
                let uses = eku.map { String(describing: $0) }
                if !uses.contains(where: { $0.contains("serverAuth") || $0.contains("clientAuth") || $0.contains("1.3.6.1.5.5.7.3.1") || $0.contains("1.3.6.1.5.5.7.3.2") }) {
                    add("no-tls-extended-key-usage")
                }
            }
        }
        if let scheme, let oid {
            add("signature-pair", ["oid": oid, "pair": scheme.entry.code, "pair_name": scheme.entry.name])
        }
        return CertificateReport.Item(kind: isCA ? "CA certificate" : "certificate", lines: lines, findings: findings,
                                      issuer: issuer.rfc4514, serial: serial)
    }

    package static let reasons = ["unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded", "cessationOfOperation",
                          "certificateHold", "(7)", "removeFromCRL", "privilegeWithdrawn", "aACompromise"]

    /// A CRL (RFC 5280 CertificateList), read with swift-asn1.
    package func crl(_ der: [UInt8], _ path: String) throws -> CertificateReport.Item {
        let bad = Problem.unreadable(path, "not an X.509 certificate or CRL (PEM or DER)")
        guard let root = try? DER.parse(der), case let .constructed(top) = root.content,
              let tbs = top.first(where: { _ in true }), case let .constructed(fields) = tbs.content else { throw bad }
        var nodes = Array(fields)
        if let first = nodes.first, first.identifier == .integer { nodes.removeFirst() }  // version
        guard nodes.count >= 3 else { throw bad }
        guard let issuerName = try? DistinguishedName(derEncoded: nodes[1]) else { throw bad }
        let issuer = DistinguishedNameText(issuerName)
        func time(_ n: ASN1Node) -> Date? {
            if n.identifier == .utcTime, let t = try? UTCTime(derEncoded: n) {
                return DateComponents(calendar: Calendar(identifier: .gregorian), timeZone: TimeZone(identifier: "UTC"), year: t.year, month: t.month, day: t.day, hour: t.hours, minute: t.minutes, second: t.seconds).date
            }
            if n.identifier == .generalizedTime, let t = try? GeneralizedTime(derEncoded: n) {
                return DateComponents(calendar: Calendar(identifier: .gregorian), timeZone: TimeZone(identifier: "UTC"), year: t.year, month: t.month, day: t.day, hour: t.hours, minute: t.minutes, second: t.seconds).date
            }
            return nil
        }
        guard let thisUpdate = time(nodes[2]) else { throw bad }
        var index = 3
        var nextUpdate: Date?
        if index < nodes.count, let t = time(nodes[index]) { nextUpdate = t; index += 1 }
        var revoked: [(serial: String, date: Date, reason: String?)] = []
        if index < nodes.count, nodes[index].identifier == .sequence, case let .constructed(entries) = nodes[index].content {
            for entry in entries {
                guard case let .constructed(parts) = entry.content else { continue }
                let p = Array(parts)
                guard p.count >= 2, case let .primitive(serialBytes) = p[0].content, let date = time(p[1]) else { continue }
                var reason: String?
                if p.count > 2, case let .constructed(exts) = p[2].content {
                    for e in exts {
                        guard case let .constructed(ef) = e.content else { continue }
                        // Extension ::= SEQUENCE { extnID, critical DEFAULT FALSE, extnValue }; a
                        // damaged one (an empty SEQUENCE) is passed over, not read past its end.
                        let efs = Array(ef)
                        guard efs.count >= 2, let oid = try? ASN1ObjectIdentifier(derEncoded: efs[0]), String(describing: oid) == "2.5.29.21",
                              case let .primitive(octets)? = efs.last?.content, let inner = try? DER.parse(Array(octets)),
                              case let .primitive(value) = inner.content, let code = value.last else { continue }
                        reason = Int(code) < Self.reasons.count ? Self.reasons[Int(code)] : "(\(code))"
                    }
                }
                revoked.append((Self.hex(serialBytes), date, reason))
            }
        }
        let iso = ISO8601DateFormatter()
        var lines: [(String, String)] = [
            ("issuer (openssl)", issuer.openssl),
            ("issuer (trace, LDAP)", issuer.rfc4514),
            ("this update", iso.string(from: thisUpdate)),
            ("next update", nextUpdate.map { iso.string(from: $0) } ?? "(none)"),
            ("revoked", revoked.isEmpty ? "none" : "\(revoked.count)"),
        ]
        for r in revoked { lines.append(("  serial \(r.serial)", "revoked \(iso.string(from: r.date))" + (r.reason.map { ", reason \($0)" } ?? ""))) }
        var findings: [CertificateReport.Finding] = []
        if let nextUpdate, nextUpdate < now {
            findings.append(finding("crl-out-of-date", ["issuer": issuer.rfc4514, "this_update": iso.string(from: thisUpdate), "next_update": iso.string(from: nextUpdate)]))
        }
        return CertificateReport.Item(kind: "CRL", lines: lines, findings: findings, issuer: issuer.rfc4514, serial: nil, revoked: revoked)
    }

    /// Marks certificates that a CRL of their issuer lists as revoked.
    public func checkRevocation(_ reports: inout [CertificateReport], against crls: [CertificateReport.Item]) {
        for r in reports.indices {
            for i in reports[r].items.indices where reports[r].items[i].kind != "CRL" {
                let item = reports[r].items[i]
                for list in crls where list.issuer == item.issuer {
                    if let hit = list.revoked.first(where: { $0.serial == item.serial }) {
                        var values = ["serial": hit.serial, "issuer": list.issuer, "date": ISO8601DateFormatter().string(from: hit.date)]
                        values["reason"] = hit.reason
                        reports[r].items[i].findings.append(finding("revoked", values))
                    } else {
                        reports[r].items[i].findings.append(finding("not-revoked", ["serial": item.serial ?? "", "issuer": list.issuer]))
                    }
                }
            }
        }
    }

    /// One JSON object per certificate or CRL: file, kind, its facts by name, findings.
    public static func jsonLines(_ reports: [CertificateReport]) -> String {
        var out = ""
        for report in reports {
            for item in report.items {
                var facts: [String: JSON.Value] = [:]
                for (k, v) in item.lines where !k.hasPrefix("  ") { facts[k] = .string(v) }
                var obj: [String: JSON.Value] = ["file": .string(report.path), "kind": .string(item.kind), "facts": .sorted(facts),
                                                 "findings": .array(item.findings.map(jsonObject))]
                if item.kind == "CRL" {
                    let iso = ISO8601DateFormatter()
                    obj["revoked"] = .array(item.revoked.map { r in
                        var e: [String: JSON.Value] = ["serial": .string(r.serial), "date": .string(iso.string(from: r.date))]
                        e["reason"] = r.reason.map(JSON.Value.string)
                        return .sorted(e)
                    })
                }
                out += JSON.Value.sorted(obj).text + "\n"
            }
        }
        return out
    }

    package static func jsonObject(_ finding: CertificateReport.Finding) -> JSON.Value {
        // Every value a string, codes space-separated as catalogues write related codes.
        var out: [String: JSON.Value] = ["severity": .string(finding.severity.rawValue), "check": .string(finding.check),
                                         "message": .string(finding.message)]
        out["action"] = finding.action.map(JSON.Value.string)
        if !finding.codes.isEmpty { out["codes"] = .string(finding.codes.map(\.ref).joined(separator: " ")) }
        return .sorted(out)
    }

    public static func text(_ reports: [CertificateReport]) -> String {
        var out = ""
        for report in reports {
            for (n, item) in report.items.enumerated() {
                // DNs and paths are the file's: control characters in them are shown, not sent.
                out += TerminalText.visible(report.path) + (report.items.count > 1 ? " #\(n + 1)" : "") + ": \(item.kind)\n"
                let width = item.lines.map(\.0.count).max() ?? 0
                for (k, v) in item.lines { out += "  " + k.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + TerminalText.visible(v) + "\n" }
                for f in item.findings {
                    out += "  \(f.severity.rawValue): \(TerminalText.visible(f.message)) [\(f.check)]\n"
                    if let action = f.action { out += "    what to do: \(TerminalText.visible(action))\n" }
                    if !f.codes.isEmpty { out += "    codes: \(f.codes.map(\.label).joined(separator: "; "))\n" }
                }
                out += "\n"
            }
        }
        return out
    }
}
