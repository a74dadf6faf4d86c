import Foundation
import HamChecks
import HamCore
import HamCPU
import HamConvert
import HamLoad
@testable import HamVulkan
import Testing

/// Every op of the Vulkan backend against the CPU backend (ggml test-backend-ops style: fresh
/// random inputs, outputs poisoned with NaN), with the validation layer watching.
@Suite(.serialized, .enabled(if: VulkanTestDevice.available, VulkanTestDevice.skipReason))
struct OpConformanceTests {
    func check(_ options: VulkanOptions, label: String) throws {
        let vulkan = try VulkanTestDevice.backend(options)
        let seed = UInt64(Date().timeIntervalSince1970 * 1000)
        let start = ContinuousClock.now
        let results = try OpConformance(subject: vulkan, reference: CPUBackend(threads: 1), seed: seed).run(quick: true)
        print("\(label) validation \(vulkan.validationEnabled): \(results.count) checks in \(ContinuousClock.now - start), \(vulkan.statistics)")
        #expect(results.count > 100)
        for failure in results where !failure.passed {
            Issue.record("\(label), seed \(seed): \(failure)")
        }
        if vulkan.validationEnabled {
            let messages = vulkan.validationLog.messages
            #expect(messages.isEmpty, "\(label): \(messages.count) validation messages, first: \(messages.first ?? "")")
        }
    }

    @Test func everyOpMatchesTheCPUBackend() throws {
        try check(VulkanOptions(), label: "push descriptors, tracked barriers, device defaults")
    }

    /// The streaming product as a GPU runs it (32 invocations per feature, shared-memory
    /// reduction), whatever device this is; cached descriptor sets instead of push descriptors.
    @Test func gpuConfigurationMatchesTheCPUBackend() throws {
        try check(VulkanOptions(pushDescriptors: false, matvecThreadsPerRow: 32), label: "cached sets, 32 invocations per feature")
    }

    /// Fewer invocations per feature than rows of x; a barrier before every command.
    @Test func narrowReductionMatchesTheCPUBackend() throws {
        try check(VulkanOptions(barrierMode: .everyCommand, matvecThreadsPerRow: 4), label: "every-command barriers, 4 invocations per feature")
    }
}

/// Each kernel's bindings and push-constant block are read from its SPIR-V, the one place they
/// are declared; a dispatch that disagrees is refused (see `VulkanBackend.run`).
@Suite struct KernelInterfaceTests {
    @Test func everyShaderDeclaresItsInterface() throws {
        for kernel in Kernel.allCases {
            let interface = try kernel.spirv.interface()
            #expect(interface.bindings >= 2 && interface.bindings <= Bindings.capacity, "\(kernel)")
            #expect(interface.pushConstantBytes > 0 && interface.pushConstantBytes % 4 == 0 && interface.pushConstantBytes <= 64, "\(kernel)")
        }
        #expect(try Kernel.attention.spirv.interface() == SPIRV.Interface(bindings: 6, pushConstantBytes: 60))
    }
}
