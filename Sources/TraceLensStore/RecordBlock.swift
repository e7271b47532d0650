import TraceLensInput

/// Records as the store keeps them: consecutive records of one source packed into a block of
/// about `targetBytes`, compressed with zlib, one `record_blocks` row per block. A row per
/// record cost more than the trace itself (1.8× its size, and most of the writer's time); a
/// block costs about a ninth of its text. The `records` virtual table reads blocks back as rows.
///
/// A block is a varint (the length of the fields part), the fields of every record, then the
/// text of every record: fields and texts apart, so that zlib finds each one's repeats (5.8:1
/// mixed, 8:1 apart, measured on the bench trace). A record's fields: a varint of which optional
/// fields follow (`Present`), the line as a difference from the record before, the line count,
/// each present field, the text's length. Integers are zigzag varints; a text field is a varint
/// length and the bytes.
package enum RecordBlock {
    /// Raw bytes per block before compression: big enough for zlib to find the repeats of a
    /// trace (its window is 32 KB), small enough that `show` inflates little beyond its records.
    package static let targetBytes = 64 << 10

    struct Present: OptionSet {
        let rawValue: UInt64
        static let time = Present(rawValue: 1 << 0)
        static let level = Present(rawValue: 1 << 1)
        static let process = Present(rawValue: 1 << 2)
        static let thread = Present(rawValue: 1 << 3)
        static let function = Present(rawValue: 1 << 4)
        static let conn = Present(rawValue: 1 << 5)
        static let codes = Present(rawValue: 1 << 6)
        static let failure = Present(rawValue: 1 << 7)
    }

    /// One record read back: numbers, and text fields as ranges into the block's bytes.
    package struct Row {
        package var line = 0
        package var lines = 0
        package var time: Int64?
        package var level: Range<Int>?
        package var process: Range<Int>?
        package var thread: Range<Int>?
        package var functionAt: Int?
        package var functionLength: Int?
        package var conn: Int64?
        package var failure = false
        package var codes: Range<Int>?
        package var text: Range<Int> = 0..<0
    }

    /// Builds one block. Append records, then take `raw` (compress it) and `reset`.
    package struct Encoder {
        /// The fields part, and the texts part (`raw` joins them).
        private var fields: [UInt8] = []
        private var texts: [UInt8] = []
        package private(set) var count = 0
        /// The range of lines and times it holds (for retention and line constraints; records
        /// come in file order, but a reader may hold one back, so these are not first and last).
        package private(set) var minLine = 0, maxLine = 0
        package private(set) var minTime: Int64?, maxTime: Int64?
        /// The connections whose records the block holds (for `record_conns`).
        package private(set) var conns: Set<Int64> = []
        private var previousLine = 0
        private var previousTime: Int64 = 0

        package init() {
            fields.reserveCapacity(RecordBlock.targetBytes / 4)
            texts.reserveCapacity(RecordBlock.targetBytes + 4096)
        }

        package var isFull: Bool { fields.count + texts.count >= RecordBlock.targetBytes }

        /// The block's bytes, before compression.
        package var raw: [UInt8] {
            var out: [UInt8] = []
            out.reserveCapacity(fields.count + texts.count + 10)
            Self.putVarint(UInt64(fields.count), into: &out)
            out += fields
            out += texts
            return out
        }

        package mutating func reset() {
            fields.removeAll(keepingCapacity: true)
            texts.removeAll(keepingCapacity: true)
            count = 0
            minTime = nil
            maxTime = nil
            conns.removeAll(keepingCapacity: true)
            previousLine = 0
            previousTime = 0
        }

        package mutating func append(line: Int, lines: Int, time: Int64?, level: UnsafeRawBufferPointer?, process: UnsafeRawBufferPointer?,
                                     thread: UnsafeRawBufferPointer?, function: (at: Int, length: Int)?, conn: Int64?, failure: Bool,
                                     codes: UnsafeRawBufferPointer?, text: UnsafeRawBufferPointer) {
            var present: Present = []
            if time != nil { present.insert(.time) }
            if level != nil { present.insert(.level) }
            if process != nil { present.insert(.process) }
            if thread != nil { present.insert(.thread) }
            if function != nil { present.insert(.function) }
            if conn != nil { present.insert(.conn) }
            if codes != nil { present.insert(.codes) }
            if failure { present.insert(.failure) }
            putVarint(present.rawValue)
            putSigned(Int64(line &- previousLine))
            previousLine = line
            putVarint(UInt64(max(lines, 0)))
            if let time {
                putSigned(time &- previousTime)
                previousTime = time
                minTime = Swift.min(minTime ?? time, time)
                maxTime = Swift.max(maxTime ?? time, time)
            }
            if let level { putText(level) }
            if let process { putText(process) }
            if let thread { putText(thread) }
            if let function { putVarint(UInt64(max(function.at, 0))); putVarint(UInt64(max(function.length, 0))) }
            if let conn { putSigned(conn); conns.insert(conn) }
            if let codes { putText(codes) }
            putVarint(UInt64(text.count))
            texts.append(contentsOf: text)
            minLine = count == 0 ? line : Swift.min(minLine, line)
            maxLine = count == 0 ? line : Swift.max(maxLine, line)
            count += 1
        }

        private mutating func putVarint(_ v: UInt64) { Self.putVarint(v, into: &fields) }

        private static func putVarint(_ v: UInt64, into bytes: inout [UInt8]) {
            var v = v
            while v >= 0x80 {
                bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
                v >>= 7
            }
            bytes.append(UInt8(v))
        }

        private mutating func putSigned(_ v: Int64) { putVarint(UInt64(bitPattern: (v << 1) ^ (v >> 63))) }

        private mutating func putText(_ bytes: UnsafeRawBufferPointer) {
            putVarint(UInt64(bytes.count))
            fields.append(contentsOf: bytes)
        }
    }

    /// Reads every record of an inflated block into `rows` (reused); false when the bytes do not
    /// hold exactly `count` well-formed records (a damaged block), with `rows` then undefined.
    package static func decode(_ raw: [UInt8], count: Int, into rows: inout [Row]) -> Bool {
        rows.removeAll(keepingCapacity: true)
        guard count >= 0 else { return false }
        return raw.withUnsafeBufferPointer { bytes -> Bool in
            var reader = Reader(bytes: bytes)
            guard let length = reader.varint(), length <= UInt64(bytes.count - reader.at) else { return false }
            let fieldsEnd = reader.at + Int(length)
            reader = Reader(bytes: UnsafeBufferPointer(rebasing: bytes[..<fieldsEnd]), at: reader.at)
            var textAt = fieldsEnd
            var line = 0
            var time: Int64 = 0
            for _ in 0..<count {
                guard let mask = reader.varint() else { return false }
                let present = Present(rawValue: mask)
                var row = Row()
                guard let dl = reader.signed(), let lines = reader.varint(), lines <= UInt64(Int.max) else { return false }
                line = line &+ Int(truncatingIfNeeded: dl)
                row.line = line
                row.lines = Int(lines)
                if present.contains(.time) {
                    guard let dt = reader.signed() else { return false }
                    time = time &+ dt
                    row.time = time
                }
                if present.contains(.level) { guard let r = reader.text() else { return false }; row.level = r }
                if present.contains(.process) { guard let r = reader.text() else { return false }; row.process = r }
                if present.contains(.thread) { guard let r = reader.text() else { return false }; row.thread = r }
                if present.contains(.function) {
                    guard let at = reader.varint(), let length = reader.varint(), at <= UInt64(Int32.max), length <= UInt64(Int32.max) else { return false }
                    row.functionAt = Int(at)
                    row.functionLength = Int(length)
                }
                if present.contains(.conn) { guard let c = reader.signed() else { return false }; row.conn = c }
                row.failure = present.contains(.failure)
                if present.contains(.codes) { guard let r = reader.text() else { return false }; row.codes = r }
                guard let n = reader.varint(), n <= UInt64(bytes.count - textAt) else { return false }
                row.text = textAt..<(textAt + Int(n))
                textAt += Int(n)
                rows.append(row)
            }
            return reader.at == fieldsEnd && textAt == bytes.count
        }
    }

    /// Bounds-checked reads over a block's bytes.
    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var at = 0

        mutating func varint() -> UInt64? {
            var v: UInt64 = 0
            var shift: UInt64 = 0
            while at < bytes.count, shift < 64 {
                let b = bytes[at]
                at += 1
                v |= UInt64(b & 0x7F) << shift
                if b < 0x80 { return v }
                shift += 7
            }
            return nil
        }

        mutating func signed() -> Int64? {
            guard let u = varint() else { return nil }
            return Int64(bitPattern: u >> 1) ^ -Int64(bitPattern: u & 1)
        }

        mutating func text() -> Range<Int>? {
            guard let n = varint(), n <= UInt64(bytes.count - at) else { return nil }
            let start = at
            at += Int(n)
            return start..<at
        }
    }
}

/// Writes blocks: compresses what the encoder holds into a `record_blocks` row, with a
/// `record_conns` row for each connection in it. Record ids only rise: they go on from the
/// highest ever given (`sequences`), so a tail read again or a store emptied by retention never
/// gives an id twice, and an export cursor on ids misses nothing.
package final class RecordBlockWriter {
    private let db: Database
    private let insertBlock: Statement
    private let insertConn: Statement
    private let lastID: Statement
    /// nil while upgrading a store older than `sequences` (the old ids are kept as they were).
    private let raiseHighest: Statement?
    package var encoder = RecordBlock.Encoder()
    /// The id the next record gets (read again by `begin`, as another writer may have written).
    package private(set) var nextID: Int64 = 1

    package init(db: Database, keepsSequence: Bool = true) throws {
        self.db = db
        insertBlock = try db.prepare("""
            INSERT INTO record_blocks (id, source, last_id, count, min_line, max_line, min_time, max_time, raw_size, data)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
            """)
        insertConn = try db.prepare("INSERT OR IGNORE INTO record_conns (conn, block) VALUES (?1, ?2)")
        lastID = try db.prepare(keepsSequence
            ? "SELECT max(coalesce((SELECT last_id FROM record_blocks ORDER BY id DESC LIMIT 1), 0), (SELECT value FROM sequences WHERE name = 'record'))"
            : "SELECT last_id FROM record_blocks ORDER BY id DESC LIMIT 1")
        raiseHighest = keepsSequence ? try db.prepare("UPDATE sequences SET value = ?1 WHERE name = 'record' AND value < ?1") : nil
    }

    /// Starts a batch (inside its transaction): the next id follows the highest given.
    package func begin() throws {
        try lastID.bind([])
        nextID = try lastID.step() ? lastID.int64(0) + 1 : 1
        encoder.reset()
    }

    /// Gives the next block's first record this id (the upgrade keeps the old ids).
    package func restart(at id: Int64) {
        encoder.reset()
        nextID = id
    }

    /// Writes the block being built, if it holds anything.
    package func flush(source: Int64) throws {
        guard encoder.count > 0 else { return }
        let e = encoder
        let raw = e.raw
        let data = raw.withUnsafeBytes { Deflate.compress($0) }
        let first = nextID
        let last = first + Int64(e.count) - 1
        try insertBlock.bind([.int(first), .int(source), .int(last), .int(Int64(e.count)),
                              .int(Int64(e.minLine)), .int(Int64(e.maxLine)), e.minTime.map(SQLValue.int) ?? .null,
                              e.maxTime.map(SQLValue.int) ?? .null, .int(Int64(raw.count)), .blob(data)])
        try insertBlock.run()
        for conn in e.conns {
            try insertConn.bind([.int(conn), .int(first)])
            try insertConn.run()
        }
        if let raiseHighest {
            try raiseHighest.bind([.int(last)])
            try raiseHighest.run()
        }
        nextID += Int64(e.count)
        encoder.reset()
    }
}
