import CVulkan

/// What kind of processor implements a Vulkan device, in the order hamrun prefers them.
public enum VulkanDeviceType: String, Sendable, Comparable {
    case discrete, integrated, virtual, cpu, other

    init(_ type: VkPhysicalDeviceType) {
        switch type {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: self = .discrete
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: self = .integrated
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: self = .virtual
        case VK_PHYSICAL_DEVICE_TYPE_CPU: self = .cpu
        default: self = .other
        }
    }

    /// A GPU of some kind, as opposed to a CPU implementation such as lavapipe, which is never
    /// faster than the CPU backend.
    public var isGPU: Bool { self == .discrete || self == .integrated || self == .virtual }

    private var rank: Int {
        switch self {
        case .discrete: 0
        case .integrated: 1
        case .virtual: 2
        case .cpu: 3
        case .other: 4
        }
    }

    public static func < (a: Self, b: Self) -> Bool { a.rank < b.rank }
}

/// One physical device as `hamrun devices` lists it.
public struct VulkanDeviceInfo: Sendable {
    public struct MemoryHeap: Sendable {
        public var bytes: Int
        public var deviceLocal: Bool
    }

    /// Position in the loader's list: what `--device N` means.
    public var index: Int
    public var name: String
    public var type: VulkanDeviceType
    public var apiVersion: String
    public var driverVersion: UInt32
    public var vendorID: UInt32
    public var deviceID: UInt32
    public var heaps: [MemoryHeap]
    public var maxComputeWorkGroupSize: [Int]
    public var maxComputeWorkGroupCount: [Int]
    public var maxComputeWorkGroupInvocations: Int
    public var maxComputeSharedMemorySize: Int
    public var maxStorageBufferRange: Int
    /// Vulkan 1.1's maxMemoryAllocationSize (nil on 1.0 devices).
    public var maxMemoryAllocationSize: Int?
    public var maxPushConstantsSize: Int
    /// Vulkan 1.1's subgroup size (nil on 1.0 devices).
    public var subgroupSize: Int?
    public var pushDescriptors: Bool
    public var portabilitySubset: Bool
    public var computeQueueFamily: Int?

    /// "NVIDIA H100 (discrete)".
    public var summary: String { "\(name) (\(type.rawValue))" }

    init(index: Int, device: VkPhysicalDevice, instance: VulkanInstance) {
        let f = instance.functions
        var properties = VkPhysicalDeviceProperties()
        f.getPhysicalDeviceProperties(device, &properties)
        self.index = index
        name = cString(tuple: properties.deviceName)
        type = VulkanDeviceType(properties.deviceType)
        apiVersion = versionString(properties.apiVersion)
        driverVersion = properties.driverVersion
        vendorID = properties.vendorID
        deviceID = properties.deviceID
        let limits = properties.limits
        maxComputeWorkGroupSize = [Int(limits.maxComputeWorkGroupSize.0), Int(limits.maxComputeWorkGroupSize.1), Int(limits.maxComputeWorkGroupSize.2)]
        maxComputeWorkGroupCount = [Int(limits.maxComputeWorkGroupCount.0), Int(limits.maxComputeWorkGroupCount.1), Int(limits.maxComputeWorkGroupCount.2)]
        maxComputeWorkGroupInvocations = Int(limits.maxComputeWorkGroupInvocations)
        maxComputeSharedMemorySize = Int(limits.maxComputeSharedMemorySize)
        maxStorageBufferRange = Int(limits.maxStorageBufferRange)
        maxPushConstantsSize = Int(limits.maxPushConstantsSize)

        maxMemoryAllocationSize = nil
        subgroupSize = nil
        if let properties2 = f.getPhysicalDeviceProperties2, properties.apiVersion >= vkVersion(1, 1, 0) {
            var subgroup = VkPhysicalDeviceSubgroupProperties()
            subgroup.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES
            var maintenance3 = VkPhysicalDeviceMaintenance3Properties()
            maintenance3.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES
            withUnsafeMutablePointer(to: &subgroup) { subgroupPointer in
                maintenance3.pNext = UnsafeMutableRawPointer(subgroupPointer)
                withUnsafeMutablePointer(to: &maintenance3) { maintenancePointer in
                    var all = VkPhysicalDeviceProperties2()
                    all.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2
                    all.pNext = UnsafeMutableRawPointer(maintenancePointer)
                    properties2(device, &all)
                }
            }
            maxMemoryAllocationSize = Int(maintenance3.maxMemoryAllocationSize)
            subgroupSize = Int(subgroup.subgroupSize)
        }

        var memory = VkPhysicalDeviceMemoryProperties()
        f.getPhysicalDeviceMemoryProperties(device, &memory)
        heaps = withUnsafeBytes(of: memory.memoryHeaps) { raw in
            raw.bindMemory(to: VkMemoryHeap.self).prefix(Int(memory.memoryHeapCount)).map {
                MemoryHeap(bytes: Int($0.size), deviceLocal: $0.flags & VkMemoryHeapFlags(VK_MEMORY_HEAP_DEVICE_LOCAL_BIT.rawValue) != 0)
            }
        }

        var familyCount: UInt32 = 0
        f.getPhysicalDeviceQueueFamilyProperties(device, &familyCount, nil)
        var families = [VkQueueFamilyProperties](repeating: VkQueueFamilyProperties(), count: Int(familyCount))
        f.getPhysicalDeviceQueueFamilyProperties(device, &familyCount, &families)
        let compute = VkQueueFlags(VK_QUEUE_COMPUTE_BIT.rawValue)
        computeQueueFamily = families.prefix(Int(familyCount)).firstIndex { $0.queueFlags & compute != 0 && $0.queueCount > 0 }

        var extensionCount: UInt32 = 0
        var extensions: [VkExtensionProperties] = []
        if f.enumerateDeviceExtensionProperties(device, nil, &extensionCount, nil) == VK_SUCCESS, extensionCount > 0 {
            extensions = [VkExtensionProperties](repeating: VkExtensionProperties(), count: Int(extensionCount))
            if f.enumerateDeviceExtensionProperties(device, nil, &extensionCount, &extensions) != VK_SUCCESS { extensions = [] }
        }
        let names = Set(extensions.prefix(Int(extensionCount)).map { cString(tuple: $0.extensionName) })
        pushDescriptors = names.contains("VK_KHR_push_descriptor")
        portabilitySubset = names.contains("VK_KHR_portability_subset")
    }

    /// The device hamrun picks when none is named: the first discrete GPU, else integrated, else
    /// virtual, else a CPU implementation; only devices with a compute queue.
    public static func preferred(_ devices: [VulkanDeviceInfo]) -> VulkanDeviceInfo? {
        devices.filter { $0.computeQueueFamily != nil }.min { ($0.type, $0.index) < ($1.type, $1.index) }
    }

    /// Several lines for `hamrun devices`.
    public var report: String {
        let heapText = heaps.enumerated().map { "heap \($0.offset): \(formatBytes($0.element.bytes))\($0.element.deviceLocal ? " device-local" : "")" }
            .joined(separator: ", ")
        var lines = [
            "\(index): \(name) (\(type.rawValue)), Vulkan \(apiVersion), vendor 0x\(String(vendorID, radix: 16)) device 0x\(String(deviceID, radix: 16))",
            "   memory: \(heapText)",
            "   compute: workgroup size \(maxComputeWorkGroupSize.map(String.init).joined(separator: "×")) (\(maxComputeWorkGroupInvocations) invocations), "
                + "groups \(maxComputeWorkGroupCount.map(String.init).joined(separator: "×")), shared memory \(formatBytes(maxComputeSharedMemorySize)), "
                + "subgroup size \(subgroupSize.map(String.init) ?? "n/a")",
            "   buffers: maxStorageBufferRange \(formatBytes(maxStorageBufferRange)), maxMemoryAllocationSize \(maxMemoryAllocationSize.map(formatBytes) ?? "n/a"), "
                + "push constants \(maxPushConstantsSize) bytes, push descriptors \(pushDescriptors ? "yes" : "no")",
        ]
        if computeQueueFamily == nil { lines.append("   no compute queue: not usable") }
        return lines.joined(separator: "\n")
    }
}

/// The Vulkan devices of this machine.
public enum VulkanDevices {
    /// Every physical device, in the loader's order. Throws when there is no loader.
    public static func list() throws -> [VulkanDeviceInfo] {
        let instance = try VulkanInstance(validation: false)
        return try instance.physicalDevices().enumerated().map {
            VulkanDeviceInfo(index: $0.offset, device: $0.element, instance: instance)
        }
    }
}
