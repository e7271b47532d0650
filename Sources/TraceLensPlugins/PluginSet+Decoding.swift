import TraceLensDecode

// The decode stage takes its tables as values; these build them from the loaded plugins.

extension CodeFinder {
    public convenience init(plugins: PluginSet) {
        self.init(patterns: plugins.codePatterns, catalogues: plugins.catalogues, catalogueIndex: plugins.catalogueIndex)
    }
}

extension SecretMasker {
    public convenience init(plugins: PluginSet) { self.init(rules: plugins.secretRules) }
}

extension RecordStream {
    public convenience init(plugins: PluginSet) {
        self.init(formats: plugins.formats, catalogues: plugins.catalogues,
                  finder: CodeFinder(plugins: plugins), masker: SecretMasker(plugins: plugins))
    }
}

extension Redactor {
    /// A redactor with the plugins' `[[redact]]` and `[[secret]]` rules, and `words` to hide too.
    public convenience init(plugins: PluginSet, words: [String] = []) {
        self.init(rules: plugins.redactRules, masker: SecretMasker(plugins: plugins), words: words)
    }
}
