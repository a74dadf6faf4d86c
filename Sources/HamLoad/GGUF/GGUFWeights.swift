import HamCore

/// A GGUF file's tensors under the Hugging Face names the model code asks for, shapes outermost
/// first (GGUF stores ggml's innermost-first dims), in their stored types and without copies.
/// The q and k rows stay as llama.cpp's converter permuted them: the config of a GGUF model pairs
/// RoPE elements `.adjacent`, which computes the same attention on them.
public final class GGUFWeights: WeightSource, @unchecked Sendable {
    public let file: GGUFFile
    private let byHuggingFace: [String: String]

    public init(file: GGUFFile) {
        self.file = file
        var map: [String: String] = [:]
        for name in file.tensorNames {
            map[GGUFTensorNames.huggingFace(name) ?? name] = name
        }
        byHuggingFace = map
    }

    public var sourcePath: String { file.path }

    /// Hugging Face names where there is one, the GGUF name otherwise (`rope_freqs.weight`).
    public var names: [String] { byHuggingFace.keys.sorted() }

    public func contains(_ name: String) -> Bool { byHuggingFace[name] != nil }

    public func dtype(of name: String) -> DType? {
        byHuggingFace[name].flatMap { file.tensors[$0]?.type.dtype }
    }

    public func tensor(_ name: String, shape: [Int]) throws -> HostTensor {
        guard let stored = byHuggingFace[name], let info = file.tensors[stored] else {
            throw LoadError.missingTensor(path: file.path, tensor: GGUFTensorNames.gguf(name) ?? name)
        }
        guard info.shape == shape else {
            throw LoadError.shapeMismatch(path: file.path, tensor: stored, expected: shape, found: info.shape)
        }
        return try file.tensor(stored)
    }
}
