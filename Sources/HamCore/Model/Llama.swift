/// The Llama base model, written once against `Backend`, stateless: the weights are shared and
/// immutable, and every call is handed the rows to run (from any number of sequences), their KV
/// caches and scratch.
public struct Llama<B: Backend> {
    public typealias T = Tensor<B.Buffer>

    public let backend: B
    public let config: ModelConfig
    public let weights: LlamaWeights<B>
    public let rope: RoPE
    let attentionScale: Float

    public init(config: ModelConfig, weights: LlamaWeights<B>, backend: B) {
        self.backend = backend
        self.config = config
        self.weights = weights
        rope = RoPE(config: config)
        attentionScale = 1 / Float(config.headDim).squareRoot()
    }

    /// The base model over the `n` rows of `x` (input embeddings, turned into hidden states in
    /// place). Row `i`'s key and value go to cache row `rows.slots[i]` of every layer, and it
    /// attends to what `rows.attention` says. Only the last `outputs` rows' hidden states are
    /// wanted: the last layer computes the others' keys and values only, and the final-norm outputs
    /// of the wanted rows go to `normed`. `features`, if given, receives the hidden states of the
    /// last `features.rows` rows after the feature layers (HAMburger's micro-step decoder input).
    public func forward(_ x: T, rows: RowLayout<B>, cache: LayerCache<B>, scratch: ForwardScratch<B>,
                        outputs: Int, normed: T, features: FeatureCapture<B>? = nil) {
        let n = x.rows, last = weights.layers.count - 1
        for (l, layer) in weights.layers.enumerated() {
            decoderLayer(layer, x: x, rows: rows, keys: cache.keys[l], values: cache.values[l], scratch: scratch,
                         pairing: config.ropePairing, wantedFrom: l == last ? n - outputs : 0)
            if let features, l != last {
                for (j, featureLayer) in features.layers.enumerated() where featureLayer == l {
                    backend.scatterRows(x.rows((n - features.rows)..<n), indices: features.targets[j], into: features.pool)
                }
            }
        }
        guard outputs > 0 else { return }
        let wanted = x.rows((n - outputs)..<n)
        backend.rmsNorm(wanted, weight: weights.finalNorm, eps: config.rmsNormEps, out: normed)
        if let features {
            // Hugging Face's last hidden state is the final-norm output.
            for (j, featureLayer) in features.layers.enumerated() where featureLayer == last {
                backend.scatterRows(normed.rows((outputs - features.rows)..<outputs), indices: features.targets[j], into: features.pool)
            }
        }
    }

    /// One Llama decoder layer over the rows of `x`, in place:
    ///     x += attention(rms_norm(x));  x += mlp(rms_norm(x))
    /// Every row's key and value go to its cache row; rows before `wantedFrom` stop there (nobody
    /// reads what the layer would make of them).
    public func decoderLayer(_ w: DecoderLayerWeights<B>, x: T, rows: RowLayout<B>, keys: T, values: T,
                             scratch s: ForwardScratch<B>, pairing: RoPEPairing, wantedFrom: Int = 0) {
        let c = config, n = x.rows, range = wantedFrom..<n, m = n - wantedFrom
        let h = s.h.rows(0..<n), k = s.k.rows(0..<n), v = s.v.rows(0..<n)
        let q = s.q.rows(0..<m), attn = s.attn.rows(0..<m), gate = s.gate.rows(0..<m), up = s.up.rows(0..<m)
        let wanted = rows.suffix(from: wantedFrom)

        backend.rmsNorm(x, weight: w.inputNorm, eps: c.rmsNormEps, out: h)
        backend.linear(h, weight: w.k, bias: w.kBias, out: k, accumulate: false)             // n × kvDim
        backend.linear(h, weight: w.v, bias: w.vBias, out: v, accumulate: false)
        backend.rope(k, heads: c.numKeyValueHeads, cos: rows.cos, sin: rows.sin, pairing: pairing)
        backend.scatterRows(k, indices: rows.slots, into: keys)                               // into the cache
        backend.scatterRows(v, indices: rows.slots, into: values)
        guard m > 0 else { return }
        backend.linear(h.rows(range), weight: w.q, bias: w.qBias, out: q, accumulate: false) // m × qDim
        backend.rope(q, heads: c.numAttentionHeads, cos: wanted.cos, sin: wanted.sin, pairing: pairing)
        backend.attention(q: q, keys: keys, values: values, heads: c.numAttentionHeads, kvHeads: c.numKeyValueHeads,
                          scale: attentionScale, layout: wanted.attention, out: attn)
        let xw = x.rows(range)
        backend.linear(attn, weight: w.o, bias: w.oBias, out: xw, accumulate: true)          // x += attention

        let hw = h.rows(range)
        backend.rmsNorm(xw, weight: w.postAttentionNorm, eps: c.rmsNormEps, out: hw)
        backend.linear(hw, weight: w.gate, bias: w.gateBias, out: gate, accumulate: false)   // m × ffn
        backend.linear(hw, weight: w.up, bias: w.upBias, out: up, accumulate: false)
        backend.siluMul(gate: gate, up: up, out: gate)
        backend.linear(gate, weight: w.down, bias: w.downBias, out: xw, accumulate: true)    // x += MLP
    }

    /// `logits = lm_head(hidden)` and their argmax (`-1` for a row that is not finite).
    public func lmHead(_ hidden: T, logits: T, tokens: T) {
        backend.linear(hidden, weight: weights.lmHead, bias: nil, out: logits, accumulate: false)
        backend.argmax(logits, out: tokens)
    }
}

/// Where the rows of one forward sit: their RoPE angles (host-computed for any positions), the
/// cache row each one's key and value go to, and what each one attends to.
public struct RowLayout<B: Backend> {
    public let cos, sin: Tensor<B.Buffer>
    /// `.i32`, one cache row per input row.
    public let slots: Tensor<B.Buffer>
    public let attention: AttentionLayout<B.Buffer>

    public init(cos: Tensor<B.Buffer>, sin: Tensor<B.Buffer>, slots: Tensor<B.Buffer>, attention: AttentionLayout<B.Buffer>) {
        self.cos = cos
        self.sin = sin
        self.slots = slots
        self.attention = attention
    }

    /// The same layout for rows `from...` only.
    func suffix(from: Int) -> RowLayout {
        guard from > 0 else { return self }
        let n = cos.rows
        return RowLayout(cos: cos.rows(from..<n), sin: sin.rows(from..<n), slots: slots.rows(from..<n),
                         attention: AttentionLayout(rows: attention.rows.rows(from..<n), blocks: attention.blocks,
                                                    blockSize: attention.blockSize))
    }
}

/// The keys and values of a stack of layers: one pool of cache rows per layer.
public struct LayerCache<B: Backend> {
    public let keys: [Tensor<B.Buffer>]
    public let values: [Tensor<B.Buffer>]

    public init(keys: [Tensor<B.Buffer>], values: [Tensor<B.Buffer>]) {
        self.keys = keys
        self.values = values
    }
}

/// Activations of a decoder layer for up to `rows` rows at a time.
public struct ForwardScratch<B: Backend> {
    public let h, q, k, v, attn, gate, up: Tensor<B.Buffer>

    public init(rows: Int, config c: ModelConfig, backend: B) throws {
        func f32(_ cols: Int) throws -> Tensor<B.Buffer> { try backend.allocate(rows: rows, cols: cols, dtype: .f32) }
        h = try f32(c.hiddenSize)
        q = try f32(c.qDim)
        k = try f32(c.kvDim)
        v = try f32(c.kvDim)
        attn = try f32(c.qDim)
        gate = try f32(c.intermediateSize)
        up = try f32(c.intermediateSize)
    }
}

/// Where a forward leaves the hidden states HAMburger's micro-step decoder reads: after each
/// feature layer, the last `rows` rows go to `pool` at the rows `targets[j]` lists.
public struct FeatureCapture<B: Backend> {
    public let layers: [Int]
    public let rows: Int
    public let targets: [Tensor<B.Buffer>]
    public let pool: Tensor<B.Buffer>

    public init(layers: [Int], rows: Int, targets: [Tensor<B.Buffer>], pool: Tensor<B.Buffer>) {
        self.layers = layers
        self.rows = rows
        self.targets = targets
        self.pool = pool
    }
}
