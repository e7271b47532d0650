import Foundation
import Synchronization
import XCTest
import CZlib
@testable import TraceLensInput
@testable import TraceLensRecords
@testable import TraceLensDecode
@testable import TraceLensPlugins
@testable import TraceLensHandshake
@testable import TraceLensCorrelate
@testable import TraceLensStore
@testable import TraceLensRender
@testable import TraceLensQuery
@testable import TraceLensFollow
@testable import TraceLensDiagnose
@testable import TraceLensCommands
@testable import TraceLensBench

/// Shared fixtures: the built-in plugins (loaded once), sample paths and temporary files.
enum Fixtures {
    static let loaded: (PluginSet, [PluginProblem]) = {
        keepToolStderr()
        return CheckedPlugins.loadAll(userDirectories: [])
    }()

    /// Tests that run the tool's code in this process keep its warnings (written to fd 2) out of
    /// the test log: they go to a file. Children started by `runTool` have their own pipes, and
    /// XCTest reports on standard output.
    private static func keepToolStderr() {
        let path = NSTemporaryDirectory() + "tracelens-tests-stderr-\(getpid()).log"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { return }
        dup2(fd, 2)
        close(fd)
        TemporaryFolders.shared.keptForTheRun { TemporaryFolders.shared.made(path) }
    }
    static var plugins: PluginSet { loaded.0 }

    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static func sample(_ relative: String) -> String { root + "/samples/" + relative }

    /// Starts this test binary again running one test, with extra environment, output discarded
    /// (the kill -9 tests run the work in a child they can kill).
    static func startChild(test: String, environment extra: [String: String]) throws -> Process {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0])
        child.arguments = [test]
        child.environment = ProcessInfo.processInfo.environment.merging(extra) { _, new in new }
        child.standardOutput = FileHandle.nullDevice
        child.standardError = FileHandle.nullDevice
        try child.run()
        return child
    }

    /// The `tracelens` binary `swift test` built beside this test binary.
    static let toolPath: String = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0])
        .deletingLastPathComponent().appendingPathComponent("tracelens").path

    /// What one run of the `tracelens` binary did: crash repros and exit statuses are checked
    /// on the real command, in a child process. Its stderr is captured, never shown.
    struct ToolRun {
        let status: Int32
        let stdout: String
        let stderr: String
        /// True when the child died of a signal (a Swift runtime trap is SIGILL/SIGTRAP).
        let crashed: Bool
    }

    /// Runs `tracelens` with `arguments`, optional standard input and extra environment.
    static func runTool(_ arguments: [String], stdin: String? = nil, environment extra: [String: String] = [:]) throws -> ToolRun {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: toolPath)
        child.arguments = arguments
        // A COLUMNS exported by the shell running the tests would fit the tool's tables to it.
        var environment = ProcessInfo.processInfo.environment
        environment["COLUMNS"] = nil
        child.environment = environment.merging(extra) { _, new in new }
        let out = Pipe()
        // stderr goes to a file: read after exit, it needs no second reader thread.
        let errPath = tempDir() + "/stderr.txt"
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let errHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        defer { try? errHandle.close() }
        child.standardOutput = out
        child.standardError = errHandle
        if let stdin {
            let input = Pipe()
            child.standardInput = input
            try child.run()
            input.fileHandleForWriting.write(Data(stdin.utf8))
            try input.fileHandleForWriting.close()
        } else {
            child.standardInput = FileHandle.nullDevice
            try child.run()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        child.waitUntilExit()
        let errData = FileManager.default.contents(atPath: errPath) ?? Data()
        return ToolRun(status: child.terminationStatus,
                       stdout: String(decoding: outData, as: UTF8.self),
                       stderr: String(decoding: errData, as: UTF8.self),
                       crashed: child.terminationReason == .uncaughtSignal)
    }

    /// Loads the built-in plugins plus one user plugin made of `entries` (TOML after the
    /// [plugin] table); returns every problem reported, as text.
    static func loadProblems(withPlugin entries: String) throws -> String {
        let dir = tempDir() + "/p"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try ("[plugin]\nname = \"mine\"\ndescription = \"test\"\n\n" + entries).write(toFile: dir + "/plugin.toml", atomically: true, encoding: .utf8)
        return CheckedPlugins.loadAll(userDirectories: [dir]).1.map(\.description).joined(separator: "\n")
    }

    /// A new folder, removed when the test that asked for it ends (`TemporaryFolders`).
    static func tempDir() -> String {
        let dir = NSTemporaryDirectory() + "tracelens-tests-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        TemporaryFolders.shared.made(dir)
        return dir
    }

    static func write(_ bytes: [UInt8], named name: String = "t.trc") -> String {
        let path = tempDir() + "/" + name
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    static func write(_ text: String, named name: String = "t.trc") -> String { write(Array(text.utf8), named: name) }

    static func gzip(_ bytes: [UInt8], named name: String) -> String {
        let path = tempDir() + "/" + name
        let gz = gzopen(path, "wb")!
        _ = bytes.withUnsafeBytes { gzwrite(gz, $0.baseAddress, UInt32($0.count)) }
        gzclose(gz)
        return path
    }

    /// ASCII/Latin-1 text to IBM-1047, with the given EBCDIC line end (0x15 NL or 0x25 LF).
    static func ebcdic(_ text: String, lineEnd: UInt8 = 0x15) -> [UInt8] {
        var reverse = [UInt8](repeating: 0x6F, count: 256)  // '?' for anything unmapped
        for (e, a) in EBCDIC.toLatin1.enumerated() where e != 0x15 { reverse[Int(a)] = UInt8(e) }
        return text.unicodeScalars.map { $0 == "\n" ? lineEnd : reverse[Int(min($0.value, 255))] }
    }

    /// Reads a file through the whole record stream, returning copies of the records.
    static func records(_ path: String, format: String? = nil) throws -> ([Record], SourceSummary) {
        var out: [Record] = []
        let stream = RecordStream.decoding(plugins)
        let summary = try stream.read(path, source: 0, forcedFormat: format.flatMap(plugins.format(named:))) { out.append($0) }
        return (out, summary)
    }

    /// Runs `format` with options and returns what it printed and its exit status.
    static func format(_ paths: [String], _ configure: (inout FormatOptions) -> Void = { _ in }) -> (String, Int32) {
        let outPath = tempDir() + "/out.txt"
        let fd = open(outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var options = FormatOptions()
        configure(&options)
        let output = Output(fd: fd)
        let status = FormatRun(plugins: plugins, options: options, output: output).run(paths)
        output.flush()
        close(fd)
        let data = FileManager.default.contents(atPath: outPath) ?? Data()
        return (String(decoding: data, as: UTF8.self), status)
    }

    static func codes(_ r: Record) -> [String] {
        r.codes.map { "\(plugins.catalogues[$0.catalogue].id):\(plugins.catalogues[$0.catalogue].display($0.value))" }
    }
}

/// The lines a `FollowLog` writes, kept for the test to read (a log may write from any thread).
final class LoggedLines: Sendable {
    private let stored = Mutex<[String]>([])
    func append(_ line: String) { stored.withLock { $0.append(line) } }
    var lines: [String] { stored.withLock { $0 } }
}

/// Removes the temporary folders (and the stores in them) a test made once it ends, so a run
/// leaves nothing behind. Registered with XCTest the first time a folder is made.
final class TemporaryFolders: NSObject, XCTestObservation, Sendable {
    static let shared: TemporaryFolders = {
        let folders = TemporaryFolders()
        XCTestObservationCenter.shared.addTestObserver(folders)
        return folders
    }()

    private struct State { var ofTheTest: [String] = []; var ofTheRun: [String] = []; var keeping = false }
    private let state = Mutex(State())

    func made(_ dir: String) {
        state.withLock { $0.keeping ? $0.ofTheRun.append(dir) : $0.ofTheTest.append(dir) }
    }

    /// Folders made by `body` stay until the whole run ends: a store a test class builds once
    /// (`static let db`) and all its tests read.
    func keptForTheRun<T>(_ body: () throws -> T) rethrows -> T {
        state.withLock { $0.keeping = true }
        defer { state.withLock { $0.keeping = false } }
        return try body()
    }

    func testCaseDidFinish(_ testCase: XCTestCase) {
        remove(state.withLock { s in defer { s.ofTheTest = [] }; return s.ofTheTest })
    }

    func testBundleDidFinish(_ testBundle: Bundle) {
        remove(state.withLock { s in defer { s.ofTheRun = [] }; return s.ofTheRun })
    }

    private func remove(_ dirs: [String]) {
        for dir in dirs { try? FileManager.default.removeItem(atPath: dir) }
    }
}
