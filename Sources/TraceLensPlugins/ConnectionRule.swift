import TraceLensRecords

/// How a plugin says where connections are in a layout: which records start and end one, which
/// record decides its outcome, the fields of a record that name the lane (thread) it runs on,
/// and the values captured from messages (peer address, handle, cipher, DNs).
///
/// Nothing here knows GSK: `Plugins/gsk/plugin.toml` says that a TLS session starts at
/// `ENTRY gsk_secure_socket_open` and that `Connection handle 0x{handle:hex} allocated` names it.
public final class ConnectionRule: Sendable {
    /// `LEVEL function`, either part `*` (the function may list alternatives: `a|b`), optionally followed by `: ` and a template the whole
    /// message must match: `INFO tls: handshake with {:text} started`.
    public struct RecordSelector: Sendable, CustomStringConvertible {
        public var level: Level?
        /// Function names, any of which matches (`ldapsearch|ldapmodify`); nil for any.
        public var function: [[UInt8]]?
        public var message: Template?

        /// The selector, or why the text is not one.
        public struct Problem: Error { public var why: String }

        public static func parse(_ text: String) -> Result<RecordSelector, Problem> {
            var head = Substring(text)
            var message: Template?
            if let colon = text.range(of: ": ") {
                head = text[..<colon.lowerBound]
                do { message = try Template(String(text[colon.upperBound...])) } catch {
                    return .failure(Problem(why: error.description))
                }
            }
            let parts = head.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count == 2 else {
                return .failure(Problem(why: "must be 'LEVEL function' (either may be *), optionally with ': message template'"))
            }
            var level: Level?
            if parts[0] != "*" {
                guard let l = Level(name: String(parts[0])) else {
                    return .failure(Problem(why: "level '\(parts[0])' is not one of \(Level.allCases.map(\.name).joined(separator: ", ")) or *"))
                }
                level = l
            }
            let functions = parts[1] == "*" ? nil : parts[1].split(separator: "|").map { Array($0.utf8) }
            return .success(RecordSelector(level: level, function: functions, message: message))
        }

        public var description: String {
            "\(level?.name ?? "*") \(function.map { $0.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "|") } ?? "*")" + (message.map { ": " + $0.source } ?? "")
        }

        @inline(__always)
        package func matches(_ r: Record, _ b: UnsafeBufferPointer<UInt8>, _ scratch: inout Captures) -> Bool {
            if let level, r.level != level { return false }
            if let function {
                guard let f = r.range(.function) else { return false }
                var any = false
                for name in function where name.count == f.count {
                    if name.withUnsafeBufferPointer({ fn in memcmp(fn.baseAddress!, b.baseAddress! + f.lowerBound, f.count) == 0 }) { any = true; break }
                }
                if !any { return false }
            }
            guard let message else { return true }
            guard let m = r.range(.message) else { return false }
            return message.match(UnsafeBufferPointer(rebasing: b[m]), captures: &scratch) != nil
        }
    }

    /// What a capture does with the values it finds.
    public enum CaptureRole: String, Sendable {
        /// The values describe the lane's connection (`peer_ip`, `cipher`, `handle`, ...).
        case describe
        /// The values name a connection that may run elsewhere: a record carrying one moves its
        /// lane to that connection (a read on another thread with the same handle). Never
        /// creates a key.
        case route
        /// The values name the connection itself, wherever its records are (AT-TLS `CONNID`,
        /// LDAP `connID`): a known value moves the lane to its connection; a new value names the
        /// lane's connection if that has none yet, and opens a new connection otherwise.
        case identify
    }

    public struct Capture: Sendable {
        public var selector: RecordSelector
        public var messages: [Template]
        public var role: CaptureRole
        /// Instead of message templates: the first code of this catalogue on the record (a
        /// cipher read from a dump) becomes field `codeField`.
        public var codeCatalogue: String? = nil
        public var codeField: String? = nil
        /// Fields a matching message template implies (`server_port = "636"` for an `ldaps://`
        /// URL without a port): set after the captured ones, so a captured value wins.
        public var values: [(name: String, value: String)] = []
    }

    public let name: String
    public let plugin: String
    public let formats: [String]
    /// Standard fields whose values, together, name a lane. Empty: records have no lane, each
    /// joins a connection only by a start record or a key it names.
    public let lane: [StandardField]
    /// Start records, in the order a connection passes them (open, then init): a start record
    /// continues the lane's connection when that one has only passed earlier starts.
    public let starts: [RecordSelector]
    public let ends: [RecordSelector]
    /// Records that open a connection only when their lane has none open; otherwise they join
    /// it (a client's error lines with no command line before them).
    public let startsIfNone: [RecordSelector]
    /// False: a failure code on an outcome record fails the connection but does not end it (a
    /// client goes on printing after a verify error); the next start ends it.
    public let failureEnds: Bool
    /// Records whose codes decide the outcome: a failure code fails (and ends) the connection.
    public let outcomes: [RecordSelector]
    public let captures: [Capture]
    /// Captured fields that identify a connection (used by route captures and, later, by other
    /// sources): every capture of these names is stored as a key.
    public let keys: [String]
    /// Captured fields shown decoded by a catalogue (`cipher` by `cipher`).
    public let decode: [String: String]
    /// Catalogues whose codes are consequences of a failure rather than its cause (the alert a
    /// server sends after a failed check): primary only when nothing else failed.
    public let consequences: [String]

    package init(name: String, plugin: String, formats: [String], lane: [StandardField], starts: [RecordSelector], ends: [RecordSelector],
         outcomes: [RecordSelector], captures: [Capture], keys: [String], decode: [String: String], consequences: [String],
         startsIfNone: [RecordSelector] = [], failureEnds: Bool = true) {
        self.startsIfNone = startsIfNone; self.failureEnds = failureEnds
        self.name = name; self.plugin = plugin; self.formats = formats; self.lane = lane
        self.starts = starts; self.ends = ends; self.outcomes = outcomes; self.captures = captures; self.keys = keys
        self.decode = decode
        self.consequences = consequences
    }

    /// Connection fields with their own column in the store; other captured names are kept as
    /// keys only.
    public static let columns = ["peer_ip", "peer_port", "local_ip", "local_port", "protocol", "cipher", "subject", "issuer"]
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
