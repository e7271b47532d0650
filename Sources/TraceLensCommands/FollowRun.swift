import Foundation
import TraceLensInput
import TraceLensRecords
import TraceLensPlugins
import TraceLensStore
import TraceLensFollow
import TraceLensCorrelate

/// What `watch` and `daemon` were asked to follow, and how patiently.
public struct FollowOptions: Sendable {
    /// Files and glob patterns; files that match later are picked up.
    public var patterns: [String] = []
    public var forcedFormat: String?
    /// A rotated or deleted file is read until it has not grown for this long (seconds), then
    /// closed; a quarter of it once the new file under its name has data.
    public var quiet: Double = 2
    /// After a store error (a full disk), wait this long before trying again.
    public var retryDelay: Double = 5
    /// Link connections across sources at most this often, when new ones ended (0: never).
    public var linkInterval: Double = 30
    /// Drop records older than this many days (nil: keep all); connection summaries stay.
    public var retentionDays: Double?
    /// Look at every file at least this often even without a change event (seconds).
    public var rescanInterval: Double = 5
    /// A file that has not grown for this long (seconds) gives back its descriptor; it is opened
    /// again by name, as the same file, when it grows.
    public var idleClose: Double = 300
    /// At most this many followed files hold a descriptor at once (nil: the open-file limit less
    /// what the store and the rest need); the least recently grown give theirs back first.
    public var maxOpenFiles: Int?
    public var link = LinkOptions()
    /// The longest record line; longer ones are cut with a marker (`--max-record`, `max-record`).
    public var maxRecord = TextReader.defaultMaxRecord
    public init() {}
}

/// The follower: finds the files the patterns match, notices rotation, truncation, deletion and
/// copies, and has `IngestRun` read what each file gained, committing records and offsets
/// together. `cycle()` does one round; `FollowLoop` calls it when files change.
public final class FollowRun {
    public let plugins: PluginSet
    public let store: Store
    public private(set) var options: FollowOptions
    public let log: FollowLog
    package let ingest: IngestRun
    package let forced: Format?
    package weak var observer: FollowObserver?
    private let clock: () -> Double
    package private(set) var files: [FollowedFile] = []
    private let storeFiles: Set<String>
    private var changedSinceLink = false
    private var lastLink: Double
    private var lastRetention: Double = -.infinity
    private let pid = Int64(Platform.processID)
    package let descriptors: DescriptorPool

    public init(plugins: PluginSet, store: Store, options: FollowOptions, observer: FollowObserver? = nil, log: FollowLog,
                clock: @escaping () -> Double = Platform.monotonicSeconds) throws {
        self.plugins = plugins
        self.store = store
        self.options = options
        self.log = log
        self.observer = observer
        self.clock = clock
        descriptors = DescriptorPool(capacity: options.maxOpenFiles)
        var ingestOptions = IngestOptions()
        ingestOptions.forcedFormat = options.forcedFormat
        ingestOptions.link = options.link
        ingestOptions.maxRecord = options.maxRecord
        ingest = try IngestRun(plugins: plugins, store: store, options: ingestOptions)
        switch plugins.forcedLayout(options.forcedFormat) {
        case let .success(f): forced = f
        case let .failure(e): throw e
        }
        storeFiles = Set(["", "-wal", "-shm", "-journal"].map { IngestRun.absolute(store.path) + $0 })
        lastLink = clock()
        try? store.forgetFollows(notOf: pid)
    }

    /// New patterns (a reloaded configuration): files no pattern matches any more are closed
    /// once read; new matches are picked up by the next cycle.
    public func update(patterns: [String], retentionDays: Double?, linkInterval: Double) {
        options.patterns = patterns
        options.retentionDays = retentionDays
        options.linkInterval = linkInterval
    }

    /// Directories to watch for changes: those holding the patterns' files.
    public var directories: [String] {
        var dirs: [String] = []
        for p in options.patterns {
            let absolute = IngestRun.absolute(p)
            var parts = absolute.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            // The folder up to the first part with a wildcard; the rest may be a pattern.
            if let wild = parts.firstIndex(where: { $0.contains(where: { "*?[".contains($0) }) }) { parts = Array(parts[..<wild]) } else { parts.removeLast() }
            let dir = parts.joined(separator: "/")
            dirs.append(dir.isEmpty ? "/" : dir)
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: absolute, isDirectory: &isDir), isDir.boolValue { dirs.append(absolute) }
        }
        return Array(Set(dirs)).sorted()
    }

    /// The files being read now (for tests and `status`).
    public var followedPaths: [String] { files.filter(\.isOpen).map(\.name) }

    /// One round: look for new, renamed and removed files, read what each gained, close rotated
    /// files that went quiet. With `final` (shutdown), a last line without its line end is taken.
    @discardableResult
    public func cycle(final: Bool = false) -> Int {
        let now = clock()
        scan(now: now)
        var read = 0
        // Old (rotated) files first: their last lines were written before the new file's first.
        let order: [FollowedFile.State] = [.rotated, .deleted, .following, .waiting]
        for state in order {
            for f in files where f.state == state { read += self.read(f, now: now, takePartial: final) }
        }
        closeQuiet(now: now, final: final)
        parkIdle(now: now)
        writeFollows(now: now)
        observer?.cycleEnded(now: now, final: final)
        maintain(now: now, final: final)
        return read
    }

    /// Reads everything, takes partial last lines, commits, links; the store is then complete.
    public func shutdown() {
        cycle(final: true)
        for f in files where f.isOpen { f.close() }
        writeFollows(now: clock(), force: true)
    }

    /// When the next cycle is due even if no file changes.
    public func nextDeadline() -> Double {
        let now = clock()
        var due = now + options.rescanInterval
        for f in files where f.isOpen {
            if f.state == .rotated || f.state == .deleted { due = min(due, f.lastGrowth + options.quiet / 4) }
            if f.lastError != nil { due = min(due, f.retryAt) }
            if f.state == .waiting { due = min(due, now + options.quiet / 4) }
        }
        if let t = observer?.nextTick { due = min(due, t) }
        if changedSinceLink && options.linkInterval > 0 { due = min(due, lastLink + options.linkInterval) }
        return max(due, now)
    }

    // MARK: finding files

    private func scan(now: Double) {
        // Is each file still where its name says? (A parked file is looked for by identity below.)
        for f in files where f.isOpen && f.state != .waiting && !f.isParked {
            let here = Platform.status(path: f.name).map { $0.device == f.device && $0.inode == f.inode } ?? false
            let links = f.status()?.links ?? 0
            if here {
                if f.state == .rotated || f.state == .deleted { f.state = .following; f.dirty = true }
            } else if f.state == .following || f.state == .skipped {
                f.state = links == 0 ? .deleted : .rotated
                f.dirty = true
                log(.info, f.state == .deleted ? "deleted" : "rotated", ["path": f.name, "source": f.source, "unread": f.unread])
            } else if f.state == .rotated && links == 0 {
                f.state = .deleted
                f.dirty = true
            }
        }
        // What the patterns match now.
        matched = expand()
        for path in matched {
            guard let st = Platform.status(path: path), st.kind == .regular else { continue }
            let device = st.device, inode = st.inode
            if let f = files.first(where: { $0.isOpen && $0.device == device && $0.inode == inode }) {
                if f.name != path && (f.state != .following || (f.isParked && f.status() == nil)) {
                    // Renamed to a name the patterns match: it is still the same source.
                    log(.info, "renamed", ["from": f.name, "to": path, "source": f.source])
                    f.name = path
                    f.state = f.state == .waiting ? .waiting : .following
                    f.dirty = true
                    if let s = f.source { try? store.renameSourceNow(s, to: path) }
                }
                continue
            }
            // Opened when it is read (in this cycle), so that descriptors go to files with data.
            files.append(FollowedFile(name: path, device: device, inode: inode, pool: descriptors, now: now))
            log(.info, "follow", ["path": path, "inode": inode, "size": st.size])
        }
        // A parked file whose name leads elsewhere, under no name the patterns match: it had
        // been read to its end, and without a descriptor nothing more can come from it.
        for f in files where f.isParked && f.status() == nil {
            log(f.heldBytes > 0 ? .warn : .info, "closed", ["path": f.name, "source": f.source, "state": "gone while idle", "records": f.records,
                                                         "unread": f.heldBytes > 0 ? "a last line of \(f.heldBytes) bytes without its line end" : nil])
            f.close()
        }
    }

    // MARK: descriptors

    /// Gives `f` a descriptor, parking the least recently grown file when the pool is full.
    /// False when it cannot be opened now (the reason is its error, warned once).
    private func acquire(_ f: FollowedFile, now: Double) -> Bool {
        if f.descriptor >= 0 { return true }
        while descriptors.isFull, park(oneBesides: f, now: now) {}
        // Our own count says full: as good as the kernel's EMFILE.
        var failure = descriptors.isFull ? Platform.processOutOfDescriptorsError : f.openDescriptor()
        if Platform.isOutOfDescriptors(failure), park(oneBesides: f, now: now) { failure = f.openDescriptor() }
        if failure == 0 { return true }
        if failure == Platform.staleError { return false }  // replaced between look and open: the next scan sees the new file
        let short = Platform.isOutOfDescriptors(failure)
        let message = short
            ? "cannot open: no file descriptor free (\(descriptors.openCount) followed files open; raise `ulimit -n`)"
            : "cannot open: " + Platform.errorText(failure)
        // Once per file, not once per look.
        log(f.lastError == message ? .debug : .warn, "cannot-open", ["path": f.name, "error": message])
        f.lastError = message
        f.retryAt = now + (short ? min(options.retryDelay, 1) : options.retryDelay)
        f.dirty = true
        return false
    }

    /// Closes the descriptor of the followed file that grew least recently (one with a partial
    /// last line only when no other is left). False when none can give its descriptor back.
    private func park(oneBesides f: FollowedFile, now: Double) -> Bool {
        var best: FollowedFile?
        for g in files where g !== f && g.descriptor >= 0 && g.wasRead && (g.state == .following || g.state == .skipped) {
            guard let b = best else { best = g; continue }
            if (g.heldBytes > 0 ? 1 : 0, g.lastGrowth) < (b.heldBytes > 0 ? 1 : 0, b.lastGrowth) { best = g }
        }
        guard let best else { return false }
        log(.debug, "idle", ["path": best.name, "source": best.source, "reason": "descriptors short"])
        best.closeDescriptor()
        best.dirty = true
        return true
    }

    /// Files that have not grown for `idleClose` give back their descriptors.
    private func parkIdle(now: Double) {
        for f in files where f.descriptor >= 0 && f.wasRead && f.heldBytes == 0 && f.lastError == nil
            && (f.state == .following || f.state == .skipped) && now - f.lastGrowth >= options.idleClose {
            log(.debug, "idle", ["path": f.name, "source": f.source, "quiet_for": "\(Int(now - f.lastGrowth))s"])
            f.closeDescriptor()
            f.dirty = true
        }
    }

    /// The paths the patterns matched at the last scan.
    private var matched: [String] = []

    private func expand() -> [String] {
        var out: [String] = []
        var seen = Set<String>()
        for p in options.patterns {
            var g = glob_t()
            defer { globfree(&g) }
            guard glob(IngestRun.absolute(p), 0, nil, &g) == 0 else { continue }
            for i in 0..<Int(g.gl_pathc) {
                guard let c = g.gl_pathv[i] else { continue }
                let path = String(cString: c)
                // A folder stands for the files in it (not below it, and not hidden ones).
                var isDir: ObjCBool = false
                let inside = FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
                    ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { !$0.hasPrefix(".") }.map { path + "/" + $0 }
                    : [path]
                for p in inside where !storeFiles.contains(p) && seen.insert(p).inserted { out.append(p) }
            }
        }
        return out.sorted()
    }

    // MARK: reading

    /// Reads what `f` gained; returns the records read.
    private func read(_ f: FollowedFile, now: Double, takePartial: Bool) -> Int {
        guard f.isOpen, f.state != .skipped || f.status()?.size != f.readSize, now >= f.retryAt else { return 0 }
        guard let (size, _, modified) = f.status() else { return 0 }
        let changed = size != f.readSize || modified != f.readModified
        if !changed && !(takePartial && f.heldBytes > 0) && f.state != .waiting { return 0 }
        if size < f.readSize {
            // Truncated (copytruncate, or emptied): its source is finished; what comes is new.
            log(.info, "truncated", ["path": f.name, "source": f.source, "size": size, "was": f.readSize])
            f.source = nil
            f.continuing = nil
            f.heldBytes = 0
        }
        if size == 0 {
            f.readSize = 0
            f.readModified = modified
            return 0
        }
        guard acquire(f, now: now) else { return 0 }
        var follow = FollowRead(descriptor: f.descriptor)
        follow.holdPartialLine = !takePartial
        // The first read in this process goes over the stored tail again, to learn whether a
        // partial last line is waiting (the store does not say).
        follow.force = (takePartial && f.heldBytes > 0) || f.readSize < 0
        follow.observer = observer
        do {
            if f.source == nil, !f.independent, let continuing = try store.continuedSource(path: f.name, descriptor: f.descriptor, gzip: f.isGzip) {
                if try originalAlive(continuing, besides: f) {
                    // Its original still starts the same way: a copytruncate between its copy and
                    // its truncation, a .gz beside the file it was made from, or simply another
                    // file that begins like this one. Wait; a plain file that still looks the
                    // same after `quiet` is a file of its own.
                    if f.isGzip || now - f.firstSeen < options.quiet {
                        if f.state != .waiting {
                            log(.info, "copy-waits", ["path": f.name, "copy_of_source": continuing])
                            f.state = .waiting
                            f.dirty = true
                        }
                        return 0
                    }
                    log(.info, "independent", ["path": f.name, "same_start_as_source": continuing])
                    f.independent = true
                } else {
                    follow.continuing = continuing
                    f.continuing = continuing
                    log(.info, "continues", ["path": f.name, "source": continuing])
                }
            } else if f.continuing != nil {
                // A copy goes on with the source it continues; its own name and inode are not
                // that source's, so looking it up again would take it for a new file.
                follow.continuing = f.source ?? f.continuing
            }
            if f.state == .waiting { f.state = .following }
            let result = try ingest.ingest(f.name, forcedFormat: forced, follow: follow)
            if result.kind == .replaced && f.source != nil && f.source != result.source {
                log(.info, "replaced", ["path": f.name, "old_source": f.source, "source": result.source])
            }
            if result.kind != .skipped && result.source != f.source {
                log(.info, "source", ["path": f.name, "source": result.source, "layout": result.layout ?? "none (lines stored as unparsed)"])
            }
            if let damage = result.damage { log(.warn, "damaged", ["path": f.name, "error": damage]) }
            if let junk = result.trailingJunk { log(.warn, "junk", ["path": f.name, "note": junk]) }
            if result.kind != .skipped { f.source = result.source }
            f.readSize = result.fileSize
            f.readModified = modified
            f.heldBytes = result.heldBytes
            // Count what the store gained: a redone tail is read again but stored once.
            let stored = (try? store.storedRecordCount(source: result.source)) ?? 0
            if f.countedSource == result.source { f.records += stored - f.countedRecords } else { f.records += result.records }
            f.countedSource = result.source
            f.countedRecords = stored
            if changed { f.lastGrowth = now }
            if f.lastError != nil { log(.info, "recovered", ["path": f.name, "source": f.source]) }
            f.lastError = nil
            f.dirty = true
            updateHead(f)
            if result.connections > 0 || result.records > 0 { changedSinceLink = true }
            return result.records
        } catch InputError.notText(_, let hint) {
            log(.warn, "skipped", ["path": f.name, "reason": "not text: \(hint)"])
            f.state = .skipped
            f.readSize = size
            f.readModified = modified
            f.dirty = true
        } catch {
            let message = "\(error)"
            if f.lastError != message { log(.error, "read-failed", ["path": f.name, "error": message, "retry_in": "\(Int(options.retryDelay))s"]) }
            f.lastError = message
            f.retryAt = now + options.retryDelay
            f.dirty = true
            // A failure was rolled back: the offsets stored are where the next try starts.
        }
        return 0
    }

    /// Whether the file `source` was read from is still there and still starts with the bytes
    /// the source is known by: held by another follower (through its descriptor, even deleted),
    /// or at the source's path with its inode.
    private func originalAlive(_ source: Int64, besides f: FollowedFile) throws -> Bool {
        guard let stored = try store.storedHead(source: source) else { return false }
        let length = stored.length, hash = stored.hash, device = stored.device, inode = stored.inode
        func sameHead(_ identity: SourceIdentity?) -> Bool { identity?.headLength == length && identity?.headHash == hash }
        for g in files where g !== f && g.isOpen && (g.source == source || (g.device == device && g.inode == inode)) {
            if sameHead(g.identity(headLength: length)) { return true }
        }
        if let path = stored.path, let st = Platform.status(path: path), st.device == device, st.inode == inode {
            return sameHead(SourceIdentity.of(path, headLength: length))
        }
        return false
    }

    /// A source first seen when its file was short was identified by those few bytes; as the
    /// file grows, more of it is hashed so that a copy or a new file is told apart reliably.
    private func updateHead(_ f: FollowedFile) {
        guard let source = f.source, !f.isGzip, f.continuing == nil, f.readSize > 0 else { return }
        guard let stored = try? store.storedHead(source: source),
              stored.length < SourceIdentity.headLimit, f.readSize > Int64(stored.length), stored.device == f.device, stored.inode == f.inode,
              let identity = SourceIdentity.of(descriptor: f.descriptor) else { return }
        try? store.replaceHead(source: source, with: identity)
    }

    // MARK: closing

    private func closeQuiet(now: Double, final: Bool) {
        let matched = Set(self.matched)
        for f in files where f.isOpen {
            let gone = f.state == .rotated || f.state == .deleted
            // A file no pattern matches any more (a reloaded configuration) is done as well.
            let unmatched = f.state == .following && !matched.contains(f.name)
            guard gone || unmatched else { continue }
            guard let (size, _, _) = f.status(), size == f.readSize, f.lastError == nil else { continue }
            let quietFor = now - f.lastGrowth
            let successorHasData = files.contains { $0 !== f && $0.isOpen && $0.name == f.name && $0.readSize > 0 }
            guard unmatched || quietFor >= options.quiet || (successorHasData && quietFor >= options.quiet / 4) else { continue }
            // Its last line will get no line end now: take it as it is.
            if f.heldBytes > 0 && !final { _ = read(f, now: now, takePartial: true) }
            log(.info, "closed", ["path": f.name, "source": f.source, "state": f.state.rawValue, "records": f.records])
            f.close()
        }
    }

    // MARK: status and upkeep

    private var lastFollowsWrite: Double = -.infinity

    /// Keeps the follows table (what `status` shows) up to date: on changes, and every few
    /// seconds for the rates.
    private func writeFollows(now: Double, force: Bool = false) {
        // Every few seconds for the rates, while any file has one to show.
        let due = now - lastFollowsWrite >= 5 && files.contains { $0.records != $0.recordsAtLastWrite || $0.shownRate != 0 }
        guard force || due || files.contains(where: \.dirty) else { return }
        lastFollowsWrite = now
        let written = files.filter { $0.dirty || due || force }
        let rows = written.map { f in
            let state: String = f.lastError != nil ? "error" : f.isParked && f.wasRead && f.state == .following ? "idle" : f.state.rawValue
            f.shownRate = f.rate(now: now)
            f.recordsAtLastWrite = f.records
            return FollowRow(path: f.name, source: f.source, device: f.device, inode: f.inode, size: f.status()?.size ?? f.readSize,
                             offset: max(f.readSize, 0) - Int64(f.heldBytes), state: state, records: f.records, rate: f.shownRate,
                             lastError: f.lastError, pid: pid)
        }
        do {
            try store.saveFollows(rows)
            for f in written { f.dirty = false }
        } catch {
            // The store is failing (full disk): the files' own errors say so; try again later.
        }
        files.removeAll { !$0.isOpen }
    }

    private func maintain(now: Double, final: Bool) {
        if changedSinceLink && options.linkInterval > 0 && (final || now - lastLink >= options.linkInterval) {
            lastLink = now
            changedSinceLink = false
            let started = Platform.monotonicSeconds()
            do {
                let report = try Linker(store: store, plugins: plugins).run(options.link)
                log(.debug, "linked", ["links": report.linked, "seconds": String(format: "%.2f", Platform.monotonicSeconds() - started)])
            } catch {
                log(.error, "link-failed", ["error": "\(StoreError.wrap(error, path: store.path))"])
            }
        }
        if let days = options.retentionDays, now - lastRetention >= 3600 {
            lastRetention = now
            do {
                let dropped = try Retention.drop(store: store, olderThanDays: days)
                if dropped > 0 { log(.info, "retention", ["dropped_records": dropped, "days": days]) }
            } catch {
                log(.error, "retention-failed", ["error": "\(StoreError.wrap(error, path: store.path))"])
            }
        }
    }
}

extension FollowedFile {
    /// Bytes not read yet (what a rotation may still deliver).
    package var unread: Int64 { max((status()?.size ?? 0) - max(readSize, 0), 0) }

    package func close() {
        state = .closed
        dirty = true
        closeDescriptor()
    }
}
