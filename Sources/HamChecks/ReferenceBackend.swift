import Foundation
import HamCore
import HamLoad

/// The plainest possible implementation of every op: scalar loops with double accumulators,
/// written straight from the op's definition in `Backend`. Too slow to run models; it is what the
/// real backends are checked against.
public final class ReferenceBackend: Backend {
    /// Elements held as doubles, each rounded to its dtype when stored, so the reference sees
    /// exactly the values a real backend stores.
    public final class Buffer {
        var values: [Double]
        init(count: Int) { values = [Double](repeating: 0, count: count) }
    }

    public init() {}

    public var name: String { "reference" }

    // MARK: Element access

    private func get(_ t: T, _ i: Int) -> Double { t.buffer.values[t.offset + i] }

    private func set(_ t: T, _ i: Int, _ value: Double) {
        let stored: Double
        switch t.dtype {
        case .f32: stored = Double(Float(value))
        case .i32: stored = value.rounded()
        case .bf16: stored = Double(bf16ToFloat(floatToBF16(Float(value))))
        case .f16: stored = Double(f16ToFloat(floatToF16(Float(value))))
        case .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_k, .q5_k, .q6_k, .u8: stored = value  // weights only: uploaded already dequantized
        }
        t.buffer.values[t.offset + i] = stored
    }

    private func at(_ t: T, _ r: Int, _ c: Int) -> Double { get(t, r * t.cols + c) }

    // MARK: Memory

    public func upload(_ tensor: HostTensor) throws -> T {
        let buffer = Buffer(count: tensor.count)
        buffer.values = tensor.portableFloats().map(Double.init)
        let rows = tensor.shape.count > 1 ? tensor.shape[0] : 1
        return T(buffer: buffer, rows: rows, cols: tensor.count / max(rows, 1), dtype: tensor.dtype)
    }

    public func allocate(rows: Int, cols: Int, dtype: DType) throws -> T {
        T(buffer: Buffer(count: rows * cols), rows: rows, cols: cols, dtype: dtype)
    }

    public func write(_ values: [Float], to tensor: T) {
        for (i, v) in values.enumerated() { set(tensor, i, Double(v)) }
    }

    public func writeTokens(_ ids: [Int32], to tensor: T) {
        for (i, v) in ids.enumerated() { set(tensor, i, Double(v)) }
    }

    public func copy(_ src: T, to dst: T) {
        for i in 0..<src.count { set(dst, i, get(src, i)) }
    }

    public func synchronize() throws {}

    public func read(_ tensor: T) throws -> [Float] {
        (0..<tensor.count).map { Float(get(tensor, $0)) }
    }

    public func read(_ tensors: [T]) throws -> [HostTensor] {
        tensors.map { t in
            switch t.dtype {
            case .i32:
                let ids = (0..<t.count).map { Int32(get(t, $0)) }
                return ids.withUnsafeBytes { HostTensor(dtype: .i32, shape: [t.rows, t.cols], copying: $0) }
            default:
                return HostTensor(shape: [t.rows, t.cols], floats: (0..<t.count).map { Float(get(t, $0)) })
            }
        }
    }

    public func readTokens(_ tensor: T) throws -> [Int32] {
        (0..<tensor.count).map { Int32(get(tensor, $0)) }
    }

    // MARK: Ops

    public func embed(table: T, ids: T, out: T) {
        for i in 0..<ids.count {
            let row = Int(get(ids, i))
            for c in 0..<table.cols { set(out, i * out.cols + c, at(table, row, c)) }
        }
    }

    public func rmsNorm(_ x: T, weight: T, eps: Float, out: T) {
        for r in 0..<x.rows {
            let row = (0..<x.cols).map { at(x, r, $0) }
            let meanSquare = row.reduce(0) { $0 + $1 * $1 } / Double(x.cols)
            let inverse = 1 / (meanSquare + Double(eps)).squareRoot()
            for c in 0..<x.cols { set(out, r * out.cols + c, get(weight, c) * row[c] * inverse) }
        }
    }

    public func linear(_ x: T, weight: T, bias: T?, out: T, accumulate: Bool) {
        for r in 0..<x.rows {
            for o in 0..<weight.rows {
                var sum = 0.0
                for k in 0..<x.cols { sum += at(x, r, k) * at(weight, o, k) }
                if let bias { sum += get(bias, o) }
                let index = r * out.cols + o
                set(out, index, accumulate ? get(out, index) + sum : sum)
            }
        }
    }

    public func rope(_ x: T, heads: Int, cos: T, sin: T, pairing: RoPEPairing) {
        let half = cos.cols
        for r in 0..<x.rows {
            for h in 0..<heads {
                for i in 0..<half {
                    let head = r * x.cols + h * 2 * half
                    let a = pairing == .halves ? head + i : head + 2 * i
                    let b = pairing == .halves ? a + half : a + 1
                    let x1 = get(x, a), x2 = get(x, b)
                    let c = at(cos, r, i), s = at(sin, r, i)
                    set(x, a, x1 * c - x2 * s)
                    set(x, b, x2 * c + x1 * s)
                }
            }
        }
    }

    public func attention(q: T, keys: T, values: T, heads: Int, kvHeads: Int, scale: Float, layout: AttentionLayout<Buffer>, out: T) {
        let headDim = q.cols / heads, group = heads / kvHeads
        for i in 0..<q.rows {
            let visible = Int(at(layout.rows, i, 0)), first = Int(at(layout.rows, i, 1))
            let cacheRows = (0..<visible).map { s in
                Int(get(layout.blocks, first + s / layout.blockSize)) * layout.blockSize + s % layout.blockSize
            }
            for h in 0..<heads {
                let kv = (h / group) * headDim
                var scores = cacheRows.map { row -> Double in
                    (0..<headDim).reduce(0.0) { $0 + at(q, i, h * headDim + $1) * at(keys, row, kv + $1) } * Double(scale)
                }
                let maximum = scores.max() ?? 0
                scores = scores.map { exp($0 - maximum) }
                let total = scores.reduce(0, +)
                for d in 0..<headDim {
                    let value = cacheRows.indices.reduce(0.0) { $0 + scores[$1] * at(values, cacheRows[$1], kv + d) } / total
                    set(out, i * out.cols + h * headDim + d, value)
                }
            }
        }
    }

    public func scatterRows(_ src: T, indices: T, into dst: T) {
        for i in 0..<src.rows {
            let row = Int(get(indices, i))
            for c in 0..<src.cols { set(dst, row * dst.cols + c, at(src, i, c)) }
        }
    }

    public func siluMul(gate: T, up: T, out: T) {
        for i in 0..<gate.count {
            let g = get(gate, i)
            set(out, i, g / (1 + exp(-g)) * get(up, i))
        }
    }

    public func silu(_ x: T, out: T) {
        for i in 0..<x.count {
            let v = get(x, i)
            set(out, i, v / (1 + exp(-v)))
        }
    }

    public func meanRows(_ x: T, segments: T, out: T) {
        for j in 0..<segments.rows {
            let start = Int(at(segments, j, 0)), count = Int(at(segments, j, 1))
            for c in 0..<x.cols {
                set(out, j * out.cols + c, (start..<(start + count)).reduce(0.0) { $0 + at(x, $1, c) } / Double(count))
            }
        }
    }

    public func concatColumns(_ a: T, _ b: T, out: T) {
        for r in 0..<a.rows {
            for c in 0..<a.cols { set(out, r * out.cols + c, at(a, r, c)) }
            for c in 0..<b.cols { set(out, r * out.cols + a.cols + c, at(b, r, c)) }
        }
    }

    public func sigmoid(_ x: T, out: T) {
        for i in 0..<x.count { set(out, i, 1 / (1 + exp(-get(x, i)))) }
    }

    public func argmax(_ x: T, out: T) {
        for r in 0..<x.rows {
            var best = 0
            for c in 0..<x.cols where at(x, r, c) > at(x, r, best) { best = c }
            let finite = (0..<x.cols).allSatisfy { at(x, r, $0).isFinite }
            set(out, r, finite ? Double(best) : -1)
        }
    }
}
