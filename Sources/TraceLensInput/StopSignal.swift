import Foundation
// libdispatch signal sources are thread-safe, but Dispatch does not mark them Sendable yet.
@preconcurrency import Dispatch
import Synchronization

/// Turns SIGINT and SIGTERM into a request to stop at the next safe point (the ingest commits
/// what it has read, then stops). A second signal stops at once, as usual.
public final class StopSignal: Sendable {
    private struct State {
        var requested = false
        var firstSignal: Int32?
        /// Kept alive here: a signal source that is released stops delivering.
        var sources: [DispatchSourceSignal] = []
    }
    private let state = Mutex(State())

    public init() {}

    public var requested: Bool { state.withLock { $0.requested } }

    /// The signal that asked to stop (nil for a request made in code).
    public var stoppingSignal: Int32? { state.withLock { $0.firstSignal } }

    public func request(signal: Int32? = nil) {
        state.withLock {
            if !$0.requested { $0.firstSignal = signal }
            $0.requested = true
        }
    }

    /// Installs the handlers; `notice` is called once, on the first signal.
    public static func install(_ signals: [Int32] = [Platform.Signal.interrupt, Platform.Signal.terminate], notice: @escaping @Sendable (Int32) -> Void = { _ in }) -> StopSignal {
        let stop = StopSignal()
        for sig in signals {
            Platform.ignore(sig)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                if stop.requested {
                    // Second time: stop now.
                    Platform.restoreDefault(sig)
                    Platform.raise(sig)
                    return
                }
                stop.request(signal: sig)
                notice(sig)
            }
            source.resume()
            stop.state.withLock { $0.sources.append(source) }
        }
        return stop
    }
}
