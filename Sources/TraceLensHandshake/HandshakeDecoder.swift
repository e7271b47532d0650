import TraceLensRecords
import TraceLensDecode
import TraceLensPlugins

/// Reads the TLS messages in the dump records of a source and adds one annotation per message to
/// the record whose bytes complete it (`ClientHello TLS 1.2 ... ciphers C02C ...`).
///
/// Which dumps hold TLS bytes, and which way they went, is the layout's `[format.tls]`; the
/// bytes of one connection are kept per source and thread (a handshake runs on one thread), and
/// a ClientHello on a thread that had a conversation starts a new one.
public final class HandshakeDecoder: RecordAnnotator {
    public let names: WireNames
    private var conversations: [Key: TLSConversation] = [:]
    /// The conversation as it was before each source's last record: a read that redoes the last
    /// record (a file still growing) starts from it again, so no byte is added twice.
    private var beforeLast: [Int: (line: Int, key: Key, conversation: TLSConversation?)] = [:]
    /// More threads than this at once is no trace of a real server: the oldest are forgotten.
    static let maxConversations = 4096

    struct Key: Hashable { var source: Int; var stream: String }

    public init(plugins: PluginSet) {
        names = WireNames(plugins: plugins)
    }

    public func annotate(_ r: inout Record, source: Int) {
        guard let wire = r.layout?.wireBytes, !r.isUnparsed, !r.dumpLines.isEmpty,
              let direction = wire.direction(of: r) else { return }
        let key = Key(source: source, stream: (r.field(.process) ?? "") + "/" + (r.field(.thread) ?? ""))
        if let last = beforeLast[source], r.line <= last.line {
            // The same record again, longer: undo what it added. An earlier one: start over.
            if r.line == last.line { conversations[last.key] = last.conversation } else { conversations = conversations.filter { $0.key.source != source } }
        }
        beforeLast[source] = (r.line, key, conversations[key])

        let bytes = r.dumpedBytes
        guard !bytes.isEmpty else { return }
        var conversation = conversations[key] ?? TLSConversation()
        var messages: [TLSMessage] = []
        if let contentField = wire.contentField {
            guard let name = WireBytes.value(contentField, of: r), let type = names.contentType(named: name) else { return }
            if type == 22 && bytes.first == 1 && conversation.started { conversation = TLSConversation() }
            messages = conversation.addContent(type, bytes, version: nil, direction)
        } else {
            if TLSConversation.beginsWithClientHello(bytes) && conversation.started { conversation = TLSConversation() }
            if conversation.pendingBytes(direction) > 0 && TLSConversation.beginsWithRecord(bytes), let cut = conversation.dropPending(direction) {
                messages.append(cut)
            }
            // The peer answers only what it read whole: a record of the other side still
            // unfinished when this side speaks was cut in its dump.
            let other: TLSDirection = direction == .sent ? .received : .sent
            if conversation.holdsPartialRecord(other), let cut = conversation.dropPending(other) { messages.append(cut) }
            messages += conversation.addRecords(bytes, direction)
            if wire.wholeRecords && conversation.holdsPartialRecord(direction), let cut = conversation.dropPending(direction) { messages.append(cut) }
        }
        if conversations[key] == nil && conversations.count >= Self.maxConversations, let any = conversations.keys.first {
            conversations[any] = nil
        }
        conversations[key] = conversation
        for m in messages {
            r.annotations.append(names.annotation(m))
            // An alert in the bytes is a code of the record, as one in its text would be: the
            // connection it ends fails with it.
            if m.kind == .alert, let a = m.numbers("alert").first, let c = names.catalogueIndex(for: "alert"),
               !r.codes.contains(where: { $0.catalogue == c && $0.value == .number(Int64(a)) }) {
                r.codes.append(FoundCode(catalogue: c, value: .number(Int64(a)), end: -1))
            }
        }
    }

}

// Shared by the decoder and `export --pcap`: which way a dump record's bytes went, and the bytes.
extension WireBytes {
    /// The direction of a dump record's bytes as the trace's writer saw them, by the layout's
    /// `sent` / `received` matchers; nil when the record is no TLS dump.
    public func direction(of r: Record) -> TLSDirection? {
        if sent.contains(where: { m in Self.value(m.field, of: r).map(m.matches) ?? false }) { return .sent }
        if received.contains(where: { m in Self.value(m.field, of: r).map(m.matches) ?? false }) { return .received }
        return nil
    }

    /// A record's field by name: a standard one (`function`) or one its layout captured.
    public static func value(_ field: String, of r: Record) -> String? {
        if let standard = StandardField.allCases.first(where: { $0.name == field }) { return r.field(standard) }
        return r.extra(field)
    }
}

extension Record {
    /// The bytes of the record's hex dump lines, in order (empty when they hold none).
    public var dumpedBytes: [UInt8] {
        var out: [UInt8] = []
        bytes.withUnsafeBufferPointer { b in
            for line in dumpLines { DumpBytes.append(UnsafeBufferPointer(rebasing: b[line]), to: &out) }
        }
        return out
    }
}

/// Names what the TLS decoder read, with the catalogues the plugins' `[wire]` table names:
/// `cipher` C02C, `group` x25519, `alert` handshake_failure, the handshake type ClientHello.
public struct WireNames: Sendable {
    public let plugins: PluginSet

    public init(plugins: PluginSet) { self.plugins = plugins }

    /// True when a `content` catalogue is loaded, so `contentType(named:)` can name types.
    public var knowsContentTypes: Bool { catalogue(for: "content") != nil }

    /// The catalogue for a value field (`key_share` is a group, `selected_version` a version).
    public func catalogue(for field: String) -> Catalogue? {
        let kind: String
        switch field {
        case "group", "key_share": kind = "group"
        case "sig_alg", "sig_alg_cert": kind = "sig_alg"
        case "legacy_version", "supported_version", "selected_version": kind = "version"
        default: kind = field
        }
        return plugins.wireCatalogues[kind].flatMap(plugins.catalogue)
    }

    /// The index (in `PluginSet.catalogues`) of the catalogue for a value field.
    public func catalogueIndex(for field: String) -> Int? {
        catalogue(for: field).flatMap { plugins.catalogueIndex($0.id) }
    }

    /// A value as the catalogue writes its code (`C02C`, `0029`), or the number.
    public func code(_ field: String, _ n: UInt32) -> String {
        guard let c = catalogue(for: field) else { return String(n) }
        return c.display(.number(Int64(n)))
    }

    /// The catalogue's name for a value (`x25519`), or nil.
    public func name(_ field: String, _ n: UInt32) -> String? {
        guard let c = catalogue(for: field), let e = c.entry(.number(Int64(n))) else { return nil }
        return e.name.isEmpty ? (e.text.isEmpty ? nil : e.text) : e.name
    }

    /// A version as people write it (`TLS 1.2`).
    func version(_ n: UInt32) -> String {
        if let c = catalogue(for: "legacy_version"), let e = c.entry(.number(Int64(n))), !e.text.isEmpty { return e.text }
        return "0x" + hex(UInt16(truncatingIfNeeded: n))
    }

    /// `client_hello` → `ClientHello`.
    func messageName(_ m: TLSMessage) -> String {
        switch m.kind {
        case .helloRetryRequest: return "HelloRetryRequest"
        case .alert: return "Alert"
        case .changeCipherSpec: return "ChangeCipherSpec"
        case .notTLS: return "bytes"
        case let .encrypted(type): return "encrypted " + (name("content", UInt32(type))?.replacingOccurrences(of: "_", with: " ") ?? "content type \(type)")
        case let .handshake(type):
            guard let n = name("handshake", UInt32(type)) else { return "handshake message \(type)" }
            return n.split(separator: "_").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        }
    }

    /// The content type a tool's name for it stands for (`Handshake`, `ChangeCipherSpec`); nil
    /// for a name that is none (`RecordHeader`) or when no `content` catalogue is loaded.
    public func contentType(named text: String) -> UInt8? {
        guard let c = catalogue(for: "content") else { return nil }
        let wanted = text.lowercased().filter { $0.isLetter }
        for e in c.entries.values where e.name.lowercased().filter({ $0.isLetter }) == wanted {
            if case let .number(n) = e.value, (0...255).contains(n) { return UInt8(n) }
        }
        return nil
    }

    /// One line per message, and the same as fields.
    public func annotation(_ m: TLSMessage) -> Annotation {
        var words: [String] = [messageName(m)]
        var fields: [Annotation.Field] = [.init("message", [messageName(m)]), .init("direction", [m.direction.rawValue])]
        if let from = m.from { fields.append(.init("from", [from])) }
        func list(_ field: String, _ label: String, named: Bool) {
            let values = m.numbers(field)
            guard !values.isEmpty else { return }
            words.append(label)
            words += values.map { named ? (name(field, $0) ?? code(field, $0)) : code(field, $0) }
            fields.append(.init(field, values.map { code(field, $0) }, catalogue: catalogue(for: field)?.id))
        }
        switch m.kind {
        case .handshake(HandshakeParser.HS.clientHello):
            if let legacy = m.numbers("legacy_version").first { words.append(version(legacy)) }
            let supported = m.numbers("supported_version")
            if !supported.isEmpty {
                words.append("(supported_versions " + supported.map { version($0).replacingOccurrences(of: "TLS ", with: "") }.joined(separator: ",") + ")")
                fields.append(.init("supported_version", supported.map { code("supported_version", $0) }, catalogue: catalogue(for: "supported_version")?.id))
            }
            list("cipher", "ciphers", named: false)
            list("group", "groups", named: true)
            list("key_share", "key_share", named: true)
            list("sig_alg", "sig_algs", named: false)
            texts(m, "sni", "sni", &words, &fields)
            texts(m, "alpn", "alpn", &words, &fields)
            if !m.numbers("extension").isEmpty { fields.append(.init("extension", m.numbers("extension").map { code("extension", $0) }, catalogue: catalogue(for: "extension")?.id)) }
        case .handshake(HandshakeParser.HS.serverHello), .helloRetryRequest:
            let chosen = m.numbers("selected_version").first ?? m.numbers("legacy_version").first
            if let v = chosen {
                words.append(version(v))
                fields.append(.init("version", [code("selected_version", v)], catalogue: catalogue(for: "selected_version")?.id))
            }
            if let c = m.numbers("cipher").first {
                words += ["cipher", code("cipher", c)] + (name("cipher", c).map { [$0] } ?? [])
                fields.append(.init("cipher", [code("cipher", c)], catalogue: catalogue(for: "cipher")?.id))
            }
            list("key_share", "key_share", named: true)
            if !m.numbers("extension").isEmpty { fields.append(.init("extension", m.numbers("extension").map { code("extension", $0) }, catalogue: catalogue(for: "extension")?.id)) }
        case .handshake(HandshakeParser.HS.certificate):
            let subjects = m.texts("subject"), issuers = m.texts("issuer")
            if subjects.isEmpty { words.append("(none: no certificate sent)") }
            let key = m.texts("key").first.map { " (\($0) key)" } ?? ""
            words.append(zip(subjects, issuers).enumerated().map { i, pair in "\(pair.0) issued by \(pair.1)" + (i == 0 ? key : "") }.joined(separator: "; "))
            fields.append(.init("subject", subjects))
            fields.append(.init("issuer", issuers))
            if !m.texts("key").isEmpty { fields.append(.init("key", m.texts("key"))) }
            if let t = m.numbers("key_cert_type").first { fields.append(.init("key_cert_type", [code("cert_type", t)], catalogue: catalogue(for: "cert_type")?.id)) }
        case .handshake(HandshakeParser.HS.certificateRequest):
            list("cert_type", "types", named: true)
            list("sig_alg", "sig_algs", named: false)
            texts(m, "ca", "CAs", &words, &fields, separator: "; ")
        case .handshake(HandshakeParser.HS.serverKeyExchange):
            list("group", "group", named: true)
            list("sig_alg", "sig_alg", named: false)
        case .handshake(HandshakeParser.HS.certificateVerify):
            list("sig_alg", "sig_alg", named: false)
        case .handshake(HandshakeParser.HS.encryptedExtensions):
            list("group", "groups", named: true)
            texts(m, "alpn", "alpn", &words, &fields)
        case .alert:
            if let level = m.numbers("alert_level").first { words.append(level == 2 ? "fatal" : level == 1 ? "warning" : "level \(level)") }
            if let a = m.numbers("alert").first {
                words.append((name("alert", a) ?? "alert") + " (\(a))")
                fields.append(.init("alert", [code("alert", a)], catalogue: catalogue(for: "alert")?.id))
            }
        case .encrypted, .notTLS:
            words.append("(\(m.length) bytes)")
        default:
            break
        }
        if !m.problems.isEmpty {
            words.append("[" + m.problems.joined(separator: "; ") + "]")
            fields.append(.init("problem", m.problems))
        }
        return Annotation(kind: "tls", text: words.joined(separator: " "), fields: fields)
    }

    private func texts(_ m: TLSMessage, _ field: String, _ label: String, _ words: inout [String], _ fields: inout [Annotation.Field], separator: String = " ") {
        let values = m.texts(field)
        guard !values.isEmpty else { return }
        words.append(label)
        words.append(values.joined(separator: separator))
        fields.append(.init(field, values))
    }
}
