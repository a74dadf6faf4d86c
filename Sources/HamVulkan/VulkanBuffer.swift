/// Memory of the Vulkan backend. A tensor's buffer is one or more device buffers ("pieces"),
/// each no larger than one storage-buffer binding may be: only weights bigger than that (a large
/// vocabulary's embedding on a device with a 128 MiB binding limit) have several, split at row
/// boundaries.
public final class VulkanBuffer {
    struct Piece {
        let allocation: DeviceAllocation
        /// Elements (of the buffer's dtype) before this piece.
        let firstElement: Int
        let elementCount: Int
    }

    let context: VulkanContext
    let pieces: [Piece]
    let elementSize: Int
    /// Never reused, unlike Vulkan handles: keys of cached descriptor sets.
    let id: UInt64
    /// Barrier epochs of the last recorded read and write (see `CommandStream`).
    var readEpoch = -1
    var writeEpoch = -1

    init(context: VulkanContext, pieces: [Piece], elementSize: Int) {
        self.context = context
        self.pieces = pieces
        self.elementSize = elementSize
        id = context.makeID()
    }

    deinit {
        context.retire(pieces.map(\.allocation), id: id)
    }

    /// The piece holding element `element`.
    func piece(containing element: Int) -> Int? {
        pieces.firstIndex { element >= $0.firstElement && element < $0.firstElement + $0.elementCount }
    }
}
