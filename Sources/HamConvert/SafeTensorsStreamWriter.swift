import Foundation
import HamCore
import HamLoad

#if canImport(Glibc)
private let systemWrite = Glibc.write
#elseif canImport(Darwin)
private let systemWrite = Darwin.write
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
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else {
            throw LoadError.unreadable(path: path, reason: "cannot write: \(String(cString: strerror(errno)))")
        }
        var closed = false
        do {
            try writeAll(fd, header(tensors.map { ($0.name, $0.dtype, $0.shape) }, metadata: metadata), path: path)
            for pending in tensors {
                let tensor = try pending.produce()
                guard tensor.dtype == pending.dtype, tensor.shape == pending.shape else {
                    throw LoadError.malformed(path: path, detail: "tensor '\(pending.name)' was announced as \(pending.dtype.safetensorsName) \(pending.shape) but is \(tensor.dtype.safetensorsName) \(tensor.shape)")
                }
                try withExtendedLifetime(tensor) { try writeAll(fd, tensor.bytes, path: path) }
            }
            closed = true
            guard close(fd) == 0 else {
                throw LoadError.unreadable(path: path, reason: "cannot write: \(String(cString: strerror(errno)))")
            }
            guard rename(temporary, path) == 0 else {
                throw LoadError.unreadable(path: path, reason: "cannot rename \(temporary) into place: \(String(cString: strerror(errno)))")
            }
        } catch {
            if !closed { close(fd) }
            unlink(temporary)
            throw error
        }
    }

    private static func writeAll<Bytes: ContiguousBytes>(_ fd: Int32, _ bytes: Bytes, path: String) throws {
        try bytes.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                guard let base = buffer.baseAddress else { return }
                // Linux writes at most about 2 GiB per call; smaller calls also keep EINTR cheap.
                let count = systemWrite(fd, base + done, min(buffer.count - done, 1 << 30))
                if count < 0 {
                    if errno == EINTR { continue }
                    throw LoadError.unreadable(path: path, reason: "cannot write: \(String(cString: strerror(errno)))")
                }
                done += count
            }
        }
    }
}
