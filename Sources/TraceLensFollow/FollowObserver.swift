import TraceLensStore

/// Receives what `watch` reads: records and connection changes (through `IngestObserver`), and
/// a tick after each cycle, when records held back (a tail that may still grow) can be shown.
public protocol FollowObserver: IngestObserver {
    func cycleEnded(now: Double, final: Bool)
    /// The earliest time the observer wants another tick (nil: none).
    var nextTick: Double? { get }
}
