import CVulkan

/// Entry points of one instance: physical devices and creating a logical device.
struct InstanceFunctions {
    let destroyInstance: PFN_vkDestroyInstance
    let enumeratePhysicalDevices: PFN_vkEnumeratePhysicalDevices
    let getPhysicalDeviceProperties: PFN_vkGetPhysicalDeviceProperties
    /// Vulkan 1.1 (subgroup size, maxMemoryAllocationSize); absent on 1.0 instances.
    let getPhysicalDeviceProperties2: PFN_vkGetPhysicalDeviceProperties2?
    let getPhysicalDeviceMemoryProperties: PFN_vkGetPhysicalDeviceMemoryProperties
    let getPhysicalDeviceQueueFamilyProperties: PFN_vkGetPhysicalDeviceQueueFamilyProperties
    let enumerateDeviceExtensionProperties: PFN_vkEnumerateDeviceExtensionProperties
    let createDevice: PFN_vkCreateDevice
    let getDeviceProcAddr: PFN_vkGetDeviceProcAddr
    /// VK_EXT_debug_utils, when enabled.
    let createDebugUtilsMessenger: PFN_vkCreateDebugUtilsMessengerEXT?
    let destroyDebugUtilsMessenger: PFN_vkDestroyDebugUtilsMessengerEXT?

    init(_ loader: VulkanLoader, instance: VkInstance, apiVersion: UInt32) throws {
        func load<F>(_ name: String) throws -> F { try loader.function(name, instance: instance) }
        destroyInstance = try load("vkDestroyInstance")
        enumeratePhysicalDevices = try load("vkEnumeratePhysicalDevices")
        getPhysicalDeviceProperties = try load("vkGetPhysicalDeviceProperties")
        getPhysicalDeviceProperties2 = apiVersion >= vkVersion(1, 1, 0)
            ? loader.optionalFunction("vkGetPhysicalDeviceProperties2", instance: instance) : nil
        getPhysicalDeviceMemoryProperties = try load("vkGetPhysicalDeviceMemoryProperties")
        getPhysicalDeviceQueueFamilyProperties = try load("vkGetPhysicalDeviceQueueFamilyProperties")
        enumerateDeviceExtensionProperties = try load("vkEnumerateDeviceExtensionProperties")
        createDevice = try load("vkCreateDevice")
        getDeviceProcAddr = try load("vkGetDeviceProcAddr")
        createDebugUtilsMessenger = loader.optionalFunction("vkCreateDebugUtilsMessengerEXT", instance: instance)
        destroyDebugUtilsMessenger = loader.optionalFunction("vkDestroyDebugUtilsMessengerEXT", instance: instance)
    }
}
