/// The interface the model is written against. It is op-level, over tensors that live on the
/// backend: ops are *enqueued* and may run later (the Vulkan backend records them into a command
/// buffer); `read`, `readTokens` and `synchronize` are the sync points that wait for everything
/// enqueued before them, so one engine tick is one submission. The CPU backend simply runs each op
/// when it is called.
///
/// Conventions for every op:
/// - Activations and outputs are `.f32`; weights may be any float `DType` (f32, f16, bf16 or
///   blocks such as q8_0) and are widened inside the kernel; KV caches are `.f32` or `.f16`.
///   Token ids and index tables are `.i32` tensors.
/// - Shapes are checked by the caller (the model); a backend may assume they are consistent.
/// - `out` never aliases an input unless the op says so; element-wise ops (`siluMul`, `silu`,
///   `sigmoid`, `rmsNorm`) allow `out` to be one of their inputs.
/// - Ops never allocate per call on a warmed-up backend: buffers come from `allocate`.
public protocol Backend: AnyObject {
    associatedtype Buffer: AnyObject
    typealias T = Tensor<Buffer>

    /// Human-readable description for summaries ("cpu (2 threads)", "vulkan: NVIDIA H100").
    var name: String { get }

    // MARK: Memory

    /// Copies a weight to the backend in its stored dtype (the CPU backend keeps a view of the
    /// memory-mapped file instead of copying). 1-D weights become one row.
    func upload(_ tensor: HostTensor) throws -> T
    /// A new zero-filled tensor.
    func allocate(rows: Int, cols: Int, dtype: DType) throws -> T
    /// Enqueues a host-to-backend write of `values` (exactly `tensor.count` of them).
    func write(_ values: [Float], to tensor: T)
    /// Enqueues a host-to-backend write of `.i32` values (token ids, index tables).
    func writeTokens(_ ids: [Int32], to tensor: T)
    /// Enqueues `dst = src` (same shape, same dtype).
    func copy(_ src: T, to dst: T)
    /// Waits for all enqueued work.
    func synchronize() throws
    /// Waits for all enqueued work and returns the tensor's elements widened to f32.
    func read(_ tensor: T) throws -> [Float]
    /// Waits for all enqueued work and returns the ids of an `.i32` tensor.
    func readTokens(_ tensor: T) throws -> [Int32]
    /// Waits once for all enqueued work and returns copies of several tensors in their dtypes
    /// (a tick's tokens, stop probabilities and sampled logits come back in one sync).
    func read(_ tensors: [T]) throws -> [HostTensor]

    // MARK: Ops

    /// `out[i, :] = table[ids[i], :]` widened to f32: embeddings, and any gather of rows. The
    /// caller guarantees every id is a row of `table`.
    func embed(table: T, ids: T, out: T)
    /// `dst[indices[i], :] = src[i, :]` (f32 rows into an f32 or f16 tensor): new keys and values
    /// into their KV-cache slots, features into their sequence's rows.
    func scatterRows(_ src: T, indices: T, into dst: T)
    /// `out[i, :] = weight ⊙ x[i, :] / sqrt(mean(x[i, :]²) + eps)`. `out` may alias `x`.
    func rmsNorm(_ x: T, weight: T, eps: Float, out: T)
    /// `out = x · weightᵀ + bias` (`x` is `n × in`, `weight` is `outFeatures × in`, `bias` one row);
    /// with `accumulate` the result is added to `out` instead (a fused residual add).
    func linear(_ x: T, weight: T, bias: T?, out: T, accumulate: Bool)
    /// Rotates every head of `x` (`n × heads·headDim`) in place; frequency `j` turns the pair
    /// `pairing` names. Row `i` uses `cos[i, :]`, `sin[i, :]` (`n × headDim/2`), so positions are
    /// arbitrary.
    func rope(_ x: T, heads: Int, cos: T, sin: T, pairing: RoPEPairing)
    /// Grouped-query attention of every row of `q` (`n × heads·headDim`), each over its own
    /// sequence's slots of a paged KV cache (`keys`, `values`: `blocks·blockSize × kvHeads·headDim`,
    /// f32 or f16) as `layout` maps them: softmax(q·k · scale)·v per head. Query head `h` reads KV
    /// head `h / (heads / kvHeads)`.
    func attention(q: T, keys: T, values: T, heads: Int, kvHeads: Int, scale: Float, layout: AttentionLayout<Buffer>, out: T)
    /// `out = silu(gate) ⊙ up`. `out` may alias `gate` or `up`.
    func siluMul(gate: T, up: T, out: T)
    /// `out = silu(x)`. `out` may alias `x`.
    func silu(_ x: T, out: T)
    /// `out = 1 / (1 + exp(-x))`. `out` may alias `x`.
    func sigmoid(_ x: T, out: T)
    /// `out[j, :] = mean of x[start_j ..< start_j + count_j, :]`, `segments` being `k × 2` `.i32`
    /// rows `[start, count]` with `count ≥ 1`.
    func meanRows(_ x: T, segments: T, out: T)
    /// `out[i, :] = [a[i, :], b[i, :]]`; `a` and `b` may be weights of any element dtype.
    func concatColumns(_ a: T, _ b: T, out: T)
    /// `out[i] = index of the largest element of x[i, :]` (the first one on ties), as `.i32`;
    /// `-1` when the row holds a NaN or an infinity, so a broken model is caught at the read that
    /// returns its tokens rather than producing token 0.
    func argmax(_ x: T, out: T)
}

/// Where each query row of `attention` finds its keys and values: the rows of a paged cache.
/// Slot `s` of query row `i` (`0 ≤ s < visible_i`) is cache row
/// `blocks[first_i + s / blockSize] · blockSize + s % blockSize`. Causal prefill, a decode row,
/// micro step 1's features and a merger's step tokens are all this one layout with different
/// `visible` counts and block tables.
public struct AttentionLayout<Buffer: AnyObject> {
    /// `n × 2` `.i32`: `[visible_i, first_i]` per query row.
    public let rows: Tensor<Buffer>
    /// `.i32` block ids, one column.
    public let blocks: Tensor<Buffer>
    public let blockSize: Int

    public init(rows: Tensor<Buffer>, blocks: Tensor<Buffer>, blockSize: Int) {
        self.rows = rows
        self.blocks = blocks
        self.blockSize = blockSize
    }
}
