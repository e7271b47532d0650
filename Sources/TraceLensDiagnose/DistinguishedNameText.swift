import X509
import TraceLensDecode

/// Certificates and CRLs carry names as X.509 structures; this reads them into the one DN type.
extension DistinguishedNameText {
    /// Short names of the attribute types people write; other types keep their dotted OID.
    package static let shortNames: [String: String] = [
        "2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O", "2.5.4.11": "OU",
        "0.9.2342.19200300.100.1.25": "DC", "1.2.840.113549.1.9.1": "emailAddress", "2.5.4.5": "serialNumber",
    ]

    /// The name a certificate or CRL holds.
    public init(_ name: DistinguishedName) {
        self.init(components: name.flatMap { rdn in
            rdn.map { attribute in
                let oid = String(describing: attribute.type)
                return Component(type: Self.shortNames[oid] ?? oid, value: String(describing: attribute.value))
            }
        })
    }
}
