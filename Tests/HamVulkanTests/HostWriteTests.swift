import Foundation
import HamCore
import HamCPU
import HamConvert
import HamLoad
import HamVulkan
import Testing

/// Host writes stay in order with the ops whatever their size: inline in the command buffer up
/// to 64 KiB, through the staging ring above, and when the ring fills up before a sync point the
/// pending commands are submitted first.
@Suite(.enabled(if: VulkanTestDevice.available, VulkanTestDevice.skipReason))
struct HostWriteTests {
    @Test func largeWritesBetweenOpsKeepTheirOrder() throws {
        let vulkan = try VulkanTestDevice.backend()
        // 1.5 MiB each: three of them overflow the 4 MiB ring before the first sync point.
        let count = 3 << 17
        let tensors = try (0..<4).map { _ in try vulkan.allocate(rows: 1, cols: count, dtype: .f32) }
        let copies = try (0..<4).map { _ in try vulkan.allocate(rows: 1, cols: count, dtype: .f32) }
        for (i, tensor) in tensors.enumerated() {
            vulkan.write([Float](repeating: Float(i + 1), count: count), to: tensor)
            vulkan.siluMul(gate: tensor, up: tensor, out: copies[i])
            // Rewritten right after being read: the op must still see the first value.
            vulkan.write([Float](repeating: 100, count: count), to: tensor)
        }
        for (i, copy) in copies.enumerated() {
            let v = Float(i + 1), want = v / (1 + expf(-v)) * v
            let got = try vulkan.read(copy)
            #expect(got.allSatisfy { abs($0 - want) < 1e-5 }, "first wrong element: \(got.first { abs($0 - want) >= 1e-5 } ?? 0)")
        }
        for tensor in tensors { #expect(try vulkan.read(tensor).allSatisfy { $0 == 100 }) }
        #expect(vulkan.validationLog.messages.isEmpty, "\(vulkan.validationLog.messages.first ?? "")")
    }

    @Test func smallWritesUseTheCommandBuffer() throws {
        let vulkan = try VulkanTestDevice.backend()
        let x = try vulkan.allocate(rows: 3, cols: 5, dtype: .f32)
        vulkan.write((0..<5).map(Float.init), to: x.row(1))
        vulkan.write([7, 7, 7, 7, 7], to: x.row(2))
        vulkan.sigmoid(x.row(2), out: x.row(0))
        let ids = try vulkan.allocate(rows: 4, cols: 1, dtype: .i32)
        vulkan.writeTokens([3, 1, 4, 1], to: ids)
        #expect(try vulkan.readTokens(ids) == [3, 1, 4, 1])
        let values = try vulkan.read(x)
        #expect(Array(values[5..<10]) == [0, 1, 2, 3, 4])
        #expect(abs(values[0] - 1 / (1 + expf(-7))) < 1e-6)
        #expect(vulkan.validationLog.messages.isEmpty, "\(vulkan.validationLog.messages.first ?? "")")
    }
}
