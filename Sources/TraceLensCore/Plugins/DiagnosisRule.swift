/// A diagnosis rule (`[[diagnosis]]` in a plugin): when a failed connection's story carries one
/// of its codes, it names the cause in one sentence, quotes the records that show it, and says
/// what to do. Facts for the sentence come from the connection (peer, subject, issuer, cipher...)
/// and from templates matched in its records (`Serial number {serial:word} found in CRL`).
public struct DiagnosisRule: Sendable {
    public var id: String
    public var plugin: String
    public var title: String
    /// The rule applies when the story has any of these codes (`cms:03353041`; `alert:*` is any
    /// code of that catalogue).
    public var when: [CodeRef]
    /// Searched in every record of the story; the first match of each field wins.
    public var facts: [Template]
    /// The rule does not apply when a record matches one of these.
    public var unless: [Template] = []
    /// Applies only when no other rule does (a general reading of a client-side failure).
    public var fallback = false
    /// Connection rules (`client-attempt`) whose records alone may carry the `when` codes: a TLS
    /// alert the client reports means something else than one in the server's own trace.
    public var from: [String] = []
    public var cause: String
    public var action: String
    /// Used instead of `action` when the user gave the environment file (`--env`); it may name
    /// `{env.GSK_...}` values.
    public var actionWithEnv: String?
    /// Where the user reads more: a page under docs/findings/.
    public var doc: String
    /// Lower first when several rules fit one connection.
    public var order: Int
    /// Sample lines (in `sampleLayout`) that must produce this finding, and lines that must not.
    public var sampleLayout: String
    public var bad: String
    public var good: String
}
