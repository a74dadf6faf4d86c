/// The model's weights on a backend, in their stored dtypes, checked name by name and shape by
/// shape against the config (the first missing or mismatched tensor is the error).

/// One Llama decoder layer: the base model's and the micro-step decoder's are alike.
public struct DecoderLayerWeights<B: Backend> {
    public let inputNorm: Tensor<B.Buffer>
    public let q, k, v, o: Tensor<B.Buffer>
    public let qBias, kBias, vBias, oBias: Tensor<B.Buffer>?
    public let postAttentionNorm: Tensor<B.Buffer>
    public let gate, up, down: Tensor<B.Buffer>
    public let gateBias, upBias, downBias: Tensor<B.Buffer>?

    init(prefix: String, config c: ModelConfig, store: WeightSource, backend: B) throws {
        func load(_ name: String, _ shape: [Int]) throws -> Tensor<B.Buffer> {
            try backend.upload(try store.tensor(prefix + name, shape: shape))
        }
        func bias(_ name: String, _ size: Int, _ present: Bool) throws -> Tensor<B.Buffer>? {
            present ? try load(name, [size]) : nil
        }
        let d = c.hiddenSize, f = c.intermediateSize
        inputNorm = try load("input_layernorm.weight", [d])
        q = try load("self_attn.q_proj.weight", [c.qDim, d])
        k = try load("self_attn.k_proj.weight", [c.kvDim, d])
        v = try load("self_attn.v_proj.weight", [c.kvDim, d])
        o = try load("self_attn.o_proj.weight", [d, c.qDim])
        qBias = try bias("self_attn.q_proj.bias", c.qDim, c.attentionBias)
        kBias = try bias("self_attn.k_proj.bias", c.kvDim, c.attentionBias)
        vBias = try bias("self_attn.v_proj.bias", c.kvDim, c.attentionBias)
        oBias = try bias("self_attn.o_proj.bias", d, c.attentionBias)
        postAttentionNorm = try load("post_attention_layernorm.weight", [d])
        gate = try load("mlp.gate_proj.weight", [f, d])
        up = try load("mlp.up_proj.weight", [f, d])
        down = try load("mlp.down_proj.weight", [d, f])
        gateBias = try bias("mlp.gate_proj.bias", f, c.mlpBias)
        upBias = try bias("mlp.up_proj.bias", f, c.mlpBias)
        downBias = try bias("mlp.down_proj.bias", d, c.mlpBias)
    }

    /// Bytes a forward pass over this layer reads from its weights.
    var byteCount: Int {
        [inputNorm, q, k, v, o, postAttentionNorm, gate, up, down].reduce(0) { $0 + $1.byteCount }
            + [qBias, kBias, vBias, oBias, gateBias, upBias, downBias].reduce(0) { $0 + ($1?.byteCount ?? 0) }
    }
}

/// The base Llama model.
public struct BaseWeights<B: Backend> {
    public let embedding: Tensor<B.Buffer>
    public let layers: [DecoderLayerWeights<B>]
    public let finalNorm: Tensor<B.Buffer>
    /// `lm_head.weight`, or the embedding when the embeddings are tied.
    public let lmHead: Tensor<B.Buffer>

    init(config c: ModelConfig, store: WeightSource, backend: B) throws {
        embedding = try backend.upload(try store.tensor("model.embed_tokens.weight", shape: [c.vocabSize, c.hiddenSize]))
        layers = try (0..<c.numHiddenLayers).map {
            try DecoderLayerWeights(prefix: "model.layers.\($0).", config: c, store: store, backend: backend)
        }
        finalNorm = try backend.upload(try store.tensor("model.norm.weight", shape: [c.hiddenSize]))
        if c.tieWordEmbeddings && !store.contains("lm_head.weight") {
            lmHead = embedding
        } else {
            lmHead = try backend.upload(try store.tensor("lm_head.weight", shape: [c.vocabSize, c.hiddenSize]))
        }
    }
}

/// The compositional embedder's attention merger and output projection.
public struct MergerWeights<B: Backend> {
    /// Learned step-position vectors concatenated to each token's embedding: `S × D/2`.
    public let positions: Tensor<B.Buffer>
    public let q, qBias, k, kBias, v, vBias: Tensor<B.Buffer>
    public let out, outBias: Tensor<B.Buffer>

    init(config c: ModelConfig, hamburger h: ModelConfig.HAMburgerConfig, store: WeightSource, backend: B) throws {
        func load(_ name: String, _ shape: [Int]) throws -> Tensor<B.Buffer> {
            try backend.upload(try store.tensor(name, shape: shape))
        }
        let d = c.hiddenSize, withPositions = d + d / 2
        positions = try load("comp_embedder.merger.pos", [h.maxSteps, d / 2])
        q = try load("comp_embedder.merger.q_proj.weight", [d, d])
        qBias = try load("comp_embedder.merger.q_proj.bias", [d])
        k = try load("comp_embedder.merger.k_proj.weight", [d, withPositions])
        kBias = try load("comp_embedder.merger.k_proj.bias", [d])
        v = try load("comp_embedder.merger.v_proj.weight", [d, withPositions])
        vBias = try load("comp_embedder.merger.v_proj.bias", [d])
        out = try load("comp_embedder.out_proj.weight", [d, d])
        outBias = try load("comp_embedder.out_proj.bias", [d])
    }
}

/// The micro-step decoder: its Llama layers and the stop head.
public struct MicroDecoderWeights<B: Backend> {
    public let layers: [DecoderLayerWeights<B>]
    /// Linear(D, D) → SiLU → Linear(D, D) → SiLU → Linear(D, 1).
    public let stop1, stop1Bias, stop2, stop2Bias, stop3, stop3Bias: Tensor<B.Buffer>

    init(config c: ModelConfig, hamburger h: ModelConfig.HAMburgerConfig, store: WeightSource, backend: B) throws {
        func load(_ name: String, _ shape: [Int]) throws -> Tensor<B.Buffer> {
            try backend.upload(try store.tensor(name, shape: shape))
        }
        let d = c.hiddenSize
        layers = try (0..<h.numMicroLayers).map {
            try DecoderLayerWeights(prefix: "micro_step_decoder.decoders.\($0).", config: c, store: store, backend: backend)
        }
        stop1 = try load("micro_step_decoder.stop_head.0.weight", [d, d])
        stop1Bias = try load("micro_step_decoder.stop_head.0.bias", [d])
        stop2 = try load("micro_step_decoder.stop_head.2.weight", [d, d])
        stop2Bias = try load("micro_step_decoder.stop_head.2.bias", [d])
        stop3 = try load("micro_step_decoder.stop_head.4.weight", [1, d])
        stop3Bias = try load("micro_step_decoder.stop_head.4.bias", [1])
    }
}
