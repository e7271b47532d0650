/// Byte classes shared by the matchers (ASCII only: traces are read as bytes).
@inline(__always) package func isBlank(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }
@inline(__always) package func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }
@inline(__always) package func hexValue(_ b: UInt8) -> UInt8? {
    if b &- 0x30 < 10 { return b &- 0x30 }
    let l = b | 0x20
    if l &- 0x61 < 6 { return l &- 0x61 &+ 10 }
    return nil
}
@inline(__always) package func lowerASCII(_ b: UInt8) -> UInt8 { b &- 0x41 < 26 ? b | 0x20 : b }
@inline(__always) package func isAlpha(_ b: UInt8) -> Bool { (b | 0x20) &- 0x61 < 26 }
