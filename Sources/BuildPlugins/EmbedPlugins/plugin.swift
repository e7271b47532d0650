import Foundation
import PackagePlugin

/// Embeds every file under the package's `Plugins/` folder into the TraceLensPlugins module.
///
/// The files are listed as inputs so that editing one, or adding a new one, regenerates the
/// Swift source on the next build. Resource bundles were measured not to survive a binary being
/// copied elsewhere, generated source always does.
@main
struct EmbedPlugins: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
        let pluginsDir = context.package.directoryURL.appending(path: "Plugins")
        var inputs: [URL] = []
        if let walker = FileManager.default.enumerator(at: pluginsDir, includingPropertiesForKeys: [.isRegularFileKey]) {
            for case let url as URL in walker {
                let isFile = (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) ?? false
                if isFile && !url.lastPathComponent.hasPrefix(".") { inputs.append(url) }
            }
        }
        inputs.sort { $0.path < $1.path }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedPlugins.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(inputs.count) built-in plugin files",
                executable: try context.tool(named: "EmbedPluginsTool").url,
                arguments: [pluginsDir.path, output.path] + inputs.map(\.path),
                inputFiles: inputs,
                outputFiles: [output]
            )
        ]
    }
}
