/// The base model's KV cache for every sequence: per layer, one pool of `blocks × blockSize` rows
/// for keys and one for values, handed out a block at a time. A sequence's slot `s` lives in its
/// `s / blockSize`-th block. Blocks are equal-sized, so a finished sequence's memory is reused at
/// once and nothing fragments; the lowest free block is handed out first, so on the CPU (whose
/// large allocations are zero pages until written) the memory in use stays what the sequences
/// hold, not the budget.
public final class KVBlockPool<B: Backend> {
    public let cache: LayerCache<B>
    public let blockSize: Int
    public let blockCount: Int
    /// Bytes of one block across all layers, keys and values.
    public let bytesPerBlock: Int
    private var free: [Int32]

    public init(config c: ModelConfig, budgetBytes: Int, blockSize: Int, dtype: DType, backend: B) throws {
        self.blockSize = blockSize
        bytesPerBlock = 2 * c.numHiddenLayers * blockSize * dtype.bytes(c.kvDim)
        blockCount = max(1, budgetBytes / bytesPerBlock)
        var keys: [Tensor<B.Buffer>] = [], values: [Tensor<B.Buffer>] = []
        for _ in 0..<c.numHiddenLayers {
            keys.append(try backend.allocate(rows: blockCount * blockSize, cols: c.kvDim, dtype: dtype))
            values.append(try backend.allocate(rows: blockCount * blockSize, cols: c.kvDim, dtype: dtype))
        }
        cache = LayerCache(keys: keys, values: values)
        free = (0..<Int32(blockCount)).reversed()
    }

    public var freeBlocks: Int { free.count }
    public var usedBlocks: Int { blockCount - free.count }
    public var budgetBytes: Int { blockCount * bytesPerBlock }

    /// Blocks needed to hold `slots` slots.
    public func blocks(for slots: Int) -> Int { kvBlocks(holding: slots, blockSize: blockSize) }

    /// Takes `count` blocks, or none when fewer are free.
    func take(_ count: Int) -> [Int32]? {
        guard count <= free.count else { return nil }
        let taken = Array(free.suffix(count).reversed())
        free.removeLast(count)
        return taken
    }

    func give(back blocks: [Int32]) {
        guard !blocks.isEmpty else { return }
        free.append(contentsOf: blocks)
        // Lowest ids on top of the stack.
        free.sort(by: >)
    }
}

/// Blocks of `blockSize` slots needed to hold `slots` slots (the pool's rule, for what keeps
/// blocks without holding the pool: `PrefixCache`).
func kvBlocks(holding slots: Int, blockSize: Int) -> Int { (slots + blockSize - 1) / blockSize }
