import XCTest
@testable import TraceLensInput
@testable import TraceLensRecords
@testable import TraceLensDecode
@testable import TraceLensPlugins
@testable import TraceLensHandshake
@testable import TraceLensCorrelate
@testable import TraceLensStore
@testable import TraceLensRender
@testable import TraceLensQuery
@testable import TraceLensDiagnose
@testable import TraceLensCommands

/// TLS messages read from dumped bytes: the dump line forms, records and handshake messages put
/// back together, what is shown, and bytes that are cut or lie.
final class HandshakeTests: XCTestCase {
    // MARK: bytes written by hand, as RFC 8446 / 5246 lay them out

    static func ext(_ type: UInt16, _ data: [UInt8]) -> [UInt8] { be16(type) + be16(UInt16(data.count)) + data }
    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
    static func be24(_ v: Int) -> [UInt8] { [UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    static func record(_ type: UInt8, _ body: [UInt8], version: UInt16 = 0x0303) -> [UInt8] { [type] + be16(version) + be16(UInt16(body.count)) + body }
    static func handshake(_ type: UInt8, _ body: [UInt8]) -> [UInt8] { [type] + be24(body.count) + body }

    static func clientHello(ciphers: [UInt16], extensions: [UInt8] = []) -> [UInt8] {
        var body: [UInt8] = [3, 3] + Array(repeating: 7, count: 32) + [0]
        body += be16(UInt16(ciphers.count * 2)) + ciphers.flatMap(be16) + [1, 0]
        if !extensions.isEmpty { body += be16(UInt16(extensions.count)) + extensions }
        return handshake(1, body)
    }

    static func serverHello(cipher: UInt16, random: [UInt8] = Array(repeating: 9, count: 32), extensions: [UInt8] = []) -> [UInt8] {
        var body: [UInt8] = [3, 3] + random + [0] + be16(cipher) + [0]
        if !extensions.isEmpty { body += be16(UInt16(extensions.count)) + extensions }
        return handshake(2, body)
    }

    /// A ClientHello offering TLS 1.3 and 1.2: two suites, x25519 and secp256r1, two schemes, a
    /// key share for x25519, the server name.
    static var modernHello: [UInt8] {
        let name = Array("ldap.corp.example".utf8)
        let sni = ext(0, be16(UInt16(name.count + 3)) + [0] + be16(UInt16(name.count)) + name)
        let groups = ext(10, be16(4) + [0x00, 0x1D, 0x00, 0x17])
        let sigs = ext(13, be16(4) + [0x08, 0x04, 0x04, 0x03])
        let versions = ext(43, [4, 0x03, 0x04, 0x03, 0x03])
        let share = ext(51, be16(36) + [0x00, 0x1D] + be16(32) + Array(repeating: 1, count: 32))
        return clientHello(ciphers: [0x1302, 0xC02C], extensions: sni + groups + sigs + versions + share)
    }

    var names: WireNames { WireNames(plugins: Fixtures.plugins) }

    func texts(_ messages: [TLSMessage]) -> [String] { messages.map { names.annotation($0).text } }

    // MARK: dump lines

    func bytes(_ line: String) -> [UInt8]? {
        var out: [UInt8] = []
        let found = Array(line.utf8).withUnsafeBufferPointer { DumpBytes.append($0, to: &out) }
        return found ? out : nil
    }

    func testDumpLinesInEveryFormTracesPrintThem() {
        XCTAssertEqual(bytes("    00000000: 16030100 9b010000  *........*"), [0x16, 0x03, 0x01, 0x00, 0x9B, 0x01, 0x00, 0x00])
        XCTAssertEqual(bytes("       00000030: f87e22f2 9f66           *.~\"..f*"), [0xF8, 0x7E, 0x22, 0xF2, 0x9F, 0x66])
        XCTAssertEqual(bytes("    16 03 01 00 d1"), [0x16, 0x03, 0x01, 0x00, 0xD1])
        XCTAssertEqual(bytes("    02"), [0x02])
        // The LDAP server's EBCDIC cipher dump: the text column follows one blank.
        XCTAssertEqual(bytes("00000000: c3f0f2c3 *C02C            *"), [0xC3, 0xF0, 0xF2, 0xC3])
        // A text column without stars, after two blanks, is not read as bytes.
        XCTAssertEqual(bytes("00000000: 0a0b  cafe"), [0x0A, 0x0B])
    }

    func testLinesThatAreNotBytesGiveNone() {
        XCTAssertNil(bytes("    de facto this is prose"))
        XCTAssertNil(bytes("    Protocol  : TLSv1.2"))
        XCTAssertNil(bytes(""))
        XCTAssertNil(bytes("00000000:"))
        XCTAssertNil(bytes("    0 1 2"))
    }

    // MARK: records and messages

    func testAClientHelloIsReadWithEveryListItOffers() {
        var c = TLSConversation()
        let m = c.addRecords(Self.record(22, Self.modernHello, version: 0x0301), .received)
        XCTAssertEqual(m.count, 1)
        XCTAssertEqual(m[0].kind, .handshake(1))
        XCTAssertEqual(m[0].numbers("cipher"), [0x1302, 0xC02C])
        XCTAssertEqual(m[0].numbers("group"), [29, 23])
        XCTAssertEqual(m[0].numbers("key_share"), [29])
        XCTAssertEqual(m[0].numbers("sig_alg"), [0x0804, 0x0403])
        XCTAssertEqual(m[0].numbers("supported_version"), [0x0304, 0x0303])
        XCTAssertEqual(m[0].texts("sni"), ["ldap.corp.example"])
        XCTAssertEqual(m[0].numbers("extension"), [0, 10, 13, 43, 51])
        XCTAssertEqual(m[0].problems, [])
    }

    func testTheLineShownNamesTheOfferAsTheCataloguesDo() {
        var c = TLSConversation()
        let m = c.addRecords(Self.record(22, Self.modernHello, version: 0x0301), .received)
        XCTAssertEqual(texts(m), ["ClientHello TLS 1.2 (supported_versions 1.3,1.2) ciphers 1302 C02C groups x25519 secp256r1 key_share x25519 sig_algs 0804 0403 sni ldap.corp.example"])
        let fields = names.annotation(m[0]).fields
        XCTAssertEqual(fields.first { $0.name == "cipher" }?.values, ["1302", "C02C"])
        XCTAssertEqual(fields.first { $0.name == "cipher" }?.catalogue, "cipher")
        XCTAssertEqual(fields.first { $0.name == "direction" }?.values, ["received"])
    }

    /// One message over three records, and two messages in one record.
    func testMessagesAreReassembledAcrossRecordsAndSplitWithinOne() {
        let hello = Self.modernHello
        var c = TLSConversation()
        let parts = [Array(hello[0..<10]), Array(hello[10..<60]), Array(hello[60...])]
        var seen: [TLSMessage] = []
        for p in parts { seen += c.addRecords(Self.record(22, p), .received) }
        XCTAssertEqual(seen.map(\.kind), [.handshake(1)])
        XCTAssertEqual(seen.first?.numbers("cipher"), [0x1302, 0xC02C])

        // A record cut across two dumps, and ServerHello + ServerHelloDone in one record.
        let flight = Self.record(22, Self.serverHello(cipher: 0xC02C) + Self.handshake(14, []))
        var d = TLSConversation()
        XCTAssertEqual(d.addRecords(Array(flight[0..<7]), .sent), [])
        XCTAssertEqual(d.addRecords(Array(flight[7...]), .sent).map(\.kind), [.handshake(2), .handshake(14)])
    }

    func testAHelloRetryRequestIsToldFromAServerHello() {
        let hrr = HandshakeParser.helloRetryRandom
        let ext = Self.ext(43, [0x03, 0x04]) + Self.ext(51, [0x00, 0x17])
        var c = TLSConversation()
        let m = c.addRecords(Self.record(22, Self.serverHello(cipher: 0x1301, random: hrr, extensions: ext)), .sent)
        XCTAssertEqual(m.map(\.kind), [.helloRetryRequest])
        XCTAssertEqual(texts(m), ["HelloRetryRequest TLS 1.3 cipher 1301 TLS_AES_128_GCM_SHA256 key_share secp256r1"])
    }

    /// After ChangeCipherSpec (TLS 1.2) a side's records are encrypted; TLS 1.3 records after
    /// the ServerHello say so by their type.
    func testEncryptedRecordsAreShownAsSuch() {
        var c = TLSConversation()
        _ = c.addRecords(Self.record(20, [1]), .sent)
        let m = c.addRecords(Self.record(22, Array(repeating: 0xAB, count: 40)) + Self.record(23, Array(repeating: 0xCD, count: 33)), .sent)
        XCTAssertEqual(m.map(\.kind), [.encrypted(22), .encrypted(23)])
        XCTAssertEqual(m.map(\.length), [40, 33])
        // The other side has not changed keys: its records are read.
        XCTAssertEqual(c.addRecords(Self.record(21, [2, 40]), .received).map { $0.numbers("alert") }, [[40]])
    }

    // MARK: hostile bytes

    func testBytesThatAreNotTLSAreSaidSoAndDropped() {
        var c = TLSConversation()
        let m = c.addRecords(Array("GET / HTTP/1.1\r\n".utf8), .received)
        XCTAssertEqual(m.map(\.kind), [.notTLS])
        XCTAssertTrue(m[0].problems[0].hasPrefix("not a TLS record (content type 71"), m[0].problems[0])
        XCTAssertEqual(c.pendingBytes(.received), 0)
    }

    func testLengthsThatLieGiveANoteNotACrash() {
        var c = TLSConversation()
        // A handshake message claiming 16 MB.
        let m = c.addRecords(Self.record(22, [1, 0xFF, 0xFF, 0xFF, 3, 3]), .received)
        XCTAssertEqual(m.count, 1)
        XCTAssertTrue(m[0].problems[0].contains("more than a handshake message can be"), m[0].problems[0])
        // A ClientHello whose cipher list runs past its end.
        var d = TLSConversation()
        var body: [UInt8] = [3, 3] + Array(repeating: 0, count: 32) + [0] + [0x00, 0x40, 0xC0, 0x2C]
        body += [1, 0]
        let n = d.addRecords(Self.record(22, Self.handshake(1, body)), .received)
        XCTAssertEqual(n.count, 1)
        XCTAssertTrue(n[0].problems.first?.hasPrefix("ends early") ?? false, "\(n[0].problems)")
        XCTAssertTrue(texts(n)[0].contains("[ends early"), texts(n)[0])
        // A record longer than TLS allows.
        var e = TLSConversation()
        XCTAssertEqual(e.addRecords([22, 3, 3, 0xFF, 0xFF, 1], .received).map(\.kind), [.notTLS])
    }

    func testACutRecordIsReportedWhenTheNextDumpStartsARecord() throws {
        let decoder = HandshakeDecoder(plugins: Fixtures.plugins)
        let hello = Self.record(22, Self.modernHello)
        let cut = Array(hello[0..<40])
        let text = Self.gskDump(1, "gsk_read_v3_record", cut) + Self.gskDump(3, "gsk_read_v3_record", Self.record(21, [2, 40]))
        let records = Self.read(text, with: decoder)
        XCTAssertEqual(records.flatMap { $0.annotations.map(\.text) }, [
            "bytes (40 bytes) [a record cut short: 35 of its \(hello.count - 5) bytes]",
            "Alert fatal handshake_failure (40)",
        ])
    }

    /// Random bytes never trap, and never grow what is held past a record and a message.
    func testRandomBytesNeverTrapOrHoldMoreThanAMessage() {
        var rng = SystemRandomNumberGenerator()
        var read = 0
        for _ in 0..<2000 {
            var c = TLSConversation()
            for _ in 0..<4 {
                let n = Int.random(in: 0..<300, using: &rng)
                var bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
                // Often a plausible header, so the parsers below it are reached.
                if n > 6 && Bool.random(using: &rng) { bytes[0] = 22; bytes[1] = 3; bytes[2] = 3; bytes[3] = 0; bytes[4] = UInt8(min(n - 5, 255)) }
                read += c.addRecords(bytes, .received).count
                XCTAssertLessThanOrEqual(c.pendingBytes(.received), TLSConversation.maxRecordBody + 5 + TLSConversation.maxHandshake)
            }
        }
        XCTAssertGreaterThan(read, 1000, "enough inputs reached the parsers")
    }

    // MARK: through the layouts

    /// `Thd-N ASCII function(): text` and its hex lines, as the gsktrace layout reads them.
    static func gskDump(_ line: Int, _ function: String, _ bytes: [UInt8]) -> String {
        var out = "03/24/2022-10:07:19 Thd-3 ASCII \(function)(): \(bytes.count) bytes\n"
        for off in stride(from: 0, to: bytes.count, by: 16) {
            let chunk = bytes[off..<min(off + 16, bytes.count)]
            let groups = stride(from: chunk.startIndex, to: chunk.endIndex, by: 4).map { i in
                chunk[i..<min(i + 4, chunk.endIndex)].map { String(format: "%02x", $0) }.joined()
            }.joined(separator: " ")
            out += "    " + String(format: "%08x", off) + ": " + groups.padding(toLength: 35, withPad: " ", startingAt: 0) + "  *................*\n"
        }
        return out
    }

    static func read(_ text: String, with decoder: HandshakeDecoder) -> [Record] {
        let format = Fixtures.plugins.format(named: "gsktrace")!
        return RecordReader.records(in: Array(text.utf8), format: format).map { r in
            var r = r
            decoder.annotate(&r, source: 0)
            return r
        }
    }

    func testTheDirectionComesFromTheLayoutAndPlaintextDumpsAreLeftAlone() {
        let decoder = HandshakeDecoder(plugins: Fixtures.plugins)
        let text = Self.gskDump(1, "gsk_read_v3_record", Self.record(22, Self.modernHello))
            + Self.gskDump(20, "gsk_write_v3_record", Self.record(22, Self.serverHello(cipher: 0xC02C)))
            + Self.gskDump(40, "gsk_secure_socket_read", Array("0\u{16}\u{02}\u{01}\u{01}`".utf8))
        let records = Self.read(text, with: decoder)
        XCTAssertEqual(records.map { $0.annotations.map { $0.values("direction") } }, [[["received"]], [["sent"]], []])
        XCTAssertEqual(records[1].annotations.first?.text, "ServerHello TLS 1.2 cipher C02C TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384")
    }

    /// A read that redoes a source's last record (a file still growing) adds its bytes once.
    func testARedoneRecordIsNotReadTwice() {
        let decoder = HandshakeDecoder(plugins: Fixtures.plugins)
        let hello = Self.record(22, Self.modernHello)
        let first = Self.read(Self.gskDump(1, "gsk_read_v3_record", Array(hello[0..<50])), with: decoder)
        // System SSL dumps whole records: read alone, this one was cut.
        XCTAssertEqual(first.flatMap { $0.annotations.map { $0.values("message") } }, [["bytes"]])
        // The same record again, now whole.
        let again = Self.read(Self.gskDump(1, "gsk_read_v3_record", hello), with: decoder)
        XCTAssertEqual(again.flatMap { $0.annotations.map { $0.values("message") } }, [["ClientHello"]])
    }

    /// An alert in the bytes is a code of its record: a client transcript's connection fails with it.
    func testAnAlertInTheBytesIsACodeOfItsRecord() throws {
        let decoder = HandshakeDecoder(plugins: Fixtures.plugins)
        let records = Self.read(Self.gskDump(1, "gsk_write_v3_record", Self.record(21, [2, 70])), with: decoder)
        let alert = try XCTUnwrap(Fixtures.plugins.catalogueIndex("alert"))
        XCTAssertEqual(records[0].codes.map { "\($0.catalogue == alert):\($0.value)" }, ["true:\(CodeValue.number(70))"])
    }

    // MARK: real handshakes (Tests/Data/handshakes, made by its make_handshakes.py with openssl)

    static let scenarios = ["tls12-ok", "tls13-ok", "no-common-cipher", "no-common-sigalg", "hrr", "client-cert-refused"]

    static func data(_ path: String) -> String { Fixtures.root + "/Tests/Data/handshakes/" + path }

    /// The `tls:` lines a file gives, with their direction.
    func shown(_ path: String) throws -> [String] {
        var out: [String] = []
        _ = try RecordStream.decoding(Fixtures.plugins).read(path, source: 0) { r in
            for a in r.annotations { out.append((a.values("direction").first ?? "") + " " + a.text) }
        }
        return out
    }

    /// The bytes each side sent, as the relay recorded them on the wire.
    func wire(_ scenario: String) throws -> (client: [UInt8], server: [UInt8]) {
        var c: [UInt8] = [], sv: [UInt8] = []
        for line in try String(contentsOfFile: Self.data(scenario + "/chunks.tsv"), encoding: .utf8).split(separator: "\n").dropFirst() {
            let cols = line.split(separator: "\t")
            guard cols.count == 2 else { continue }
            var bytes: [UInt8] = []
            var i = cols[1].startIndex
            while i < cols[1].endIndex, let j = cols[1].index(i, offsetBy: 2, limitedBy: cols[1].endIndex), let b = UInt8(cols[1][i..<j], radix: 16) { bytes.append(b); i = j }
            if cols[0] == "c2s" { c += bytes } else { sv += bytes }
        }
        return (c, sv)
    }

    /// The server's trace and its CTRACE read the same messages, and they are the messages in the
    /// bytes that went over the wire (read here straight from the relay's record).
    func testRealHandshakesReadTheSameInEveryServerLayoutAsOnTheWire() throws {
        for scenario in Self.scenarios {
            let dir = Self.data(scenario)
            let trace = try XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: dir).first { $0.hasPrefix("gskssl.") })
            let gsk = try shown(dir + "/" + trace)
            XCTAssertEqual(gsk, try shown(dir + "/gsksrvr-ctrace.txt"), scenario)
            XCTAssertFalse(gsk.contains { $0.contains("[") }, "\(scenario): no problems in real bytes: \(gsk)")
            // The wire, from the server's side: it received the client's bytes, sent its own.
            let (client, server) = try wire(scenario)
            var c = TLSConversation()
            var fromWire = c.addRecords(client, .received).map { "received " + names.annotation($0).text }
            fromWire += c.addRecords(server, .sent).map { "sent " + names.annotation($0).text }
            // The trace interleaves the two directions; each direction's order is the wire's.
            XCTAssertEqual(gsk.filter { $0.hasPrefix("received") }, Array(fromWire.filter { $0.hasPrefix("received") }.prefix(gsk.filter { $0.hasPrefix("received") }.count)), scenario)
            XCTAssertEqual(gsk.filter { $0.hasPrefix("sent") }, fromWire.filter { $0.hasPrefix("sent") }, scenario)
        }
    }

    func testEachScenarioShowsWhatDecidedIt() throws {
        func lines(_ scenario: String) throws -> [String] {
            let dir = Self.data(scenario)
            let trace = try XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: dir).first { $0.hasPrefix("gskssl.") })
            return try shown(dir + "/" + trace)
        }
        XCTAssertTrue(try lines("tls12-ok").contains("sent ServerHello TLS 1.2 cipher C02C TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"))
        XCTAssertTrue(try lines("tls12-ok").contains { $0.hasPrefix("received Certificate CN=ecec,O=cpwebuser,C=GB issued by CN=SSCA256") })
        XCTAssertTrue(try lines("tls13-ok").contains { $0.hasPrefix("sent ServerHello TLS 1.3 cipher 1302") && $0.hasSuffix("key_share x25519") })
        XCTAssertTrue(try lines("tls13-ok").contains { $0.hasPrefix("sent encrypted application data (") })
        let hrr = try lines("hrr")
        XCTAssertEqual(hrr.filter { $0.contains("Hello") }.map { $0.split(separator: " ").prefix(2).joined(separator: " ") },
                       ["received ClientHello", "sent HelloRetryRequest", "received ClientHello", "sent ServerHello"])
        XCTAssertTrue(hrr.contains { $0.hasPrefix("sent HelloRetryRequest TLS 1.3") && $0.hasSuffix("key_share secp256r1") })
        let offer = try lines("no-common-cipher")
        XCTAssertTrue(offer.contains { $0.hasPrefix("received ClientHello TLS 1.2 ciphers 009D 009C 00FF ") }, "\(offer)")
        XCTAssertEqual(offer.last, "sent Alert fatal handshake_failure (40)")
        XCTAssertEqual(try lines("client-cert-refused").last, "sent Alert fatal unknown_ca (48)")
        XCTAssertTrue(try lines("no-common-sigalg").contains { $0.contains("sig_algs 0804 0805") })
    }

    /// `openssl s_client -msg` prints each message: the client's transcript gives the client's view.
    func testTheClientTranscriptGivesTheSameOfferAsTheServerTrace() throws {
        for scenario in Self.scenarios {
            let dir = Self.data(scenario)
            let trace = try XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: dir).first { $0.hasPrefix("gskssl.") })
            let server = try shown(dir + "/" + trace).filter { $0.hasPrefix("received ClientHello") }.map { String($0.dropFirst("received ".count)) }
            let client = try shown(dir + "/client.txt").filter { $0.hasPrefix("sent ClientHello") }.map { String($0.dropFirst("sent ".count)) }
            XCTAssertEqual(client, server, scenario)
        }
        // TLS 1.3 messages the wire hides, s_client shows decrypted.
        XCTAssertTrue(try shown(Self.data("tls13-ok/client.txt")).contains { $0.hasPrefix("received Certificate CN=ldap.corp.example") })
    }

    func testCutAndCorruptedDumpsSaySoAndGoOn() throws {
        let cut = try shown(Self.data("broken/truncated.trc"))
        XCTAssertTrue(cut.contains { $0.contains("cut short") }, "\(cut)")
        let corrupted = try shown(Self.data("broken/corrupted.trc"))
        XCTAssertTrue(corrupted.contains { $0.contains("[") }, "a problem is named: \(corrupted)")
        XCTAssertTrue(corrupted.contains { $0.hasPrefix("received ClientHello") }, "what could be read is: \(corrupted)")
    }

    /// Once the ClientHello says which side is the client, every message says who sent it, and
    /// the client's certificate says its key type.
    func testMessagesSayWhoSentThemAndCertificatesTheirKey() throws {
        let dir = Self.data("tls12-ok")
        let trace = try XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: dir).first { $0.hasPrefix("gskssl.") })
        var from: [String] = []
        var keys: [[String]] = []
        _ = try RecordStream.decoding(Fixtures.plugins).read(dir + "/" + trace, source: 0) { r in
            for a in r.annotations {
                from.append((a.values("message").first ?? "") + "@" + (a.values("from").first ?? "?"))
                if a.values("message") == ["Certificate"] { keys.append(a.values("key") + a.values("key_cert_type")) }
            }
        }
        XCTAssertEqual(Array(from.prefix(3)), ["ClientHello@client", "ServerHello@server", "Certificate@server"])
        XCTAssertTrue(from.contains("Certificate@client"))
        XCTAssertEqual(keys, [["EC", "64"], ["EC", "64"]], "the server's and the client's certificates are both EC")
    }
}
