import CVulkan
import Foundation

/// A Vulkan instance, with the Khronos validation layer and a debug messenger when asked for
/// and installed.
final class VulkanInstance: @unchecked Sendable {
    static let validationLayer = "VK_LAYER_KHRONOS_validation"

    let loader: VulkanLoader
    let handle: VkInstance
    let functions: InstanceFunctions
    let apiVersion: UInt32
    /// Whether the validation layer is on (asked for and installed).
    let validationEnabled: Bool
    let validationLog: ValidationLog
    /// Whether VK_KHR_portability_enumeration is on (MoltenVK lists its devices only then).
    let portability: Bool
    private var messenger: VkDebugUtilsMessengerEXT?
    /// Retained for the messenger's callback, which gets it as an unmanaged pointer.
    private let logReference: Unmanaged<ValidationLog>

    init(validation: Bool, synchronizationValidation: Bool = false) throws {
        loader = try VulkanLoader.open()
        let global = try GlobalFunctions(loader)
        // The kernels need Vulkan 1.0; 1.1 adds the device properties `hamrun devices` shows.
        let loaderVersion = global.instanceVersion
        let version = loaderVersion >= vkVersion(1, 1, 0) ? vkVersion(1, 1, 0) : vkVersion(1, 0, 0)
        apiVersion = version

        let available = global.extensionNames()
        let layerAvailable = validation && global.layerNames.contains(Self.validationLayer)
        let layerExtensions = layerAvailable ? global.extensionNames(layer: Self.validationLayer) : []
        let debugUtils = layerAvailable && (available.contains("VK_EXT_debug_utils") || layerExtensions.contains("VK_EXT_debug_utils"))
        let validationFeatures = layerAvailable && synchronizationValidation && layerExtensions.contains("VK_EXT_validation_features")
        let portability = available.contains("VK_KHR_portability_enumeration")
        self.portability = portability

        var layers: [String] = []
        var extensions: [String] = []
        if layerAvailable { layers.append(Self.validationLayer) }
        if debugUtils { extensions.append("VK_EXT_debug_utils") }
        if validationFeatures { extensions.append("VK_EXT_validation_features") }
        if portability { extensions.append("VK_KHR_portability_enumeration") }
        validationEnabled = layerAvailable
        validationLog = ValidationLog()
        logReference = Unmanaged.passRetained(validationLog)

        var messengerInfo = Self.messengerInfo(userData: logReference.toOpaque())
        var enabledFeatures: [VkValidationFeatureEnableEXT] = [VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT]
        var instance: VkInstance?
        let result: VkResult = "hamrun".withCString { appName in
            withCStringArray(layers) { layerNames in
                withCStringArray(extensions) { extensionNames in
                    enabledFeatures.withUnsafeMutableBufferPointer { features in
                        withUnsafeMutablePointer(to: &messengerInfo) { messengerPointer in
                            var featuresInfo = VkValidationFeaturesEXT()
                            featuresInfo.sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT
                            featuresInfo.enabledValidationFeatureCount = UInt32(features.count)
                            featuresInfo.pEnabledValidationFeatures = UnsafePointer(features.baseAddress)
                            // Messages of instance creation itself reach the messenger through pNext.
                            featuresInfo.pNext = debugUtils ? UnsafeRawPointer(messengerPointer) : nil
                            return withUnsafePointer(to: &featuresInfo) { featuresPointer in
                                var app = VkApplicationInfo()
                                app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO
                                app.pApplicationName = appName
                                app.applicationVersion = 1
                                app.pEngineName = appName
                                app.apiVersion = version
                                return withUnsafePointer(to: &app) { appPointer in
                                    var info = VkInstanceCreateInfo()
                                    info.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO
                                    info.pApplicationInfo = appPointer
                                    info.enabledLayerCount = UInt32(layers.count)
                                    info.ppEnabledLayerNames = layerNames
                                    info.enabledExtensionCount = UInt32(extensions.count)
                                    info.ppEnabledExtensionNames = extensionNames
                                    if validationFeatures {
                                        info.pNext = UnsafeRawPointer(featuresPointer)
                                    } else if debugUtils {
                                        info.pNext = UnsafeRawPointer(messengerPointer)
                                    }
                                    if portability {
                                        info.flags = VkInstanceCreateFlags(VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR.rawValue)
                                    }
                                    return global.createInstance(&info, nil, &instance)
                                }
                            }
                        }
                    }
                }
            }
        }
        guard result == VK_SUCCESS, let instance else {
            logReference.release()
            if result == VK_ERROR_INCOMPATIBLE_DRIVER { throw VulkanError.noDevice.blamingDriverList() }
            do {
                try check(result, "vkCreateInstance")
            } catch let error as VulkanError {
                throw error.blamingDriverList()
            }
            throw VulkanError.call(function: "vkCreateInstance", result: result.rawValue).blamingDriverList()
        }
        handle = instance
        do {
            functions = try InstanceFunctions(loader, instance: instance, apiVersion: version)
        } catch {
            if let destroy: PFN_vkDestroyInstance = loader.optionalFunction("vkDestroyInstance", instance: instance) {
                destroy(instance, nil)
            }
            logReference.release()
            throw error
        }
        if debugUtils, let create = functions.createDebugUtilsMessenger {
            var created: VkDebugUtilsMessengerEXT?
            if create(instance, &messengerInfo, nil, &created) == VK_SUCCESS { messenger = created }
        }
    }

    deinit {
        if let messenger, let destroy = functions.destroyDebugUtilsMessenger { destroy(handle, messenger, nil) }
        functions.destroyInstance(handle, nil)
        logReference.release()
    }

    /// Warnings and errors of the validation layer go to the log; the calls they are about
    /// continue (returning VK_FALSE), so a test sees every problem of a run, not just the first.
    private static func messengerInfo(userData: UnsafeMutableRawPointer) -> VkDebugUtilsMessengerCreateInfoEXT {
        var info = VkDebugUtilsMessengerCreateInfoEXT()
        info.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT
        info.messageSeverity = VkDebugUtilsMessageSeverityFlagsEXT(
            VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT.rawValue | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT.rawValue)
        info.messageType = VkDebugUtilsMessageTypeFlagsEXT(
            VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT.rawValue | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT.rawValue
                | VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT.rawValue)
        info.pfnUserCallback = { severity, _, data, userData in
            guard let userData else { return VkBool32(VK_FALSE) }
            let log = Unmanaged<ValidationLog>.fromOpaque(userData).takeUnretainedValue()
            let text = data?.pointee.pMessage.map { String(cString: $0) } ?? "(no message)"
            let level = severity.rawValue & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT.rawValue != 0 ? "error" : "warning"
            log.append("\(level): \(text)")
            return VkBool32(VK_FALSE)
        }
        info.pUserData = userData
        return info
    }

    /// The physical devices, in the loader's order (the order `--device N` counts in).
    func physicalDevices() throws -> [VkPhysicalDevice] {
        do {
            var count: UInt32 = 0
            try check(functions.enumeratePhysicalDevices(handle, &count, nil), "vkEnumeratePhysicalDevices")
            guard count > 0 else { return [] }
            var devices = [VkPhysicalDevice?](repeating: nil, count: Int(count))
            try check(functions.enumeratePhysicalDevices(handle, &count, &devices), "vkEnumeratePhysicalDevices")
            return devices.prefix(Int(count)).compactMap { $0 }
        } catch let error as VulkanError {
            throw error.blamingDriverList()
        }
    }
}
