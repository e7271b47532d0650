/// The two byte streams of one TLS connection as they arrive, dump by dump: records are put
/// back together across dumps, handshake messages across records, and each message is read
/// when its last byte is in. Memory is bounded: a record longer than TLS allows, or a handshake
/// message longer than `maxHandshake`, is reported and dropped, never buffered.
public struct TLSConversation: Sendable {
    struct Side: Sendable {
        var pending: [UInt8] = []
        var handshake: [UInt8] = []
        var handshakeVersion: UInt16?
        /// After this side's ChangeCipherSpec (TLS 1.2) its records cannot be read.
        var encrypted = false
    }

    static let recordHeader = 5
    /// TLS 1.2 allows 2^14 + 2048 bytes of ciphertext in a record.
    package static let maxRecordBody = 16384 + 2048
    /// A certificate chain fits; a longer handshake message is no handshake.
    package static let maxHandshake = 1 << 18

    var sides: [Side] = [Side(), Side()]
    /// TLS 1.3 was chosen (the ServerHello's supported_versions): certificates are laid out so.
    public private(set) var tls13 = false
    /// The version the server chose, once its hello is read.
    private var chosen: UInt16?
    /// The ClientHello offered TLS 1.3: a ChangeCipherSpec before the server has chosen is
    /// TLS 1.3's middlebox compatibility one, after which nothing changes.
    private var offered13 = false
    /// The side that sent the ClientHello.
    private var clientSide: TLSDirection?
    /// Something was read: a ClientHello after it starts a new conversation.
    public private(set) var started = false

    public init() {}

    private func index(_ d: TLSDirection) -> Int { d == .sent ? 0 : 1 }

    /// Bytes not yet forming a whole record (or handshake message) on one side.
    public func pendingBytes(_ d: TLSDirection) -> Int { sides[index(d)].pending.count + sides[index(d)].handshake.count }

    /// True when `bytes` begin with a record holding a ClientHello.
    public static func beginsWithClientHello(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 6 && bytes[0] == 22 && bytes[1] == 3 && bytes[5] == 1
    }

    /// Adds bytes of the record layer; returns the messages they complete.
    public mutating func addRecords(_ bytes: [UInt8], _ d: TLSDirection) -> [TLSMessage] {
        // Read first: the ClientHello in these bytes says who the client is.
        let messages = recordsRead(bytes, d)
        return labelled(messages, d)
    }

    /// Each message with who sent it, when the ClientHello has said.
    private func labelled(_ messages: [TLSMessage], _ d: TLSDirection) -> [TLSMessage] {
        guard let client = clientSide else { return messages }
        return messages.map { var m = $0; m.from = d == client ? "client" : "server"; return m }
    }

    private mutating func recordsRead(_ bytes: [UInt8], _ d: TLSDirection) -> [TLSMessage] {
        let i = index(d)
        sides[i].pending += bytes
        var out: [TLSMessage] = []
        var at = 0
        let p = sides[i].pending
        while p.count - at >= Self.recordHeader {
            let type = p[at], major = p[at + 1]
            let version = UInt16(p[at + 1]) << 8 | UInt16(p[at + 2])
            let length = Int(p[at + 3]) << 8 | Int(p[at + 4])
            guard (20...24).contains(type), major == 3, length <= Self.maxRecordBody else {
                var m = TLSMessage(kind: .notTLS, direction: d)
                m.length = p.count - at
                m.problems.append("not a TLS record (content type \(type), version \(hex(version)), length \(length)): \(p.count - at) bytes skipped")
                out.append(m)
                at = p.count
                sides[i].handshake.removeAll()
                break
            }
            guard p.count - at >= Self.recordHeader + length else { break }
            let body = p[(at + Self.recordHeader)..<(at + Self.recordHeader + length)]
            at += Self.recordHeader + length
            out += record(type: type, version: version, body: body, side: i, d)
        }
        sides[i].pending.removeFirst(at)
        return out
    }

    /// Adds one message body of a known content type (a tool that printed each message on its
    /// own, such as `openssl s_client -msg`); returns the messages it completes.
    public mutating func addContent(_ type: UInt8, _ bytes: [UInt8], version: UInt16?, _ d: TLSDirection) -> [TLSMessage] {
        // The tool shows them decrypted: the side is never encrypted.
        sides[index(d)].encrypted = false
        let messages = record(type: type, version: version ?? 0x0303, body: bytes[...], side: index(d), d, plaintext: true)
        return labelled(messages, d)
    }

    private mutating func record(type: UInt8, version: UInt16, body: ArraySlice<UInt8>, side i: Int, _ d: TLSDirection, plaintext: Bool = false) -> [TLSMessage] {
        started = true
        if type == 23 || (sides[i].encrypted && !plaintext && type != 20) {
            var m = TLSMessage(kind: .encrypted(type), direction: d, recordVersion: version)
            m.length = body.count
            return [m]
        }
        switch type {
        case 20:
            var m = TLSMessage(kind: .changeCipherSpec, direction: d, recordVersion: version)
            m.length = body.count
            // In TLS 1.3 it is only there for middleboxes; the records after it say they are encrypted.
            let changesKeys = chosen.map { $0 < 0x0304 } ?? !offered13
            if changesKeys && !plaintext { sides[i].encrypted = true }
            return [m]
        case 21:
            var out: [TLSMessage] = []
            var r = WireReader(body)
            repeat {
                var m = TLSMessage(kind: .alert, direction: d, recordVersion: version)
                m.length = min(2, r.remaining)
                if let level = try? r.u8(), let description = try? r.u8() {
                    m.values = [.init("alert_level", UInt32(level)), .init("alert", UInt32(description))]
                } else {
                    m.problems.append("an alert is 2 bytes, this one \(body.count)")
                }
                out.append(m)
            } while r.remaining >= 2
            return out
        case 22:
            sides[i].handshake += body
            sides[i].handshakeVersion = version
            return handshakeMessages(side: i, d)
        default:
            var m = TLSMessage(kind: .encrypted(type), direction: d, recordVersion: version)
            m.length = body.count
            return [m]
        }
    }

    private mutating func handshakeMessages(side i: Int, _ d: TLSDirection) -> [TLSMessage] {
        var out: [TLSMessage] = []
        var at = 0
        let h = sides[i].handshake
        while h.count - at >= 4 {
            let type = h[at]
            let length = Int(h[at + 1]) << 16 | Int(h[at + 2]) << 8 | Int(h[at + 3])
            if length > Self.maxHandshake {
                var m = TLSMessage(kind: .handshake(type), direction: d, recordVersion: sides[i].handshakeVersion)
                m.problems.append("says it is \(length) bytes long, more than a handshake message can be: \(h.count - at) bytes skipped")
                out.append(m)
                at = h.count
                break
            }
            guard h.count - at >= 4 + length else { break }
            var m = TLSMessage(kind: .handshake(type), direction: d, recordVersion: sides[i].handshakeVersion)
            m.length = length
            HandshakeParser.parse(type: type, body: h[(at + 4)..<(at + 4 + length)], into: &m, tls13: tls13)
            switch m.kind {
            case .handshake(HandshakeParser.HS.clientHello):
                offered13 = m.numbers("supported_version").contains(0x0304)
                clientSide = d
            case .handshake(HandshakeParser.HS.serverHello), .helloRetryRequest:
                chosen = m.numbers("selected_version").first.map { UInt16(truncatingIfNeeded: $0) }
                    ?? m.numbers("legacy_version").first.map { UInt16(truncatingIfNeeded: $0) }
                if chosen == 0x0304 { tls13 = true }
            default: break
            }
            out.append(m)
            at += 4 + length
        }
        sides[i].handshake.removeFirst(at)
        return out
    }

    /// True when `bytes` begin like a record (a known content type, version 3.x).
    public static func beginsWithRecord(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 5 && (20...24).contains(bytes[0]) && bytes[1] == 3 && bytes[2] <= 4
    }

    /// True when a side holds the start of a record whose rest never came.
    public func holdsPartialRecord(_ d: TLSDirection) -> Bool { !sides[index(d)].pending.isEmpty }

    /// Drops what one side holds unread (a record cut short in the dump), saying what it was.
    public mutating func dropPending(_ d: TLSDirection) -> TLSMessage? {
        defer { sides[index(d)].pending.removeAll(); sides[index(d)].handshake.removeAll() }
        return leftovers(d)
    }

    /// What is left unread when the trace ends: a record or message cut short.
    public func leftovers(_ d: TLSDirection) -> TLSMessage? {
        let s = sides[index(d)]
        guard !s.pending.isEmpty || !s.handshake.isEmpty else { return nil }
        var m = TLSMessage(kind: .notTLS, direction: d)
        m.length = s.pending.count + s.handshake.count
        if s.pending.count >= Self.recordHeader {
            let length = Int(s.pending[3]) << 8 | Int(s.pending[4])
            m.problems.append("a record cut short: \(s.pending.count - Self.recordHeader) of its \(length) bytes")
        } else if !s.pending.isEmpty {
            m.problems.append("\(s.pending.count) bytes, fewer than a record header")
        } else {
            m.problems.append("a handshake message cut short: \(s.handshake.count) bytes")
        }
        return m
    }
}

func hex(_ v: UInt16) -> String {
    let digits = Array("0123456789ABCDEF")
    return String([digits[Int(v >> 12)], digits[Int(v >> 8 & 15)], digits[Int(v >> 4 & 15)], digits[Int(v & 15)]])
}
