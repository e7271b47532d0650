import XCTest
@testable import TraceLensInput
@testable import TraceLensStore
@testable import TraceLensQuery
@testable import TraceLensExport
@testable import TraceLensCommands
@testable import TraceLensBench

/// The export sinks and fleet queries against a real ClickHouse server (started by the tests on
/// free loopback ports in a temporary folder; `.ci/run` installs the package).
final class FleetTests: XCTestCase {
    // Set in class setUp and cleared in class tearDown, which XCTest runs on one thread around the tests.
    nonisolated(unsafe) private static var server: ClickHouseServer?
    nonisolated(unsafe) private static var startFailure: String?

    override class func setUp() {
        super.setUp()
        guard ClickHouseServer.command != nil else { return }
        do { server = try ClickHouseServer() } catch { startFailure = "\(error)" }
    }

    override class func tearDown() {
        server?.stop()
        server = nil
        super.tearDown()
    }

    private func running() throws -> ClickHouseServer {
        try ClickHouseServer.requireInstalled()
        guard let server = Self.server else {
            XCTFail("the test ClickHouse server did not start: \(Self.startFailure ?? "?")")
            throw XCTSkip("no server")
        }
        return server
    }

    /// A database of its own for each test, made by `fleet init`.
    private func initialized(_ server: ClickHouseServer, _ database: String) throws -> [String] {
        let arguments = ["--clickhouse", server.url, "--database", database]
        let run = try Fixtures.runTool(["fleet", "init"] + arguments)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.hasPrefix("tables ready in "), run.stdout)
        return arguments
    }

    private func client(_ server: ClickHouseServer, _ database: String) throws -> ClickHouseClient {
        try ClickHouseClient(url: server.url, database: database, user: nil, password: nil)
    }

    private func scalar(_ client: ClickHouseClient, _ sql: String) throws -> Int {
        Int((try client.queryRows(sql).rows.first?.first ?? nil) ?? "") ?? -1
    }

    private func sampleFiles(_ scenario: String) throws -> [String] {
        let dir = Fixtures.sample(scenario)
        return try FileManager.default.contentsOfDirectory(atPath: dir).filter { !$0.hasSuffix(".tsv") }.sorted().map { dir + "/" + $0 }
    }

    private func ingested(_ scenario: String) throws -> String {
        let db = Fixtures.tempDir() + "/t.db"
        let run = try Fixtures.runTool(["ingest", "--db", db] + (try sampleFiles(scenario)))
        XCTAssertEqual(run.status, 0, run.stderr)
        return db
    }

    private func localCount(_ db: String, _ sql: String) throws -> Int {
        Int(try Store.openForReading(db).db.scalar(sql) ?? -1)
    }

    /// Every record and connection arrives once, sent twice or not: a second run sends nothing,
    /// and a batch sent again after a lost acknowledgement replaces itself.
    func testExportToClickHouseIsExactlyOnce() throws {
        let server = try running()
        let arguments = try initialized(server, "once")
        let db = try ingested("revoked-client-cert")
        let first = try Fixtures.runTool(["export", "--db", db, "--host", "lpar1"] + arguments)
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.hasPrefix("exported \(try localCount(db, "SELECT count(*) FROM records")) records"), first.stdout)
        XCTAssertTrue(try Fixtures.runTool(["export", "--db", db, "--host", "lpar1"] + arguments).stdout.hasPrefix("nothing new"))
        // The acknowledgement of everything lost: the whole store is sent again.
        try Store.openForWriting(db).db.execute("UPDATE export_sinks SET record = 0, revision = 0")
        XCTAssertEqual(try Fixtures.runTool(["export", "--db", db, "--host", "lpar1"] + arguments).status, 0)
        let ch = try client(server, "once")
        XCTAssertEqual(try scalar(ch, "SELECT count() FROM once.records FINAL"), try localCount(db, "SELECT count(*) FROM records"))
        XCTAssertEqual(try scalar(ch, "SELECT count() FROM once.connections FINAL"), try localCount(db, "SELECT count(*) FROM connections"))
        XCTAssertEqual(try scalar(ch, "SELECT count() FROM once.links"), try localCount(db, "SELECT count(*) FROM links"))
        XCTAssertEqual(try scalar(ch, "SELECT uniqExact(host, source_id, line) FROM once.records FINAL"), try localCount(db, "SELECT count(*) FROM records"))
    }

    /// `fleet connections --failed` and `fleet summary` answer what the two local stores
    /// answer together, with a host column.
    func testFleetAnswersAreTheUnionOfTheLocalStores() throws {
        let server = try running()
        let arguments = try initialized(server, "union")
        let stores = [("lpar1", try ingested("revoked-client-cert")), ("lpar2", try ingested("attls-revoked"))]
        for (host, db) in stores {
            let run = try Fixtures.runTool(["export", "--db", db, "--host", host] + arguments)
            XCTAssertEqual(run.status, 0, run.stderr)
        }
        try assertFleetEqualsLocal(stores, arguments)
    }

    /// Compares the fleet's answers with the local stores' (`--json`): connections --failed
    /// row for row with the host added, and the summary's sources and code counts.
    private func assertFleetEqualsLocal(_ stores: [(host: String, db: String)], _ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        func json(_ run: Fixtures.ToolRun) throws -> [String: Any] {
            XCTAssertEqual(run.status, 0, run.stderr, file: file, line: line)
            return try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any] ?? [:]
        }
        /// One table prints as an array of rows.
        func rows(_ run: Fixtures.ToolRun) throws -> [[String: Any]] {
            XCTAssertEqual(run.status, 0, run.stderr, file: file, line: line)
            return try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[String: Any]] ?? []
        }
        func canonical(_ rows: [[String: Any]]) -> [String] {
            rows.map { String(decoding: try! JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), as: UTF8.self) }.sorted()
        }
        var localFailed: [[String: Any]] = []
        var localSources: [[String: Any]] = []
        var localCodes: [String: Int] = [:]
        for (host, db) in stores {
            let failed = try rows(try Fixtures.runTool(["connections", "--failed", "--json", "--db", db]))
            localFailed += failed.map { var r = $0; r["host"] = host; return r }
            let summary = try json(try Fixtures.runTool(["summary", "--json", "--limit", "1000", "--db", db]))
            localSources += (summary["sources"] as? [[String: Any]] ?? []).map { var r = $0; r["host"] = host; r["offset"] = nil; r["linked"] = nil; return r }
            for c in summary["codes"] as? [[String: Any]] ?? [] { localCodes[c["code"] as! String, default: 0] += c["count"] as! Int }
        }
        let fleetFailed = try rows(try Fixtures.runTool(["fleet", "connections", "--failed", "--json"] + arguments))
        XCTAssertFalse(fleetFailed.isEmpty, file: file, line: line)
        XCTAssertEqual(canonical(fleetFailed), canonical(localFailed), file: file, line: line)
        let summary = try json(try Fixtures.runTool(["fleet", "summary", "--json", "--limit", "1000"] + arguments))
        let fleetSources = (summary["sources"] as? [[String: Any]] ?? []).map { var r = $0; r["linked"] = nil; return r }
        XCTAssertEqual(canonical(fleetSources), canonical(localSources), file: file, line: line)
        var fleetCodes: [String: Int] = [:]
        for c in summary["codes"] as? [[String: Any]] ?? [] { fleetCodes[c["code"] as! String] = c["count"] as? Int }
        XCTAssertEqual(fleetCodes, localCodes, file: file, line: line)
    }

    /// `fleet show HOST:CONN` gives the story's connections and records; a connection on two
    /// hosts must be named with its host; one that is nowhere is said so.
    func testFleetShowNamesTheHost() throws {
        let server = try running()
        let arguments = try initialized(server, "shown")
        let db = try ingested("revoked-client-cert")
        // One store sent as two hosts: a sink (and its cursor) for each.
        for host in ["lpar1", "lpar2"] {
            XCTAssertEqual(try Fixtures.runTool(["export", "--db", db, "--host", host, "--sink", host] + arguments).status, 0)
        }
        let show = try Fixtures.runTool(["fleet", "show", "lpar2:1", "--json"] + arguments)
        XCTAssertEqual(show.status, 0, show.stderr)
        let story = try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as! [String: Any]
        let records = story["records"] as! [[String: Any]]
        XCTAssertEqual(records.count, try localCount(db, "SELECT count(*) FROM records WHERE conn IN (SELECT id FROM connections WHERE id = 1 OR story = 1)"))
        XCTAssertEqual((story["connections"] as! [[String: Any]]).first?["host"] as? String, "lpar2")
        let ambiguous = try Fixtures.runTool(["fleet", "show", "1"] + arguments)
        XCTAssertNotEqual(ambiguous.status, 0)
        XCTAssertTrue(ambiguous.stderr.contains("connection 1 is on several hosts (lpar1, lpar2)"), ambiguous.stderr)
        XCTAssertEqual(try Fixtures.runTool(["fleet", "show", "1", "--host", "lpar1"] + arguments).status, 0)
        let missing = try Fixtures.runTool(["fleet", "show", "lpar1:99999"] + arguments)
        XCTAssertTrue(missing.stderr.contains("no connection lpar1:99999"), missing.stderr)
    }

    /// A server that is down: the export says so and moves no cursor; the daemon's sink says
    /// so in `status`; a wrong password is refused without being repeated.
    func testAnEngineThatIsDownOrRefusesIsSaidAndNothingMoves() throws {
        let server = try running()
        let arguments = try initialized(server, "refused")
        let db = try ingested("revoked-client-cert")
        let closed = try Fixtures.runTool(["export", "--db", db, "--clickhouse", "http://127.0.0.1:1"])
        XCTAssertNotEqual(closed.status, 0)
        XCTAssertTrue(closed.stderr.contains("cannot connect"), closed.stderr)
        XCTAssertEqual(try localCount(db, "SELECT record FROM export_sinks"), 0)
        let uninitialized = try Fixtures.runTool(["export", "--db", db, "--clickhouse", server.url, "--database", "never_made", "--sink", "other"])
        XCTAssertNotEqual(uninitialized.status, 0)
        XCTAssertTrue(uninitialized.stderr.contains("make the tables with `tracelens fleet init`"), uninitialized.stderr)
        let secretFile = Fixtures.tempDir() + "/password"
        try "not-the-password-4711\n".write(toFile: secretFile, atomically: true, encoding: .utf8)
        let refused = try Fixtures.runTool(["export", "--db", db, "--user", "tracelens", "--password-file", secretFile] + arguments)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertFalse(refused.stderr.contains("not-the-password-4711") || refused.stdout.contains("not-the-password-4711"))
        XCTAssertTrue(try Fixtures.runTool(["status", "--db", db]).stdout.contains("failed"))
    }

    // MARK: two daemons, a kill and a server restart

    /// Two daemons (two hosts) follow growing traces and export as they go. One is killed with
    /// SIGKILL and started again; the server is stopped and started again. Afterwards every
    /// record and connection is in ClickHouse once, and the fleet's answers are the union of
    /// the two local stores'.
    func testTwoDaemonsSurviveAKillAndAServerRestart() throws {
        let server = try running()
        let arguments = try initialized(server, "fleet")
        struct Host {
            var name: String
            var dir: String
            var db: String
            var config: String
            var trace: [Substring]
            var written = 0
            /// Started with `Platform.startChild`: Foundation's `Process` hangs `runTool` while a long-lived child runs.
            var daemon: Int32?
        }
        var hosts: [Host] = []
        for (i, name) in ["lpar1", "lpar2"].enumerated() {
            let dir = Fixtures.tempDir()
            let whole = Fixtures.tempDir() + "/gskssl.\(100 + i).trc"
            try SyntheticTrace(threads: 4, seed: UInt64(7 + i)).write(to: whole, targetBytes: 400_000)
            let lines = try String(contentsOfFile: whole, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            let config = dir + "/tracelens.toml"
            try """
                db = "\(dir)/tracelens.db"
                paths = ["\(dir)/traces/*"]
                host = "\(name)"
                quiet = "300ms"
                link-interval = "1s"
                log-level = "debug"
                [[export]]
                type = "clickhouse"
                url = "\(server.url)"
                database = "fleet"
                batch-records = 300
                interval = "200ms"
                max-backoff = "1s"
                """.write(toFile: config, atomically: true, encoding: .utf8)
            try FileManager.default.createDirectory(atPath: dir + "/traces", withIntermediateDirectories: true)
            hosts.append(Host(name: name, dir: dir, db: dir + "/tracelens.db", config: config, trace: lines))
        }
        func startDaemon(_ h: inout Host) throws {
            let log = h.dir + "/daemon.log"
            h.daemon = try XCTUnwrap(Platform.startChild(Fixtures.toolPath, ["daemon", "--config", h.config], errors: log, append: true))
        }
        func stopDaemon(_ h: Host, signal: Int32 = Platform.Signal.terminate) {
            guard let pid = h.daemon else { return }
            _ = Platform.send(signal, to: pid)
            _ = Platform.waitForChild(pid)
        }
        /// Appends the next part of each host's trace (whole lines), `parts` parts in all.
        func grow(_ h: inout Host, part: Int, of parts: Int) throws {
            let end = part == parts ? h.trace.count : h.trace.count * part / parts
            guard end > h.written else { return }
            let text = h.trace[h.written..<end].joined(separator: "\n") + (end < h.trace.count ? "\n" : "")
            let path = h.dir + "/traces/" + "gskssl.\(h.name).trc"
            if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
            let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
            handle.seekToEndOfFile()
            handle.write(Data(text.utf8))
            try handle.close()
            h.written = end
        }
        for i in hosts.indices { try startDaemon(&hosts[i]) }
        defer { for h in hosts where h.daemon != nil && Platform.endedChild(h.daemon!) == nil { stopDaemon(h) } }
        let parts = 8
        for part in 1...parts {
            // The server goes down before this part is written, so the sinks have rows to send
            // while it is away (a sink that is caught up has nothing to try).
            if part == 5 { server.stop() }
            for i in hosts.indices { try grow(&hosts[i], part: part, of: parts) }
            usleep(400_000)
            if part == 3 {
                // lpar1 dies mid-export and comes back.
                stopDaemon(hosts[0], signal: Platform.Signal.kill)
                try startDaemon(&hosts[0])
            }
            if part == 5 {
                // While the server is down the daemons go on storing, and say the sink is retrying.
                let deadline = Date().addingTimeInterval(20)
                var retrying = false
                while !retrying && Date() < deadline {
                    usleep(200_000)
                    retrying = (try? Fixtures.runTool(["status", "--db", hosts[1].db]).stdout.contains("retrying")) ?? false
                }
                XCTAssertTrue(retrying, "status says the sink is retrying while the server is down")
                try server.start()
            }
        }
        // Wait until each daemon has read its file whole and its sink has caught up.
        for h in hosts {
            let deadline = Date().addingTimeInterval(90)
            var done = false
            while !done && Date() < deadline {
                usleep(300_000)
                guard let status = try? Fixtures.runTool(["status", "--json", "--db", h.db]),
                      let object = try? JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any],
                      let files = object["files"] as? [[String: Any]], let exports = object["exports"] as? [[String: Any]] else { continue }
                let read = !files.isEmpty && files.allSatisfy { ($0["lag"] as? Int) == 0 }
                let sent = exports.allSatisfy { ($0["state"] as? String) == "caught up" && ($0["records behind"] as? Int) == 0 && ($0["connections behind"] as? Int) == 0 }
                done = read && sent
            }
            XCTAssertTrue(done, "\(h.name) read everything and its sink caught up: " + ((try? String(contentsOfFile: h.dir + "/daemon.log", encoding: .utf8))?.suffix(2000) ?? ""))
        }
        for i in hosts.indices {
            stopDaemon(hosts[i])
            hosts[i].daemon = nil
        }
        // The faults happened where meant: lpar1's sink started twice, and both sinks failed while
        // the server was down and recovered after.
        let logs = hosts.map { (try? String(contentsOfFile: $0.dir + "/daemon.log", encoding: .utf8)) ?? "" }
        XCTAssertEqual(logs[0].components(separatedBy: " export-started ").count - 1, 2, logs[0].suffix(3000).description)
        for log in logs {
            XCTAssertTrue(log.contains(" export-failed ") && log.contains(" export-recovered "), log.suffix(3000).description)
        }
        let ch = try client(server, "fleet")
        for h in hosts {
            let host = "host = '\(h.name)'"
            XCTAssertEqual(try scalar(ch, "SELECT count() FROM fleet.records FINAL WHERE \(host)"), try localCount(h.db, "SELECT count(*) FROM records"), h.name)
            XCTAssertEqual(try scalar(ch, "SELECT uniqExact(source_id, line) FROM fleet.records FINAL WHERE \(host)"), try localCount(h.db, "SELECT count(*) FROM records"))
            XCTAssertEqual(try scalar(ch, "SELECT count() FROM fleet.connections FINAL WHERE \(host)"), try localCount(h.db, "SELECT count(*) FROM connections"), h.name)
            // Every line of the trace is a stored record's line, once.
            XCTAssertEqual(try scalar(ch, "SELECT sum(lines) FROM fleet.records FINAL WHERE \(host)"), h.trace.count - (h.trace.last == "" ? 1 : 0), h.name)
        }
        try assertFleetEqualsLocal(hosts.map { ($0.name, $0.db) }, arguments)
    }
}
