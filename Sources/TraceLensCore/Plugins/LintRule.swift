import Foundation

/// A kind of configuration file `lint` reads (`[[config]]` in a plugin): how its lines are
/// written and which catalogue lists its keywords.
public struct ConfigKind: Sendable {
    public enum Syntax: String, Sendable {
        /// `NAME=value` (an environment variable file; `export` and quotes allowed).
        case assignment
        /// `keyword value` (the LDAP server's configuration file).
        case keyword
    }
    public var name: String
    public var title: String
    public var plugin: String
    public var syntax: Syntax
    /// The catalogue whose codes are the known keywords.
    public var keywords: String
    /// Only keywords with one of these prefixes are checked against the catalogue (an
    /// environment file also sets LIBPATH, TZ and the like); empty: all are.
    public var checkedPrefixes: [String]
    public var caseSensitive: Bool
    /// Keywords that may appear more than once (`listen`), and the keyword that starts a new
    /// section in which the others may appear again (`database`).
    public var repeatable: [String] = []
    public var sectionStart: String?
}

/// Which list elements a rule is about: those whose catalogue column holds a value.
public struct ElementSelector: Sendable {
    public enum Test: Sendable { case equals(String), contains(String) }
    public var column: String
    public var tests: [Test]

    func matches(_ entry: CatalogueEntry?, code: String) -> Bool {
        let value: String
        switch column {
        case "code": value = code
        case "name": value = entry?.name ?? ""
        case "text": value = entry?.text ?? ""
        default: value = entry?.details.first { $0.column == column }?.value ?? ""
        }
        return tests.contains { test in
            switch test {
            case let .equals(v): return value.caseInsensitiveCompare(v) == .orderedSame
            case let .contains(v): return value.range(of: v, options: .caseInsensitive) != nil
            }
        }
    }
}

/// One check of a configuration (`[[lint]]`). The finding's text and the action are the plugin's.
public struct LintRule: Sendable {
    public enum Severity: String, Sendable { case error, warning, info }
    public enum Check: Sendable {
        /// The keyword's value is on (ON, YES, TRUE, ENABLED, 1).
        case on(String)
        /// The keyword's value is a number other than 0 (GSK_TRACE=0xff).
        case nonzero(String)
        /// The keyword holds a value in clear: a password. Its value is never shown.
        case secret(String)
        /// The keyword's value is one of these (a shipped default left in place).
        case equals(String, [String])
        /// The list has none of these elements.
        case lacksAny(String, [String])
        /// The list has no element the selector matches.
        case lacks(String, ElementSelector)
        /// The list has some of these elements.
        case containsAny(String, [String])
        /// The list has elements the selector matches.
        case contains(String, ElementSelector)
        /// Elements matching the first selector come before the first one matching the second.
        case before(String, ElementSelector, ElementSelector)
    }
    public var id: String
    public var plugin: String
    public var config: String
    public var severity: Severity
    /// Applies only while this keyword is on (GSK_PROTOCOL_TLSV1_3).
    public var whenOn: String?
    public var check: Check
    public var message: String
    public var action: String
    /// Sample files: `bad` must produce this finding, `good` must not (checked at load).
    public var bad: String?
    public var good: String?
}
