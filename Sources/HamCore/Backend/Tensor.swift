/// A matrix that lives on a backend: `rows × cols` elements of `dtype`, row-major, starting
/// `offset` elements into `buffer`. Vectors are one row. Every tensor of the model graph is a
/// matrix: weights are `[out, in]` as in PyTorch, activations `[tokens, features]`.
///
/// A `Tensor` is a cheap value (no heap allocation beyond the shared buffer), so taking a view of
/// some rows inside the decode loop costs nothing.
public struct Tensor<Buffer: AnyObject> {
    public let buffer: Buffer
    public let offset: Int
    public let rows: Int
    public let cols: Int
    public let dtype: DType

    public init(buffer: Buffer, offset: Int = 0, rows: Int, cols: Int, dtype: DType) {
        self.buffer = buffer
        self.offset = offset
        self.rows = rows
        self.cols = cols
        self.dtype = dtype
    }

    public var count: Int { rows * cols }
    public var byteCount: Int { dtype.bytes(count) }

    /// The rows `range` of this tensor, sharing its buffer.
    public func rows(_ range: Range<Int>) -> Tensor {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "rows \(range) outside 0..<\(rows)")
        return Tensor(buffer: buffer, offset: offset + range.lowerBound * cols, rows: range.count, cols: cols, dtype: dtype)
    }

    public func row(_ index: Int) -> Tensor { rows(index..<(index + 1)) }

    /// The same elements seen as `rows × cols`.
    public func reshaped(rows: Int, cols: Int) -> Tensor {
        precondition(rows * cols == count, "cannot view \(self.rows)×\(self.cols) as \(rows)×\(cols)")
        return Tensor(buffer: buffer, offset: offset, rows: rows, cols: cols, dtype: dtype)
    }
}
