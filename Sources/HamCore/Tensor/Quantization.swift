import CHamKernels
import Dispatch
import Foundation

extension HostTensor {
    /// Whether the tensor can be stored in the block type `dtype`: a matrix whose rows are whole
    /// blocks (any plain type always can).
    public func canStore(as dtype: DType) -> Bool {
        guard dtype.isQuantized else { return true }
        return shape.count == 2 && shape[1] > 0 && shape[1] % dtype.blockElements == 0
    }

    /// The same values in `dtype`: f32 values rounded to f16/bf16 (to nearest even) or quantized
    /// to blocks (`ham_quantize`: q8_0, q4_0, q4_1, q5_0 and q5_1 exactly as gguf-py quantizes them, the
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
        case .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_k, .q5_k, .q6_k:
            precondition(canStore(as: target), "\(target) needs rows of whole \(target.blockElements)-element blocks; shape \(shape)")
            let owner = OwnedBytes(byteCount: target.bytes(count))
            // The K-quants' grid search costs about a microsecond per block: rows in parallel.
            let rows = shape[0], cols = shape[1]
            let chunks = count < 1 << 16 ? 1 : min(rows, 4 * ProcessInfo.processInfo.activeProcessorCount)
            values.withUnsafeBufferPointer { source in
                // Addresses as integers: the workers share the buffers but write disjoint rows.
                guard let start = source.baseAddress.map({ Int(bitPattern: $0) }) else { return }
                let destination = Int(bitPattern: owner.pointer)
                DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                    let first = rows * chunk / chunks, end = rows * (chunk + 1) / chunks
                    guard end > first, let from = UnsafePointer<Float>(bitPattern: start),
                          let to = UnsafeMutableRawPointer(bitPattern: destination) else { return }
                    let done = ham_quantize(from + first * cols, (end - first) * cols, target.kernelCode,
                                            to + target.bytes(first * cols))
                    precondition(done != 0, "no quantizer for \(target)")
                }
            }
            return HostTensor(dtype: target, shape: shape, data: UnsafeRawPointer(owner.pointer), owner: owner)
        case .i32:
            return values.map { Int32($0) }.withUnsafeBytes { HostTensor(dtype: .i32, shape: shape, copying: $0) }
        case .u8:
            return values.map { UInt8(clamping: Int($0)) }.withUnsafeBytes { HostTensor(dtype: .u8, shape: shape, copying: $0) }
        }
    }
}
