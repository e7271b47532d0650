#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A growable byte buffer that renderers write into with `memcpy`: no per-append uniqueness or
/// capacity checks beyond one comparison, which `[UInt8]` appends cost on every call.
public final class ByteBuffer {
    public private(set) var base: UnsafeMutablePointer<UInt8>
    public private(set) var count = 0
    private var capacity: Int

    public init(capacity: Int = 1 << 16) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// The bytes written so far, as an array (for tests and cold paths).
    public var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }
    public var string: String { String(decoding: UnsafeBufferPointer(start: base, count: count), as: UTF8.self) }

    @inline(__always) public func reserve(_ extra: Int) {
        if count + extra > capacity { grow(count + extra) }
    }

    private func grow(_ needed: Int) {
        var cap = capacity
        while cap < needed { cap *= 2 }
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: cap)
        bigger.update(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity = cap
    }

    @inline(__always) public func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    @inline(__always) public func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let src = bytes.baseAddress, bytes.count > 0 else { return }
        reserve(bytes.count)
        memcpy(base + count, src, bytes.count)
        count += bytes.count
    }

    @inline(__always) public func append(_ bytes: [UInt8]) { bytes.withUnsafeBufferPointer { append($0) } }
    @inline(__always) public func append(_ bytes: ArraySlice<UInt8>) { bytes.withUnsafeBufferPointer { append($0) } }
    public func append(_ s: String) { var s = s; s.withUTF8 { append($0) } }

    /// Writes up to `max` bytes directly; `body` returns how many it wrote.
    @inline(__always) public func write(max: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Int) {
        reserve(max)
        count += body(base + count)
    }

    public func removeAll() { count = 0 }
    public func removeLast() { if count > 0 { count -= 1 } }
}
