import CVulkan
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The Vulkan loader library, opened at run time rather than linked: a hamrun binary then starts
/// (and runs on the CPU) on machines without libvulkan, and can use a loader carried next to it
/// (`HAMRUN_VULKAN_LOADER`, or `LD_LIBRARY_PATH`).
final class VulkanLoader: @unchecked Sendable {
    let getInstanceProcAddr: PFN_vkGetInstanceProcAddr
    let path: String

    private init(handle: UnsafeMutableRawPointer, path: String) throws {
        guard let symbol = dlsym(handle, "vkGetInstanceProcAddr") else {
            throw VulkanError.missingFunction("vkGetInstanceProcAddr (in \(path))")
        }
        getInstanceProcAddr = unsafeBitCast(symbol, to: PFN_vkGetInstanceProcAddr.self)
        self.path = path
    }

    /// Library names to try, in order: `$HAMRUN_VULKAN_LOADER` alone when set (a carried
    /// loader must not silently fall back to the system's), else the system loader.
    static var candidates: [String] {
        if let explicit = ProcessInfo.processInfo.environment["HAMRUN_VULKAN_LOADER"], !explicit.isEmpty {
            return [explicit]
        }
        #if os(macOS)
        return ["libvulkan.1.dylib", "libvulkan.dylib", "libMoltenVK.dylib"]
        #else
        return ["libvulkan.so.1", "libvulkan.so"]
        #endif
    }

    /// The process's loader, opened once and never closed (drivers register exit handlers).
    static let shared: Result<VulkanLoader, VulkanError> = {
        let names = candidates
        for name in names {
            if let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL) {
                do {
                    return .success(try VulkanLoader(handle: handle, path: name))
                } catch let error as VulkanError {
                    return .failure(error)
                } catch {
                    return .failure(.missingFunction("vkGetInstanceProcAddr"))
                }
            }
        }
        return .failure(.loaderNotFound(tried: names))
    }()

    static func open() throws -> VulkanLoader {
        try shared.get()
    }

    /// An entry point of `instance` (nil: a global one), as the function type `F`.
    func function<F>(_ name: String, instance: VkInstance?) throws -> F {
        guard let pointer = getInstanceProcAddr(instance, name) else { throw VulkanError.missingFunction(name) }
        return unsafeBitCast(pointer, to: F.self)
    }

    func optionalFunction<F>(_ name: String, instance: VkInstance?) -> F? {
        guard let pointer = getInstanceProcAddr(instance, name) else { return nil }
        return unsafeBitCast(pointer, to: F.self)
    }
}
