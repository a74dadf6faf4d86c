import Foundation
import HamCore
import HamLoad

/// One comparison of an op on two backends.
public struct OpCheckResult: Sendable, CustomStringConvertible {
    public var op: String
    public var shape: String
    public var maxError: Double
    public var failure: String?

    public var passed: Bool { failure == nil }
    public var description: String {
        "\(passed ? "ok  " : "FAIL") \(op) \(shape)" + (failure.map { ": \($0)" } ?? String(format: " (max error %.2e)", maxError))
    }
}

/// Runs every op of `Backend` on a backend under test and on a reference backend with the same
/// fresh random inputs, modelled on ggml's test-backend-ops: sizes that are odd, prime, smaller
/// and larger than a workgroup, one row and many, every weight dtype, views at odd offsets;
/// outputs are poisoned with NaN first, so an element the op forgot to write fails.
public final class OpConformance<Subject: Backend, Reference: Backend> {
    public typealias S = Tensor<Subject.Buffer>
    public typealias R = Tensor<Reference.Buffer>

    let subject: Subject
    let reference: Reference
    public let seed: UInt64
    private var state: UInt64
    private var results: [OpCheckResult] = []

    public init(subject: Subject, reference: Reference, seed: UInt64) {
        self.subject = subject
        self.reference = reference
        self.seed = seed
        state = seed | 1
    }

    // MARK: Random data

    private func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }

    /// Uniform in [-scale, scale).
    private func uniform(_ scale: Double = 1) -> Float {
        Float((Double(next() >> 11) / Double(1 << 53) * 2 - 1) * scale)
    }

    private func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }

    private func randomHost(_ rows: Int, _ cols: Int, _ dtype: DType, scale: Double = 1) -> HostTensor {
        let values = (0..<(rows * cols)).map { _ in uniform(scale) }
        return HostTensor(shape: [rows, cols], floats: values).converted(to: dtype)
    }

    private func weight(_ rows: Int, _ cols: Int, _ dtype: DType, scale: Double = 1) throws -> (S, R) {
        let host = randomHost(rows, cols, dtype, scale: scale)
        return (try subject.upload(host), try reference.upload(host))
    }

    /// An f32 tensor with the given values, `padding` rows into a larger buffer so ops see a
    /// non-zero offset.
    private func activation(_ rows: Int, _ cols: Int, values: [Float]? = nil, padding: Int = 0) throws -> (S, R) {
        let s = try subject.allocate(rows: rows + padding, cols: cols, dtype: .f32)
        let r = try reference.allocate(rows: rows + padding, cols: cols, dtype: .f32)
        let data = values ?? (0..<(rows * cols)).map { _ in uniform() }
        let views = (s.rows(padding..<(padding + rows)), r.rows(padding..<(padding + rows)))
        subject.write(data, to: views.0)
        reference.write(data, to: views.1)
        return views
    }

    private func output(_ rows: Int, _ cols: Int, padding: Int = 0) throws -> (S, R) {
        try activation(rows, cols, values: [Float](repeating: .nan, count: rows * cols), padding: padding)
    }

    private func ids(_ values: [Int32]) throws -> (S, R) {
        let s = try subject.allocate(rows: values.count, cols: 1, dtype: .i32)
        let r = try reference.allocate(rows: values.count, cols: 1, dtype: .i32)
        subject.writeTokens(values, to: s)
        reference.writeTokens(values, to: r)
        return (s, r)
    }

    private func compare(_ op: String, _ shape: String, _ pair: (S, R), tolerance: Double = 1e-4) {
        do {
            let got = try subject.read(pair.0), want = try reference.read(pair.1)
            var worst = 0.0, failure: String?
            for (i, (g, w)) in zip(got, want).enumerated() {
                if g.isNaN && !w.isNaN {
                    failure = "element \(i) is NaN (never written?); expected \(w)"
                    break
                }
                let error = abs(Double(g) - Double(w))
                worst = max(worst, error)
                if error > tolerance * (1 + abs(Double(w))) {
                    failure = "element \(i) is \(g); expected \(w)"
                    break
                }
            }
            results.append(OpCheckResult(op: op, shape: shape, maxError: worst, failure: failure))
        } catch {
            results.append(OpCheckResult(op: op, shape: shape, maxError: .infinity, failure: "\(error)"))
        }
    }

    private func compareIds(_ op: String, _ shape: String, _ pair: (S, R)) {
        do {
            let got = try subject.readTokens(pair.0), want = try reference.readTokens(pair.1)
            let failure = got == want ? nil : "got \(got.prefix(8)); expected \(want.prefix(8))"
            results.append(OpCheckResult(op: op, shape: shape, maxError: 0, failure: failure))
        } catch {
            results.append(OpCheckResult(op: op, shape: shape, maxError: .infinity, failure: "\(error)"))
        }
    }

    // MARK: The checks

    /// Runs every check; `quick` keeps shapes small (a software Vulkan device). `blockTypes`:
    /// the block types to check weights in (all of them unless a subject lacks some).
    public func run(quick: Bool = false, blockTypes: [DType] = DType.quantized) throws -> [OpCheckResult] {
        results = []
        let weightTypes: [DType] = [.f32, .f16, .bf16]
        // Quick shapes are for a software Vulkan device: few, but on both sides of a workgroup
        // (128 invocations), of the 8-row streaming limit and of the 32 × 64 product tiles.
        let widths = quick ? [1, 7, 16, 33, 128, 129, 257] : [1, 7, 16, 33, 64, 130, 257, 1000]
        let rowCounts = quick ? [1, 2, 5, 8, 9, 17, 33] : [1, 2, 3, 5, 8, 9, 17, 64, 130]

        for dtype in weightTypes {
            // Embedding gather.
            for cols in widths {
                let vocab = int(1...40)
                let table = try weight(vocab, cols, dtype)
                let tokenIds = (0..<int(1...9)).map { _ in Int32(int(0...(vocab - 1))) }
                let i = try ids(tokenIds), out = try output(tokenIds.count, cols, padding: 1)
                subject.embed(table: table.0, ids: i.0, out: out.0)
                reference.embed(table: table.1, ids: i.1, out: out.1)
                compare("embed", "\(dtype) \(vocab)×\(cols) ids \(tokenIds.count)", out, tolerance: 0)
            }
            // RMSNorm.
            for cols in widths {
                let rows = rowCounts[int(0...(rowCounts.count - 1))]
                let gain = try weight(1, cols, dtype), x = try activation(rows, cols, padding: 2), out = try output(rows, cols)
                subject.rmsNorm(x.0, weight: gain.0, eps: 1e-5, out: out.0)
                reference.rmsNorm(x.1, weight: gain.1, eps: 1e-5, out: out.1)
                compare("rms_norm", "\(dtype) \(rows)×\(cols)", out)
            }
            // Linear: decode-sized and prefill-sized, with and without bias and residual.
            for rows in rowCounts {
                for (inF, outF) in [(1, 1), (7, 3), (16, 16), (33, 31), (130, 17), (257, 64), (64, 129), (2081, 50)] {
                    let useBias = next() % 2 == 0, accumulate = next() % 2 == 0
                    let w = try weight(outF, inF, dtype, scale: 0.5)
                    let b = useBias ? try weight(1, outF, dtype) : nil
                    let x = try activation(rows, inF, padding: 1)
                    let out = accumulate ? try activation(rows, outF, padding: 3) : try output(rows, outF, padding: 3)
                    subject.linear(x.0, weight: w.0, bias: b?.0, out: out.0, accumulate: accumulate)
                    reference.linear(x.1, weight: w.1, bias: b?.1, out: out.1, accumulate: accumulate)
                    compare("linear", "\(dtype) x \(rows)×\(inF) w \(outF)×\(inF)\(useBias ? " +bias" : "")\(accumulate ? " +=" : "")", out)
                }
            }
            // Concatenation with a weight (the merger's step positions).
            for cols in widths.prefix(4) {
                let rows = int(1...4), extra = int(1...9)
                let a = try activation(rows, cols), b = try weight(rows, extra, dtype), out = try output(rows, cols + extra)
                subject.concatColumns(a.0, b.0, out: out.0)
                reference.concatColumns(a.1, b.1, out: out.1)
                compare("concat_columns", "\(dtype) \(rows)×(\(cols)+\(extra))", out, tolerance: 0)
            }
        }

        // Block-type weights: matrices of whole blocks, for the products and the embedding; odd
        // row counts and offsets, one block and many per row.
        for dtype in blockTypes {
            let qk = dtype.blockElements
            let shapes = qk == 32
                ? [(32, 1), (32, 7), (64, 129), (192, 128), (96, 31), (256, 64), (2080, 50)].prefix(quick ? 4 : 7)
                : [(256, 1), (256, 7), (512, 129), (768, 33), (2304, 50)].prefix(quick ? 3 : 5)
            // Quick: fewer row counts (each type costs the software device new pipelines), still
            // one row, the 8-row streaming limit and both sides of it, and several tiles.
            for rows in quick ? [1, 5, 8, 9, 33] : rowCounts {
                for (inF, outF) in shapes {
                    let useBias = next() % 2 == 0, accumulate = next() % 2 == 0
                    let w = try weight(outF, inF, dtype, scale: 0.5)
                    let b = useBias ? try weight(1, outF, next() % 2 == 0 ? .f32 : .bf16) : nil
                    let x = try activation(rows, inF, padding: 1)
                    let out = accumulate ? try activation(rows, outF, padding: 3) : try output(rows, outF, padding: 3)
                    subject.linear(x.0, weight: w.0, bias: b?.0, out: out.0, accumulate: accumulate)
                    reference.linear(x.1, weight: w.1, bias: b?.1, out: out.1, accumulate: accumulate)
                    compare("linear", "\(dtype) x \(rows)×\(inF) w \(outF)×\(inF)\(useBias ? " +bias" : "")\(accumulate ? " +=" : "")", out)
                }
            }
            for cols in [qk, 2 * qk, 5 * qk] {
                let vocab = int(1...40)
                let table = try weight(vocab, cols, dtype)
                let tokenIds = (0..<int(1...9)).map { _ in Int32(int(0...(vocab - 1))) }
                let i = try ids(tokenIds), out = try output(tokenIds.count, cols, padding: 1)
                subject.embed(table: table.0, ids: i.0, out: out.0)
                reference.embed(table: table.1, ids: i.1, out: out.1)
                compare("embed", "\(dtype) \(vocab)×\(cols) ids \(tokenIds.count)", out, tolerance: 0)
            }
        }

        // RoPE at arbitrary positions (random angles), in place.
        for (heads, headDim) in [(1, 2), (3, 8), (4, 32), (2, 64), (8, 128)] {
            for pairing in [RoPEPairing.halves, .adjacent] {
                let rows = rowCounts[int(0...(rowCounts.count - 1))]
                let x = try activation(rows, heads * headDim, padding: 2)
                let angles = (0..<(rows * headDim / 2)).map { _ in uniform(100) }
                let c = try activation(rows, headDim / 2, values: angles.map { cosf($0) })
                let s = try activation(rows, headDim / 2, values: angles.map { sinf($0) })
                subject.rope(x.0, heads: heads, cos: c.0, sin: s.0, pairing: pairing)
                reference.rope(x.1, heads: heads, cos: c.1, sin: s.1, pairing: pairing)
                compare("rope", "\(rows)×\(heads)×\(headDim) \(pairing)", x)
            }
        }

        // Attention over a paged KV cache: grouped heads; several sequences in one call, each row
        // with its own block table and visible count (causal prefill rows, decode rows, rows that
        // see everything); blocks of 1, 7 and 16 slots scattered through the cache; f32 and f16
        // caches; up to 300 slots (several 128-slot chunks of the Vulkan kernel's online softmax).
        let attentionShapes: [(n: Int, slots: Int, heads: Int, kvHeads: Int, headDim: Int)] = quick
            ? [(1, 1, 1, 1, 2), (1, 37, 4, 2, 16), (5, 5, 4, 2, 32), (3, 130, 8, 2, 64), (1, 4, 64, 64, 2),
               (2, 129, 2, 1, 16), (1, 300, 4, 2, 64), (9, 260, 6, 3, 128)]
            : [(1, 1, 1, 1, 2), (1, 37, 4, 2, 16), (5, 5, 4, 2, 32), (3, 130, 8, 2, 64), (1, 4, 64, 64, 2),
               (17, 17, 4, 1, 8), (1, 300, 32, 8, 64), (9, 300, 6, 3, 128), (64, 64, 4, 4, 32), (6, 40, 9, 3, 64)]
        for (index, shape) in attentionShapes.enumerated() {
            let blockSize = [1, 7, 16][index % 3]
            let kvDType: DType = index % 2 == 0 ? .f32 : .f16
            // Three sequences: the rows are split among them; each owns a shuffled set of blocks.
            let sequences = min(3, shape.n)
            let blocksPerSequence = (shape.slots + blockSize - 1) / blockSize
            let blockCount = sequences * blocksPerSequence + 1
            var blockIds = (0..<blockCount).map(Int32.init)
            for b in stride(from: blockIds.count - 1, to: 0, by: -1) { blockIds.swapAt(b, int(0...b)) }
            var rowTable: [Int32] = []
            for row in 0..<shape.n {
                let sequence = row % sequences
                // Rows of one sequence are consecutive causal positions ending at `slots`;
                // the first sequence's rows see everything.
                let rowsOfSequence = (shape.n - sequence + sequences - 1) / sequences
                let rank = row / sequences
                let visible = sequence == 0 ? shape.slots : shape.slots - rowsOfSequence + rank + 1
                rowTable += [Int32(max(visible, 1)), Int32(sequence * blocksPerSequence)]
            }
            let kvCols = shape.kvHeads * shape.headDim
            let cacheRows = blockCount * blockSize
            func cache() throws -> (S, R) {
                let pool = (try subject.allocate(rows: cacheRows, cols: kvCols, dtype: kvDType),
                            try reference.allocate(rows: cacheRows, cols: kvCols, dtype: kvDType))
                let values = try activation(cacheRows, kvCols)
                let all = try ids((0..<cacheRows).map(Int32.init))
                subject.scatterRows(values.0, indices: all.0, into: pool.0)
                reference.scatterRows(values.1, indices: all.1, into: pool.1)
                return pool
            }
            let k = try cache(), v = try cache()
            let blocks = try ids(Array(blockIds.prefix(sequences * blocksPerSequence)))
            let table = (try subject.allocate(rows: shape.n, cols: 2, dtype: .i32), try reference.allocate(rows: shape.n, cols: 2, dtype: .i32))
            subject.writeTokens(rowTable, to: table.0)
            reference.writeTokens(rowTable, to: table.1)
            let q = try activation(shape.n, shape.heads * shape.headDim, padding: 1)
            let out = try output(shape.n, shape.heads * shape.headDim, padding: 1)
            let scale = 1 / Float(shape.headDim).squareRoot()
            subject.attention(q: q.0, keys: k.0, values: v.0, heads: shape.heads, kvHeads: shape.kvHeads, scale: scale,
                              layout: AttentionLayout(rows: table.0, blocks: blocks.0, blockSize: blockSize), out: out.0)
            reference.attention(q: q.1, keys: k.1, values: v.1, heads: shape.heads, kvHeads: shape.kvHeads, scale: scale,
                                layout: AttentionLayout(rows: table.1, blocks: blocks.1, blockSize: blockSize), out: out.1)
            compare("attention", "q \(shape.n) kv \(shape.slots) heads \(shape.heads)/\(shape.kvHeads)×\(shape.headDim) blocks of \(blockSize) \(kvDType)", out)
        }

        // Scattering rows into a cache (f32 and f16: rounding to nearest even) at shuffled rows.
        for dtype in [DType.f32, .f16] {
            for cols in [8, 34, 128] {
                let rows = rowCounts[int(0...(rowCounts.count - 1))]
                var targets = (0..<(rows + 3)).map(Int32.init)
                for b in stride(from: targets.count - 1, to: 0, by: -1) { targets.swapAt(b, int(0...b)) }
                let src = try activation(rows, cols, padding: 1), index = try ids(Array(targets.prefix(rows)))
                let dst = (try subject.allocate(rows: rows + 3, cols: cols, dtype: dtype), try reference.allocate(rows: rows + 3, cols: cols, dtype: dtype))
                subject.scatterRows(src.0, indices: index.0, into: dst.0)
                reference.scatterRows(src.1, indices: index.1, into: dst.1)
                compare("scatter_rows", "\(rows)×\(cols) into \(dtype)", dst, tolerance: 0)
            }
        }

        // Element-wise and row-wise ops.
        for cols in widths {
            let rows = rowCounts[int(0...(rowCounts.count - 1))]
            let shape = "\(rows)×\(cols)"
            do {
                let g = try activation(rows, cols), u = try activation(rows, cols), out = try output(rows, cols)
                subject.siluMul(gate: g.0, up: u.0, out: out.0)
                reference.siluMul(gate: g.1, up: u.1, out: out.1)
                compare("silu_mul", shape, out)
            }
            do {
                let x = try activation(rows, cols), out = try output(rows, cols)
                subject.silu(x.0, out: out.0)
                reference.silu(x.1, out: out.1)
                compare("silu", shape, out)
            }
            do {
                // Segments of 1 to 4 rows (a merger's steps), possibly not touching.
                let x = try activation(rows + 4, cols)
                let count = int(1...4)
                var table: [Int32] = []
                for _ in 0..<count {
                    let length = int(1...4)
                    table += [Int32(int(0...rows)), Int32(length)]
                }
                let segments = (try subject.allocate(rows: count, cols: 2, dtype: .i32), try reference.allocate(rows: count, cols: 2, dtype: .i32))
                subject.writeTokens(table, to: segments.0)
                reference.writeTokens(table, to: segments.1)
                let out = try output(count, cols, padding: 1)
                subject.meanRows(x.0, segments: segments.0, out: out.0)
                reference.meanRows(x.1, segments: segments.1, out: out.1)
                compare("mean_rows", "\(count) segments of \(cols)", out)
            }
            do {
                let x = try activation(rows, cols, values: (0..<(rows * cols)).map { _ in uniform(20) }), out = try output(rows, cols)
                subject.sigmoid(x.0, out: out.0)
                reference.sigmoid(x.1, out: out.1)
                compare("sigmoid", shape, out)
            }
            do {
                // Distinct values, so the argmax is unambiguous.
                var values = (0..<(rows * cols)).map { Float($0) * 0.001 }
                for i in stride(from: values.count - 1, to: 0, by: -1) { values.swapAt(i, int(0...i)) }
                let x = try activation(rows, cols, values: values)
                let out = (try subject.allocate(rows: rows, cols: 1, dtype: .i32), try reference.allocate(rows: rows, cols: 1, dtype: .i32))
                subject.argmax(x.0, out: out.0)
                reference.argmax(x.1, out: out.1)
                compareIds("argmax", shape, out)
                // A NaN or an infinity anywhere in a row makes its index -1.
                var poisoned = values
                let bad: [Float] = [.nan, .infinity, -.infinity]
                for r in 0..<rows where r % 2 == 0 { poisoned[r * cols + int(0...(cols - 1))] = bad[r % 3] }
                let y = try activation(rows, cols, values: poisoned)
                let flagged = (try subject.allocate(rows: rows, cols: 1, dtype: .i32), try reference.allocate(rows: rows, cols: 1, dtype: .i32))
                subject.argmax(y.0, out: flagged.0)
                reference.argmax(y.1, out: flagged.1)
                compareIds("argmax", shape + " with non-finite rows", flagged)
                // Several tensors of different dtypes in one read.
                do {
                    let both = try subject.read([out.0, x.0])
                    let wantIds = try reference.readTokens(out.1), wantValues = try reference.read(x.1)
                    let ok = both[0].ids() == wantIds && both[1].floats() == wantValues
                    results.append(OpCheckResult(op: "read_many", shape: shape, maxError: 0, failure: ok ? nil : "differs from single reads"))
                } catch {
                    results.append(OpCheckResult(op: "read_many", shape: shape, maxError: .infinity, failure: "\(error)"))
                }
            }
            do {
                let x = try activation(rows, cols, padding: 1), out = try output(rows, cols, padding: 2)
                subject.copy(x.0, to: out.0)
                reference.copy(x.1, to: out.1)
                compare("copy", shape, out, tolerance: 0)
            }
        }
        return results
    }
}
