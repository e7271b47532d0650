import Foundation
import SwiftASN1
import X509
import TraceLensInput
import TraceLensPlugins

/// `tracelens cert`: what a certificate, a chain or a CRL holds, checked for what System SSL
/// needs (a CA that can sign CRLs, the key identifiers TLS 1.3 wants, a signature algorithm
/// GSK_TLS_SIG_ALG_PAIRS must allow, dates), with DNs written the ways z/OS tools want them.
public struct CertificateReport: Sendable {
    public struct Finding: Sendable, Equatable {
        public enum Severity: String, Sendable { case error, warning, info }
        public var severity: Severity
        public var check: String
        public var message: String
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

/// A distinguished name as tools write it.
public enum DNForms {
    package static let short: [String: String] = [
        "2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O", "2.5.4.11": "OU",
        "0.9.2342.19200300.100.1.25": "DC", "1.2.840.113549.1.9.1": "emailAddress", "2.5.4.5": "serialNumber",
    ]

    package static func parts(_ dn: DistinguishedName) -> [(String, String)] {
        dn.flatMap { rdn in rdn.map { attr -> (String, String) in
            let oid = String(describing: attr.type)
            return (short[oid] ?? oid, String(describing: attr.value))
        } }
    }

    /// As `openssl x509 -subject` prints it: `C = GB, O = cpwebuser, CN = ecec`.
    public static func openssl(_ dn: DistinguishedName) -> String { parts(dn).map { "\($0.0) = \($0.1)" }.joined(separator: ", ") }
    /// As System SSL traces and LDAP print it: `CN=ecec,O=cpwebuser,C=GB`.
    public static func rfc4514(_ dn: DistinguishedName) -> String { parts(dn).reversed().map { "\($0.0)=\($0.1)" }.joined(separator: ",") }
    /// As RACDCERT MAP SDNFILTER wants it: `CN=ecec.O=cpwebuser.C=GB`.
    public static func sdnFilter(_ dn: DistinguishedName) -> String { parts(dn).reversed().map { "\($0.0)=\($0.1)" }.joined(separator: ".") }
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
                    items.append(certificate(try Certificate(derEncoded: block.der)))
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

    /// TLS signature scheme codes as GSK_TLS_SIG_ALG_PAIRS writes them.
    package static func sigPair(_ alg: Certificate.SignatureAlgorithm) -> String? {
        switch alg {
        case .sha1WithRSAEncryption: return "0201"
        case .sha256WithRSAEncryption: return "0401"
        case .sha384WithRSAEncryption: return "0501"
        case .sha512WithRSAEncryption: return "0601"
        case .ecdsaWithSHA256: return "0403"
        case .ecdsaWithSHA384: return "0503"
        case .ecdsaWithSHA512: return "0603"
        case .ed25519: return "0807"
        default: return nil
        }
    }

    package func certificate(_ cert: Certificate) -> CertificateReport.Item {
        var findings: [CertificateReport.Finding] = []
        func add(_ s: CertificateReport.Finding.Severity, _ check: String, _ m: String) { findings.append(.init(severity: s, check: check, message: m)) }
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
        var lines: [(String, String)] = [
            ("subject (openssl)", DNForms.openssl(cert.subject)),
            ("subject (trace, LDAP)", DNForms.rfc4514(cert.subject)),
            ("subject (RACDCERT MAP SDNFILTER)", DNForms.sdnFilter(cert.subject)),
            ("issuer (openssl)", DNForms.openssl(cert.issuer)),
            ("issuer (RACDCERT MAP IDNFILTER)", DNForms.sdnFilter(cert.issuer)),
            ("serial", serial),
        ]
        let iso = ISO8601DateFormatter()
        lines.append(("valid", "\(iso.string(from: cert.notValidBefore)) to \(iso.string(from: cert.notValidAfter))"))
        let key = String(describing: cert.publicKey).replacingOccurrences(of: ".PublicKey", with: "")
        lines.append(("key", key.hasPrefix("RSA") ? "RSA \(key.dropFirst(3)) bits" : key == "P256" ? "EC P-256 (secp256r1)" : key == "P384" ? "EC P-384 (secp384r1)" : key == "P521" ? "EC P-521 (secp521r1)" : key))
        let pair = Self.sigPair(cert.signatureAlgorithm)
        var sigText = Self.name(cert.signatureAlgorithm)
        if let pair, let c = plugins.catalogue("sigalg"), let v = c.value(fromCatalogueText: pair), let e = c.entry(v) { sigText += " (GSK_TLS_SIG_ALG_PAIRS \(pair): \(e.name))" }
        else if let pair { sigText += " (GSK_TLS_SIG_ALG_PAIRS \(pair))" }
        lines.append(("signed with", sigText))
        if let keyUsage { lines.append(("key usage", String(describing: keyUsage))) }
        if let eku { lines.append(("extended key usage", String(describing: eku))) }
        lines.append(("basic constraints", basic.map { String(describing: $0) } ?? "(none)"))
        lines.append(("subject key identifier", ski.map { Self.hex($0.keyIdentifier) } ?? "(none)"))
        lines.append(("authority key identifier", aki.flatMap { $0.keyIdentifier.map { Self.hex($0) } } ?? "(none)"))

        if cert.notValidAfter < now { add(.error, "expired", "expired on \(iso.string(from: cert.notValidAfter)) (SSL 401)") }
        else if cert.notValidBefore > now { add(.error, "not-yet-valid", "not valid before \(iso.string(from: cert.notValidBefore)) (SSL 401): check the clocks") }
        else if cert.notValidAfter.timeIntervalSince(now) < 30 * 86400 {
            add(.warning, "expires-soon", "expires on \(iso.string(from: cert.notValidAfter)), in \(Int(cert.notValidAfter.timeIntervalSince(now) / 86400)) days")
        }
        if isCA {
            if let ku = keyUsage {
                if !ku.keyCertSign { add(.error, "ca-without-keycertsign", "a CA whose key usage lacks keyCertSign: certificates it signs are not accepted") }
                if !ku.cRLSign { add(.error, "ca-without-crlsign", "a CA whose key usage lacks cRLSign: System SSL rejects the CRLs it signs (CMS 03353026). Recreate it with keyUsage = critical, keyCertSign, digitalSignature, cRLSign") }
            } else {
                add(.warning, "ca-without-key-usage", "a CA without a key usage extension: give it keyCertSign and cRLSign explicitly")
            }
            if ski == nil { add(.warning, "ca-without-ski", "a CA without subjectKeyIdentifier: the certificates it signs cannot carry a matching authorityKeyIdentifier (openssl: subjectKeyIdentifier=hash)") }
        } else {
            if aki == nil && !selfSigned {
                add(.error, "no-authority-key-identifier", "no authorityKeyIdentifier: System SSL refuses it for TLS 1.3 (CMS 0335306F, alert 42). Issue it again with authorityKeyIdentifier=keyid:always,issuer:always")
            }
            if let ku = keyUsage, !ku.digitalSignature {
                add(.error, "no-digital-signature", "key usage without digitalSignature: it cannot sign a TLS handshake (ECDHE ciphers, TLS 1.3, client authentication)")
            }
            if let ku = keyUsage, key.hasPrefix("RSA"), !ku.keyEncipherment {
                add(.info, "no-key-encipherment", "an RSA key without keyEncipherment: RSA key exchange ciphers (TLS_RSA_WITH_*) cannot use it; ECDHE ones can")
            }
            if let eku {
                let uses = eku.map { String(describing: $0) }
                if !uses.contains(where: { $0.contains("serverAuth") || $0.contains("clientAuth") || $0.contains("1.3.6.1.5.5.7.3.1") || $0.contains("1.3.6.1.5.5.7.3.2") }) {
                    add(.warning, "no-tls-extended-key-usage", "its extended key usage names neither serverAuth nor clientAuth: TLS peers may refuse it")
                }
            }
        }
        if let pair {
            add(.info, "signature-pair", "its signature (\(Self.name(cert.signatureAlgorithm))) needs \(pair) in GSK_TLS_SIG_ALG_PAIRS on the side that checks it (SSL 467 otherwise)")
        }
        return CertificateReport.Item(kind: isCA ? "CA certificate" : "certificate", lines: lines, findings: findings,
                                      issuer: DNForms.rfc4514(cert.issuer), serial: serial)
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
        guard let issuer = try? DistinguishedName(derEncoded: nodes[1]) else { throw bad }
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
            ("issuer (openssl)", DNForms.openssl(issuer)),
            ("issuer (trace, LDAP)", DNForms.rfc4514(issuer)),
            ("this update", iso.string(from: thisUpdate)),
            ("next update", nextUpdate.map { iso.string(from: $0) } ?? "(none)"),
            ("revoked", revoked.isEmpty ? "none" : "\(revoked.count)"),
        ]
        for r in revoked { lines.append(("  serial \(r.serial)", "revoked \(iso.string(from: r.date))" + (r.reason.map { ", reason \($0)" } ?? ""))) }
        var findings: [CertificateReport.Finding] = []
        if let nextUpdate, nextUpdate < now {
            findings.append(.init(severity: .warning, check: "crl-out-of-date", message: "its next update (\(iso.string(from: nextUpdate))) has passed: generate and publish a new CRL; System SSL may refuse a stale one"))
        }
        return CertificateReport.Item(kind: "CRL", lines: lines, findings: findings, issuer: DNForms.rfc4514(issuer), serial: nil, revoked: revoked)
    }

    /// Marks certificates that a CRL of their issuer lists as revoked.
    public func checkRevocation(_ reports: inout [CertificateReport], against crls: [CertificateReport.Item]) {
        for r in reports.indices {
            for i in reports[r].items.indices where reports[r].items[i].kind != "CRL" {
                let item = reports[r].items[i]
                for list in crls where list.issuer == item.issuer {
                    if let hit = list.revoked.first(where: { $0.serial == item.serial }) {
                        reports[r].items[i].findings.append(.init(severity: .error, check: "revoked",
                            message: "revoked: serial \(hit.serial) is on the CRL of \(list.issuer)" + (hit.reason.map { " (reason \($0))" } ?? "") + ": System SSL fails the handshake with CMS 03353041 / SSL 431"))
                    } else {
                        reports[r].items[i].findings.append(.init(severity: .info, check: "not-revoked", message: "not on the CRL of \(list.issuer)"))
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
                var facts: [String: String] = [:]
                for (k, v) in item.lines where !k.hasPrefix("  ") { facts[k] = v }
                var obj: [String: Any] = ["file": report.path, "kind": item.kind, "facts": facts,
                                          "findings": item.findings.map { ["severity": $0.severity.rawValue, "check": $0.check, "message": $0.message] }]
                if item.kind == "CRL" {
                    let iso = ISO8601DateFormatter()
                    obj["revoked"] = item.revoked.map { r -> [String: Any] in
                        var e: [String: Any] = ["serial": r.serial, "date": iso.string(from: r.date)]
                        if let reason = r.reason { e["reason"] = reason }
                        return e
                    }
                }
                if let data = try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .withoutEscapingSlashes]) {
                    out += TerminalText.escapingC1(json: String(decoding: data, as: UTF8.self)) + "\n"
                }
            }
        }
        return out
    }

    public static func text(_ reports: [CertificateReport]) -> String {
        var out = ""
        for report in reports {
            for (n, item) in report.items.enumerated() {
                // DNs and paths are the file's: control characters in them are shown, not sent.
                out += TerminalText.visible(report.path) + (report.items.count > 1 ? " #\(n + 1)" : "") + ": \(item.kind)\n"
                let width = item.lines.map(\.0.count).max() ?? 0
                for (k, v) in item.lines { out += "  " + k.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + TerminalText.visible(v) + "\n" }
                for f in item.findings { out += "  \(f.severity.rawValue): \(TerminalText.visible(f.message)) [\(f.check)]\n" }
                out += "\n"
            }
        }
        return out
    }
}
