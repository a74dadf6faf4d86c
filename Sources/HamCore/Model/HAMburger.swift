/// HAMburger (Liu & Zhang 2025, "Accelerating LLM Inference via Token Smashing"): a Llama base
/// model between a compositional embedder and a micro-step decoder, written once against
/// `Backend` and stateless like `Llama`.
///
/// - Macro step 0 is the prefill: the prompt's tokens, unmerged, at RoPE positions and KV slots
///   `0 ..< T`.
/// - Every later macro step feeds ONE input to the base model: the tokens the previous macro step
///   emitted, smashed into one embedding by the compositional embedder. It takes ONE KV slot (the
///   merged KV cache grows by one slot per macro step, not per token) at the RoPE position of the
///   last of its tokens.
/// - After each base forward the micro-step decoder emits up to `max_steps` tokens from the
///   hidden states of a few base layers (the features); the stop head says when to hand back.
///   Micro step 0 reads the last feature (the final-norm output), so its token is exactly the base
///   model's next token. Micro step 1 runs the decoder's layers over the features followed by
///   token 0's embedding (RoPE positions 0 … nf), each later micro step over the previous token's
///   embedding alone, against the decoder's own small KV cache. All of these rows attend causally,
///   as the authors' FlashAttention-2 computes them with no mask. The decoder's output goes to
///   `lm_head` without a final norm, and to the stop head.
public struct HAMburger<B: Backend> {
    public typealias T = Tensor<B.Buffer>

    public let base: Llama<B>
    public let config: ModelConfig.HAMburgerConfig
    public let merger: MergerWeights<B>
    public let micro: MicroDecoderWeights<B>

    public init(base: Llama<B>, source: WeightSource) throws {
        guard let h = base.config.hamburger else { throw GenerationError.notHAMburger(path: source.sourcePath) }
        let load = WeightUploader(source: source, backend: base.backend)
        self.base = base
        config = h
        merger = try MergerWeights(MergerSchema(config: base.config, hamburger: h), load)
        micro = try MicroDecoderWeights(MicroDecoderSchema(config: base.config, hamburger: h), load)
    }

    var backend: B { base.backend }

    /// The compositional embedder over several steps at once (one per sequence whose previous
    /// macro step had S ≥ 2 tokens):
    ///     mean(E) + out_proj(merger(E)),  E = embeddings of the step's tokens (S × D),
    /// where the merger is a multi-head cross attention whose query is q_proj(mean(E)) and whose
    /// keys and values are k_proj / v_proj of [E, pos[:S]] (each embedding with its step
    /// position). Step `m`'s tokens sit at rows `m · max_steps ..< m · max_steps + S_m` of the
    /// inputs; its smashed embedding goes to row `m` of `out`.
    public func smash(_ steps: MergeInputs<B>, scratch s: MergeScratch<B>, out: T) {
        let count = steps.segments.rows, padded = count * config.maxSteps
        let e = s.embeddings.rows(0..<padded), p = s.positions.rows(0..<padded)
        let ep = s.withPositions.rows(0..<padded), k = s.keys.rows(0..<padded), v = s.values.rows(0..<padded)
        let mean = s.mean.rows(0..<count), query = s.query.rows(0..<count), merged = s.merged.rows(0..<count)

        backend.embed(table: base.weights.embedding, ids: steps.tokens, out: e)          // E: S × D per step
        backend.meanRows(e, segments: steps.segments, out: mean)                          // mean(E): 1 × D per step
        backend.linear(mean, weight: merger.q, bias: merger.qBias, out: query, accumulate: false)
        backend.embed(table: merger.positions, ids: steps.positions, out: p)              // pos[:S]
        backend.concatColumns(e, p, out: ep)                                              // S × 3D/2
        backend.linear(ep, weight: merger.k, bias: merger.kBias, out: k, accumulate: false)
        backend.linear(ep, weight: merger.v, bias: merger.vBias, out: v, accumulate: false)
        let heads = config.mergerHeads, headSize = base.config.hiddenSize / heads
        backend.attention(q: query, keys: k, values: v, heads: heads, kvHeads: heads,
                          scale: 1 / Float(headSize).squareRoot(), layout: steps.attention, out: merged)
        backend.copy(mean, to: out)
        backend.linear(merged, weight: merger.out, bias: merger.outBias, out: out, accumulate: true)
    }

    /// Micro steps ≥ 1 of several sequences at once: the decoder's layers over the rows of `x`
    /// (features and token embeddings, in place), each row's key and value into the micro KV
    /// cache. The last `outputs` rows are the tokens' rows, whose outputs are wanted.
    public func microDecoder(_ x: T, rows: RowLayout<B>, cache: LayerCache<B>, scratch: ForwardScratch<B>, outputs: Int) {
        let last = micro.layers.count - 1
        for (j, layer) in micro.layers.enumerated() {
            // The decoder's layers are trained in PyTorch in Hugging Face's layout.
            base.decoderLayer(layer, x: x, rows: rows, keys: cache.keys[j], values: cache.values[j], scratch: scratch,
                              pairing: .halves, wantedFrom: j == last ? x.rows - outputs : 0)
        }
    }

    /// The stop head: sigmoid(Linear → SiLU → Linear → SiLU → Linear(→ 1)) of each row.
    public func stopHead(_ hidden: T, scratch s: StopHeadScratch<B>, out: T) {
        let n = hidden.rows
        let h1 = s.hidden1.rows(0..<n), h2 = s.hidden2.rows(0..<n)
        backend.linear(hidden, weight: micro.stop1, bias: micro.stop1Bias, out: h1, accumulate: false)
        backend.silu(h1, out: h1)
        backend.linear(h1, weight: micro.stop2, bias: micro.stop2Bias, out: h2, accumulate: false)
        backend.silu(h2, out: h2)
        backend.linear(h2, weight: micro.stop3, bias: micro.stop3Bias, out: out, accumulate: false)
        backend.sigmoid(out, out: out)
    }

    /// Bytes of weights one micro step ≥ 1 reads (its layers, the stop head, lm_head), and what
    /// micro step 0 adds to a base forward (the stop head).
    public var bytesPerMicroStep: Int { micro.layerBytes + micro.stopHeadBytes + base.weights.lmHead.byteCount }
    public var stopHeadBytes: Int { micro.stopHeadBytes }
    /// Bytes the compositional embedder reads to merge a step of two or more tokens.
    public var mergerBytes: Int { merger.byteCount }
}

/// The steps one `smash` merges: `tokens` and `positions` hold `max_steps` ids per step (unused
/// ones are any valid id), `segments` the `[first row, S]` of each, `attention` step `m`'s query
/// row over its own S key rows.
public struct MergeInputs<B: Backend> {
    public let tokens, positions, segments: Tensor<B.Buffer>
    public let attention: AttentionLayout<B.Buffer>

    public init(tokens: Tensor<B.Buffer>, positions: Tensor<B.Buffer>, segments: Tensor<B.Buffer>, attention: AttentionLayout<B.Buffer>) {
        self.tokens = tokens
        self.positions = positions
        self.segments = segments
        self.attention = attention
    }
}

/// Activations of the compositional embedder for up to `steps` steps at a time.
public struct MergeScratch<B: Backend> {
    public let embeddings, positions, withPositions, keys, values, mean, query, merged: Tensor<B.Buffer>

    public init(steps: Int, config c: ModelConfig, hamburger h: ModelConfig.HAMburgerConfig, backend: B) throws {
        let d = c.hiddenSize, rows = steps * h.maxSteps
        func f32(_ rows: Int, _ cols: Int) throws -> Tensor<B.Buffer> { try backend.allocate(rows: rows, cols: cols, dtype: .f32) }
        embeddings = try f32(rows, d)
        positions = try f32(rows, d / 2)
        withPositions = try f32(rows, d + d / 2)
        keys = try f32(rows, d)
        values = try f32(rows, d)
        mean = try f32(steps, d)
        query = try f32(steps, d)
        merged = try f32(steps, d)
    }
}

/// Activations of the stop head.
public struct StopHeadScratch<B: Backend> {
    public let hidden1, hidden2: Tensor<B.Buffer>

    public init(rows: Int, config c: ModelConfig, backend: B) throws {
        hidden1 = try backend.allocate(rows: rows, cols: c.hiddenSize, dtype: .f32)
        hidden2 = try backend.allocate(rows: rows, cols: c.hiddenSize, dtype: .f32)
    }
}
