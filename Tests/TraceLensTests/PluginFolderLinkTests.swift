import Foundation
import XCTest
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

/// Every file a plugin loads must really be inside its folder: a link leading out is refused.
final class PluginFolderLinkTests: XCTestCase {
    static let manifest = """
        [plugin]
        name = "linked"
        description = "a catalogue behind a link"

        [[catalogue]]
        id = "linkcodes"
        title = "Linked codes"
        file = ["codes.tsv"]

        """
    static let tsv = "code\tname\ttext\n1\tONE\tthe first code\n"

    func makePlugin() throws -> (dir: String, outside: String) {
        let base = Fixtures.tempDir()
        let dir = base + "/linked"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Self.manifest.write(toFile: dir + "/plugin.toml", atomically: true, encoding: .utf8)
        let outside = base + "/secret.tsv"
        try Self.tsv.write(toFile: outside, atomically: true, encoding: .utf8)
        return (dir, outside)
    }

    func testACatalogueLinkedFromOutsideIsRefusedWithAClearProblem() throws {
        let (dir, outside) = try makePlugin()
        try FileManager.default.createSymbolicLink(atPath: dir + "/codes.tsv", withDestinationPath: outside)
        let (set, problems) = CheckedPlugins.loadAll(userDirectories: [dir])
        let text = problems.map(\.description)
        XCTAssertTrue(text.contains { $0.contains("codes.tsv: is a link to") && $0.contains("outside the plugin folder") }, "\(text)")
        XCTAssertTrue(text.contains { $0.contains("catalogue file 'codes.tsv' is not in the plugin folder") }, "\(text)")
        XCTAssertEqual(set.catalogue("linkcodes")?.entries.count ?? 0, 0, "nothing was read through the link")

        let check = try Fixtures.runTool(["plugins", "check", dir])
        XCTAssertEqual(check.status, 1)
        XCTAssertTrue(check.stdout.contains("outside the plugin folder"), check.stdout)
    }

    func testALinkedFolderOfFilesOutsideIsRefusedToo() throws {
        let (dir, outside) = try makePlugin()
        let elsewhere = (outside as NSString).deletingLastPathComponent + "/elsewhere"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        try Self.tsv.write(toFile: elsewhere + "/codes.tsv", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: dir + "/more", withDestinationPath: elsewhere)
        let source = try PluginLoader.source(at: dir)
        XCTAssertNil(source.files["more/codes.tsv"])
    }

    func testLinksInsideTheFolderAndALinkedFolderStillLoad() throws {
        let (dir, _) = try makePlugin()
        try FileManager.default.createDirectory(atPath: dir + "/catalogues", withIntermediateDirectories: true)
        try Self.tsv.write(toFile: dir + "/catalogues/real.tsv", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: dir + "/codes.tsv", withDestinationPath: dir + "/catalogues/real.tsv")
        // The plugin folder itself reached through a link is fine.
        let alias = Fixtures.tempDir() + "/alias"
        try FileManager.default.createSymbolicLink(atPath: alias, withDestinationPath: dir)
        for folder in [dir, alias] {
            let (set, problems) = CheckedPlugins.loadAll(userDirectories: [folder])
            XCTAssertFalse(problems.contains { $0.message.contains("outside") }, "\(problems)")
            XCTAssertEqual(set.catalogue("linkcodes")?.entries.count, 1, folder)
        }
    }
}
