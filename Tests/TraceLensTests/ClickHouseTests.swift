import Foundation
import Glibc
import XCTest
@testable import TraceLensInput
@testable import TraceLensExport
import TraceLensBench

/// The HTTP and ClickHouse clients and the fleet schema, against a real ClickHouse server
/// (one per class: it starts in under a second, but stopping takes two).
final class ClickHouseTests: XCTestCase {
    // Set in class setUp and cleared in class tearDown, which XCTest runs on one thread around the tests.
    nonisolated(unsafe) private static var shared: ClickHouseServer?
    nonisolated(unsafe) private static var startFailure: String?

    override class func setUp() {
        super.setUp()
        guard ClickHouseServer.command != nil else { return }
        do { shared = try ClickHouseServer() } catch { startFailure = "\(error)" }
    }

    override class func tearDown() {
        shared?.stop()
        shared = nil
        super.tearDown()
    }

    private func server() throws -> ClickHouseServer {
        try ClickHouseServer.requireInstalled()
        guard let shared = Self.shared else {
            XCTFail("the test ClickHouse server did not start: \(Self.startFailure ?? "?")")
            throw XCTSkip("no server")
        }
        return shared
    }

    /// A client of the shared server on a database of its own, so tests do not see each other's rows.
    private func client(database: String = "t_" + UUID().uuidString.prefix(8).lowercased(), user: String? = nil, password: String? = nil,
                        maxResponseBytes: Int = 64 << 20) throws -> ClickHouseClient {
        try ClickHouseClient(url: server().url, database: database, user: user, password: password, timeout: 30, maxResponseBytes: maxResponseBytes)
    }

    private func count(_ client: ClickHouseClient, _ sql: String) throws -> Int {
        Int(try client.queryRows(sql).rows.first?.first.flatMap { $0 } ?? "") ?? -1
    }

    // MARK: Server and round trips

    func testPingAnswers() throws {
        XCTAssertNoThrow(try client().ping())
    }

    func testValuesComeBackAsStoredThroughJSONEachRowAndTabSeparated() throws {
        let ch = try client()
        try ch.execute("CREATE DATABASE \(FleetSchema.quoteIdentifier(ch.database))")
        try ch.execute("CREATE TABLE \(ch.table("texts")) (id UInt32, s Nullable(String), a Array(String)) ENGINE = MergeTree ORDER BY id")
        let values: [String?] = ["a\tb", "line1\nline2\r\n", "back\\slash \\N \\t", nil, "\\N", "", "é ü 日本 🙂", "quote ' and \" and ,"]
        var rows = ""
        for (i, value) in values.enumerated() {
            let json = value.map(JSON.quote) ?? "null"
            rows += "{\"id\":\(i),\"s\":\(json),\"a\":[]}\n"
        }
        try ch.insert(table: "texts", jsonEachRow: Array(rows.utf8))
        let answer = try ch.queryRows("SELECT id, s, a FROM \(ch.table("texts")) ORDER BY id;")
        XCTAssertEqual(answer.names, ["id", "s", "a"])
        XCTAssertEqual(answer.rows.map { $0[1] }, values)
        XCTAssertEqual(answer.rows.map { $0[0] }, values.indices.map { String($0) })
        XCTAssertEqual(answer.rows.first?[2], "[]")
        // The same characters in a SQL literal, back through query().
        let literal = try ch.queryRows("SELECT 'x\\ty\\\\z' AS s, NULL AS n, 'ü' AS u")
        XCTAssertEqual(literal.rows, [["x\ty\\z", nil, "ü"]])
    }

    func testTabSeparatedParserRefusesBrokenInput() {
        XCTAssertThrowsError(try ClickHouseClient.parseTabSeparatedWithNames(Array("a\tb\n1\n".utf8), server: "s")) { error in
            XCTAssertTrue("\(error)".contains("1 fields under 2 column names"), "\(error)")
        }
        XCTAssertThrowsError(try ClickHouseClient.parseTabSeparatedWithNames(Array("a\nends in \\\n".utf8), server: "s"))
        XCTAssertEqual(try ClickHouseClient.parseTabSeparatedWithNames([]).rows.count, 0)
    }

    func testResponseAboveTheLimitIsRefused() throws {
        let ch = try client(maxResponseBytes: 1000)
        XCTAssertThrowsError(try ch.query("SELECT number FROM system.numbers LIMIT 10000")) { error in
            XCTAssertEqual(error as? HTTPError, .responseTooLarge(ch.server, 1000))
            XCTAssertTrue("\(error)".contains("too large"))
        }
        XCTAssertEqual(try ch.queryRows("SELECT 42").rows, [["42"]], "a small answer still fits")
    }

    /// An answer of many reads, in chunks whose lines straddle reads: every row comes back
    /// (reading once trapped when the buffer was compacted part way through a line).
    func testALongChunkedAnswerReadsWhole() throws {
        let ch = try client()
        let rows = try ch.queryRows("SELECT number, toString(number * 7919) FROM system.numbers LIMIT 300000").rows
        XCTAssertEqual(rows.count, 300_000)
        XCTAssertEqual(rows.last, ["299999", String(299_999 * 7919)])
    }

    // MARK: The fleet schema

    func testSchemaInitializesTwiceAndRecordsItsVersionOnce() throws {
        let ch = try client()
        try FleetSchema.initialize(client: ch)
        try FleetSchema.initialize(client: ch)
        XCTAssertEqual(try FleetSchema.recordedVersion(client: ch), FleetSchema.version)
        XCTAssertEqual(try count(ch, "SELECT count() FROM \(ch.table("tracelens_schema"))"), 1)
        let tables = try ch.queryRows("SELECT name FROM system.tables WHERE database = '\(ch.database)' ORDER BY name").rows.map { $0[0] }
        XCTAssertEqual(tables, ["connections", "links", "records", "tracelens_schema"])
        XCTAssertEqual(try count(ch, "SELECT count() FROM \(ch.table("links"))"), 0, "the view reads through FINAL")
    }

    func testSchemaRefusesADatabaseOfANewerVersion() throws {
        let ch = try client()
        try FleetSchema.initialize(client: ch)
        try ch.insert(table: "tracelens_schema", jsonEachRow: Array("{\"version\":\(FleetSchema.version + 1),\"created\":0}\n".utf8))
        XCTAssertThrowsError(try FleetSchema.initialize(client: ch)) { error in
            XCTAssertTrue("\(error)".contains("newer than this TraceLens"), "\(error)")
        }
    }

    private func recordRow(line: Int, recordID: Int, message: String, time: String = "1700000000") -> String {
        """
        {"host":"h1","source_id":3,"source":"/t/a.trc","layout":null,"line":\(line),"lines":1,"record_id":\(recordID),\
        "time_us":null,"time":\(time),"level":"E","process":null,"thread":null,"function":null,"conn":null,"failure":1,\
        "codes":["c:1"],"code_names":[""],"failure_codes":[],"message":"\(message)","exported_at":1700000100}

        """
    }

    func testRowsSentTwiceCountOnceAndTheHigherVersionWins() throws {
        let ch = try client()
        try FleetSchema.initialize(client: ch)
        let batch = recordRow(line: 1, recordID: 10, message: "first") + recordRow(line: 2, recordID: 11, message: "second")
        try ch.insert(table: "records", jsonEachRow: Array(batch.utf8))
        try ch.insert(table: "records", jsonEachRow: Array(batch.utf8))
        XCTAssertEqual(try count(ch, "SELECT count() FROM \(ch.table("records")) FINAL"), 2)

        // Line 1 read again (a higher record_id) replaces; an older copy arriving late does not.
        try ch.insert(table: "records", jsonEachRow: Array(recordRow(line: 1, recordID: 20, message: "again", time: "\"2023-11-14 22:13:20\"").utf8))
        try ch.insert(table: "records", jsonEachRow: Array(recordRow(line: 1, recordID: 15, message: "late").utf8))
        let rows = try ch.queryRows("SELECT line, message, layout, toUnixTimestamp(time), codes FROM \(ch.table("records")) FINAL ORDER BY line").rows
        XCTAssertEqual(rows, [["1", "again", nil, "1700000000", "['c:1']"], ["2", "second", nil, "1700000000", "['c:1']"]])
    }

    func testDateTimeInAFormClickHouseRefusesIsAnError() throws {
        let ch = try client()
        try FleetSchema.initialize(client: ch)
        XCTAssertThrowsError(try ch.insert(table: "records", jsonEachRow: Array(recordRow(line: 1, recordID: 1, message: "m", time: "\"2023-11-14T22:13:20Z\"").utf8))) { error in
            let clickHouse = error as? ClickHouseError
            XCTAssertEqual(clickHouse?.code, 27, "\(error)")
            XCTAssertTrue("\(error)".contains("Cannot parse input"), "\(error)")
        }
    }

    // MARK: Errors

    func testSQLErrorCarriesTheServersMessage() throws {
        let ch = try client()
        XCTAssertThrowsError(try ch.execute("SELECT no_such_column FROM system.one")) { error in
            guard let clickHouse = error as? ClickHouseError else { return XCTFail("\(error)") }
            XCTAssertEqual(clickHouse.code, 47)
            XCTAssertFalse(clickHouse.isAuthentication)
            XCTAssertTrue(clickHouse.message.contains("no_such_column"), clickHouse.message)
            XCTAssertFalse(clickHouse.description.contains("e.what()"), clickHouse.description)
            XCTAssertTrue(clickHouse.description.hasPrefix("ClickHouse at \(ch.server) refused the statement: code 47: "), clickHouse.description)
        }
    }

    func testErrorAnswersOfEachServerVersionAndOfAProxyAreRead() {
        func error(_ status: Int, _ body: String, headers: [(name: String, value: String)] = []) -> ClickHouseError {
            ClickHouseError(server: "ch:8123", response: HTTPResponse(status: status, headers: headers, body: Array(body.utf8)))
        }
        let old = error(404, "Code: 47, e.displayText() = DB::Exception: Unknown identifier: x, e.what() = DB::Exception\n")
        XCTAssertEqual(old, ClickHouseError(server: "ch:8123", status: 404, code: 47, message: "Unknown identifier: x"))
        let newer = error(404, "Code: 47. DB::Exception: Missing columns: 'x' (UNKNOWN_IDENTIFIER) (version 23.8.1)\n",
                          headers: [("X-ClickHouse-Exception-Code", "47")])
        XCTAssertEqual(newer.message, "Missing columns: 'x' (UNKNOWN_IDENTIFIER)")
        XCTAssertEqual(newer.code, 47)
        let proxy = error(502, "<html>Bad Gateway</html>")
        XCTAssertEqual(proxy.description, "ClickHouse at ch:8123 refused the statement: HTTP status 502: <html>Bad Gateway</html>")
        XCTAssertEqual(error(500, "").message, "HTTP status 500")
        XCTAssertTrue(error(401, "Code: 193, e.displayText() = DB::Exception: Wrong password for user u, e.what() = DB::Exception").isAuthentication)
    }

    func testWrongPasswordIsAnAuthenticationErrorThatHidesThePassword() throws {
        let right = try client(database: "default", user: ClickHouseServer.user, password: ClickHouseServer.password)
        XCTAssertEqual(try right.queryRows("SELECT 1").rows, [["1"]])

        let wrongPassword = "wrong-\(ClickHouseServer.password)"
        let wrong = try client(database: "default", user: ClickHouseServer.user, password: wrongPassword)
        XCTAssertThrowsError(try wrong.execute("SELECT 1")) { error in
            guard let clickHouse = error as? ClickHouseError else { return XCTFail("\(error)") }
            XCTAssertTrue(clickHouse.isAuthentication, "\(error)")
            XCTAssertTrue(clickHouse.description.contains("refused the login"), clickHouse.description)
            XCTAssertFalse("\(error)".contains(wrongPassword))
            XCTAssertFalse(String(reflecting: error).contains(wrongPassword))
        }
        XCTAssertFalse("\(HTTPCredentials(user: "u", password: wrongPassword))".contains(wrongPassword))
        var dumped = ""
        dump(wrong, to: &dumped)
        dump(HTTPClient(credentials: HTTPCredentials(user: "u", password: wrongPassword)), to: &dumped)
        XCTAssertTrue(dumped.contains(ClickHouseServer.user), dumped)
        XCTAssertFalse(dumped.contains(wrongPassword), dumped)
        XCTAssertFalse("\(wrong)".contains(wrongPassword))
    }

    func testClosedPortIsCannotConnect() throws {
        let port = try ClickHouseServer.freeLoopbackPort()
        let ch = try ClickHouseClient(url: "http://127.0.0.1:\(port)", database: "x", timeout: 5)
        XCTAssertThrowsError(try ch.ping()) { error in
            XCTAssertEqual(error as? HTTPError, .cannotConnect("127.0.0.1:\(port)", "Connection refused"))
            XCTAssertEqual("\(error)", "cannot connect to 127.0.0.1:\(port): Connection refused")
        }
    }

    /// A loopback socket that listens (the kernel accepts connections) and its port.
    private static func listeningSocket() throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 && listen(fd, 4) == 0 }
        }
        guard fd >= 0, listening else { close(fd); throw ClickHouseServer.ServerFailure(text: "cannot listen on a loopback socket") }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    func testServerThatNeverAnswersTimesOut() throws {
        // A socket that listens but never reads: the kernel accepts the connection, nobody answers.
        let (fd, port) = try Self.listeningSocket()
        defer { close(fd) }
        let http = HTTPClient(timeout: 0.3)
        XCTAssertThrowsError(try http.request(method: "GET", url: "http://127.0.0.1:\(port)/ping")) { error in
            XCTAssertEqual(error as? HTTPError, .timedOut("127.0.0.1:\(port)", "waiting for the response", 0.3))
            XCTAssertTrue("\(error)".hasPrefix("no answer from 127.0.0.1:\(port) within 0.3 s"), "\(error)")
        }
    }

    /// The head first, the chunked body a moment later (as ClickHouse answers a slow OPTIMIZE):
    /// the reader drops what it consumed before reading on, and still finds the chunk's line.
    func testAnswerArrivingInTwoPartsIsRead() throws {
        let (fd, port) = try Self.listeningSocket()
        defer { close(fd) }
        let served = DispatchSemaphore(value: 0)
        Thread {
            defer { served.signal() }
            let peer = accept(fd, nil, nil)
            guard peer >= 0 else { return }
            defer { close(peer) }
            var request = [UInt8](repeating: 0, count: 4096)
            _ = recv(peer, &request, request.count, 0)
            let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Padding: \(String(repeating: "x", count: 200))\r\nTransfer-Encoding: chunked\r\n\r\n"
            _ = Array(head.utf8).withUnsafeBytes { send(peer, $0.baseAddress, $0.count, 0) }
            usleep(200_000)
            _ = Array("2\r\nok\r\n0\r\n\r\n".utf8).withUnsafeBytes { send(peer, $0.baseAddress, $0.count, 0) }
        }.start()
        let response = try HTTPClient(timeout: 5).request(method: "GET", url: "http://127.0.0.1:\(port)/")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(String(decoding: response.body, as: UTF8.self), "ok")
        served.wait()
    }

    func testBadURLsAreClearErrors() {
        func failure(_ url: String) -> String {
            do { _ = try HTTPEndpoint(parsing: url); return "accepted" } catch { return error.description }
        }
        XCTAssertTrue(failure("https://ch.example:8443").contains("https is not supported yet"))
        XCTAssertTrue(failure("ftp://ch.example").contains("only http:// is supported"))
        XCTAssertTrue(failure("http://:99999").contains("no host"))
        XCTAssertTrue(failure("http://ch.example:99999").contains("port must be a number from 1 to 65535"))
        XCTAssertTrue(failure("http://ch.example:port").contains("port must be a number"))
        XCTAssertTrue(failure("127.0.0.1:8123").contains("expected http://host:port"))
        XCTAssertTrue(failure("http://[::1").contains("closing ]"))
        XCTAssertTrue(failure("http://user:hunter2@ch.example:8123").contains("give the user and password apart"))

        XCTAssertEqual(try HTTPEndpoint(parsing: "http://127.0.0.1:8123"), HTTPEndpoint(host: "127.0.0.1", port: 8123, target: "/"))
        XCTAssertEqual(try HTTPEndpoint(parsing: "http://[::1]:9/a?b=c#f"), HTTPEndpoint(host: "::1", port: 9, target: "/a?b=c"))
        XCTAssertEqual(try HTTPEndpoint(parsing: "HTTP://ch?x=1").port, 80)
        XCTAssertEqual(try HTTPEndpoint(parsing: "HTTP://ch?x=1").target, "/?x=1")

        // A line end in a header would let its value add headers of its own.
        XCTAssertThrowsError(try HTTPClient().request(method: "GET", url: "http://127.0.0.1:1/", headers: [("X-A", "v\r\nX-B: w")])) { error in
            XCTAssertEqual(error as? HTTPError, .badRequest("header \"X-A\""))
        }
    }

    // MARK: The test server itself

    func testRestartKeepsTheDataAndAStoppedServerCannotBeReached() throws {
        let server = try server()
        let ch = try client()
        try FleetSchema.initialize(client: ch)
        try ch.insert(table: "records", jsonEachRow: Array(recordRow(line: 1, recordID: 1, message: "kept").utf8))
        server.stop()
        XCTAssertThrowsError(try ch.ping()) { error in
            XCTAssertTrue("\(error)".hasPrefix("cannot connect to \(ch.server)"), "\(error)")
        }
        try server.restart()
        XCTAssertEqual(try ch.queryRows("SELECT message FROM \(ch.table("records")) FINAL").rows, [["kept"]])
    }
}
