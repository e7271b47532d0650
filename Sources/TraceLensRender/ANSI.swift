/// Every terminal escape TraceLens writes: the colours of `format`, `show` and `watch`, and the
/// erase of the progress line. Only here, so `--color never` has one thing to leave out.
package enum ANSI {
    package static let reset: [UInt8] = Array("\u{1B}[0m".utf8)
    package static let dim: [UInt8] = Array("\u{1B}[2m".utf8)
    package static let red: [UInt8] = Array("\u{1B}[1;31m".utf8)
    package static let yellow: [UInt8] = Array("\u{1B}[33m".utf8)
    package static let cyan: [UInt8] = Array("\u{1B}[36m".utf8)
    package static let blue: [UInt8] = Array("\u{1B}[34m".utf8)
    package static let magenta: [UInt8] = Array("\u{1B}[35m".utf8)
    package static let green: [UInt8] = Array("\u{1B}[32m".utf8)
    /// Clears from the cursor to the end of the line (what a shorter progress line leaves).
    package static let eraseToLineEnd: [UInt8] = Array("\u{1B}[K".utf8)

    /// `text` in a colour, reset after it.
    package static func painted(_ text: String, _ colour: [UInt8]) -> String {
        String(decoding: colour, as: UTF8.self) + text + String(decoding: reset, as: UTF8.self)
    }
}
