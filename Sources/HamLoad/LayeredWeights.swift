import HamCore

/// The tensors of several sources as one, each name held by exactly one of them: a HAMburger
/// model directory's own modules (its safetensors) over the base model in a GGUF file. A name in
/// two sources is refused when they are put together, so no tensor is silently shadowed.
public final class LayeredWeights: WeightSource, @unchecked Sendable {
    private let sources: [any WeightSource]
    private let owner: [String: Int]

    public init(_ sources: [any WeightSource]) throws {
        var owner: [String: Int] = [:]
        for (i, source) in sources.enumerated() {
            for name in source.names {
                if let other = owner[name] {
                    throw LoadError.malformed(path: source.sourcePath, detail: "tensor '\(name)' is also in \(sources[other].sourcePath); each tensor must come from one file")
                }
                owner[name] = i
            }
        }
        self.sources = sources
        self.owner = owner
    }

    public var sourcePath: String { sources.map(\.sourcePath).joined(separator: " + ") }
    public var names: [String] { owner.keys.sorted() }
    public func contains(_ name: String) -> Bool { owner[name] != nil }
    public func dtype(of name: String) -> DType? { owner[name].flatMap { sources[$0].dtype(of: name) } }

    public func tensor(_ name: String, shape: [Int]) throws -> HostTensor {
        guard let i = owner[name] else { throw LoadError.missingTensor(path: sourcePath, tensor: name) }
        return try sources[i].tensor(name, shape: shape)
    }
}
