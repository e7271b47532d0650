import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A `--peer` value: `10.1.0.2`, `10.1.0.2:42514`, `2001:db8::1`, `[2001:db8::1]:636`,
/// `::ffff:10.1.0.2`. A bare IPv6 address has no port (its colons are its own); a port on one
/// needs the brackets.
public struct PeerAddress: Equatable, Sendable {
    public var host: String
    public var port: Int64?

    public struct Problem: Error, CustomStringConvertible {
        public var text: String
        public var reason: String
        public var description: String {
            "--peer '\(text)': \(reason); give an IP address or IP:port (10.1.0.2, 10.1.0.2:42514, 2001:db8::1, [2001:db8::1]:636)"
        }
    }

    public init(host: String, port: Int64? = nil) {
        self.host = host
        self.port = port
    }

    public static func parse(_ text: String) throws -> PeerAddress {
        let t = text.trimmingCharacters(in: .whitespaces)
        func fail(_ reason: String) -> Problem { Problem(text: text, reason: reason) }
        guard !t.isEmpty else { throw fail("no address") }
        var host: Substring
        var portText: Substring?
        if t.hasPrefix("[") {
            guard let close = t.firstIndex(of: "]") else { throw fail("no closing ']'") }
            host = t[t.index(after: t.startIndex)..<close]
            let after = t[t.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw fail("only ':port' may follow ']'") }
                portText = after.dropFirst()
            }
        } else if t.filter({ $0 == ":" }).count == 1 {
            let colon = t.firstIndex(of: ":")!
            host = t[..<colon]
            portText = t[t.index(after: colon)...]
        } else {
            host = Substring(t)
        }
        guard !host.isEmpty else { throw fail("no address before the port") }
        var port: Int64?
        if let portText {
            guard let p = Int64(portText), (0...65_535).contains(p) else {
                throw fail(portText.isEmpty ? "no port after ':'" : "'\(portText)' is not a port (0 to 65535)")
            }
            port = p
        }
        var scratch = in6_addr()
        if host.contains(":") && inet_pton(AF_INET6, String(host), &scratch) != 1 {
            throw fail("'\(host)' is not an IPv6 address")
        }
        return PeerAddress(host: String(host), port: port)
    }

    /// Every spelling a trace may have stored this address as: the text given, the canonical
    /// IPv6 form (lowercase, zeros compressed), and an IPv4 address with its IPv4-mapped IPv6
    /// form (`10.1.0.2` and `::ffff:10.1.0.2` are the same peer).
    public var spellings: [String] {
        var out = [host, host.lowercased()]
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            out.append("::ffff:" + host)
            out.append("::FFFF:" + host)
        } else if inet_pton(AF_INET6, host, &v6) == 1 {
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            if inet_ntop(AF_INET6, &v6, &buffer, socklen_t(buffer.count)) != nil {
                out.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
            // ::ffff:a.b.c.d: the IPv4 address inside.
            let bytes = withUnsafeBytes(of: v6) { Array($0) }
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
                out.append(bytes[12..<16].map(String.init).joined(separator: "."))
            }
        }
        var seen = Set<String>()
        return out.filter { seen.insert($0).inserted }
    }
}
