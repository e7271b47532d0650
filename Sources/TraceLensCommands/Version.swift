import TraceLensStore

/// The version `tracelens --version` prints. Defined here and nowhere else: set by hand in the
/// commit that tags a release (`v` + this), since SwiftPM gives a package no version of its own.
public enum TraceLensVersion {
    public static let number = "0.1.0"

    /// `--version`: the release and the store layout it writes (a store from a newer layout is refused).
    public static var text: String { "\(number) (store version \(Schema.version))" }
}
