import CVulkan
import Foundation

/// How dependent commands are ordered inside a command buffer.
public enum BarrierMode: String, Sendable {
    /// A memory barrier only where a command touches a buffer that a command since the last
    /// barrier wrote (or writes one it read): independent dispatches (q, k and v projections)
    /// may overlap.
    case tracked
    /// A memory barrier before every command: the simplest correct order.
    case everyCommand
}

/// Counters of what the stream did, for measurements.
public struct VulkanStatistics: Sendable {
    public var dispatches = 0
    public var transfers = 0
    public var barriers = 0
    public var submissions = 0
    /// Host time spent in vkQueueSubmit and waiting for the fence.
    public var submitSeconds = 0.0
}

/// The main command buffer: commands are recorded as ops are enqueued and submitted only at a
/// sync point, then waited for. Between dependent commands it records pipeline barriers; host
/// writes go in order with the ops (vkCmdUpdateBuffer up to 64 KiB, else through a staging ring);
/// reads copy into a host-visible buffer at the end of the submission.
///
/// Hazard tracking uses epochs: every barrier starts a new epoch, and each buffer remembers the
/// epoch of its last read and write. Epochs continue across submissions, which matters because a
/// barrier's first scope includes the earlier submissions on the queue.
final class CommandStream {
    let context: VulkanContext
    let barrierMode: BarrierMode
    private let pool: VkCommandPool
    private let commandBuffer: VkCommandBuffer
    private let fence: VkFence
    private(set) var recording = false
    private var commandsRecorded = 0
    private var epoch = 0
    private var serial: UInt64 = 1
    /// Called with the ids of buffers destroyed after a submission (stale descriptor sets).
    var onBuffersDestroyed: (([UInt64]) -> Void)?
    private(set) var statistics = VulkanStatistics()
    /// Records no barriers at all: only for the test that shows synchronization validation
    /// catches a missing one.
    var omitBarriers = false

    private var ring: DeviceAllocation?
    private var ringCursor = 0
    private var readback: DeviceAllocation?

    static let updateLimit = 65536

    init(context: VulkanContext, barrierMode: BarrierMode) throws {
        self.context = context
        self.barrierMode = barrierMode
        let f = context.functions, device = context.device

        var poolInfo = VkCommandPoolCreateInfo()
        poolInfo.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO
        poolInfo.flags = VkCommandPoolCreateFlags(VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT.rawValue)
        poolInfo.queueFamilyIndex = context.queueFamily
        var pool: VkCommandPool?
        try check(f.createCommandPool(device, &poolInfo, nil, &pool), "vkCreateCommandPool")
        guard let pool else { throw VulkanError.call(function: "vkCreateCommandPool", result: VK_ERROR_UNKNOWN.rawValue) }

        var allocateInfo = VkCommandBufferAllocateInfo()
        allocateInfo.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO
        allocateInfo.commandPool = pool
        allocateInfo.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY
        allocateInfo.commandBufferCount = 1
        var commandBuffer: VkCommandBuffer?
        var fenceInfo = VkFenceCreateInfo()
        fenceInfo.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO
        var fence: VkFence?
        do {
            try check(f.allocateCommandBuffers(device, &allocateInfo, &commandBuffer), "vkAllocateCommandBuffers")
            try check(f.createFence(device, &fenceInfo, nil, &fence), "vkCreateFence")
        } catch {
            f.destroyCommandPool(device, pool, nil)
            throw error
        }
        guard let commandBuffer, let fence else {
            f.destroyCommandPool(device, pool, nil)
            throw VulkanError.call(function: "vkAllocateCommandBuffers", result: VK_ERROR_UNKNOWN.rawValue)
        }
        self.pool = pool
        self.commandBuffer = commandBuffer
        self.fence = fence
    }

    /// Destroys everything; nothing may be pending (call after a sync).
    func destroy() {
        let f = context.functions, device = context.device
        if recording { _ = f.endCommandBuffer(commandBuffer) }
        f.destroyFence(device, fence, nil)
        f.destroyCommandPool(device, pool, nil)
        if let ring { context.destroy(ring) }
        if let readback { context.destroy(readback) }
        ring = nil
        readback = nil
    }

    var hasPendingCommands: Bool { recording && commandsRecorded > 0 }

    // MARK: Recording

    private func begin() throws {
        guard !recording else { return }
        var info = VkCommandBufferBeginInfo()
        info.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO
        info.flags = VkCommandBufferUsageFlags(VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT.rawValue)
        try check(context.functions.beginCommandBuffer(commandBuffer, &info), "vkBeginCommandBuffer")
        recording = true
        commandsRecorded = 0
    }

    /// Records a barrier first if the command about to be recorded depends on one since the
    /// last barrier, then marks its buffers.
    private func order(_ bindings: Bindings) {
        var needed = barrierMode == .everyCommand && commandsRecorded > 0
        for i in 0..<bindings.count {
            guard let entry = bindings[i], let buffer = entry.owner else { continue }
            if buffer.writeEpoch == epoch || (entry.writes && buffer.readEpoch == epoch) { needed = true }
        }
        if needed && !omitBarriers { barrier() }
        for i in 0..<bindings.count {
            guard let entry = bindings[i], let buffer = entry.owner else { continue }
            if entry.writes { buffer.writeEpoch = epoch } else { buffer.readEpoch = epoch }
        }
        commandsRecorded += 1
    }

    private func barrier() {
        var memoryBarrier = VkMemoryBarrier()
        memoryBarrier.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER
        memoryBarrier.srcAccessMask = VkAccessFlags(VK_ACCESS_SHADER_WRITE_BIT.rawValue | VK_ACCESS_TRANSFER_WRITE_BIT.rawValue)
        memoryBarrier.dstAccessMask = VkAccessFlags(VK_ACCESS_SHADER_READ_BIT.rawValue | VK_ACCESS_SHADER_WRITE_BIT.rawValue
            | VK_ACCESS_TRANSFER_READ_BIT.rawValue | VK_ACCESS_TRANSFER_WRITE_BIT.rawValue)
        let stages = VkPipelineStageFlags(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT.rawValue | VK_PIPELINE_STAGE_TRANSFER_BIT.rawValue)
        context.functions.cmdPipelineBarrier(commandBuffer, stages, stages, 0, 1, &memoryBarrier, 0, nil, 0, nil)
        epoch += 1
        statistics.barriers += 1
    }

    /// Records one dispatch of `groups` workgroups, folded into x and y when there are more
    /// than the device allows in x (shaders index by GROUP_INDEX and ignore the excess).
    func dispatch(_ pipeline: Pipeline, _ bindings: Bindings, _ push: PushConstants, groups: Int,
                  groupsY: Int = 1, binder: DescriptorBinder) throws {
        guard groups > 0, groupsY > 0 else { return }
        try begin()
        order(bindings)
        let f = context.functions
        f.cmdBindPipeline(commandBuffer, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.handle)
        try binder.bind(bindings, pipeline: pipeline, commandBuffer: commandBuffer)
        push.withBytes { bytes in
            f.cmdPushConstants(commandBuffer, pipeline.layout, VkShaderStageFlags(VK_SHADER_STAGE_COMPUTE_BIT.rawValue),
                               0, UInt32(bytes.count), bytes.baseAddress)
        }
        var x = groups, y = groupsY
        if groupsY == 1 && groups > context.maxGroupsX {
            x = context.maxGroupsX
            y = (groups + x - 1) / x
        }
        f.cmdDispatch(commandBuffer, UInt32(x), UInt32(y), 1)
        statistics.dispatches += 1
    }

    /// `bytes` from `source` at `sourceOffset` to `destination` at `destinationOffset`.
    func copy(from source: Bindings.Entry, at sourceOffset: Int, to destination: Bindings.Entry, at destinationOffset: Int, bytes: Int) throws {
        guard bytes > 0 else { return }
        try begin()
        var bindings = Bindings()
        bindings.append(source)
        bindings.append(destination)
        order(bindings)
        var region = VkBufferCopy(srcOffset: VkDeviceSize(sourceOffset), dstOffset: VkDeviceSize(destinationOffset), size: VkDeviceSize(bytes))
        context.functions.cmdCopyBuffer(commandBuffer, source.handle, destination.handle, 1, &region)
        statistics.transfers += 1
    }

    /// Zero-fills `bytes` (a multiple of 4) of `destination`.
    func fill(_ destination: Bindings.Entry, bytes: Int) throws {
        try begin()
        var bindings = Bindings()
        bindings.append(destination)
        order(bindings)
        context.functions.cmdFillBuffer(commandBuffer, destination.handle, 0, VkDeviceSize(bytes), 0)
        statistics.transfers += 1
    }

    /// Writes `data` (a multiple of 4 bytes, at a multiple of 4) into `destination` in order
    /// with the recorded ops: inline in the command buffer up to 64 KiB, else through the ring.
    func write(_ data: UnsafeRawBufferPointer, to destination: Bindings.Entry, at offset: Int) throws {
        guard let base = data.baseAddress, data.count > 0 else { return }
        if data.count <= Self.updateLimit {
            try begin()
            var bindings = Bindings()
            bindings.append(destination)
            order(bindings)
            context.functions.cmdUpdateBuffer(commandBuffer, destination.handle, VkDeviceSize(offset), VkDeviceSize(data.count), base)
            statistics.transfers += 1
            return
        }
        let (ring, start) = try reserveRing(bytes: data.count)
        guard let mapped = ring.mapped else { throw VulkanError.unsupported("staging memory is not mapped") }
        (mapped + start).copyMemory(from: base, byteCount: data.count)
        let source = Bindings.Entry(owner: nil, handle: ring.buffer, key: 0, writes: false)
        try copy(from: source, at: start, to: destination, at: offset, bytes: data.count)
    }

    /// Space in the staging ring. The ring is reused after each completed submission; when the
    /// pending commands fill it, they are submitted first.
    private func reserveRing(bytes: Int) throws -> (DeviceAllocation, Int) {
        let aligned = (bytes + 255) & ~255
        if let ring, ringCursor + aligned <= ring.bytes {
            defer { ringCursor += aligned }
            return (ring, ringCursor)
        }
        if ringCursor > 0 { try submitAndWait() }
        if ring == nil || (ring?.bytes ?? 0) < aligned {
            if let old = ring { context.destroy(old) }
            ring = nil
            ring = try context.allocate(bytes: max(aligned, 4 << 20), kind: .upload)
        }
        guard let ring else { throw VulkanError.outOfHostMemory }
        ringCursor = aligned
        return (ring, 0)
    }

    // MARK: Submission

    /// Ends, submits and waits for the recorded commands; then frees what died meanwhile.
    func submitAndWait() throws {
        guard recording else { return }
        let f = context.functions
        recording = false
        let clock = ContinuousClock.now
        defer { statistics.submitSeconds += (ContinuousClock.now - clock).seconds }
        try endSubmitAndWait(commandBuffer)
        try check(f.resetCommandBuffer(commandBuffer, 0), "vkResetCommandBuffer")
        ringCursor = 0
        let destroyed = context.completed(serial: serial)
        serial += 1
        if !destroyed.isEmpty { onBuffersDestroyed?(destroyed) }
    }

    /// Copies byte ranges of device buffers into host memory: records the copies at the end of
    /// the pending commands, submits, waits, and hands `body` the bytes in the order given.
    func read(_ ranges: [(entry: Bindings.Entry, offset: Int, bytes: Int)], _ body: (UnsafeRawBufferPointer) -> Void) throws {
        let total = ranges.reduce(0) { $0 + $1.bytes }
        if (readback?.bytes ?? 0) < total {
            // Only reads use the read-back buffer, and each ends with a wait: nothing pending uses it.
            if let old = readback { context.destroy(old) }
            readback = nil
            readback = try context.allocate(bytes: max(total, 1 << 16), kind: .readback)
        }
        guard let readback, let mapped = readback.mapped else { throw VulkanError.outOfHostMemory }
        let target = Bindings.Entry(owner: nil, handle: readback.buffer, key: 0, writes: true)
        var position = 0
        for range in ranges {
            try copy(from: range.entry, at: range.offset, to: target, at: position, bytes: range.bytes)
            position += range.bytes
        }
        try begin()
        var hostBarrier = VkMemoryBarrier()
        hostBarrier.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER
        hostBarrier.srcAccessMask = VkAccessFlags(VK_ACCESS_TRANSFER_WRITE_BIT.rawValue)
        hostBarrier.dstAccessMask = VkAccessFlags(VK_ACCESS_HOST_READ_BIT.rawValue)
        context.functions.cmdPipelineBarrier(commandBuffer, VkPipelineStageFlags(VK_PIPELINE_STAGE_TRANSFER_BIT.rawValue),
                                             VkPipelineStageFlags(VK_PIPELINE_STAGE_HOST_BIT.rawValue), 0, 1, &hostBarrier, 0, nil, 0, nil)
        try submitAndWait()
        if !readback.coherent {
            var range = VkMappedMemoryRange()
            range.sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE
            range.memory = readback.memory
            range.offset = 0
            range.size = VkDeviceSize(VK_WHOLE_SIZE)
            try check(context.functions.invalidateMappedMemoryRanges(context.device, 1, &range), "vkInvalidateMappedMemoryRanges")
        }
        body(UnsafeRawBufferPointer(start: mapped, count: total))
    }

    /// Runs `record` in a command buffer of its own, submitted and waited for at once (weight
    /// uploads, which must not wait for the next sync point to free their staging memory). A
    /// barrier at its end orders the copies before every later command on the queue.
    func immediately(_ record: (VkCommandBuffer) -> Void) throws {
        let f = context.functions
        var allocateInfo = VkCommandBufferAllocateInfo()
        allocateInfo.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO
        allocateInfo.commandPool = pool
        allocateInfo.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY
        allocateInfo.commandBufferCount = 1
        var handle: VkCommandBuffer?
        try check(f.allocateCommandBuffers(context.device, &allocateInfo, &handle), "vkAllocateCommandBuffers")
        guard let oneShot = handle else { throw VulkanError.call(function: "vkAllocateCommandBuffers", result: VK_ERROR_UNKNOWN.rawValue) }
        defer {
            var freed: VkCommandBuffer? = oneShot
            context.functions.freeCommandBuffers(context.device, pool, 1, &freed)
        }
        var beginInfo = VkCommandBufferBeginInfo()
        beginInfo.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO
        beginInfo.flags = VkCommandBufferUsageFlags(VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT.rawValue)
        try check(f.beginCommandBuffer(oneShot, &beginInfo), "vkBeginCommandBuffer")
        record(oneShot)
        var after = VkMemoryBarrier()
        after.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER
        after.srcAccessMask = VkAccessFlags(VK_ACCESS_TRANSFER_WRITE_BIT.rawValue)
        after.dstAccessMask = VkAccessFlags(VK_ACCESS_SHADER_READ_BIT.rawValue | VK_ACCESS_TRANSFER_READ_BIT.rawValue)
        f.cmdPipelineBarrier(oneShot, VkPipelineStageFlags(VK_PIPELINE_STAGE_TRANSFER_BIT.rawValue),
                             VkPipelineStageFlags(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT.rawValue | VK_PIPELINE_STAGE_TRANSFER_BIT.rawValue),
                             0, 1, &after, 0, nil, 0, nil)
        try endSubmitAndWait(oneShot)
    }

    /// Ends `buffer`, submits it alone with the stream's fence and waits for it.
    private func endSubmitAndWait(_ buffer: VkCommandBuffer) throws {
        let f = context.functions
        try check(f.endCommandBuffer(buffer), "vkEndCommandBuffer", device: context.info.summary)
        var handle: VkCommandBuffer? = buffer
        let submitted = withUnsafePointer(to: &handle) { pointer in
            var info = VkSubmitInfo()
            info.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO
            info.commandBufferCount = 1
            info.pCommandBuffers = pointer
            return f.queueSubmit(context.queue, 1, &info, fence)
        }
        try check(submitted, "vkQueueSubmit", device: context.info.summary)
        var fenceHandle: VkFence? = fence
        try check(f.waitForFences(context.device, 1, &fenceHandle, VkBool32(VK_TRUE), UInt64.max), "vkWaitForFences",
                  device: context.info.summary)
        try check(f.resetFences(context.device, 1, &fenceHandle), "vkResetFences")
        statistics.submissions += 1
    }
}

extension Duration {
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) * 1e-18
    }
}
