import Foundation
import Glibc
import Synchronization
import XCTest
@testable import TraceLensInput
@testable import TraceLensExport

/// A real ClickHouse server for tests: started from the installed `clickhouse-server` in a fresh
/// temporary folder with its own config (loopback only, free ports, small caches), so tests never
/// touch a system server. `.ci/run` installs the package; elsewhere tests that need it are skipped.
///
/// Measured with 18.16.1 on the 2-core CI machine: about 0.6 s from start to /ping answering,
/// and about 2.3 s to stop on SIGTERM. It runs as root without any flag.
final class ClickHouseServer: Sendable {
    /// The server binary: older packages ship `clickhouse-server`, newer ones one `clickhouse`.
    static let command: (path: String, arguments: [String])? = {
        for path in ["/usr/bin/clickhouse-server", "/usr/sbin/clickhouse-server"] where FileManager.default.isExecutableFile(atPath: path) {
            return (path, [])
        }
        for path in ["/usr/bin/clickhouse", "/usr/local/bin/clickhouse"] where FileManager.default.isExecutableFile(atPath: path) {
            return (path, ["server"])
        }
        return nil
    }()

    /// Skips the calling test where no server is installed.
    static func requireInstalled() throws {
        if command == nil { throw XCTSkip("clickhouse-server is not installed (.ci/run installs it: apt-get install clickhouse-server)") }
    }

    /// A user with a password, for the authentication tests; `default` has none.
    static let user = "tracelens"
    static let password = "pw for tests: 7f3a"

    let directory: String
    let httpPort: Int
    let tcpPort: Int
    var url: String { "http://127.0.0.1:\(httpPort)" }

    /// The server's process id while it runs (started with `Platform.startChild`: Foundation's
    /// `Process` waits on a long-lived child when another child ends, hanging `runTool`).
    private let process = Mutex<Int32?>(nil)

    /// Starts a server and waits until it answers.
    init() throws {
        try Self.requireInstalled()
        directory = TemporaryFolders.shared.keptForTheRun { Fixtures.tempDir() }
        httpPort = try Self.freeLoopbackPort()
        tcpPort = try Self.freeLoopbackPort(avoiding: [httpPort])
        try Self.config(directory: directory, httpPort: httpPort, tcpPort: tcpPort).write(toFile: directory + "/config.xml", atomically: true, encoding: .utf8)
        try Self.users.write(toFile: directory + "/users.xml", atomically: true, encoding: .utf8)
        try start()
    }

    /// Starts the server on this folder and ports (again, after `stop` or `kill`) and waits for
    /// /ping; gives up after 60 s with the end of its log.
    func start() throws {
        guard let command = Self.command else { throw XCTSkip("clickhouse-server is not installed") }
        let directory = directory
        try process.withLock { slot in
            guard let pid = Platform.startChild(command.path, command.arguments + ["--config-file=\(directory)/config.xml"],
                                                output: directory + "/stdout.log", errors: directory + "/stderr.log", append: true) else {
                throw ServerFailure(text: "cannot start \(command.path): \(Platform.errorText(Platform.lastError))")
            }
            slot = pid
        }
        let client = try ClickHouseClient(url: url, database: "default", timeout: 2)
        let deadline = Date().addingTimeInterval(60)
        while true {
            if (try? client.ping()) != nil { return }
            // nil while it runs; a status once it has ended (-1: stopped by another call).
            let exitStatus: Int32? = process.withLock { slot -> Int32? in
                guard let pid = slot else { return -1 }
                let ended = Platform.waitForChild(pid, wait: false)
                if ended != nil { slot = nil }
                return ended
            }
            if exitStatus != nil || Date() > deadline {
                let why = exitStatus.map { "exited with status \($0)" } ?? "did not answer /ping within 60 s"
                kill()
                throw ServerFailure(text: "clickhouse-server \(why); its log ends:\n" + logTail())
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    /// SIGTERM, then SIGKILL if it has not ended within 20 s; waits for it to end.
    func stop() {
        process.withLock { slot in
            guard let pid = slot else { return }
            _ = Platform.send(Platform.Signal.terminate, to: pid)
            let deadline = Date().addingTimeInterval(20)
            while Platform.waitForChild(pid, wait: false) == nil {
                if Date() > deadline {
                    _ = Platform.send(Platform.Signal.kill, to: pid)
                    _ = Platform.waitForChild(pid, wait: true)
                    break
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
            slot = nil
        }
    }

    /// Ends the server at once (SIGKILL), as a crash or a power cut would.
    func kill() {
        process.withLock { slot in
            guard let pid = slot else { return }
            _ = Platform.send(Platform.Signal.kill, to: pid)
            _ = Platform.waitForChild(pid, wait: true)
            slot = nil
        }
    }

    /// Stops and starts again on the same ports and data.
    func restart() throws {
        stop()
        try start()
    }

    /// The last lines of the server's logs, for failure messages.
    func logTail(lines: Int = 30) -> String {
        ["stderr.log", "log/server.err.log", "log/server.log"].map { name -> String in
            let text = (try? String(contentsOfFile: directory + "/" + name, encoding: .utf8)) ?? ""
            return "--- \(name)\n" + text.split(separator: "\n").suffix(lines).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    struct ServerFailure: Error, CustomStringConvertible { let text: String; var description: String { text } }

    /// A loopback TCP port nothing listens on now (bound to port 0, then released).
    static func freeLoopbackPort(avoiding taken: [Int] = []) throws -> Int {
        for _ in 0..<20 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { break }
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
            }
            let port = Int(UInt16(bigEndian: address.sin_port))
            if bound && port > 0 && !taken.contains(port) { return port }
        }
        throw ServerFailure(text: "no free loopback port")
    }

    /// Everything inside `directory`; interserver replication off (no port); caches small so a
    /// 2-core CI machine with little memory runs it.
    static func config(directory: String, httpPort: Int, tcpPort: Int) -> String {
        """
        <?xml version="1.0"?>
        <yandex>
            <logger>
                <level>information</level>
                <log>\(directory)/log/server.log</log>
                <errorlog>\(directory)/log/server.err.log</errorlog>
                <size>10M</size>
                <count>2</count>
                <console>0</console>
            </logger>
            <listen_host>127.0.0.1</listen_host>
            <http_port>\(httpPort)</http_port>
            <tcp_port>\(tcpPort)</tcp_port>
            <path>\(directory)/data/</path>
            <tmp_path>\(directory)/tmp/</tmp_path>
            <user_files_path>\(directory)/user_files/</user_files_path>
            <format_schema_path>\(directory)/format_schemas/</format_schema_path>
            <users_config>\(directory)/users.xml</users_config>
            <default_profile>default</default_profile>
            <default_database>default</default_database>
            <timezone>UTC</timezone>
            <mark_cache_size>67108864</mark_cache_size>
            <uncompressed_cache_size>67108864</uncompressed_cache_size>
            <max_concurrent_queries>20</max_concurrent_queries>
            <max_connections>64</max_connections>
            <keep_alive_timeout>3</keep_alive_timeout>
        </yandex>
        """
    }

    static var users: String {
        """
        <?xml version="1.0"?>
        <yandex>
            <profiles>
                <default><max_memory_usage>1000000000</max_memory_usage></default>
            </profiles>
            <users>
                <default>
                    <password></password>
                    <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
                    <profile>default</profile>
                    <quota>default</quota>
                </default>
                <\(user)>
                    <password>\(password)</password>
                    <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
                    <profile>default</profile>
                    <quota>default</quota>
                </\(user)>
            </users>
            <quotas>
                <default>
                    <interval>
                        <duration>3600</duration>
                        <queries>0</queries><errors>0</errors><result_rows>0</result_rows>
                        <read_rows>0</read_rows><execution_time>0</execution_time>
                    </interval>
                </default>
            </quotas>
        </yandex>
        """
    }
}
