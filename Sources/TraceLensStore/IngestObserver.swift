import TraceLensRecords
import TraceLensCorrelate

/// What sees records and connections as `ingest` stores them (`watch` prints them). Records are
/// seen before their batch commits; `inTail` marks those a later read of the growing file redoes.
public protocol IngestObserver: AnyObject {
    func observe(_ record: Record, source: Int64, path: String, inTail: Bool)
    func connectionsChanged(_ connections: [LiveConnection], source: Int64, path: String)
}
