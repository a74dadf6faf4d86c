import CVulkan

/// The entry points that exist before any instance: creating one and asking what it may have.
struct GlobalFunctions {
    let createInstance: PFN_vkCreateInstance
    let enumerateInstanceLayerProperties: PFN_vkEnumerateInstanceLayerProperties
    let enumerateInstanceExtensionProperties: PFN_vkEnumerateInstanceExtensionProperties
    /// Absent on Vulkan 1.0 loaders.
    let enumerateInstanceVersion: PFN_vkEnumerateInstanceVersion?

    init(_ loader: VulkanLoader) throws {
        createInstance = try loader.function("vkCreateInstance", instance: nil)
        enumerateInstanceLayerProperties = try loader.function("vkEnumerateInstanceLayerProperties", instance: nil)
        enumerateInstanceExtensionProperties = try loader.function("vkEnumerateInstanceExtensionProperties", instance: nil)
        enumerateInstanceVersion = loader.optionalFunction("vkEnumerateInstanceVersion", instance: nil)
    }

    /// Version the loader supports (1.0 when it cannot say).
    var instanceVersion: UInt32 {
        var version: UInt32 = 0
        guard let enumerateInstanceVersion, enumerateInstanceVersion(&version) == VK_SUCCESS else { return vkVersion(1, 0, 0) }
        return version
    }

    var layerNames: Set<String> {
        var count: UInt32 = 0
        guard enumerateInstanceLayerProperties(&count, nil) == VK_SUCCESS, count > 0 else { return [] }
        var layers = [VkLayerProperties](repeating: VkLayerProperties(), count: Int(count))
        guard enumerateInstanceLayerProperties(&count, &layers) == VK_SUCCESS else { return [] }
        return Set(layers.prefix(Int(count)).map { cString(tuple: $0.layerName) })
    }

    /// Instance extensions of the loader and drivers, or of one layer.
    func extensionNames(layer: String? = nil) -> Set<String> {
        var count: UInt32 = 0
        guard enumerateInstanceExtensionProperties(layer, &count, nil) == VK_SUCCESS, count > 0 else { return [] }
        var extensions = [VkExtensionProperties](repeating: VkExtensionProperties(), count: Int(count))
        guard enumerateInstanceExtensionProperties(layer, &count, &extensions) == VK_SUCCESS else { return [] }
        return Set(extensions.prefix(Int(count)).map { cString(tuple: $0.extensionName) })
    }
}

/// `VK_MAKE_API_VERSION(0, major, minor, patch)` (a C macro Swift does not import).
func vkVersion(_ major: UInt32, _ minor: UInt32, _ patch: UInt32) -> UInt32 {
    (major << 22) | (minor << 12) | patch
}

func versionString(_ version: UInt32) -> String {
    "\(version >> 22 & 0x7F).\(version >> 12 & 0x3FF).\(version & 0xFFF)"
}

/// A fixed-size C `char[N]` (imported as a tuple) as a String.
func cString<T>(tuple: T) -> String {
    withUnsafeBytes(of: tuple) { raw in
        let bytes = raw.prefix { $0 != 0 }
        return String(decoding: bytes, as: UTF8.self)
    }
}
