import CVulkan
@testable import HamVulkan
import Testing

/// The other tests assert the validation log stays empty; this one makes sure a real mistake
/// does reach it, so an empty log means something.
@Suite(.enabled(if: VulkanTestDevice.available, VulkanTestDevice.skipReason))
struct ValidationLogTests {
    @Test func aBadCallIsReported() throws {
        let backend = try VulkanTestDevice.backend()
        try #require(backend.validationEnabled, "the Khronos validation layer is not installed (apt-get install vulkan-validationlayers)")
        #expect(backend.validationLog.messages.isEmpty)
        // Pushing more constants than the kernel's layout declares is invalid usage.
        // (The backend refuses such a dispatch itself; this goes around it to the stream.)
        let pipeline = try backend.library.pipeline(.elementwise, ElementwiseOp.silu.rawValue)
        var bindings = Bindings()
        bindings.append(backend.placeholderEntry)
        bindings.append(backend.placeholderEntry)
        bindings.append(backend.placeholderEntry)
        // elementwise declares 4 words: count 1, offsets 0 (within the 16-byte placeholder).
        try backend.stream.dispatch(pipeline, bindings, PushConstants(1, 0, 0, 0, 0, 0), groups: 1, binder: backend.binder)
        try backend.synchronize()
        let messages = backend.validationLog.messages
        #expect(messages.contains { $0.contains("vkCmdPushConstants") }, "\(messages)")
        backend.validationLog.clear()
    }
}

extension ValidationLogTests {
    /// Without the barriers the stream records, synchronization validation reports the hazard
    /// (so the empty logs of the other tests mean the barriers are right, not unchecked).
    @Test func aMissingBarrierIsReported() throws {
        let backend = try VulkanTestDevice.backend()
        try #require(backend.validationEnabled, "the Khronos validation layer is not installed (apt-get install vulkan-validationlayers)")
        let x = try backend.allocate(rows: 1, cols: 256, dtype: .f32)
        let y = try backend.allocate(rows: 1, cols: 256, dtype: .f32)
        try backend.synchronize()
        backend.stream.omitBarriers = true
        backend.sigmoid(x, out: y)
        backend.siluMul(gate: y, up: y, out: x)
        try backend.synchronize()
        backend.stream.omitBarriers = false
        let messages = backend.validationLog.messages
        #expect(messages.contains { $0.contains("SYNC-HAZARD") }, "\(messages)")
        backend.validationLog.clear()
    }
}
