import HamCore

/// Which dtype each tensor of a model gets under `hamrun quantize --type` (docs/MODEL_FORMAT.md,
/// "Quantized weights"). The block types follow llama.cpp's choices for its files of the same
/// name, so that `--type q4_k` is what its Q4_K_M is:
///
/// - the output matrix (`lm_head`, or the embedding when they are tied) is q6_k: every token's
///   logits go through it, and llama.cpp keeps it in Q6_K in all of these types;
/// - under q4_k and q5_k, `v_proj` and `down_proj` of the first and last eighth of the layers
///   and of every third layer between are q6_k (llama.cpp's `use_more_bits`), in the base model
///   and in the micro-step decoder alike, each counting its own layers;
/// - the HAMburger merger and stop head are q8_0: 2 % of the parameters, and the stop head's
///   probability is compared with the confidence at every micro step;
/// - a matrix whose rows are not whole blocks of its type falls back as llama.cpp's does: q4_k to
///   q5_0, q5_k to q5_1, q6_k to q8_0; one with rows of no whole 32-element block keeps its dtype;
/// - norm gains, biases and the merger's step positions (added, not multiplied) keep theirs.
///
/// The float targets narrow instead: every f32, f16 or bf16 tensor becomes bf16 or f16.
/// Tensors already of a block type are kept as they are under every target: quantizing twice
/// would lose twice.
public struct QuantizationPlan: Sendable {
    public let target: DType
    let layers: Int
    let microLayers: Int
    let tiedEmbeddings: Bool

    /// The `--type` values.
    public static let targets: [DType] = [.q8_0, .q6_k, .q5_k, .q5_1, .q5_0, .q4_k, .q4_1, .q4_0, .bf16, .f16]

    public init?(target: DType, config: ModelConfig) {
        guard Self.targets.contains(target) else { return nil }
        self.target = target
        layers = config.numHiddenLayers
        microLayers = config.hamburger?.numMicroLayers ?? 0
        tiedEmbeddings = config.tieWordEmbeddings
    }

    /// The dtype tensor `name` (stored as `tensor`) is written in.
    public func dtype(for name: String, tensor: HostTensor) -> DType {
        if tensor.dtype.isQuantized || tensor.dtype == .i32 || tensor.dtype == .u8 { return tensor.dtype }
        guard target.isQuantized else { return target }
        guard name.hasSuffix(".weight"), tensor.shape.count == 2 else { return tensor.dtype }
        let wanted: DType
        if name == "lm_head.weight" || (tiedEmbeddings && name == "model.embed_tokens.weight") {
            wanted = target == .q8_0 ? .q8_0 : .q6_k
        } else if name.hasPrefix("comp_embedder.") || name.hasPrefix("micro_step_decoder.stop_head.") {
            wanted = .q8_0
        } else if (target == .q4_k || target == .q5_k) && moreBits(name) {
            wanted = .q6_k
        } else {
            wanted = target
        }
        for candidate in [wanted] + Self.fallbacks(wanted) where tensor.canStore(as: candidate) {
            return candidate
        }
        return tensor.dtype
    }

    static func fallbacks(_ dtype: DType) -> [DType] {
        switch dtype {
        case .q4_k: [.q5_0]
        case .q5_k: [.q5_1]
        case .q6_k: [.q8_0]
        default: []
        }
    }

    /// `v_proj` or `down_proj` of a layer llama.cpp gives more bits: the first and last eighth,
    /// and every third layer between.
    func moreBits(_ name: String) -> Bool {
        guard name.hasSuffix(".self_attn.v_proj.weight") || name.hasSuffix(".mlp.down_proj.weight") else { return false }
        for (prefix, count) in [("model.layers.", layers), ("micro_step_decoder.decoders.", microLayers)] where name.hasPrefix(prefix) {
            guard let layer = Int(name.dropFirst(prefix.count).prefix { $0 != "." }) else { return false }
            return layer < count / 8 || layer >= 7 * count / 8 || (layer - count / 8) % 3 == 2
        }
        return false
    }
}
