import TraceLensStore
import TraceLensInput

/// One file being followed. The descriptor is opened when the file is first read and kept: after
/// a rename-and-recreate rotation the name leads to the new file, while the descriptor still
/// reads the old one, which a slow writer may still be appending to. A file that has not grown
/// for a while, or the least recently grown one when descriptors run short, is parked: its
/// descriptor is closed and it is opened again by name, checking its identity, when it grows.
package final class FollowedFile {
    package enum State: String {
        /// Its name (or a name the patterns match) leads to it.
        case following
        /// Its name now leads to another file, or nowhere: read until quiet, then closed.
        case rotated
        /// Removed (no links left): read what the descriptor still holds, then closed.
        case deleted
        /// Same first bytes as a source another follower is reading: a copy taken by
        /// copytruncate before the truncation. Read once that source is released.
        case waiting
        /// Not text (a binary file matched the pattern): left alone while it stays the same.
        case skipped
        case closed
    }

    package var name: String
    /// -1 while parked (or before the first read): the file is then looked at by name.
    package private(set) var descriptor: Int32 = -1
    package let device: Int64
    package let inode: Int64
    /// Known once the file has been opened.
    package private(set) var isGzip = false
    private let pool: DescriptorPool
    package var state: State = .following
    /// The store source being read from it (nil until the first read).
    package var source: Int64?
    /// A source found by content that this file continues (a rotated copy or .gz segment).
    package var continuing: Int64?
    /// Starts like a source whose file is still there, yet is a file of its own.
    package var independent = false
    /// When this process first saw it (a copy waits a little for its original to be truncated).
    package let firstSeen: Double
    /// The file's size at the last read; a read happens when it changes.
    package var readSize: Int64 = -1
    /// Its modification time then: a file truncated and rewritten to the same size changes it.
    package var readModified: Int64 = -1
    /// A last line without its line end, left for later.
    package var heldBytes = 0
    /// When the file last grew (monotonic seconds).
    package var lastGrowth: Double
    package var lastError: String?
    package var retryAt: Double = 0
    /// Records read by this process, with recent (time, total) samples for the rate.
    package var records = 0
    package var recordsAtLastWrite = 0
    package var shownRate = 0.0
    package var countedSource: Int64?
    package var countedRecords = 0
    package var samples: [(time: Double, records: Int)] = []
    /// The follows table row needs writing.
    package var dirty = true

    package init(name: String, device: Int64, inode: Int64, pool: DescriptorPool, now: Double) {
        self.name = name
        self.device = device
        self.inode = inode
        self.pool = pool
        lastGrowth = now
        firstSeen = now
    }

    deinit { closeDescriptor() }

    /// Opens the file by name, if it is still this file. Returns 0, or the errno of the failure
    /// (ESTALE when the name now leads to another file).
    package func openDescriptor() -> Int32 {
        if descriptor >= 0 { return 0 }
        let fd = Platform.openForReading(name)
        guard fd >= 0 else { return Platform.lastError }
        guard let st = Platform.status(descriptor: fd), st.device == device, st.inode == inode else {
            Platform.close(fd)
            return Platform.staleError
        }
        var magic: [UInt8] = [0, 0]
        isGzip = magic.withUnsafeMutableBytes { Platform.read(fd, at: 0, into: $0.baseAddress!, count: 2) } == 2 && magic == [0x1F, 0x8B]
        descriptor = fd
        pool.opened()
        return 0
    }

    package func closeDescriptor() {
        guard descriptor >= 0 else { return }
        Platform.close(descriptor)
        descriptor = -1
        pool.closed()
    }

    package var isOpen: Bool { state != .closed }
    /// Followed, with no descriptor held: it is looked at by name until it grows.
    package var isParked: Bool { descriptor < 0 && state != .closed }
    /// Read at least once in this process (a parked file has nothing left unread but a held line).
    package var wasRead: Bool { readSize >= 0 }

    /// The current size, link count and modification time (ns): through the descriptor, or by
    /// name while parked (nil when the name no longer leads to this file).
    package func status() -> (size: Int64, links: Int, modified: Int64)? {
        if descriptor >= 0 {
            guard let st = Platform.status(descriptor: descriptor) else { return nil }
            return (st.size, st.links, st.modifiedNanos)
        }
        guard let st = Platform.status(path: name), st.device == device, st.inode == inode else { return nil }
        return (st.size, st.links, st.modifiedNanos)
    }

    /// The file's identity over its first `headLength` bytes, through the descriptor or by name.
    package func identity(headLength: Int) -> SourceIdentity? {
        if descriptor >= 0 { return SourceIdentity.of(descriptor: descriptor, headLength: headLength) }
        guard status() != nil else { return nil }
        return SourceIdentity.of(name, headLength: headLength)
    }

    /// Records per second over the last minute.
    package func rate(now: Double) -> Double {
        samples.append((now, records))
        while let first = samples.first, now - first.time > 60, samples.count > 2 { samples.removeFirst() }
        guard let first = samples.first, now - first.time > 0.5 else { return 0 }
        return Double(records - first.records) / (now - first.time)
    }
}
