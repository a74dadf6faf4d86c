#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Anonymous memory the kernel hands out zero-filled page by page: a large KV-cache budget costs
/// resident memory only where blocks have been written, so a budget sized for many sequences
/// costs one sequence's memory when one runs.
final class ZeroPages: @unchecked Sendable {
    /// Smaller allocations (activations) are plain heap memory.
    static let threshold = 1 << 20

    let pointer: UnsafeMutableRawPointer
    let byteCount: Int

    init(byteCount: Int) throws {
        let mapped = mmap(nil, byteCount, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw CPUBackendError.outOfMemory(bytes: byteCount)
        }
        pointer = mapped
        self.byteCount = byteCount
    }

    deinit { munmap(pointer, byteCount) }
}

/// What the CPU backend can fail at.
public enum CPUBackendError: Error, CustomStringConvertible {
    case outOfMemory(bytes: Int)

    public var description: String {
        switch self {
        case .outOfMemory(let bytes): "cannot allocate \(bytes >> 20) MiB of memory for the CPU backend"
        }
    }
}
