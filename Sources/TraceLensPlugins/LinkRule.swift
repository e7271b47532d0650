import TraceLensDecode

/// How a plugin says that connections found in one source are the same TLS session as
/// connections found in another: a GLD1116E in the LDAP job log and the failed GSK session of
/// that peer; an AT-TLS CONNID and the GSK session of the same remote address; a client attempt
/// and the server session it failed in.
///
/// Matching is on keys first (`same`), then outcome and codes, then time within a window after
/// each source's clock offset. Nothing here knows LDAP or GSK: see `Plugins/*/plugin.toml`.
public struct LinkRule: Sendable {
    /// A pair of fields that must be equal when both connections have them: the `from`
    /// connection's `fromField` and the `to` connection's `toField` (`peer_ip`, or
    /// `server_ip=local_ip`).
    public struct SameField: Sendable, CustomStringConvertible {
        public var fromField: String
        public var toField: String
        /// True when the `from` connection must have the field for the link to be made.
        public var required: Bool
        public var description: String { fromField == toField ? fromField : "\(fromField)=\(toField)" }
    }

    public let name: String
    public let plugin: String
    /// The connection rule whose connections are linked ...
    public let from: String
    /// ... to one connection of this rule, which becomes the story they are part of.
    public let to: String
    /// When not empty, only connections found in sources of these layouts take part on that side:
    /// a rule that links a screen capture of a job log to the job log itself names one
    /// connection rule on both sides, and the layouts tell the copy from the original.
    public let fromFormats: [String]
    public let toFormats: [String]
    public let same: [SameField]
    /// True: a failed connection links only to a failed one and an ok one only to an ok one.
    public let outcome: Bool
    /// When set, the `from` connection counts as failed (for `outcome`) only with one of these
    /// codes, as catalogue or catalogue:code (`alert`, `ldaprc:-1`): a client's search that
    /// failed on a bad filter ran over a TLS session that worked.
    public let failedWhen: [CodeRef]
    public let failedWhenCatalogues: [String]
    /// Catalogues whose failure codes must agree (equal, or related by the catalogues'
    /// `related` columns: GLD1116E's `ssl:431` and the GSK session's `cms:03353041`). Codes of
    /// other catalogues are not compared.
    public let codes: [String]
    /// How far apart in time (microseconds, after clock offsets) two matched connections may be.
    public let window: Int64
    /// Link only when a single connection fits within the window: for sources that name no
    /// key the other knows (a client's transcript), where the closest in time on a busy server
    /// may well be someone else's session.
    public let unique: Bool
    /// The `from` source is a copy of part of the `to` source (a screen capture of a job log):
    /// its connections are the same ones in the same order, so a stretch of one is matched to a
    /// stretch of the other as a whole before any is matched on its own.
    public let copy: Bool
}

import Foundation
