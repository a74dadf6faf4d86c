import CHamKernels

extension HostTensor {
    /// Whether the tensor can be stored in the block type `dtype`: a matrix whose rows are whole
    /// blocks (any plain type always can).
    public func canStore(as dtype: DType) -> Bool {
        guard dtype.isQuantized else { return true }
        return shape.count == 2 && shape[1] > 0 && shape[1] % dtype.blockElements == 0
    }

    /// The same values in `dtype`: f32 values rounded to f16/bf16 (to nearest even) or quantized
    /// to blocks (`ham_quantize`: q8_0, q4_0 and q4_1 exactly as gguf-py quantizes them, the
    /// K-quants with llama.cpp's reference search). Only matrices of whole blocks can become a
    /// block type (`canStore(as:)`).
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
        case .q8_0, .q4_0, .q4_1, .q4_k, .q5_k, .q6_k:
            precondition(canStore(as: target), "\(target) needs rows of whole \(target.blockElements)-element blocks; shape \(shape)")
            let owner = OwnedBytes(byteCount: target.bytes(count))
            let done = values.withUnsafeBufferPointer { source in
                source.baseAddress.map { ham_quantize($0, count, target.kernelCode, owner.pointer) } ?? 0
            }
            precondition(done != 0 || count == 0, "no quantizer for \(target)")
            return HostTensor(dtype: target, shape: shape, data: UnsafeRawPointer(owner.pointer), owner: owner)
        case .i32:
            return values.map { Int32($0) }.withUnsafeBytes { HostTensor(dtype: .i32, shape: shape, copying: $0) }
        case .u8:
            return values.map { UInt8(clamping: Int($0)) }.withUnsafeBytes { HostTensor(dtype: .u8, shape: shape, copying: $0) }
        }
    }
}
