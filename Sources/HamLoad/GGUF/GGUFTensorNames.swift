/// llama.cpp's tensor names for the Llama architecture (`LLM_TENSOR_NAMES`) and the Hugging Face
/// names the model code asks for: `blk.N.attn_q.weight` is `model.layers.N.self_attn.q_proj.weight`.
enum GGUFTensorNames {
    private static let global: [(gguf: String, hf: String)] = [
        ("token_embd", "model.embed_tokens"),
        ("output_norm", "model.norm"),
        ("output", "lm_head"),
    ]

    private static let layer: [(gguf: String, hf: String)] = [
        ("attn_norm", "input_layernorm"),
        ("attn_q", "self_attn.q_proj"),
        ("attn_k", "self_attn.k_proj"),
        ("attn_v", "self_attn.v_proj"),
        ("attn_output", "self_attn.o_proj"),
        ("ffn_norm", "post_attention_layernorm"),
        ("ffn_gate", "mlp.gate_proj"),
        ("ffn_up", "mlp.up_proj"),
        ("ffn_down", "mlp.down_proj"),
    ]

    private static let suffixes = [".weight", ".bias"]

    /// The Hugging Face name of a GGUF tensor, or nil for one without a counterpart
    /// (`rope_freqs.weight`, other architectures' tensors).
    static func huggingFace(_ name: String) -> String? {
        guard let suffix = suffixes.first(where: name.hasSuffix) else { return nil }
        let stem = name.dropLast(suffix.count)
        if let match = global.first(where: { $0.gguf == stem }) { return match.hf + suffix }
        let parts = stem.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "blk", let index = Int(parts[1]), index >= 0, String(index) == parts[1],
              let match = layer.first(where: { $0.gguf == parts[2] }) else { return nil }
        return "model.layers.\(index).\(match.hf)\(suffix)"
    }

    /// The GGUF name of a Hugging Face base-model tensor, or nil for one a GGUF does not hold
    /// (the HAMburger modules).
    static func gguf(_ name: String) -> String? {
        guard let suffix = suffixes.first(where: name.hasSuffix) else { return nil }
        let stem = name.dropLast(suffix.count)
        if let match = global.first(where: { $0.hf == stem }) { return match.gguf + suffix }
        let prefix = "model.layers."
        guard stem.hasPrefix(prefix) else { return nil }
        let rest = stem.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."), let index = Int(rest[..<dot]), index >= 0, String(index) == rest[..<dot],
              let match = layer.first(where: { $0.hf == rest[rest.index(after: dot)...] }) else { return nil }
        return "blk.\(index).\(match.gguf)\(suffix)"
    }
}
