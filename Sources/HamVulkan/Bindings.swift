import CVulkan

/// The buffers of one command (up to `capacity`), in binding order, with whether the command
/// writes each: what descriptors are made of and what barriers are decided on. A fixed-size
/// value, so recording a dispatch allocates nothing.
struct Bindings {
    struct Entry {
        /// nil for the backend's own buffers (the placeholder of an absent bias), which no
        /// hazard concerns.
        let owner: VulkanBuffer?
        let handle: VkBuffer
        /// Identifies (buffer, piece) for cached descriptor sets; never reused.
        let key: UInt64
        let writes: Bool
    }

    static let capacity = 8
    private var e0, e1, e2, e3, e4, e5, e6, e7: Entry?
    /// Entries appended (beyond `capacity` they are dropped, and the dispatch is refused).
    private(set) var count = 0

    init() {}

    mutating func append(_ buffer: VulkanBuffer, piece: Int = 0, writes: Bool = false) {
        append(Entry(owner: buffer, handle: buffer.pieces[piece].allocation.buffer,
                     key: buffer.id << 8 | UInt64(piece), writes: writes))
    }

    mutating func append(_ entry: Entry) {
        switch count {
        case 0: e0 = entry
        case 1: e1 = entry
        case 2: e2 = entry
        case 3: e3 = entry
        case 4: e4 = entry
        case 5: e5 = entry
        case 6: e6 = entry
        case 7: e7 = entry
        default: break
        }
        count += 1
    }

    subscript(index: Int) -> Entry? {
        switch index {
        case 0: e0
        case 1: e1
        case 2: e2
        case 3: e3
        case 4: e4
        case 5: e5
        case 6: e6
        case 7: e7
        default: nil
        }
    }
}

/// The push constants of one dispatch: 32-bit words (floats by bit pattern), at most 16 (more
/// are counted but not kept, and the dispatch is refused).
struct PushConstants {
    private var words: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32,
                        UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    private(set) var count = 0

    init(_ values: Int...) {
        for value in values { append(value) }
    }

    /// Sizes and element offsets; the callers keep them below 2³² (bindings are at most 4 GiB).
    mutating func append(_ value: Int) {
        append(bits: UInt32(truncatingIfNeeded: value))
    }

    mutating func append(_ value: Float) {
        append(bits: value.bitPattern)
    }

    private mutating func append(bits: UInt32) {
        defer { count += 1 }
        guard count < 16 else { return }
        withUnsafeMutableBytes(of: &words) { raw in
            raw.storeBytes(of: bits, toByteOffset: count * 4, as: UInt32.self)
        }
    }

    func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeBytes(of: words) { body(UnsafeRawBufferPointer(rebasing: $0.prefix(count * 4))) }
    }
}
