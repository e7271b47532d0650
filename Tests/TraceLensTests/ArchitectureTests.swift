import Foundation
import XCTest

/// The build graph is the pipeline: Package.swift declares one target per stage, each source file
/// imports only the stages its target may use, docs/architecture.md shows the same graph, and
/// product knowledge stays out of the Swift stages.
final class ArchitectureTests: XCTestCase {
    /// Package.swift's targets with the package targets each names as a dependency, in file order.
    static let declared: [(name: String, dependencies: [String])] = {
        let text = (try? String(contentsOfFile: Fixtures.root + "/Package.swift", encoding: .utf8)) ?? ""
        let starts = try! NSRegularExpression(pattern: #"\.(target|executableTarget|testTarget|systemLibrary|plugin)\("#)
        let ns = text as NSString
        let offsets = starts.matches(in: text, range: NSRange(location: 0, length: ns.length)).map(\.range.location) + [ns.length]
        let products = try! NSRegularExpression(pattern: #"\.product\([^)]*\)"#)
        var targets: [(String, [String])] = []
        for (from, to) in zip(offsets, offsets.dropFirst()) {
            let piece = ns.substring(with: NSRange(location: from, length: to - from))
            guard let name = firstQuoted(after: "name: ", in: piece) else { continue }
            var dependencies: [String] = []
            if let start = piece.range(of: "dependencies: [") {
                let list = String(piece[start.upperBound...].prefix { $0 != "]" })
                let plain = products.stringByReplacingMatches(in: list, range: NSRange(location: 0, length: (list as NSString).length), withTemplate: "")
                dependencies = plain.components(separatedBy: "\"").enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
            }
            targets.append((name, dependencies))
        }
        return targets
    }()

    static func firstQuoted(after marker: String, in text: String) -> String? {
        guard let at = text.range(of: marker + "\"") else { return nil }
        return String(text[at.upperBound...].prefix { $0 != "\"" })
    }

    static var stages: [(name: String, dependencies: [String])] { declared.filter { $0.name.hasPrefix("TraceLens") && $0.name != "TraceLensTests" } }

    /// Every target a stage may use: its dependencies and theirs.
    static func reachable(from name: String) -> Set<String> {
        var seen: Set<String> = [], work = [name]
        while let next = work.popLast() {
            for d in declared.first(where: { $0.name == next })?.dependencies ?? [] where seen.insert(d).inserted { work.append(d) }
        }
        return seen
    }

    func testPackageSwiftDeclaresTheStages() {
        let names = Self.stages.map(\.name)
        XCTAssertEqual(names, ["TraceLensInput", "TraceLensRecords", "TraceLensDecode", "TraceLensPlugins", "TraceLensHandshake", "TraceLensCorrelate",
                               "TraceLensStore", "TraceLensRender", "TraceLensQuery", "TraceLensFollow", "TraceLensDiagnose", "TraceLensExport",
                               "TraceLensCommands", "TraceLensBench"])
        // One way: each stage depends only on stages declared before it.
        for (i, stage) in Self.stages.enumerated() {
            for d in stage.dependencies where d.hasPrefix("TraceLens") {
                XCTAssertTrue(names[..<i].contains(d), "\(stage.name) depends on \(d), which is not an earlier stage")
            }
        }
        // The stages the shipped commands run on never need the generators and benchmarks.
        for stage in Self.stages where stage.name != "TraceLensBench" {
            XCTAssertFalse(Self.reachable(from: stage.name).contains("TraceLensBench"), stage.name)
        }
        XCTAssertTrue(Self.reachable(from: "TraceLensStore").contains("TraceLensCorrelate"))
        XCTAssertFalse(Self.reachable(from: "TraceLensCorrelate").contains("CSQLite"), "correlation is pure: no SQLite")
    }

    /// The compiler refuses a cycle; this also refuses an import of a stage that is not a declared
    /// dependency (a sibling or a later stage that happens to be built already).
    func testEverySourceImportsOnlyStagesItsTargetUses() throws {
        let sources = Fixtures.root + "/Sources"
        var checked = 0
        for stage in Self.declared where stage.name.hasPrefix("TraceLens") || stage.name == "tracelens" {
            let allowed = Self.reachable(from: stage.name)
            let dir = sources + "/" + stage.name
            guard let walker = FileManager.default.enumerator(atPath: dir) else { continue }
            for case let file as String in walker where file.hasSuffix(".swift") {
                let text = try String(contentsOfFile: dir + "/" + file, encoding: .utf8)
                for line in text.split(separator: "\n") where line.hasPrefix("import TraceLens") {
                    let module = String(line.dropFirst("import ".count))
                    XCTAssertTrue(allowed.contains(module), "\(stage.name)/\(file) imports \(module), which \(stage.name) does not depend on")
                    checked += 1
                }
            }
        }
        XCTAssertGreaterThan(checked, 100)
    }

    /// The dependency list in docs/architecture.md, as Package.swift declares it.
    static var graphText: String {
        let width = stages.map(\.name.count).max() ?? 0
        return stages.map { stage in
            let name = stage.name.padding(toLength: width, withPad: " ", startingAt: 0)
            let uses = stage.dependencies.map { $0.replacingOccurrences(of: "TraceLens", with: "") }
            return "\(name)  ← " + (uses.isEmpty ? "(nothing)" : uses.joined(separator: ", "))
        }.joined(separator: "\n")
    }

    func testTheArchitecturePageShowsTheGraphOfPackageSwift() throws {
        let page = try String(contentsOfFile: Fixtures.root + "/docs/architecture.md", encoding: .utf8)
        XCTAssertTrue(page.contains("```text\n" + Self.graphText + "\n```"),
                      "docs/architecture.md must show the targets as Package.swift declares them:\n\(Self.graphText)")
    }

    /// Product knowledge lives in plugin data: these strings may appear in Swift only in comments
    /// and in the generator target (its synthetic traces imitate the product on purpose).
    func testProductStringsAreOnlyInCommentsAndGenerators() throws {
        let sources = Fixtures.root + "/Sources"
        let words = ["gsk_", "GLD", "EZD", "Thd-", "RACDCERT", "0335"]
        var found: [String] = []
        guard let walker = FileManager.default.enumerator(atPath: sources) else { return XCTFail("no Sources") }
        for case let file as String in walker where file.hasSuffix(".swift") && !file.hasPrefix("TraceLensBench/") {
            let text = try String(contentsOfFile: sources + "/" + file, encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let code = line.range(of: "//").map { line[..<$0.lowerBound] } ?? line[...]
                for word in words where code.contains(word) { found.append("\(file):\(number + 1): \(line.trimmingCharacters(in: .whitespaces))") }
            }
        }
        XCTAssertEqual(found, [], "product strings in Swift (move them to plugin data)")
    }

    /// A port is one file: system calls go through `Platform` (TraceLensInput/Platform.swift).
    /// Other files may import the C library only for the portable byte functions (memchr, memcpy).
    /// A method of the same name (`ClickHouseServer.kill()`) is declared, not called.
    func testSystemCallsAreOnlyInThePlatformFile() throws {
        let sources = Fixtures.root + "/Sources"
        let calls = try NSRegularExpression(pattern: #"(^|[^.\w])(?<!func )(Glibc\.\w+|inotify_\w+|sigaction|signal|poll|fstat|stat|lstat|pread|lseek|fcntl|isatty|getrlimit|setrlimit|clock_gettime|usleep|getpid|kill|_exit|strerror|raise|pipe|dup2|ftruncate|flock|fchmod|sysconf|ioctl)\(|\berrno\b"#)
        var found: [String] = []
        guard let walker = FileManager.default.enumerator(atPath: sources) else { return XCTFail("no Sources") }
        for case let file as String in walker where file.hasSuffix(".swift") && file != "TraceLensInput/Platform.swift" && !file.hasPrefix("EmbedPluginsTool/") && !file.hasPrefix("BuildPlugins/") {
            let text = try String(contentsOfFile: sources + "/" + file, encoding: .utf8)
            var portableImport = false
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                if line.hasPrefix("#if canImport(Glibc)") { portableImport = true }
                if line.hasPrefix("#endif") { portableImport = false }
                if line == "import Glibc" && !portableImport { found.append("\(file):\(number + 1): import Glibc") }
                let code = String(line.range(of: "//").map { line[..<$0.lowerBound] } ?? line[...])
                if calls.firstMatch(in: code, range: NSRange(location: 0, length: (code as NSString).length)) != nil {
                    found.append("\(file):\(number + 1): \(line.trimmingCharacters(in: .whitespaces))")
                }
            }
        }
        XCTAssertEqual(found, [], "system calls outside Platform.swift")
    }
}
