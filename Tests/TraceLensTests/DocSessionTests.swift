import Foundation
import XCTest

/// The examples in README.md and docs/user-guide.md fenced as ```console are sessions a user can
/// type: each `$ ` line is run by `sh` in a fresh folder holding `samples/`, `Plugins/` and `docs/`
/// (so `tracelens.db` is the fresh store a new user starts with), with the built `tracelens` first on PATH, in the
/// order the document gives them. What each command prints (standard output and error) must be
/// what the block shows under it. Lines may differ only where the document writes a placeholder:
/// `<time>` for a duration the machine decides (`0.12 s`, `35 MB/s`), and a line `...` stands
/// for any number of lines the document leaves out (never inside a line).
///
/// A change that alters what a documented command prints fails here until the document is
/// updated: `TRACELENS_UPDATE_DOCS=1 swift test --filter DocSessionTests` writes the new output
/// into the documents, for review in the diff.
final class DocSessionTests: XCTestCase {
    static let documents = ["README.md", "docs/user-guide.md"]

    struct Command {
        var line: Int          // 0-based line of the `$ ` line in the document
        var command: String
        var expected: [String]
        var outputRange: Range<Int>  // document lines of the expected output
    }

    /// The commands of every ```console block, in document order.
    static func sessions(_ lines: [String]) -> [Command] {
        var commands: [Command] = []
        var inConsole = false
        var current: Command?
        func close(at end: Int) {
            if var c = current { c.outputRange = (c.line + 1)..<end; c.expected = Array(lines[c.outputRange]); commands.append(c) }
            current = nil
        }
        for (i, line) in lines.enumerated() {
            if line.hasPrefix("```") {
                if inConsole { close(at: i); inConsole = false } else if line == "```console" { inConsole = true }
                continue
            }
            guard inConsole else { continue }
            if line.hasPrefix("$ ") {
                close(at: i)
                current = Command(line: i, command: String(line.dropFirst(2)), expected: [], outputRange: i..<i)
            }
        }
        return commands
    }

    /// Machine-dependent figures as the documents write them.
    static func normalised(_ text: String) -> String {
        var s = text
        for (pattern, placeholder) in [(#"\b\d+(\.\d+)? ?(s|ms|MB/s|records/s)\b"#, "<time>")] {
            s = s.replacingOccurrences(of: pattern, with: placeholder, options: .regularExpression)
        }
        return s
    }

    func run(_ command: String, in dir: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command + " 2>&1"]
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = (Fixtures.toolPath as NSString).deletingLastPathComponent + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        for key in ["TRACELENS_DB", "TRACELENS_PLUGINS", "COLUMNS", "NO_COLOR"] { env[key] = nil }
        env["TERM"] = "dumb"
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    func testDocumentedSessionsPrintWhatTheDocumentsShow() throws {
        let update = ProcessInfo.processInfo.environment["TRACELENS_UPDATE_DOCS"] == "1"
        var ran = 0
        for document in Self.documents {
            let path = Fixtures.root + "/" + document
            var lines = try String(contentsOfFile: path, encoding: .utf8).components(separatedBy: "\n")
            let commands = Self.sessions(lines)
            // A new user's clone: the samples, plugins and docs, no store yet.
            let dir = Fixtures.tempDir()
            for folder in ["samples", "Plugins", "docs"] {
                try FileManager.default.copyItem(atPath: Fixtures.root + "/" + folder, toPath: dir + "/" + folder)
            }
            var replacements: [(Range<Int>, [String])] = []
            for c in commands {
                // The folder is the user's own: its absolute path is written as `.` in the documents.
                let output = try run(c.command, in: dir).replacingOccurrences(of: dir, with: ".")
                var printed = Self.normalised(output).components(separatedBy: "\n")
                if printed.last == "" { printed.removeLast() }
                ran += 1
                let expected = c.expected.map(Self.normalised)
                if !Self.matches(expected, printed) {
                    if update { replacements.append((c.outputRange, Self.elided(printed, like: expected))) } else {
                        XCTFail("\(document):\(c.line + 1): `\(c.command)` printed:\n\(printed.joined(separator: "\n"))\n--- the document shows:\n\(expected.joined(separator: "\n"))")
                    }
                }
            }
            if update && !replacements.isEmpty {
                for (range, printed) in replacements.reversed() { lines.replaceSubrange(range, with: printed) }
                try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
            }
        }
        XCTAssertGreaterThan(ran, 5, "the documents hold console sessions")
    }

    /// Whether `printed` is `expected` with each `...` line standing for any run of lines.
    static func matches(_ expected: [String], _ printed: [String]) -> Bool {
        guard let gap = expected.firstIndex(of: "...") else { return expected == printed }
        let head = expected[..<gap], rest = Array(expected[(gap + 1)...])
        guard printed.count >= head.count, Array(printed[..<head.count]) == Array(head) else { return false }
        let after = Array(printed[head.count...])
        return (0...after.count).contains { matches(rest, Array(after[$0...])) }
    }

    /// New output in the shape the author chose: as many lines before and after each `...` as
    /// the document had (the whole output when it had no `...`).
    static func elided(_ printed: [String], like expected: [String]) -> [String] {
        guard let first = expected.firstIndex(of: "..."), let last = expected.lastIndex(of: "...") else { return printed }
        let head = first, tail = expected.count - last - 1
        guard printed.count > head + tail else { return printed }
        return Array(printed[..<head]) + ["..."] + Array(printed[(printed.count - tail)...])
    }

    func testSessionsAreFoundAndBadBlocksAreNot() {
        let doc = ["text", "```console", "$ tracelens explain 431", "SSL 431", "$ tracelens explain 42", "", "```", "```", "$ not run", "```"]
        let found = Self.sessions(doc)
        XCTAssertEqual(found.map(\.command), ["tracelens explain 431", "tracelens explain 42"])
        XCTAssertEqual(found.map(\.expected), [["SSL 431"], [""]])
        XCTAssertEqual(Self.normalised("read in 0.25 s, 35.2 MB/s; 3 records"), "read in <time>, <time>; 3 records")
        XCTAssertTrue(Self.matches(["a", "...", "z"], ["a", "b", "c", "z"]))
        XCTAssertTrue(Self.matches(["a", "...", "z"], ["a", "z"]))
        XCTAssertFalse(Self.matches(["a", "...", "z"], ["a", "b"]))
        XCTAssertFalse(Self.matches(["a"], ["a", "b"]), "without ..., every line counts")
        XCTAssertEqual(Self.elided(["1", "2", "3", "4", "5"], like: ["x", "...", "y"]), ["1", "...", "5"])
    }
}
