/// The compute kernels, each one shader of Shaders/, with its binding count and push-constant
/// size (which must match the shader's `Params` block).
enum Kernel: Int, CaseIterable {
    case matvec, matmul, rmsNorm, rope, attention, elementwise, meanRows, concatColumns, softmax, argmax, embed

    var spirv: SPIRV {
        switch self {
        case .matvec: .matvec
        case .matmul: .matmul
        case .rmsNorm: .rmsNorm
        case .rope: .rope
        case .attention: .attention
        case .elementwise: .elementwise
        case .meanRows: .meanRows
        case .concatColumns: .concatColumns
        case .softmax: .softmax
        case .argmax: .argmax
        case .embed: .embed
        }
    }

    var bindingCount: Int {
        switch self {
        case .matvec, .matmul, .attention: 4
        case .rmsNorm, .rope, .elementwise, .concatColumns, .embed: 3
        case .meanRows, .softmax, .argmax: 2
        }
    }

    /// Words of the shader's push-constant block.
    var pushWords: Int {
        switch self {
        case .matvec, .matmul: 10
        case .rmsNorm: 6
        case .rope: 8
        case .attention: 14
        case .elementwise, .meanRows, .softmax, .argmax: 4
        case .concatColumns: 7
        case .embed: 9
        }
    }

    /// Invocations per workgroup (`BLOCK` in Shaders/common.glsl).
    static let workgroupSize = 128
    /// Rows of x up to which `linear` streams the weights (matvec) instead of tiling (matmul);
    /// MAX_ROWS in Shaders/matvec.comp.
    static let matvecMaxRows = 8
    /// Output tile of matmul (TM × TN in Shaders/matmul.comp).
    static let matmulTile = (rows: 32, cols: 64)
    /// Head dimensions one attention workgroup can hold (DIMS · BLOCK).
    static let attentionMaxHeadDim = 4 * workgroupSize
}

/// Operations of the elementwise kernel (its OP specialization constant).
enum ElementwiseOp: Int32 {
    case add = 0, siluMul = 1, silu = 2, sigmoid = 3
}
