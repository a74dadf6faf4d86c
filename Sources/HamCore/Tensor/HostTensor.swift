import CHamKernels

/// A tensor in host memory, in its stored dtype: a view into a memory-mapped file or into an
/// owned buffer. Weights reach a backend as `HostTensor`s.
public struct HostTensor: @unchecked Sendable {
    public let dtype: DType
    public let shape: [Int]
    public let data: UnsafeRawPointer
    /// Keeps the mapping or buffer behind `data` alive.
    public let owner: AnyObject

    public init(dtype: DType, shape: [Int], data: UnsafeRawPointer, owner: AnyObject) {
        self.dtype = dtype
        self.shape = shape
        self.data = data
        self.owner = owner
    }

    public var count: Int { shape.reduce(1, *) }
    public var byteCount: Int { dtype.bytes(count) }
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: data, count: byteCount) }

    /// An f32 tensor that owns a copy of `values`.
    public init(shape: [Int], floats values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
        let buffer = OwnedBytes(byteCount: values.count * 4)
        values.withUnsafeBytes { source in
            if let start = source.baseAddress { buffer.pointer.copyMemory(from: start, byteCount: source.count) }
        }
        self.init(dtype: .f32, shape: shape, data: UnsafeRawPointer(buffer.pointer), owner: buffer)
    }

    /// A copy of `bytes` in `dtype`.
    public init(dtype: DType, shape: [Int], copying bytes: UnsafeRawBufferPointer) {
        let buffer = OwnedBytes(byteCount: max(bytes.count, 1))
        if let source = bytes.baseAddress { buffer.pointer.copyMemory(from: source, byteCount: bytes.count) }
        self.init(dtype: dtype, shape: shape, data: UnsafeRawPointer(buffer.pointer), owner: buffer)
    }

    /// The elements of an `.i32` tensor (token ids).
    public func ids() -> [Int32] {
        precondition(dtype == .i32, "ids() of a \(dtype) tensor")
        return Array(UnsafeBufferPointer(start: data.assumingMemoryBound(to: Int32.self), count: count))
    }

    /// All elements widened to f32 by the portable code rather than this processor's SIMD level
    /// (the reference the levels are checked against; the same values).
    public func portableFloats() -> [Float] {
        guard dtype != .f32, dtype != .i32, dtype != .u8 else { return floats() }
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            if let start = buffer.baseAddress { ham_widen_portable(data, dtype.kernelCode, count, start) }
            initialized = count
        }
    }

    /// All elements widened to f32.
    public func floats() -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            if let start = buffer.baseAddress { widenToFloat(data, dtype: dtype, count: count, into: start) }
            initialized = count
        }
    }
}

/// A 64-byte aligned heap allocation owned by a Swift object.
public final class OwnedBytes: @unchecked Sendable {
    public let pointer: UnsafeMutableRawPointer
    public let byteCount: Int

    public init(byteCount: Int) {
        self.byteCount = byteCount
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
    }

    deinit { pointer.deallocate() }
}
