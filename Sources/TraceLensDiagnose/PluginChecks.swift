import TraceLensDecode
import TraceLensPlugins

/// Plugins loaded with every self-check. The loader checks that names resolve; here each sample
/// runs through the stages it exercises (layouts and codes, connections, lint rules, diagnoses),
/// which the plugin model cannot do without the stages above it.
public enum CheckedPlugins {
    /// Built-ins plus the given user folders, checked. Problems are returned, not thrown.
    public static func loadAll(userDirectories: [String] = []) -> (PluginSet, [PluginProblem]) {
        let (set, problems) = PluginLoader.loadAll(userDirectories: userDirectories)
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
}
