import CHamKernels

extension HostTensor {
    /// Whether the tensor can be stored as q8_0: a matrix whose rows are whole 32-element blocks.
    public var canQuantizeQ8_0: Bool {
        shape.count == 2 && shape[1] % 32 == 0 && shape[1] > 0
    }

    /// The same values in `dtype`: f32 values rounded to f16/bf16 (to nearest even) or quantized
    /// to q8_0 blocks exactly as llama.cpp and gguf-py quantize them (d = max|x| / 127,
    /// q = round(x / d)). Only matrices of whole blocks become q8_0.
    public func converted(to target: DType) -> HostTensor {
        if target == dtype { return self }
        let values = floats()
        switch target {
        case .f32:
            return HostTensor(shape: shape, floats: values)
        case .bf16:
            return values.map(floatToBF16).withUnsafeBytes { HostTensor(dtype: .bf16, shape: shape, copying: $0) }
        case .f16:
            return values.map(floatToF16).withUnsafeBytes { HostTensor(dtype: .f16, shape: shape, copying: $0) }
        case .q8_0:
            precondition(canQuantizeQ8_0, "q8_0 needs rows of whole 32-element blocks; shape \(shape)")
            let owner = OwnedBytes(byteCount: DType.q8_0.bytes(count))
            values.withUnsafeBufferPointer { source in
                if let start = source.baseAddress {
                    ham_quantize_q8_0(start, count, owner.pointer.assumingMemoryBound(to: ham_block_q8_0.self))
                }
            }
            return HostTensor(dtype: .q8_0, shape: shape, data: UnsafeRawPointer(owner.pointer), owner: owner)
        case .i32:
            return values.map { Int32($0) }.withUnsafeBytes { HostTensor(dtype: .i32, shape: shape, copying: $0) }
        case .u8:
            return values.map { UInt8(clamping: Int($0)) }.withUnsafeBytes { HostTensor(dtype: .u8, shape: shape, copying: $0) }
        }
    }
}
