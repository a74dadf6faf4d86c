/// Every tensor a model directory must hold for its config, with its shape (docs/MODEL_FORMAT.md),
/// in model order. It mirrors what `Weights.swift` loads, so a directory that passes this check
/// also loads; the converter checks a checkpoint against it before writing anything.
public enum TensorLayout {
    public static func expected(for c: ModelConfig) -> [(name: String, shape: [Int])] {
        var list: [(name: String, shape: [Int])] = []
        let d = c.hiddenSize
        list.append(("model.embed_tokens.weight", [c.vocabSize, d]))
        for l in 0..<c.numHiddenLayers {
            list += decoderLayer(prefix: "model.layers.\(l).", config: c)
        }
        list.append(("model.norm.weight", [d]))
        if !c.tieWordEmbeddings {
            list.append(("lm_head.weight", [c.vocabSize, d]))
        }
        guard let h = c.hamburger else { return list }

        let withPositions = d + d / 2
        list += [
            ("comp_embedder.merger.pos", [h.maxSteps, d / 2]),
            ("comp_embedder.merger.q_proj.weight", [d, d]),
            ("comp_embedder.merger.q_proj.bias", [d]),
            ("comp_embedder.merger.k_proj.weight", [d, withPositions]),
            ("comp_embedder.merger.k_proj.bias", [d]),
            ("comp_embedder.merger.v_proj.weight", [d, withPositions]),
            ("comp_embedder.merger.v_proj.bias", [d]),
            ("comp_embedder.out_proj.weight", [d, d]),
            ("comp_embedder.out_proj.bias", [d]),
        ]
        for j in 0..<h.numMicroLayers {
            list += decoderLayer(prefix: "micro_step_decoder.decoders.\(j).", config: c)
        }
        list += [
            ("micro_step_decoder.stop_head.0.weight", [d, d]),
            ("micro_step_decoder.stop_head.0.bias", [d]),
            ("micro_step_decoder.stop_head.2.weight", [d, d]),
            ("micro_step_decoder.stop_head.2.bias", [d]),
            ("micro_step_decoder.stop_head.4.weight", [1, d]),
            ("micro_step_decoder.stop_head.4.bias", [1]),
        ]
        return list
    }

    /// One Llama decoder layer; the micro-step decoder's layers are built from the same config.
    static func decoderLayer(prefix: String, config c: ModelConfig) -> [(name: String, shape: [Int])] {
        let d = c.hiddenSize, f = c.intermediateSize
        var list: [(name: String, shape: [Int])] = [
            (prefix + "input_layernorm.weight", [d]),
            (prefix + "self_attn.q_proj.weight", [c.qDim, d]),
            (prefix + "self_attn.k_proj.weight", [c.kvDim, d]),
            (prefix + "self_attn.v_proj.weight", [c.kvDim, d]),
            (prefix + "self_attn.o_proj.weight", [d, c.qDim]),
        ]
        if c.attentionBias {
            list += [
                (prefix + "self_attn.q_proj.bias", [c.qDim]),
                (prefix + "self_attn.k_proj.bias", [c.kvDim]),
                (prefix + "self_attn.v_proj.bias", [c.kvDim]),
                (prefix + "self_attn.o_proj.bias", [d]),
            ]
        }
        list += [
            (prefix + "post_attention_layernorm.weight", [d]),
            (prefix + "mlp.gate_proj.weight", [f, d]),
            (prefix + "mlp.up_proj.weight", [f, d]),
            (prefix + "mlp.down_proj.weight", [d, f]),
        ]
        if c.mlpBias {
            list += [
                (prefix + "mlp.gate_proj.bias", [f]),
                (prefix + "mlp.up_proj.bias", [f]),
                (prefix + "mlp.down_proj.bias", [d]),
            ]
        }
        return list
    }
}
