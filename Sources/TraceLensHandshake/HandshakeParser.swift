import X509
import SwiftASN1

/// Reads the body of one handshake message into values (RFC 8446 section 4, RFC 5246 section
/// 7.4). Only what explains a negotiation is kept: versions, cipher suites, groups, signature
/// schemes, key shares, the server name, ALPN, extension types, certificates' names.
enum HandshakeParser {
    /// The random of a ServerHello that is a HelloRetryRequest (RFC 8446 section 4.1.3).
    static let helloRetryRandom: [UInt8] = [
        0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
        0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
    ]

    /// Extension numbers whose contents are read.
    enum Ext {
        static let serverName: UInt16 = 0, supportedGroups: UInt16 = 10, signatureAlgorithms: UInt16 = 13
        static let alpn: UInt16 = 16, supportedVersions: UInt16 = 43, keyShare: UInt16 = 51
        static let signatureAlgorithmsCert: UInt16 = 50, certificateAuthorities: UInt16 = 47
    }

    enum HS {
        static let clientHello: UInt8 = 1, serverHello: UInt8 = 2, newSessionTicket: UInt8 = 4
        static let encryptedExtensions: UInt8 = 8, certificate: UInt8 = 11, serverKeyExchange: UInt8 = 12
        static let certificateRequest: UInt8 = 13, certificateVerify: UInt8 = 15
    }

    /// Parses `body` of handshake type `type` into `m`. `tls13` says how a Certificate or
    /// CertificateRequest is laid out (TLS 1.3 adds a context and per-entry extensions).
    static func parse(type: UInt8, body: ArraySlice<UInt8>, into m: inout TLSMessage, tls13: Bool) {
        var r = WireReader(body)
        do {
            switch type {
            case HS.clientHello: try clientHello(&r, &m)
            case HS.serverHello: try serverHello(&r, &m)
            case HS.encryptedExtensions: try extensions(r.vector(2), &m, hello: .server)
            case HS.certificate: try certificate(&r, &m, tls13: tls13)
            case HS.certificateRequest: try certificateRequest(&r, &m, tls13: tls13)
            case HS.serverKeyExchange: try serverKeyExchange(&r, &m)
            case HS.certificateVerify: m.values.append(.init("sig_alg", UInt32(try r.u16())))
            default: break
            }
        } catch let short as WireReader.Short {
            m.problems.append("ends early: \(short.needed) more bytes expected, \(short.had) left")
        } catch {
            m.problems.append("cannot be read: \(error)")
        }
    }

    enum Hello { case client, server }

    static func clientHello(_ r: inout WireReader, _ m: inout TLSMessage) throws {
        m.values.append(.init("legacy_version", UInt32(try r.u16())))
        _ = try r.take(32)
        _ = try r.vector(1)
        var suites = try r.vector(2)
        while suites.remaining >= 2 { m.values.append(.init("cipher", UInt32(try suites.u16()))) }
        _ = try r.vector(1)
        if !r.atEnd { try extensions(r.vector(2), &m, hello: .client) }
    }

    static func serverHello(_ r: inout WireReader, _ m: inout TLSMessage) throws {
        m.values.append(.init("legacy_version", UInt32(try r.u16())))
        let random = try r.take(32)
        if Array(random) == helloRetryRandom { m.kind = .helloRetryRequest }
        _ = try r.vector(1)
        m.values.append(.init("cipher", UInt32(try r.u16())))
        _ = try r.u8()
        if !r.atEnd { try extensions(r.vector(2), &m, hello: .server, retry: m.kind == .helloRetryRequest) }
    }

    static func extensions(_ list: WireReader, _ m: inout TLSMessage, hello: Hello, retry: Bool = false) throws {
        var list = list
        while !list.atEnd {
            let type = try list.u16()
            var data = try list.vector(2)
            m.values.append(.init("extension", UInt32(type)))
            switch type {
            case Ext.serverName:
                guard hello == .client, !data.atEnd else { break }
                var names = try data.vector(2)
                while !names.atEnd {
                    let kind = try names.u8()
                    let name = try names.vector(2)
                    if kind == 0 { m.values.append(.init("sni", text: printable(name.bytes))) }
                }
            case Ext.supportedGroups:
                var groups = try data.vector(2)
                while groups.remaining >= 2 { m.values.append(.init("group", UInt32(try groups.u16()))) }
            case Ext.signatureAlgorithms, Ext.signatureAlgorithmsCert:
                var algs = try data.vector(2)
                let field = type == Ext.signatureAlgorithms ? "sig_alg" : "sig_alg_cert"
                while algs.remaining >= 2 { m.values.append(.init(field, UInt32(try algs.u16()))) }
            case Ext.alpn:
                var protocols = try data.vector(2)
                while !protocols.atEnd { m.values.append(.init("alpn", text: printable(try protocols.vector(1).bytes))) }
            case Ext.supportedVersions:
                if hello == .client {
                    var versions = try data.vector(1)
                    while versions.remaining >= 2 { m.values.append(.init("supported_version", UInt32(try versions.u16()))) }
                } else {
                    m.values.append(.init("selected_version", UInt32(try data.u16())))
                }
            case Ext.keyShare:
                if hello == .client {
                    var shares = try data.vector(2)
                    while !shares.atEnd {
                        m.values.append(.init("key_share", UInt32(try shares.u16())))
                        _ = try shares.vector(2)
                    }
                } else {
                    // A HelloRetryRequest names only the group it wants; a ServerHello its share.
                    m.values.append(.init("key_share", UInt32(try data.u16())))
                    if !retry { _ = try data.vector(2) }
                }
            case Ext.certificateAuthorities:
                var names = try data.vector(2)
                while !names.atEnd { m.values.append(.init("ca", text: distinguishedName(try names.vector(2).bytes))) }
            default:
                break
            }
        }
    }

    static func certificate(_ r: inout WireReader, _ m: inout TLSMessage, tls13: Bool) throws {
        if tls13 { _ = try r.vector(1) }
        var list = try r.vector(3)
        var count = 0
        while !list.atEnd {
            let der = try list.vector(3).bytes
            if tls13 { _ = try list.vector(2) }
            count += 1
            do {
                let cert = try Certificate(derEncoded: Array(der))
                m.values.append(.init("subject", text: cert.subject.description))
                m.values.append(.init("issuer", text: cert.issuer.description))
                if count == 1 {
                    // The end entity's key, and the certificate type (RFC 5246 7.4.4, RFC 8422
                    // 5.5) a TLS 1.2 CertificateRequest would have to list for it.
                    let key = String(describing: cert.publicKey).replacingOccurrences(of: ".PublicKey", with: "")
                    let family = key.hasPrefix("RSA") ? "RSA" : key.hasPrefix("P") ? "EC" : key
                    m.values.append(.init("key", text: family))
                    if family == "RSA" { m.values.append(.init("key_cert_type", 1)) }
                    if family == "EC" || key.hasPrefix("Ed25519") { m.values.append(.init("key_cert_type", 64)) }
                }
            } catch {
                m.values.append(.init("subject", text: "?"))
                m.values.append(.init("issuer", text: "?"))
                m.problems.append("certificate \(count) is not a readable X.509 certificate")
            }
        }
        if count == 0 { m.values.append(.init("empty", 0)) }
    }

    static func certificateRequest(_ r: inout WireReader, _ m: inout TLSMessage, tls13: Bool) throws {
        if tls13 {
            _ = try r.vector(1)
            try extensions(r.vector(2), &m, hello: .server)
            return
        }
        var types = try r.vector(1)
        while !types.atEnd { m.values.append(.init("cert_type", UInt32(try types.u8()))) }
        // TLS 1.2 adds the signature schemes; TLS 1.0/1.1 go straight to the CA names.
        if m.recordVersion.map({ $0 >= 0x0303 }) ?? true {
            var algs = try r.vector(2)
            while algs.remaining >= 2 { m.values.append(.init("sig_alg", UInt32(try algs.u16()))) }
        }
        var names = try r.vector(2)
        while !names.atEnd { m.values.append(.init("ca", text: distinguishedName(try names.vector(2).bytes))) }
    }

    static func serverKeyExchange(_ r: inout WireReader, _ m: inout TLSMessage) throws {
        // ECDHE: curve type 3 (named curve), the group, the public key, then the signature
        // scheme (TLS 1.2). Other key exchanges (DHE) are left as they are.
        guard try r.u8() == 3 else { return }
        m.values.append(.init("group", UInt32(try r.u16())))
        _ = try r.vector(1)
        if m.recordVersion.map({ $0 >= 0x0303 }) ?? true, r.remaining >= 2 {
            m.values.append(.init("sig_alg", UInt32(try r.u16())))
        }
    }

    /// A distinguished name as RFC 4514 text; `?` when it cannot be read.
    static func distinguishedName(_ der: ArraySlice<UInt8>) -> String {
        guard let node = try? DER.parse(Array(der)), let dn = try? DistinguishedName(derEncoded: node) else { return "?" }
        return dn.description
    }

    /// Bytes as text, with anything that is not printable ASCII shown as `?` (a trace is untrusted).
    static func printable(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes.prefix(255).map { (0x20...0x7E).contains($0) ? $0 : 0x3F }, as: UTF8.self)
    }
}
