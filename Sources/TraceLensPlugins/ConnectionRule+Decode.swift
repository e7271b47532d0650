extension PluginSet {
    /// A connection field as shown: its value followed by the name a catalogue gives it when a
    /// connection rule decodes the field (`decode = { field = "catalogue" }`); else the value.
    public func shownConnectionField(_ name: String, _ value: String) -> String {
        for rule in connectionRules {
            guard let id = rule.decode[name], let cat = catalogue(id),
                  let v = cat.value(fromCatalogueText: value), let e = cat.entry(v) else { continue }
            return "\(cat.display(v)) \(e.name.isEmpty ? e.text : e.name)"
        }
        return value
    }

    /// The fields some connection rule decodes, in name order.
    public var decodedConnectionFields: [String] {
        Set(connectionRules.flatMap { $0.decode.keys }).sorted()
    }
}
