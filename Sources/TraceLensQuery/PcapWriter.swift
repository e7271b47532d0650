// `export --pcap` lives in Query, not Commands: it is a question to the store (a connection's
// records read again with their layout, as `show` reads them) whose answer is a file instead of
// text, and the pcap bytes themselves are pure (no store, no file: `PcapWriter` only builds
// bytes, so tests check it without either). Commands (`ExportRun`) opens the file and prints.

/// A TCP conversation to write: the two ends and the bytes each sent, in order.
public struct TCPConversation: Sendable {
    /// An IPv4 address and a port.
    public struct End: Sendable, Equatable {
        public var ip: [UInt8]
        public var port: UInt16
        public init(ip: [UInt8], port: UInt16) { self.ip = ip; self.port = port }
        public var text: String { ip.map(String.init).joined(separator: ".") + ":\(port)" }
    }

    /// Bytes one side sent at one time (one dump record).
    public struct Chunk: Sendable {
        public var fromClient: Bool
        public var bytes: [UInt8]
        /// Microseconds since 1970; nil takes the time before it + 1 µs.
        public var micros: Int64?
        public init(fromClient: Bool, bytes: [UInt8], micros: Int64?) {
            self.fromClient = fromClient; self.bytes = bytes; self.micros = micros
        }
    }

    public var client: End
    public var server: End
    public var chunks: [Chunk]

    public init(client: End, server: End, chunks: [Chunk]) {
        self.client = client; self.server = server; self.chunks = chunks
    }
}

/// Classic libpcap files (magic a1b2c3d4, version 2.4, microsecond times, Ethernet): each
/// conversation as a TCP connection over IPv4 with a three-way opening, one segment per chunk
/// (cut at `maxSegment` bytes), sequence and acknowledgement numbers kept per side, the IPv4 and
/// TCP checksums computed, and a FIN exchange at the end, so Wireshark follows the stream and
/// dissects the TLS in it.
public struct PcapWriter: Sendable {
    public static let maxSegment = 1400
    /// Made-up, locally administered MAC addresses: the client's and the server's.
    static let clientMAC: [UInt8] = [0x02, 0, 0, 0, 0, 0x01]
    static let serverMAC: [UInt8] = [0x02, 0, 0, 0, 0, 0x02]
    /// The first sequence numbers (any values do; fixed ones make files comparable).
    static let clientISN: UInt32 = 0x1000_0000
    static let serverISN: UInt32 = 0x2000_0000

    public private(set) var bytes: [UInt8]
    /// Packets written so far.
    public private(set) var packets = 0
    private var ipID: UInt16 = 1
    private var lastMicros: Int64 = 0

    public init() {
        bytes = []
        le32(0xa1b2_c3d4)   // magic: microsecond timestamps, written in this machine's (little) order
        le16(2); le16(4)    // version 2.4
        le32(0)             // thiszone
        le32(0)             // sigfigs
        le32(65535)         // snaplen
        le32(1)             // LINKTYPE_ETHERNET
    }

    /// What one conversation added: data segments each way.
    public struct Written: Sendable, Equatable {
        public var clientSegments = 0
        public var serverSegments = 0
    }

    /// Appends one conversation.
    @discardableResult
    public mutating func add(_ c: TCPConversation) -> Written {
        var written = Written()
        var seq = (client: Self.clientISN, server: Self.serverISN)
        let first = c.chunks.lazy.compactMap(\.micros).first ?? lastMicros
        // The opening takes the three microseconds before the first bytes.
        var now = max(first - 3, lastMicros + 1)
        func tick(_ t: Int64?) -> Int64 {
            now = max(t ?? now + 1, now + 1)
            return now
        }
        let syn: UInt8 = 0x02, ack: UInt8 = 0x10, psh: UInt8 = 0x08, fin: UInt8 = 0x01
        packet(c, fromClient: true, seq: seq.client, ack: 0, flags: syn, payload: [], micros: now)
        seq.client &+= 1
        packet(c, fromClient: false, seq: seq.server, ack: seq.client, flags: syn | ack, payload: [], micros: tick(nil))
        seq.server &+= 1
        packet(c, fromClient: true, seq: seq.client, ack: seq.server, flags: ack, payload: [], micros: tick(nil))
        for chunk in c.chunks where !chunk.bytes.isEmpty {
            var at = 0
            var time: Int64? = chunk.micros
            while at < chunk.bytes.count {
                let piece = Array(chunk.bytes[at..<min(at + Self.maxSegment, chunk.bytes.count)])
                let t = tick(time)
                time = nil
                if chunk.fromClient {
                    packet(c, fromClient: true, seq: seq.client, ack: seq.server, flags: psh | ack, payload: piece, micros: t)
                    seq.client &+= UInt32(piece.count)
                    written.clientSegments += 1
                } else {
                    packet(c, fromClient: false, seq: seq.server, ack: seq.client, flags: psh | ack, payload: piece, micros: t)
                    seq.server &+= UInt32(piece.count)
                    written.serverSegments += 1
                }
                at += piece.count
            }
        }
        packet(c, fromClient: true, seq: seq.client, ack: seq.server, flags: fin | ack, payload: [], micros: tick(nil))
        seq.client &+= 1
        packet(c, fromClient: false, seq: seq.server, ack: seq.client, flags: fin | ack, payload: [], micros: tick(nil))
        seq.server &+= 1
        packet(c, fromClient: true, seq: seq.client, ack: seq.server, flags: ack, payload: [], micros: tick(nil))
        lastMicros = now
        return written
    }

    private mutating func packet(_ c: TCPConversation, fromClient: Bool, seq: UInt32, ack: UInt32, flags: UInt8, payload: [UInt8], micros: Int64) {
        let (src, dst) = fromClient ? (c.client, c.server) : (c.server, c.client)
        var frame: [UInt8] = (fromClient ? Self.serverMAC + Self.clientMAC : Self.clientMAC + Self.serverMAC) + [0x08, 0x00]
        frame += Self.ipv4Header(src: src.ip, dst: dst.ip, payloadLength: 20 + payload.count, id: ipID)
        frame += Self.tcpSegment(src: src, dst: dst, seq: seq, ack: ack, flags: flags, payload: payload)
        ipID &+= 1
        let t = max(micros, 0)
        le32(UInt32(truncatingIfNeeded: t / 1_000_000))
        le32(UInt32(t % 1_000_000))
        le32(UInt32(frame.count))
        le32(UInt32(frame.count))
        bytes += frame
        packets += 1
    }

    /// A 20-byte IPv4 header (no options, don't fragment, TTL 64, protocol TCP) with its checksum.
    static func ipv4Header(src: [UInt8], dst: [UInt8], payloadLength: Int, id: UInt16) -> [UInt8] {
        let total = 20 + payloadLength
        var h: [UInt8] = [0x45, 0, UInt8(total >> 8), UInt8(total & 0xff), UInt8(id >> 8), UInt8(id & 0xff), 0x40, 0, 64, 6, 0, 0]
        h += src + dst
        let sum = checksum(h)
        h[10] = UInt8(sum >> 8); h[11] = UInt8(sum & 0xff)
        return h
    }

    /// A TCP header (20 bytes, window 65535) and the payload, the checksum over the IPv4 pseudo-header.
    static func tcpSegment(src: TCPConversation.End, dst: TCPConversation.End, seq: UInt32, ack: UInt32, flags: UInt8, payload: [UInt8]) -> [UInt8] {
        var s: [UInt8] = []
        func be16(_ v: UInt16) { s += [UInt8(v >> 8), UInt8(v & 0xff)] }
        func be32(_ v: UInt32) { s += [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
        be16(src.port); be16(dst.port); be32(seq); be32(ack)
        s += [0x50, flags]   // data offset 5 words
        be16(65535)          // window
        be16(0)              // checksum, below
        be16(0)              // urgent pointer
        s += payload
        let length = s.count
        let pseudo = src.ip + dst.ip + [0, 6, UInt8(length >> 8), UInt8(length & 0xff)]
        let sum = checksum(pseudo + s)
        s[16] = UInt8(sum >> 8); s[17] = UInt8(sum & 0xff)
        return s
    }

    /// The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of
    /// the 16-bit words, an odd last byte padded with zero.
    static func checksum(_ data: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var i = 0
        while i + 1 < data.count { sum += UInt32(data[i]) << 8 | UInt32(data[i + 1]); i += 2 }
        if i < data.count { sum += UInt32(data[i]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(sum)
    }

    private mutating func le16(_ v: UInt16) { bytes += [UInt8(v & 0xff), UInt8(v >> 8)] }
    private mutating func le32(_ v: UInt32) { bytes += [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)] }
}
