import Foundation
import TraceLensRecords
import TraceLensStore
import TraceLensQuery

/// Writes what the other sources would show for the connections of a `SyntheticTrace`, with the
/// true GSK connection of each of their connections, so linking across sources can be scored:
///
/// - the LDAP server's job log: a GLD1116E for every failed connection, from a clock that runs
///   `jobLogOffset` seconds ahead (the user corrects it with `--offset`), plus GLD1116E lines for
///   clients the trace never saw (must stay unlinked);
/// - syslogd's AT-TLS messages: EZD1281I for every connection and EZD1286I for the failed ones,
///   with CONNIDs, from a clock `syslogOffset` seconds off (within the window);
/// - a Linux client's terminal session for a few connections, `clientOffset` seconds off.
///
/// Clients share a handful of IP addresses, so no key but the port tells them apart.
public struct SyntheticSources {
    public var jobLogOffset: Int64 = 3600
    public var syslogOffset: Int64 = -1
    public var clientOffset: Int64 = 1
    /// One client attempt written for every this many connections.
    public var clientEvery = 50
    public var seed: UInt64 = 7

    public init() {}

    /// A connection another source shows: its file, the line it starts at, and the index of its
    /// true GSK connection (nil: it must stay unlinked).
    public struct Expected: Sendable {
        public var file: String
        public var line: Int
        public var truth: Int?
    }

    package static let reasons = [431: "Certificate is revoked.", 434: "Certificate key is not compatible with cipher suite.",
                          8: "Certificate validation error.", 402: "No SSL cipher specifications.", 401: "Certificate is expired or is not valid yet."]

    public func write(for truth: SyntheticTrace.Truth, in dir: String) throws -> [Expected] {
        var rng = SplitMix64(seed: seed)
        var expected: [Expected] = []
        let order = truth.connections.indices.sorted { truth.connections[$0].start < truth.connections[$1].start }

        // The job log: GLD1116E at the end of each failed handshake, in the job log's clock.
        var job: [String] = ["    J E S 2  J O B  L O G  --  S Y S T E M  S 0 W 1  --  N O D E  S 0 W 1", ""]
        var lastDay: Int64 = -1
        var jobEvents: [(time: Int64, text: String, truth: Int?)] = []
        for i in order where truth.connections[i].returnCode != 0 {
            let c = truth.connections[i]
            jobEvents.append((c.end + jobLogOffset, "GLD1116E Unable to initialize an SSL connection with \(Self.ip(c.peer)): \(c.returnCode) - \(Self.reasons[c.returnCode] ?? "Error.")", i))
        }
        // Clients the trace never saw (it had wrapped, or was off for them).
        let span = (truth.connections.map(\.start).min() ?? 0, truth.connections.map(\.end).max() ?? 0)
        for _ in 0..<max(3, jobEvents.count / 100) {
            let t = span.0 + Int64(rng.next() % UInt64(max(span.1 - span.0, 1))) + jobLogOffset
            jobEvents.append((t, "GLD1116E Unable to initialize an SSL connection with 10.9.9.\(rng.next() % 200 + 1): 431 - Certificate is revoked.", nil))
        }
        jobEvents.sort { $0.time < $1.time }
        for e in jobEvents {
            let day = e.time / 86_400
            if day != lastDay {
                lastDay = day
                let (y, m, d) = Timestamp.civilFromDays(Int(day))
                let names = ["THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY"]
                let months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
                job.append("---- \(names[Int(day % 7)]),  \(String(format: "%02d", d)) \(months[m - 1]) \(y) ----")
            }
            let s = e.time % 86_400
            job.append(String(format: "%02d.%02d.%02d STC04588  BPXM023I (GLDSRV) ", s / 3600, s / 60 % 60, s % 60) + e.text)
            expected.append(Expected(file: "gldsrv.joblog", line: job.count, truth: e.truth))
        }
        try (job.joined(separator: "\n") + "\n").write(toFile: dir + "/gldsrv.joblog", atomically: true, encoding: .utf8)

        // syslogd: every connection's AT-TLS map, and its error when it failed.
        var events: [(time: Int64, text: String, start: Bool, truth: Int)] = []
        for (n, i) in order.enumerated() {
            let c = truth.connections[i]
            let connid = String(format: "%08X", 0x100 + n)
            let ip = Self.ip(c.peer), port = Self.port(c.peer)
            events.append((c.start + syslogOffset, "EZD1281I TTLS Map CONNID: \(connid) LOCAL: 10.1.1.2..1389 REMOTE: \(ip)..\(port) JOBNAME: GLDSRV USERID: GLDSRV TYPE: InBound STATUS: Enabled RULE: LDAPRULE ACTIONS: GRP1 ENV1 **N/A**", true, i))
            if c.returnCode != 0 {
                events.append((c.end + syslogOffset, "EZD1286I TTLS Error GRPID: 0000001B ENVID: 0000000B CONNID: \(connid) LOCAL: 10.1.1.2..1389 REMOTE: \(ip)..\(port) JOBNAME: GLDSRV USERID: GLDSRV RULE: LDAPRULE RC: \(c.returnCode) Initial Handshake", false, i))
            }
        }
        events.sort { ($0.time, $0.start ? 0 : 1) < ($1.time, $1.start ? 0 : 1) }
        var syslog: [String] = []
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        for e in events {
            let (_, m, d) = Timestamp.civilFromDays(Int(e.time / 86_400))
            let s = e.time % 86_400
            syslog.append(String(format: "%@ %2d %02d:%02d:%02d S0W1 TCPIP[67174433]: ", months[m - 1], d, s / 3600, s / 60 % 60, s % 60) + e.text)
            if e.start { expected.append(Expected(file: "syslogd.log", line: syslog.count, truth: e.truth)) }
        }
        try (syslog.joined(separator: "\n") + "\n").write(toFile: dir + "/syslogd.log", atomically: true, encoding: .utf8)

        // The client: a few attempts, each with the time `date` printed just before it.
        var client: [String] = []
        for (n, i) in order.enumerated() where n % clientEvery == 0 {
            let c = truth.connections[i]
            let t = c.start + clientOffset
            let (y, m, d) = Timestamp.civilFromDays(Int(t / 86_400))
            let s = t % 86_400
            client.append("$ date")
            client.append(String(format: "Tue %@ %2d %02d:%02d:%02d GMT %d", months[m - 1], d, s / 3600, s / 60 % 60, s % 60, y))
            client.append("$ ldapsearch -H ldaps://10.1.1.2:1389 -Y EXTERNAL -b \"o=Your Company\" \"(objectclass=*)\" aclEntry")
            expected.append(Expected(file: "client.txt", line: client.count, truth: i))
            if c.returnCode != 0 {
                client.append("ldap_sasl_interactive_bind_s: Can't contact LDAP server (-1)")
                client.append("\tadditional info: A TLS fatal alert has been received.")
            } else {
                client += ["# extended LDIF", "dn: o=Your Company", "", "# search result", "search: 2", "result: 0 Success"]
            }
        }
        try (client.joined(separator: "\n") + "\n").write(toFile: dir + "/client.txt", atomically: true, encoding: .utf8)
        return expected
    }

    package static func ip(_ peer: String) -> String { String(peer.prefix { $0 != "[" }) }
    package static func port(_ peer: String) -> String { String(peer.drop { $0 != "[" }.dropFirst().prefix { $0 != "]" }) }
}

/// How well linking found the true partners of other sources' connections.
public struct LinkScore: Sendable {
    public struct Part: Sendable {
        public var file: String
        /// Links made, links made to the true partner, connections that have a true partner,
        /// and connections that must stay unlinked but were linked.
        public var linked = 0, correct = 0, shouldLink = 0, wronglyLinked = 0
        public var precision: Double { linked == 0 ? 1 : Double(correct) / Double(linked) }
        public var recall: Double { shouldLink == 0 ? 1 : Double(correct) / Double(shouldLink) }
    }
    public var parts: [Part] = []

    /// Scores the links in `store` against `expected`; `pair` maps a true GSK connection index to
    /// the stored connection found for it (see `Benchmark.accuracy`).
    public static func score(_ expected: [SyntheticSources.Expected], store: Store, pair: [Int: Int64]) throws -> LinkScore {
        var storyOf: [String: Int64?] = [:]  // "file:line" → story
        let q = try store.db.prepare("SELECT s.path, c.first_line, c.story FROM connections c JOIN sources s ON s.id = c.source")
        while try q.step() {
            storyOf["\(StoreQueries.fileName(q.string(0) ?? "")):\(q.int(1))"] = q.isNull(2) ? Int64?.none : q.int64(2)
        }
        var parts: [String: Part] = [:]
        for e in expected {
            var part = parts[e.file] ?? Part(file: e.file)
            let story = storyOf["\(e.file):\(e.line)"] ?? nil
            if e.truth != nil { part.shouldLink += 1 }
            if let story {
                part.linked += 1
                if let t = e.truth, pair[t] == story { part.correct += 1 }
                if e.truth == nil { part.wronglyLinked += 1 }
            }
            parts[e.file] = part
        }
        return LinkScore(parts: parts.values.sorted { $0.file < $1.file })
    }
}
