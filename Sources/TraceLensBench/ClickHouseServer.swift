import Foundation
import Synchronization
import TraceLensInput
import TraceLensExport

/// A ClickHouse server of its own: started from the installed `clickhouse-server` in a folder
/// with its own config (loopback only, free ports, small caches), so neither `bench --only
/// export` nor the tests ever touch a system server.
///
/// Measured with 18.16.1 on the 2-core CI machine: about 0.6 s from start to /ping answering,
/// and about 2.3 s to stop on SIGTERM. It runs as root without any flag.
package final class ClickHouseServer: Sendable {
    /// The server binary: older packages ship `clickhouse-server`, newer ones one `clickhouse`.
    package static let command: (path: String, arguments: [String])? = {
        for path in ["/usr/bin/clickhouse-server", "/usr/sbin/clickhouse-server"] where FileManager.default.isExecutableFile(atPath: path) {
            return (path, [])
        }
        for path in ["/usr/bin/clickhouse", "/usr/local/bin/clickhouse"] where FileManager.default.isExecutableFile(atPath: path) {
            return (path, ["server"])
        }
        return nil
    }()

    /// A user with a password, for the authentication tests; `default` has none.
    package static let user = "tracelens"
    package static let password = "pw for tests: 7f3a"

    /// Its config, logs and data; the caller removes it when done.
    package let directory: String
    package let httpPort: Int
    package let tcpPort: Int
    package var url: String { "http://127.0.0.1:\(httpPort)" }

    /// The server's process id while it runs. Started with posix_spawn, not Foundation's
    /// Process: the server closes the descriptors it inherits, and Foundation's monitor would then
    /// take it for ended, wait on it, and report no other child's end (`runTool` would hang).
    private let process = Mutex<Int32?>(nil)

    /// Starts a server in `directory` (nil: a new folder in the temporary directory) and waits
    /// until it answers.
    package init(directory: String? = nil) throws {
        guard Self.command != nil else { throw ServerFailure(text: "clickhouse-server is not installed") }
        let directory = directory ?? NSTemporaryDirectory() + "tracelens-clickhouse-\(Platform.processID)-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.directory = directory
        httpPort = try Self.freeLoopbackPort()
        tcpPort = try Self.freeLoopbackPort(avoiding: [httpPort])
        try Self.config(directory: directory, httpPort: httpPort, tcpPort: tcpPort).write(toFile: directory + "/config.xml", atomically: true, encoding: .utf8)
        try Self.users.write(toFile: directory + "/users.xml", atomically: true, encoding: .utf8)
        try start()
    }

    /// Starts the server on this folder and ports (again, after `stop` or `kill`) and waits for
    /// /ping; gives up after 60 s with the end of its log.
    package func start() throws {
        guard let command = Self.command else { throw ServerFailure(text: "clickhouse-server is not installed") }
        let directory = directory
        try process.withLock { slot in
            guard let pid = Platform.startChild(command.path, command.arguments + ["--config-file=\(directory)/config.xml"],
                                                output: directory + "/stdout.log", errors: directory + "/stderr.log") else {
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
                guard let status = Platform.endedChild(pid) else { return nil }
                slot = nil
                return status
            }
            if exitStatus != nil || Date() > deadline {
                let why = exitStatus.map { "exited with status \($0)" } ?? "did not answer /ping within 60 s"
                self.kill()
                throw ServerFailure(text: "clickhouse-server \(why); its log ends:\n" + logTail())
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    /// SIGTERM, then SIGKILL if it has not ended within 20 s; waits for it to end.
    package func stop() {
        process.withLock { slot in
            guard let pid = slot else { return }
            slot = nil
            _ = Platform.send(Platform.Signal.terminate, to: pid)
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                if Platform.endedChild(pid) != nil { return }
                Thread.sleep(forTimeInterval: 0.05)
            }
            _ = Platform.send(Platform.Signal.kill, to: pid)
            _ = Platform.waitForChild(pid)
        }
    }

    /// Ends the server at once (SIGKILL), as a crash or a power cut would.
    package func kill() {
        process.withLock { slot in
            guard let pid = slot else { return }
            slot = nil
            _ = Platform.send(Platform.Signal.kill, to: pid)
            _ = Platform.waitForChild(pid)
        }
    }

    /// Stops and starts again on the same ports and data.
    package func restart() throws {
        stop()
        try start()
    }

    /// The last lines of the server's logs, for failure messages.
    package func logTail(lines: Int = 30) -> String {
        ["stderr.log", "log/server.err.log", "log/server.log"].map { name -> String in
            let text = (try? String(contentsOfFile: directory + "/" + name, encoding: .utf8)) ?? ""
            return "--- \(name)\n" + text.split(separator: "\n").suffix(lines).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// Why the server could not be started, with the end of its log where it has one.
    package struct ServerFailure: Error, CustomStringConvertible {
        package let text: String
        package var description: String { text }
        package init(text: String) { self.text = text }
    }

    /// A loopback TCP port nothing listens on now.
    package static func freeLoopbackPort(avoiding taken: [Int] = []) throws -> Int {
        guard let port = Platform.freeLoopbackPort(avoiding: taken) else { throw ServerFailure(text: "no free loopback port") }
        return port
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
