import CBLAS

/// Which of OpenBLAS's kernels prefill's sgemm runs on ("Haswell": AVX2; "SkylakeX",
/// "Cooperlake": AVX-512). OpenBLAS picks them by processor when it loads, unless
/// `OPENBLAS_CORETYPE` names them; on the development machine the environment pins "Haswell",
/// which makes sgemm about a third slower than the "Cooperlake" kernels OpenBLAS picks itself
/// (113 against 172 GFLOP/s on one core). The backend's name shows the choice.
public enum BLASKernels {
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }
}
