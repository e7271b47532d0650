import Foundation
import TraceLensInput
import TraceLensPlugins
import TraceLensStore
import TraceLensDiagnose
import TraceLensCorrelate

/// `tracelens doctor`: diagnoses connections of a store, or of files read into a store of their
/// own (linked first, so the verdict sees every source's side).
public struct DoctorRun {
    public let plugins: PluginSet
    /// The server's environment file (`KEY=value` lines), for actions in its own terms.
    public let environment: [String: String]

    public init(plugins: PluginSet, environment: [String: String] = [:]) {
        self.plugins = plugins
        self.environment = environment
    }

    /// An environment file's entries, by keyword.
    public static func environment(fromText text: String) -> [String: String] {
        var values: [String: String] = [:]
        for e in ConfigFile(text: text, syntax: .assignment).entries { values[e.keyword] = e.value }
        return values
    }

    package var doctor: Doctor {
        var doctor = Doctor(plugins: plugins)
        doctor.environment = environment
        return doctor
    }

    /// The failed connections of a store (`connections` empty: all of them).
    public func diagnose(storePath: String, connections: [Int64]) throws -> [Diagnosis] {
        try doctor.diagnose(try Store.openForReading(storePath), connections: connections)
    }

    /// Files read into a temporary store, linked, then diagnosed. The status is non-zero when a
    /// file could not be read (the diagnoses then cover the rest).
    public func diagnose(files: [String], connections: [Int64], link: LinkOptions) throws -> ([Diagnosis], Int32) {
        let dir = NSTemporaryDirectory() + "tracelens-doctor-\(Platform.processID)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = IngestOptions()
        options.link = link
        let store = try Store.openForWriting(dir + "/doctor.db")
        let run = try IngestRun(plugins: plugins, store: store, options: options)
        let status = run.run(files)
        return (try doctor.diagnose(store, connections: connections), status)
    }
}
