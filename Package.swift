// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "TraceLens",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tracelens", targets: ["tracelens"]),
        .library(name: "TraceLensCore", targets: ["TraceLensCore"]),
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

        // Everything the command does lives here, one folder per pipeline stage.
        .target(
            name: "TraceLensCore",
            dependencies: ["CZlib", "CSQLite", .product(name: "TOMLKit", package: "TOMLKit"),
                           .product(name: "X509", package: "swift-certificates"), .product(name: "SwiftASN1", package: "swift-asn1")],
            // The byte paths mutate class-held buffers per line; runtime exclusivity checks cost
            // about 10% there (measured with perf). Debug builds and tests keep the checks.
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))],
            plugins: ["EmbedPlugins"]
        ),

        // The thin command line: parses arguments and calls TraceLensCore.
        .executableTarget(
            name: "tracelens",
            dependencies: ["TraceLensCore", .product(name: "ArgumentParser", package: "swift-argument-parser")]
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
        .testTarget(name: "TraceLensCoreTests", dependencies: ["TraceLensCore", "CZlib", "tracelens"], exclude: ["FuzzCorpus"]),
    ]
)
