import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a synthetic multi-threaded gsktrace file whose connections are known: threads
/// interleave line by line, threads are reused for one connection after another, and a share of
/// connections fail in the ways the user's notes describe. Used by the benchmark and the tests.
public struct SyntheticTrace {
    /// One connection the generator wrote: what correlation must find.
    public struct Connection: Sendable, Equatable {
        public var thread: Int
        public var firstLine: Int
        public var lastLine: Int
        public var peer: String
        public var returnCode: Int
    }

    public var threads = 8
    public var seed: UInt64 = 42

    public init(threads: Int = 8, seed: UInt64 = 42) { self.threads = threads; self.seed = seed }

    struct Failure { let rc: Int; let lines: [String] }
    static let failures: [Failure] = [
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

    /// Writes about `targetBytes` of trace to `path`. Returns the connections written.
    @discardableResult
    public func write(to path: String, targetBytes: Int) throws -> [Connection] {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw InputError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var rng = SplitMix64(seed: seed)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 20)
        var written = 0
        var lineNumber = 0
        var clock = Int64(Timestamp.daysFromCivil(2022, 4, 12)) * 86_400 + 14 * 3600
        var connections: [Connection] = []
        // Each thread holds the remaining lines of its current connection.
        var queues = [[String]](repeating: [], count: threads)
        var open = [Connection?](repeating: nil, count: threads)
        var stop = false

        func flush() {
            buffer.withUnsafeBytes { _ = Glibc.write(fd, $0.baseAddress, $0.count) }
            written += buffer.count
            buffer.removeAll(keepingCapacity: true)
        }
        func newConnection(_ t: Int) {
            let peer = "10.1.0.\(2 + Int(rng.next() % 6))[\(40000 + Int(rng.next() % 20000))]"
            let failure: Failure? = rng.next() % 4 == 0 ? Self.failures[Int(rng.next() % UInt64(Self.failures.count))] : nil
            let handle = String(format: "0x%08X", 0x2A50_0000 + Int(rng.next() % 0xFFFF) * 16)
            var lines = [
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
            if rc == 0 {
                lines += ["ENTRY gsk_secure_socket_read(): ---> Handle \(handle)",
                          "EXIT gsk_secure_socket_read(): <--- Exit status 0x00000000 (0)",
                          "ENTRY gsk_secure_socket_close(): ---> Handle \(handle)",
                          "INFO gsk_secure_socket_close(): TCP_NODELAY restored for socket \(10 + t)",
                          "EXIT gsk_secure_socket_close(): <--- Exit status 0x00000000 (0)"]
            }
            queues[t] = lines
            open[t] = Connection(thread: t + 1, firstLine: 0, lastLine: 0, peer: peer, returnCode: rc)
        }

        while true {
            let t = Int(rng.next() % UInt64(threads))
            if queues[t].isEmpty {
                if let c = open[t] { connections.append(c); open[t] = nil }
                if stop {
                    if open.allSatisfy({ $0 == nil }) && queues.allSatisfy(\.isEmpty) { break }
                    continue
                }
                newConnection(t)
            }
            let text = queues[t].removeFirst()
            lineNumber += 1
            if open[t]!.firstLine == 0 { open[t]!.firstLine = lineNumber }
            if text.hasPrefix("    ") {
                buffer += Array(text.utf8)
            } else {
                open[t]!.lastLine = lineNumber
                if rng.next() % 16 == 0 { clock += 1 }
                var stamp: [UInt8] = []
                Timestamp(micros: clock * 1_000_000).write(iso: false, to: &stamp)
                buffer += stamp
                buffer += Array(" Thd-\(t + 1) \(text)".utf8)
            }
            if !text.hasPrefix("    ") { open[t]!.lastLine = lineNumber }
            buffer.append(0x0A)
            if buffer.count >= 1 << 20 { flush() }
            if written + buffer.count >= targetBytes { stop = true }
        }
        flush()
        return connections.sorted { $0.firstLine < $1.firstLine }
    }
}

/// A small, fast, seedable random number generator (so generated files are reproducible).
public struct SplitMix64 {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
