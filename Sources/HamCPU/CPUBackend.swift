import CBLAS
import CHamKernels
import Foundation
import HamCore

/// Memory of the CPU backend: a view of a memory-mapped weight file, or an owned allocation.
public final class CPUBuffer: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let byteCount: Int
    private let owner: AnyObject

    init(base: UnsafeMutableRawPointer, byteCount: Int, owner: AnyObject) {
        self.base = base
        self.byteCount = byteCount
        self.owner = owner
    }
}

/// The CPU backend: every op runs when it is called, on a persistent pool of threads.
/// Decode-sized products (up to 8 rows) stream the weights once through the SIMD kernels in
/// their stored dtype; larger ones (prefill) go through a register-tiled kernel that widens
/// bf16/f16 in registers (AVX-512's own tiles; AVX2's decode tiles, cache-blocked), or, for f32
/// and block-quantized weights, through BLAS sgemm on widened blocks.
public final class CPUBackend: Backend {
    public typealias Buffer = CPUBuffer
    public let pool: ThreadPool
    /// Per-thread scratch: attention scores and widened weight blocks. Grows, never per token.
    private var scratch: [OwnedBytes]
    private var scratchPointers: [UnsafeMutablePointer<Float>]

    /// Products with fewer x rows than this use the streaming kernel instead of the prefill paths.
    static let gemmMinimumRows = 9
    /// Weight rows widened per sgemm call on the prefill path.
    static let gemmBlockRows = 128

    public init(threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        pool = ThreadPool(threadCount: threads)
        scratch = (0..<pool.threadCount).map { _ in OwnedBytes(byteCount: 1 << 16) }
        scratchPointers = scratch.map { $0.pointer.assumingMemoryBound(to: Float.self) }
        // The pool owns all parallelism; BLAS threads would fight its spinning workers.
        openblas_set_num_threads(1)
    }

    public var name: String { "cpu (\(pool.threadCount) threads, \(String(cString: ham_kernel_level())), OpenBLAS \(BLASKernels.coreName))" }

    // MARK: Memory

    public func upload(_ tensor: HostTensor) throws -> Tensor<CPUBuffer> {
        let (rows, cols) = matrixShape(tensor.shape)
        let buffer = CPUBuffer(base: UnsafeMutableRawPointer(mutating: tensor.data), byteCount: tensor.byteCount, owner: tensor.owner)
        return Tensor(buffer: buffer, rows: rows, cols: cols, dtype: tensor.dtype)
    }

    public func allocate(rows: Int, cols: Int, dtype: DType) throws -> Tensor<CPUBuffer> {
        let byteCount = max(dtype.bytes(rows * cols), 4)
        if byteCount >= ZeroPages.threshold {
            // A KV-cache budget: pages are zero and cost memory only once a block is written.
            let pages = try ZeroPages(byteCount: byteCount)
            return Tensor(buffer: CPUBuffer(base: pages.pointer, byteCount: byteCount, owner: pages), rows: rows, cols: cols, dtype: dtype)
        }
        let bytes = OwnedBytes(byteCount: byteCount)
        bytes.pointer.initializeMemory(as: UInt8.self, repeating: 0, count: bytes.byteCount)
        return Tensor(buffer: CPUBuffer(base: bytes.pointer, byteCount: bytes.byteCount, owner: bytes), rows: rows, cols: cols, dtype: dtype)
    }

    public func write(_ values: [Float], to tensor: Tensor<CPUBuffer>) {
        precondition(values.count == tensor.count && tensor.dtype == .f32)
        values.withUnsafeBufferPointer { source in
            if let start = source.baseAddress { f32(tensor).update(from: start, count: values.count) }
        }
    }

    public func writeTokens(_ ids: [Int32], to tensor: Tensor<CPUBuffer>) {
        precondition(ids.count == tensor.count && tensor.dtype == .i32)
        ids.withUnsafeBufferPointer { source in
            if let start = source.baseAddress { i32(tensor).update(from: start, count: ids.count) }
        }
    }

    public func copy(_ src: Tensor<CPUBuffer>, to dst: Tensor<CPUBuffer>) {
        precondition(src.count == dst.count && src.dtype == dst.dtype)
        (dst.buffer.base + dst.dtype.bytes(dst.offset))
            .copyMemory(from: src.buffer.base + src.dtype.bytes(src.offset), byteCount: src.byteCount)
    }

    public func synchronize() throws {}

    public func read(_ tensor: Tensor<CPUBuffer>) throws -> [Float] {
        [Float](unsafeUninitializedCapacity: tensor.count) { out, initialized in
            if let start = out.baseAddress {
                widenToFloat(raw(tensor), dtype: tensor.dtype, count: tensor.count, into: start)
            }
            initialized = tensor.count
        }
    }

    public func read(_ tensors: [Tensor<CPUBuffer>]) throws -> [HostTensor] {
        tensors.map { HostTensor(dtype: $0.dtype, shape: [$0.rows, $0.cols], copying: UnsafeRawBufferPointer(start: raw($0), count: $0.byteCount)) }
    }

    public func readTokens(_ tensor: Tensor<CPUBuffer>) throws -> [Int32] {
        precondition(tensor.dtype == .i32)
        return Array(UnsafeBufferPointer(start: i32(tensor), count: tensor.count))
    }

    // MARK: Ops

    public func embed(table: Tensor<CPUBuffer>, ids: Tensor<CPUBuffer>, out: Tensor<CPUBuffer>) {
        let width = table.cols
        let idPointer = i32(ids)
        let destination = f32(out)
        for i in 0..<ids.count {
            let row = Int(idPointer[i])
            ham_widen(raw(table) + table.dtype.bytes(row * width), table.dtype.kernelCode, width, destination + i * width)
        }
    }

    public func rmsNorm(_ x: Tensor<CPUBuffer>, weight: Tensor<CPUBuffer>, eps: Float, out: Tensor<CPUBuffer>) {
        let width = x.cols
        let source = f32(x), destination = f32(out)
        let gain = widened(weight, slot: 0)
        for r in 0..<x.rows {
            let row = source + r * width
            let sumSquares = ham_dot_f32(row, row, width)
            let inverse = 1 / (sumSquares / Float(width) + eps).squareRoot()
            let target = destination + r * width
            for c in 0..<width { target[c] = gain[c] * (row[c] * inverse) }
        }
    }

    public func linear(_ x: Tensor<CPUBuffer>, weight: Tensor<CPUBuffer>, bias: Tensor<CPUBuffer>?, out: Tensor<CPUBuffer>, accumulate: Bool) {
        let n = x.rows, inFeatures = x.cols, outFeatures = weight.rows
        let biasPointer: UnsafePointer<Float>? = bias.map { UnsafePointer(widened($0, slot: 1)) }
        let xPointer = UnsafePointer(f32(x)), outPointer = f32(out), w = UnsafeRawPointer(raw(weight))
        let type = weight.dtype.kernelCode
        if n < Self.gemmMinimumRows {
            // Streaming path: each thread reads its share of weight rows once.
            pool.parallelFor(outFeatures, grain: 16, minimumPerThread: max(16, 32768 / max(inFeatures, 1))) { range, _ in
                ham_gemv(xPointer, n, inFeatures, w, type, range.lowerBound, range.upperBound,
                         biasPointer, outPointer, outFeatures, accumulate ? 1 : 0)
            }
            return
        }
        // Prefill path for bf16/f16 weights: register-tiled kernel that widens in registers
        // (`ham_gemm` with no rows answers whether this SIMD level has it).
        if ham_gemm(nil, 0, inFeatures, w, type, 0, 0, nil, nil, 0, 0) != 0 {
            pool.parallelFor(outFeatures, grain: 48, minimumPerThread: 48) { range, _ in
                _ = ham_gemm(xPointer, n, inFeatures, w, type, range.lowerBound, range.upperBound,
                             biasPointer, outPointer, outFeatures, accumulate ? 1 : 0)
            }
            return
        }
        // Otherwise: blocks of weight rows, widened into per-thread scratch, through sgemm.
        let block = Self.gemmBlockRows
        let blockBytes = block * inFeatures * 4
        ensureScratch(bytes: blockBytes)
        let scratchPointers = self.scratchPointers
                pool.parallelFor(outFeatures, grain: block, minimumPerThread: block) { range, thread in
            let threadScratch = scratchPointers[thread]
            var start = range.lowerBound
            while start < range.upperBound {
                let rows = min(block, range.upperBound - start)
                let blockWeights: UnsafePointer<Float>
                if weight.dtype == .f32 {
                    blockWeights = w.assumingMemoryBound(to: Float.self) + start * inFeatures
                } else {
                    ham_widen(w + weight.dtype.bytes(start * inFeatures), type, rows * inFeatures, threadScratch)
                    blockWeights = UnsafePointer(threadScratch)
                }
                let target = outPointer + start
                var beta: Float = accumulate ? 1 : 0
                if let biasPointer {
                    for r in 0..<n {
                        let row = target + r * outFeatures
                        if accumulate {
                            for c in 0..<rows { row[c] += biasPointer[start + c] }
                        } else {
                            for c in 0..<rows { row[c] = biasPointer[start + c] }
                        }
                    }
                    beta = 1
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(rows), Int32(inFeatures),
                            1, xPointer, Int32(inFeatures), blockWeights, Int32(inFeatures),
                            beta, target, Int32(outFeatures))
                start += rows
            }
        }
    }

    public func rope(_ x: Tensor<CPUBuffer>, heads: Int, cos: Tensor<CPUBuffer>, sin: Tensor<CPUBuffer>, pairing: RoPEPairing) {
        let half = cos.cols
        let headDim = half * 2
        // Element pair of frequency i: (i, i + half) or (2i, 2i + 1).
        let (first, second) = pairing == .halves ? (1, half) : (2, 1)
        let data = f32(x), cosines = f32(cos), sines = f32(sin)
        for r in 0..<x.rows {
            let c = cosines + r * half, s = sines + r * half
            for h in 0..<heads {
                let head = data + r * x.cols + h * headDim
                for i in 0..<half {
                    let a = i * first, b = a + second
                    let x1 = head[a], x2 = head[b]
                    head[a] = x1 * c[i] - x2 * s[i]
                    head[b] = x2 * c[i] + x1 * s[i]
                }
            }
        }
    }

    public func attention(q: Tensor<CPUBuffer>, keys: Tensor<CPUBuffer>, values: Tensor<CPUBuffer>,
                          heads: Int, kvHeads: Int, scale: Float, layout: AttentionLayout<CPUBuffer>, out: Tensor<CPUBuffer>) {
        let n = q.rows
        let headDim = q.cols / heads
        let group = heads / kvHeads
        let rowTable = i32(layout.rows), blockTable = UnsafePointer(i32(layout.blocks))
        var longest = 1
        for i in 0..<n { longest = Swift.max(longest, Int(rowTable[2 * i])) }
        ensureScratch(bytes: group * longest * 4)
        let scratchPointers = self.scratchPointers
        let qPointer = UnsafePointer(f32(q)), outPointer = f32(out)
        let kPointer = UnsafeRawPointer(raw(keys)), vPointer = UnsafeRawPointer(raw(values))
        let kvType = keys.dtype == .f16 ? Int32(HAM_KV_F16.rawValue) : Int32(HAM_KV_F32.rawValue)
        let blockSize = layout.blockSize, kvStride = keys.cols
        // One work item is one query row's heads that share a KV head: each cache row is read
        // once for the whole group.
        pool.parallelFor(n * kvHeads, minimumPerThread: 1) { range, thread in
            for item in range {
                let i = item / kvHeads, kv = item % kvHeads
                let visible = Int(rowTable[2 * i]), first = Int(rowTable[2 * i + 1])
                ham_attention(qPointer + i * q.cols + kv * group * headDim, headDim, group, headDim,
                              kPointer, vPointer, kvType, kvStride, kv * headDim,
                              blockTable + first, blockSize, visible, scale,
                              outPointer + i * out.cols + kv * group * headDim, headDim, scratchPointers[thread])
            }
        }
    }

    public func scatterRows(_ src: Tensor<CPUBuffer>, indices: Tensor<CPUBuffer>, into dst: Tensor<CPUBuffer>) {
        let index = i32(indices), source = UnsafePointer(f32(src)), target = raw(dst)
        let width = src.cols
        let kvType = dst.dtype == .f16 ? Int32(HAM_KV_F16.rawValue) : Int32(HAM_KV_F32.rawValue)
        for i in 0..<src.rows {
            ham_store_kv(source + i * width, target + dst.dtype.bytes(Int(index[i]) * dst.cols), kvType, width)
        }
    }

    public func siluMul(gate: Tensor<CPUBuffer>, up: Tensor<CPUBuffer>, out: Tensor<CPUBuffer>) {
        let g = f32(gate), u = f32(up), o = f32(out)
        for i in 0..<gate.count {
            let v = g[i]
            o[i] = v / (1 + expf(-v)) * u[i]
        }
    }

    public func silu(_ x: Tensor<CPUBuffer>, out: Tensor<CPUBuffer>) {
        let s = f32(x), o = f32(out)
        for i in 0..<x.count {
            let v = s[i]
            o[i] = v / (1 + expf(-v))
        }
    }

    public func meanRows(_ x: Tensor<CPUBuffer>, segments: Tensor<CPUBuffer>, out: Tensor<CPUBuffer>) {
        let s = f32(x), o = f32(out), table = i32(segments)
        for j in 0..<segments.rows {
            let start = Int(table[2 * j]), count = Int(table[2 * j + 1])
            let target = o + j * out.cols
            for c in 0..<x.cols {
                var total: Float = 0
                for r in start..<(start + count) { total += s[r * x.cols + c] }
                target[c] = total / Float(count)
            }
        }
    }

    public func concatColumns(_ a: Tensor<CPUBuffer>, _ b: Tensor<CPUBuffer>, out: Tensor<CPUBuffer>) {
        let o = f32(out)
        for r in 0..<a.rows {
            ham_widen(raw(a) + a.dtype.bytes(r * a.cols), a.dtype.kernelCode, a.cols, o + r * out.cols)
            ham_widen(raw(b) + b.dtype.bytes(r * b.cols), b.dtype.kernelCode, b.cols, o + r * out.cols + a.cols)
        }
    }

    public func sigmoid(_ x: Tensor<CPUBuffer>, out: Tensor<CPUBuffer>) {
        let s = f32(x), o = f32(out)
        for i in 0..<x.count { o[i] = 1 / (1 + expf(-s[i])) }
    }

    public func argmax(_ x: Tensor<CPUBuffer>, out: Tensor<CPUBuffer>) {
        let s = f32(x), o = i32(out)
        for r in 0..<x.rows {
            let row = s + r * x.cols
            var best = 0
            var bestValue = row[0]
            var finite = row[0].isFinite
            for c in 1..<max(x.cols, 1) {
                let value = row[c]
                finite = finite && value.isFinite
                if value > bestValue {
                    best = c
                    bestValue = value
                }
            }
            o[r] = finite ? Int32(best) : -1
        }
    }

    // MARK: Helpers

    private func raw(_ t: Tensor<CPUBuffer>) -> UnsafeMutableRawPointer {
        t.buffer.base + t.dtype.bytes(t.offset)
    }

    private func f32(_ t: Tensor<CPUBuffer>) -> UnsafeMutablePointer<Float> {
        raw(t).assumingMemoryBound(to: Float.self)
    }

    private func i32(_ t: Tensor<CPUBuffer>) -> UnsafeMutablePointer<Int32> {
        raw(t).assumingMemoryBound(to: Int32.self)
    }

    /// Small weights (norm gains, biases) of any dtype as f32: f32 ones are used in place,
    /// others are widened into one of two small slots that live until the next call.
    private var smallSlots = [OwnedBytes(byteCount: 4096), OwnedBytes(byteCount: 4096)]
    private func widened(_ t: Tensor<CPUBuffer>, slot: Int) -> UnsafeMutablePointer<Float> {
        if t.dtype == .f32 { return f32(t) }
        if smallSlots[slot].byteCount < t.count * 4 { smallSlots[slot] = OwnedBytes(byteCount: t.count * 4) }
        let start = smallSlots[slot].pointer.assumingMemoryBound(to: Float.self)
        ham_widen(raw(t), t.dtype.kernelCode, t.count, start)
        return start
    }

    private func ensureScratch(bytes: Int) {
        guard scratch[0].byteCount < bytes else { return }
        // Grow geometrically so a growing KV cache reallocates only a few times.
        let size = max(bytes, scratch[0].byteCount * 2)
        scratch = (0..<pool.threadCount).map { _ in OwnedBytes(byteCount: size) }
        scratchPointers = scratch.map { $0.pointer.assumingMemoryBound(to: Float.self) }
    }
}

/// 1-D weights become one row; N-D become `shape[0] × rest`.
func matrixShape(_ shape: [Int]) -> (Int, Int) {
    switch shape.count {
    case 0: (1, 1)
    case 1: (1, shape[0])
    default: (shape[0], shape.dropFirst().reduce(1, *))
    }
}
