/// How much one engine runs at once.
public struct EngineOptions: Sendable, Equatable {
    /// Most sequences decoding at once (`--parallel`).
    public var maxSequences: Int
    /// Most prompt tokens prefilled per tick, across sequences: it bounds how long a joining
    /// prompt delays the tokens of the sequences already running.
    public var prefillTokensPerTick: Int
    /// Bytes of the base model's KV cache for all sequences together.
    public var kvBudgetBytes: Int
    /// Slots per KV block.
    public var kvBlockSize: Int
    /// `.f32` (exact: what the reference fixtures assume) or `.f16` (half the memory).
    public var kvDType: DType
    /// Keep finished sequences' prompts in the budget's spare blocks, for requests that begin
    /// with the same tokens (`PrefixCache`).
    public var prefixCaching: Bool

    public init(maxSequences: Int = 1, prefillTokensPerTick: Int = 256, kvBudgetBytes: Int, kvBlockSize: Int = 16,
                kvDType: DType = .f32, prefixCaching: Bool = false) {
        self.maxSequences = maxSequences
        self.prefillTokensPerTick = prefillTokensPerTick
        self.kvBudgetBytes = kvBudgetBytes
        self.kvBlockSize = kvBlockSize
        self.kvDType = kvDType
        self.prefixCaching = prefixCaching
    }

    /// KV-cache bytes per slot (all layers, keys and values).
    public static func kvBytesPerSlot(_ config: ModelConfig, dtype: DType) -> Int {
        2 * config.numHiddenLayers * dtype.bytes(config.kvDim)
    }
}

/// Device memory for one tick of the engine, sized once for its limits: activations, the index
/// tables the host writes every tick, the micro-step decoder's caches and the feature pool.
final class Workspace<B: Backend> {
    typealias T = Tensor<B.Buffer>

    let maxBaseRows: Int
    let maxMicroRows: Int
    let maxOutputs: Int

    // Base forward.
    let x: T
    let tokenIds, slots, attentionRows, blockTable: T
    let cos, sin: T
    let scratch: ForwardScratch<B>

    // Outputs of every sequence: hidden states, logits, tokens, stop probabilities.
    let outputs, logits, tokens, stopProbabilities: T
    let stopScratch: StopHeadScratch<B>?

    // HAMburger.
    let merge: MergeTables?
    let mergeScratch: MergeScratch<B>?
    let featurePool: T?
    let featureTargets: [T]
    let microX: T?
    let microFeatureIds, microTokenIds, microSlots, microAttentionRows, microBlocks: T?
    let microCos, microSin: T?
    let microCache: LayerCache<B>?
    /// Micro cache rows per sequence: the features, then one per token after the first.
    let microBlockSize: Int

    struct MergeTables {
        let tokens, positions, segments, attentionRows, blocks, out, targets: T
    }

    init(config c: ModelConfig, hamburger h: ModelConfig.HAMburgerConfig?, options o: EngineOptions,
         blockCount: Int, backend: B) throws {
        func f32(_ rows: Int, _ cols: Int) throws -> T { try backend.allocate(rows: rows, cols: cols, dtype: .f32) }
        func i32(_ rows: Int, _ cols: Int = 1) throws -> T { try backend.allocate(rows: rows, cols: cols, dtype: .i32) }
        let d = c.hiddenSize, half = c.headDim / 2, n = o.maxSequences
        maxBaseRows = o.prefillTokensPerTick + n
        maxOutputs = n
        let nf = h?.featureLayers.count ?? 0
        maxMicroRows = h == nil ? 0 : n * (nf + 1)
        microBlockSize = h.map { nf + $0.maxSteps - 1 } ?? 0

        x = try f32(maxBaseRows, d)
        tokenIds = try i32(maxBaseRows)
        slots = try i32(maxBaseRows)
        attentionRows = try i32(maxBaseRows, 2)
        // Each sequence's block list, once per tick: at most every block (and one per sequence).
        blockTable = try i32(blockCount + n)
        cos = try f32(maxBaseRows, half)
        sin = try f32(maxBaseRows, half)
        scratch = try ForwardScratch(rows: max(maxBaseRows, maxMicroRows), config: c, backend: backend)

        outputs = try f32(maxOutputs, d)
        logits = try f32(maxOutputs, c.vocabSize)
        tokens = try i32(maxOutputs)
        stopProbabilities = try f32(maxOutputs, 1)

        guard let h else {
            stopScratch = nil; merge = nil; mergeScratch = nil; featurePool = nil; featureTargets = []
            microX = nil; microFeatureIds = nil; microTokenIds = nil; microSlots = nil; microAttentionRows = nil
            microBlocks = nil; microCos = nil; microSin = nil; microCache = nil
            return
        }
        stopScratch = try StopHeadScratch(rows: maxOutputs, config: c, backend: backend)
        let positions = try i32(n * h.maxSteps), mergeBlocks = try i32(n)
        backend.writeTokens((0..<(n * h.maxSteps)).map { Int32($0 % h.maxSteps) }, to: positions)
        backend.writeTokens((0..<n).map(Int32.init), to: mergeBlocks)
        merge = MergeTables(tokens: try i32(n * h.maxSteps), positions: positions, segments: try i32(n, 2),
                            attentionRows: try i32(n, 2), blocks: mergeBlocks, out: try f32(n, d), targets: try i32(n))
        mergeScratch = try MergeScratch(steps: n, config: c, hamburger: h, backend: backend)
        featurePool = try f32(n * nf, d)
        featureTargets = try (0..<nf).map { _ in try i32(n) }
        microX = try f32(maxMicroRows, d)
        microFeatureIds = try i32(n * nf)
        microTokenIds = try i32(n)
        microSlots = try i32(maxMicroRows)
        microAttentionRows = try i32(maxMicroRows, 2)
        let identity = try i32(n)
        backend.writeTokens((0..<n).map(Int32.init), to: identity)
        microBlocks = identity
        microCos = try f32(maxMicroRows, half)
        microSin = try f32(maxMicroRows, half)
        var keys: [T] = [], values: [T] = []
        for _ in 0..<h.numMicroLayers {
            keys.append(try f32(n * microBlockSize, c.kvDim))
            values.append(try f32(n * microBlockSize, c.kvDim))
        }
        microCache = LayerCache(keys: keys, values: values)
    }
}
