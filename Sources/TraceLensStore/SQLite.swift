import CSQLite
import Foundation
import TraceLensInput

/// A failure from SQLite, with the statement or action that caused it and SQLite's own message.
public struct SQLiteError: Error, CustomStringConvertible {
    public let code: Int32
    public let message: String
    public let context: String

    public var description: String { context.isEmpty ? message : "\(context): \(message)" }

    /// The disk or quota is full.
    public var isFull: Bool { code & 0xFF == SQLITE_FULL }
    /// The file is not a database, or is damaged.
    public var isCorrupt: Bool { code & 0xFF == SQLITE_CORRUPT || code & 0xFF == SQLITE_NOTADB }
    /// The database file is damaged (not merely not a database).
    public var isMalformed: Bool { code & 0xFF == SQLITE_CORRUPT }
    /// Refused by the authorizer (the read-only guard of `sql`).
    public var isDenied: Bool { code & 0xFF == SQLITE_AUTH || message.hasPrefix("not authorized") }
    /// A value was larger than SQLite stores in one value (its length limit, 1 GB by default).
    public var isTooBig: Bool { code & 0xFF == SQLITE_TOOBIG }
    public var isReadOnly: Bool { code & 0xFF == SQLITE_READONLY || code & 0xFF == SQLITE_CANTOPEN || code & 0xFF == SQLITE_PERM }
}

/// A thin wrapper over one SQLite connection: prepared statements, transactions and an
/// authorizer. No ORM: the ingest path binds values straight from record bytes.
public final class Database {
    package let handle: OpaquePointer
    public let path: String
    /// The `records` module registered on this connection (SQLite owns and frees it).
    private let recordsModule: UnsafeMutablePointer<tracelens_records_module>

    /// `immutable`: read-only, and promising SQLite that nothing changes the file, so that it
    /// takes no locks and needs no -shm file (a store in a read-only folder).
    public enum Mode { case readOnly, immutable, readWrite, readWriteCreate }

    /// Process-wide settings, made once before the first connection opens.
    private static let configured: Bool = {
        _ = tracelens_sqlite_disable_memstatus()
        return true
    }()

    public init(path: String, mode: Mode) throws {
        _ = Self.configured
        self.path = path
        var db: OpaquePointer?
        var flags = SQLITE_OPEN_NOMUTEX
        var name = path
        switch mode {
        case .readOnly: flags |= SQLITE_OPEN_READONLY
        case .immutable:
            flags |= SQLITE_OPEN_READONLY | SQLITE_OPEN_URI
            name = "file:" + Self.uriPath(path) + "?immutable=1"
        case .readWrite: flags |= SQLITE_OPEN_READWRITE
        case .readWriteCreate: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
        }
        let rc = sqlite3_open_v2(name, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close_v2(db) }
            throw SQLiteError(code: rc, message: message, context: "cannot open \(path)")
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        // `records` reads the compressed record blocks; every connection of ours can read it.
        let (registered, records) = RecordsTable.register(db)
        recordsModule = records
        guard registered == SQLITE_OK else {
            sqlite3_close_v2(db)
            throw SQLiteError(code: registered, message: "cannot register the records table", context: "cannot open \(path)")
        }
        // A writer holds the lock for one batch; readers and a second writer wait for it.
        sqlite3_busy_timeout(db, 10_000)
    }

    deinit {
        sqlite3_close_v2(handle)
    }

    /// A path as the path part of a `file:` URI: `%`, `?` and `#` escaped.
    package static func uriPath(_ path: String) -> String {
        var out = ""
        for ch in path.unicodeScalars {
            switch ch {
            case "%": out += "%25"
            case "?": out += "%3f"
            case "#": out += "%23"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    package func error(_ rc: Int32, _ context: String) -> SQLiteError {
        SQLiteError(code: rc, message: String(cString: sqlite3_errmsg(handle)), context: context)
    }

    /// Runs one or more statements that return no rows.
    public func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &message)
        if rc != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(message)
            throw SQLiteError(code: rc, message: text, context: Self.brief(sql))
        }
    }

    public func prepare(_ sql: String) throws -> Statement {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error(rc, Self.brief(sql)) }
        return Statement(stmt, db: self, sql: sql)
    }

    /// Prepares exactly one statement from user text (`sql`): nil when the text holds none
    /// (empty, blanks or comments only); `SQLTextProblem.severalStatements` when more follows.
    public func prepareSingle(_ sql: String) throws -> Statement? {
        var stmt: OpaquePointer?
        var rest = ""
        let rc = sql.withCString { text -> Int32 in
            var tail: UnsafePointer<CChar>?
            let rc = sqlite3_prepare_v3(handle, text, -1, 0, &stmt, &tail)
            if let tail { rest = String(cString: tail) }
            return rc
        }
        guard rc == SQLITE_OK else { throw error(rc, Self.brief(sql)) }
        guard let stmt else { return nil }
        let first = Statement(stmt, db: self, sql: sql)
        if !rest.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            // Only blanks and comments may follow (a second prepare says whether there is more).
            var next: OpaquePointer?
            let rc2 = sqlite3_prepare_v3(handle, rest, -1, 0, &next, nil)
            if let next { sqlite3_finalize(next) }
            if rc2 != SQLITE_OK || next != nil { throw SQLTextProblem.severalStatements }
        }
        return first
    }

    /// Lowers the size SQLite accepts for one value (a test stands in a small limit for the
    /// 1 GB default); returns the limit before.
    @discardableResult
    package func limitValueLength(_ bytes: Int32) -> Int32 { sqlite3_limit(handle, SQLITE_LIMIT_LENGTH, bytes) }

    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Runs `body` in one transaction (BEGIN IMMEDIATE, so the write lock is taken up front and
    /// a busy database is waited for at the start, not half-way). Rolls back on any error.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// The first column of the first row of a query, as an integer.
    public func scalar(_ sql: String, _ values: [SQLValue] = []) throws -> Int64? {
        let s = try prepare(sql)
        try s.bind(values)
        return try s.step() ? (s.isNull(0) ? nil : s.int64(0)) : nil
    }

    /// The SQL functions a read-only query may call: SQLite's core scalar, aggregate, window,
    /// date, math and JSON functions. Everything else is refused (fts3_tokenizer, which takes
    /// raw pointers; load_extension; zeroblob/randomblob, which allocate what they are told;
    /// and any function a future SQLite adds until it is looked at).
    public static let readingFunctions: Set<String> = [
        // scalar
        "abs", "char", "coalesce", "concat", "concat_ws", "format", "glob", "hex", "if", "ifnull", "iif", "instr",
        "length", "like", "likelihood", "likely", "lower", "ltrim", "max", "min", "nullif", "octet_length", "printf",
        "quote", "random", "replace", "round", "rtrim", "sign", "soundex", "sqlite_version", "substr", "substring",
        "trim", "typeof", "unhex", "unicode", "unistr", "unistr_quote", "unlikely", "upper",
        // aggregate
        "avg", "count", "group_concat", "median", "percentile", "string_agg", "sum", "total",
        // window
        "row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile", "lag", "lead",
        "first_value", "last_value", "nth_value",
        // date and time
        "date", "time", "datetime", "julianday", "unixepoch", "strftime", "timediff",
        // math
        "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "ceil", "ceiling", "cos", "cosh", "degrees",
        "exp", "floor", "ln", "log", "log10", "log2", "mod", "pi", "pow", "power", "radians", "sin", "sinh", "sqrt",
        "tan", "tanh", "trunc",
        // JSON (the codes view reads records.codes with json_each)
        "json", "jsonb", "json_array", "json_array_length", "json_error_position", "json_extract", "json_insert",
        "json_object", "json_patch", "json_pretty", "json_quote", "json_remove", "json_replace", "json_set",
        "json_type", "json_valid", "json_group_array", "json_group_object", "json_each", "json_tree", "->", "->>",
    ]

    /// Refuses everything but reading: no writes, no ATTACH, no PRAGMA that changes state, and
    /// only the functions in `readingFunctions`. Installed on the connection `sql` uses, on
    /// top of opening the file read-only.
    public func allowReadsOnly() {
        sqlite3_set_authorizer(handle, { records, action, arg1, arg2, _, _ in
            // `records` declaring its columns (a CREATE TABLE of SQLite's own, when it connects).
            if let records, records.assumingMemoryBound(to: tracelens_records_module.self).pointee.declaring != 0 { return SQLITE_OK }
            switch action {
            case SQLITE_SELECT, SQLITE_READ, SQLITE_RECURSIVE:
                return SQLITE_OK
            case SQLITE_FUNCTION:
                // arg2 is the function's name.
                let name = arg2.map { String(cString: $0).lowercased() } ?? ""
                return Database.readingFunctions.contains(name) ? SQLITE_OK : SQLITE_DENY
            case SQLITE_PRAGMA:
                // Reading pragmas such as table_info are fine; setting one is not (checked by
                // the caller refusing '=' forms would be fragile, so allow only known readers).
                let name = arg1.map { String(cString: $0).lowercased() } ?? ""
                return ["table_info", "table_xinfo", "index_list", "index_info", "table_list", "user_version", "schema_version"].contains(name) ? SQLITE_OK : SQLITE_DENY
            default:
                return SQLITE_DENY
            }
        }, UnsafeMutableRawPointer(recordsModule))
    }

    package static func brief(_ sql: String) -> String {
        let oneLine = sql.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
        return oneLine.count > 60 ? String(oneLine.prefix(57)) + "..." : oneLine
    }
}

/// Why the text given to `sql` is not one statement.
public enum SQLTextProblem: Error, CustomStringConvertible {
    case noStatement
    case severalStatements
    /// A dot command other than the two `sql` knows (`.tables`, `.schema [NAME]`).
    case unknownShellCommand(String)
    /// `.schema NAME` for a name that is no table or view of the store.
    case unknownTable(String)

    public var description: String {
        switch self {
        case let .unknownShellCommand(text):
            return "'\(text)': of the sqlite3 shell's dot commands `sql` knows .tables and .schema [TABLE]"
        case let .unknownTable(name):
            return "no table or view named '\(name)' in the store (`tracelens sql .tables` lists them)"

        case .noStatement:
            return "give one SQL statement to run, such as \"SELECT peer_ip, count(*) FROM connections GROUP BY 1\" (tables: sources, records, codes, connections, links; `tracelens sql --help` lists them)"
        case .severalStatements:
            return "give one SQL statement at a time (the text holds more than one; run them one by one)"
        }
    }
}

/// A value to bind or read.
public enum SQLValue: Hashable, Sendable {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    case blob([UInt8])

    /// The value as one line of text for people (tables, restored fields). Stored text is
    /// untrusted: control bytes show as `^[`, `\x9b`; line ends as ⏎.
    public var displayText: String {
        switch self {
        case .null: return ""
        case let .int(i): return String(i)
        case let .double(d): return String(d)
        case let .text(s):
            let shown = TerminalText.visible(s, keepingNewlines: true)
            return shown.utf8.contains(0x0A) ? shown.replacingOccurrences(of: "\n", with: "⏎") : shown
        case let .blob(b): return "x'" + b.map { String(format: "%02x", $0) }.joined() + "'"
        }
    }
}

/// A prepared statement, reused across rows (bind, step, reset).
public final class Statement {
    package let stmt: OpaquePointer
    /// Held strongly: a statement outliving the line that opened its store still reports its errors.
    package let db: Database
    package let sql: String
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    package init(_ stmt: OpaquePointer, db: Database, sql: String) {
        self.stmt = stmt
        self.db = db
        self.sql = sql
    }

    deinit { sqlite3_finalize(stmt) }

    /// The first bind that failed since the statement last ran (a value too big, an index out of
    /// range): the next `step` or `run` reports it instead of running with a NULL in its place.
    private var bindFailure: (code: Int32, index: Int32, bytes: Int)?

    @inline(__always) private func check(_ rc: Int32, _ i: Int32, bytes: Int = 0) {
        if rc != SQLITE_OK && bindFailure == nil { bindFailure = (rc, i, bytes) }
    }

    @inline(__always) public func bind(_ i: Int32, _ v: Int64) { check(sqlite3_bind_int64(stmt, i, v), i) }
    @inline(__always) public func bind(_ i: Int32, _ v: Int) { check(sqlite3_bind_int64(stmt, i, Int64(v)), i) }
    @inline(__always) public func bindNull(_ i: Int32) { check(sqlite3_bind_null(stmt, i), i) }
    /// Binds UTF-8 bytes as TEXT (copied by SQLite, so the buffer may be reused at once).
    /// 64-bit lengths throughout: a huge value is refused by SQLite (TOOBIG), never trapped.
    @inline(__always) public func bindText(_ i: Int32, _ p: UnsafeRawPointer?, _ count: Int) {
        guard let p else { check(sqlite3_bind_text64(stmt, i, "", 0, Self.transient, UInt8(SQLITE_UTF8)), i); return }
        check(sqlite3_bind_text64(stmt, i, p.assumingMemoryBound(to: CChar.self), sqlite3_uint64(count), Self.transient, UInt8(SQLITE_UTF8)), i, bytes: count)
    }
    public func bind(_ i: Int32, _ v: SQLValue) {
        switch v {
        case .null: check(sqlite3_bind_null(stmt, i), i)
        case let .int(x): check(sqlite3_bind_int64(stmt, i, x), i)
        case let .double(x): check(sqlite3_bind_double(stmt, i, x), i)
        case let .text(s):
            var s = s
            s.withUTF8 { u in bindText(i, UnsafeRawPointer(u.baseAddress), u.count) }
        case let .blob(b):
            b.withUnsafeBytes { check(sqlite3_bind_blob64(stmt, i, $0.baseAddress, sqlite3_uint64($0.count), Self.transient), i, bytes: $0.count) }
        }
    }
    public func bind(_ values: [SQLValue]) throws {
        sqlite3_reset(stmt)
        bindFailure = nil
        for (i, v) in values.enumerated() { bind(Int32(i + 1), v) }
        try throwBindFailure()
    }

    /// Reports a failed bind with what it means (a value too big names its size and the limit).
    private func throwBindFailure() throws {
        guard let f = bindFailure else { return }
        bindFailure = nil
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
        let message: String
        if f.code & 0xFF == SQLITE_TOOBIG {
            let limit = sqlite3_limit(db.handle, SQLITE_LIMIT_LENGTH, -1)
            message = "value \(f.index) is \(f.bytes) bytes, more than SQLite stores in one value (\(limit) bytes)"
        } else {
            message = "cannot bind value \(f.index): \(String(cString: sqlite3_errstr(f.code)))"
        }
        throw SQLiteError(code: f.code, message: message, context: Database.brief(sql))
    }

    /// Steps once: true when a row is ready, false when done.
    @discardableResult
    public func step() throws -> Bool {
        if bindFailure != nil { try throwBindFailure() }
        let rc = sqlite3_step(stmt)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        throw db.error(rc, Database.brief(sql))
    }

    /// Runs a statement that returns no rows, then resets it for the next bind.
    @inline(__always) public func run() throws {
        if bindFailure != nil { try throwBindFailure() }
        let rc = sqlite3_step(stmt)
        sqlite3_reset(stmt)
        if rc != SQLITE_DONE && rc != SQLITE_ROW { throw db.error(rc, Database.brief(sql)) }
    }

    public var columnCount: Int32 { sqlite3_column_count(stmt) }
    public func columnName(_ i: Int32) -> String { String(cString: sqlite3_column_name(stmt, i)) }
    public func isNull(_ i: Int32) -> Bool { sqlite3_column_type(stmt, i) == SQLITE_NULL }
    public func int64(_ i: Int32) -> Int64 { sqlite3_column_int64(stmt, i) }
    public func int(_ i: Int32) -> Int { Int(sqlite3_column_int64(stmt, i)) }
    public func string(_ i: Int32) -> String? {
        guard let p = sqlite3_column_text(stmt, i) else { return nil }
        return String(cString: p)
    }
    /// Column `i`'s text as bytes, valid until the statement steps again; nil for NULL.
    package func textBytes(_ i: Int32) -> UnsafeRawBufferPointer? {
        guard sqlite3_column_type(stmt, i) != SQLITE_NULL, let p = sqlite3_column_text(stmt, i) else { return nil }
        return UnsafeRawBufferPointer(start: p, count: Int(sqlite3_column_bytes(stmt, i)))
    }
    public func bytes(_ i: Int32) -> [UInt8] {
        guard let p = sqlite3_column_blob(stmt, i) else { return [] }
        let n = Int(sqlite3_column_bytes(stmt, i))
        return Array(UnsafeRawBufferPointer(start: p, count: n))
    }
    public func value(_ i: Int32) -> SQLValue {
        switch sqlite3_column_type(stmt, i) {
        case SQLITE_NULL: return .null
        case SQLITE_INTEGER: return .int(sqlite3_column_int64(stmt, i))
        case SQLITE_FLOAT: return .double(sqlite3_column_double(stmt, i))
        case SQLITE_BLOB: return .blob(bytes(i))
        default: return .text(string(i) ?? "")
        }
    }

    /// Every remaining row, as values.
    public func rows() throws -> [[SQLValue]] {
        var out: [[SQLValue]] = []
        let n = columnCount
        while try step() { out.append((0..<n).map { value($0) }) }
        return out
    }
}
