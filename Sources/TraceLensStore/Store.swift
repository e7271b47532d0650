import Foundation
import Synchronization
import TraceLensInput
import TraceLensPlugins

/// Why the store could not be used. Each message names the file and says what to do.
public enum StoreError: Error, CustomStringConvertible {
    case missing(path: String)
    case newerSchema(path: String, found: Int32)
    case notAStore(path: String, detail: String)
    case cannotCreate(path: String, reason: String)
    case diskFull(path: String, detail: String)
    case busy(path: String)
    /// SQLite's quick_check found damage: adding to the store would bury it further.
    case damaged(path: String, detail: String)
    /// SIGINT or SIGTERM while waiting for another process's ingest lock: nothing was written.
    case lockWaitStopped(path: String, signal: Int32)
    case other(path: String, detail: String)

    public var description: String {
        switch self {
        case let .missing(path):
            return "\(path): no store here yet; run `tracelens ingest FILE...` first, or name one with --db or TRACELENS_DB"
        case let .newerSchema(path, found):
            return "\(path): written by a newer TraceLens (store version \(found); this one knows up to \(Schema.version)); use that version or a new --db"
        case let .notAStore(path, detail):
            return "\(path): not a TraceLens store, or damaged (\(detail)); nothing was changed. Move it away or use another --db"
        case let .cannotCreate(path, reason):
            return "\(path): cannot create the store: \(reason)"
        case let .diskFull(path, detail):
            return "\(path): the disk is full (\(detail)); the batch being written was rolled back, the store holds everything before it. Free space and run ingest again: it resumes where it stopped"
        case let .busy(path):
            return "\(path): another process holds the store's write lock too long; try again"
        case let .other(path, detail):
            return "\(path): \(detail)"
        case let .damaged(path, detail):
            return "\(path): the store is damaged (integrity check: \(detail)); nothing was added. Queries may still read what is intact; to go on, ingest into a new --db (or recover this one with `sqlite3 \(path) .recover`)"
        case let .lockWaitStopped(path, signal):
            return "\(path): stopped (\(signal == SIGTERM ? "SIGTERM" : "SIGINT")) while waiting for the store lock; nothing was written"
        }
    }

    /// The exit status for a command that ends on this error: 128 + the signal for a stopped
    /// wait (130 for Ctrl-C, 143 for SIGTERM), else 2 (the command could not run).
    public var exitStatus: Int32 {
        if case let .lockWaitStopped(_, signal) = self { return 128 + signal }
        return 2
    }

    /// The store could not be opened because its file or folder is read-only.
    package var isReadOnlyPlace: Bool {
        if case .other(_, let detail) = self { return detail.contains("readonly") || detail.contains("read-only") || detail.contains("unable to open") }
        return false
    }

    package static func wrap(_ e: Error, path: String) -> Error {
        guard let e = e as? SQLiteError else { return e }
        if e.isFull { return StoreError.diskFull(path: path, detail: e.message) }
        if e.isCorrupt { return StoreError.notAStore(path: path, detail: e.message) }
        return StoreError.other(path: path, detail: e.description)
    }
}

/// The SQLite store: opening it (creating it readable by its owner only), checking its version,
/// and the statements the ingest path and the queries share.
public final class Store {
    public let path: String
    public let db: Database
    public let readOnly: Bool

    /// The database path: `--db`, else `TRACELENS_DB`, else `./tracelens.db`.
    public static func defaultPath(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let env = environment["TRACELENS_DB"], !env.isEmpty { return env }
        return "tracelens.db"
    }

    /// Opens the store for queries: read-only, and refusing anything but reads.
    public static func openForReading(_ path: String) throws -> Store {
        guard FileManager.default.fileExists(atPath: path) else { throw StoreError.missing(path: path) }
        func open(_ mode: Database.Mode) throws -> Store {
            let store: Store
            do { store = Store(path: path, db: try Database(path: path, mode: mode), readOnly: true) } catch { throw StoreError.wrap(error, path: path) }
            try store.checkVersion(creating: false)
            return store
        }
        let store: Store
        do {
            store = try open(.readOnly)
        } catch let e as StoreError where e.isReadOnlyPlace && walIsEmpty(path) {
            // A store in a read-only folder (or a read-only file) whose -shm SQLite cannot
            // create: read it as immutable. Only when no -wal holds changes the main file lacks,
            // since an immutable open does not read the -wal.
            _ = e
            store = try open(.immutable)
        }
        store.db.allowReadsOnly()
        return store
    }

    /// True when the store has no -wal file, or an empty one.
    package static func walIsEmpty(_ path: String) -> Bool {
        (Platform.status(path: path + "-wal")?.size ?? 0) == 0
    }

    /// SQLite's quick integrity check, table by table (the `records` virtual table has no pages
    /// of its own: its blocks are checked as `record_blocks`), before anything is added: a store
    /// damaged in the middle is refused instead of being buried under new rows (the time it
    /// takes is measured in docs/architecture.md). WITHOUT ROWID tables get the full
    /// integrity_check: SQLite 3.40's quick_check reports false "NULL value in" rows for a
    /// WITHOUT ROWID table whose primary key lists its columns in another order (conn_keys).
    package static func checkIntegrity(_ store: Store) throws {
        do {
            let tables = try store.db.prepare("SELECT name, sql LIKE '%WITHOUT ROWID%' FROM sqlite_master WHERE type = 'table' AND rootpage > 0 ORDER BY rootpage").rows()
            for row in tables {
                guard case let .text(name) = row[0] else { continue }
                let full = row[1] == .int(1)
                let quoted = "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
                let q = try store.db.prepare("PRAGMA \(full ? "integrity_check" : "quick_check")(\(quoted))")
                guard try q.step() else { continue }
                let verdict = (q.string(0) ?? "").split(whereSeparator: \.isNewline).joined(separator: " ")
                if verdict != "ok" { throw StoreError.damaged(path: store.path, detail: "\(name): \(verdict)") }
            }
        } catch let e as StoreError {
            throw e
        } catch let e as SQLiteError where e.isMalformed {
            throw StoreError.damaged(path: store.path, detail: e.message)
        } catch {
            throw StoreError.wrap(error, path: store.path)
        }
    }

    /// Opens (or creates, mode 0600) the store for ingest.
    public static func openForWriting(_ path: String) throws -> Store {
        let fm = FileManager.default
        let existed = fm.fileExists(atPath: path)
        if !existed {
            // Create the empty file ourselves so that it is owner-only from the first byte;
            // SQLite gives its -wal and -shm files the same mode.
            if let reason = Platform.createOwnerOnlyFile(path) { throw StoreError.cannotCreate(path: path, reason: reason) }
        }
        let db: Database
        do { db = try Database(path: path, mode: .readWrite) } catch {
            if let e = error as? SQLiteError, e.isReadOnly { throw StoreError.cannotCreate(path: path, reason: "read-only file or directory (\(e.message))") }
            throw StoreError.wrap(error, path: path)
        }
        let store = Store(path: path, db: db, readOnly: false)
        if existed { try checkIntegrity(store) }
        try store.checkVersion(creating: true)
        return store
    }

    /// Per-connection settings of a connection that writes (WAL itself is kept in the file). An
    /// 8 MB page cache: records go in as appended blocks, so it mostly serves the connections
    /// (32 MB measured no faster, and 6 MB more resident).
    private static let writingSettings = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-8192; PRAGMA temp_store=MEMORY; PRAGMA wal_autocheckpoint=16384"

    /// A second connection to a store already opened with `openForWriting` (which created,
    /// checked and upgraded it), for the background writer thread to own.
    package static func writerConnection(_ path: String, pageLimit: Int64? = nil) throws -> Database {
        do {
            let db = try Database(path: path, mode: .readWrite)
            try db.execute(writingSettings)
            if let pageLimit { try db.execute("PRAGMA max_page_count = \(pageLimit)") }
            return db
        } catch { throw StoreError.wrap(error, path: path) }
    }

    /// The most pages the store may grow to (SQLite's `max_page_count`, a setting of each
    /// connection): applied here and by every background writer started for this store. A test
    /// stands in a full disk with it; nil is SQLite's own limit.
    package var pageLimit: Int64? {
        didSet { _ = try? db.execute("PRAGMA max_page_count = \(pageLimit ?? Self.sqliteMaxPages)") }
    }
    package static let sqliteMaxPages: Int64 = 4_294_967_294

    private var lockDescriptor: Int32 = -1

    /// Takes the store's ingest lock (an exclusive `flock` on the file, separate from SQLite's
    /// own locks), waiting for another ingest to finish. Connection ids are allocated in memory
    /// by the one writer, so two ingests must not interleave. Released when the store closes.
    ///
    /// While it waits, `waiting` is told once who holds the lock ("process 123 (tracelens)"),
    /// and a SIGINT or SIGTERM (through `stop`) ends the wait with `StoreError.lockWaitStopped`.
    public func lockForIngest(stop: StopSignal? = nil, waiting: (_ holder: String) -> Void = { _ in }) throws {
        guard lockDescriptor < 0 else { return }
        // flock does not see a second lock taken by this same process as "its own": it would
        // wait for ever. Refuse that case instead.
        let key = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let fresh = Store.lockedPaths.withLock { $0.insert(key).inserted }
        guard fresh else { throw StoreError.other(path: path, detail: "this process is already ingesting into this store") }
        let fd = Platform.openForReading(path)
        guard fd >= 0 else {
            Store.lockedPaths.withLock { _ = $0.remove(key) }
            throw StoreError.other(path: path, detail: "cannot open for locking: \(Platform.errorText(Platform.lastError))")
        }
        func giveUp(_ error: StoreError) -> StoreError {
            Platform.close(fd)
            Store.lockedPaths.withLock { _ = $0.remove(key) }
            return error
        }
        var told = false
        // Non-blocking tries, so that a stop request is seen within a tenth of a second (a
        // blocking flock would sleep through the signals StopSignal turns into requests).
        waiting: while true {
            switch Platform.tryExclusiveLock(fd) {
            case .taken: break waiting
            case .heldElsewhere: break
            case let .failed(reason): throw giveUp(StoreError.other(path: path, detail: "cannot lock: \(reason)"))
            }
            if !told {
                told = true
                waiting(StoreLockHolder.describe(descriptor: fd))
            }
            if let stop, stop.requested { throw giveUp(StoreError.lockWaitStopped(path: path, signal: stop.stoppingSignal ?? Platform.Signal.interrupt)) }
            Platform.sleep(seconds: 0.1)
        }
        lockDescriptor = fd
        lockKey = key
    }

    private var lockKey: String?
    private static let lockedPaths = LockedSet()

    deinit {
        if lockDescriptor >= 0 { Platform.close(lockDescriptor) }
        if let lockKey { Store.lockedPaths.withLock { _ = $0.remove(lockKey) } }
    }

    package init(path: String, db: Database, readOnly: Bool) {
        self.path = path
        self.db = db
        self.readOnly = readOnly
    }

    /// Checks the version and layout; creates the tables in an empty file.
    private func checkVersion(creating: Bool) throws {
        do {
            let version = Int32(try db.scalar("PRAGMA user_version") ?? 0)
            let tables = try db.scalar("SELECT count(*) FROM sqlite_master") ?? 0
            if version > Schema.version { throw StoreError.newerSchema(path: path, found: version) }
            if version == 0 {
                if tables > 0 { throw StoreError.notAStore(path: path, detail: "it is an SQLite database with other tables") }
                guard creating else { throw StoreError.missing(path: path) }
                try db.execute("PRAGMA journal_mode=WAL")
                try db.transaction {
                    try db.execute(Schema.create)
                    try db.execute("PRAGMA user_version = \(Schema.version)")
                }
            }
            if version == 1 && readOnly {
                throw StoreError.other(path: path, detail: "written by an older TraceLens (store version 1); run 'tracelens link --db \(path)' once to bring it up to date")
            }
            // Upgrades add to the store; a read-only open of version 2 reads it as it is (it
            // lacks only the follows table, which `status` explains).
            if version >= 1 && version < Schema.version && !readOnly {
                try db.transaction {
                    if version == 1 { try db.execute(Schema.upgradeFrom1) }
                    if version <= 2 { try db.execute(Schema.upgradeFrom2) }
                    if version <= 3 { try db.execute(Schema.upgradeFrom3) }
                    if version <= 4 { try upgradeRecordsToBlocks() }
                    try db.execute(Schema.upgradeFrom5)
                    try db.execute("PRAGMA user_version = \(Schema.version)")
                }
            }
            if !readOnly { try db.execute(Self.writingSettings) }
        } catch let e as StoreError {
            throw e
        } catch {
            throw StoreError.wrap(error, path: path)
        }
    }

    /// From version 4 and before: the `records` table (a row per record with its text) becomes
    /// compressed blocks read through the `records` virtual table. Blocks break where the old ids
    /// do, where the source changes and at each source's tail record (dropped whole on resume).
    private func upgradeRecordsToBlocks() throws {
        try db.execute("""
            DROP VIEW IF EXISTS decoded_codes; DROP VIEW IF EXISTS codes; DROP INDEX IF EXISTS records_conn;
            ALTER TABLE records RENAME TO records_v4;
            \(Schema.records)
            """)
        let tails = Set(try db.prepare("SELECT tail_record FROM sources WHERE tail_record IS NOT NULL").rows().compactMap { row -> Int64? in
            if case let .int(id) = row[0] { return id }
            return nil
        })
        let blocks = try RecordBlockWriter(db: db, keepsSequence: false)
        let old = try db.prepare("SELECT id, source, line, lines, time, level, process, thread, fn_at, fn_len, conn, failure, codes, text FROM records_v4 ORDER BY id")
        var source: Int64 = -1
        while try old.step() {
            let id = old.int64(0)
            if id != blocks.nextID + Int64(blocks.encoder.count) || old.int64(1) != source || tails.contains(id) || blocks.encoder.isFull {
                try blocks.flush(source: source)
                blocks.restart(at: id)
                source = old.int64(1)
            }
            let function = old.isNull(8) || old.isNull(9) ? nil : (at: old.int(8), length: old.int(9))
            blocks.encoder.append(line: old.int(2), lines: old.int(3), time: old.isNull(4) ? nil : old.int64(4), level: old.textBytes(5),
                                  process: old.textBytes(6), thread: old.textBytes(7), function: function, conn: old.isNull(10) ? nil : old.int64(10),
                                  failure: old.int64(11) != 0, codes: old.textBytes(12), text: old.textBytes(13) ?? UnsafeRawBufferPointer(start: nil, count: 0))
        }
        try blocks.flush(source: source)
        try db.execute("DROP TABLE records_v4;\n" + Schema.codeViews)
    }

    /// Replaces the catalogue table with the loaded plugins' rows, so SQL can decode codes.
    package func writeCatalogue(_ plugins: PluginSet) throws {
        try db.execute("DELETE FROM catalogue")
        let insert = try db.prepare("INSERT OR REPLACE INTO catalogue (catalogue, code, name, text) VALUES (?, ?, ?, ?)")
        for c in plugins.catalogues {
            for e in c.entries.values {
                try insert.bind([.text(c.id), .text(c.display(e.value)), .text(e.name), .text(e.text)])
                try insert.run()
            }
        }
    }
}

/// Paths this process holds the ingest lock on.
package final class LockedSet: Sendable {
    private let paths = Mutex<Set<String>>([])
    package func withLock<T: Sendable>(_ body: (inout Set<String>) -> T) -> T {
        paths.withLock { body(&$0) }
    }
}
