import CVulkan

/// Binds a dispatch's buffers. With VK_KHR_push_descriptor (most desktop drivers, lavapipe) the
/// descriptors are pushed into the command buffer: nothing to allocate or free. Without it,
/// one descriptor set per (kernel, buffer tuple) is allocated on first use and cached, so a
/// decode step, which binds the same buffers every token, allocates nothing; sets of buffers
/// that died are recycled.
final class DescriptorBinder {
    private struct SetKey: Hashable {
        let kernel: Kernel
        let keys: [UInt64]
    }

    private let context: VulkanContext
    private var infos = [VkDescriptorBufferInfo](repeating: VkDescriptorBufferInfo(), count: Bindings.capacity)
    private var writes = [VkWriteDescriptorSet](repeating: VkWriteDescriptorSet(), count: Bindings.capacity)
    private var pools: [VkDescriptorPool] = []
    private var sets: [SetKey: VkDescriptorSet] = [:]
    private var keysByBuffer: [UInt64: [SetKey]] = [:]
    private var spare: [Kernel: [VkDescriptorSet]] = [:]
    private(set) var setsAllocated = 0

    private static let setsPerPool = 256

    init(context: VulkanContext) {
        self.context = context
    }

    func destroy() {
        for pool in pools { context.functions.destroyDescriptorPool(context.device, pool, nil) }
        pools = []
        sets = [:]
        spare = [:]
        keysByBuffer = [:]
    }

    var cachedSetCount: Int { sets.count }

    func bind(_ bindings: Bindings, pipeline: Pipeline, commandBuffer: VkCommandBuffer) throws {
        let count = bindings.count
        for i in 0..<count {
            guard let entry = bindings[i] else { continue }
            infos[i] = VkDescriptorBufferInfo(buffer: entry.handle, offset: 0, range: VkDeviceSize(VK_WHOLE_SIZE))
        }
        if let push = context.functions.cmdPushDescriptorSet {
            fillWrites(count: count, set: nil) { writes in
                push(commandBuffer, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.layout, 0, UInt32(count), writes)
            }
            return
        }
        var set: VkDescriptorSet? = try cachedSet(bindings, pipeline: pipeline)
        context.functions.cmdBindDescriptorSets(commandBuffer, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.layout, 0, 1, &set, 0, nil)
    }

    /// Points `writes[0 ..< count]` at `infos` and calls `body` with them.
    private func fillWrites(count: Int, set: VkDescriptorSet?, _ body: (UnsafePointer<VkWriteDescriptorSet>) -> Void) {
        infos.withUnsafeBufferPointer { infoPointer in
            writes.withUnsafeMutableBufferPointer { writePointer in
                guard let infoBase = infoPointer.baseAddress, let writeBase = writePointer.baseAddress else { return }
                for i in 0..<count {
                    var write = VkWriteDescriptorSet()
                    write.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET
                    write.dstSet = set
                    write.dstBinding = UInt32(i)
                    write.descriptorCount = 1
                    write.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
                    write.pBufferInfo = infoBase + i
                    writePointer[i] = write
                }
                body(writeBase)
            }
        }
    }

    private func cachedSet(_ bindings: Bindings, pipeline: Pipeline) throws -> VkDescriptorSet {
        let key = SetKey(kernel: pipeline.kernel, keys: (0..<bindings.count).map { bindings[$0]?.key ?? 0 })
        if let set = sets[key] { return set }
        let set: VkDescriptorSet
        if let recycled = spare[pipeline.kernel]?.popLast() {
            set = recycled
        } else {
            set = try allocateSet(pipeline.setLayout)
        }
        // A new or recycled set: no pending command buffer uses it (see `recycle`).
        fillWrites(count: bindings.count, set: set) { writes in
            context.functions.updateDescriptorSets(context.device, UInt32(bindings.count), writes, 0, nil)
        }
        sets[key] = set
        for i in 0..<bindings.count {
            guard let entry = bindings[i], entry.owner != nil else { continue }
            keysByBuffer[entry.key >> 8, default: []].append(key)
        }
        return set
    }

    private func allocateSet(_ layout: VkDescriptorSetLayout) throws -> VkDescriptorSet {
        var layoutHandle: VkDescriptorSetLayout? = layout
        for attempt in 0..<2 {
            if let pool = pools.last {
                var set: VkDescriptorSet?
                let result = withUnsafePointer(to: &layoutHandle) { layoutPointer in
                    var info = VkDescriptorSetAllocateInfo()
                    info.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO
                    info.descriptorPool = pool
                    info.descriptorSetCount = 1
                    info.pSetLayouts = layoutPointer
                    return context.functions.allocateDescriptorSets(context.device, &info, &set)
                }
                if result == VK_SUCCESS, let set {
                    setsAllocated += 1
                    return set
                }
                guard result == VK_ERROR_OUT_OF_POOL_MEMORY || result == VK_ERROR_FRAGMENTED_POOL, attempt == 0 else {
                    try check(result, "vkAllocateDescriptorSets")
                    throw VulkanError.call(function: "vkAllocateDescriptorSets", result: result.rawValue)
                }
            }
            try addPool()
        }
        throw VulkanError.call(function: "vkAllocateDescriptorSets", result: VK_ERROR_OUT_OF_POOL_MEMORY.rawValue)
    }

    private func addPool() throws {
        var size = VkDescriptorPoolSize(type: VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, descriptorCount: UInt32(Self.setsPerPool * Bindings.capacity))
        var info = VkDescriptorPoolCreateInfo()
        info.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO
        info.maxSets = UInt32(Self.setsPerPool)
        info.poolSizeCount = 1
        var pool: VkDescriptorPool?
        let result = withUnsafePointer(to: &size) { sizePointer in
            info.pPoolSizes = sizePointer
            return context.functions.createDescriptorPool(context.device, &info, nil, &pool)
        }
        try check(result, "vkCreateDescriptorPool")
        guard let pool else { throw VulkanError.call(function: "vkCreateDescriptorPool", result: VK_ERROR_UNKNOWN.rawValue) }
        pools.append(pool)
    }

    /// Buffers `ids` were destroyed after the command buffers that used them completed: their
    /// sets are free for reuse.
    func recycle(_ ids: [UInt64]) {
        for id in ids {
            guard let keys = keysByBuffer.removeValue(forKey: id) else { continue }
            for key in keys {
                if let set = sets.removeValue(forKey: key) { spare[key.kernel, default: []].append(set) }
            }
        }
    }
}
