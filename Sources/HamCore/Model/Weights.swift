/// The model's weights on a backend, in their stored dtypes, uploaded once and shared by every
/// sequence (they are immutable). Each tensor is asked of the `WeightSource` by its schema entry,
/// so a missing or misshapen tensor is an error naming it.

/// Uploads schema entries from a source.
struct WeightUploader<B: Backend> {
    let source: WeightSource
    let backend: B

    func callAsFunction(_ spec: TensorSpec) throws -> Tensor<B.Buffer> {
        try backend.upload(try source.tensor(spec.name, shape: spec.shape))
    }

    func callAsFunction(_ spec: TensorSpec?) throws -> Tensor<B.Buffer>? {
        try spec.map { try self($0) }
    }
}

/// One Llama decoder layer: the base model's and the micro-step decoder's are alike.
public struct DecoderLayerWeights<B: Backend> {
    public let inputNorm: Tensor<B.Buffer>
    public let q, k, v, o: Tensor<B.Buffer>
    public let qBias, kBias, vBias, oBias: Tensor<B.Buffer>?
    public let postAttentionNorm: Tensor<B.Buffer>
    public let gate, up, down: Tensor<B.Buffer>
    public let gateBias, upBias, downBias: Tensor<B.Buffer>?

    init(_ s: DecoderLayerSchema, _ load: WeightUploader<B>) throws {
        inputNorm = try load(s.inputNorm)
        q = try load(s.q)
        k = try load(s.k)
        v = try load(s.v)
        o = try load(s.o)
        qBias = try load(s.qBias)
        kBias = try load(s.kBias)
        vBias = try load(s.vBias)
        oBias = try load(s.oBias)
        postAttentionNorm = try load(s.postAttentionNorm)
        gate = try load(s.gate)
        up = try load(s.up)
        down = try load(s.down)
        gateBias = try load(s.gateBias)
        upBias = try load(s.upBias)
        downBias = try load(s.downBias)
    }

    /// Bytes a forward pass over this layer reads from its weights.
    var byteCount: Int {
        [inputNorm, q, k, v, o, postAttentionNorm, gate, up, down].reduce(0) { $0 + $1.byteCount }
            + [qBias, kBias, vBias, oBias, gateBias, upBias, downBias].reduce(0) { $0 + ($1?.byteCount ?? 0) }
    }
}

/// The base Llama model.
public struct LlamaWeights<B: Backend> {
    public let embedding: Tensor<B.Buffer>
    public let layers: [DecoderLayerWeights<B>]
    public let finalNorm: Tensor<B.Buffer>
    /// `lm_head.weight`, or the embedding when the embeddings are tied and the file has no head.
    public let lmHead: Tensor<B.Buffer>

    public init(config: ModelConfig, source: WeightSource, backend: B) throws {
        let s = LlamaSchema(config: config), load = WeightUploader(source: source, backend: backend)
        embedding = try load(s.embedding)
        layers = try s.layers.map { try DecoderLayerWeights($0, load) }
        finalNorm = try load(s.finalNorm)
        lmHead = s.lmHeadRequired || source.contains(s.lmHead.name) ? try load(s.lmHead) : embedding
    }

    /// Bytes of weights one base forward reads (all layers, the final norm, lm_head).
    public var bytesPerForward: Int {
        layers.reduce(0) { $0 + $1.byteCount } + finalNorm.byteCount + lmHead.byteCount
    }
}

/// The compositional embedder's attention merger and output projection.
public struct MergerWeights<B: Backend> {
    /// Learned step-position vectors concatenated to each token's embedding: `max_steps × D/2`.
    public let positions: Tensor<B.Buffer>
    public let q, qBias, k, kBias, v, vBias: Tensor<B.Buffer>
    public let out, outBias: Tensor<B.Buffer>

    init(_ s: MergerSchema, _ load: WeightUploader<B>) throws {
        positions = try load(s.positions)
        q = try load(s.q)
        qBias = try load(s.qBias)
        k = try load(s.k)
        kBias = try load(s.kBias)
        v = try load(s.v)
        vBias = try load(s.vBias)
        out = try load(s.out)
        outBias = try load(s.outBias)
    }

    var byteCount: Int { [positions, q, qBias, k, kBias, v, vBias, out, outBias].reduce(0) { $0 + $1.byteCount } }
}

/// The micro-step decoder: its Llama layers and the stop head.
public struct MicroDecoderWeights<B: Backend> {
    public let layers: [DecoderLayerWeights<B>]
    /// Linear(D, D) → SiLU → Linear(D, D) → SiLU → Linear(D, 1).
    public let stop1, stop1Bias, stop2, stop2Bias, stop3, stop3Bias: Tensor<B.Buffer>

    init(_ s: MicroDecoderSchema, _ load: WeightUploader<B>) throws {
        layers = try s.layers.map { try DecoderLayerWeights($0, load) }
        stop1 = try load(s.stop1)
        stop1Bias = try load(s.stop1Bias)
        stop2 = try load(s.stop2)
        stop2Bias = try load(s.stop2Bias)
        stop3 = try load(s.stop3)
        stop3Bias = try load(s.stop3Bias)
    }

    var stopHeadBytes: Int { [stop1, stop1Bias, stop2, stop2Bias, stop3, stop3Bias].reduce(0) { $0 + $1.byteCount } }
    var layerBytes: Int { layers.reduce(0) { $0 + $1.byteCount } }
}
