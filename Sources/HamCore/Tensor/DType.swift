import CHamKernels

/// Element types a weight may be stored in. Activations, KV caches and logits are always `f32`;
/// weights keep the dtype they were stored in and are decoded inside the kernels. The block
/// types are llama.cpp's, named as it names them; their codes and layouts are defined once, in
/// CHamKernels' `ham_dtype.h`, which the C kernels and the Vulkan shaders include too.
public enum DType: String, Sendable, Codable, CaseIterable {
    case f32, f16, bf16
    /// 32 elements a block: an f16 scale `d` and 32 signed bytes, element = `d · q` (34 bytes).
    case q8_0
    /// 32 elements a block: `d` and 16 bytes of nibbles, element = `d · (q - 8)` (18 bytes).
    case q4_0
    /// 32 elements a block: `d`, `m` and 16 bytes of nibbles, element = `d · q + m` (20 bytes).
    case q4_1
    /// 32 elements a block: `d`, 32 fifth bits and 16 bytes of nibbles, element = `d · (q - 16)`
    /// (22 bytes).
    case q5_0
    /// 32 elements a block: `d`, `m`, fifth bits and nibbles, element = `d · q + m` (24 bytes).
    case q5_1
    /// 256 elements a super-block: eight sub-blocks of 32 with 6-bit scales and mins, 4-bit
    /// quants (144 bytes, 4.5 bits an element).
    case q4_k
    /// As `q4_k` with a fifth bit per quant (176 bytes, 5.5 bits an element).
    case q5_k
    /// 256 elements a super-block: sixteen sub-blocks of 16 with 8-bit scales, 6-bit quants
    /// (210 bytes, 6.5625 bits an element).
    case q6_k
    /// Token ids on a backend (embedding inputs, argmax outputs).
    case i32
    /// Raw bytes: how safetensors holds packed blocks (kernels never see it).
    case u8

    /// The block types.
    public static let quantized: [DType] = [.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_k, .q5_k, .q6_k]

    public var isQuantized: Bool { blockElements > 1 }

    /// Elements stored together in one block (1 for plain element types).
    public var blockElements: Int {
        switch self {
        case .f32, .f16, .bf16, .i32, .u8: 1
        case .q8_0, .q4_0, .q4_1, .q5_0, .q5_1: Int(HAM_QK)
        case .q4_k, .q5_k, .q6_k: Int(HAM_QK_K)
        }
    }

    /// Bytes of one block.
    public var blockBytes: Int {
        switch self {
        case .f32, .i32: 4
        case .f16, .bf16: 2
        case .q8_0: Int(HAM_Q8_0_BYTES)
        case .q4_0: Int(HAM_Q4_0_BYTES)
        case .q4_1: Int(HAM_Q4_1_BYTES)
        case .q5_0: Int(HAM_Q5_0_BYTES)
        case .q5_1: Int(HAM_Q5_1_BYTES)
        case .q4_k: Int(HAM_Q4_K_BYTES)
        case .q5_k: Int(HAM_Q5_K_BYTES)
        case .q6_k: Int(HAM_Q6_K_BYTES)
        case .u8: 1
        }
    }

    /// Byte offset of the f16 scale `d` in a block whose size is not a whole number of 32-bit
    /// words (q8_0, q4_0, q5_0, q6_k); nil for the others. The Vulkan backend moves that scale out of
    /// the block so that the rest starts on a word.
    public var unalignedScaleOffset: Int? {
        switch self {
        case .q8_0: Int(HAM_Q8_0_D_OFFSET)
        case .q4_0: Int(HAM_Q4_0_D_OFFSET)
        case .q5_0: Int(HAM_Q5_0_D_OFFSET)
        case .q6_k: Int(HAM_Q6_K_D_OFFSET)
        default: nil
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

    /// Block types are written as U8 bytes (see `WeightStore`).
    public var safetensorsName: String {
        switch self {
        case .f32: "F32"
        case .f16: "F16"
        case .bf16: "BF16"
        case .i32: "I32"
        case .u8, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_k, .q5_k, .q6_k: "U8"
        }
    }
}

extension DType {
    /// The kernels' code for this dtype (`ham_dtype.h`). Token ids and raw bytes never reach a
    /// kernel as weights; they map to f32 only so that the table is total.
    public var kernelCode: Int32 {
        switch self {
        case .f32, .i32, .u8: HAM_F32
        case .f16: HAM_F16
        case .bf16: HAM_BF16
        case .q8_0: HAM_Q8_0
        case .q4_0: HAM_Q4_0
        case .q4_1: HAM_Q4_1
        case .q5_0: HAM_Q5_0
        case .q5_1: HAM_Q5_1
        case .q4_k: HAM_Q4_K
        case .q5_k: HAM_Q5_K
        case .q6_k: HAM_Q6_K
        }
    }
}
