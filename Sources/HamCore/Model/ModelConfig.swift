/// `config.json`: the Hugging Face `LlamaConfig` fields hamrun reads, plus the `hamburger`
/// object of a HAMburger model (docs/MODEL_FORMAT.md).
public struct ModelConfig: Sendable, Equatable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int
    public var headDim: Int
    public var vocabSize: Int
    public var rmsNormEps: Float
    public var ropeTheta: Double
    public var ropeScaling: RoPEScaling?
    public var tieWordEmbeddings: Bool
    public var attentionBias: Bool
    public var mlpBias: Bool
    public var bosTokenId: Int?
    public var eosTokenIds: [Int]
    public var maxPositionEmbeddings: Int
    public var hamburger: HAMburgerConfig?
    /// How the base model's q and k rows pair up for RoPE: `.halves` for Hugging Face weights,
    /// `.adjacent` for a GGUF's (its converter permuted the rows). The micro-step decoder's
    /// layers are always Hugging Face's.
    public var ropePairing: RoPEPairing
    /// Per-frequency divisors from a GGUF's `rope_freqs.weight` (headDim/2 values): how llama.cpp
    /// stores Llama 3's long-context scaling. Exclusive with `ropeScaling`.
    public var ropeFrequencyFactors: [Float]?

    public init(hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int, numAttentionHeads: Int,
                numKeyValueHeads: Int, headDim: Int, vocabSize: Int, rmsNormEps: Float, ropeTheta: Double,
                ropeScaling: RoPEScaling?, tieWordEmbeddings: Bool, attentionBias: Bool, mlpBias: Bool,
                bosTokenId: Int?, eosTokenIds: [Int], maxPositionEmbeddings: Int, hamburger: HAMburgerConfig?,
                ropePairing: RoPEPairing = .halves, ropeFrequencyFactors: [Float]? = nil) {
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.numKeyValueHeads = numKeyValueHeads
        self.headDim = headDim
        self.vocabSize = vocabSize
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.ropeScaling = ropeScaling
        self.tieWordEmbeddings = tieWordEmbeddings
        self.attentionBias = attentionBias
        self.mlpBias = mlpBias
        self.bosTokenId = bosTokenId
        self.eosTokenIds = eosTokenIds
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.hamburger = hamburger
        self.ropePairing = ropePairing
        self.ropeFrequencyFactors = ropeFrequencyFactors
    }

    public struct RoPEScaling: Sendable, Equatable {
        public var factor: Double
        public var lowFreqFactor: Double
        public var highFreqFactor: Double
        public var originalMaxPositionEmbeddings: Int

        public init(factor: Double, lowFreqFactor: Double, highFreqFactor: Double, originalMaxPositionEmbeddings: Int) {
            self.factor = factor
            self.lowFreqFactor = lowFreqFactor
            self.highFreqFactor = highFreqFactor
            self.originalMaxPositionEmbeddings = originalMaxPositionEmbeddings
        }
    }

    public struct HAMburgerConfig: Sendable, Equatable {
        /// Most tokens a macro step emits.
        public var maxSteps = 4
        /// Llama layers in the micro-step decoder.
        public var numMicroLayers = 4
        /// Base layers whose outputs feed the micro-step decoder.
        public var featureLayers = [3, 7, 11, 15]
        /// Heads of the compositional embedder's cross attention.
        public var mergerHeads = 64
        /// The model's recommended stop confidence.
        public var confidence: Double?

        public init() {}
    }

    /// The authors' generation config stops a macro step when `1 - p_stop < 0.9`.
    public static let defaultConfidence = 0.9

    public var qDim: Int { numAttentionHeads * headDim }
    public var kvDim: Int { numKeyValueHeads * headDim }
}
