import Foundation
import TraceLensInput

/// Who holds the `flock` on a store: read from /proc/locks (Linux), so that a waiting ingest
/// can say "held by process 4711 (tracelens)" instead of waiting without a word.
package enum StoreLockHolder {
    /// "process 4711 (tracelens)", or "another process" where /proc/locks does not say.
    package static func describe(descriptor fd: Int32) -> String {
        guard let pid = pid(descriptor: fd) else { return "another process" }
        let comm = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        return comm.isEmpty ? "process \(pid)" : "process \(pid) (\(comm))"
    }

    /// The pid of the FLOCK holder of the file open on `fd`.
    package static func pid(descriptor fd: Int32) -> Int32? {
        guard let st = Platform.status(descriptor: fd), let text = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else { return nil }
        return holder(inLocks: text, inode: UInt64(st.inode))
    }

    /// Parses /proc/locks lines such as `3: FLOCK  ADVISORY  WRITE 4711 08:01:1234567 0 EOF`;
    /// lines with `->` are waiters, not holders.
    package static func holder(inLocks text: String, inode: UInt64) -> Int32? {
        for line in text.split(separator: "\n") where !line.contains("->") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[1] == "FLOCK",
                  let file = fields[5].split(separator: ":").last, UInt64(file) == inode,
                  let pid = Int32(fields[4]) else { continue }
            return pid
        }
        return nil
    }
}
