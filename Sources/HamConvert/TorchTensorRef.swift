import HamCore
import HamLoad

/// A torch storage class as pickled in a storage's persistent id (`torch.BFloat16Storage`, ...):
/// it gives the element type of the record `data/<key>`.
public struct TorchStorageType: Sendable, Equatable {
    /// torch's dtype name: "bfloat16", "int64", ...
    public let dtypeName: String
    /// nil for a storage class hamrun does not know.
    public let elementSize: Int?
    /// The hamrun dtype, for the element types a model directory may hold.
    public let dtype: DType?

    private static let known: [String: (String, Int, DType?)] = [
        "BFloat16Storage": ("bfloat16", 2, .bf16),
        "HalfStorage": ("float16", 2, .f16),
        "FloatStorage": ("float32", 4, .f32),
        "DoubleStorage": ("float64", 8, nil),
        "LongStorage": ("int64", 8, nil),
        "IntStorage": ("int32", 4, nil),
        "ShortStorage": ("int16", 2, nil),
        "CharStorage": ("int8", 1, nil),
        "ByteStorage": ("uint8", 1, nil),
        "BoolStorage": ("bool", 1, nil),
        "ComplexFloatStorage": ("complex64", 8, nil),
        "ComplexDoubleStorage": ("complex128", 16, nil),
        "UntypedStorage": ("untyped bytes", 1, nil),
    ]

    init(global: PickleGlobal) {
        if global.module == "torch", let (name, size, dtype) = Self.known[global.name] {
            dtypeName = name
            elementSize = size
            self.dtype = dtype
        } else {
            dtypeName = global.description
            elementSize = nil
            dtype = nil
        }
    }
}

/// A storage named by a persistent id `('storage', type, key, location, numel)`. Its bytes are
/// the record `<archive>/data/<key>`; they are read only when a tensor that needs them is.
public final class TorchStorageRef: Sendable {
    public let key: String
    public let type: TorchStorageType
    /// Elements of `type` the storage holds.
    public let count: Int

    init(key: String, type: TorchStorageType, count: Int) {
        self.key = key
        self.type = type
        self.count = count
    }
}

/// A tensor as `torch._utils._rebuild_tensor_v2` describes it: a strided view of a storage.
/// Several tensors may view one storage (tied weights, DeepSpeed's flat buffers).
public struct TorchTensorRef: Sendable {
    public let storage: TorchStorageRef
    /// In elements.
    public let offset: Int
    public let shape: [Int]
    /// In elements.
    public let strides: [Int]

    public var count: Int { shape.reduce(1, *) }

    /// Row-major with no gaps, so its bytes can be used as they lie in the storage.
    public var isContiguous: Bool {
        var expected = 1
        for (size, stride) in zip(shape, strides).reversed() where size != 1 {
            if stride != expected { return false }
            expected *= size
        }
        return true
    }

    /// Checks the view against its storage: sizes and strides are non-negative, their product
    /// does not overflow, and every element lies inside the storage. Returns the element count.
    func validatedCount() -> Result<Int, ViewProblem> {
        guard shape.count == strides.count else { return .failure(.rankMismatch) }
        guard offset >= 0, shape.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 }) else {
            return .failure(.negative)
        }
        var count = 1
        var last = offset
        for (size, stride) in zip(shape, strides) {
            let (product, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow else { return .failure(.tooLarge) }
            count = product
            if size > 0 {
                let (reach, o1) = (size - 1).multipliedReportingOverflow(by: stride)
                let (sum, o2) = last.addingReportingOverflow(reach)
                guard !o1, !o2 else { return .failure(.tooLarge) }
                last = sum
            }
        }
        if count > 0, last >= storage.count { return .failure(.outOfBounds(lastElement: last)) }
        return .success(count)
    }

    enum ViewProblem: Error {
        case rankMismatch, negative, tooLarge
        case outOfBounds(lastElement: Int)
    }

    /// Copies a strided view into `destination`, row-major. `source` is the storage's first byte.
    func gather(from source: UnsafeRawPointer, into destination: UnsafeMutableRawPointer, elementSize: Int) {
        switch elementSize {
        case 1: gather(UInt8.self, from: source, into: destination)
        case 2: gather(UInt16.self, from: source, into: destination)
        case 4: gather(UInt32.self, from: source, into: destination)
        case 8: gather(UInt64.self, from: source, into: destination)
        default:
            // Wider elements (complex128) are never converted; copy them byte by byte anyway.
            forEachRow { base, inner, innerStride, row in
                for i in 0..<inner {
                    (destination + (row * inner + i) * elementSize)
                        .copyMemory(from: source + (base + i * innerStride) * elementSize, byteCount: elementSize)
                }
            }
        }
    }

    private func gather<T>(_: T.Type, from source: UnsafeRawPointer, into destination: UnsafeMutableRawPointer) {
        let s = source.assumingMemoryBound(to: T.self)
        let d = destination.assumingMemoryBound(to: T.self)
        forEachRow { base, inner, innerStride, row in
            let out = d + row * inner
            for i in 0..<inner { out[i] = s[base + i * innerStride] }
        }
    }

    /// Calls `body(firstElement, innerCount, innerStride, rowIndex)` for each row of the last
    /// dimension, walking the outer dimensions like an odometer.
    private func forEachRow(_ body: (Int, Int, Int, Int) -> Void) {
        guard count > 0 else { return }
        guard let inner = shape.last, let innerStride = strides.last else {
            body(offset, 1, 1, 0)
            return
        }
        let outerShape = shape.dropLast()
        let outerStrides = Array(strides.dropLast())
        var index = [Int](repeating: 0, count: outerShape.count)
        var base = offset
        let rows = outerShape.reduce(1, *)
        for row in 0..<rows {
            body(base, inner, innerStride, row)
            var dim = outerShape.count - 1
            while dim >= 0 {
                index[dim] += 1
                base += outerStrides[dim]
                if index[dim] < outerShape[outerShape.startIndex + dim] { break }
                base -= outerStrides[dim] * index[dim]
                index[dim] = 0
                dim -= 1
            }
        }
    }
}
