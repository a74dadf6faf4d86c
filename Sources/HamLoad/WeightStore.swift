import Foundation
import HamCore
import HamJSON

/// The tensors of a model directory: one `model.safetensors`, or Hugging Face shards listed by
/// `model.safetensors.index.json`. Lookups check the shape and say which file lacks what.
public final class WeightStore: WeightSource, @unchecked Sendable {
    private var files: [String: SafeTensorsFile] = [:]
    private var location: [String: String] = [:]
    /// What error messages name: the single file, or the index of the shards.
    public let sourcePath: String

    public init(directory: String) throws {
        let single = (directory as NSString).appendingPathComponent("model.safetensors")
        let index = (directory as NSString).appendingPathComponent("model.safetensors.index.json")
        if FileManager.default.fileExists(atPath: single) {
            sourcePath = single
            let file = try SafeTensorsFile(path: single)
            files[single] = file
            for name in file.entries.keys { location[name] = single }
        } else if FileManager.default.fileExists(atPath: index) {
            sourcePath = index
            let map = try withLoadErrors {
                try JSONDocument(readFile(index, limit: jsonFileLimit), source: index).root.required("weight_map").object().members
                    .map { (name: $0.name, shard: try $0.value.string()) }
            }
            for (name, shard) in map {
                guard !shard.contains("/") else {
                    throw LoadError.invalidField(path: index, field: "weight_map.\(name)", detail: "is '\(shard)'; expected a file name in the same directory")
                }
                let shardPath = (directory as NSString).appendingPathComponent(shard)
                if files[shardPath] == nil { files[shardPath] = try SafeTensorsFile(path: shardPath) }
                guard files[shardPath]?.entries[name] != nil else {
                    throw LoadError.missingTensor(path: shardPath, tensor: name)
                }
                location[name] = shardPath
            }
        } else {
            throw LoadError.fileNotFound(path: single)
        }
    }

    public var names: [String] { location.keys.sorted() }

    public func contains(_ name: String) -> Bool { location[name] != nil }

    public func dtype(of name: String) -> DType? {
        guard let path = location[name] else { return nil }
        return files[path]?.entries[name]?.dtype
    }

    /// Metadata key of a file whose U8 tensors are packed q8_0 blocks (`hamrun quantize`).
    public static let quantizationKey = "quantization"

    /// The tensor `name`, which must have `shape`.
    public func tensor(_ name: String, shape: [Int]) throws -> HostTensor {
        guard let path = location[name], let file = files[path] else {
            throw LoadError.missingTensor(path: sourcePath, tensor: name)
        }
        var tensor = try file.tensor(name)
        if tensor.dtype == .u8 {
            // Packed q8_0 blocks: [rows, cols / 32 · 34] bytes standing for [rows, cols] elements.
            guard file.metadata[Self.quantizationKey] == DType.q8_0.rawValue else {
                throw LoadError.dtypeNotAllowed(path: path, tensor: name, dtype: "U8", expected: "F32, F16 or BF16 (U8 only in q8_0 files)")
            }
            let logical = [tensor.shape.first ?? 0, (tensor.shape.dropFirst().first ?? 0) / 34 * 32]
            guard shape.count == 2, tensor.shape.count == 2, shape[1] % 32 == 0, logical == shape,
                  tensor.shape[1] == DType.q8_0.bytes(shape[1]) else {
                throw LoadError.shapeMismatch(path: path, tensor: name, expected: shape, found: logical)
            }
            tensor = HostTensor(dtype: .q8_0, shape: shape, data: tensor.data, owner: tensor.owner)
        }
        guard tensor.shape == shape else {
            throw LoadError.shapeMismatch(path: path, tensor: name, expected: shape, found: tensor.shape)
        }
        guard tensor.dtype != .i32 else {
            throw LoadError.dtypeNotAllowed(path: path, tensor: name, dtype: "I32", expected: "F32, F16, BF16 or q8_0")
        }
        return tensor
    }
}
