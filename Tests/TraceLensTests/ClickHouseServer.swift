import XCTest
@testable import TraceLensBench

/// The tests' side of the server launcher (TraceLensBench's `ClickHouseServer`): its folder is
/// removed when the test run ends, and tests that need a server are skipped where none is
/// installed (`.ci/run` installs the package).
extension ClickHouseServer {
    /// Starts a server in a folder kept until the run ends, and waits until it answers.
    convenience init() throws {
        try Self.requireInstalled()
        try self.init(directory: TemporaryFolders.shared.keptForTheRun { Fixtures.tempDir() })
    }

    /// Skips the calling test where no server is installed.
    static func requireInstalled() throws {
        if command == nil { throw XCTSkip("clickhouse-server is not installed (.ci/run installs it: apt-get install clickhouse-server)") }
    }
}
