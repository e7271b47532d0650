import Foundation
import SwiftASN1
import TraceLensInput
import TraceLensRecords
import TraceLensDecode
import TraceLensPlugins
import TraceLensHandshake
import TraceLensRender
import TraceLensDiagnose
import TraceLensStore

/// The fuzz targets: one per parser that reads untrusted bytes.
package enum FuzzTargets {
    package static let all: [FuzzTarget] = [template, gzip, ebcdic, records, plugin, cert, tls, blocks]

    // MARK: Targets

    /// Template parsing and matching: the first line is the template, the others are matched.
    package static let template = FuzzTarget(
        name: "template", about: "layout templates: parsing, then matching the lines that follow", inputName: "input.template",
        maxSize: 16 * 1024,
        dictionary: ["{", "}", "{?", "{text}", "{:int}", "{x:hex(8)}", "{y:hex(2-4)}", "{w:word}", "{i:ident}", "{a:ipv4}", "{m:msgid}",
                     "{r:rest}", "{o:one(A|B|C)}", "{t:time(MM/DD/YYYY-hh:mm:ss.f)}", "{t:time(Mon DD hh:mm:ss)}", "\\", " ", "  ", "\n"].map { Array($0.utf8) },
        seeds: { plugins in
            var seeds: [[UInt8]] = []
            let texts = sampleTexts(plugins)
            for (i, format) in plugins.formats.enumerated() {
                let rules = format.records + format.contexts + format.headers + format.continuations.map(\.rule)
                for rule in rules {
                    seeds.append(Array((rule.template.source + "\n").utf8) + texts[i % texts.count].prefix(2048))
                }
            }
            for p in plugins.codePatterns.prefix(40) { seeds.append(Array((p.template.source + "\n").utf8) + texts[0].prefix(2048)) }
            return seeds
        },
        shape: nil,
        run: { _, input in
            let lines = input.split(separator: 0x0A, omittingEmptySubsequences: false)
            guard let first = lines.first else { return }
            let source = String(decoding: first, as: UTF8.self)
            for caseInsensitive in [false, true] {
                let t = try Template(source, caseInsensitive: caseInsensitive)
                var caps = Captures()
                for line in lines.dropFirst() {
                    Array(line).withUnsafeBufferPointer { b in
                        if t.match(b, captures: &caps) != nil {
                            for slot in t.timeSlots { _ = t.time(in: b, slot: slot, captures: caps) }
                        }
                        _ = t.match(b, from: b.count / 2, wholeLine: false, captures: &caps)
                    }
                }
                _ = t.match(String(decoding: lines.last ?? [], as: UTF8.self))
            }
        })

    /// The gzip reader: members, damage, truncation, trailing junk.
    package static let gzip = FuzzTarget(
        name: "gzip", about: "gzip reader (TextReader over .gz: members, damage, cut-short data, junk after the end)", inputName: "input.gz",
        maxSize: 256 * 1024, dictionary: [[0x1F, 0x8B, 0x08, 0x00], [0x1F, 0x8B], [0x03, 0x00], [0x00, 0x00, 0xFF, 0xFF]],
        seeds: { plugins in
            let texts = sampleTexts(plugins)
            return texts.prefix(6).map { Fuzz.gzip(Array($0.prefix(8192))) } + [Fuzz.gzip(texts[0]) + Fuzz.gzip(texts[texts.count - 1])]
        },
        shape: { input, r in
            // Half the inputs are well-formed gzip of mutated text, then damaged the way files are.
            guard r.below(2) == 0 else { return input }
            let plain = Fuzz.gunzipPrefix(input)
            var out = Fuzz.gzip(plain.isEmpty ? input : plain)
            switch r.below(5) {
            case 0: out.removeSubrange(r.below(out.count + 1)...)                   // cut short
            case 1: out += (0..<(1 + r.below(64))).map { _ in UInt8(truncatingIfNeeded: r.next()) }  // trailing junk
            case 2: out += Fuzz.gzip(Array(input.prefix(512)))                      // another member
            case 3 where out.count > 20: out[10 + r.below(out.count - 10)] ^= 0xFF  // damage inside
            default: break
            }
            return out
        },
        run: { context, _ in
            let reader = try TextReader(path: context.work + "/input.gz", chunkSize: 4096)
            var lines = 0
            try reader.forEachLine { _, _ in lines += 1 }
        })

    /// EBCDIC detection and decoding, then the whole record path over the decoded text.
    package static let ebcdic = FuzzTarget(
        name: "ebcdic", about: "EBCDIC (IBM-1047) detection and decoding, then records read from it", inputName: "input.trc",
        maxSize: 64 * 1024, dictionary: [[0x15], [0x25], [0x0D, 0x25], [0x40], [0x4B], [0xC5, 0xD9, 0xD9, 0xD6, 0xD9]],
        seeds: { plugins in
            sampleTexts(plugins).flatMap { text in [toEBCDIC(Array(text.prefix(8192)), lineEnd: 0x15), toEBCDIC(Array(text.prefix(4096)), lineEnd: 0x25)] }
        },
        shape: nil,
        run: { context, input in
            _ = input.withUnsafeBufferPointer { EncodingDetector.detect($0) }
            _ = input.withUnsafeBufferPointer { EncodingDetector.validUTF8($0) }
            let decoded = UnsafeMutablePointer<UInt8>.allocate(capacity: input.count * 2 + 1)
            defer { decoded.deallocate() }
            let n = input.withUnsafeBufferPointer { TextReader.translateEBCDIC($0.baseAddress ?? UnsafePointer(decoded), $0.count, into: decoded) }
            try checkUTF8(UnsafeBufferPointer(start: decoded, count: n), "EBCDIC decoded to invalid UTF-8")
            try readAndRender(context, context.work + "/input.trc")
        })

    /// The record reader with every built-in layout, code decoding, masking and both renderers.
    package static let records = FuzzTarget(
        name: "records", about: "record reader over random bytes with each built-in layout, rendered as text and JSON", inputName: "input.trc",
        maxSize: 64 * 1024,
        dictionary: ["\n", "\r\n", "Thd-", "ERROR", "ENTRY", "EXIT", "INFO", "): ", "0x", "rc=", "00000000: ", "--", "password=", "GSK_"].map { Array($0.utf8) },
        seeds: { plugins in sampleTexts(plugins).map { Array($0.prefix(16 * 1024)) } },
        shape: nil,
        run: { context, input in
            let json = JSONRenderer(plugins: context.plugins)
            let out = ByteBuffer(capacity: 1 << 16)
            var caps = Captures()
            let summary = SourceSummary(path: "input.trc", detected: DetectedText(encoding: .ascii, gzip: false, lineEnd: "LF"))
            for format in context.plugins.formats + [nil] {
                var text = TextRenderer(plugins: context.plugins, colour: format == nil)
                var carry = SecretMasker.Carry()
                for var r in RecordReader.records(in: input, format: format) {
                    _ = context.masker.mask(&r.bytes, captures: &caps, carry: &carry)
                    context.finder.decode(&r, layout: format, captures: &caps)
                    out.removeAll()
                    text.render(r, into: out)
                    out.removeAll()
                    json.render(r, source: summary, into: out)
                    try checkJSON(out)
                }
            }
            try readAndRender(context, context.work + "/input.trc")
        })

    /// The TOML plugin loader: a plugin folder whose plugin.toml is the input.
    package static let plugin = FuzzTarget(
        name: "plugin", about: "TOML plugin loader (TOMLNode, PluginLoader) on a folder with a mutated plugin.toml", inputName: "plugin/plugin.toml",
        maxSize: 64 * 1024,
        dictionary: ["[plugin]\n", "[[format]]\n", "[[catalogue]]\n", "[[code]]\n", "[[sample]]\n", "[[secret]]\n", "[[list]]\n", "[[connection]]\n",
                     "name = ", "\"\"\"", "'''", "= [", "]", "{ ", " }", "=", "\"", "\n", "1979-05-27T07:32:00Z", "inf", "nan", "0x7FFFFFFFFFFFFFFF",
                     "[a.b.c]\n", "[[a.b]]\n", "template = \"{text}\"", "record = \"{time:time(hh:mm:ss)} {level:word} {message}\""].map { Array($0.utf8) },
        seeds: { _ in
            PluginLoader.builtInSources().compactMap { $0.files[PluginLoader.manifest].map { Array($0.utf8) } }
        },
        shape: nil,
        run: { context, input in
            _ = try? TOMLNode.parse(String(decoding: input, as: UTF8.self))
            let dir = context.work + "/plugin"
            // The built-in plugins' catalogue files sit beside the manifest, so a mutated
            // built-in manifest still finds the files it names.
            if !FileManager.default.fileExists(atPath: dir + "/.catalogues-written") {
                for source in PluginLoader.builtInSources() {
                    for (rel, text) in source.files where rel != PluginLoader.manifest {
                        let path = dir + "/" + rel
                        try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                        try? text.write(toFile: path, atomically: false, encoding: .utf8)
                    }
                }
                _ = FileManager.default.createFile(atPath: dir + "/.catalogues-written", contents: nil)
            }
            let (set, _) = CheckedPlugins.load(try PluginLoader.sources(inDirectory: dir))
            _ = set.formats.count
        })

    /// Certificates and CRLs, PEM or DER, and the report written from them.
    package static let cert = FuzzTarget(
        name: "cert", about: "certificate and CRL reader (PEM and DER) and its text and JSON reports", inputName: "input.crt",
        maxSize: 32 * 1024, dictionary: ["-----BEGIN CERTIFICATE-----\n", "-----END CERTIFICATE-----\n", "-----BEGIN X509 CRL-----\n", "-----END X509 CRL-----\n",
                                         "\u{30}\u{00}", "\u{30}\u{80}", "\u{06}\u{03}\u{55}\u{1D}\u{15}"].map { Array($0.utf8) },
        seeds: { _ in [] },
        shape: { input, r in
            // Half the inputs are DER wrapped as PEM (the form users have).
            guard r.below(2) == 0, !input.starts(with: Array("-----".utf8)) else { return input }
            let label = r.below(2) == 0 ? "CERTIFICATE" : "X509 CRL"
            return Array("-----BEGIN \(label)-----\n\(Data(input).base64EncodedString(options: .lineLength64Characters))\n-----END \(label)-----\n".utf8)
        },
        run: { context, _ in
            let inspector = CertificateInspector(plugins: context.plugins, now: Date(timeIntervalSince1970: 1_700_000_000))
            var reports = [try inspector.inspect(path: context.work + "/input.crt")]
            inspector.checkRevocation(&reports, against: reports.flatMap(\.items).filter { $0.kind == "CRL" })
            _ = CertificateInspector.text(reports)
            _ = CertificateInspector.jsonLines(reports)
        })

    /// Record blocks as a damaged store would hold them: the block decoder on the bytes, then
    /// `records` reading them through SQLite, compressed and not. An error is the right answer;
    /// a trap, or a row reaching outside its block, is not.
    package static let blocks = FuzzTarget(
        name: "blocks", about: "record blocks of a damaged store, read back through the records table (RecordBlock, RecordsTable)", inputName: "input.bin",
        maxSize: 16 * 1024,
        dictionary: [[0], [1], [0x7F], [0x80, 0x01], [0xFF, 0xFF, 0xFF, 0xFF, 0x0F], [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]],
        seeds: { _ in
            var encoder = RecordBlock.Encoder()
            let text = Array("03/24/2022-10:07:19 Thd-3 ERROR gsk_secure_socket_init(): <--- Exit status 0x000001af (431)".utf8)
            let codes = Array("[\"!ssl:431\"]".utf8)
            for i in 0..<4 {
                text.withUnsafeBytes { t in codes.withUnsafeBytes { c in
                    encoder.append(line: i + 1, lines: 1, time: 1_648_116_439_000_000, level: UnsafeRawBufferPointer(rebasing: t[26..<31]), process: nil,
                                   thread: UnsafeRawBufferPointer(rebasing: t[20..<25]), function: (32, 22), conn: i % 2 == 0 ? 1 : nil,
                                   failure: i == 3, codes: i == 3 ? c : nil, text: t)
                } }
            }
            return [encoder.raw]
        },
        shape: nil,
        run: { context, input in
            var rows: [RecordBlock.Row] = []
            for count in [0, 1, 4, 40] where RecordBlock.decode(input, count: count, into: &rows) {
                for r in rows {
                    for range in [r.text, r.level, r.process, r.thread, r.codes].compactMap({ $0 }) where range.upperBound > input.count || range.lowerBound < 0 {
                        throw FuzzOracleFailure(description: "a field at \(range) outside the \(input.count)-byte block")
                    }
                }
            }
            // The bytes as a store holds them: once compressed (a block whose records are
            // damaged), once as they are (data that is not zlib).
            let db = context.work + "/blocks.db"
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: db + suffix) }
            do {
                let store = try Store.openForWriting(db)
                try store.db.execute("INSERT INTO sources (id, path) VALUES (1, 'input.trc')")
                let insert = try store.db.prepare("INSERT INTO record_blocks (id, source, last_id, count, min_line, max_line, raw_size, data) VALUES (?1, 1, ?2, ?3, 1, 99, ?4, ?5)")
                let packed = input.withUnsafeBytes { Deflate.compress($0) }
                try insert.bind([.int(1), .int(4), .int(4), .int(Int64(input.count)), .blob(packed)])
                try insert.run()
                try insert.bind([.int(5), .int(44), .int(40), .int(Int64(input.count)), .blob(input)])
                try insert.run()
                try store.db.execute("INSERT INTO record_conns (conn, block) VALUES (1, 1), (1, 5)")
            }
            let reader = try Store.openForReading(db)
            for sql in ["SELECT id, source, line, lines, time, level, process, thread, fn_at, fn_len, function, conn, failure, codes, text FROM records",
                        "SELECT text FROM records WHERE conn = 1", "SELECT count(*) FROM codes"] {
                let q = try reader.db.prepare(sql)
                do {
                    while try q.step() { for i in 0..<q.columnCount { _ = q.value(i) } }
                } catch let e as SQLiteError where e.isCorrupt {
                    continue  // the block said to be damaged: right
                }
            }
        })

    /// TLS bytes from dumps: the record layer and every handshake parser, fed as records in both
    /// directions and in pieces, then the same bytes as dump lines read by the layouts.
    package static let tls = FuzzTarget(
        name: "tls", about: "TLS records and handshake messages read from dumped bytes (TLSConversation, HandshakeDecoder)", inputName: "input.bin",
        maxSize: 24 * 1024,
        dictionary: [[22, 3, 1], [22, 3, 3], [21, 3, 3, 0, 2, 2], [20, 3, 3, 0, 1, 1], [23, 3, 3], [1, 0, 0], [2, 0, 0], [11, 0, 0], [13, 0, 0],
                     [0, 43, 0, 3, 2, 3, 4], [0, 51], [0, 10], [0, 13], [0x30, 0x82]],
        seeds: { _ in
            // A ClientHello with the lists a decoder reads, a ServerHello, an alert.
            let hello: [UInt8] = [22, 3, 1, 0, 0x2F, 1, 0, 0, 0x2B, 3, 3] + Array(repeating: 7, count: 32) + [0, 0, 4, 0, 0x9D, 0, 0x9C, 1, 0]
            return [hello, hello + [21, 3, 3, 0, 2, 2, 40]]
        },
        shape: nil,
        run: { context, input in
            var whole = TLSConversation(), pieces = TLSConversation()
            let names = WireNames(plugins: context.plugins)
            for m in whole.addRecords(input, .received) { _ = names.annotation(m) }
            var at = 0, step = 1
            while at < input.count {
                let end = min(input.count, at + step)
                for m in pieces.addRecords(Array(input[at..<end]), at % 2 == 0 ? .sent : .received) { _ = names.annotation(m) }
                for m in pieces.addContent(UInt8(step % 25), Array(input[at..<end]), version: nil, .sent) { _ = names.annotation(m) }
                at = end; step = step * 3 % 97 + 1
            }
            if whole.pendingBytes(.received) > TLSConversation.maxRecordBody + 5 + TLSConversation.maxHandshake {
                throw FuzzOracleFailure(description: "held \(whole.pendingBytes(.received)) bytes, more than a record and a message")
            }
            // The same bytes as a dump the gsktrace layout reads.
            var text = "03/24/2022-10:07:19 Thd-3 ASCII gsk_read_v3_record(): Received \(input.count) bytes\n"
            for off in stride(from: 0, to: input.count, by: 16) {
                let hex = input[off..<min(off + 16, input.count)].map { String(format: "%02x", $0) }.joined()
                text += "    " + String(format: "%08x", off) + ": " + hex + "\n"
            }
            try Data(text.utf8).write(to: URL(fileURLWithPath: context.work + "/input.trc"))
            try readAndRender(context, context.work + "/input.trc")
        })

    // MARK: Helpers

    /// Small real texts: the built-in plugins' samples and a generated GSK trace.
    package static func sampleTexts(_ plugins: PluginSet) -> [[UInt8]] {
        var texts: [[UInt8]] = []
        for s in plugins.samples { if case let .lines(_, text) = s.kind { texts.append(Array(text.utf8)) } }
        let path = NSTemporaryDirectory() + "tracelens-fuzz-seed-\(Platform.processID).trc"
        if (try? SyntheticTrace(threads: 3, seed: 7).write(to: path, targetBytes: 6000)) != nil, let data = FileManager.default.contents(atPath: path) {
            texts.append(Array(data))
        }
        try? FileManager.default.removeItem(atPath: path)
        return texts.isEmpty ? [Array("10:07:19 ERROR x(): rc=431\n".utf8)] : texts
    }

    /// Latin-1 text to IBM-1047 with the given line end.
    package static func toEBCDIC(_ text: [UInt8], lineEnd: UInt8) -> [UInt8] {
        var reverse = [UInt8](repeating: 0x6F, count: 256)
        for (e, a) in EBCDIC.toLatin1.enumerated() where e != 0x15 && e != 0x25 { reverse[Int(a)] = UInt8(e) }
        return text.map { $0 == 0x0A ? lineEnd : reverse[Int($0)] }
    }

    /// Reads a file through the record stream (detection, decoding, masking) and renders it.
    package static func readAndRender(_ context: FuzzContext, _ path: String) throws {
        var text = TextRenderer(plugins: context.plugins, colour: false)
        let json = JSONRenderer(plugins: context.plugins)
        let out = ByteBuffer(capacity: 1 << 16)
        var summary: SourceSummary?
        var failure: FuzzOracleFailure?
        _ = try context.stream.read(path, source: 0, started: { summary = $0 }) { r in
            out.removeAll()
            text.render(r, into: out)
            out.removeAll()
            json.render(r, source: summary!, into: out)
            if failure == nil { do { try checkJSON(out) } catch let f as FuzzOracleFailure { failure = f } catch {} }
        }
        if let failure { throw failure }
    }

    /// JSON output must be valid UTF-8, and each line one JSON object.
    package static func checkJSON(_ out: ByteBuffer) throws {
        let bytes = UnsafeBufferPointer(start: out.base, count: out.count)
        try checkUTF8(bytes, "JSON output is not valid UTF-8")
        for line in bytes.split(separator: 0x0A) {
            guard (try? JSONSerialization.jsonObject(with: Data(line))) is [String: Any] else {
                throw FuzzOracleFailure(description: "JSON output does not parse: \(String(decoding: line.prefix(200), as: UTF8.self))")
            }
        }
    }

    package static func checkUTF8(_ bytes: UnsafeBufferPointer<UInt8>, _ message: String) throws {
        if String(validating: bytes, as: UTF8.self) == nil { throw FuzzOracleFailure(description: message) }
    }
}
