/// The compute kernels, each one shader of Shaders/ (whose SPIR-V says its bindings and
/// push-constant block: `SPIRV.interface`).
enum Kernel: Int, CaseIterable {
    case matvec, matmul, rmsNorm, rope, attention, elementwise, meanRows, concatColumns, argmax, embed, scatterRows

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
        case .argmax: .argmax
        case .embed: .embed
        case .scatterRows: .scatterRows
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
    case siluMul = 1, silu = 2, sigmoid = 3
}
