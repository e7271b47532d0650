import Foundation
import XCTest
@testable import TraceLensQuery
@testable import TraceLensCommands

/// `export --pcap`: the packets (checksums, sequence numbers), connections without bytes, bad
/// input, and the file as tshark reads it against what `show` printed.
final class ExportTests: XCTestCase {
    // MARK: The writer

    /// A frame of a pcap file: its time and bytes.
    struct Frame { var micros: Int64; var bytes: [UInt8] }

    /// The frames of a classic little-endian pcap file (what PcapWriter writes).
    static func frames(_ file: [UInt8]) -> [Frame] {
        func le32(_ at: Int) -> UInt32 { UInt32(file[at]) | UInt32(file[at + 1]) << 8 | UInt32(file[at + 2]) << 16 | UInt32(file[at + 3]) << 24 }
        var out: [Frame] = []
        var at = 24
        while at + 16 <= file.count {
            let length = Int(le32(at + 8))
            out.append(Frame(micros: Int64(le32(at)) * 1_000_000 + Int64(le32(at + 4)), bytes: Array(file[(at + 16)..<(at + 16 + length)])))
            at += 16 + length
        }
        return out
    }

    /// The TCP fields of an Ethernet + IPv4 frame.
    struct Segment { var srcPort: Int; var seq: UInt32; var ack: UInt32; var flags: UInt8; var payload: [UInt8] }
    static func segment(_ f: Frame) -> Segment {
        let t = Array(f.bytes[34...])
        func be32(_ at: Int) -> UInt32 { UInt32(t[at]) << 24 | UInt32(t[at + 1]) << 16 | UInt32(t[at + 2]) << 8 | UInt32(t[at + 3]) }
        return Segment(srcPort: Int(t[0]) << 8 | Int(t[1]), seq: be32(4), ack: be32(8), flags: t[13], payload: Array(t[20...]))
    }

    /// The ones' complement sum of 16-bit words, written here apart from the writer's: a header
    /// with a right checksum sums to 0xFFFF.
    static func onesSum(_ d: [UInt8]) -> UInt16 {
        var s = 0
        for i in stride(from: 0, to: d.count, by: 2) { s += Int(d[i]) << 8 | (i + 1 < d.count ? Int(d[i + 1]) : 0) }
        while s > 0xffff { s = (s & 0xffff) + (s >> 16) }
        return UInt16(s)
    }

    static let client = TCPConversation.End(ip: [10, 1, 0, 2], port: 42514)
    static let server = TCPConversation.End(ip: [10, 1, 1, 2], port: 1389)

    func testChecksumsAreRight() {
        // The worked example of the IPv4 header checksum (RFC 1071 style): b861.
        let header: [UInt8] = [0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7]
        XCTAssertEqual(PcapWriter.checksum(header), 0xb861)
        var writer = PcapWriter()
        // An odd length, so the padding byte counts.
        writer.add(TCPConversation(client: Self.client, server: Self.server, chunks: [.init(fromClient: true, bytes: [0x16, 0x03, 0x01, 0x00, 0x01, 0x01, 0x02], micros: 1_000_000)]))
        let frames = Self.frames(writer.bytes)
        XCTAssertEqual(frames.count, 7)
        for f in frames {
            let ip = Array(f.bytes[14..<34])
            XCTAssertEqual(Self.onesSum(ip), 0xffff, "IPv4 header checksum")
            let tcp = Array(f.bytes[34...])
            let pseudo = Array(ip[12..<20]) + [0, 6, UInt8(tcp.count >> 8), UInt8(tcp.count & 0xff)]
            XCTAssertEqual(Self.onesSum(pseudo + tcp), 0xffff, "TCP checksum")
            XCTAssertEqual(Int(ip[2]) << 8 | Int(ip[3]), f.bytes.count - 14, "IPv4 total length")
        }
        // The data segment's checksum, computed here from scratch and compared with the one written.
        let data = frames[3].bytes
        var tcp = Array(data[34...])
        let written = UInt16(tcp[16]) << 8 | UInt16(tcp[17])
        tcp[16] = 0; tcp[17] = 0
        let pseudo: [UInt8] = [10, 1, 0, 2, 10, 1, 1, 2, 0, 6, 0, UInt8(tcp.count)]
        XCTAssertEqual(written, ~Self.onesSum(pseudo + tcp))
    }

    func testSequenceNumbersFollowEachSideAcrossChunks() {
        var writer = PcapWriter()
        let big = [UInt8](repeating: 0x17, count: 3000)
        let w = writer.add(TCPConversation(client: Self.client, server: Self.server, chunks: [
            .init(fromClient: true, bytes: big, micros: 5_000_000),
            .init(fromClient: false, bytes: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], micros: nil),
            .init(fromClient: true, bytes: [1, 2, 3, 4, 5], micros: 5_000_100),
        ]))
        XCTAssertEqual(w, PcapWriter.Written(clientSegments: 4, serverSegments: 1))
        let frames = Self.frames(writer.bytes)
        let s = frames.map(Self.segment)
        XCTAssertEqual(s.count, 3 + 5 + 3)
        let c = PcapWriter.clientISN, v = PcapWriter.serverISN
        // SYN, SYN-ACK, ACK.
        XCTAssertEqual([s[0].flags, s[1].flags, s[2].flags], [0x02, 0x12, 0x10])
        XCTAssertEqual([s[0].seq, s[1].seq, s[1].ack, s[2].seq, s[2].ack], [c, v, c + 1, c + 1, v + 1])
        // The 3000 bytes cut at 1400: 1400, 1400, 200.
        XCTAssertEqual(s[3...5].map(\.payload.count), [1400, 1400, 200])
        XCTAssertEqual(s[3...5].map(\.seq), [c + 1, c + 1401, c + 2801])
        XCTAssertTrue(s[3...5].allSatisfy { $0.ack == v + 1 && $0.srcPort == 42514 })
        // The server's answer acknowledges all of it; the client's next bytes follow on.
        XCTAssertEqual([s[6].srcPort, Int(s[6].seq), Int(s[6].ack)], [1389, Int(v + 1), Int(c + 3001)])
        XCTAssertEqual([s[7].seq, s[7].ack], [c + 3001, v + 11])
        // FIN from each side, then the last ACK.
        XCTAssertEqual([s[8].flags, s[9].flags, s[10].flags], [0x11, 0x11, 0x10])
        XCTAssertEqual([s[8].seq, s[9].seq, s[9].ack, s[10].seq, s[10].ack], [c + 3006, v + 11, c + 3007, c + 3007, v + 12])
        // Times: the record's, a chunk without one 1 µs after the one before, never backwards.
        XCTAssertEqual(frames[3].micros, 5_000_000)
        XCTAssertEqual(frames[6].micros, 5_000_003)
        XCTAssertEqual(frames[7].micros, 5_000_100)
        XCTAssertEqual(frames.map(\.micros), frames.map(\.micros).sorted())
        // The file header: magic, 2.4, snaplen 65535, Ethernet.
        XCTAssertEqual(Array(writer.bytes[0..<8]), [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0])
        XCTAssertEqual(Array(writer.bytes[16..<24]), [0xff, 0xff, 0, 0, 1, 0, 0, 0])
    }

    func testAConversationWithoutBytesIsOpeningAndClosingOnly() {
        var writer = PcapWriter()
        let w = writer.add(TCPConversation(client: Self.client, server: Self.server, chunks: [.init(fromClient: true, bytes: [], micros: 7)]))
        XCTAssertEqual(w, PcapWriter.Written())
        XCTAssertEqual(Self.frames(writer.bytes).map { Self.segment($0).flags }, [0x02, 0x12, 0x10, 0x11, 0x11, 0x10])
    }

    func testMessageBodiesAreWrappedInRecords() {
        XCTAssertEqual(ConnectionExport.records(21, [2, 40]), [21, 3, 3, 0, 2, 2, 40])
        let long = ConnectionExport.records(22, [UInt8](repeating: 0, count: 16385))
        XCTAssertEqual(long.count, 16385 + 10)
        XCTAssertEqual(Array(long[0..<5]), [22, 3, 3, 0x40, 0])
        XCTAssertEqual(Array(long[16389..<16394]), [22, 3, 3, 0, 1])
        XCTAssertEqual(ConnectionExport.ipv4("::ffff:10.1.0.2"), [10, 1, 0, 2])
        XCTAssertNil(ConnectionExport.ipv4("2001:db8::1"))
        XCTAssertNil(ConnectionExport.ipv4("ldap.example.com"))
        XCTAssertEqual(ExportRun.madeUpText(["server address", "server port"]), "server address and port made up")
        XCTAssertEqual(ExportRun.madeUpText(["client address, 2001:db8::1", "server port"]), "client address made up for 2001:db8::1, server port made up")
    }

    // MARK: The command

    /// The sample's GSK trace in a store of its own, with one dump changed: the first session's
    /// alert has no hex bytes, and the second session's dumps are gone.
    func store(editing: Bool) throws -> String {
        let dir = Fixtures.tempDir()
        let db = dir + "/t.db"
        var path = Fixtures.sample("revoked-client-cert")
        if editing {
            var text = try String(contentsOfFile: Fixtures.sample("revoked-client-cert/gskssl.65567.trc"), encoding: .utf8)
            let alert = "    00000000: 15030300 02022c                      *......,*"
            XCTAssertTrue(text.contains(alert))
            text = text.replacingOccurrences(of: alert, with: "    00000000: not a byte here", options: [], range: text.range(of: alert))
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            // Thread 4's dump lines (the second session).
            let start = lines.firstIndex { $0.contains("Thd-4") }!
            let end = lines.lastIndex { $0.contains("Thd-4") }!
            lines = lines.enumerated().filter { !($0.offset > start && $0.offset < end && $0.element.hasPrefix("    0000")) }.map(\.element)
            path = dir + "/gskssl.65567.trc"
            try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        }
        let ingest = try Fixtures.runTool(["ingest", "--db", db, "--quiet", path])
        XCTAssertEqual(ingest.status, 0, ingest.stderr)
        return db
    }

    /// The connection ids of the GSK trace's sessions, in order.
    func sessions(_ db: String) throws -> [String] {
        let run = try Fixtures.runTool(["sql", "--db", db, "--csv", "SELECT c.id FROM connections c JOIN sources s ON s.id = c.source WHERE s.layout = 'gsktrace' ORDER BY c.id"])
        XCTAssertEqual(run.status, 0, run.stderr)
        return run.stdout.split(whereSeparator: \.isNewline).dropFirst().map(String.init)
    }

    func testDumpsWithoutBytesAreLeftOutAndSaidSo() throws {
        let db = try store(editing: true)
        let ids = try sessions(db)
        XCTAssertEqual(ids.count, 3)
        let out = Fixtures.tempDir() + "/out.pcap"
        let run = try Fixtures.runTool(["export", "--db", db, "--pcap", out, ids[0], ids[1]])
        XCTAssertEqual(run.status, 0, run.stderr)
        // The first: the ClientHello and ServerHello, the alert's dump without bytes left out.
        XCTAssertTrue(run.stdout.contains("conn \(ids[0]): 10.1.0.2:42514 → 198.51.100.1:443, 1 segment client→server, 1 server→client (server address and port made up); 1 dump record without bytes left out"), run.stdout)
        XCTAssertTrue(run.stdout.contains("conn \(ids[1]): skipped, no dump records with TLS bytes"), run.stdout)
        XCTAssertTrue(run.stdout.contains("wrote \(out): 1 connection, 8 packets"), run.stdout)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: out)))
        XCTAssertEqual(Self.frames(bytes).count, 8)
        // Only the one without bytes: nothing is written, exit 1.
        let none = Fixtures.tempDir() + "/none.pcap"
        let empty = try Fixtures.runTool(["export", "--db", db, "--pcap", none, ids[1]])
        XCTAssertEqual(empty.status, 1, empty.stdout + empty.stderr)
        XCTAssertTrue(empty.stdout.contains("nothing written"), empty.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: none))
    }

    func testBadInputExitsTwo() throws {
        let db = try store(editing: false)
        let dir = Fixtures.tempDir()
        let missing = try Fixtures.runTool(["export", "--db", db, "--pcap", dir + "/x.pcap", "99999"])
        XCTAssertEqual(missing.status, 2, missing.stderr)
        XCTAssertTrue(missing.stderr.contains("no connection 99999"), missing.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.pcap"))
        let id = try sessions(db)[0]
        let unwritable = try Fixtures.runTool(["export", "--db", db, "--pcap", dir + "/no/such/folder/x.pcap", id])
        XCTAssertEqual(unwritable.status, 2, unwritable.stderr)
        XCTAssertTrue(unwritable.stderr.contains("cannot write " + dir + "/no/such/folder/x.pcap: No such file or directory"), unwritable.stderr)
    }

    /// tshark reads the file: the ClientHello's cipher list and the alert are those `show` printed.
    func testTsharkReadsWhatShowPrinted() throws {
        let tshark = ["/usr/bin/tshark", "/usr/local/bin/tshark"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let tshark else {
            return XCTFail("tshark is not installed: apt-get install tshark (.ci/run installs it)")
        }
        let db = try store(editing: false)
        // The failed session of the GSK trace.
        let failed = try Fixtures.runTool(["sql", "--db", db, "--csv", "SELECT c.id FROM connections c JOIN sources s ON s.id = c.source WHERE s.layout = 'gsktrace' AND c.outcome = 'failed' ORDER BY c.id LIMIT 1"])
        guard let id = failed.stdout.split(whereSeparator: \.isNewline).dropFirst().first.map(String.init) else { return XCTFail(failed.stdout + failed.stderr) }
        let show = try Fixtures.runTool(["show", "--db", db, "--color", "never", id])
        XCTAssertEqual(show.status, 0, show.stderr)
        let tlsLines = show.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.hasPrefix("tls: ") }
        guard let hello = tlsLines.first(where: { $0.hasPrefix("tls: ClientHello") || $0.hasPrefix("tls: handshake message 1 ") }),
              let alert = tlsLines.first(where: { $0.hasPrefix("tls: Alert") }) else { return XCTFail(show.stdout) }
        let words = hello.split(separator: " ").map(String.init)
        guard let c = words.firstIndex(of: "ciphers") else { return XCTFail(hello) }
        let shownCiphers = words[(c + 1)...].prefix { $0.count == 4 && $0.allSatisfy(\.isHexDigit) }
        XCTAssertEqual(shownCiphers.count, 28, hello)
        guard let open = alert.lastIndex(of: "("), let shownAlert = Int(alert[alert.index(after: open)...].dropLast()) else { return XCTFail(alert) }

        let out = Fixtures.tempDir() + "/failed.pcap"
        let export = try Fixtures.runTool(["export", "--db", db, "--pcap", out, id])
        XCTAssertEqual(export.status, 0, export.stderr)
        guard let line = export.stdout.split(separator: "\n").first(where: { $0.hasPrefix("conn \(id): ") }),
              let arrow = line.range(of: " → "), let comma = line[arrow.upperBound...].firstIndex(of: ","),
              let port = line[arrow.upperBound..<comma].split(separator: ":").last else { return XCTFail(export.stdout) }

        let child = Process()
        child.executableURL = URL(fileURLWithPath: tshark)
        child.arguments = ["-r", out, "-d", "tcp.port==\(port),tls", "-T", "fields",
                           "-e", "tls.handshake.type", "-e", "tls.handshake.ciphersuite", "-e", "tls.alert_message.desc"]
        let pipe = Pipe()
        child.standardOutput = pipe
        child.standardError = FileHandle.nullDevice   // "Running as user root" and the like
        try child.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        child.waitUntilExit()
        XCTAssertEqual(child.terminationStatus, 0, text)
        let rows = text.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        guard let helloRow = rows.first(where: { $0.count == 3 && $0[0].split(separator: ",").first == "1" }) else { return XCTFail(text) }
        let tsharkCiphers = helloRow[1].split(separator: ",").map { String($0.dropFirst(2)).uppercased() }
        XCTAssertEqual(tsharkCiphers, Array(shownCiphers))
        let alerts = rows.compactMap { $0.count == 3 ? Int($0[2]) : nil }
        XCTAssertEqual(alerts, [shownAlert])
        XCTAssertEqual(shownAlert, 44)
    }
}
