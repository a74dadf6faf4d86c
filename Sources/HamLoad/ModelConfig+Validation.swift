import HamCore

extension ModelConfig {
    /// The values hamrun accepts. Far beyond any real model, and small enough that sizes
    /// computed from them cannot overflow or ask for absurd allocations. One table for every
    /// reader: config.json's parser and `validated(path:)`, which GGUF metadata goes through too.
    public enum Limits {
        public static let hiddenSize = 1...65536
        public static let intermediateSize = 1...(1 << 20)
        public static let layers = 1...1024
        public static let heads = 1...1024
        public static let headDim = 2...4096
        public static let vocabSize = 1...(1 << 24)
        public static let positions = 1...(1 << 24)
        public static let tokenId = 0...(1 << 24) - 1
        public static let maxSteps = 1...64
        public static let microLayers = 1...256
        /// `rms_norm_eps`: above 0 (the norm divides by its root), at most 1.
        public static let rmsNormEps: ClosedRange<Double> = Double.leastNonzeroMagnitude...1
        /// `rope_theta`: above 1 (the frequencies are its negative powers), at most 10^12.
        public static let ropeTheta: ClosedRange<Double> = 1.0.nextUp...1e12
        public static let ropeFactor: ClosedRange<Double> = Double.leastNonzeroMagnitude...1e6
    }

    /// This config if every value makes sense together, else a `LoadError` naming the field as
    /// config.json calls it, its value and what was expected. Config readers (config.json, GGUF
    /// metadata) call it after filling a `ModelConfig`; `path` names the file in messages.
    ///
    /// It catches what would otherwise run and print garbage with exit code 0: a norm epsilon
    /// of 0 or a negative RoPE base (NaN flows through every layer), sizes that do not divide,
    /// HAMburger layers that do not exist.
    public func validated(path: String) throws -> ModelConfig {
        func fail(_ field: String, _ value: Any, _ expected: String) -> LoadError {
            .invalidField(path: path, field: field, detail: "is \(value); expected \(expected)")
        }
        func check(_ value: Int, _ range: ClosedRange<Int>, _ field: String) throws {
            guard range.contains(value) else { throw fail(field, value, "an integer in \(range.lowerBound)...\(range.upperBound)") }
        }
        func check(_ value: Double, _ range: ClosedRange<Double>, _ field: String, _ expected: String) throws {
            guard value.isFinite, range.contains(value) else { throw fail(field, value, expected) }
        }

        try check(hiddenSize, Limits.hiddenSize, "hidden_size")
        try check(intermediateSize, Limits.intermediateSize, "intermediate_size")
        try check(numHiddenLayers, Limits.layers, "num_hidden_layers")
        try check(numAttentionHeads, Limits.heads, "num_attention_heads")
        try check(numKeyValueHeads, Limits.heads, "num_key_value_heads")
        try check(vocabSize, Limits.vocabSize, "vocab_size")
        try check(maxPositionEmbeddings, Limits.positions, "max_position_embeddings")
        guard numAttentionHeads % numKeyValueHeads == 0 else {
            throw fail("num_key_value_heads", numKeyValueHeads, "a divisor of num_attention_heads (\(numAttentionHeads))")
        }
        guard Limits.headDim.contains(headDim), headDim % 2 == 0 else {
            throw fail("head_dim", headDim, "an even integer in \(Limits.headDim.lowerBound)...\(Limits.headDim.upperBound) (RoPE rotates pairs)")
        }
        // Checked as the float32 the norm adds: a positive 1e-60 is 0 there.
        guard rmsNormEps.isFinite, rmsNormEps > 0, Double(rmsNormEps) <= Limits.rmsNormEps.upperBound else {
            throw fail("rms_norm_eps", "\(rmsNormEps) in float32", "a number above 0 and at most 1")
        }
        try check(ropeTheta, Limits.ropeTheta, "rope_theta", "a number above 1 and at most 1e12")
        if let bosTokenId { try check(bosTokenId, Limits.tokenId, "bos_token_id") }
        for (i, id) in eosTokenIds.enumerated() {
            try check(id, Limits.tokenId, eosTokenIds.count == 1 ? "eos_token_id" : "eos_token_id[\(i)]")
        }

        if let s = ropeScaling {
            try check(s.factor, Limits.ropeFactor, "rope_scaling.factor", "a number above 0 and at most 1e6")
            try check(s.lowFreqFactor, Limits.ropeFactor, "rope_scaling.low_freq_factor", "a number above 0 and at most 1e6")
            try check(s.highFreqFactor, Limits.ropeFactor, "rope_scaling.high_freq_factor", "a number above 0 and at most 1e6")
            guard s.highFreqFactor > s.lowFreqFactor else {
                throw fail("rope_scaling.high_freq_factor", s.highFreqFactor, "a number above low_freq_factor (\(s.lowFreqFactor))")
            }
            try check(s.originalMaxPositionEmbeddings, Limits.positions, "rope_scaling.original_max_position_embeddings")
        }

        if let h = hamburger {
            try check(h.maxSteps, Limits.maxSteps, "hamburger.max_steps")
            try check(h.numMicroLayers, Limits.microLayers, "hamburger.num_micro_layers")
            guard !h.featureLayers.isEmpty, h.featureLayers.allSatisfy({ $0 >= 0 && $0 < numHiddenLayers }) else {
                throw fail("hamburger.feature_layers", h.featureLayers, "a non-empty list of layer indices in 0..<\(numHiddenLayers)")
            }
            guard (1...hiddenSize).contains(h.mergerHeads), hiddenSize % 2 == 0, hiddenSize % h.mergerHeads == 0 else {
                throw fail("hamburger.merger_heads", h.mergerHeads, "a divisor of hidden_size (\(hiddenSize))")
            }
            if let c = h.confidence { try check(c, 0...1, "hamburger.confidence", "a number in [0, 1]") }
        }
        return self
    }
}
