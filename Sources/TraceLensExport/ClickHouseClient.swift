// STUB until the helper's client lands.
package final class ClickHouseClient {
    package init(url: String, database: String, user: String?, password: String?) throws {}
    package var displayTarget: String { "" }
    package func insert(table: String, jsonEachRow: [UInt8]) throws {}
}
package struct HTTPEndpoint { package init(_ url: String) throws {} }
