import TraceLensDecode

/// `[[cert-check]]` in a plugin: how one check reads for the plugin's product. Every key but
/// `check` is optional; what is left out stays as the check's generic wording.
public struct CertCheckRule: Sendable {
    public var check: String
    public var plugin: String
    /// The manifest it came from, for problems found once every plugin is in.
    public var file: String
    public var severity: Severity?
    /// Codes the product reports when this check's problem bites (`ssl:401`), shown decoded.
    public var codes: [CodeRef]
    public var message: String?
    public var action: String?
}

/// `[[dn-form]]` in a plugin: a way a product wants a distinguished name written. `cert` shows the
/// subject and issuer in it under the labels given; `doctor` offers `{field.ID}` for any field
/// holding a DN.
public struct DNForm: Sendable {
    public var id: String
    public var plugin: String
    public var subjectLabel: String?
    public var issuerLabel: String?
    public var order: DistinguishedNameText.Order
    public var separator: String

    public func write(_ dn: DistinguishedNameText) -> String { dn.written(order: order, separator: separator) }
}
