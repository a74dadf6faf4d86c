/// Which two elements of a head a RoPE frequency rotates together.
///
/// Hugging Face Llama pairs element `j` with `j + headDim/2` (`halves`). llama.cpp's converter
/// permutes the rows of `q_proj` and `k_proj` so that its rotation of adjacent elements `2j`,
/// `2j + 1` (`adjacent`) computes the same thing: the permuted q and k differ from Hugging Face's
/// by one permutation inside every head, applied to both, so every q·k, and the attention, is
/// the same. A GGUF's weights are therefore used as stored, with `adjacent`.
public enum RoPEPairing: Int32, Sendable, Equatable {
    case halves = 0
    case adjacent = 1
}
