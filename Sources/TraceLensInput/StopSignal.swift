import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns SIGINT and SIGTERM into a request to stop at the next safe point (the ingest commits
/// what it has read, then stops). A second signal stops at once, as usual.
public final class StopSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var stopRequested = false
    private var firstSignal: Int32?
    private var sources: [DispatchSourceSignal] = []

    public init() {}

    public var requested: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopRequested
    }

    /// The signal that asked to stop (nil for a request made in code).
    public var stoppingSignal: Int32? {
        lock.lock()
        defer { lock.unlock() }
        return firstSignal
    }

    public func request(signal: Int32? = nil) {
        lock.lock()
        if !stopRequested { firstSignal = signal }
        stopRequested = true
        lock.unlock()
    }

    /// Installs the handlers; `notice` is called once, on the first signal.
    public static func install(_ signals: [Int32] = [SIGINT, SIGTERM], notice: @escaping @Sendable (Int32) -> Void = { _ in }) -> StopSignal {
        let stop = StopSignal()
        for sig in signals {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                if stop.requested {
                    // Second time: stop now.
                    signal(sig, SIG_DFL)
                    raise(sig)
                    return
                }
                stop.request(signal: sig)
                notice(sig)
            }
            source.resume()
            stop.sources.append(source)
        }
        return stop
    }
}
