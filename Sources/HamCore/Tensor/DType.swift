import CHamKernels

/// Element types a weight may be stored in. Activations, KV caches and logits are always `f32`;
/// weights keep the dtype they were stored in and are widened inside the kernels.
public enum DType: String, Sendable, Codable, CaseIterable {
    case f32, f16, bf16
    /// 8-bit blocks (`hamrun quantize`): every 32 elements of a row are one f16 scale `d` and 32
    /// signed bytes `q`, element = `d · q` (llama.cpp's Q8_0 layout, 34 bytes per block).
    case q8_0
    /// Token ids on a backend (embedding inputs, argmax outputs).
    case i32
    /// Raw bytes: how safetensors holds packed q8_0 blocks (kernels never see it).
    case u8

    /// Elements stored together in one block (1 for plain element types).
    public var blockElements: Int { self == .q8_0 ? 32 : 1 }

    /// Bytes of one block.
    public var blockBytes: Int {
        switch self {
        case .f32, .i32: 4
        case .f16, .bf16: 2
        case .q8_0: 34
        case .u8: 1
        }
    }

    /// Bytes of `elements` elements (a whole number of blocks).
    @inline(__always)
    public func bytes(_ elements: Int) -> Int { elements / blockElements * blockBytes }

    /// The dtype names safetensors writes ("F32", "F16", "BF16", "I32", "U8").
    public init?(safetensorsName: String) {
        switch safetensorsName {
        case "F32": self = .f32
        case "F16": self = .f16
        case "BF16": self = .bf16
        case "I32": self = .i32
        case "U8": self = .u8
        default: return nil
        }
    }

    /// q8_0 is written as U8 bytes (see `WeightStore`).
    public var safetensorsName: String {
        switch self {
        case .f32: "F32"
        case .f16: "F16"
        case .bf16: "BF16"
        case .i32: "I32"
        case .u8, .q8_0: "U8"
        }
    }
}

extension DType {
    /// The C kernels' code for this dtype (`enum ham_dtype`). Token ids and raw bytes never
    /// reach a kernel as weights; they map to f32 only so that the table is total.
    public var kernelCode: Int32 {
        switch self {
        case .f32, .i32, .u8: Int32(HAM_F32.rawValue)
        case .f16: Int32(HAM_F16.rawValue)
        case .bf16: Int32(HAM_BF16.rawValue)
        case .q8_0: Int32(HAM_Q8_0.rawValue)
        }
    }
}
