import Foundation
import TraceLensInput
import TraceLensDecode
import TraceLensPlugins

/// `tracelens redact FILE... -o DIR`: copies of traces and logs with addresses, host names, DN
/// values, user ids, key ring names, serials and the user's words replaced by stand-ins (the same
/// value, the same stand-in, in every file), secrets masked, and everything else as it was. The
/// mapping back is written outside DIR (`DIR.mapping.tsv`, mode 0600) unless asked otherwise.
public struct RedactRun {
    public let plugins: PluginSet

    public init(plugins: PluginSet) { self.plugins = plugins }

    public enum Problem: Error, CustomStringConvertible {
        case missing(String)
        case unreadable(String, String)
        case binary(String)
        case outputIsFile(String)
        case cannotWrite(String, String)
        case sameName(String, String)
        case wouldOverwrite(String)
        case noFiles
        case emptyWord
        public var description: String {
            switch self {
            case let .missing(p): return "\(p): no such file or folder"
            case let .unreadable(p, why): return "cannot read \(p): \(why)"
            case let .binary(p): return "\(p): not a text file (binary or compressed; gunzip a .gz first): nothing written"
            case let .outputIsFile(p): return "\(p) is a file: give -o a folder (it is made if missing)"
            case let .cannotWrite(p, why): return "cannot write \(p): \(why)"
            case let .sameName(a, b): return "\(a) and \(b) would both be copied as \((b as NSString).lastPathComponent): redact them into different folders"
            case let .wouldOverwrite(p): return "\(p): the copy would replace the original; give -o another folder"
            case .noFiles: return "no files to redact"
            case .emptyWord: return "--word and --words take non-empty words"
            }
        }
    }

    /// What was written, to print.
    public struct Report {
        public var files: [(source: String, copy: String, lines: Int)] = []
        public var mapping = ""
        public var entries: [Redactor.Entry] = []
    }

    /// The words of a `--words` file: one a line; blank lines and `#` comments skipped.
    public static func words(file: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: file) else { throw Problem.missing(file) }
        return String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }

    /// The mapping file for an output folder when none is named: beside it, `DIR.mapping.tsv`.
    public static func defaultMapping(for directory: String) -> String {
        var d = directory
        while d.count > 1 && d.hasSuffix("/") { d.removeLast() }
        return d + ".mapping.tsv"
    }

    /// Reads every file (nothing is written if one is missing or binary), learns the values in all
    /// of them, then writes each copy and the mapping.
    public func run(inputs: [String], output: String, mapping: String?, words: [String]) throws -> Report {
        guard !words.contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) else { throw Problem.emptyWord }
        let fm = FileManager.default
        var files: [String] = []
        for input in inputs {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: input, isDirectory: &isDir) else { throw Problem.missing(input) }
            if isDir.boolValue {
                let names = (try? fm.contentsOfDirectory(atPath: input)) ?? []
                for name in names.sorted() where !name.hasPrefix(".") {
                    let path = (input as NSString).appendingPathComponent(name)
                    var sub: ObjCBool = false
                    if fm.fileExists(atPath: path, isDirectory: &sub), !sub.boolValue { files.append(path) }
                }
            } else {
                files.append(input)
            }
        }
        guard !files.isEmpty else { throw Problem.noFiles }
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: output, isDirectory: &isDir), !isDir.boolValue { throw Problem.outputIsFile(output) }
        var byName: [String: String] = [:]
        var texts: [[UInt8]] = []
        let outputReal = URL(fileURLWithPath: output).standardizedFileURL.resolvingSymlinksInPath().path
        for f in files {
            let name = (f as NSString).lastPathComponent
            if let other = byName[name] { throw Problem.sameName(other, f) }
            byName[name] = f
            let dir = URL(fileURLWithPath: f).standardizedFileURL.resolvingSymlinksInPath().deletingLastPathComponent().path
            if dir == outputReal { throw Problem.wouldOverwrite(f) }
            guard let data = fm.contents(atPath: f) else { throw Problem.unreadable(f, "permission denied or not a regular file") }
            let bytes = [UInt8](data)
            if Self.looksBinary(bytes) { throw Problem.binary(f) }
            texts.append(bytes)
        }
        let redactor = Redactor(plugins: plugins, words: words.map { $0.trimmingCharacters(in: .whitespaces) })
        for t in texts { redactor.learn(t) }
        do { try fm.createDirectory(atPath: output, withIntermediateDirectories: true) } catch {
            throw Problem.cannotWrite(output, "\(error.localizedDescription)")
        }
        var report = Report()
        for (f, text) in zip(files, texts) {
            // The name too: `gldsrv.joblog` names a user id when the job runs under its own name.
            let copy = (output as NSString).appendingPathComponent(redactor.redacted((f as NSString).lastPathComponent))
            let out = redactor.redact(text)
            try write(out, to: copy, mode: 0o644)
            report.files.append((f, copy, out.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) } + (out.last.map { $0 == 0x0A ? 0 : 1 } ?? 0)))
        }
        report.entries = redactor.entries
        let mappingPath = mapping ?? Self.defaultMapping(for: output)
        try Self.writeMapping(redactor.entries, to: mappingPath)
        report.mapping = mappingPath
        return report
    }

    /// The mapping from stand-ins back to the values: tab-separated, owner only (also the
    /// report's, with `report --redact`).
    package static func writeMapping(_ entries: [Redactor.Entry], to path: String) throws {
        var lines = ["# tracelens redact: each stand-in and the value it replaces. Keep this file to yourself.",
                     "class\tstand-in\toriginal"]
        for e in entries { lines.append("\(e.kind.rawValue)\t\(e.pseudonym)\t\(e.original)") }
        // A mapping left from an earlier run may be readable by others: made anew, owner only.
        if FileManager.default.fileExists(atPath: path) { try? FileManager.default.removeItem(atPath: path) }
        let fd = Platform.openForWriting(path, truncate: true, mode: 0o600)
        guard fd >= 0 else { throw Problem.cannotWrite(path, Platform.errorText(Platform.lastError)) }
        defer { Platform.close(fd) }
        guard Platform.writeAll(fd, Array((lines.joined(separator: "\n") + "\n").utf8)) else { throw Problem.cannotWrite(path, Platform.errorText(Platform.lastError)) }
    }

    /// A NUL byte, or the gzip magic, in the first 64 KiB.
    static func looksBinary(_ bytes: [UInt8]) -> Bool {
        if bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B { return true }
        return bytes.prefix(65536).contains(0)
    }

    private func write(_ bytes: [UInt8], to path: String, mode: UInt32) throws {
        let fd = Platform.openForWriting(path, truncate: true, mode: mode)
        guard fd >= 0 else { throw Problem.cannotWrite(path, Platform.errorText(Platform.lastError)) }
        defer { Platform.close(fd) }
        guard Platform.writeAll(fd, bytes) else { throw Problem.cannotWrite(path, Platform.errorText(Platform.lastError)) }
    }
}
