/// Every tensor a model holds, each named once (the Hugging Face / HAMburger authors' names) with
/// its shape and role. The weight loader, the converter's layout check, the quantizer and the
/// random-model writer all read this; nothing else spells a tensor name.
public struct TensorSpec: Sendable, Equatable {
    public enum Role: Sendable, Equatable {
        /// A norm's gain (initialized to ones).
        case gain
        /// A bias vector.
        case bias
        /// The matrix of a linear layer, `[out, in]`.
        case matrix
        /// A table whose rows are looked up: the token embedding, the merger's step positions.
        case table
    }

    public let name: String
    public let shape: [Int]
    public let role: Role

    public init(_ name: String, _ shape: [Int], _ role: Role) {
        self.name = name
        self.shape = shape
        self.role = role
    }
}

/// One Llama decoder layer: the base model's and the micro-step decoder's are alike.
public struct DecoderLayerSchema: Sendable {
    public let inputNorm, q, k, v, o: TensorSpec
    public let qBias, kBias, vBias, oBias: TensorSpec?
    public let postAttentionNorm, gate, up, down: TensorSpec
    public let gateBias, upBias, downBias: TensorSpec?

    public init(prefix p: String, config c: ModelConfig) {
        let d = c.hiddenSize, f = c.intermediateSize
        func bias(_ name: String, _ size: Int, _ present: Bool) -> TensorSpec? {
            present ? TensorSpec(p + name, [size], .bias) : nil
        }
        inputNorm = TensorSpec(p + "input_layernorm.weight", [d], .gain)
        q = TensorSpec(p + "self_attn.q_proj.weight", [c.qDim, d], .matrix)
        k = TensorSpec(p + "self_attn.k_proj.weight", [c.kvDim, d], .matrix)
        v = TensorSpec(p + "self_attn.v_proj.weight", [c.kvDim, d], .matrix)
        o = TensorSpec(p + "self_attn.o_proj.weight", [d, c.qDim], .matrix)
        qBias = bias("self_attn.q_proj.bias", c.qDim, c.attentionBias)
        kBias = bias("self_attn.k_proj.bias", c.kvDim, c.attentionBias)
        vBias = bias("self_attn.v_proj.bias", c.kvDim, c.attentionBias)
        oBias = bias("self_attn.o_proj.bias", d, c.attentionBias)
        postAttentionNorm = TensorSpec(p + "post_attention_layernorm.weight", [d], .gain)
        gate = TensorSpec(p + "mlp.gate_proj.weight", [f, d], .matrix)
        up = TensorSpec(p + "mlp.up_proj.weight", [f, d], .matrix)
        down = TensorSpec(p + "mlp.down_proj.weight", [d, f], .matrix)
        gateBias = bias("mlp.gate_proj.bias", f, c.mlpBias)
        upBias = bias("mlp.up_proj.bias", f, c.mlpBias)
        downBias = bias("mlp.down_proj.bias", d, c.mlpBias)
    }

    public var all: [TensorSpec] {
        [inputNorm, q, k, v, o].compactMap { $0 } + [qBias, kBias, vBias, oBias].compactMap { $0 }
            + [postAttentionNorm, gate, up, down] + [gateBias, upBias, downBias].compactMap { $0 }
    }
}

/// The base Llama model.
public struct LlamaSchema: Sendable {
    public let embedding: TensorSpec
    public let layers: [DecoderLayerSchema]
    public let finalNorm: TensorSpec
    /// `lm_head.weight`: a model with tied embeddings may omit it (the embedding is the head).
    public let lmHead: TensorSpec
    public let lmHeadRequired: Bool

    public init(config c: ModelConfig) {
        embedding = TensorSpec("model.embed_tokens.weight", [c.vocabSize, c.hiddenSize], .table)
        layers = (0..<c.numHiddenLayers).map { DecoderLayerSchema(prefix: "model.layers.\($0).", config: c) }
        finalNorm = TensorSpec("model.norm.weight", [c.hiddenSize], .gain)
        lmHead = TensorSpec("lm_head.weight", [c.vocabSize, c.hiddenSize], .matrix)
        lmHeadRequired = !c.tieWordEmbeddings
    }

    /// The tensors a model directory must hold, in model order.
    public var all: [TensorSpec] {
        [embedding] + layers.flatMap(\.all) + [finalNorm] + (lmHeadRequired ? [lmHead] : [])
    }
}

/// The compositional embedder: an attention merger over the step's token embeddings (each with a
/// learned step position) and an output projection.
public struct MergerSchema: Sendable {
    public let positions: TensorSpec
    public let q, qBias, k, kBias, v, vBias, out, outBias: TensorSpec

    public init(config c: ModelConfig, hamburger h: ModelConfig.HAMburgerConfig) {
        let d = c.hiddenSize, withPositions = d + d / 2
        positions = TensorSpec("comp_embedder.merger.pos", [h.maxSteps, d / 2], .table)
        q = TensorSpec("comp_embedder.merger.q_proj.weight", [d, d], .matrix)
        qBias = TensorSpec("comp_embedder.merger.q_proj.bias", [d], .bias)
        k = TensorSpec("comp_embedder.merger.k_proj.weight", [d, withPositions], .matrix)
        kBias = TensorSpec("comp_embedder.merger.k_proj.bias", [d], .bias)
        v = TensorSpec("comp_embedder.merger.v_proj.weight", [d, withPositions], .matrix)
        vBias = TensorSpec("comp_embedder.merger.v_proj.bias", [d], .bias)
        out = TensorSpec("comp_embedder.out_proj.weight", [d, d], .matrix)
        outBias = TensorSpec("comp_embedder.out_proj.bias", [d], .bias)
    }

    public var all: [TensorSpec] { [positions, q, qBias, k, kBias, v, vBias, out, outBias] }
}

/// The micro-step decoder: Llama layers of the base's shape and the stop head
/// (Linear(D, D) → SiLU → Linear(D, D) → SiLU → Linear(D, 1)).
public struct MicroDecoderSchema: Sendable {
    public let layers: [DecoderLayerSchema]
    public let stop1, stop1Bias, stop2, stop2Bias, stop3, stop3Bias: TensorSpec

    public init(config c: ModelConfig, hamburger h: ModelConfig.HAMburgerConfig) {
        let d = c.hiddenSize
        layers = (0..<h.numMicroLayers).map { DecoderLayerSchema(prefix: "micro_step_decoder.decoders.\($0).", config: c) }
        stop1 = TensorSpec("micro_step_decoder.stop_head.0.weight", [d, d], .matrix)
        stop1Bias = TensorSpec("micro_step_decoder.stop_head.0.bias", [d], .bias)
        stop2 = TensorSpec("micro_step_decoder.stop_head.2.weight", [d, d], .matrix)
        stop2Bias = TensorSpec("micro_step_decoder.stop_head.2.bias", [d], .bias)
        stop3 = TensorSpec("micro_step_decoder.stop_head.4.weight", [1, d], .matrix)
        stop3Bias = TensorSpec("micro_step_decoder.stop_head.4.bias", [1], .bias)
    }

    public var stopHead: [TensorSpec] { [stop1, stop1Bias, stop2, stop2Bias, stop3, stop3Bias] }
    public var all: [TensorSpec] { layers.flatMap(\.all) + stopHead }
}

/// All tensors of a model: the base, and the HAMburger modules when its config has them.
public struct ModelSchema: Sendable {
    public let base: LlamaSchema
    public let merger: MergerSchema?
    public let micro: MicroDecoderSchema?

    public init(config: ModelConfig) {
        base = LlamaSchema(config: config)
        merger = config.hamburger.map { MergerSchema(config: config, hamburger: $0) }
        micro = config.hamburger.map { MicroDecoderSchema(config: config, hamburger: $0) }
    }

    /// Every tensor a model directory of this config must hold, in model order.
    public var all: [TensorSpec] { base.all + (merger?.all ?? []) + (micro?.all ?? []) }
}
