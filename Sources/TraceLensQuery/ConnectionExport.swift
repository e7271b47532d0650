import TraceLensRecords
import TraceLensPlugins
import TraceLensHandshake
import TraceLensStore

/// `export --pcap`: a connection's dumped TLS bytes as a TCP conversation (`PcapWriter` makes
/// the packets). The records are read again with their layout, as `show` reads them; the
/// layout's `[format.tls]` says which dumps hold bytes and which way they went (the same test
/// the handshake decoder makes, `WireBytes.direction(of:)`).
///
/// A connection named stands for its story: it and each connection linked to it are written as
/// conversations of their own (a server trace and a client transcript of the same session are
/// two views of it); a linked one without bytes is only counted. With none named, every
/// connection with TLS messages in the store.
public final class ConnectionExport {
    public let story: ConnectionStory
    private let names: WireNames
    private lazy var sources: [Int64: ConnectionStory.SourceInfo] = (try? story.sourceInfos().info) ?? [:]

    public init(queries: StoreQueries) {
        story = ConnectionStory(queries: queries)
        names = WireNames(plugins: queries.plugins)
    }

    /// Made-up addresses, from the documentation ranges (RFC 5737), and the port used when the
    /// trace names no server port.
    public static let madeUpClientIP: [UInt8] = [192, 0, 2, 1]
    public static let madeUpServerIP: [UInt8] = [198, 51, 100, 1]
    public static let madeUpServerPort: UInt16 = 443
    public static func madeUpClientPort(_ id: Int64) -> UInt16 { UInt16(40000 + Int(id % 20000)) }

    /// One connection, ready to write or skipped.
    public enum Outcome {
        /// `madeUp` names what the trace did not give (`server address`, `server port`, or
        /// `client address, 2001:db8::1` for one a pcap of IPv4 cannot hold); `notes` anything else
        /// worth a word (dumps without bytes, no ClientHello).
        case conversation(TCPConversation, madeUp: [String], notes: [String])
        case skipped(String)
    }

    /// A connection to export: `linkedTo` is the connection named whose story brought it in.
    public struct Target: Equatable {
        public var id: Int64
        public var linkedTo: Int64?
        public init(id: Int64, linkedTo: Int64? = nil) { self.id = id; self.linkedTo = linkedTo }
    }

    /// The connections to export for `ids` (each with its linked ones), or every connection with
    /// TLS messages when `ids` is empty. Throws for an id the store does not have.
    public func targets(_ ids: [Int64]) throws -> [Target] {
        let db = story.queries.store.db
        if ids.isEmpty {
            var out: [Target] = []
            let hasMessages = try db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'tls_messages'") == 1
            let q = try db.prepare(hasMessages ? "SELECT DISTINCT conn FROM tls_messages WHERE conn IS NOT NULL ORDER BY conn" : "SELECT id FROM connections ORDER BY id")
            while try q.step() { out.append(Target(id: q.int64(0))) }
            return out
        }
        var out: [Target] = []
        let linked = try db.prepare("SELECT id FROM connections WHERE story = ?1 AND id != ?1 ORDER BY id")
        for id in ids {
            guard try db.scalar("SELECT count(*) FROM connections WHERE id = ?1", [.int(id)]) == 1 else {
                throw ConnectionStory.Problem.noSuchConnection(String(id))
            }
            var story = [Target(id: id)]
            try linked.bind([.int(id)])
            while try linked.step() { story.append(Target(id: linked.int64(0), linkedTo: id)) }
            for t in story {
                // Named itself is stronger than linked to another named one.
                if let i = out.firstIndex(where: { $0.id == t.id }) { if t.linkedTo == nil { out[i].linkedTo = nil } } else { out.append(t) }
            }
        }
        return out
    }

    /// Connection `id`'s bytes as a conversation, or why there is none.
    public func conversation(_ id: Int64) throws -> Outcome {
        let db = story.queries.store.db
        let q = try db.prepare("SELECT source, line, time, text FROM records WHERE conn = ?1 ORDER BY source, line")
        try q.bind([.int(id)])
        var chunks: [(direction: TLSDirection, bytes: [UInt8], micros: Int64?)] = []
        var emptyDumps = 0, bodiesWithoutTypes = 0, wireLayouts = 0
        while try q.step() {
            let source = q.int64(0), line = q.int(1)
            let time: Int64? = q.isNull(2) ? nil : q.int64(2)
            guard let layout = sources[source]?.layout, layout.wireBytes != nil else { continue }
            wireLayouts += 1
            guard let record = story.reparse(q.bytes(3), layout: layout, source: Int(source), line: line),
                  let wire = record.layout?.wireBytes, !record.isUnparsed, !record.dumpLines.isEmpty,
                  let direction = wire.direction(of: record) else { continue }
            var bytes = record.dumpedBytes
            guard !bytes.isEmpty else { emptyDumps += 1; continue }
            if let field = wire.contentField {
                // One message body per dump (`openssl s_client -msg`): put each in a record of
                // its content type, so the stream is TLS records; a dump of something else (the
                // record header printed on its own) is left out.
                guard names.knowsContentTypes else { bodiesWithoutTypes += 1; continue }
                guard let name = WireBytes.value(field, of: record), let type = names.contentType(named: name) else { continue }
                bytes = Self.records(type, bytes)
            }
            chunks.append((direction, bytes, time))
        }
        if chunks.isEmpty {
            if bodiesWithoutTypes > 0 {
                return .skipped("its layout dumps message bodies, and no content-type catalogue is loaded to put them back in TLS records")
            }
            if emptyDumps > 0 { return .skipped("its \(emptyDumps) dump record\(emptyDumps == 1 ? "" : "s") hold no hex bytes") }
            if wireLayouts == 0 { return .skipped("no records from a layout whose dumps are TLS bytes ([format.tls])") }
            return .skipped("no dump records with TLS bytes")
        }
        var notes: [String] = []
        if emptyDumps > 0 { notes.append("\(emptyDumps) dump record\(emptyDumps == 1 ? "" : "s") without bytes left out") }
        // The client is the side that sent the ClientHello; without one, the side that sent first.
        let clientDirection: TLSDirection
        if let hello = chunks.first(where: { TLSConversation.beginsWithClientHello($0.bytes) }) {
            clientDirection = hello.direction
        } else {
            clientDirection = chunks[0].direction
            notes.append("no ClientHello: the side that sent first taken as the client")
        }

        let c = try db.prepare("SELECT peer_ip, peer_port, local_ip, local_port FROM connections WHERE id = ?1")
        try c.bind([.int(id)])
        guard try c.step() else { throw ConnectionStory.Problem.noSuchConnection(String(id)) }
        let peer = (ip: c.string(0), port: c.isNull(1) ? nil : c.int64(1))
        let local = (ip: c.string(2), port: c.isNull(3) ? nil : c.int64(3))
        // In a server's trace the bytes received are the client's: the peer is the client.
        let traceIsServer = clientDirection == .received
        let (clientSeen, serverSeen) = traceIsServer ? (peer, local) : (local, peer)
        var madeUp: [String] = []
        func address(_ text: String?, _ fallback: [UInt8], _ who: String) -> [UInt8] {
            guard let text, !text.isEmpty else { madeUp.append("\(who) address"); return fallback }
            if let v4 = Self.ipv4(text) { return v4 }
            madeUp.append("\(who) address, \(text)")
            return fallback
        }
        func port(_ value: Int64?, _ fallback: UInt16, _ who: String) -> UInt16 {
            guard let value, (1...65535).contains(value) else { madeUp.append("\(who) port"); return fallback }
            return UInt16(value)
        }
        let client = TCPConversation.End(ip: address(clientSeen.ip, Self.madeUpClientIP, "client"), port: port(clientSeen.port, Self.madeUpClientPort(id), "client"))
        let server = TCPConversation.End(ip: address(serverSeen.ip, Self.madeUpServerIP, "server"), port: port(serverSeen.port, Self.madeUpServerPort, "server"))
        let conversation = TCPConversation(client: client, server: server, chunks: chunks.map {
            TCPConversation.Chunk(fromClient: $0.direction == clientDirection, bytes: $0.bytes, micros: $0.micros)
        })
        return .conversation(conversation, madeUp: madeUp, notes: notes)
    }

    /// A message body as TLS records of `type` (version 0x0303), cut at 2^14 bytes.
    static func records(_ type: UInt8, _ body: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var at = 0
        repeat {
            let piece = body[at..<min(at + 16384, body.count)]
            out += [type, 3, 3, UInt8(piece.count >> 8), UInt8(piece.count & 0xff)]
            out += piece
            at += piece.count
        } while at < body.count
        return out
    }

    /// A dotted IPv4 address (also one mapped into IPv6, `::ffff:10.1.0.2`), or nil.
    static func ipv4(_ text: String) -> [UInt8]? {
        var t = Substring(text)
        if t.lowercased().hasPrefix("::ffff:") { t = t.dropFirst(7) }
        let parts = t.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy(\.isASCII), let v = UInt8(p) else { return nil }
            out.append(v)
        }
        return out
    }
}
