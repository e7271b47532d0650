import TraceLensRecords
import TraceLensDecode

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
    /// Templates searched in the records of the story's sources that belong to no connection and
    /// come before it (the set-up lines: `Environment variable GSK_...=...`).
    public var sourceFacts: [Template] = []
    /// Sets compared: what the peer offered (from the TLS messages read in dumps) against what
    /// the other side allows (a fact or an environment value, read as a list).
    public var compares: [Compare] = []
    /// Rules this one says more than: when it applies, they are not shown.
    public var replaces: [String] = []

    /// `{ name = "cipher", offered = "ClientHello cipher", allowed = ["env.X", "fact"], list = "X" }`:
    /// the rule applies only when both sets are known and none of the offered values is allowed.
    /// It fills `{cipher.offered}`, `{cipher.allowed}` (codes), their `_count`s, and the nearest
    /// pair `{cipher.closest_offered}`, `{cipher.closest_allowed}` with `_name`s.
    public struct Compare: Sendable {
        public var name: String
        /// A TLS message as stored (`ClientHello`) and one of its value fields (`cipher`).
        public var message: String
        public var field: String
        /// Fields, first known wins: `env.NAME` (the `--env` file) or a fact.
        public var allowed: [String]
        /// The `[[list]]` (by its variable) that splits the allowed text into codes.
        public var list: String
        /// Read when the message lacks `field` (a ClientHello without supported_versions offers
        /// its legacy version).
        public var fallbackField: String?
        /// Instead of a list: one switch per code (`0304` allowed when `env.GSK_PROTOCOL_TLSV1_3`,
        /// or else the fact `protocol_tls13`, is on).
        public var switches: [(code: String, fields: [String])] = []
        public init(name: String, message: String, field: String, allowed: [String], list: String) {
            self.name = name; self.message = message; self.field = field; self.allowed = allowed; self.list = list
        }
    }
}
