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

    /// Metadata keys naming the block type of a U8 tensor (packed blocks, `hamrun quantize`):
    /// `"quantization.<tensor name>"` for one tensor, or `"quantization"` for every U8 tensor of
    /// the file (how files with only q8_0 were first written). docs/MODEL_FORMAT.md.
    public static let quantizationKey = "quantization"

    public static func quantizationKey(for tensor: String) -> String { quantizationKey + "." + tensor }

    /// The tensor `name`, which must have `shape`.
    public func tensor(_ name: String, shape: [Int]) throws -> HostTensor {
        guard let path = location[name], let file = files[path] else {
            throw LoadError.missingTensor(path: sourcePath, tensor: name)
        }
        var tensor = try file.tensor(name)
        if tensor.dtype == .u8 {
            tensor = try blocks(tensor, name: name, shape: shape, file: file)
        }
        guard tensor.shape == shape else {
            throw LoadError.shapeMismatch(path: path, tensor: name, expected: shape, found: tensor.shape)
        }
        guard tensor.dtype != .i32 else {
            throw LoadError.dtypeNotAllowed(path: path, tensor: name, dtype: "I32", expected: "F32, F16, BF16 or a block type")
        }
        return tensor
    }

    /// A U8 tensor as the blocks its metadata names: `[rows, cols / block · bytes]` bytes standing
    /// for `[rows, cols]` elements.
    private func blocks(_ raw: HostTensor, name: String, shape: [Int], file: SafeTensorsFile) throws -> HostTensor {
        let key = Self.quantizationKey(for: name)
        guard let typeName = file.metadata[key] ?? file.metadata[Self.quantizationKey] else {
            throw LoadError.dtypeNotAllowed(path: file.path, tensor: name, dtype: "U8",
                                            expected: "F32, F16 or BF16 (U8 only for packed blocks named by __metadata__ '\(key)')")
        }
        let names = DType.quantized.map(\.rawValue).joined(separator: ", ")
        guard let dtype = DType(rawValue: typeName), dtype.isQuantized else {
            let field = file.metadata[key] != nil ? key : Self.quantizationKey
            throw LoadError.invalidField(path: file.path, field: "__metadata__.\(field)", detail: "is '\(typeName)'; expected one of \(names)")
        }
        let bytesPerRow = raw.shape.count == 2 ? raw.shape[1] : 0
        let logical = [raw.shape.first ?? 0, bytesPerRow / dtype.blockBytes * dtype.blockElements]
        guard shape.count == 2, raw.shape.count == 2, shape[1] % dtype.blockElements == 0, logical == shape,
              bytesPerRow == dtype.bytes(shape[1]) else {
            throw LoadError.shapeMismatch(path: file.path, tensor: name, expected: shape, found: logical)
        }
        return HostTensor(dtype: dtype, shape: shape, data: raw.data, owner: raw.owner)
    }
}
