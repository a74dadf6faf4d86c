import Foundation
import HamCore
import HamJSON
import HamLoad

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes `.safetensors` files: the header is padded with spaces to a multiple of 8 bytes so
/// every tensor stays aligned, and the file appears only once it is complete.
public enum SafeTensorsWriter {
    public static func write(_ tensors: [(name: String, tensor: HostTensor)], metadata: [String: String] = ["format": "pt"], to path: String) throws {
        let headerBytes = header(tensors.map { ($0.name, $0.tensor.dtype, $0.tensor.shape) }, metadata: metadata)
        let dataLength = tensors.reduce(0) { $0 + $1.tensor.byteCount }

        var output = Data(capacity: headerBytes.count + dataLength)
        output.append(contentsOf: headerBytes)
        for (_, tensor) in tensors { output.append(contentsOf: tensor.bytes) }
        try writeAtomically(output, to: path)
    }

    /// The header length and the header, padded with spaces to a multiple of 8 bytes. Tensors of
    /// a block type are written as U8 matrices of their blocks (`[rows, cols / block · bytes]`),
    /// and the metadata names each one's type (`"quantization.<name>": "q4_k"`) so a loader knows
    /// what those bytes are.
    static func header(_ tensors: [(name: String, dtype: DType, shape: [Int])], metadata: [String: String]) -> [UInt8] {
        var header = "{"
        var parts: [String] = []
        var metadata = metadata
        for (name, dtype, _) in tensors where dtype.isQuantized { metadata[WeightStore.quantizationKey(for: name)] = dtype.rawValue }
        if !metadata.isEmpty {
            let fields = metadata.sorted { $0.key < $1.key }.map { "\(JSONText.quoted($0.key)):\(JSONText.quoted($0.value))" }
            parts.append("\"__metadata__\":{\(fields.joined(separator: ","))}")
        }
        var offset = 0
        for (name, dtype, shape) in tensors {
            let end = offset + dtype.bytes(shape.reduce(1, *))
            let stored = dtype.isQuantized ? [shape[0], dtype.bytes(shape.dropFirst().reduce(1, *))] : shape
            let dims = stored.map(String.init).joined(separator: ",")
            parts.append("\(JSONText.quoted(name)):{\"dtype\":\"\(dtype.safetensorsName)\",\"shape\":[\(dims)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        header += parts.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        var result: [UInt8] = []
        result.reserveCapacity(8 + headerBytes.count)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { result.append(contentsOf: $0) }
        return result + headerBytes
    }

}

/// Writes next to the destination and renames, so a failed write never leaves half a file.
func writeAtomically(_ data: Data, to path: String) throws {
    let temporary = path + ".partial"
    unlink(temporary)  // a leftover of an interrupted run
    try OutputFile.write([UInt8](data), to: temporary)
    guard rename(temporary, path) == 0 else {
        let code = errno
        unlink(temporary)
        throw ConvertError(writing: path, errno: code)
    }
}
