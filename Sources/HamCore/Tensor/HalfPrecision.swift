import CHamKernels

/// bfloat16 and IEEE half conversions. bf16 is the top half of an f32, so widening is a shift;
/// narrowing rounds to nearest even like PyTorch's `.to(torch.bfloat16)`.
@inline(__always)
public func bf16ToFloat(_ bits: UInt16) -> Float {
    Float(bitPattern: UInt32(bits) << 16)
}

@inline(__always)
public func floatToBF16(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    if value.isNaN { return UInt16(truncatingIfNeeded: (bits >> 16) | 0x40) }
    let rounding = ((bits >> 16) & 1) &+ 0x7FFF
    return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
}

@inline(__always)
public func f16ToFloat(_ bits: UInt16) -> Float {
    Float(Float16(bitPattern: bits))
}

@inline(__always)
public func floatToF16(_ value: Float) -> UInt16 {
    Float16(value).bitPattern
}

/// Widens `count` elements of `dtype` at `source` into f32 at `destination` (block types: whole
/// blocks, decoded bit-identically to gguf-py).
public func widenToFloat(_ source: UnsafeRawPointer, dtype: DType, count: Int, into destination: UnsafeMutablePointer<Float>) {
    switch dtype {
    case .f32:
        destination.update(from: source.assumingMemoryBound(to: Float.self), count: count)
    case .bf16, .f16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_k, .q5_k, .q6_k:
        ham_widen(source, dtype.kernelCode, count, destination)
    case .i32:
        let s = source.assumingMemoryBound(to: Int32.self)
        for i in 0..<count { destination[i] = Float(s[i]) }
    case .u8:
        let s = source.assumingMemoryBound(to: UInt8.self)
        for i in 0..<count { destination[i] = Float(s[i]) }
    }
}
