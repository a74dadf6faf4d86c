/// The interface the model graph is written against. It is op-level, over tensors that live on
/// the backend: ops are *enqueued* and may run later (the Vulkan backend records them into a
/// command buffer); `read` and `readTokens` are the sync points that wait for everything
/// enqueued before them. The CPU backend simply runs each op when it is called.
///
/// Conventions for every op:
/// - Activations, KV caches and outputs are `.f32`; weights may be `.f32`, `.f16` or `.bf16` and
///   are widened inside the kernel. Token ids are `.i32` tensors of one column.
/// - Shapes are checked by the caller (the graph); a backend may assume they are consistent.
/// - `out` never aliases an input unless the op says so; element-wise ops (`siluMul`, `silu`,
///   `add`, `sigmoid`, `softmax`, `rmsNorm`) allow `out` to be one of their inputs.
/// - Ops never allocate per call on a warmed-up backend: buffers come from `allocate`, which the
///   graph calls while loading and when a KV cache grows.
public protocol Backend: AnyObject {
    associatedtype Buffer: AnyObject
    typealias T = Tensor<Buffer>

    /// Human-readable description for summaries ("cpu (2 threads)", "vulkan: NVIDIA H100").
    var name: String { get }
    /// Whether a macro step should enqueue all `max_steps` micro steps before reading any stop
    /// decision (and discard the ones after the stop), instead of waiting for each decision.
    /// Worth it where a sync is expensive compared with a micro step (a GPU), not on the CPU.
    var prefersRunAhead: Bool { get }

    // MARK: Memory

    /// Copies a weight to the backend in its stored dtype (the CPU backend keeps a view of the
    /// memory-mapped file instead of copying). 1-D weights become one row.
    func upload(_ tensor: HostTensor) throws -> T
    /// A new zero-filled tensor.
    func allocate(rows: Int, cols: Int, dtype: DType) throws -> T
    /// Enqueues a host-to-backend write of `values` (exactly `tensor.count` of them).
    func write(_ values: [Float], to tensor: T)
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
    /// (a micro step's token and stop probability come back in one sync).
    func read(_ tensors: [T]) throws -> [HostTensor]

    // MARK: Ops

    /// `out[i, :] = table[ids[i], :]`. The caller guarantees every id is a row of `table`.
    func embed(table: T, ids: T, out: T)
    /// `out[i, :] = weight ⊙ x[i, :] / sqrt(mean(x[i, :]²) + eps)`. `out` may alias `x`.
    func rmsNorm(_ x: T, weight: T, eps: Float, out: T)
    /// `out = x · weightᵀ + bias` (`x` is `n × in`, `weight` is `outFeatures × in`, `bias` one row);
    /// with `accumulate` the result is added to `out` instead (a fused residual add).
    func linear(_ x: T, weight: T, bias: T?, out: T, accumulate: Bool)
    /// Rotates every head of `x` (`n × heads·headDim`) in place; frequency `j` turns the pair
    /// `pairing` names. Row `i` uses `cos[i, :]`, `sin[i, :]` (`n × headDim/2`), so positions are
    /// arbitrary.
    func rope(_ x: T, heads: Int, cos: T, sin: T, pairing: RoPEPairing)
    /// Grouped-query attention of `q` (`n × heads·headDim`) over the first `keys.rows` slots of a
    /// KV cache (`keys`, `values`: `L × kvHeads·headDim`), softmax(q·k · scale)·v per head.
    /// `causal`: query row `i` sees slots `0 ..< L - n + i + 1` (the `n` new rows occupy the last
    /// `n` slots); otherwise every row sees all `L` slots.
    /// Query head `h` reads KV head `h / (heads / kvHeads)`.
    func attention(q: T, keys: T, values: T, heads: Int, kvHeads: Int, scale: Float, causal: Bool, out: T)
    /// `out = silu(gate) ⊙ up`. `out` may alias `gate` or `up`.
    func siluMul(gate: T, up: T, out: T)
    /// `out = silu(x)`. `out` may alias `x`.
    func silu(_ x: T, out: T)
    /// `out = a + b`. `out` may alias `a` or `b`.
    func add(_ a: T, _ b: T, out: T)
    /// `out[0, :] = mean over rows of x`.
    func meanRows(_ x: T, out: T)
    /// `out[i, :] = [a[i, :], b[i, :]]`; `a` and `b` may be weights of any float dtype.
    func concatColumns(_ a: T, _ b: T, out: T)
    /// Row-wise softmax. `out` may alias `x`.
    func softmax(_ x: T, out: T)
    /// `out = 1 / (1 + exp(-x))`. `out` may alias `x`.
    func sigmoid(_ x: T, out: T)
    /// `out[i] = index of the largest element of x[i, :]` (the first one on ties), as `.i32`.
    func argmax(_ x: T, out: T)
}
