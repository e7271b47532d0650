/// How serious a finding is, for every command that reports findings (`lint`, `cert`, `doctor`
/// rules) and the plugin entries that set it.
public enum Severity: String, Sendable, CaseIterable {
    case error, warning, info
}
