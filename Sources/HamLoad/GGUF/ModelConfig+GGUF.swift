import HamCore

extension ModelConfig {
    /// The config of a GGUF model from its `llama.*` metadata (llama.cpp's `llm_load_hparams`
    /// for `LLM_ARCH_LLAMA`) and, where the metadata has no key for it, its tensors: tied
    /// embeddings when there is no `output.weight`, biases when layer 0 has them, Llama 3's RoPE
    /// scaling as the factors of `rope_freqs.weight`. Every error names the key or tensor.
    public init(gguf file: GGUFFile) throws {
        let path = file.path
        guard let architecture = try file.string("general.architecture") else {
            throw LoadError.missingField(path: path, field: "general.architecture")
        }
        guard architecture == "llama" else {
            throw LoadError.invalidField(path: path, field: "general.architecture", detail: "is '\(printable(architecture))'; hamrun runs 'llama' models")
        }
        let arch = architecture + "."
        func required(_ key: String) throws -> Int {
            guard let value = try file.integer(arch + key) else { throw LoadError.missingField(path: path, field: arch + key) }
            return value
        }
        func inRange(_ value: Int, _ range: ClosedRange<Int>, _ key: String) throws -> Int {
            guard range.contains(value) else {
                throw LoadError.invalidField(path: path, field: arch + key, detail: "is \(value); expected an integer in \(range.lowerBound)...\(range.upperBound)")
            }
            return value
        }

        let hidden = try inRange(try required("embedding_length"), Limits.hiddenSize, "embedding_length")
        let intermediate = try inRange(try required("feed_forward_length"), Limits.intermediateSize, "feed_forward_length")
        let layers = try inRange(try required("block_count"), Limits.layers, "block_count")
        let heads = try inRange(try required("attention.head_count"), Limits.heads, "attention.head_count")
        let kvHeads = try inRange(try file.integer(arch + "attention.head_count_kv") ?? heads, Limits.heads, "attention.head_count_kv")
        guard heads % kvHeads == 0 else {
            throw LoadError.invalidField(path: path, field: arch + "attention.head_count_kv", detail: "is \(kvHeads); expected a divisor of \(arch)attention.head_count (\(heads))")
        }
        let keyLength = try file.integer(arch + "attention.key_length")
        guard hidden % heads == 0 || keyLength != nil else {
            throw LoadError.invalidField(path: path, field: arch + "attention.head_count", detail: "is \(heads); expected a divisor of \(arch)embedding_length (\(hidden)) or an \(arch)attention.key_length")
        }
        let headDim = try inRange(keyLength ?? hidden / heads, Limits.headDim, "attention.key_length")
        if let valueLength = try file.integer(arch + "attention.value_length"), valueLength != headDim {
            throw LoadError.invalidField(path: path, field: arch + "attention.value_length", detail: "is \(valueLength); expected the key length \(headDim)")
        }
        guard headDim % 2 == 0 else {
            throw LoadError.invalidField(path: path, field: arch + "attention.key_length", detail: "is \(headDim); expected an even head size (RoPE rotates pairs)")
        }
        if let rotated = try file.integer(arch + "rope.dimension_count"), rotated != headDim {
            throw LoadError.invalidField(path: path, field: arch + "rope.dimension_count", detail: "is \(rotated); hamrun rotates whole heads (\(headDim))")
        }
        if let experts = try file.integer(arch + "expert_count"), experts > 0 {
            throw LoadError.invalidField(path: path, field: arch + "expert_count", detail: "is \(experts); hamrun runs dense Llama models, not mixtures of experts")
        }
        if let scaling = try file.string(arch + "rope.scaling.type"), scaling != "none" {
            throw LoadError.invalidField(path: path, field: arch + "rope.scaling.type", detail: "is '\(printable(scaling))'; hamrun supports 'none' and Llama 3's scaling through rope_freqs.weight")
        }

        let epsilonKey = arch + "attention.layer_norm_rms_epsilon"
        guard let epsilon = try file.number(epsilonKey) else { throw LoadError.missingField(path: path, field: epsilonKey) }
        guard epsilon.isFinite, Float(epsilon) > 0, Limits.rmsNormEps.contains(epsilon) else {
            throw LoadError.invalidField(path: path, field: epsilonKey, detail: "is \(epsilon); expected a number above 0 and at most 1")
        }
        let theta = try file.number(arch + "rope.freq_base") ?? 10000
        guard theta.isFinite, Limits.ropeTheta.contains(theta) else {
            throw LoadError.invalidField(path: path, field: arch + "rope.freq_base", detail: "is \(theta); expected a number above 1 and at most 1e12")
        }
        let context = try inRange(try required("context_length"), Limits.positions, "context_length")

        // The vocabulary's size: the metadata key, else the tokenizer's tokens, else the embedding.
        let embeddingRows = file.tensors["token_embd.weight"]?.shape.first
        let vocab = try inRange(try file.integer(arch + "vocab_size")
            ?? (try file.strings("tokenizer.ggml.tokens"))?.count
            ?? embeddingRows ?? 0, Limits.vocabSize, "vocab_size")

        let factors: [Float]?
        if file.tensors["rope_freqs.weight"] != nil {
            let tensor = try GGUFWeights(file: file).tensor("rope_freqs.weight", shape: [headDim / 2])
            guard tensor.dtype == .f32 else {
                throw LoadError.dtypeNotAllowed(path: path, tensor: "rope_freqs.weight", dtype: tensor.dtype.rawValue.uppercased(), expected: "F32")
            }
            let values = tensor.floats()
            guard values.allSatisfy({ $0.isFinite && $0 > 0 }) else {
                throw LoadError.malformed(path: path, detail: "tensor 'rope_freqs.weight' holds a value that is not a positive number")
            }
            factors = values
        } else {
            factors = nil
        }

        func present(_ layer: [String]) -> (all: Bool, any: Bool) {
            let found = layer.map { file.tensors["blk.0.\($0).bias"] != nil }
            return (found.allSatisfy { $0 }, found.contains(true))
        }
        let attentionBias = present(["attn_q", "attn_k", "attn_v", "attn_output"])
        let mlpBias = present(["ffn_gate", "ffn_up", "ffn_down"])
        guard attentionBias.all == attentionBias.any else {
            throw LoadError.malformed(path: path, detail: "layer 0 has biases on some of attn_q, attn_k, attn_v, attn_output but not all; hamrun needs all four or none")
        }
        guard mlpBias.all == mlpBias.any else {
            throw LoadError.malformed(path: path, detail: "layer 0 has biases on some of ffn_gate, ffn_up, ffn_down but not all; hamrun needs all three or none")
        }

        // Generation stops at any end-of-generation id: llama.cpp's EOS, EOT and EOM.
        var eos: [Int] = []
        for key in ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"] {
            if let id = try file.integer(key) {
                guard id >= 0, id < vocab else {
                    throw LoadError.invalidField(path: path, field: key, detail: "is \(id); expected a token id below \(vocab)")
                }
                if !eos.contains(id) { eos.append(id) }
            }
        }
        let bos = try file.integer("tokenizer.ggml.bos_token_id")
        if let bos, !(0..<vocab).contains(bos) {
            throw LoadError.invalidField(path: path, field: "tokenizer.ggml.bos_token_id", detail: "is \(bos); expected a token id below \(vocab)")
        }

        let config = ModelConfig(
            hiddenSize: hidden,
            intermediateSize: intermediate,
            numHiddenLayers: layers,
            numAttentionHeads: heads,
            numKeyValueHeads: kvHeads,
            headDim: headDim,
            vocabSize: vocab,
            rmsNormEps: Float(epsilon),
            ropeTheta: theta,
            ropeScaling: nil,
            tieWordEmbeddings: file.tensors["output.weight"] == nil,
            attentionBias: attentionBias.all,
            mlpBias: mlpBias.all,
            bosTokenId: bos,
            eosTokenIds: eos,
            maxPositionEmbeddings: context,
            hamburger: nil,
            ropePairing: .adjacent,
            ropeFrequencyFactors: factors)
        // The checks every config goes through (each value above was checked under its key).
        self = try config.validated(path: path)
    }
}
