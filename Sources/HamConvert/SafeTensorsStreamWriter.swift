import Foundation
import HamCore
import HamLoad

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension SafeTensorsWriter {
    /// A tensor whose bytes are produced only when it is written, so a multi-gigabyte file never
    /// has to be in memory: a view into a mapped checkpoint costs nothing until then, and a
    /// strided one is copied one tensor at a time.
    public struct PendingTensor {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        public let produce: () throws -> HostTensor

        public init(name: String, dtype: DType, shape: [Int], produce: @escaping () throws -> HostTensor) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.produce = produce
        }
    }

    /// Writes the same file as `write(_:metadata:to:)`, tensor by tensor, into `path.partial`,
    /// and renames it to `path` once complete.
    public static func write(streaming tensors: [PendingTensor], metadata: [String: String] = ["format": "pt"], to path: String) throws {
        let temporary = path + ".partial"
        unlink(temporary)  // a leftover of an interrupted run
        let file = try OutputFile(creating: temporary)
        do {
            try file.write(header(tensors.map { ($0.name, $0.dtype, $0.shape) }, metadata: metadata))
            for pending in tensors {
                let tensor = try pending.produce()
                guard tensor.dtype == pending.dtype, tensor.shape == pending.shape else {
                    throw LoadError.malformed(path: path, detail: "tensor '\(pending.name)' was announced as \(pending.dtype.safetensorsName) \(pending.shape) but is \(tensor.dtype.safetensorsName) \(tensor.shape)")
                }
                try withExtendedLifetime(tensor) { try file.write(tensor.bytes) }
            }
        } catch {
            file.abandon()
            unlink(temporary)
            throw error
        }
        do {
            try file.finish()
            guard rename(temporary, path) == 0 else { throw ConvertError(writing: path, errno: errno) }
        } catch {
            unlink(temporary)
            throw error
        }
    }
}
