/// The HAMburger model, written once against `Backend`: a Llama base model between a
/// compositional embedder and a micro-step decoder (Liu & Zhang 2025, "Accelerating LLM
/// Inference via Token Smashing").
///
/// - Macro step 0 is the prefill: the prompt's tokens, unmerged, at RoPE positions and KV slots
///   `0 ..< T`.
/// - Every later macro step feeds ONE input to the base model: the tokens the previous macro
///   step emitted, smashed into one embedding by the compositional embedder. It takes one KV
///   slot (the merged KV cache: slots grow by one per macro step, not per token) at the RoPE
///   position of the last of its tokens.
/// - After each base forward the micro-step decoder emits up to `max_steps` tokens from the
///   hidden states of a few base layers ("features"); the stop head says when to hand back.
///
/// Plain Llama models run through the same graph with `forward(tokens:)` one token at a time.
/// The graph only enqueues ops; the generator decides when to read results back.
public final class HAMburgerGraph<B: Backend> {
    public typealias T = Tensor<B.Buffer>

    public let backend: B
    public let config: ModelConfig
    public let hamburger: ModelConfig.HAMburgerConfig?
    let base: BaseWeights<B>
    let merger: MergerWeights<B>?
    let micro: MicroDecoderWeights<B>?
    let rope: RoPE
    let attentionScale: Float

    /// KV slots holding context, and RoPE position of the next token (= tokens of context).
    public private(set) var slotsUsed = 0
    public private(set) var position = 0

    // Base KV cache, one K and one V per layer: `capacity × kvHeads·headDim`.
    private var keys: [T] = []
    private var values: [T] = []
    private var capacity = 0

    // Activations for up to `chunk` rows at a time.
    private let chunk: Int
    private let x, h, q, attn, gate, up: T
    private let cos, sin: T
    private let inputIds: T
    private var hostCos: [Float] = []
    private var hostSin: [Float] = []

    /// Final-norm output of the last row of the latest forward, and the logits made from it.
    private let normed: T
    public let logits: T
    public let nextToken: T

    // Micro-step decoder state.
    private let features: T?
    private var microKeys: [T] = []
    private var microValues: [T] = []
    private let microX: T?
    private let microCos: T?, microSin: T?
    private let stopHidden1: T?, stopHidden2: T?, stopLogit: T?
    /// Stop probability and token of every micro step of the current macro step (`max_steps` rows).
    public let stopProbabilities: T?
    public let microTokens: T?

    // Compositional embedder scratch.
    private let stepEmbeddings, stepWithPositions, stepKeys, stepValues: T?
    private let stepMean, mergerQuery, mergerOut: T?

    /// `path` names the model in errors.
    public init(config c: ModelConfig, weights: WeightSource, path: String, backend: B, mode: GenerationMode, prefillChunk: Int = 128) throws {
        self.backend = backend
        config = c
        rope = RoPE(config: c)
        attentionScale = 1 / Float(c.headDim).squareRoot()
        base = try BaseWeights(config: c, store: weights, backend: backend)
        if mode == .hamburger {
            guard let hc = c.hamburger else { throw GenerationError.notHAMburger(path: path) }
            hamburger = hc
            merger = try MergerWeights(config: c, hamburger: hc, store: weights, backend: backend)
            micro = try MicroDecoderWeights(config: c, hamburger: hc, store: weights, backend: backend)
        } else {
            hamburger = nil
            merger = nil
            micro = nil
        }

        chunk = max(prefillChunk, (hamburger?.featureLayers.count ?? 0) + 1)
        let d = c.hiddenSize
        func f32(_ rows: Int, _ cols: Int) throws -> T { try backend.allocate(rows: rows, cols: cols, dtype: .f32) }
        x = try f32(chunk, d)
        h = try f32(chunk, d)
        q = try f32(chunk, c.qDim)
        attn = try f32(chunk, c.qDim)
        gate = try f32(chunk, c.intermediateSize)
        up = try f32(chunk, c.intermediateSize)
        cos = try f32(chunk, c.headDim / 2)
        sin = try f32(chunk, c.headDim / 2)
        inputIds = try backend.allocate(rows: chunk, cols: 1, dtype: .i32)
        normed = try f32(1, d)
        logits = try f32(1, c.vocabSize)
        nextToken = try backend.allocate(rows: 1, cols: 1, dtype: .i32)

        if let hc = hamburger {
            let nf = hc.featureLayers.count
            // Micro positions are 0 ..< nf + max_steps - 1: the features, then one per token.
            let microSlots = nf + hc.maxSteps - 1
            features = try f32(nf, d)
            microX = try f32(nf + 1, d)
            for _ in 0..<hc.numMicroLayers {
                microKeys.append(try f32(microSlots, c.kvDim))
                microValues.append(try f32(microSlots, c.kvDim))
            }
            var tableCos: [Float] = [], tableSin: [Float] = []
            rope.fill(positions: 0, count: microSlots, cos: &tableCos, sin: &tableSin)
            let mc = try f32(microSlots, c.headDim / 2), ms = try f32(microSlots, c.headDim / 2)
            backend.write(tableCos, to: mc)
            backend.write(tableSin, to: ms)
            microCos = mc
            microSin = ms
            stopHidden1 = try f32(1, d)
            stopHidden2 = try f32(1, d)
            stopLogit = try f32(1, 1)
            stopProbabilities = try f32(hc.maxSteps, 1)
            microTokens = try backend.allocate(rows: hc.maxSteps, cols: 1, dtype: .i32)
            stepEmbeddings = try f32(hc.maxSteps, d)
            stepWithPositions = try f32(hc.maxSteps, d + d / 2)
            stepKeys = try f32(hc.maxSteps, d)
            stepValues = try f32(hc.maxSteps, d)
            stepMean = try f32(1, d)
            mergerQuery = try f32(1, d)
            mergerOut = try f32(1, d)
        } else {
            features = nil; microX = nil; microCos = nil; microSin = nil
            stopHidden1 = nil; stopHidden2 = nil; stopLogit = nil
            stopProbabilities = nil; microTokens = nil
            stepEmbeddings = nil; stepWithPositions = nil; stepKeys = nil; stepValues = nil
            stepMean = nil; mergerQuery = nil; mergerOut = nil
        }
        try reserve(slots: 256)
        log.info("graph on \(backend.name): \(mode.rawValue), \(baseBytesPerForward >> 20) MiB of weights per base forward, \(microBytesPerStep >> 20) MiB per micro step")
    }

    /// Forgets the context (the KV cache is kept allocated).
    public func reset() {
        slotsUsed = 0
        position = 0
    }

    // MARK: Macro steps

    /// Feeds `tokens` unmerged, one KV slot each, at the next positions: macro step 0 (the
    /// prefill), a new chat turn, or one step of plain autoregressive decoding.
    public func forward(tokens: [Int32]) throws {
        var start = 0
        while start < tokens.count {
            let n = min(chunk, tokens.count - start)
            let ids = inputIds.rows(0..<n)
            backend.writeTokens(Array(tokens[start..<(start + n)]), to: ids)
            backend.embed(table: base.embedding, ids: ids, out: x.rows(0..<n))
            try baseForward(rows: n, positionStart: position)
            position += n
            start += n
        }
    }

    /// Macro step k ≥ 1: the tokens of the previous macro step, smashed into ONE input embedding
    /// by the compositional embedder, take ONE KV slot at the RoPE position of the last of them.
    public func forward(mergedStep tokens: [Int32]) throws {
        guard let hc = hamburger, (1...hc.maxSteps).contains(tokens.count) else {
            throw GenerationError.invalidStep(count: tokens.count)
        }
        compositionalEmbedding(tokens, out: x.row(0))
        try baseForward(rows: 1, positionStart: position + tokens.count - 1)
        position += tokens.count
    }

    /// The compositional embedder. One token: its plain embedding. S ≥ 2 tokens:
    ///     mean(E) + out_proj(merger(E)),  E = embeddings of the step's tokens (S × D),
    /// where the merger is a multi-head cross attention whose query is q_proj(mean(E)) and whose
    /// keys and values are k_proj / v_proj of [E, pos[:S]] (each embedding with its step position).
    private func compositionalEmbedding(_ tokens: [Int32], out: T) {
        let s = tokens.count
        let ids = inputIds.rows(0..<s)
        backend.writeTokens(tokens, to: ids)
        guard s > 1, let m = merger, let hc = hamburger,
              let e = stepEmbeddings?.rows(0..<s), let ep = stepWithPositions?.rows(0..<s),
              let k = stepKeys?.rows(0..<s), let v = stepValues?.rows(0..<s),
              let mean = stepMean, let query = mergerQuery, let merged = mergerOut else {
            backend.embed(table: base.embedding, ids: ids, out: out)
            return
        }
        backend.embed(table: base.embedding, ids: ids, out: e)                        // E: S × D
        backend.meanRows(e, out: mean)                                                // mean(E): 1 × D
        backend.linear(mean, weight: m.q, bias: m.qBias, out: query, accumulate: false)
        backend.concatColumns(e, m.positions.rows(0..<s), out: ep)                    // S × 3D/2
        backend.linear(ep, weight: m.k, bias: m.kBias, out: k, accumulate: false)
        backend.linear(ep, weight: m.v, bias: m.vBias, out: v, accumulate: false)
        let heads = hc.mergerHeads, headSize = config.hiddenSize / heads
        backend.attention(q: query, keys: k, values: v, heads: heads, kvHeads: heads,
                          scale: 1 / Float(headSize).squareRoot(), causal: false, out: merged)
        backend.copy(mean, to: out)
        backend.linear(merged, weight: m.out, bias: m.outBias, out: out, accumulate: true)
    }

    /// The base model over `rows` input embeddings in `x`, at the next KV slots and at positions
    /// `positionStart ..< positionStart + rows`. Leaves the final-norm output of the last row in
    /// `normed` and, for HAMburger, the micro-step decoder's features.
    private func baseForward(rows n: Int, positionStart: Int) throws {
        guard positionStart + n <= config.maxPositionEmbeddings else {
            throw GenerationError.contextFull(limit: config.maxPositionEmbeddings)
        }
        try reserve(slots: slotsUsed + n)
        rope.fill(positions: positionStart, count: n, cos: &hostCos, sin: &hostSin)
        backend.write(hostCos, to: cos.rows(0..<n))
        backend.write(hostSin, to: sin.rows(0..<n))
        let hidden = x.rows(0..<n)
        let last = base.layers.count - 1
        for (l, layer) in base.layers.enumerated() {
            decoderLayer(layer, x: hidden, keys: keys[l], values: values[l], slot: slotsUsed,
                         cos: cos.rows(0..<n), sin: sin.rows(0..<n), causal: true, pairing: config.ropePairing)
            if let hc = hamburger, let features, l != last {
                for (j, featureLayer) in hc.featureLayers.enumerated() where featureLayer == l {
                    backend.copy(hidden.row(n - 1), to: features.row(j))
                }
            }
        }
        backend.rmsNorm(hidden.row(n - 1), weight: base.finalNorm, eps: config.rmsNormEps, out: normed)
        if let hc = hamburger, let features {
            // Hugging Face's last hidden state is the final-norm output.
            for (j, featureLayer) in hc.featureLayers.enumerated() where featureLayer == last {
                backend.copy(normed, to: features.row(j))
            }
        }
        slotsUsed += n
    }

    /// One Llama decoder layer over the rows of `x`, in place. Their K and V go to cache slots
    /// `slot ..< slot + n`, and they attend to slots `0 ..< slot + n` (`causal`: each row only to
    /// the rows before it). `pairing`: the base layers' is the config's (a GGUF's q/k rows are
    /// permuted for adjacent pairs); the micro-step decoder's layers are Hugging Face's, `.halves`.
    private func decoderLayer(_ w: DecoderLayerWeights<B>, x: T, keys: T, values: T, slot: Int, cos: T, sin: T, causal: Bool, pairing: RoPEPairing) {
        let n = x.rows, c = config
        let h = self.h.rows(0..<n), q = self.q.rows(0..<n), attn = self.attn.rows(0..<n)
        let gate = self.gate.rows(0..<n), up = self.up.rows(0..<n)
        let newKeys = keys.rows(slot..<(slot + n)), newValues = values.rows(slot..<(slot + n))

        backend.rmsNorm(x, weight: w.inputNorm, eps: c.rmsNormEps, out: h)
        backend.linear(h, weight: w.q, bias: w.qBias, out: q, accumulate: false)
        backend.linear(h, weight: w.k, bias: w.kBias, out: newKeys, accumulate: false)
        backend.linear(h, weight: w.v, bias: w.vBias, out: newValues, accumulate: false)
        backend.rope(q, heads: c.numAttentionHeads, cos: cos, sin: sin, pairing: pairing)
        backend.rope(newKeys, heads: c.numKeyValueHeads, cos: cos, sin: sin, pairing: pairing)
        backend.attention(q: q, keys: keys.rows(0..<(slot + n)), values: values.rows(0..<(slot + n)),
                          heads: c.numAttentionHeads, kvHeads: c.numKeyValueHeads, scale: attentionScale,
                          causal: causal, out: attn)
        backend.linear(attn, weight: w.o, bias: w.oBias, out: x, accumulate: true)      // x += attention

        backend.rmsNorm(x, weight: w.postAttentionNorm, eps: c.rmsNormEps, out: h)
        backend.linear(h, weight: w.gate, bias: w.gateBias, out: gate, accumulate: false)
        backend.linear(h, weight: w.up, bias: w.upBias, out: up, accumulate: false)
        backend.siluMul(gate: gate, up: up, out: gate)
        backend.linear(gate, weight: w.down, bias: w.downBias, out: x, accumulate: true) // x += MLP
    }

    // MARK: Next token of the base model

    /// The base model's next token after the latest forward: `logits` = lm_head of the
    /// final-norm output, and its argmax in `nextToken`.
    public func baseNextToken() {
        backend.linear(normed, weight: base.lmHead, bias: nil, out: logits, accumulate: false)
        backend.argmax(logits, out: nextToken)
    }

    // MARK: Micro steps

    /// Micro step `i` of the current macro step: its logits (in `logits`), its stop probability
    /// (row `i` of `stopProbabilities`) and its greedy token (row `i` of `microTokens`).
    /// Micro step 0 reads the last feature (the final-norm output): its token is exactly the base
    /// model's next token. Micro step 1 runs the micro-step decoder's layers over the features
    /// followed by the embedding of token 0 (positions 0 … nf), and each later micro step over the
    /// embedding of the previous token alone, against the decoder's own small KV cache. Its output
    /// goes to `lm_head` without a final norm. The rows of micro step 1 see each other fully or
    /// causally as `hamburger.micro_attention` says (the reference fixtures: fully).
    public func microStep(_ i: Int) {
        guard let hc = hamburger, let micro, let features, let microX, let microCos, let microSin,
              let microTokens, let stopProbabilities else { return }
        precondition(i < hc.maxSteps, "micro step \(i) beyond max_steps \(hc.maxSteps)")
        let nf = hc.featureLayers.count
        let output: T
        if i == 0 {
            output = features.row(nf - 1)
        } else {
            let rows: Int, slot: Int
            if i == 1 {
                rows = nf + 1
                slot = 0
                backend.copy(features, to: microX.rows(0..<nf))
                backend.embed(table: base.embedding, ids: microTokens.row(0), out: microX.row(nf))
            } else {
                rows = 1
                slot = nf + i - 1
                backend.embed(table: base.embedding, ids: microTokens.row(i - 1), out: microX.row(0))
            }
            let hidden = microX.rows(0..<rows)
            for (j, layer) in micro.layers.enumerated() {
                decoderLayer(layer, x: hidden, keys: microKeys[j], values: microValues[j], slot: slot,
                             cos: microCos.rows(slot..<(slot + rows)), sin: microSin.rows(slot..<(slot + rows)),
                             causal: hc.microAttention == .causal, pairing: .halves)
            }
            output = hidden.row(rows - 1)
        }
        backend.linear(output, weight: base.lmHead, bias: nil, out: logits, accumulate: false)
        stopHead(output, out: stopProbabilities.row(i))
        backend.argmax(logits, out: microTokens.row(i))
    }

    /// sigmoid(Linear → SiLU → Linear → SiLU → Linear(→ 1)).
    private func stopHead(_ hidden: T, out: T) {
        guard let m = micro, let s1 = stopHidden1, let s2 = stopHidden2, let logit = stopLogit else { return }
        backend.linear(hidden, weight: m.stop1, bias: m.stop1Bias, out: s1, accumulate: false)
        backend.silu(s1, out: s1)
        backend.linear(s1, weight: m.stop2, bias: m.stop2Bias, out: s2, accumulate: false)
        backend.silu(s2, out: s2)
        backend.linear(s2, weight: m.stop3, bias: m.stop3Bias, out: logit, accumulate: false)
        backend.sigmoid(logit, out: out)
    }

    /// Replaces the greedy token of micro step `i` with a sampled one.
    public func setMicroToken(_ i: Int, _ token: Int32) {
        guard let microTokens else { return }
        backend.writeTokens([token], to: microTokens.row(i))
    }

    // MARK: KV cache

    /// Grows the base KV cache (geometrically, copying what it holds) to at least `slots`.
    private func reserve(slots: Int) throws {
        guard slots > capacity else { return }
        let newCapacity = min(max(slots, capacity * 2), max(slots, config.maxPositionEmbeddings))
        var newKeys: [T] = [], newValues: [T] = []
        for l in 0..<config.numHiddenLayers {
            let k = try backend.allocate(rows: newCapacity, cols: config.kvDim, dtype: .f32)
            let v = try backend.allocate(rows: newCapacity, cols: config.kvDim, dtype: .f32)
            if slotsUsed > 0 {
                backend.copy(keys[l].rows(0..<slotsUsed), to: k.rows(0..<slotsUsed))
                backend.copy(values[l].rows(0..<slotsUsed), to: v.rows(0..<slotsUsed))
            }
            newKeys.append(k)
            newValues.append(v)
        }
        keys = newKeys
        values = newValues
        capacity = newCapacity
        log.debug("KV cache: \(newCapacity) slots per layer (\(kvCacheBytes >> 20) MiB with the micro-step decoder's)")
    }

    /// Bytes of weights one base forward reads (all layers, final norm, lm_head), and one micro
    /// step ≥ 1 reads (micro layers, stop head, lm_head): what decode speed is bounded by.
    public var baseBytesPerForward: Int {
        base.layers.reduce(0) { $0 + $1.byteCount } + base.finalNorm.byteCount + base.lmHead.byteCount
    }

    public var microBytesPerStep: Int {
        guard let micro else { return 0 }
        return micro.layers.reduce(0) { $0 + $1.byteCount } + base.lmHead.byteCount + stopHeadBytes
    }

    /// Bytes of the stop head, which micro step 0 reads too.
    public var stopHeadBytes: Int {
        guard let m = micro else { return 0 }
        return [m.stop1, m.stop1Bias, m.stop2, m.stop2Bias, m.stop3, m.stop3Bias].reduce(0) { $0 + $1.byteCount }
    }

    /// Bytes the compositional embedder reads to merge a step of two or more tokens.
    public var mergerBytes: Int {
        guard let m = merger else { return 0 }
        return [m.positions, m.q, m.qBias, m.k, m.kBias, m.v, m.vBias, m.out, m.outBias].reduce(0) { $0 + $1.byteCount }
    }

    /// Memory the KV caches hold now.
    public var kvCacheBytes: Int {
        (keys + values + microKeys + microValues).reduce(0) { $0 + $1.byteCount }
    }
}

/// Which graph a generation runs.
public enum GenerationMode: String, Sendable, CaseIterable {
    /// HAMburger: macro steps with merged inputs and micro steps.
    case hamburger
    /// Plain autoregressive decoding of the base model: one token and one KV slot per forward.
    case base
}
