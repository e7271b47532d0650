// swift-tools-version:6.0
import PackageDescription

// TraceLens is a pipeline, and its targets are the stages. Each target depends only on the stages
// before it, so an import against the grain does not compile:
//
//   Input → Records → Decode → Plugins → Handshake → Correlate → Store → Render → Query / Follow / Diagnose / Export
//         → Commands → tracelens (executable)            Bench (generators, benchmarks, fuzzing)
//
// docs/architecture.md draws the same graph; a test (ArchitectureTests) compares the two.
//
// Linux only: the follow loop uses inotify and the platform calls are Glibc's (TraceLensInput/Platform.swift).

/// Stage targets: name, the stages it may use, and anything outside the package it needs.
let swiftSettings: [SwiftSetting] = [
    // The byte paths mutate class-held buffers per line; runtime exclusivity checks cost about 10%
    // there (measured with perf). Debug builds and tests keep the checks.
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "TraceLens",
    products: [
        // An application: no library product, so nothing outside this package depends on the stages.
        .executable(name: "tracelens", targets: ["tracelens"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        // `tracelens cert`: X.509 certificates (swift-certificates) and CRLs (read with swift-asn1).
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
    ],
    targets: [
        // System zlib, for reading .gz traces (apt: libz-dev / zlib1g-dev).
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        // System SQLite, the store (apt: libsqlite3-dev).
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", providers: [.apt(["libsqlite3-dev"])]),

        // Bytes in: files, gzip, encodings, lines; the output buffer, terminal-safe text, JSON
        // strings; the platform calls.
        .target(name: "TraceLensInput", dependencies: ["CZlib"], swiftSettings: swiftSettings),
        // Lines to records: layouts, templates, time.
        .target(name: "TraceLensRecords", dependencies: ["TraceLensInput"], swiftSettings: swiftSettings),
        // Records to decoded records: catalogues, code finders, secret masking, one source read whole.
        .target(name: "TraceLensDecode", dependencies: ["TraceLensRecords"], swiftSettings: swiftSettings),
        // The model of a plugin: every rule type, the loader, samples; the built-in plugins embedded.
        .target(
            name: "TraceLensPlugins",
            dependencies: ["TraceLensDecode", .product(name: "TOMLKit", package: "TOMLKit")],
            swiftSettings: swiftSettings,
            plugins: ["EmbedPlugins"]
        ),
        // The TLS messages in dumped bytes: records put back together, handshakes read, named.
        .target(
            name: "TraceLensHandshake",
            dependencies: ["TraceLensPlugins", .product(name: "X509", package: "swift-certificates"),
                           .product(name: "SwiftASN1", package: "swift-asn1")],
            swiftSettings: swiftSettings
        ),
        // Pure: records and rules in, connections and links out. No SQL.
        .target(name: "TraceLensCorrelate", dependencies: ["TraceLensHandshake"], swiftSettings: swiftSettings),
        // SQLite: schema, writer, ledger. Speaks rows.
        .target(name: "TraceLensStore", dependencies: ["TraceLensCorrelate", "CSQLite"], swiftSettings: swiftSettings),
        // Text, JSON and tables for terminals and pipes.
        .target(name: "TraceLensRender", dependencies: ["TraceLensStore"], swiftSettings: swiftSettings),
        // Questions to the store: summary, connections, a connection's story.
        .target(name: "TraceLensQuery", dependencies: ["TraceLensRender"], swiftSettings: swiftSettings),
        // Files that grow: change waiting, descriptors, the live printer.
        .target(name: "TraceLensFollow", dependencies: ["TraceLensRender"], swiftSettings: swiftSettings),
        // Why a connection failed (doctor), configuration lint, certificates, plugin self-checks.
        .target(
            name: "TraceLensDiagnose",
            dependencies: ["TraceLensQuery", .product(name: "X509", package: "swift-certificates"),
                           .product(name: "SwiftASN1", package: "swift-asn1")],
            swiftSettings: swiftSettings
        ),
        // Sinks beyond the store: decoded rows shipped to ClickHouse or ndjson files with a cursor
        // per sink, and the fleet's questions asked of ClickHouse.
        .target(name: "TraceLensExport", dependencies: ["TraceLensDiagnose"], swiftSettings: swiftSettings),
        // One type per command (`*Run`): wires the stages together.
        .target(name: "TraceLensCommands", dependencies: ["TraceLensFollow", "TraceLensExport"], swiftSettings: swiftSettings),
        // Synthetic traces, benchmarks and fuzz targets: used by `bench` and `fuzz`, never by the stages.
        .target(name: "TraceLensBench", dependencies: ["TraceLensCommands"], swiftSettings: swiftSettings),

        // The thin command line: parses arguments and calls TraceLensCommands.
        .executableTarget(
            name: "tracelens",
            dependencies: ["TraceLensCommands", "TraceLensBench", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        // Build step: turns the data folders under Plugins/ into Swift source, so the
        // binary carries its built-in plugins and works from any directory.
        .executableTarget(name: "EmbedPluginsTool", path: "Sources/EmbedPluginsTool"),
        .plugin(
            name: "EmbedPlugins",
            capability: .buildTool(),
            dependencies: ["EmbedPluginsTool"],
            path: "Sources/BuildPlugins/EmbedPlugins"
        ),

        // The tests depend on the command too, so `swift test` builds it and tests can run it.
        // FuzzCorpus holds fuzz inputs (seeds and inputs that once crashed), read at run time.
        .testTarget(
            name: "TraceLensTests",
            dependencies: ["TraceLensCommands", "TraceLensBench", "CZlib", "tracelens"],
            exclude: ["FuzzCorpus"]
        ),
    ]
)
