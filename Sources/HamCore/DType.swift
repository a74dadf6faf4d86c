public enum DType: String, Sendable { case f32, f16, bf16 }
