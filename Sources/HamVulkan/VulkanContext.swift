import CVulkan
import Foundation

/// One buffer and the memory behind it.
struct DeviceAllocation {
    let buffer: VkBuffer
    let memory: VkDeviceMemory
    let bytes: Int
    /// Host address of the memory, for staging and read-back buffers.
    let mapped: UnsafeMutableRawPointer?
    /// Whether host reads need vkInvalidateMappedMemoryRanges first.
    let coherent: Bool
}

/// Where a buffer's memory lives.
enum MemoryKind {
    /// Weights, KV caches, activations: only the device touches them.
    case deviceLocal
    /// Host writes, device reads (staging).
    case upload
    /// Device writes, host reads.
    case readback
}

/// A logical device with its compute queue, memory types and limits, shared by the backend and
/// by every buffer it made. Buffers retire their memory here when they die; it is destroyed once
/// the command buffer that might still use it has finished.
final class VulkanContext: @unchecked Sendable {
    let instance: VulkanInstance
    let info: VulkanDeviceInfo
    let physicalDevice: VkPhysicalDevice
    let device: VkDevice
    let functions: DeviceFunctions
    let queue: VkQueue
    let queueFamily: UInt32
    let usesPushDescriptors: Bool
    /// Largest buffer one descriptor may bind (maxStorageBufferRange, and one allocation).
    let maxBindingBytes: Int
    let maxGroupsX: Int
    private let memoryTypes: [VkMemoryType]

    private let lock = NSLock()
    private var retired: [(serial: UInt64, allocations: [DeviceAllocation], id: UInt64)] = []
    private var nextID: UInt64 = 1
    /// Serial of the command buffer being recorded: what a buffer dying now may be used by.
    private var recordingSerial: UInt64 = 1

    init(instance: VulkanInstance, physicalDevice: VkPhysicalDevice, info: VulkanDeviceInfo,
         pushDescriptors: Bool) throws {
        guard let family = info.computeQueueFamily else { throw VulkanError.noComputeQueue(device: info.summary) }
        self.instance = instance
        self.info = info
        self.physicalDevice = physicalDevice
        queueFamily = UInt32(family)
        usesPushDescriptors = pushDescriptors && info.pushDescriptors
        let range = min(info.maxStorageBufferRange, info.maxMemoryAllocationSize ?? info.maxStorageBufferRange)
        maxBindingBytes = max(4, range)
        maxGroupsX = info.maxComputeWorkGroupCount[0]

        var extensions: [String] = []
        if usesPushDescriptors { extensions.append("VK_KHR_push_descriptor") }
        // Vulkan requires enabling it wherever a device exposes it (MoltenVK).
        if info.portabilitySubset { extensions.append("VK_KHR_portability_subset") }
        var priority: Float = 1
        var created: VkDevice?
        let result = withCStringArray(extensions) { names in
            withUnsafePointer(to: &priority) { priorityPointer in
                var queueInfo = VkDeviceQueueCreateInfo()
                queueInfo.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO
                queueInfo.queueFamilyIndex = UInt32(family)
                queueInfo.queueCount = 1
                queueInfo.pQueuePriorities = priorityPointer
                return withUnsafePointer(to: &queueInfo) { queuePointer in
                    var deviceInfo = VkDeviceCreateInfo()
                    deviceInfo.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO
                    deviceInfo.queueCreateInfoCount = 1
                    deviceInfo.pQueueCreateInfos = queuePointer
                    deviceInfo.enabledExtensionCount = UInt32(extensions.count)
                    deviceInfo.ppEnabledExtensionNames = names
                    return instance.functions.createDevice(physicalDevice, &deviceInfo, nil, &created)
                }
            }
        }
        try check(result, "vkCreateDevice", device: info.summary)
        guard let created else { throw VulkanError.call(function: "vkCreateDevice", result: VK_ERROR_UNKNOWN.rawValue) }
        device = created
        do {
            functions = try DeviceFunctions(instance: instance.functions, device: created, pushDescriptors: usesPushDescriptors)
        } catch {
            if let destroy: PFN_vkDestroyDevice = instance.loader.optionalFunction("vkDestroyDevice", instance: instance.handle) {
                destroy(created, nil)
            }
            throw error
        }
        var queue: VkQueue?
        functions.getDeviceQueue(created, UInt32(family), 0, &queue)
        guard let queue else {
            functions.destroyDevice(created, nil)
            throw VulkanError.noComputeQueue(device: info.summary)
        }
        self.queue = queue

        var memory = VkPhysicalDeviceMemoryProperties()
        instance.functions.getPhysicalDeviceMemoryProperties(physicalDevice, &memory)
        memoryTypes = withUnsafeBytes(of: memory.memoryTypes) { raw in
            Array(raw.bindMemory(to: VkMemoryType.self).prefix(Int(memory.memoryTypeCount)))
        }
    }

    deinit {
        _ = functions.deviceWaitIdle(device)
        for entry in retired { entry.allocations.forEach(destroy) }
        functions.destroyDevice(device, nil)
    }

    // MARK: Buffers

    func makeID() -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        nextID += 1
        return nextID
    }

    /// A buffer of `bytes` (at least 4) in memory of `kind`, mapped unless device-local.
    func allocate(bytes requested: Int, kind: MemoryKind) throws -> DeviceAllocation {
        let bytes = max(4, (requested + 3) & ~3)
        var bufferInfo = VkBufferCreateInfo()
        bufferInfo.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO
        bufferInfo.size = VkDeviceSize(bytes)
        bufferInfo.usage = VkBufferUsageFlags(VK_BUFFER_USAGE_STORAGE_BUFFER_BIT.rawValue
            | VK_BUFFER_USAGE_TRANSFER_SRC_BIT.rawValue | VK_BUFFER_USAGE_TRANSFER_DST_BIT.rawValue)
        bufferInfo.sharingMode = VK_SHARING_MODE_EXCLUSIVE
        var buffer: VkBuffer?
        try check(functions.createBuffer(device, &bufferInfo, nil, &buffer), "vkCreateBuffer", device: info.summary, bytes: bytes)
        guard let buffer else { throw VulkanError.call(function: "vkCreateBuffer", result: VK_ERROR_UNKNOWN.rawValue) }

        var requirements = VkMemoryRequirements()
        functions.getBufferMemoryRequirements(device, buffer, &requirements)
        let (typeIndex, coherent) = memoryType(bits: requirements.memoryTypeBits, kind: kind)
        guard let typeIndex else {
            functions.destroyBuffer(device, buffer, nil)
            throw VulkanError.unsupported("no memory type for \(kind) buffers on \(info.summary)")
        }
        var allocateInfo = VkMemoryAllocateInfo()
        allocateInfo.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO
        allocateInfo.allocationSize = requirements.size
        allocateInfo.memoryTypeIndex = UInt32(typeIndex)
        var memory: VkDeviceMemory?
        let result = functions.allocateMemory(device, &allocateInfo, nil, &memory)
        guard result == VK_SUCCESS, let memory else {
            functions.destroyBuffer(device, buffer, nil)
            try check(result, "vkAllocateMemory", device: info.summary, bytes: bytes)
            throw VulkanError.outOfDeviceMemory(bytes: bytes, device: info.summary)
        }
        var mapped: UnsafeMutableRawPointer?
        do {
            try check(functions.bindBufferMemory(device, buffer, memory, 0), "vkBindBufferMemory", device: info.summary)
            if kind != .deviceLocal {
                try check(functions.mapMemory(device, memory, 0, VkDeviceSize(VK_WHOLE_SIZE), 0, &mapped), "vkMapMemory", device: info.summary)
            }
        } catch {
            functions.destroyBuffer(device, buffer, nil)
            functions.freeMemory(device, memory, nil)
            throw error
        }
        return DeviceAllocation(buffer: buffer, memory: memory, bytes: bytes, mapped: mapped, coherent: coherent)
    }

    /// Frees at once: only for buffers no recorded command uses.
    func destroy(_ allocation: DeviceAllocation) {
        if allocation.mapped != nil { functions.unmapMemory(device, allocation.memory) }
        functions.destroyBuffer(device, allocation.buffer, nil)
        functions.freeMemory(device, allocation.memory, nil)
    }

    /// The first memory type allowed by `bits` with the properties `kind` prefers, falling back
    /// to weaker ones (a device without device-local memory still has some memory).
    private func memoryType(bits: UInt32, kind: MemoryKind) -> (Int?, Bool) {
        let local = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT.rawValue
        let visible = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT.rawValue
        let coherent = VK_MEMORY_PROPERTY_HOST_COHERENT_BIT.rawValue
        let cached = VK_MEMORY_PROPERTY_HOST_CACHED_BIT.rawValue
        let preferences: [UInt32] = switch kind {
        case .deviceLocal: [local, 0]
        case .upload: [visible | coherent, visible]
        case .readback: [visible | cached | coherent, visible | cached, visible | coherent, visible]
        }
        for wanted in preferences {
            for (i, type) in memoryTypes.enumerated() where bits & (1 << UInt32(i)) != 0 && type.propertyFlags & wanted == wanted {
                return (i, type.propertyFlags & coherent != 0)
            }
        }
        return (nil, false)
    }

    // MARK: Deferred destruction

    /// Called by a dying buffer (on any thread): its memory goes once the command buffer being
    /// recorded now has completed.
    func retire(_ allocations: [DeviceAllocation], id: UInt64) {
        lock.lock()
        retired.append((recordingSerial, allocations, id))
        lock.unlock()
    }

    /// Called after command buffer `serial` completed and before `serial + 1` is recorded.
    /// Returns the ids of the buffers destroyed (their cached descriptor sets are stale now).
    func completed(serial: UInt64) -> [UInt64] {
        lock.lock()
        recordingSerial = serial + 1
        let ready = retired.filter { $0.serial <= serial }
        retired.removeAll { $0.serial <= serial }
        lock.unlock()
        for entry in ready { entry.allocations.forEach(destroy) }
        return ready.map(\.id)
    }
}
