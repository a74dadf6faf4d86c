/// Element types a weight may be stored in. Activations, KV caches and logits are always `f32`;
/// weights keep the dtype they were stored in and are widened inside the kernels.
public enum DType: String, Sendable, Codable, CaseIterable {
    case f32, f16, bf16
    /// Token ids on a backend (embedding inputs, argmax outputs).
    case i32

    public var byteSize: Int {
        switch self {
        case .f32, .i32: 4
        case .f16, .bf16: 2
        }
    }

    /// The dtype names safetensors writes ("F32", "F16", "BF16", "I32").
    public init?(safetensorsName: String) {
        switch safetensorsName {
        case "F32": self = .f32
        case "F16": self = .f16
        case "BF16": self = .bf16
        case "I32": self = .i32
        default: return nil
        }
    }

    public var safetensorsName: String {
        switch self {
        case .f32: "F32"
        case .f16: "F16"
        case .bf16: "BF16"
        case .i32: "I32"
        }
    }
}
