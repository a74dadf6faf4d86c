import HamVulkan
import Testing

/// Whether this machine has any Vulkan device (lavapipe counts): the Vulkan tests are skipped,
/// with this reason, only where there is none at all.
enum VulkanTestDevice {
    static let available: Bool = ((try? VulkanDevices.list()) ?? []).contains { $0.computeQueueFamily != nil }
    static let skipReason: Comment = "no Vulkan device on this machine (install mesa-vulkan-drivers for lavapipe)"

    /// A backend with the validation layer (and its synchronization checks) on.
    static func backend(_ options: VulkanOptions = VulkanOptions()) throws -> VulkanBackend {
        var options = options
        options.validation = true
        options.synchronizationValidation = true
        return try VulkanBackend(options: options)
    }
}
