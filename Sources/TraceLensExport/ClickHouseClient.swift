// STUB until the helper's client lands.
package final class ClickHouseClient {
    package init(url: String, database: String, user: String?, password: String?) throws {}
    package var database: String { "" }
    package var displayTarget: String { "" }
    package func insert(table: String, jsonEachRow: [UInt8]) throws {}
    package func queryRows(_ sql: String) throws -> [[String?]] { [] }
}
package struct HTTPEndpoint { package init(_ url: String) throws {} }
extension FleetSchema { package static func initialize(client: ClickHouseClient) throws {} }
