import Foundation
import HamChecks
import HamCore
import HamCPU
import HamConvert
import HamLoad
import HamVulkan
import Testing

/// Weights larger than one storage-buffer binding (a 128k-token embedding on a device whose
/// maxStorageBufferRange is 128 MiB) are split into row ranges at upload; the products and the
/// embedding gather then run once per range. The limit is lowered here so small weights split.
@Suite(.enabled(if: VulkanTestDevice.available, VulkanTestDevice.skipReason))
struct SplitWeightTests {
    @Test(arguments: [DType.f32, .f16, .bf16])
    func splitWeightsGiveTheSameResults(dtype: DType) throws {
        let vulkan = try VulkanTestDevice.backend(VulkanOptions(maxWeightPieceBytes: 1024))
        let cpu = CPUBackend(threads: 1)
        var random = RandomModel.Random(seed: 11)
        // 37 rows of 24: 3552 bytes in f32 (4 bindings), 1776 in 16 bits (2); 60 rows: 6 and 3.
        for rows in [37, 60] {
            let host = random.tensor([rows, 24], scale: 1, dtype: dtype)
            let (gw, cw) = (try vulkan.upload(host), try cpu.upload(host))
            let bias = random.tensor([rows], scale: 1, dtype: dtype)
            let (gb, cb) = (try vulkan.upload(bias), try cpu.upload(bias))
            for n in [1, 3, 12] {
                let x = (0..<(n * 24)).map { _ in random.uniform(1) }
                let gx = try vulkan.allocate(rows: n, cols: 24, dtype: .f32), cx = try cpu.allocate(rows: n, cols: 24, dtype: .f32)
                vulkan.write(x, to: gx)
                cpu.write(x, to: cx)
                let go = try vulkan.allocate(rows: n, cols: rows, dtype: .f32), co = try cpu.allocate(rows: n, cols: rows, dtype: .f32)
                vulkan.linear(gx, weight: gw, bias: gb, out: go, accumulate: false)
                cpu.linear(cx, weight: cw, bias: cb, out: co, accumulate: false)
                let worst = zip(try vulkan.read(go), try cpu.read(co)).map { abs($0 - $1) }.max() ?? 1
                #expect(worst < 1e-4, "linear \(dtype) \(rows) rows, x \(n): \(worst)")
            }
            let ids: [Int32] = [0, Int32(rows - 1), 17, 5, Int32(rows / 2)]
            let gi = try vulkan.allocate(rows: ids.count, cols: 1, dtype: .i32), ci = try cpu.allocate(rows: ids.count, cols: 1, dtype: .i32)
            vulkan.writeTokens(ids, to: gi)
            cpu.writeTokens(ids, to: ci)
            let ge = try vulkan.allocate(rows: ids.count, cols: 24, dtype: .f32), ce = try cpu.allocate(rows: ids.count, cols: 24, dtype: .f32)
            vulkan.embed(table: gw, ids: gi, out: ge)
            cpu.embed(table: cw, ids: ci, out: ce)
            #expect(try vulkan.read(ge) == cpu.read(ce), "embed \(dtype) \(rows) rows")
            #expect(try vulkan.read(gw) == cpu.read(cw), "read back \(dtype) \(rows) rows")
        }
        #expect(vulkan.validationLog.messages.isEmpty, "\(vulkan.validationLog.messages.first ?? "")")
    }

    @Test func tooLargeATensorIsAClearError() throws {
        let vulkan = try VulkanTestDevice.backend(VulkanOptions(maxWeightPieceBytes: 1024))
        // 4 GiB: above every device's maxStorageBufferRange (a 32-bit limit).
        #expect(throws: VulkanError.self) { _ = try vulkan.allocate(rows: 1, cols: 1 << 30, dtype: .f32) }
        // One row larger than a binding cannot be split.
        let wide = HostTensor(shape: [2, 300], floats: [Float](repeating: 1, count: 600))
        do {
            _ = try vulkan.upload(wide)
            Issue.record("a 1200-byte row uploaded under a 1024-byte binding limit")
        } catch let error as VulkanError {
            #expect("\(error)".contains("1.2 KiB"), "\(error)")
        }
    }
}
