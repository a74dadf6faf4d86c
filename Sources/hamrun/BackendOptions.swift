import ArgumentParser
import Foundation
import HamCore
import HamCPU
import HamConvert
import HamLoad
import HamVulkan

enum BackendChoice: String, ExpressibleByArgument, CaseIterable {
    /// A Vulkan GPU (discrete, integrated or virtual) when there is one, else the CPU backend:
    /// a CPU implementation of Vulkan (lavapipe) is never faster than the CPU backend.
    case auto
    case cpu
    case vulkan
}

/// A backend, made.
enum SelectedBackend {
    case cpu(CPUBackend)
    case vulkan(VulkanBackend)
}

/// Which backend runs, and how: shared by generate, bench and check.
struct BackendOptions: ParsableArguments {
    @Option(help: "auto (a Vulkan GPU when there is one, else the CPU), cpu or vulkan.")
    var backend: BackendChoice = .auto

    @Option(help: "Vulkan device index, as `hamrun devices` lists them (default: the first discrete, integrated or virtual GPU, else a CPU implementation).")
    var device: Int?

    @Option(help: "CPU threads (default: all cores).")
    var threads: Int?

    @Option(help: ArgumentHelp("Vulkan barriers: tracked or everyCommand (measurements).", visibility: .hidden))
    var barriers: String?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads is \(threads); expected at least 1") }
        if let device {
            guard device >= 0 else { throw ValidationError("--device is \(device); expected an index from hamrun devices") }
            guard backend != .cpu else { throw ValidationError("--device selects a Vulkan device; it needs --backend vulkan or auto") }
        }
        if let barriers, BarrierMode(rawValue: barriers) == nil {
            throw ValidationError("--barriers is '\(barriers)'; expected tracked or everyCommand")
        }
    }

    func vulkanOptions(validation: Bool = false) -> VulkanOptions {
        VulkanOptions(device: device, validation: validation, synchronizationValidation: validation,
                      barrierMode: barriers.flatMap(BarrierMode.init(rawValue:)) ?? .tracked)
    }

    var cpu: CPUBackend { CPUBackend(threads: threads ?? ProcessInfo.processInfo.activeProcessorCount) }

    /// The backend asked for. `vulkan` without a usable device is an error; `auto` falls back
    /// to the CPU when there is no GPU (or no Vulkan at all), saying so only when a GPU was there
    /// and failed to start.
    func resolve(validation: Bool = false) throws -> SelectedBackend {
        switch backend {
        case .cpu:
            return .cpu(cpu)
        case .vulkan:
            return .vulkan(try VulkanBackend(options: vulkanOptions(validation: validation)))
        case .auto:
            if device != nil { return .vulkan(try VulkanBackend(options: vulkanOptions(validation: validation))) }
            guard let devices = try? VulkanDevices.list(),
                  let gpu = VulkanDeviceInfo.preferred(devices.filter { $0.type.isGPU }) else { return .cpu(cpu) }
            var options = vulkanOptions(validation: validation)
            options.device = gpu.index
            do {
                return .vulkan(try VulkanBackend(options: options))
            } catch {
                StandardStreams.err("hamrun: warning: Vulkan device \(gpu.summary) did not start (\(error)); using the CPU\n")
                return .cpu(cpu)
            }
        }
    }
}
