import CSQLite
import TraceLensInput

/// `records`, one row per record as SQL has always read it, made from the compressed blocks of
/// `record_blocks` (see `RecordBlock`). A read-only SQLite virtual table: each query inflates
/// only the blocks that can hold its rows, found from its constraints on `conn` (through
/// `record_conns`), `source`, `id` and `line`. Every constraint is checked again by SQLite, so
/// the blocks read need only include the rows asked for. Registered on every connection the
/// store opens (`Database.init`); the sqlite3 shell, which lacks it, cannot read `records`.
package enum RecordsTable {
    package static let module = "tracelens_records"

    /// The columns, in the order of the version 4 `records` table (with its generated `function`).
    enum Column: Int32 {
        case id, source, line, lines, time, level, process, thread, fnAt, fnLen, function, conn, failure, codes, text
    }
    static let declaration = """
        CREATE TABLE x(id INTEGER, source INTEGER, line INTEGER, lines INTEGER, time INTEGER, level TEXT, process TEXT, \
        thread TEXT, fn_at INTEGER, fn_len INTEGER, function TEXT, conn INTEGER, failure INTEGER, codes TEXT, text TEXT)
        """

    /// The constraints a plan uses, one bit each, in the order their values reach `xFilter`.
    struct Plan: OptionSet {
        let rawValue: Int32
        static let conn = Plan(rawValue: 1 << 0)
        static let source = Plan(rawValue: 1 << 1)
        static let idFrom = Plan(rawValue: 1 << 2)
        static let idTo = Plan(rawValue: 1 << 3)
        static let idIs = Plan(rawValue: 1 << 4)
        static let lineFrom = Plan(rawValue: 1 << 5)
        static let lineTo = Plan(rawValue: 1 << 6)
        static let lineIs = Plan(rawValue: 1 << 7)
        static let ordered: [Plan] = [.conn, .source, .idFrom, .idTo, .idIs, .lineFrom, .lineTo, .lineIs]

        /// The blocks that can hold the rows: each constraint as a condition on the block's
        /// range, with its value as parameter ?N (N its place in `ordered` among those used).
        var blocksSQL: String {
            var conditions: [String] = []
            var n = 0
            for part in Self.ordered where contains(part) {
                n += 1
                switch part {
                case .conn: conditions.append("id IN (SELECT block FROM record_conns WHERE conn = ?\(n))")
                case .source: conditions.append("source = ?\(n)")
                case .idFrom: conditions.append("last_id >= ?\(n)")
                case .idTo: conditions.append("id <= ?\(n)")
                case .idIs: conditions.append("id <= ?\(n) AND last_id >= ?\(n)")
                case .lineFrom: conditions.append("max_line >= ?\(n)")
                case .lineTo: conditions.append("min_line <= ?\(n)")
                default: conditions.append("min_line <= ?\(n) AND max_line >= ?\(n)")
                }
            }
            let filter = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
            return "SELECT id, source, count, raw_size, data FROM record_blocks\(filter) ORDER BY id"
        }
    }

    /// Registers the module on a connection; SQLite frees it when the connection closes. The
    /// pointer returned says while the module declares its columns (for the authorizer).
    static func register(_ db: OpaquePointer) -> (Int32, UnsafeMutablePointer<tracelens_records_module>) {
        let registration = UnsafeMutablePointer<tracelens_records_module>.allocate(capacity: 1)
        registration.initialize(to: tracelens_records_module())
        let m = UnsafeMutableRawPointer(registration).assumingMemoryBound(to: sqlite3_module.self)
        m.pointee.iVersion = 1
        // The table keeps nothing of its own (the blocks are ordinary tables): create is connect.
        m.pointee.xCreate = { db, context, _, _, table, message in RecordsTable.connect(db, context, table, message) }
        m.pointee.xConnect = { db, context, _, _, table, message in RecordsTable.connect(db, context, table, message) }
        m.pointee.xBestIndex = { _, info in
            guard let info else { return SQLITE_ERROR }
            RecordsTable.bestIndex(info)
            return SQLITE_OK
        }
        m.pointee.xDisconnect = { table in sqlite3_free(table); return SQLITE_OK }
        m.pointee.xDestroy = { table in sqlite3_free(table); return SQLITE_OK }
        m.pointee.xOpen = { table, cursor in
            guard let raw = sqlite3_malloc(Int32(MemoryLayout<tracelens_cursor>.size)) else { return SQLITE_NOMEM }
            let c = raw.bindMemory(to: tracelens_cursor.self, capacity: 1)
            c.initialize(to: tracelens_cursor())
            let db = table!.withMemoryRebound(to: tracelens_vtab.self, capacity: 1) { $0.pointee.db }!
            c.pointee.state = Unmanaged.passRetained(RecordsCursor(db: db)).toOpaque()
            cursor!.pointee = raw.assumingMemoryBound(to: sqlite3_vtab_cursor.self)
            return SQLITE_OK
        }
        m.pointee.xClose = { cursor in
            let c = UnsafeMutableRawPointer(cursor!).assumingMemoryBound(to: tracelens_cursor.self)
            Unmanaged<RecordsCursor>.fromOpaque(c.pointee.state).release()
            sqlite3_free(cursor)
            return SQLITE_OK
        }
        m.pointee.xFilter = { cursor, plan, _, argc, argv in
            let state = RecordsTable.state(cursor)
            let rc = state.filter(Plan(rawValue: plan), argc: argc, argv: argv)
            if rc != SQLITE_OK, let message = state.problem { tracelens_vtab_set_error(cursor!.pointee.pVtab, message) }
            return rc
        }
        m.pointee.xNext = { cursor in
            let state = RecordsTable.state(cursor)
            let rc = state.next()
            if rc != SQLITE_OK, let message = state.problem { tracelens_vtab_set_error(cursor!.pointee.pVtab, message) }
            return rc
        }
        m.pointee.xEof = { cursor in RecordsTable.state(cursor).atEnd ? 1 : 0 }
        m.pointee.xColumn = { cursor, context, column in
            RecordsTable.state(cursor).result(context!, Column(rawValue: column) ?? .text)
            return SQLITE_OK
        }
        m.pointee.xRowid = { cursor, rowid in
            rowid!.pointee = RecordsTable.state(cursor).id
            return SQLITE_OK
        }
        let rc = sqlite3_create_module_v2(db, module, m, UnsafeMutableRawPointer(registration)) { r in
            r?.assumingMemoryBound(to: tracelens_records_module.self).deallocate()
        }
        return (rc, registration)
    }

    private static func connect(_ db: OpaquePointer?, _ context: UnsafeMutableRawPointer?, _ table: UnsafeMutablePointer<UnsafeMutablePointer<sqlite3_vtab>?>?,
                                _ message: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
        let registration = context?.assumingMemoryBound(to: tracelens_records_module.self)
        registration?.pointee.declaring = 1
        let rc = sqlite3_declare_vtab(db, declaration)
        registration?.pointee.declaring = 0
        guard rc == SQLITE_OK else {
            tracelens_set_message(message, "records: " + String(cString: sqlite3_errmsg(db)))
            return rc
        }
        guard let raw = sqlite3_malloc(Int32(MemoryLayout<tracelens_vtab>.size)) else { return SQLITE_NOMEM }
        let v = raw.bindMemory(to: tracelens_vtab.self, capacity: 1)
        v.initialize(to: tracelens_vtab())
        v.pointee.db = db
        table!.pointee = raw.assumingMemoryBound(to: sqlite3_vtab.self)
        return SQLITE_OK
    }

    private static func state(_ cursor: UnsafeMutablePointer<sqlite3_vtab_cursor>?) -> RecordsCursor {
        let c = UnsafeMutableRawPointer(cursor!).assumingMemoryBound(to: tracelens_cursor.self)
        return Unmanaged<RecordsCursor>.fromOpaque(c.pointee.state).takeUnretainedValue()
    }

    /// Picks the constraints that narrow the blocks read, and says what the plan costs: a
    /// connection's blocks are a handful, a source's or an id range's a share of them.
    private static func bestIndex(_ info: UnsafeMutablePointer<sqlite3_index_info>) {
        var plan: Plan = []
        var slots: [(Plan, Int)] = []
        for i in 0..<Int(info.pointee.nConstraint) {
            let c = info.pointee.aConstraint[i]
            guard c.usable != 0, let column = Column(rawValue: c.iColumn) else { continue }
            let op = Int32(c.op)
            let eq = op == SQLITE_INDEX_CONSTRAINT_EQ
            let from = op == SQLITE_INDEX_CONSTRAINT_GE || op == SQLITE_INDEX_CONSTRAINT_GT
            let to = op == SQLITE_INDEX_CONSTRAINT_LE || op == SQLITE_INDEX_CONSTRAINT_LT
            let part: Plan?
            switch column {
            case .conn: part = eq ? .conn : nil
            case .source: part = eq ? .source : nil
            case .id: part = eq ? .idIs : from ? .idFrom : to ? .idTo : nil
            case .line: part = eq ? .lineIs : from ? .lineFrom : to ? .lineTo : nil
            default: part = nil
            }
            guard let part, !plan.contains(part) else { continue }
            plan.insert(part)
            slots.append((part, i))
        }
        // Values reach xFilter in `Plan.ordered` order.
        var argument: Int32 = 0
        for part in Plan.ordered where plan.contains(part) {
            let i = slots.first { $0.0 == part }!.1
            argument += 1
            info.pointee.aConstraintUsage[i].argvIndex = argument
            info.pointee.aConstraintUsage[i].omit = 0   // SQLite checks each row again
        }
        var rows = 10_000_000.0
        if plan.contains(.conn) { rows = 100 }
        if plan.contains(.idIs) { rows = min(rows, 1) }
        if plan.contains(.source) { rows /= 10 }
        if !plan.isDisjoint(with: [.idFrom, .idTo]) { rows /= 20 }
        if !plan.isDisjoint(with: [.lineFrom, .lineTo, .lineIs]) { rows /= 20 }
        info.pointee.idxNum = plan.rawValue
        info.pointee.estimatedRows = sqlite3_int64(max(rows, 1))
        info.pointee.estimatedCost = max(rows, 1)
        // Rows come in id order (blocks in id order, records in order within each).
        if info.pointee.nOrderBy == 1, info.pointee.aOrderBy[0].iColumn == Column.id.rawValue, info.pointee.aOrderBy[0].desc == 0 {
            info.pointee.orderByConsumed = 1
        }
    }
}

/// One scan of `records`: the blocks its plan selects, inflated one at a time.
final class RecordsCursor {
    private let db: OpaquePointer
    private var blocks: OpaquePointer?
    private var preparedPlan: Int32 = -1
    private var compressed: [UInt8] = []
    private var raw: [UInt8] = []
    private var rows: [RecordBlock.Row] = []
    private var index = 0
    private var firstID: Int64 = 0
    private var source: Int64 = 0
    private(set) var atEnd = true
    /// What went wrong, for SQLite's error message.
    private(set) var problem: String?

    init(db: OpaquePointer) { self.db = db }

    deinit { sqlite3_finalize(blocks) }

    var id: Int64 { firstID + Int64(index) }

    func filter(_ plan: RecordsTable.Plan, argc: Int32, argv: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
        if preparedPlan != plan.rawValue {
            sqlite3_finalize(blocks)
            blocks = nil
            preparedPlan = -1
            var stmt: OpaquePointer?
            let rc = sqlite3_prepare_v3(db, plan.blocksSQL, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
            guard rc == SQLITE_OK else {
                problem = "records: cannot read record_blocks: " + String(cString: sqlite3_errmsg(db))
                return rc
            }
            blocks = stmt
            preparedPlan = plan.rawValue
        }
        sqlite3_reset(blocks)
        sqlite3_clear_bindings(blocks)
        for i in 0..<Int(argc) { sqlite3_bind_value(blocks, Int32(i + 1), argv![i]) }
        rows.removeAll(keepingCapacity: true)
        index = 0
        atEnd = false
        return loadBlock()
    }

    func next() -> Int32 {
        index += 1
        return index < rows.count ? SQLITE_OK : loadBlock()
    }

    /// Steps to the next block with records and reads it; at the end, `atEnd`.
    private func loadBlock() -> Int32 {
        while true {
            let rc = sqlite3_step(blocks)
            if rc == SQLITE_DONE { atEnd = true; return SQLITE_OK }
            guard rc == SQLITE_ROW else {
                problem = "records: " + String(cString: sqlite3_errmsg(db))
                return rc
            }
            firstID = sqlite3_column_int64(blocks, 0)
            source = sqlite3_column_int64(blocks, 1)
            let count = sqlite3_column_int64(blocks, 2)
            let size = sqlite3_column_int64(blocks, 3)
            let n = Int(sqlite3_column_bytes(blocks, 4))
            let data = UnsafeRawBufferPointer(start: sqlite3_column_blob(blocks, 4), count: n)
            guard count >= 0, count < Int64(Int32.max), size >= 0, size <= Int64(Deflate.maxInflated),
                  Deflate.inflate(data, size: Int(size), into: &raw),
                  RecordBlock.decode(raw, count: Int(count), into: &rows) else {
                problem = "records: record block \(firstID) is damaged (its compressed records do not read back); the store may be recovered with `sqlite3 .recover`, or ingest into a new --db"
                return SQLITE_CORRUPT
            }
            index = 0
            if !rows.isEmpty { return SQLITE_OK }
        }
    }

    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    func result(_ context: OpaquePointer, _ column: RecordsTable.Column) {
        let row = rows[index]
        func int(_ v: Int64?) { if let v { sqlite3_result_int64(context, v) } else { sqlite3_result_null(context) } }
        func text(_ r: Range<Int>?) {
            guard let r else { sqlite3_result_null(context); return }
            raw.withUnsafeBytes { b in
                guard let start = b.baseAddress, !r.isEmpty else { return sqlite3_result_text(context, "", 0, Self.transient) }
                sqlite3_result_text64(context, (start + r.lowerBound).assumingMemoryBound(to: CChar.self), sqlite3_uint64(r.count), Self.transient, UInt8(SQLITE_UTF8))
            }
        }
        switch column {
        case .id: int(id)
        case .source: int(source)
        case .line: int(Int64(row.line))
        case .lines: int(Int64(row.lines))
        case .time: int(row.time)
        case .level: text(row.level)
        case .process: text(row.process)
        case .thread: text(row.thread)
        case .fnAt: int(row.functionAt.map(Int64.init))
        case .fnLen: int(row.functionLength.map(Int64.init))
        case .function:
            // What version 4's generated column gave: the name's bytes cut from the text.
            guard let at = row.functionAt, let length = row.functionLength else { return text(nil) }
            let start = min(row.text.lowerBound + at, row.text.upperBound)
            text(start..<min(start + length, row.text.upperBound))
        case .conn: int(row.conn)
        case .failure: int(row.failure ? 1 : 0)
        case .codes: text(row.codes)
        case .text: text(row.text)
        }
    }
}
