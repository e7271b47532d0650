/// Which way bytes went, from the side that wrote the trace.
public enum TLSDirection: String, Sendable, Equatable {
    case sent, received
}

/// One TLS message read from dumped bytes: a handshake message, an alert, a change cipher spec,
/// or a record that is encrypted. Values are numbers as on the wire (`cipher` 0xC02C), or text
/// (`sni`, a certificate's `subject`); the catalogues name them when they are shown.
public struct TLSMessage: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// A handshake message, by its type number (1 ClientHello, 2 ServerHello, ...).
        case handshake(UInt8)
        /// A ServerHello carrying the HelloRetryRequest random (TLS 1.3).
        case helloRetryRequest
        case alert
        case changeCipherSpec
        /// A record whose content cannot be read (after the keys changed): its content type.
        case encrypted(UInt8)
        /// A record of a content type that is no TLS content type: the bytes are not TLS.
        case notTLS
    }

    public struct Value: Sendable, Equatable {
        public var field: String
        public var number: UInt32?
        public var text: String?
        public init(_ field: String, _ number: UInt32) { self.field = field; self.number = number }
        public init(_ field: String, text: String) { self.field = field; self.text = text }
    }

    public var kind: Kind
    public var direction: TLSDirection
    /// Who sent it, once a ClientHello said which side is the client: `client` or `server`.
    public var from: String?
    /// The record layer version the message came in.
    public var recordVersion: UInt16?
    public var values: [Value] = []
    /// How many bytes the message (or encrypted record) had.
    public var length: Int = 0
    /// What was wrong with the bytes (`truncated: 120 of 517 bytes`); the values read before it stand.
    public var problems: [String] = []

    public init(kind: Kind, direction: TLSDirection, recordVersion: UInt16? = nil) {
        self.kind = kind; self.direction = direction; self.recordVersion = recordVersion
    }

    public func numbers(_ field: String) -> [UInt32] { values.filter { $0.field == field }.compactMap(\.number) }
    public func texts(_ field: String) -> [String] { values.filter { $0.field == field }.compactMap(\.text) }

    /// The handshake type of a handshake message.
    public var handshakeType: UInt8? {
        switch kind {
        case let .handshake(t): return t
        case .helloRetryRequest: return 2
        default: return nil
        }
    }
}

/// Reads TLS structures from bytes with every length checked: running out of bytes throws
/// `Short`, never traps.
struct WireReader {
    struct Short: Error { var needed: Int; var had: Int }
    let bytes: ArraySlice<UInt8>
    var at: Int

    init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes; at = bytes.startIndex }

    var remaining: Int { bytes.endIndex - at }
    var atEnd: Bool { at >= bytes.endIndex }

    mutating func u8() throws -> UInt8 {
        guard remaining >= 1 else { throw Short(needed: 1, had: remaining) }
        defer { at += 1 }
        return bytes[at]
    }

    mutating func u16() throws -> UInt16 { UInt16(try u8()) << 8 | UInt16(try u8()) }

    mutating func u24() throws -> Int { Int(try u8()) << 16 | Int(try u8()) << 8 | Int(try u8()) }

    mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, remaining >= n else { throw Short(needed: n, had: remaining) }
        defer { at += n }
        return bytes[at..<at + n]
    }

    /// A vector with a length prefix of `width` bytes.
    mutating func vector(_ width: Int) throws -> WireReader {
        let n: Int
        switch width {
        case 1: n = Int(try u8())
        case 2: n = Int(try u16())
        default: n = try u24()
        }
        return WireReader(try take(n))
    }
}
