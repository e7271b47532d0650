/// Minimal JSON string writing.
public enum JSON {
    public static func string(_ s: String, _ out: ByteBuffer) { bytes(ArraySlice(s.utf8), out) }

    public static func bytes(_ b: ArraySlice<UInt8>, _ out: ByteBuffer) {
        out.append(0x22)
        escaped(b, out)
        out.append(0x22)
    }

    /// The escaped text without quotes; runs of plain bytes are copied at once. Bytes that are not
    /// valid UTF-8 (a damaged trace; overlong forms and surrogates too) become U+FFFD, so the
    /// output is always valid JSON; C1 controls are escaped like C0 ones (`\u009b`), so that
    /// JSON printed on a terminal cannot drive it either.
    public static func escaped(_ b: ArraySlice<UInt8>, _ out: ByteBuffer) {
        b.withUnsafeBufferPointer { p in
            guard let base = p.baseAddress else { return }
            var runStart = 0
            var i = 0
            while i < p.count {
                let c = p[i]
                if c >= 0x80 {
                    if let n = TerminalText.printableSequenceLength(base, i, p.count) { i += n; continue }
                    out.append(UnsafeBufferPointer(rebasing: p[runStart..<i]))
                    if c == 0xC2 && i + 1 < p.count && p[i + 1] >= 0x80 && p[i + 1] < 0xA0 {
                        let hex = Array("0123456789abcdef".utf8)
                        out.append([0x5C, 0x75, 0x30, 0x30, hex[Int(p[i + 1] >> 4)], hex[Int(p[i + 1] & 15)]])
                        i += 2
                    } else {
                        out.append([0xEF, 0xBF, 0xBD])
                        i += 1
                    }
                    runStart = i
                    continue
                }
                guard c == 0x22 || c == 0x5C || c < 0x20 || c == 0x7F else { i += 1; continue }
                out.append(UnsafeBufferPointer(rebasing: p[runStart..<i]))
                i += 1
                runStart = i
                switch c {
                case 0x22: out.append(0x5C); out.append(0x22)
                case 0x5C: out.append(0x5C); out.append(0x5C)
                case 0x0A: out.append(0x5C); out.append(0x6E)
                case 0x0D: out.append(0x5C); out.append(0x72)
                case 0x09: out.append(0x5C); out.append(0x74)
                default:
                    let hex = Array("0123456789abcdef".utf8)
                    out.append([0x5C, 0x75, 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 15)]])
                }
            }
            out.append(UnsafeBufferPointer(rebasing: p[runStart...]))
        }
    }

    public static func quote(_ s: String) -> String {
        let out = ByteBuffer(capacity: s.utf8.count + 8)
        string(s, out)
        return out.string
    }

    /// A JSON value built in code, for outputs made of a few nested objects (doctor, cert, lint).
    public indirect enum Value: Sendable {
        case null
        case bool(Bool)
        case int(Int)
        case string(String)
        case array([Value])
        /// Members in the order given.
        case object([(key: String, value: Value)])

        /// An object with its keys sorted as JSONSerialization's `.sortedKeys` sorts them
        /// (ignoring case, digits by number: `a9` before `a10`), which these outputs always had.
        public static func sorted(_ members: [String: Value]) -> Value {
            .object(members.sorted { JSON.keyPrecedes($0.key, $1.key) }.map { (key: $0.key, value: $0.value) })
        }

        public static func string(_ s: String?) -> Value { s.map(Value.string) ?? .null }
        public static func int(_ i: Int?) -> Value { i.map(Value.int) ?? .null }

        public func write(into out: ByteBuffer) {
            switch self {
            case .null: out.append("null")
            case let .bool(b): out.append(b ? "true" : "false")
            case let .int(i): out.append(String(i))
            case let .string(s): JSON.string(s, out)
            case let .array(items):
                out.append(0x5B)
                for (i, item) in items.enumerated() {
                    if i > 0 { out.append(0x2C) }
                    item.write(into: out)
                }
                out.append(0x5D)
            case let .object(members):
                out.append(0x7B)
                for (i, member) in members.enumerated() {
                    if i > 0 { out.append(0x2C) }
                    JSON.string(member.key, out)
                    out.append(0x3A)
                    member.value.write(into: out)
                }
                out.append(0x7D)
            }
        }

        /// The value as one line of JSON (no newline).
        public var text: String {
            let out = ByteBuffer()
            write(into: out)
            return out.string
        }
    }

    /// JSONSerialization's key order: case-insensitive and numeric; keys that differ only in
    /// case put lower case first.
    package static func keyPrecedes(_ a: String, _ b: String) -> Bool {
        switch a.compare(b, options: [.caseInsensitive, .numeric]) {
        case .orderedAscending: return true
        case .orderedDescending: return false
        case .orderedSame: return a > b
        }
    }
}
