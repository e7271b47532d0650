import Foundation
import TraceLensInput
import TraceLensRecords

/// Writes a synthetic multi-threaded gsktrace file whose connections are known, for the
/// benchmark and the tests. What it exercises:
/// - threads interleave line by line, and each thread runs one connection after another;
/// - some connections begin with gsk_secure_socket_open, others with gsk_secure_socket_init;
/// - a share fail in the ways the user's notes describe, some then closed on the same thread;
/// - some successful connections are read and closed later on another thread (found by handle);
/// - connection handles are reused once released;
/// - threads log lines between connections that belong to none.
/// It records which connection every line belongs to, so correlation can be scored exactly.
public struct SyntheticTrace {
    /// One connection the generator wrote.
    public struct Connection: Sendable, Equatable {
        public var thread: Int
        public var firstLine: Int
        public var lastLine: Int
        public var peer: String
        public var returnCode: Int
        /// Seconds since 1970 of the first and last line.
        public var start: Int64 = 0
        public var end: Int64 = 0
    }

    /// What the generator wrote: the connections, and the owner of every record line (an index
    /// into `connections`, or -1 for a line of no connection; continuation lines are -2).
    public struct Truth: Sendable {
        public var connections: [Connection]
        public var owners: [Int32]
        public func owner(ofLine line: Int) -> Int? {
            let o = owners[line - 1]
            return o >= 0 ? Int(o) : nil
        }
    }

    public var threads = 8
    public var seed: UInt64 = 42

    public init(threads: Int = 8, seed: UInt64 = 42) { self.threads = threads; self.seed = seed }

    package struct Failure { let rc: Int; let lines: [String] }
    package static let failures: [Failure] = [
        Failure(rc: 431, lines: ["ERROR check_revoked(): RFC 2459 Revoked certificate check failed: Error 0x03353041",
                                 "ERROR send_v3_alert(): Sent TLS 1.2 alert 44 to %PEER%"]),
        Failure(rc: 434, lines: ["ERROR read_v3_certificate(): Client certificate key type 13 not allowed for SSL V3 cipher 0x0035",
                                 "ERROR send_v3_alert(): Sent TLS 1.2 alert 80 to %PEER%"]),
        Failure(rc: 8, lines: ["ERROR check_cert_extensions_3280_and_later(): authorityKeyIdentifier extension is missing",
                               "ERROR read_tls13_certificate(): Unable to validate peer certificate: Error 0x0335306f",
                               "ERROR send_tls13_alert(): Sent TLS 1.3 alert 42 to %PEER%"]),
        Failure(rc: 402, lines: ["ERROR read_v3_client_hello(): No cipher in common with the client",
                                 "ERROR send_v3_alert(): Sent TLS 1.2 alert 40 to %PEER%"]),
        Failure(rc: 401, lines: ["ERROR validate_certificate_mode(): Certificate is expired or not yet valid",
                                 "ERROR send_v3_alert(): Sent TLS 1.2 alert 45 to %PEER%"]),
    ]

    /// How many lines at level ERROR the generator wrote for `connections` (a failed one writes
    /// its failure's lines, every one at level ERROR; nothing else is).
    public static func errorLines(_ connections: [Connection]) -> Int {
        connections.reduce(0) { sum, c in sum + (c.returnCode == 0 ? 0 : failures.first { $0.rc == c.returnCode }?.lines.count ?? 0) }
    }

    /// A line waiting in a thread's queue: its text, the connection it belongs to, and lines to
    /// hand to another thread once it is written (the rest of a session served elsewhere).
    package struct Item {
        package var text: String
        package var owner: Int32
        package var handOff: (thread: Int, items: [Item])?
    }

    /// Writes about `targetBytes` of trace to `path`. Returns the connections written.
    @discardableResult
    public func write(to path: String, targetBytes: Int) throws -> [Connection] {
        try writeWithTruth(to: path, targetBytes: targetBytes, owners: false).connections
    }

    /// Writes the trace and returns what it holds; `owners: false` skips the per-line owners
    /// (4 bytes a line), for callers that only want the file.
    public func writeWithTruth(to path: String, targetBytes: Int, owners keepOwners: Bool = true) throws -> Truth {
        let fd = Platform.openForWriting(path, truncate: true, mode: 0o644)
        guard fd >= 0 else { throw InputError.cannotOpen(path: path, reason: Platform.errorText(Platform.lastError)) }
        defer { Platform.close(fd) }
        var rng = SplitMix64(seed: seed)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 20)
        var written = 0
        var lineNumber = 0
        var clock = Int64(Timestamp.daysFromCivil(2022, 4, 12)) * 86_400 + 14 * 3600
        var connections: [Connection] = []
        var owners: [Int32] = []
        var queues = [[Item]](repeating: [], count: threads)
        var stop = false
        // Handles of live connections are unique; released ones are reused.
        var nextHandle = 0
        var freeHandles: [Int] = []
        var handleOf: [Int: Int] = [:]  // connection index → handle
        var liveSegments = 0
        var nextPort = [Int](repeating: 40000, count: 6)

        func flush() {
            Platform.writeAll(fd, buffer)
            written += buffer.count
            buffer.removeAll(keepingCapacity: true)
        }
        func hex(_ h: Int) -> String { String(format: "0x%08X", 0x2A50_0000 + h * 16) }

        func newConnection(_ t: Int) {
            let index = Int32(connections.count)
            // Six client addresses; each client's ephemeral ports go up, as a TCP stack's do.
            let client = Int(rng.next() % 6)
            nextPort[client] = 40000 + (nextPort[client] - 40000 + 1 + Int(rng.next() % 3)) % 20000
            let peer = "10.1.0.\(2 + client)[\(nextPort[client])]"
            let failure: Failure? = rng.next() % 4 == 0 ? Self.failures[Int(rng.next() % UInt64(Self.failures.count))] : nil
            let handleNumber: Int
            if !freeHandles.isEmpty && rng.next() % 2 == 0 {
                handleNumber = freeHandles.remove(at: Int(rng.next() % UInt64(freeHandles.count)))
            } else {
                handleNumber = nextHandle; nextHandle += 1
            }
            handleOf[Int(index)] = handleNumber
            let handle = hex(handleNumber)
            var lines: [String] = []
            if rng.next() % 2 == 0 {
                lines += ["ENTRY gsk_secure_socket_open(): ---> Handle 0x2A4F1018",
                          "INFO gsk_secure_socket_open(): Connection handle \(handle) allocated",
                          "EXIT gsk_secure_socket_open(): <--- Exit status 0x00000000 (0)",
                          "INFO gsk_attribute_set_numeric_value(): GSK_FD set to \(10 + t)"]
            }
            lines += [
                "ENTRY gsk_secure_socket_init(): ---> Handle \(handle)",
                "INFO gsk_secure_socket_init(): Peer address \(peer)",
                "ENTRY read_v3_client_hello(): ---> Handle \(handle)",
                "INFO read_v3_client_hello(): TLS 1.2 protocol selected",
                "INFO read_v3_client_hello(): Negotiated cipher 0xC02C",
                "EXIT read_v3_client_hello(): <--- Exit status 0x00000000 (0)",
                "ENTRY read_v3_certificate(): ---> Handle \(handle)",
                "INFO get_issuer_certificate(): Using issuer CN=SSCA256,OU=CA,O=SSS,C=GB",
                "INFO check_revoked(): Checking revoked status CN=ecec,O=cpwebuser,C=GB",
            ]
            if rng.next() % 3 == 0 {
                lines += ["EBCDIC read_v3_certificate(): Certificate label (length 8)",
                          "    00000000: e2c5d9e5 c5d9c5c3                    *SERVEREC*"]
            }
            let rc = failure?.rc ?? 0
            if let failure { lines += failure.lines.map { $0.replacingOccurrences(of: "%PEER%", with: peer) } }
            else { lines.append("INFO read_v3_certificate(): Certificate CN=ecec,O=cpwebuser,C=GB validated") }
            lines.append("EXIT read_v3_certificate(): <--- Exit status \(String(format: "0x%08x (%d)", rc, rc))")
            lines.append("EXIT gsk_secure_socket_init(): <--- Exit status \(String(format: "0x%08x (%d)", rc, rc))")
            let close = ["ENTRY gsk_secure_socket_close(): ---> Handle \(handle)",
                         "INFO gsk_secure_socket_close(): Connection handle \(handle) released",
                         "EXIT gsk_secure_socket_close(): <--- Exit status 0x00000000 (0)"]
            var rest: [String] = []
            if rc == 0 {
                rest = ["ENTRY gsk_secure_socket_read(): ---> Handle \(handle), Size 16384",
                        "INFO gsk_secure_socket_read(): Received 512 bytes",
                        "EXIT gsk_secure_socket_read(): <--- Exit status 0x00000000 (0)"] + close
            } else if rng.next() % 2 == 0 {
                lines += close
            }
            var items = lines.map { Item(text: $0, owner: index, handOff: nil) }
            if !rest.isEmpty {
                let restItems = rest.map { Item(text: $0, owner: index, handOff: nil) }
                let other = threads > 1 && rng.next() % 3 == 0 ? (t + 1 + Int(rng.next() % UInt64(threads - 1))) % threads : t
                if other == t {
                    items += restItems
                } else {
                    items[items.count - 1].handOff = (other, restItems)
                    liveSegments += 1
                }
            }
            // Now and then a thread logs something between sessions.
            if rng.next() % 5 == 0 { items.insert(Item(text: "INFO gsk_list_free(): Freeing certificate list", owner: -1, handOff: nil), at: 0) }
            queues[t] += items
            connections.append(Connection(thread: t + 1, firstLine: 0, lastLine: 0, peer: peer, returnCode: rc))
        }

        while true {
            let t = Int(rng.next() % UInt64(threads))
            if queues[t].isEmpty {
                if stop {
                    if liveSegments == 0 && queues.allSatisfy(\.isEmpty) { break }
                    continue
                }
                newConnection(t)
            }
            let item = queues[t].removeFirst()
            if let (other, items) = item.handOff { queues[other] += items; liveSegments -= 1 }
            lineNumber += 1
            if item.text.hasPrefix("    ") {
                if keepOwners { owners.append(-2) }
                buffer += Array(item.text.utf8)
            } else {
                if keepOwners { owners.append(item.owner) }
                if rng.next() % 16 == 0 { clock += 1 }
                var stamp: [UInt8] = []
                Timestamp(micros: clock * 1_000_000).write(iso: false, to: &stamp)
                buffer += stamp
                buffer += Array(" Thd-\(t + 1) \(item.text)".utf8)
            }
            // After the time stamp: the clock may have moved on for this line.
            if item.owner >= 0 {
                let c = Int(item.owner)
                if connections[c].firstLine == 0 { connections[c].firstLine = lineNumber; connections[c].start = clock }
                connections[c].lastLine = lineNumber
                connections[c].end = clock
                if item.text.hasPrefix("EXIT gsk_secure_socket_close"), let h = handleOf.removeValue(forKey: c) { freeHandles.append(h) }
            }
            buffer.append(0x0A)
            if buffer.count >= 1 << 20 { flush() }
            if written + buffer.count >= targetBytes { stop = true }
        }
        flush()
        return Truth(connections: connections, owners: owners)
    }
}

/// A small, fast, seedable random number generator (so generated files are reproducible).
public struct SplitMix64 {
    package var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
