import Foundation

/// What a ClickHouse server refused: a statement it could not run, or a user it did not accept.
/// The description names the server and the server's own words, never the password.
package struct ClickHouseError: Error, CustomStringConvertible, Equatable {
    /// `host:port`.
    package var server: String
    package var status: Int
    /// ClickHouse's error code (`Code: 47`), when the answer gave one.
    package var code: Int?
    /// The server's message without its stack and exception class.
    package var message: String

    /// Wrong user or password, or a user not allowed from here.
    package var isAuthentication: Bool {
        status == 401 || status == 403 || [192, 193, 194, 195, 516].contains(code ?? 0)
    }

    /// The database or a table is not there (UNKNOWN_DATABASE, UNKNOWN_TABLE).
    package var isMissingTable: Bool { [60, 81].contains(code ?? 0) }

    package var description: String {
        let what = isAuthentication ? "refused the login" : "refused the statement"
        // The usual cause: the fleet's tables were never made on this server or under this database.
        let hint = isMissingTable ? " (make the tables with `tracelens fleet init`)" : ""
        return "ClickHouse at \(server) \(what): " + (code.map { "code \($0): " } ?? "") + message + hint
    }

    /// Reads an error answer. ClickHouse 18.16 writes `Code: 47, e.displayText() = DB::Exception:
    /// Unknown identifier: x, e.what() = DB::Exception`; later versions `Code: 47. DB::Exception:
    /// ... (UNKNOWN_IDENTIFIER) (version ...)` and an X-ClickHouse-Exception-Code header.
    init(server: String, response: HTTPResponse) {
        self.server = server
        status = response.status
        var text = response.text.trimmingCharacters(in: .whitespacesAndNewlines)
        var code = response.header("X-ClickHouse-Exception-Code").flatMap { Int($0) }
        if text.hasPrefix("Code: ") {
            let digits = text.dropFirst("Code: ".count).prefix { $0.isNumber }
            code = code ?? Int(digits)
        } else if code == nil && !text.isEmpty {
            // Not ClickHouse's words (a proxy's error page): the status says more than the page.
            text = "HTTP status \(response.status): " + text
        }
        if let start = text.range(of: "DB::Exception: ") { text = String(text[start.upperBound...]) }
        for tail in [", e.what() = ", " (version "] {
            if let end = text.range(of: tail, options: .backwards) { text = String(text[..<end.lowerBound]) }
        }
        text = text.split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init) ?? ""
        if text.count > 500 { text = String(text.prefix(500)) + "…" }
        self.code = code
        message = text.isEmpty ? "HTTP status \(response.status)" : text
    }

    package init(server: String, status: Int, code: Int?, message: String) {
        self.server = server
        self.status = status
        self.code = code
        self.message = message
    }
}

/// Talks to one ClickHouse server over its HTTP interface (port 8123): statements, queries read
/// as TabSeparatedWithNames, and JSONEachRow inserts. The login goes as basic authentication,
/// never as URL parameters, since URLs end up in the server's and proxies' logs.
///
/// Immutable after init, so one client may be shared between threads; each call opens its own
/// connection.
package final class ClickHouseClient: Sendable, CustomStringConvertible {
    /// The server's address (its path, normally `/`, is kept).
    package let endpoint: HTTPEndpoint
    package let database: String
    private let http: HTTPClient

    /// `url` is `http://host:port`; `timeout` bounds each wait on the network.
    package init(url: String, database: String, user: String? = nil, password: String? = nil,
                 timeout: Double = 30, maxResponseBytes: Int = 64 << 20) throws(HTTPError) {
        var endpoint = try HTTPEndpoint(parsing: url)
        if let query = endpoint.target.firstIndex(of: "?") { endpoint.target = String(endpoint.target[..<query]) }
        if !endpoint.target.hasSuffix("/") { endpoint.target += "/" }
        self.endpoint = endpoint
        self.database = database
        let credentials = user.map { HTTPCredentials(user: $0, password: password ?? "") }
        http = HTTPClient(timeout: timeout, maxBodyBytes: maxResponseBytes, credentials: credentials)
    }

    /// `host:port`, for messages.
    package var server: String { endpoint.authority }

    package var description: String {
        "ClickHouse at \(server), database \(database)" + (http.credentials.map { ", \($0)" } ?? "")
    }

    /// A table of this client's database, quoted for SQL: `` `fleet`.`records` ``.
    package func table(_ name: String) -> String {
        FleetSchema.quoteIdentifier(database) + "." + FleetSchema.quoteIdentifier(name)
    }

    /// Checks that the server answers (`GET /ping` says `Ok.`); needs no login.
    package func ping() throws {
        var target = endpoint
        target.target += "ping"
        let response = try http.request(method: "GET", endpoint: target)
        guard response.isSuccess else { throw ClickHouseError(server: server, response: response) }
        guard response.text.hasPrefix("Ok.") else {
            throw HTTPError.malformedResponse(server, "/ping answered \(String(response.text.prefix(40)).debugDescription), not Ok.: is this ClickHouse?")
        }
    }

    /// Runs one statement that returns nothing to read (CREATE, DROP, INSERT ... SELECT, OPTIMIZE).
    package func execute(_ sql: String) throws {
        _ = try post(parameters: [], body: Array(sql.utf8))
    }

    /// Runs a query and returns the answer as the server sent it (in the FORMAT the query names).
    /// The server finishes the query before answering, so an error part way is an error here,
    /// not a cut-off result.
    package func query(_ sql: String) throws -> [UInt8] {
        try post(parameters: [("wait_end_of_query", "1")], body: Array(sql.utf8))
    }

    /// Runs a SELECT (without a FORMAT clause) and returns its column names and rows; NULL is nil.
    /// Arrays and tuples come as ClickHouse writes them in text (`['a','b']`).
    package func queryRows(_ sql: String) throws -> (names: [String], rows: [[String?]]) {
        var statement = sql.trimmingCharacters(in: .whitespacesAndNewlines)
        while statement.hasSuffix(";") { statement.removeLast() }
        let answer = try query(statement + "\nFORMAT TabSeparatedWithNames")
        return try Self.parseTabSeparatedWithNames(answer, server: server)
    }

    /// Inserts rows given as JSON objects, one a line, into `table` of this client's database.
    /// Nothing is sent for no rows.
    package func insert(table name: String, jsonEachRow rows: [UInt8]) throws {
        guard !rows.isEmpty else { return }
        _ = try post(parameters: [("query", "INSERT INTO \(table(name)) FORMAT JSONEachRow")], body: rows)
    }

    private func post(parameters: [(String, String)], body: [UInt8]) throws -> [UInt8] {
        var target = endpoint
        if !parameters.isEmpty {
            target.target += "?" + parameters.map { "\($0.0)=\(Self.percentEncode($0.1))" }.joined(separator: "&")
        }
        let response = try http.request(method: "POST", endpoint: target, headers: [("Content-Type", "text/plain; charset=utf-8")], body: body)
        guard response.isSuccess else { throw ClickHouseError(server: server, response: response) }
        return response.body
    }

    /// Everything but unreserved characters percent-encoded, for a URL parameter's value.
    static func percentEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }

    /// Splits a TabSeparatedWithNames answer: the first line is the column names, then one line
    /// per row, fields separated by tabs and escaped with backslashes; a field of `\N` is NULL.
    package static func parseTabSeparatedWithNames(_ bytes: [UInt8], server: String = "") throws -> (names: [String], rows: [[String?]]) {
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        guard let header = lines.first else { return ([], []) }
        let names = try fields(header, server: server).map { field throws -> String in
            guard let name = field else { throw HTTPError.malformedResponse(server, "a NULL column name") }
            return name
        }
        var rows: [[String?]] = []
        rows.reserveCapacity(lines.count - 1)
        for line in lines.dropFirst() {
            let row = try fields(line, server: server)
            guard row.count == names.count else {
                throw HTTPError.malformedResponse(server, "a row of \(row.count) fields under \(names.count) column names")
            }
            rows.append(row)
        }
        return (names, rows)
    }

    /// One TSV line's fields, unescaped.
    static func fields(_ line: ArraySlice<UInt8>, server: String) throws -> [String?] {
        var result: [String?] = []
        for raw in line.split(separator: 0x09, omittingEmptySubsequences: false) {
            if raw.elementsEqual([UInt8(ascii: "\\"), UInt8(ascii: "N")]) { result.append(nil); continue }
            guard raw.contains(UInt8(ascii: "\\")) else { result.append(String(decoding: raw, as: UTF8.self)); continue }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(raw.count)
            var escaped = false
            for byte in raw {
                if escaped {
                    switch byte {
                    case UInt8(ascii: "t"): bytes.append(0x09)
                    case UInt8(ascii: "n"): bytes.append(0x0A)
                    case UInt8(ascii: "r"): bytes.append(0x0D)
                    case UInt8(ascii: "b"): bytes.append(0x08)
                    case UInt8(ascii: "f"): bytes.append(0x0C)
                    case UInt8(ascii: "0"): bytes.append(0x00)
                    case UInt8(ascii: "a"): bytes.append(0x07)
                    case UInt8(ascii: "v"): bytes.append(0x0B)
                    default: bytes.append(byte)  // \\ \' and anything else stand for themselves
                    }
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else {
                    bytes.append(byte)
                }
            }
            if escaped { throw HTTPError.malformedResponse(server, "a field ending in a lone backslash") }
            result.append(String(decoding: bytes, as: UTF8.self))
        }
        return result
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
