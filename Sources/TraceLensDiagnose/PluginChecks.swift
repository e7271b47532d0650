import TraceLensDecode
import TraceLensPlugins

/// Plugins loaded with every self-check. The loader checks that names resolve; here each sample
/// runs through the stages it exercises (layouts and codes, connections, lint rules, diagnoses),
/// which the plugin model cannot do without the stages above it.
public enum CheckedPlugins {
    /// Built-ins plus the given user folders, checked. Problems are returned, not thrown.
    public static func loadAll(userDirectories: [String] = []) -> (PluginSet, [PluginProblem]) {
        let (set, problems) = PluginLoader.loadAll(userDirectories: userDirectories)
        // The built-in plugins alone are the ones the tests checked (`load` checks them there):
        // running their samples again would cost every command about 15 ms of its start.
        if set.plugins.allSatisfy({ $0.origin == .builtIn }) { return (set, problems) }
        return (set, problems + selfCheck(set))
    }

    public static func load(_ sources: [PluginSource]) -> (PluginSet, [PluginProblem]) {
        let (set, problems) = PluginLoader.load(sources)
        return (set, problems + selfCheck(set))
    }

    /// Every sample of every entry, run: layouts and codes, connections, lint rules, diagnoses.
    public static func selfCheck(_ set: PluginSet) -> [PluginProblem] {
        var problems = SampleChecker(plugins: set).checkAll()
        let linter = ConfigLinter(plugins: set)
        for rule in set.lintRules {
            let entry = "[[lint]] \(rule.id)"
            guard let kind = set.configKinds.first(where: { $0.name == rule.config }), let bad = rule.bad, let good = rule.good else { continue }
            if !linter.lint(bad, kind: kind).findings.contains(where: { $0.rule == rule.id }) {
                problems.append(PluginProblem(file: "plugin \(rule.plugin)", entry: entry, message: "its bad sample does not trigger it"))
            }
            if linter.lint(good, kind: kind).findings.contains(where: { $0.rule == rule.id }) {
                problems.append(PluginProblem(file: "plugin \(rule.plugin)", entry: entry, message: "its good sample triggers it"))
            }
        }
        var doctor = Doctor(plugins: set)
        for rule in set.diagnosisRules {
            let entry = "[[diagnosis]] \(rule.id)"
            guard let layout = set.format(named: rule.sampleLayout) else { continue }
            // The bad sample must give this finding, with every fact its sentence names.
            doctor.environment = [:]
            if let f = doctor.apply(rule, doctor.story(sample: rule.bad, layout: layout)) {
                if f.unknownFacts > 0 {
                    problems.append(PluginProblem(file: "plugin \(rule.plugin)", entry: entry, message: "its bad sample leaves facts of the cause unfilled: \(f.cause)"))
                }
            } else {
                problems.append(PluginProblem(file: "plugin \(rule.plugin)", entry: entry, message: "its bad sample does not produce the finding"))
            }
            if doctor.apply(rule, doctor.story(sample: rule.good, layout: layout)) != nil {
                problems.append(PluginProblem(file: "plugin \(rule.plugin)", entry: entry, message: "its good sample produces the finding"))
            }
        }
        return problems
    }

    /// `plugins check DIR`: loads the built-ins plus the folder (so it may use built-in catalogues)
    /// and reports the folder's plugins and every problem. Problems of the built-ins are the
    /// binary's, not the folder's, and are left out.
    public static func check(directory: String) -> (summary: [String], problems: [PluginProblem]) {
        let sources: [PluginSource]
        do { sources = try PluginLoader.sources(inDirectory: directory) } catch let p as PluginProblem {
            return ([], [p])
        } catch {
            return ([], [PluginProblem(file: directory, entry: "", message: "\(error)")])
        }
        guard !sources.isEmpty else {
            return ([], [PluginProblem(file: directory, entry: "", message: "no plugin.toml here or in its sub-folders")])
        }
        let (set, loadProblems) = load(PluginLoader.builtInSources() + sources)
        var problems = loadProblems
        let checked = set.plugins.filter { info in sources.contains { $0.origin == info.origin } }
        let errors = problems.filter { !$0.isWarning }
        for info in checked { problems += PluginLoader.templateWarnings(info, in: set, sources: sources) }
        let summary = checked.map { info in
            "\(info.name): \(info.formats.count) layouts, \(info.catalogues.count) catalogues, \(info.codePatterns) code patterns, "
                + (info.connectionRules > 0 ? "\(info.connectionRules) connection rules, " : "")
                + (info.linkRules > 0 ? "\(info.linkRules) link rules, " : "") + "\(info.samples) samples"
                + (errors.isEmpty ? ", all samples pass" : "")
        }
        return (summary, problems)
    }
}
