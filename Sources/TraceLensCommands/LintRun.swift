import Foundation
import TraceLensInput
import TraceLensDecode
import TraceLensPlugins
import TraceLensDiagnose

/// `tracelens lint FILE...`: recognises each file, lints it, renders the findings.
public struct LintRun {
    public let plugins: PluginSet
    public init(plugins: PluginSet) { self.plugins = plugins }

    /// Why a file gave no contents, in the system's words (`No such file or directory`,
    /// `Permission denied`, `Is a directory`).
    package static func whyUnreadable(_ path: String) -> String {
        let fd = Platform.openForReading(path)
        guard fd >= 0 else { return Platform.errorText(Platform.lastError) }
        Platform.close(fd)
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue { return "Is a directory" }
        return "cannot read it"
    }

    /// What was printed, the messages for standard error, and the exit status: 0 no findings,
    /// 1 findings, 2 a file could not be read or recognised.
    public func run(_ paths: [String], kind forcedName: String? = nil, json: Bool = false) -> (output: String, problems: [String], status: Int32) {
        let linter = ConfigLinter(plugins: plugins)
        let forced = forcedName.flatMap { name in plugins.configKinds.first { $0.name == name } }
        var status: Int32 = 0
        var out = "", problems: [String] = []
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else {
                problems.append("\(path): \(Self.whyUnreadable(path))")
                status = 2
                continue
            }
            let text = String(decoding: data, as: UTF8.self)
            guard let kind = forced ?? linter.recognise(text) else {
                problems.append("\(path): not a configuration file TraceLens knows (\(plugins.configKinds.map { "\($0.name): \($0.title)" }.joined(separator: "; "))); name one with --kind")
                status = 2
                continue
            }
            let report = linter.lint(text, kind: kind)
            if !report.findings.isEmpty && status == 0 { status = 1 }
            if json {
                for f in report.findings { out += LintJSON.line(f, file: path, kind: kind.name) + "\n" }
                continue
            }
            let what = kind.syntax == .assignment ? "\(kind.title) environment file" : "\(kind.title) configuration file"
            // Findings quote the file (keywords, values): its control bytes are shown, not sent.
            let shownPath = TerminalText.visible(path)
            out += "\(shownPath): \(what) (\(kind.name)): " + (report.findings.isEmpty ? "no findings\n" : "\(report.findings.count) finding\(report.findings.count == 1 ? "" : "s")\n")
            for f in report.findings {
                out += "\(shownPath):\(f.line.map(String.init) ?? "-"): \(f.severity.rawValue): \(TerminalText.visible(f.message)) [\(f.rule)]\n"
                out += "    what to do: \(TerminalText.visible(f.action))\n"
            }
        }
        return (out, problems, status)
    }
}
