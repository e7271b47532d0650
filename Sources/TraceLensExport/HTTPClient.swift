import Foundation
import TraceLensInput

/// Where an HTTP request goes: `http://host:port/path?query`. Only plain HTTP: TLS needs a
/// library TraceLens does not link yet, so `https://` is refused with a clear error.
package struct HTTPEndpoint: Sendable, Equatable {
    package var host: String
    package var port: Int
    /// The path and query as sent on the request line (`/` at least).
    package var target: String

    /// `host:port` for messages (IPv6 addresses in brackets).
    package var authority: String { (host.contains(":") ? "[\(host)]" : host) + ":\(port)" }

    package init(host: String, port: Int, target: String = "/") {
        self.host = host
        self.port = port
        self.target = target
    }

    /// Reads `http://host[:port][/path][?query]`; the port defaults to 80.
    package init(parsing url: String) throws(HTTPError) {
        let text = url.trimmingCharacters(in: .whitespaces)
        guard let schemeEnd = text.range(of: "://") else { throw .badURL(url, "expected http://host:port") }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" else {
            throw scheme == "https" ? .httpsNotSupported(url) : .badURL(url, "only http:// is supported, not \(scheme)://")
        }
        let rest = text[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        // A user and password in the URL would end up in logs and messages: they are given apart.
        guard !authority.contains("@") else { throw .badURL(url, "give the user and password apart, not in the URL") }
        var host: Substring, portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw .badURL(url, "an IPv6 address needs its closing ]") }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .badURL(url, "expected :port after the IPv6 address") }
                portText = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        guard !host.isEmpty else { throw .badURL(url, "no host") }
        var port = 80
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else { throw .badURL(url, "the port must be a number from 1 to 65535") }
            port = value
        }
        var target = String(rest[authorityEnd...])
        if let fragment = target.firstIndex(of: "#") { target = String(target[..<fragment]) }
        if target.isEmpty || target.hasPrefix("?") { target = "/" + target }
        guard !target.contains(where: { $0 == " " || $0 == "\r" || $0 == "\n" }) else { throw .badURL(url, "spaces and line ends must be percent-encoded") }
        self.init(host: String(host), port: port, target: target)
    }
}

/// A user and password sent as HTTP basic authentication. The password is never shown.
package struct HTTPCredentials: Sendable, CustomStringConvertible, CustomReflectable {
    package var user: String
    package var password: String

    package init(user: String, password: String) {
        self.user = user
        self.password = password
    }

    var headerValue: String { "Basic " + Data((user + ":" + password).utf8).base64EncodedString() }
    package var description: String { "user \(user)" }
    // dump() and debuggers show the mirror: the user only.
    package var customMirror: Mirror { Mirror(self, children: ["user": user]) }
}

package struct HTTPResponse: Sendable {
    package var status: Int
    package var headers: [(name: String, value: String)]
    package var body: [UInt8]

    /// The first header of that name, compared without case.
    package func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    /// The body as UTF-8 text (invalid bytes replaced).
    package var text: String { String(decoding: body, as: UTF8.self) }
    package var isSuccess: Bool { (200..<300).contains(status) }
}

/// Why a request got no response. Messages name the server, never a password.
package enum HTTPError: Error, CustomStringConvertible, Equatable {
    case badURL(String, String)
    /// A method or header that would break the request's framing (a line end in it).
    case badRequest(String)
    case httpsNotSupported(String)
    case cannotResolve(String, String)
    case cannotConnect(String, String)
    /// Server, what was waited for, seconds.
    case timedOut(String, String, Double)
    /// The server closed or reset the connection before the response ended.
    case connectionLost(String, String)
    /// Server, the caller's limit in bytes.
    case responseTooLarge(String, Int)
    case malformedResponse(String, String)

    package var description: String {
        switch self {
        case .badURL(let url, let why): "bad URL \(url): \(why)"
        case .badRequest(let why): "bad request: \(why)"
        case .httpsNotSupported(let url): "\(url): https is not supported yet; use http:// (on a trusted network or through a local TLS proxy)"
        case .cannotResolve(let host, let why): "cannot find the address of \(host): \(why)"
        case .cannotConnect(let server, let why): "cannot connect to \(server): \(why)"
        case .timedOut(let server, let what, let seconds): "no answer from \(server) within \(Self.seconds(seconds)) (\(what))"
        case .connectionLost(let server, let why): "connection to \(server) lost before the response ended: \(why)"
        case .responseTooLarge(let server, let limit): "response from \(server) too large: more than \(limit) bytes"
        case .malformedResponse(let server, let why): "malformed response from \(server): \(why)"
        }
    }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }
}

/// A small HTTP/1.1 client over plain TCP: one connection per request (`Connection: close`),
/// which costs a connect per batch but never reuses a connection the server has half-closed.
/// Every wait (connect, each send, each receive) is bounded by `timeout`, and the body by
/// `maxBodyBytes`.
package struct HTTPClient: Sendable {
    package var timeout: Double
    package var maxBodyBytes: Int
    package var credentials: HTTPCredentials?

    package init(timeout: Double = 10, maxBodyBytes: Int = 64 << 20, credentials: HTTPCredentials? = nil) {
        self.timeout = timeout
        self.maxBodyBytes = maxBodyBytes
        self.credentials = credentials
    }

    package func request(method: String, url: String, headers: [(String, String)] = [], body: [UInt8] = []) throws(HTTPError) -> HTTPResponse {
        try request(method: method, endpoint: HTTPEndpoint(parsing: url), headers: headers, body: body)
    }

    package func request(method: String, endpoint: HTTPEndpoint, headers: [(String, String)] = [], body: [UInt8] = []) throws(HTTPError) -> HTTPResponse {
        let server = endpoint.authority
        // A line end in a method or header would let a value write its own headers.
        guard !method.isEmpty, !method.contains(where: { $0 == " " || $0.isNewline }) else { throw .badRequest("method \(method.debugDescription)") }
        for (name, value) in headers where name.isEmpty || (name + value).contains(where: \.isNewline) || name.contains(":") {
            throw .badRequest("header \(name.debugDescription)")
        }
        let fd: Int32
        switch Platform.connectTCP(host: endpoint.host, port: endpoint.port, timeout: timeout) {
        case .connected(let descriptor): fd = descriptor
        case .unresolved(let why): throw .cannotResolve(endpoint.host, why)
        case .failed(let why): throw .cannotConnect(server, why)
        case .timedOut: throw .timedOut(server, "connecting", timeout)
        }
        defer { Platform.close(fd) }

        var head = "\(method) \(endpoint.target) HTTP/1.1\r\nHost: \(endpoint.authority)\r\nConnection: close\r\n"
        if let credentials { head += "Authorization: \(credentials.headerValue)\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" || method == "PUT" { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"

        // Head and body apart: a batch of many megabytes is not copied to be sent.
        var sendFailure: HTTPError?
        for part in [Array(head.utf8), body] where !part.isEmpty && sendFailure == nil {
            switch Platform.sendAll(fd, part, timeout: timeout) {
            case .done, .closed: break
            case .timedOut: sendFailure = .timedOut(server, "sending the request", timeout)
            case .failed(let why): sendFailure = .connectionLost(server, why)
            }
        }
        if let sendFailure {
            // A server may answer (with an error) and close before reading a whole body: its
            // answer says more than the failed send.
            var earlyReader = ResponseReader(fd: fd, server: server, timeout: min(timeout, 1), maxBodyBytes: maxBodyBytes)
            if let early = try? earlyReader.read(method: method) { return early }
            throw sendFailure
        }
        var reader = ResponseReader(fd: fd, server: server, timeout: timeout, maxBodyBytes: maxBodyBytes)
        return try reader.read(method: method)
    }
}

/// Reads one response from a connection: status line, headers, then a body framed by
/// Content-Length, chunked transfer encoding, or the end of the connection.
private struct ResponseReader {
    let fd: Int32
    let server: String
    let timeout: Double
    let maxBodyBytes: Int
    private var buffer: [UInt8] = []
    private var position = 0
    private var closed = false

    /// Status line and headers together; a server sending more is not an HTTP server.
    private static let maxHeadBytes = 64 * 1024

    init(fd: Int32, server: String, timeout: Double, maxBodyBytes: Int) {
        self.fd = fd
        self.server = server
        self.timeout = timeout
        self.maxBodyBytes = maxBodyBytes
    }

    mutating func read(method: String) throws(HTTPError) -> HTTPResponse {
        var (status, headers) = try readHead()
        // 100 Continue and other interim answers come before the real one.
        while (100..<200).contains(status) { (status, headers) = try readHead() }
        var response = HTTPResponse(status: status, headers: headers, body: [])
        if method == "HEAD" || status == 204 || status == 304 { return response }
        if let encoding = response.header("Transfer-Encoding"), encoding.lowercased().contains("chunked") {
            response.body = try readChunked()
        } else if let lengthText = response.header("Content-Length") {
            guard let length = Int(lengthText.trimmingCharacters(in: .whitespaces)), length >= 0 else {
                throw .malformedResponse(server, "Content-Length \(lengthText)")
            }
            guard length <= maxBodyBytes else { throw .responseTooLarge(server, maxBodyBytes) }
            response.body = try readExactly(length)
        } else {
            response.body = try readToEnd()
        }
        return response
    }

    private mutating func readHead() throws(HTTPError) -> (Int, [(name: String, value: String)]) {
        let statusLine = try readLine(what: "the status line")
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), parts[1].count == 3, let status = Int(parts[1]) else {
            throw .malformedResponse(server, "status line \(String(statusLine.prefix(80)).debugDescription)")
        }
        var headers: [(name: String, value: String)] = []
        while true {
            let line = try readLine(what: "the headers")
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { throw .malformedResponse(server, "header line without a colon") }
            headers.append((String(line[..<colon]).trimmingCharacters(in: .whitespaces),
                            String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)))
        }
        return (status, headers)
    }

    private mutating func readChunked() throws(HTTPError) -> [UInt8] {
        var body: [UInt8] = []
        while true {
            let sizeLine = try readLine(what: "a chunk size")
            let sizeText = sizeLine.prefix { $0 != ";" }.trimmingCharacters(in: .whitespaces)
            guard let size = Int(sizeText, radix: 16), size >= 0 else { throw .malformedResponse(server, "chunk size \(String(sizeLine.prefix(40)).debugDescription)") }
            if size == 0 { break }
            guard size <= maxBodyBytes - body.count else { throw .responseTooLarge(server, maxBodyBytes) }
            body += try readExactly(size)
            guard try readLine(what: "the end of a chunk").isEmpty else { throw .malformedResponse(server, "a chunk longer than its size") }
        }
        // Trailers, unused, up to the empty line.
        while try !readLine(what: "the trailers").isEmpty {}
        return body
    }

    private mutating func readExactly(_ count: Int) throws(HTTPError) -> [UInt8] {
        while buffer.count - position < count {
            guard try fill() else { throw .connectionLost(server, "closed after \(buffer.count - position) of \(count) bytes") }
        }
        defer { position += count }
        return Array(buffer[position..<position + count])
    }

    private mutating func readToEnd() throws(HTTPError) -> [UInt8] {
        while try fill() {
            if buffer.count - position > maxBodyBytes { throw .responseTooLarge(server, maxBodyBytes) }
        }
        defer { position = buffer.count }
        return Array(buffer[position...])
    }

    /// One line without its CRLF (a bare LF is accepted too).
    private mutating func readLine(what: String) throws(HTTPError) -> String {
        var searchFrom = position
        while true {
            if let lf = buffer[searchFrom...].firstIndex(of: 0x0A) {
                var end = lf
                if end > position && buffer[end - 1] == 0x0D { end -= 1 }
                defer { position = lf + 1 }
                return String(decoding: buffer[position..<end], as: UTF8.self)
            }
            guard buffer.count - position <= Self.maxHeadBytes else { throw .malformedResponse(server, "a line longer than \(Self.maxHeadBytes) bytes in \(what)") }
            // Counted from `position`: `fill` may drop the consumed bytes before it and shift the rest.
            let scanned = buffer.count - position
            guard try fill() else {
                throw buffer.isEmpty ? .connectionLost(server, "closed without answering") : .connectionLost(server, "closed while sending \(what)")
            }
            searchFrom = position + scanned
        }
    }

    /// Receives more bytes; false at the end of the connection.
    private mutating func fill() throws(HTTPError) -> Bool {
        if closed { return false }
        // Drop what was consumed once it is most of the buffer, so a long body is not copied per read.
        if position > 0 && position >= buffer.count / 2 {
            buffer.removeFirst(position)
            position = 0
        }
        let chunk = 64 * 1024
        let start = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: chunk))
        let result = buffer.withUnsafeMutableBytes { Platform.receive(fd, into: $0.baseAddress! + start, count: chunk, timeout: timeout) }
        switch result {
        case .done(let n):
            buffer.removeLast(chunk - n)
            return true
        case .closed:
            buffer.removeLast(chunk)
            closed = true
            return false
        case .timedOut:
            buffer.removeLast(chunk)
            throw .timedOut(server, "waiting for the response", timeout)
        case .failed(let why):
            buffer.removeLast(chunk)
            throw .connectionLost(server, why)
        }
    }
}
