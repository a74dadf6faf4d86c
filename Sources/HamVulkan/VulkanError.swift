import CVulkan
import Foundation

/// Everything that can go wrong between hamrun and a Vulkan device, each as one line a person
/// can act on.
public enum VulkanError: Error, CustomStringConvertible, Equatable {
    /// No Vulkan loader library could be opened.
    case loaderNotFound(tried: [String])
    /// The loader or driver lacks an entry point hamrun needs.
    case missingFunction(String)
    /// The loader works but reports no physical device.
    case noDevice
    case deviceIndexOutOfRange(index: Int, count: Int)
    case noComputeQueue(device: String)
    case outOfDeviceMemory(bytes: Int, device: String)
    case outOfHostMemory
    /// A tensor larger than one storage-buffer binding (`maxStorageBufferRange`) where it cannot
    /// be split, or larger than one allocation.
    case tensorTooLarge(what: String, bytes: Int, limit: Int)
    case deviceLost(device: String)
    /// A Vulkan call failed with `result`.
    case call(function: String, result: Int32)
    /// An embedded SPIR-V module is damaged (a build problem).
    case invalidShader(String)
    /// An op was asked for a shape or layout the kernels do not handle.
    case unsupported(String)
    /// The loader was pointed at driver manifests (`VK_ICD_FILENAMES=...`) and none of them gave
    /// a device; the loader itself reports that as anything from no device to out of memory.
    case driverListUnusable(variable: String, value: String, failure: String)

    public var description: String {
        switch self {
        case .loaderNotFound(let tried):
            "no Vulkan loader found (tried \(tried.joined(separator: ", "))); install libvulkan1 and a driver "
                + "(apt-get install libvulkan1 mesa-vulkan-drivers), or set HAMRUN_VULKAN_LOADER to the library's path"
        case .missingFunction(let name):
            "the Vulkan loader or driver does not provide \(name)"
        case .noDevice:
            "no Vulkan device found; install a driver (apt-get install mesa-vulkan-drivers for the CPU device lavapipe) or use --backend cpu"
        case .deviceIndexOutOfRange(let index, let count):
            "--device \(index) does not exist: there \(count == 1 ? "is 1 Vulkan device" : "are \(count) Vulkan devices") (see hamrun devices)"
        case .noComputeQueue(let device):
            "Vulkan device \(device) has no compute queue"
        case .outOfDeviceMemory(let bytes, let device):
            "out of device memory on \(device) allocating \(formatBytes(bytes))"
        case .outOfHostMemory:
            "the Vulkan driver ran out of host memory"
        case .tensorTooLarge(let what, let bytes, let limit):
            "\(what) needs \(formatBytes(bytes)) in one Vulkan buffer binding; this device allows \(formatBytes(limit))"
        case .deviceLost(let device):
            "the Vulkan device \(device) was lost (driver crash or reset)"
        case .call(let function, let result):
            "\(function) failed: \(vulkanResultName(result))"
        case .invalidShader(let name):
            "the embedded SPIR-V of kernel '\(name)' is damaged; rebuild hamrun"
        case .unsupported(let detail):
            "vulkan backend: \(detail)"
        case .driverListUnusable(let variable, let value, let failure):
            "no usable Vulkan driver in \(variable)=\(value) (\(failure)); is every file it lists an existing driver manifest (a JSON file "
                + "with an ICD section)? Unset it to use the installed drivers, or use --backend cpu"
        }
    }
}

/// `VK_ERROR_OUT_OF_DEVICE_MEMORY` and friends, for messages.
func vulkanResultName(_ result: Int32) -> String {
    switch result {
    case VK_SUCCESS.rawValue: "VK_SUCCESS"
    case VK_NOT_READY.rawValue: "VK_NOT_READY"
    case VK_TIMEOUT.rawValue: "VK_TIMEOUT"
    case VK_INCOMPLETE.rawValue: "VK_INCOMPLETE"
    case VK_ERROR_OUT_OF_HOST_MEMORY.rawValue: "VK_ERROR_OUT_OF_HOST_MEMORY"
    case VK_ERROR_OUT_OF_DEVICE_MEMORY.rawValue: "VK_ERROR_OUT_OF_DEVICE_MEMORY"
    case VK_ERROR_INITIALIZATION_FAILED.rawValue: "VK_ERROR_INITIALIZATION_FAILED"
    case VK_ERROR_DEVICE_LOST.rawValue: "VK_ERROR_DEVICE_LOST"
    case VK_ERROR_MEMORY_MAP_FAILED.rawValue: "VK_ERROR_MEMORY_MAP_FAILED"
    case VK_ERROR_LAYER_NOT_PRESENT.rawValue: "VK_ERROR_LAYER_NOT_PRESENT"
    case VK_ERROR_EXTENSION_NOT_PRESENT.rawValue: "VK_ERROR_EXTENSION_NOT_PRESENT"
    case VK_ERROR_FEATURE_NOT_PRESENT.rawValue: "VK_ERROR_FEATURE_NOT_PRESENT"
    case VK_ERROR_INCOMPATIBLE_DRIVER.rawValue: "VK_ERROR_INCOMPATIBLE_DRIVER (no driver for this Vulkan version)"
    case VK_ERROR_TOO_MANY_OBJECTS.rawValue: "VK_ERROR_TOO_MANY_OBJECTS"
    case VK_ERROR_FRAGMENTED_POOL.rawValue: "VK_ERROR_FRAGMENTED_POOL"
    case VK_ERROR_OUT_OF_POOL_MEMORY.rawValue: "VK_ERROR_OUT_OF_POOL_MEMORY"
    case VK_ERROR_UNKNOWN.rawValue: "VK_ERROR_UNKNOWN"
    default: "VkResult \(result)"
    }
}

func formatBytes(_ bytes: Int) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes), unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) bytes" : String(format: "%.1f ", value) + units[unit]
}

/// Throws the matching `VulkanError` unless `result` is `VK_SUCCESS`.
func check(_ result: VkResult, _ function: String, device: String = "the device", bytes: Int = 0) throws {
    switch result {
    case VK_SUCCESS: return
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: throw VulkanError.outOfDeviceMemory(bytes: bytes, device: device)
    case VK_ERROR_OUT_OF_HOST_MEMORY: throw VulkanError.outOfHostMemory
    case VK_ERROR_DEVICE_LOST: throw VulkanError.deviceLost(device: device)
    default: throw VulkanError.call(function: function, result: result.rawValue)
    }
}

extension VulkanError {
    /// The environment variables that replace the loader's list of drivers.
    static let driverListVariables = ["VK_ICD_FILENAMES", "VK_DRIVER_FILES"]

    /// This error, said as what it most likely is when the user replaced the driver list: a
    /// broken `VK_ICD_FILENAMES` makes the loader fail in ways that name no file.
    public func blamingDriverList() -> VulkanError {
        let environment = ProcessInfo.processInfo.environment
        guard let variable = Self.driverListVariables.first(where: { !(environment[$0] ?? "").isEmpty }),
              let value = environment[variable] else { return self }
        switch self {
        case .noDevice: return .driverListUnusable(variable: variable, value: value, failure: "the loader found no device")
        case .outOfHostMemory: return .driverListUnusable(variable: variable, value: value, failure: "the loader reported VK_ERROR_OUT_OF_HOST_MEMORY")
        case .call(let function, let result): return .driverListUnusable(variable: variable, value: value, failure: "\(function) failed: \(vulkanResultName(result))")
        default: return self
        }
    }
}
