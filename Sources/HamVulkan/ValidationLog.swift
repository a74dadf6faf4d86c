import Foundation

/// Messages of the Khronos validation layer (through a VK_EXT_debug_utils messenger), kept so
/// tests and `hamrun check` can require that there are none.
public final class ValidationLog: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String] = []

    public init() {}

    public var messages: [String] {
        lock.lock()
        defer { lock.unlock() }
        return entries
    }

    public func clear() {
        lock.lock()
        entries.removeAll()
        lock.unlock()
    }

    func append(_ message: String) {
        lock.lock()
        entries.append(message)
        lock.unlock()
    }
}
